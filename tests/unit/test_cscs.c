/* test_cscs.c - CS <-> CS across releases (cscs.c) on a toy release table of our own (three
 * releases, a family file with key renames, a tie, an added buffer, a variant and a refusal): the
 * steps chosen, the params ops, a whole checkpoint carried, and every refusal in one line. The real
 * rules/cscs/ are exercised against the reference's vectors by tests/e2e/cscs.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "cscs.h"
#include "h5ck.h"
#include "mem.h"
#include "t.h"
#include "tree.h"

static char dir[64];


static const char *RELEASES =
	"releases: [cs-1.0, cs-1.1, cs-1.2]\n"
	"current: cs-1.2\n"
	"model_prefixes: [model.]\n"
	"checkpoint:\n"
	"  reset_scheduler_before: cs-1.1\n"
	"models:\n"
	"  plain: {aliases: [plainer]}\n"
	"  toy: {since: cs-1.1, rules: toy}\n"
	"  late: {since: cs-1.2}\n"
	"  nosteps: {rules: nosteps}\n"
	"  selfref: {rules: selfref}\n"
	"  halt: {rules: halt}\n"
	"let:\n"
	"  factor: 2\n"
	"params:\n"
	"  - when: \"src == 'cs-1.0' && tgt == 'cs-1.1'\"\n"
	"    at: model\n"
	"    rename: {old_name: new_name}\n"
	"    set: {scaled: \"x.n * factor\", step_seen: \"src + '>' + tgt\"}\n"
	"  - when: \"src == 'cs-1.1' && tgt == 'cs-1.0'\"\n"
	"    at: model\n"
	"    rename: {new_name: old_name}\n"
	"    drop: [scaled, step_seen]\n"
	"  - when: \"tgt == 'cs-1.2'\"\n"
	"    each: optimizer.groups\n"
	"    do:\n"
	"      - set: {lr: \"x.lr * 10\"}\n"
	"  - at: nowhere.absent\n"          /* a section the params lack: nothing to do */
	"    set: {a: 1}\n";

static const char *TOY =
	"steps:\n"
	"  - left: [cs-1.1]\n"
	"    right: [cs-1.2]\n"
	"    unmatched: refuse\n"
	"    keys:\n"
	"      - {left: \"enc.<N>.w\", right: \"encoder.layers.<N>.weight\"}\n"
	"      - {left: \"scratch.<W...>\"}\n"
	"      - {left: \"emb.w\", right: \"embedding.weight\", add_right: [{key: \"embedding.position_ids\", "
	"arange: \"[1, p.model.n]\"}]}\n"
	"      - {left: \"head.w\", right: \"head.weight\"}\n"
	"    up:\n"
	"      - at: model\n"
	"        set: {family_step: \"up ? 'up' : 'down'\"}\n"
	"    down:\n"
	"      - at: model\n"
	"        drop: [family_step]\n"
	"  - left: [cs-1.2]\n"
	"    right: [cs-1.2-var]\n"
	"    refuse_down: \"the variant does not convert back\"\n";

static void write_rules(void)
{
	mkdir(t_at(dir, "rules"), 0777);
	mkdir(t_at(dir, "rules/cscs"), 0777);
	t_put(dir, "rules/cscs/releases.yaml", RELEASES);
	t_put(dir, "rules/cscs/toy.yaml", TOY);
	t_put(dir, "rules/cscs/nosteps.yaml", "steps: {}\n");
	t_put(dir, "rules/cscs/halt.yaml", "steps:\n  - left: [cs-1.0]\n    right: [cs-1.1]\n    refuse: no rules yet\n");
	t_put(dir, "rules/cscs/selfref.yaml", "steps:\n  - left: [cs-1.0]\n    right: [cs-1.1]\n    up:\n"
		"      - at: model\n        let: {a: \"b + 1\", b: \"a + 1\"}\n        set: {n: a}\n");
	mkdir(t_at(dir, "bad"), 0777);
	mkdir(t_at(dir, "bad/cscs"), 0777);
	t_put(dir, "bad/cscs/releases.yaml", "releases: cs-1.0\nmodels: {}\n");
}

