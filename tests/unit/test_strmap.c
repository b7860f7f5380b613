/* Unit tests for strmap.c, the one string hash table (matcher, plan, validate, ydoc): get and
 * put, replacing a value, keys copied, growth past many entries, the empty key. */
#include <stdio.h>
#include <stdlib.h>
#include "strmap.h"
#include "t.h"

static void test_basics(void)
{
	static const struct {
		const char *key;
		size_t val;
	} put[] = {{"model.layers.0.q", 1}, {"model.layers.0.k", 2}, {"", 3}, {"model.layers.0.q", 4}};
	strmap m;
	size_t v = 99;
	strmap_init(&m);
	T_EQ_INT(strmap_get(&m, "absent", &v), 0, "an empty map has nothing");
	T_EQ_INT(v, 99, "... and leaves *out alone");
	for (size_t i = 0; i < sizeof put / sizeof *put; i++)
		T_EQ_INT(strmap_put(&m, put[i].key, put[i].val), 0, put[i].key);
	T_EQ_INT(m.n, 3, "three distinct keys (one replaced)");
	T_OK(strmap_get(&m, "model.layers.0.q", &v) == 1 && v == 4, "a key put twice holds the later value");
	T_OK(strmap_get(&m, "model.layers.0.k", &v) == 1 && v == 2, "another key its own");
	T_OK(strmap_get(&m, "", &v) == 1 && v == 3, "the empty string is a key");
	T_EQ_INT(strmap_get(&m, "model.layers.0", &v), 0, "a prefix of a key is not a key");
	strmap_dispose(&m);
	strmap_dispose(&m); /* a disposed map may be disposed again (error paths) */
}

static void test_copied_keys(void)
{
	strmap m;
	char buf[16] = "key";
	size_t v = 0;
	strmap_init(&m);
	strmap_put(&m, buf, 7);
	buf[0] = 'x'; /* the caller's buffer changes: the map keeps its copy */
	T_OK(strmap_get(&m, "key", &v) == 1 && v == 7, "keys are copied");
	T_EQ_INT(strmap_get(&m, "xey", &v), 0, "the changed buffer is not a key");
	strmap_dispose(&m);
}

/* Many keys: the table grows and every key keeps its value. */
static void test_growth(void)
{
	enum { N = 5000 };
	strmap m;
	char k[32];
	size_t v, bad = 0;
	strmap_init(&m);
	for (size_t i = 0; i < N; i++) {
		snprintf(k, sizeof k, "transformer.h.%zu.attn", i);
		if (strmap_put(&m, k, i * 3))
			bad++;
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(k, sizeof k, "transformer.h.%zu.attn", i);
		if (strmap_get(&m, k, &v) != 1 || v != i * 3)
			bad++;
	}
	T_EQ_INT(bad, 0, "5000 keys put and found with their values");
	T_EQ_INT(m.n, N, "counted once each");
	T_OK(m.cap > m.n, "the table grew past its entries");
	strmap_dispose(&m);
}

int main(void)
{
	test_basics();
	test_copied_keys();
	test_growth();
	return t_done();
}
