/* err.h - error values: a negative code plus one line of text, set once where found.
 * Only main.c prints. Messages start with their location ("file:line:col: " or "file: "). */
#ifndef CK_ERR_H
#define CK_ERR_H

#include <stddef.h>

enum {
	CK_OK = 0,
	CK_ERROR = -1,     /* anything else */
	CK_EINVALID = -2,  /* malformed input, bad rule, bad argument */
	CK_ENOTFOUND = -3, /* missing file, key, model */
	CK_EIO = -4,       /* read/write/rename failed */
	CK_ENOMEM = -5,
	CK_EEXIST = -6,    /* output exists and --force not given */
	CK_ELIMIT = -7,    /* a resource limit was hit */
	CK_EINTR = -8,     /* stopped by SIGINT/SIGTERM */
	CK_ECORRUPT = -9,  /* stored checksums do not match the data */
	CK_EUSAGE = -10    /* the command line is wrong: unknown option, missing operand */
};

typedef struct ck_err {
	int code;
	char msg[2048];
} ck_err;

/* Sets e->msg from the format (if e is non-NULL and not already set) and returns code. */
int ck_errf(ck_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like ck_errf but always overwrites an earlier message. */
int ck_errf_reset(ck_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Puts "where: " before e's message (the input an error inside a rule expression is about) and
 * returns code. */
int ck_err_prefix(ck_err *e, int code, const char *where);
void ck_err_clear(ck_err *e);

/* Checked allocation helpers: return NULL and set CK_ENOMEM on failure. */
void *ck_malloc(ck_err *e, size_t n);
void *ck_calloc(ck_err *e, size_t n, size_t size);
char *ck_strdup(ck_err *e, const char *s);

#endif
