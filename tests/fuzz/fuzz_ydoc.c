/* fuzz_ydoc.c - bytes through ydoc_load_string (libyaml -> position-tagged tree, aliases shared,
 * node and depth caps), the tree walked, then typed like PyYAML with valio_from_yd. */
#include "fuzz.h"
#include "valio.h"
#include "ydoc.h"

static size_t walk(const ydoc_node *n, int depth)
{
	size_t c = 1;
	if (!n || depth > YDOC_MAX_DEPTH + 1)
		abort(); /* the depth cap must hold, and collections hold no NULL items */
	if (n->kind == YDOC_SCALAR) {
		if (!n->value || n->items)
			abort();
		return c;
	}
	if (n->kind == YDOC_MAP && n->n)
		(void)ydoc_map_get(n, n->items[0]->value ? n->items[0]->value : "");
	for (size_t i = 0; i < (n->kind == YDOC_MAP ? 2 * n->n : n->n); i++)
		c += walk(n->items[i], depth + 1);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ydoc_doc *d = NULL;
	json_t *v = NULL;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (ydoc_load_string("fuzz.yaml", (const char *)data, size, &d, &e) == 0) {
		/* aliases make it a DAG, but the expanded tree is capped */
		if (d->root && walk(d->root, 0) > YDOC_MAX_NODES)
			abort();
		if (valio_from_yd("fuzz.yaml", d->root, &v, &e) == 0)
			json_decref(v);
		ydoc_doc_free(d);
	}
	return 0;
}