static void test_wanted(void)
{
	conv_opts o = {.src_fmt = "cs-2.2", .tgt_fmt = "cs-2.9"};
	T_OK(cscs_wanted(&o), "wanted: two CS releases");
	o.src_fmt = "cs-auto", o.tgt_fmt = "cs-current";
	T_OK(cscs_wanted(&o), "... cs-auto and cs-current count");
	o.tgt_fmt = "hf";
	T_OK(!cscs_wanted(&o), "... not with an HF end");
	o.tgt_fmt = "cs-";
	T_OK(!cscs_wanted(&o), "... nor a bare cs-");
	o.src_fmt = NULL, o.tgt_fmt = "cs-2.9";
	T_OK(!cscs_wanted(&o), "... nor with a format not given");
}

/* cscs_list into a string. */
static char *listed(const char *rules, const char *model, int *rc, ck_err *e)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	ck_err_clear(e);
	*rc = cscs_list(rules, model, m, e);
	fclose(m);
	return buf;
}

static void test_list(void)
{
	ck_err e = {0};
	int rc;
	char rules[600];
	snprintf(rules, sizeof rules, "%s/rules", dir);
	char *s = listed(rules, "plainer", &rc, &e);
	T_EQ_INT(rc, 0, "list --releases ALIAS");
	T_EQ_STR(s, "plain cs-1.0 -> cs-1.1: cs-1.0 -> cs-1.1\n"
		"plain cs-1.0 -> cs-1.2: cs-1.0 -> cs-1.1, cs-1.1 -> cs-1.2\n"
		"plain cs-1.1 -> cs-1.0: cs-1.1 -> cs-1.0\n"
		"plain cs-1.1 -> cs-1.2: cs-1.1 -> cs-1.2\n"
		"plain cs-1.2 -> cs-1.0: cs-1.2 -> cs-1.1, cs-1.1 -> cs-1.0\n"
		"plain cs-1.2 -> cs-1.1: cs-1.2 -> cs-1.1\n",
		"... every pair, release by release (generic steps), under the model's own name");
	free(s);
	s = listed(rules, "toy", &rc, &e);
	T_EQ_STR(s, "toy cs-1.1 -> cs-1.2: cs-1.1 -> cs-1.2 (toy.yaml)\n"
		"toy cs-1.2 -> cs-1.1: cs-1.2 -> cs-1.1 (toy.yaml)\n"
		"toy cs-1.2 -> cs-1.2-var: cs-1.2 -> cs-1.2-var (toy.yaml)\n"
		"toy cs-1.2-var -> cs-1.2: cs-1.2-var -> cs-1.2 (toy.yaml)\n",
		"... from `since` on, the family's steps named, its variant both ways");
	free(s);
	s = listed(rules, "halt", &rc, &e);
	T_HAS(s, "halt cs-1.0 -> cs-1.1: refused: cs-1.0 -> cs-1.1: no rules yet\n", "... a refused step says why");
	T_HAS(s, "halt cs-1.0 -> cs-1.2: refused: cs-1.0 -> cs-1.1: no rules yet\n", "... also in a chain through it");
	T_HAS(s, "halt cs-1.1 -> cs-1.2: cs-1.1 -> cs-1.2\n", "... the other pairs take the generic steps");
	free(s);
	s = listed(rules, "late", &rc, &e);
	T_EQ_STR(s, "", "... a model with one release has no pairs");
	free(s);
	s = listed(rules, "nope", &rc, &e);
	T_EQ_INT(rc, CK_ENOTFOUND, "an unknown model");
	T_HAS(e.msg, t_fmt("model 'nope' has no CS -> CS rules (%s/cscs/releases.yaml lists the models)", rules), "... one line");
	free(s);
	s = listed(rules, NULL, &rc, &e);
	T_EQ_INT(rc, CK_EINVALID, "every model: stops at a broken family file");
	T_HAS(e.msg, t_fmt("%s/cscs/nosteps.yaml: expected 'steps' (a list)", rules), "... naming it");
	free(s);
	s = listed(t_at(dir, "bad"), NULL, &rc, &e);
	T_EQ_INT(rc, CK_EINVALID, "a malformed releases.yaml");
	T_HAS(e.msg, "releases.yaml: expected 'releases' (a list) and 'models' (a mapping)", "... says what it expects");
	free(s);
	s = listed(t_at(dir, "nowhere"), NULL, &rc, &e);
	T_OK(rc != 0 && strstr(e.msg, "nowhere/cscs/releases.yaml"), "a rules directory without cscs/: names the file");
	free(s);
}

