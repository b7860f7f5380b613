/* test_shard.c - joining a shard set by its index: weight_map order, every key in exactly the
 * shard it is listed in, plain shard names, and linear work in the number of shard names. The
 * shard "files" here are text files of key names, opened by a fake single-file source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "shard.h"
#include "t.h"

static char dir[] = "/tmp/test_shard.XXXXXX";

typedef struct fake {
	ck_tsrc base;
	int id; /* which shard: tensors read back as id * 100 + index */
} fake;

static int fake_read(ck_tsrc *s, size_t i, void *buf, ck_err *e)
{
	(void)e;
	float v = (float)(((fake *)s)->id * 100 + (int)i);
	memcpy(buf, &v, 4);
	return 0;
}

static void fake_free(ck_tsrc *s)
{
	ck_tinfo_array_free(s->t, s->n);
	free(s->path);
	free(s);
}

static const ck_tsrc_ops fake_ops = {fake_read, fake_free, NULL};

/* A shard file: its id on the first line, then one key per line. */
static int fake_open(const char *path, ck_tsrc **out, ck_err *e)
{
	char line[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return ck_errf(e, CK_ENOTFOUND, "%s: cannot open", path);
	fake *s = calloc(1, sizeof *s);
	s->base.ops = &fake_ops;
	s->base.path = strdup(path);
	s->base.t = calloc(64, sizeof *s->base.t);
	if (fgets(line, sizeof line, f))
		s->id = atoi(line);
	while (fgets(line, sizeof line, f) && s->base.n < 64) {
		line[strcspn(line, "\n")] = '\0';
		ck_tinfo *t = &s->base.t[s->base.n++];
		t->name = strdup(line);
		t->dtype = CK_DT_F32;
		t->shape.rank = 1;
		t->shape.dim[0] = 1;
		t->nbytes = 4;
	}
	fclose(f);
	*out = &s->base;
	return 0;
}

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void rm(const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	unlink(p);
}

static int open_index(const char *index, ck_tsrc **s, ck_err *e)
{
	char p[256];
	snprintf(p, sizeof p, "%s/idx.json", dir);
	put("idx.json", index);
	ck_err_clear(e);
	*s = NULL;
	return shard_open(p, fake_open, s, e);
}

static void test_join(void)
{
	ck_tsrc *s;
	ck_err e;
	float v = 0;
	put("a", "1\nx\ny\n");
	put("b", "2\nz\n");
	int rc = open_index("{\"weight_map\": {\"z\": \"b\", \"x\": \"a\", \"y\": \"a\"}}", &s, &e);
	T_EQ_INT(rc, 0, "two shards join");
	if (rc)
		return;
	T_OK(s->n == 3 && !strcmp(s->t[0].name, "z") && !strcmp(s->t[1].name, "x") && !strcmp(s->t[2].name, "y"),
		"tensors come in weight_map order");
	ck_tsrc_read(s, 2, &v, &e);
	T_OK(v == 101.0f, "y is read from shard a, its second tensor (%g)", v);
	ck_tsrc_read(s, 0, &v, &e);
	T_OK(v == 200.0f, "z from shard b");
	ck_tsrc_free(s);

	T_EQ_INT(open_index("{\"weight_map\": {\"x\": \"a\", \"z\": \"b\"}}", &s, &e), CK_EINVALID, "unlisted key refused");
	T_HAS(e.msg, "shard 'a' holds tensor 'y', which weight_map does not list", "and named");
	T_EQ_INT(open_index("{\"weight_map\": {\"x\": \"b\", \"y\": \"a\", \"z\": \"b\"}}", &s, &e), CK_EINVALID,
		"a key listed in the wrong shard refused");
	T_HAS(e.msg, "tensor 'x': weight_map names shard 'b', which does not contain it (it is in 'a')", "and named");
	put("c", "3\nx\n");
	T_EQ_INT(open_index("{\"weight_map\": {\"x\": \"a\", \"y\": \"a\", \"z\": \"c\"}}", &s, &e), CK_EINVALID,
		"a key in two shards refused");
	T_HAS(e.msg, "tensor 'x' appears in two shards", "and named");
	T_EQ_INT(open_index("{\"weight_map\": {\"x\": \"../a\"}}", &s, &e), CK_EINVALID, "a shard outside the directory");
	T_EQ_INT(open_index("{\"weight_map\": {\"x\": \"nope\"}}", &s, &e), CK_ENOTFOUND, "a missing shard");
	T_HAS(e.msg, "shard 'nope' not found", "is named");
	T_EQ_INT(open_index("{\"weight_map\": [1]}", &s, &e), CK_EINVALID, "weight_map not an object");
	rm("a");
	rm("b");
	rm("c");
}

/* 200k distinct shard names (none exists): refused at the first, in linear time. */
static void test_many_names(void)
{
	size_t n = 200000;
	char *idx = malloc(n * 48 + 64), *p = idx;
	ck_tsrc *s;
	ck_err e;
	p += sprintf(p, "{\"weight_map\": {");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"k%zu\": \"s%zu\"", i ? ", " : "", i, i);
	strcpy(p, "}}");
	clock_t t0 = clock();
	T_EQ_INT(open_index(idx, &s, &e), CK_ENOTFOUND, "200k shard names: the first missing one is reported");
	double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
	T_OK(sec < 2.0, "in linear time (%.2f s; quadratic took minutes)", sec);
	free(idx);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_join();
	test_many_names();
	rm("idx.json");
	rmdir(dir);
	return t_done();
}
