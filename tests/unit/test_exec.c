/* Unit tests for exec.c with a memory source and sink: each group's bytes reach the sink
 * (transpose, stack, duplicate, a generator, a chain with scale), every target written once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "exec.h"
#include "mem.h"
#include "plan.h"
#include "rule.h"
#include "prog.h"
#include "t.h"
#include "t_plan.h"

static const char rules[] =
	"model: t\n"
	"placeholders: {E: '\\d+'}\n"
	"keys:\n"
	"  - {hf: w, cs: W, action: transpose}\n"
	"  - {hf: 'e.<E>', cs: S, action: {stack: {axis: 0, over: E}}}\n"
	"  - {hf: dup, cs: [d1, d2], action: duplicate}\n"
	"  - {hf: half, cs: H, action: [{scale: {by: 0.5}}, {scale: {by: 100, when: 'false'}}]}\n"
	"  - {cs: one, create: {for: {I: '[0]'}, fill: 1.5, dtype: f32, shape: '[3]'}}\n";

/* Target -> its values as f32, expected. */
static const struct want {
	const char *name;
	size_t n;
	float v[8];
} want[] = {
	{"W", 6, {0, 3, 1, 4, 2, 5}},             /* w = [[0 1 2] [3 4 5]] transposed */
	{"S", 4, {20, 21, 10, 11}},               /* e.0 (base 20) then e.1 (base 10): ordered by <E> */
	{"d1", 2, {30, 31}},
	{"d2", 2, {30, 31}},
	{"H", 3, {20, 20.5, 21}},                 /* 40 41 42 halved; the second scale is off */
	{"one", 3, {1.5, 1.5, 1.5}},
};

int main(void)
{
	char dir[64] = "/tmp/ckconv-test-exec-XXXXXX", path[128];
	ck_err e = {0};
	rule_set *rs = NULL;
	plan p;
	if (!mkdtemp(dir))
		return 1;
	t_put(dir, "t.yaml", rules);
	snprintf(path, sizeof path, "%s/t.yaml", dir);
	T_EQ_INT(rule_set_load(path, &rs, &e), 0, "the rules load");
	unlink(path);
	rmdir(dir);
	if (!rs)
		return t_done();

	mem_src *src = mem_src_new(5);
	static const int64_t d23[] = {2, 3}, d2[] = {2}, d3[] = {3};
	mem_src_f32(src, 0, "w", 2, d23, 0);
	mem_src_f32(src, 1, "e.1", 1, d2, 10);
	mem_src_f32(src, 2, "e.0", 1, d2, 20);
	mem_src_f32(src, 3, "dup", 1, d2, 30);
	mem_src_f32(src, 4, "half", 1, d3, 40);
	json_t *hf = json_object(), *cs = json_pack("{s{}}", "model");
	plan_init(&p, &e);
	T_EQ_INT(plan_rules(&p, rs, RULE_HF, &src->base, hf, cs, NULL, &e), 0, "the plan is made");

	mem_sink sink;
	mem_sink_init(&sink, p.out, p.n_out);
	T_EQ_INT(exec_run(&p, &sink.base, NULL, NULL, &e), 0, "the plan runs");
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		long t = mem_find(p.out, p.n_out, want[i].name);
		T_OK(t >= 0 && sink.data[t], "%s is written", want[i].name);
		if (t < 0 || !sink.data[t])
			continue;
		T_EQ_INT(p.out[t].nbytes, want[i].n * 4, "its size");
		T_OK(!memcmp(sink.data[t], want[i].v, want[i].n * 4), "%s holds the expected values", want[i].name);
	}
	size_t written = 0;
	for (size_t i = 0; i < p.n_out; i++)
		written += sink.data[i] != NULL;
	T_EQ_INT(written, p.n_out, "every target is written");
	T_OK(!sink.committed, "exec leaves the commit to the caller");

	/* --dtype: floating targets are cast while streaming */
	mem_sink_dispose(&sink);
	T_EQ_INT(plan_set_dtype(&p, CK_DT_F64), p.n_out, "every f32 target becomes f64");
	mem_sink_init(&sink, p.out, p.n_out);
	T_EQ_INT(exec_run(&p, &sink.base, NULL, NULL, &e), 0, "the cast plan runs");
	long t = mem_find(p.out, p.n_out, "H");
	double h[3];
	if (t >= 0 && sink.data[t])
		memcpy(h, sink.data[t], sizeof h);
	T_OK(t >= 0 && sink.data[t] && h[0] == 20 && h[1] == 20.5 && h[2] == 21, "H as f64");
	mem_sink_dispose(&sink);

	plan_dispose(&p);
	ck_tsrc_free(&src->base);
	json_decref(hf);
	json_decref(cs);
	rule_set_free(rs);
	return t_done();
}