/* cscs_config of params text for model from src to tgt: its YAML (or NULL with e set). */
static char *config(const char *model, const char *params, const char *src, const char *tgt, char **reached, ck_err *e)
{
	char *yaml = NULL, *fmt = NULL;
	t_put(dir, "params.yaml", params);
	conv_opts o = {.model = model, .config = t_at(dir, "params.yaml"), .src_fmt = src, .tgt_fmt = tgt,
		.rules = t_at(dir, "rules")};
	ck_err_clear(e);
	int rc = cscs_config(&o, &yaml, &fmt, e);
	if (rc && (yaml || fmt))
		printf("# a failing cscs_config left outputs set\n");
	if (reached)
		*reached = fmt;
	else
		free(fmt);
	return yaml;
}

static void config_is(const char *model, const char *params, const char *src, const char *tgt, const char *want,
	const char *want_fmt, const char *what)
{
	ck_err e = {0};
	char *fmt = NULL, *y = config(model, params, src, tgt, &fmt, &e);
	T_OK(y != NULL, "%s%s%s", what, y ? "" : ": ", y ? "" : e.msg);
	T_EQ_STR(y, want, "... the params");
	T_EQ_STR(fmt, want_fmt, "... the release reached");
	free(y);
	free(fmt);
}

static void config_refused(const char *model, const char *params, const char *src, const char *tgt, int code,
	const char *want, const char *what)
{
	ck_err e = {0};
	char *y = config(model, params, src, tgt, NULL, &e);
	T_OK(!y && e.code == code, "%s", what);
	if (e.code != code)
		printf("#   code %d, want %d: %s\n", e.code, code, e.msg);
	T_HAS(e.msg, want, "... saying so");
	T_OK(!strchr(e.msg, '\n'), "... in one line");
	free(y);
}

