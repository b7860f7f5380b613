/* txn.h - an output transaction: every output of a run (a packed file, its params, its carried
 * files, an HF directory) is written to a temporary next to it and renamed into place at commit,
 * all or nothing; a failure at any point leaves exactly what was there before.
 *
 * One writer per output base name: BASE.ckconv-lock (flock; opened O_NOFOLLOW, never through a
 * symlink). One temporary naming scheme, known only here: ".NAME.ckconv-tmp.PID.TOKEN" for the
 * new NAME and ".NAME.ckconv-old.PID.TOKEN" for the previous one while a commit runs (PID of the
 * run, TOKEN 16 random hex digits). The sweep removes only such names, only when PID is not a
 * live process. Temporaries are registered with guard.h, so a signal removes them. */
#ifndef CK_TXN_H
#define CK_TXN_H

#include <stdio.h>
#include "err.h"

typedef struct txn txn;

typedef enum txn_kind {
	TXN_FILE,  /* a regular file the caller creates at the temporary path (txn_create_file) */
	TXN_DIR,   /* a directory txn creates (mode 0777 less the umask, as mkdir(1)); left empty, it
	            * is no output: commit treats it as txn_drop */
	TXN_MODEL, /* a TXN_DIR that is an HF model directory: what it replaces must hold config.json */
} txn_kind;

/* Take the lock of the outputs named `base` (OUT for an HF directory, OUT without .mdl/.h5 for
 * a packed file: -o x.mdl and -o x.h5 share one lock, as they share x.yaml). force: existing
 * outputs may be replaced at commit. report: where sweep notes go (NULL: nowhere).
 * CK_EEXIST when another run holds the lock; CK_EINVALID when the lock path is a symlink or
 * not a plain file. */
int txn_begin(const char *base, int force, FILE *report, txn **out, ck_err *e);
/* Declare output `final` of this run: sweeps what dead runs left for it, checks what is there
 * now (txn_check), creates the temporary directory for the DIR kinds, and sets *tmp to the
 * temporary path (owned by t, valid until txn_free). */
int txn_add(txn *t, const char *final, txn_kind kind, const char **tmp, ck_err *e);
/* Declare an output this run does not produce: with force an existing one is removed at
 * commit (the old OUT.hf-files when the new source carries none); without force it must not
 * exist. */
int txn_drop(txn *t, const char *final, txn_kind kind, ck_err *e);
/* Whether `final` may be written: it does not exist, or force is set and it is what this kind
 * of output looks like (a regular file; a directory of regular files and directories at most
 * two levels deep, holding config.json for TXN_MODEL). Never a symlink, device or FIFO. */
int txn_check(const char *final, txn_kind kind, int force, ck_err *e);
/* Create a file for writing: O_EXCL | O_NOFOLLOW, mode 0666 less the umask. Returns the fd or
 * a negative error code. Every file ckconv writes outside an HDF5 or safetensors sink goes
 * through here. */
int txn_create_file(const char *path, ck_err *e);
/* Write text to a new file at path (txn_create_file, then write, fsync, close). */
int txn_write_file(const char *path, const char *text, size_t len, ck_err *e);
/* Rename every temporary into place in declaration order (declare the file that marks the
 * output complete last). With force the previous outputs are moved aside first and deleted only
 * once every new one is in place; on any failure the moves are undone, so the outputs are what
 * they were before. Signals are held while it runs. On failure the temporaries are removed. */
int txn_commit(txn *t, ck_err *e);
/* Remove the temporaries (nothing at the final paths changes). The lock stays. NULL-safe. */
void txn_abort(txn *t);
/* txn_abort unless committed, then release the lock and free. NULL-safe. */
void txn_free(txn *t);
/* The sweep alone: remove NAME's temporaries in its directory whose owner is dead; an old copy
 * whose NAME is missing is put back (the run died mid-commit). txn_add sweeps too, and when the
 * lock file it took says its dead holder had begun placing its outputs ("PID TOKEN\nplacing\n"),
 * it finishes that commit instead (its temporaries renamed in, old copies removed). */
void txn_sweep(const char *final, FILE *report);

#endif
