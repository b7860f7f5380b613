/* test_tree.c - a whole state dict (int keys, tuples, None, strings, tensors) written through
 * the h5ck sink and read back as the same tree; edits; values; refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mem.h"
#include "t.h"
#include "h5ck.h"
#include "tree.h"

/* tree_from_json borrows its argument: the packed literal is released here */
static json_t *from(json_t *v)
{
	json_t *t = tree_from_json(v);
	json_decref(v);
	return t;
}

static json_t *tensor(const char *name)
{
	return json_pack("{s:s}", "tensor", name);
}

/* {"optimizer": {"state": {0: {"exp_avg": T, "step": 5}}, "param_groups": [{"betas": (0.9, 0.99)}]},
 *  "model": {"a.w": T, "b": None}, "global_step": 7, "name": "x"} */
static json_t *sample(void)
{
	json_t *root = from(json_pack("{s:{}, s:{s:n}, s:i, s:s}", "optimizer", "model", "b", "global_step", 7, "name", "x"));
	json_t *st = json_pack("{s:[i], s:[o], s:s}", "d", 0, "c",
		from(json_pack("{s:n, s:i}", "exp_avg", "step", 5)), "ty", "builtins.dict");
	tree_set(json_array_get(json_object_get(st, "c"), 0), "exp_avg", tensor("optimizer.state.0.exp_avg"), -1);
	json_t *groups = from(json_pack("[{s:[f, f]}]", "betas", 0.9, 0.99));
	json_object_set_new(tree_get(json_array_get(json_object_get(groups, "c"), 0), "betas"), "ty", json_string("builtins.tuple"));
	tree_set(tree_get(root, "optimizer"), "state", st, -1);
	tree_set(tree_get(root, "optimizer"), "param_groups", groups, -1);
	tree_set(tree_get(root, "model"), "a.w", tensor("model.a.w"), 0);
	return root;
}

int main(void)
{
	char dir[] = "/tmp/test_tree.XXXXXX", path[600], path2[600];
	ck_err e = {0};
	ck_tsrc *src = NULL, *src2 = NULL;
	json_t *root = sample(), *back = NULL, *v = NULL;
	mem_src *m = mem_src_new(2);
	int64_t d2[] = {2, 3}, d1[] = {4};
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/a.mdl", dir);
	snprintf(path2, sizeof path2, "%s/b.mdl", dir);
	mem_src_f32(m, 0, "model.a.w", 2, d2, 1.0f);
	mem_src_f32(m, 1, "optimizer.state.0.exp_avg", 1, d1, 10.0f);

	/* edits */
	T_OK(tree_at(root, "model.a.w") != NULL, "tree_at finds a key holding dots");
	T_OK(tree_at(root, "optimizer.state.0.step") != NULL, "tree_at walks an int key");
	T_OK(tree_at(root, "optimizer.nope") == NULL, "tree_at: absent is NULL");
	T_EQ_STR(json_string_value(json_array_get(json_object_get(tree_get(root, "model"), "d"), 0)), "a.w", "tree_set at 0 inserts first");

	/* write through the sink, read back */
	T_EQ_INT(tree_write(root, &m->base, path, NULL, &e), 0, "tree_write");
	if (e.code)
		printf("#   %s\n", e.msg);
	T_EQ_INT(h5ck_open(path, &src, &e), 0, "the written file opens");
	T_EQ_INT(src ? src->n : 0, 2, "... with the two tensors");
	T_EQ_INT(tree_read(src, &back, &e), 0, "tree_read");
	if (e.code)
		printf("#   %s\n", e.msg);
	json_t *top = json_object_get(back, "d");
	T_EQ_STR(json_string_value(json_array_get(top, 0)), "optimizer", "top-level order kept (1)");
	T_EQ_STR(json_string_value(json_array_get(top, 3)), "name", "top-level order kept (4)");
	json_t *state = tree_at(back, "optimizer.state");
	T_OK(json_is_integer(json_array_get(json_object_get(state, "d"), 0)), "optimizer.state keys stay ints");
	T_EQ_STR(json_string_value(json_object_get(tree_at(back, "optimizer.param_groups.0.betas"), "ty")), "builtins.tuple",
		"a tuple stays a tuple");
	T_EQ_STR(json_string_value(json_object_get(tree_at(back, "model.a.w"), "tensor")), "model.a.w", "a tensor leaf");
	T_OK(tree_to_json(back, tree_at(back, "global_step"), &v, &e) == 0 && json_integer_value(v) == 7, "global_step is 7");
	json_decref(v), v = NULL;
	T_OK(tree_to_json(back, tree_at(back, "model.b"), &v, &e) == 0 && json_is_null(v), "None stays None");
	json_decref(v), v = NULL;
	T_OK(tree_to_json(back, tree_at(back, "optimizer.param_groups"), &v, &e) == 0 &&
		json_real_value(json_array_get(json_object_get(json_array_get(v, 0), "betas"), 1)) == 0.99, "floats exact");
	json_decref(v), v = NULL;
	T_EQ_INT(tree_to_json(back, tree_at(back, "model.a.w"), &v, &e), CK_EINVALID, "a tensor has no plain value");
	e = (ck_err){0};

	/* a stored leaf moved to another key is rewritten for it; the file reads back the same */
	json_t *gs = json_incref(tree_get(back, "global_step"));
	tree_del(back, "global_step");
	T_OK(tree_get(back, "global_step") == NULL, "tree_del");
	tree_set(tree_get(back, "optimizer"), "moved_step", gs, -1);
	T_EQ_INT(tree_write(back, src, path2, NULL, &e), 0, "write the edited tree (tensors from the packed file)");
	json_t *again = NULL;
	T_EQ_INT(h5ck_open(path2, &src2, &e), 0, "... opens");
	T_EQ_INT(src2 ? tree_read(src2, &again, &e) : -1, 0, "... reads");
	T_OK(again && tree_to_json(again, tree_at(again, "optimizer.moved_step"), &v, &e) == 0 && json_integer_value(v) == 7,
		"the moved leaf holds its value under the new key");
	json_decref(v), v = NULL;

	/* refusals */
	json_t *bad = from(json_pack("{s:{s:s}}", "model", "w", "x"));
	tree_set(tree_get(bad, "model"), "w", tensor("no.such"), -1);
	T_EQ_INT(tree_write(bad, &m->base, path2, NULL, &e), CK_EINVALID, "a tensor the source lacks is refused");
	T_HAS(e.msg, "tensor 'no.such' is not in", "... by name");
	e = (ck_err){0};

	json_decref(bad);
	json_decref(again);
	json_decref(back);
	json_decref(root);
	ck_tsrc_free(src);
	ck_tsrc_free(src2);
	ck_tsrc_free(&m->base);
	unlink(path);
	unlink(path2);
	rmdir(dir);
	return t_done();
}