static void test_config(void)
{
	const char *p = "model:\n  old_name: 7\n  n: 3\noptimizer:\n  groups:\n  - {lr: 1}\n  - {lr: 2}\n";
	config_is("plain", p, "cs-1.0", "cs-1.1",
		"model:\n  n: 3\n  new_name: 7\n  scaled: 6\n  step_seen: cs-1.0>cs-1.1\noptimizer:\n  groups:\n  - lr: 1\n  - lr: 2\n",
		"cs-1.1", "one generic step: rename, set from x, a release-wide let and the step's src/tgt");
	config_is("plain", p, "cs-1.0", "cs-current",
		"model:\n  n: 3\n  new_name: 7\n  scaled: 6\n  step_seen: cs-1.0>cs-1.1\noptimizer:\n  groups:\n  - lr: 10\n"
		"  - lr: 20\n", "cs-1.2", "two steps chained to cs-current: each list element edited by `each`");
	config_is("plain", "model:\n  new_name: 7\n  n: 3\n  scaled: 6\n  step_seen: x\n", "cs-1.1", "cs-1.0",
		"model:\n  n: 3\n  old_name: 7\n", "cs-1.0", "a step down: its own ops");
	config_is("toy", "model:\n  n: 3\n", "cs-1.1", "cs-1.2", "model:\n  family_step: up\n  n: 3\n", "cs-1.2",
		"a family step: its `up` ops, then the release's");
	config_is("toy", "trainer:\n  init:\n    model:\n      n: 3\n", "cs-1.1", "cs-1.2",
		"trainer:\n  init:\n    model:\n      family_step: up\n      n: 3\n", "cs-1.2",
		"`at: model` finds the model in the trainer layout too");
	config_is("toy", "model:\n  n: 3\n  family_step: up\n", "cs-1.2", "cs-1.1", "model:\n  n: 3\n", "cs-1.1",
		"... its `down` ops the other way");

	config_refused(NULL, p, "cs-1.0", "cs-1.1", CK_EINVALID, "CS -> CS needs --model (one of the models in ",
		"no model");
	config_refused("nope", p, "cs-1.0", "cs-1.1", CK_ENOTFOUND, "model 'nope' has no CS -> CS rules", "an unknown model");
	config_refused("plain", p, "cs-0.9", "cs-1.1", CK_EINVALID,
		"CS -> CS between cs-0.9 and cs-1.1: the releases are cs-1.0 ... cs-1.2 (", "an unknown release");
	config_refused("plain", p, "cs-1.1", "cs-1.1", CK_EINVALID, "CS -> CS: source and target are both cs-1.1",
		"source and target the same");
	config_refused("toy", p, "cs-1.0", "cs-1.2", CK_EINVALID, "model toy has no checkpoints before cs-1.1 (",
		"a release before the model's first");
	config_refused("plain", p, "cs-1.2", "cs-1.2-var", CK_EINVALID,
		"model plain: no step converts cs-1.2 <-> cs-1.2-var (", "a variant the model's rules do not name");
	config_refused("toy", p, "cs-1.1", "cs-1.2-var", CK_EINVALID, "model toy: no step converts cs-1.1 <-> cs-1.2-var",
		"a variant only to or from what its step names");
	config_refused("halt", "model: {n: 1}\n", "cs-1.0", "cs-1.1", CK_EINVALID,
		"halt cs-1.0 -> cs-1.1: no rules yet (", "a step declared `refuse: REASON`");
	config_refused("toy", "model: {n: 1}\n", "cs-1.2-var", "cs-1.2", CK_EINVALID,
		"toy cs-1.2-var -> cs-1.2: the variant does not convert back (", "a step refused one way (`refuse_down`), as convert refuses it");
	config_is("toy", "model: {n: 1}\n", "cs-1.2", "cs-1.2-var", "model:\n  n: 1\n", "cs-1.2-var",
		"... the other way converts");
	config_refused("plain", "- 1\n- 2\n", "cs-1.0", "cs-1.1", CK_EINVALID, "params.yaml: the params are not a mapping",
		"params that are a list");
	config_refused("selfref", "model: {n: 1}\n", "cs-1.0", "cs-1.1", CK_EINVALID, "let 'a' refers to itself",
		"a let that reads itself");
	config_refused("plain", "model: {old_name: 1, n: {a: 1}}\n", "cs-1.0", "cs-1.1", CK_EINVALID,
		"releases.yaml: params[0]", "an op's expression failing: names the op");
}

/* A packed checkpoint: model (toy cs-1.1 keys, under the trainer's model. prefix), optimizer,
 * global_step, a scheduler, one __metadata__ record. */
static int write_ckpt(const char *path, const char *const *keys, size_t n)
{
	ck_err e = {0};
	mem_src *m = mem_src_new(n);
	int64_t d[] = {2, 3};
	json_t *lit = json_pack("{s:{}, s:{s:i}, s:i, s:{s:i}}", "model", "optimizer", "step", 1, "global_step", 7,
		"lr_scheduler", "last_epoch", 7), *root = tree_from_json(lit); /* tree_from_json borrows */
	json_t *model = tree_get(root, "model"), *plain = json_pack("[{s:s, s:s, s:{}}]", "version", "1.1.0",
		"model_name", "", "params");
	for (size_t i = 0; i < n; i++) {
		mem_src_f32(m, i, keys[i], 2, d, (float)(10 * i));
		tree_set(model, keys[i], json_pack("{s:s}", "tensor", keys[i]), -1);
	}
	tree_set(root, "__metadata__", tree_from_json(plain), -1);
	json_decref(plain);
	json_decref(lit);
	int rc = tree_write(root, &m->base, path, NULL, &e);
	if (rc)
		printf("#   writing the test checkpoint: %s\n", e.msg);
	json_decref(root);
	ck_tsrc_free(&m->base);
	return rc;
}

