/* expr.h - the small expression language of rule files (`hf.a ?? hf.b`, `x // 2`, `c ? 'a' : 'b'`,
 * `{type: 'linear', factor: cs.f}`), parsed once and evaluated over Jansson values with
 * Python-like semantics. A value can be "absent" (a missing key): `??` replaces it, `==`/`!=`
 * treat it like null, `.field` passes it on, and any other use is an error "'x' is not set". */
#ifndef CK_EXPR_H
#define CK_EXPR_H

#include <stddef.h>
#include <jansson.h>
#include "err.h"

typedef struct expr expr;

/* Parse src (at most 64 KiB, nesting at most 64). `where` (e.g. "rules/llama.yaml:12:5") prefixes
 * error messages; a syntax error names the 1-based column inside src, what was expected and what
 * was found. Unknown functions and wrong argument counts are syntax errors. */
int expr_parse(const char *src, const char *where, expr **out, ck_err *e);
void expr_free(expr *x); /* NULL-safe */

/* Resolves a top-level identifier (hf, cs, or a name defined by the rule file). Returns a BORROWED
 * value, NULL if the name is unknown, or expr_absent() when the name is known but has no value. */
typedef json_t *(*expr_resolve_fn)(void *ctx, const char *name);
/* A marker (never dereferenced) a resolver returns for "known name, absent value". */
json_t *expr_absent(void);

/* Evaluate. *out receives a NEW reference, or NULL when the result is "absent". An error from the
 * resolver (set in e before it returns NULL) is kept. */
int expr_eval(const expr *x, expr_resolve_fn resolve, void *ctx, json_t **out, ck_err *e);
const char *expr_src(const expr *x);
/* Calls fn once for each dotted reference path the expression reads ("hf.num_attention_heads",
 * "heads"), in order of appearance; a path stops before an index step (`hf.l[0].x` gives "hf.l"). */
void expr_refs(const expr *x, void (*fn)(void *ctx, const char *path), void *ctx);
/* The one truthiness of the project (Python's): false, null, 0, 0.0, "", [] and {} are false;
 * absent (NULL) is false. Rule conditions (`when`, `mup.detect`) all use it. */
int expr_truthy(const json_t *v);
/* 1 if the expression is a plain literal (number/string/bool/null, `-1` included). */
int expr_is_literal(const expr *x);

/* d like Python's repr(float): shortest round-trip digits, "1e-05", "0.1", "3.0", "1e+16".
 * Writes at most n bytes (32 is always enough) and returns buf. */
const char *expr_float_str(double d, char *buf, size_t n);

#endif
