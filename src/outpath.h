/* outpath.h - where `convert` writes: -o taken literally (OUT.mdl + OUT.yaml, or the HF
 * directory OUT), -o naming a directory to write into, --output-dir, and without either the
 * names and places of the reference converter (`cszoo checkpoint convert`):
 *   HF -> CS  <ckpt dir>/<generic>_to_cs-X.Y.mdl and <config dir>/<generic config>_to_cs-X.Y.yaml
 *   CS -> HF  <ckpt dir>/<generic>_to_hf/ (config.json inside)
 * where <generic> is the checkpoint's file name less every trailing alphabetic extension
 * (pytorch_model.bin.index.json -> pytorch_model). A path that cannot work (-o -, a missing
 * parent directory, a file where a directory must be) fails here, in one line, before any work. */
#ifndef CK_OUTPATH_H
#define CK_OUTPATH_H

#include "err.h"

typedef struct outpath_in {
	const char *src;     /* the checkpoint as given: a file or a directory */
	const char *config;  /* HF -> CS: the config.json read (or --config); NULL when there is none */
	const char *tgt;     /* the resolved target format: "hf" or "cs-X.Y" */
	int to_hf;           /* the output is an HF directory */
	int multi;           /* HF -> CS from a directory of component directories */
	const char *out;     /* -o, or NULL */
	const char *out_dir; /* --output-dir, or NULL */
} outpath_in;

typedef struct outpath {
	char *ckpt;   /* the HF directory, or the packed file (its name may lack .mdl: OUT -> OUT.mdl) */
	char *params; /* CS target: the params YAML; NULL: OUT.yaml next to the packed file */
	char *mkdir;  /* a directory to create (with its parents, as mkdir -p) before writing, or NULL */
} outpath;

/* Decide the output paths; out is zeroed first and owns what is set (outpath_dispose). */
int outpath_choose(const outpath_in *in, outpath *out, ck_err *e);
void outpath_dispose(outpath *o);
/* The reference's generic name: `name` less every trailing ".letters" extension
 * (checkpoint_1.7.mdl -> checkpoint_1.7); a name without one is kept whole (the reference
 * reduces it to "", giving names such as "_to_hf"). malloc'd; NULL when out of memory. */
char *outpath_generic(const char *name);
/* The directory that must already hold `path` (from -o `given`) exists, or one line saying what
 * to do. */
int outpath_parent_exists(const char *path, const char *given, ck_err *e);
/* mkdir -p: dir and its missing parents, mode 0777 less the umask. */
int outpath_make_dir(const char *dir, ck_err *e);

#endif
