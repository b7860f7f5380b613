/* cscs.h - CS <-> CS: carry a packed training checkpoint and its params from one Cerebras
 * release to another (cs-1.6 ... cs-2.9), one release step after another, as the rule files
 * in rules/cscs/ say (releases.yaml: the releases, the models, the params rewrites of every
 * step; <family>.yaml: a family's own key renames, tied-weight repairs and params changes). */
#ifndef CK_CSCS_H
#define CK_CSCS_H

#include <stdio.h>
#include "conv.h"
#include "err.h"

/* 1 when both formats of o name CS releases (cs-X.Y, cs-auto, cs-current). */
int cscs_wanted(const conv_opts *o);
/* `ckconv list --releases [MODEL]`: every release pair of each model (or of MODEL): "MODEL A -> B:
 * STEP, STEP, ..." (each step "A -> B" or "A -> B (family file)"), or "MODEL A -> B: refused: WHY". */
int cscs_list(const char *rules, const char *model, FILE *f, ck_err *e);
/* Convert (or, with o->dry_run, list the steps, key renames and params changes). */
int cscs_run(const conv_opts *o, ck_err *e);
/* The params alone (convert-config): o->config carried from o->src_fmt to o->tgt_fmt by the same
 * release steps; *yaml the params as YAML, *tgt_fmt the release reached (cs-current resolved). */
int cscs_config(const conv_opts *o, char **yaml, char **tgt_fmt, ck_err *e);

#endif
