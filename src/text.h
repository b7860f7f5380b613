/* text.h - a growable string for building headers, JSON and YAML. Out of memory sticks
 * (`oom`), so builders append freely and check once at the end. */
#ifndef CK_TEXT_H
#define CK_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct text {
	char *p;   /* NUL-terminated once anything was added */
	size_t n, cap;
	int oom;
} text;

void text_add(text *b, const char *s, size_t n);
void text_puts(text *b, const char *s);
void text_printf(text *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_spaces(text *b, size_t n);
/* The string (caller frees), or NULL after an allocation failure (the buffer is freed). */
char *text_take(text *b);
void text_dispose(text *b);

/* Length of the UTF-8 sequence at s (at most n bytes available) and its code point, or 0 if
 * invalid (overlong, surrogate, beyond U+10FFFF, truncated). The one UTF-8 decoder. */
size_t text_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* 1 if the NUL-terminated s is valid UTF-8. */
int text_utf8_valid(const char *s);
/* s[0..n) as a JSON string, quotes included. ascii = 0: as serde_json writes it (UTF-8 kept,
 * controls escaped; the safetensors header); ascii = 1: as Python's json.dumps does
 * (ensure_ascii: everything outside ' '..'~' as \uXXXX, surrogate pairs beyond U+FFFF).
 * Invalid UTF-8 comes out as U+FFFD. The one JSON string escaper. */
void text_json_str(text *b, const char *s, size_t n, int ascii);

/* The next bare NaN, Infinity or -Infinity token of the JSON text s outside strings (Python's
 * json writes them; Jansson refuses them), its length in *n; NULL when there is none. Scanning
 * on from the token's end is safe: a token is never inside a string. The one such scanner. */
const char *text_json_nonfinite(const char *s, size_t *n);


/* b bytes for people: "256 B", "1.5 KiB", "12.0 MiB" (binary units, one decimal). Returns buf. */
const char *text_human_bytes(double b, char *buf, size_t n);
#endif
