/* layers.h - a checkpoint holds every layer its config implies. A rule file's `layers:
 * {placeholder: L, count: EXPR}` names the placeholder that numbers layers in its key templates and
 * how many layers the config implies; the source must hold layers 0..count-1, and every key rule
 * that names a layer must name all of them (a shard or a tensor short is an error, never half a
 * model). */
#ifndef CK_LAYERS_H
#define CK_LAYERS_H

#include <jansson.h>
#include "err.h"
#include "prog.h"
#include "tensor.h"

/* Checks the tensors of src whose names start with src_prefix (stripped first) against the
 * compiled rules pg; hf/cs are the configs the count expression reads.
 * `what` names the source in messages. 0 when complete or when the rules declare no layers. */
int layers_check(const prog *pg, const ck_tsrc *src, const char *src_prefix, json_t *hf, json_t *cs, const char *what,
	ck_err *e);

#endif