static conv_opts run_opts(const char *model, const char *src, const char *tgt, const char *out)
{
	conv_opts o = {.model = model, .src = t_at(dir, "in.mdl"), .config = t_at(dir, "params.yaml"), .src_fmt = src,
		.tgt_fmt = tgt, .out = out, .rules = t_at(dir, "rules"), .quiet = 1};
	return o;
}

/* The keys of the tree node at path, joined by spaces. */
static const char *keys_of(const json_t *root, const char *path)
{
	static char buf[1024];
	json_t *d = json_object_get(tree_at(root, path), "d");
	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(d); i++) {
		char b[32];
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", tree_key_str(json_array_get(d, i), b));
	}
	return buf;
}

/* The first f32 of the tensor named name in src (-1 when absent). */
static float first_value(ck_tsrc *src, const char *name)
{
	ck_err e = {0};
	for (size_t i = 0; src && i < src->n; i++)
		if (!strcmp(src->t[i].name, name)) {
			float *v = malloc(src->t[i].nbytes), x;
			x = v && !ck_tsrc_read(src, i, v, &e) ? v[0] : -1;
			free(v);
			return x;
		}
	return -1;
}

static void test_run(void)
{
	static const char *const keys[] = {"model.enc.0.w", "model.enc.1.w", "model.scratch.a.b", "model.emb.w", "model.head.w"};
	ck_err e = {0};
	ck_tsrc *src = NULL;
	json_t *tree = NULL, *v = NULL;
	T_EQ_INT(write_ckpt(t_at(dir, "in.mdl"), keys, 5), 0, "a toy cs-1.1 checkpoint");
	t_put(dir, "params.yaml", "model:\n  n: 4\n");

	conv_opts o = run_opts("toy", "cs-1.1", "cs-1.2", t_at(dir, "out"));
	T_EQ_INT(cscs_run(&o, &e), 0, "toy cs-1.1 -> cs-1.2 converts");
	if (e.code)
		printf("#   %s\n", e.msg);
	T_EQ_INT(h5ck_open(t_at(dir, "out.mdl"), &src, &e), 0, "... out.mdl (-o OUT: OUT.mdl + OUT.yaml) opens");
	T_EQ_INT(src ? tree_read(src, &tree, &e) : -1, 0, "... and reads as a state dict");
	T_EQ_STR(keys_of(tree, "model"), "model.encoder.layers.0.weight model.encoder.layers.1.weight model.embedding.weight "
		"model.embedding.position_ids model.head.weight",
		"... keys renamed in source order under the kept prefix, the one-sided key dropped, the buffer added after its key");
	T_OK(first_value(src, "model.model.embedding.weight") == 30.0f && first_value(src, "model.model.head.weight") == 40.0f,
		"... a renamed key holds its source tensor");
	json_t *ids = tree_at(tree, "model.model.embedding.position_ids");
	T_OK(ids && json_is_string(json_object_get(ids, "tensor")) &&
		!strcmp(json_string_value(json_object_get(ids, "tensor")), "model.model.embedding.position_ids"),
		"... the buffer is a tensor of the output");
	const ck_tinfo *pt = NULL;
	for (size_t i = 0; src && i < src->n; i++)
		if (!strcmp(src->t[i].name, "model.model.embedding.position_ids"))
			pt = &src->t[i];
	T_OK(pt && pt->dtype == CK_DT_I64 && pt->shape.rank == 2 && pt->shape.dim[0] == 1 && pt->shape.dim[1] == 4,
		"... int64 of the shape its expression gives ([1, p.model.n])");
	T_EQ_INT(src ? (long long)src->n : -1, 5, "... 4 tensors kept + the arange");
	T_EQ_STR(keys_of(tree, ""), "optimizer global_step lr_scheduler model __metadata__",
		"... the trainer state carried in order, then the model and __metadata__ (as the reference's outputs)");
	T_OK(!tree_to_json(tree, tree_at(tree, "__metadata__"), &v, &e) && json_array_size(v) == 2 &&
		!strcmp(json_string_value(json_object_get(json_array_get(v, 1), "version")), "1.2.0") &&
		json_integer_value(json_object_get(json_object_get(json_object_get(json_array_get(v, 1), "params"), "model"), "n")) == 4,
		"... a metadata record appended: version 1.2.0 and the new params");
	json_decref(v), v = NULL;
	T_OK(!tree_to_json(tree, tree_at(tree, "lr_scheduler.last_epoch"), &v, &e) && json_integer_value(v) == 7,
		"... the scheduler kept (the source is not older than reset_scheduler_before)");
	json_decref(v), v = NULL;
	FILE *y = fopen(t_at(dir, "out.yaml"), "r");
	char buf[256] = "";
	size_t n = y ? fread(buf, 1, sizeof buf - 1, y) : 0;
	buf[n] = '\0';
	if (y)
		fclose(y);
	T_EQ_STR(buf, "model:\n  family_step: up\n  n: 4\n", "... out.yaml: the params after the step (keys sorted, as yaml.dump)");
	json_decref(tree), tree = NULL;
	ck_tsrc_free(src), src = NULL;

	/* refusals: one line, nothing written */
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.2-var", "cs-1.2", t_at(dir, "back"));
	T_EQ_INT(cscs_run(&o, &e), CK_EINVALID, "a step refused one way (`refuse_down`)");
	T_HAS(e.msg, t_fmt("toy cs-1.2-var -> cs-1.2: the variant does not convert back (%s/rules/cscs/toy.yaml)", dir),
		"... saying why, naming the family file");
	T_OK(access(t_at(dir, "back.mdl"), F_OK) != 0, "... nothing written");
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.1", "cs-1.2", NULL);
	T_EQ_INT(cscs_run(&o, &e), CK_EINVALID, "no -o: refused");
	T_HAS(e.msg, "CS -> CS: give the output with -o OUT.mdl", "... saying so");
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.1", "cs-1.2", t_at(dir, "in"));
	T_EQ_INT(cscs_run(&o, &e), CK_EINVALID, "an output that is the input: refused");
	T_HAS(e.msg, "in.mdl: the output would overwrite an input", "... saying so");
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.1", "cs-1.2", t_at(dir, "out"));
	T_EQ_INT(cscs_run(&o, &e), CK_EEXIST, "an existing output without --force: refused");
	static const char *const stray[] = {"model.enc.0.w", "model.stray.w"};
	T_EQ_INT(write_ckpt(t_at(dir, "in.mdl"), stray, 2), 0, "a checkpoint with a key the step does not know");
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.1", "cs-1.2", t_at(dir, "strict"));
	T_EQ_INT(cscs_run(&o, &e), CK_EINVALID, "`unmatched: refuse`: refused");
	T_HAS(e.msg, t_fmt("%s/in.mdl: cs-1.1 -> cs-1.2: model key 'model.stray.w' matches no key rule of the step (%s/rules/cscs/"
		"toy.yaml), which knows every key of the layout: not a toy cs-1.1 checkpoint?", dir, dir), "... naming the key");
	T_OK(access(t_at(dir, "strict.mdl"), F_OK) && access(t_at(dir, "strict.yaml"), F_OK), "... nothing written");
	ck_err_clear(&e);
	o = run_opts("plain", "cs-1.1", "cs-1.2", t_at(dir, "generic"));
	T_EQ_INT(cscs_run(&o, &e), 0, "the generic step carries every key as it is");
	T_EQ_INT(h5ck_open(t_at(dir, "generic.mdl"), &src, &e), 0, "... its output opens");
	T_EQ_INT(src ? tree_read(src, &tree, &e) : -1, 0, "... reads");
	T_EQ_STR(keys_of(tree, "model"), "model.enc.0.w model.stray.w", "... with the source's keys");
	json_decref(tree), tree = NULL;
	ck_tsrc_free(src), src = NULL;
	ck_err_clear(&e);
	o = run_opts("toy", "cs-1.1", "cs-1.2", t_at(dir, "x"));
	o.src = t_at(dir, "params.yaml");
	T_OK(cscs_run(&o, &e) != 0 && strstr(e.msg, "params.yaml"), "a source that is no packed checkpoint: refused naming it");
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_cscs.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	write_rules();
	test_wanted();
	test_list();
	test_config();
	test_run();
	cli_remove_tree(dir);
	return t_done();
}
