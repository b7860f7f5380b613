/* strmap.h - string -> size_t hash map (open addressing); keys are copied. */
#ifndef CK_STRMAP_H
#define CK_STRMAP_H
#include <stddef.h>

typedef struct strmap {
	size_t cap, n;
	char **key;
	size_t *val;
} strmap;

void strmap_init(strmap *m);
void strmap_dispose(strmap *m);
/* Returns 1 and *out if present, else 0. */
int strmap_get(const strmap *m, const char *key, size_t *out);
/* Insert or replace; -1 on allocation failure. */
int strmap_put(strmap *m, const char *key, size_t val);
#endif
