/* test_outpath.c - where `convert` writes (outpath.c): the reference's generic names, -o taken
 * literally or as a directory, --output-dir, the defaults next to the source, and the paths refused
 * in one line before any work; on a scratch directory. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "outpath.h"
#include "path.h"
#include "t.h"

static char dir[64];

/* A path held across many t_fmt / t_at calls (their results are overwritten after sixteen). */
typedef struct held {
	char p[600];
} held;

static held hold(const char *s)
{
	held h;
	snprintf(h.p, sizeof h.p, "%s", s);
	return h;
}

static void generic_is(const char *name, const char *want)
{
	char *g = outpath_generic(name);
	T_EQ_STR(g, want, name);
	free(g);
}

static void test_generic(void)
{
	generic_is("pytorch_model.bin.index.json", "pytorch_model");
	generic_is("model.safetensors", "model");
	generic_is("checkpoint_1.7.mdl", "checkpoint_1.7"); /* "7" is not alphabetic: the dropping stops */
	generic_is("params.yaml", "params");
	generic_is("model", "model");        /* no extension: kept whole (the reference gives "") */
	generic_is(".hidden", ".hidden");    /* a leading dot is no extension */
	generic_is("a.v2", "a.v2");          /* nor ".letters" followed by digits */
	generic_is("x.", "x.");
	generic_is("", "");
}

/* A convert's request: defaults of an HF -> CS run to cs-2.9, the rest as given. */
static outpath_in req(const char *src, const char *config, int to_hf, const char *out, const char *out_dir)
{
	outpath_in in = {.src = src, .config = config, .tgt = to_hf ? "hf" : "cs-2.9", .to_hf = to_hf,
		.out = out, .out_dir = out_dir};
	return in;
}

/* outpath_choose succeeds with these paths (NULL: that field unset). */
static void chosen(outpath_in in, const char *ckpt, const char *params, const char *mk, const char *what)
{
	outpath o;
	ck_err e = {0};
	int rc = outpath_choose(&in, &o, &e);
	T_OK(rc == 0, "%s: accepted%s%s", what, rc ? ": " : "", rc ? e.msg : "");
	T_EQ_STR(o.ckpt ? o.ckpt : "(null)", ckpt ? ckpt : "(null)", "... the checkpoint");
	T_EQ_STR(o.params ? o.params : "(null)", params ? params : "(null)", "... the params");
	T_EQ_STR(o.mkdir ? o.mkdir : "(null)", mk ? mk : "(null)", "... the directory made");
	outpath_dispose(&o);
	T_OK(!o.ckpt && !o.params && !o.mkdir, "... dispose clears it");
}

/* outpath_choose refuses with code and a one-line message containing want; nothing is left set. */
static void refused(outpath_in in, int code, const char *want, const char *what)
{
	outpath o;
	ck_err e = {0};
	int rc = outpath_choose(&in, &o, &e);
	T_EQ_INT(rc, code, what);
	T_HAS(e.msg, want, "... saying so");
	T_OK(!strchr(e.msg, '\n'), "... in one line");
	outpath_dispose(&o);
}

static void test_refused(void)
{
	held m = hold(t_fmt("%s/nowhere/out", dir));
	const char *missing = m.p;
	refused(req("m.mdl", NULL, 1, "-", NULL), CK_EUSAGE, "-o -: ckconv writes files, not a stream", "-o -");
	refused(req("m.mdl", NULL, 1, "", NULL), CK_EUSAGE, "-o: empty path", "-o ''");
	refused(req("m.mdl", NULL, 1, "out", "d"), CK_EUSAGE, "-o out and --output-dir d: give one", "-o with --output-dir");
	refused(req("m.mdl", NULL, 1, missing, NULL), CK_EUSAGE,
		t_fmt("%s/nowhere: no such directory (for -o %s); create it first, or pass --output-dir %s/nowhere, which is "
		"created", dir, missing, dir), "-o under a missing directory");
	refused(req("hf", "hf/config.json", 0, missing, NULL), CK_EUSAGE, "nowhere: no such directory", "... to CS too");
	refused(req("m.mdl", NULL, 1, t_fmt("%s/file/out", dir), NULL), CK_EUSAGE,
		t_fmt("%s/file: not a directory (for -o %s/file/out)", dir, dir), "-o under a file");
	refused(req("hf", "hf/config.json", 0, NULL, t_fmt("%s/file", dir)), CK_EUSAGE,
		t_fmt("%s/file: exists and is not a directory (the output directory)", dir), "--output-dir naming a file");
}

/* Without -o or --output-dir: the reference's names, in its places. */
static void test_defaults(void)
{
	mkdir(t_at(dir, "hf"), 0777);
	mkdir(t_at(dir, "bin"), 0777);
	mkdir(t_at(dir, "empty"), 0777);
	t_put(dir, "hf/model.safetensors", "");
	t_put(dir, "hf/pytorch_model.bin", ""); /* safetensors first, as the reference */
	t_put(dir, "bin/pytorch_model.bin.index.json", "{}");

	chosen(req(t_at(dir, "hf"), t_at(dir, "hf/config.json"), 0, NULL, NULL), t_fmt("%s/hf/model_to_cs-2.9.mdl", dir),
		t_fmt("%s/hf/config_to_cs-2.9.yaml", dir), NULL, "HF dir -> CS: inside it, named by its weights file and its config");
	chosen(req(t_fmt("%s/bin/", dir), t_fmt("%s/params.json", dir), 0, NULL, NULL),
		t_fmt("%s/bin/pytorch_model_to_cs-2.9.mdl", dir), t_fmt("%s/params_to_cs-2.9.yaml", dir), NULL,
		"a .bin index set: pytorch_model; the params next to the config given (--config), after its name");
	chosen(req(t_at(dir, "empty"), NULL, 0, NULL, NULL), t_fmt("%s/empty/model_to_cs-2.9.mdl", dir),
		t_fmt("%s/empty/config_to_cs-2.9.yaml", dir), NULL, "no weights file known, no config: model and config");
	chosen((outpath_in){.src = t_at(dir, "hf"), .config = t_at(dir, "hf/config.json"), .tgt = "cs-2.9", .multi = 1},
		t_fmt("%s/pytorch_model_to_cs-2.9.mdl", dir), t_fmt("%s/hf/config_to_cs-2.9.yaml", dir), NULL,
		"component directories: pytorch_model next to the outer directory, as the reference");
	chosen(req("ckpt/pytorch_model.bin", "ckpt/config.json", 0, NULL, NULL), "ckpt/pytorch_model_to_cs-2.9.mdl",
		"ckpt/config_to_cs-2.9.yaml", NULL, "a weights file: next to it");
	chosen(req("pytorch_model.bin", "config.json", 0, NULL, NULL), "pytorch_model_to_cs-2.9.mdl",
		"config_to_cs-2.9.yaml", NULL, "bare names stay bare (os.path.join(\"\", ...))");
	chosen(req("run/checkpoint_1000.mdl", NULL, 1, NULL, NULL), "run/checkpoint_1000_to_hf", NULL, NULL,
		"CS -> HF: <ckpt dir>/<generic>_to_hf");
	chosen(req("run/ckpt.mdl/", NULL, 1, NULL, NULL), "run/ckpt_to_hf", NULL, NULL, "... trailing slashes ignored");
	chosen(req("checkpoint.mdl", NULL, 1, NULL, NULL), "checkpoint_to_hf", NULL, NULL, "... a bare name");
	chosen((outpath_in){.src = "run/checkpoint.mdl", .tgt = "cs-2.2"}, "run/checkpoint_to_cs-2.2.mdl",
		"run/config_to_cs-2.2.yaml", NULL, "CS -> CS: the target release in the names");
}

/* -o: literal, or a directory that receives the default names. */
static void test_out(void)
{
	mkdir(t_at(dir, "into"), 0777);
	mkdir(t_at(dir, "model"), 0777);
	mkdir(t_at(dir, "comp"), 0777);
	mkdir(t_at(dir, "comp/text_model"), 0777);
	t_put(dir, "model/config.json", "{}");
	t_put(dir, "comp/text_model/config.json", "{}");

	held n = hold(t_fmt("%s/new", dir)), i = hold(t_fmt("%s/into", dir)), m = hold(t_fmt("%s/model", dir));
	const char *new = n.p, *into = i.p, *model = m.p;
	chosen(req("hf", "hf/config.json", 0, new, NULL), new, NULL, NULL, "-o OUT to CS: OUT itself (OUT.yaml beside)");
	chosen(req("m.mdl", NULL, 1, new, NULL), new, NULL, NULL, "-o OUT to HF: the directory OUT");
	chosen(req("m.mdl", NULL, 1, t_fmt("%s//", new), NULL), new, NULL, NULL,
		"-o NEW/ to HF, NEW missing: the directory NEW (it does not hold a model)");
	chosen(req(t_at(dir, "hf"), NULL, 0, t_fmt("%s//", new), NULL), t_fmt("%s/model_to_cs-2.9.mdl", new),
		t_fmt("%s/config_to_cs-2.9.yaml", new), new, "-o NEW/ to CS: made, receives the default names");
	chosen(req(t_at(dir, "hf"), "hf/config.json", 0, into, NULL), t_fmt("%s/model_to_cs-2.9.mdl", into),
		t_fmt("%s/config_to_cs-2.9.yaml", into), NULL, "-o DIR to CS, DIR existing: into it");
	chosen(req("ckpt/weights.safetensors", "ckpt/config.json", 0, into, NULL), t_fmt("%s/weights_to_cs-2.9.mdl", into),
		t_fmt("%s/config_to_cs-2.9.yaml", into), NULL, "... a weights file named by its own name");
	chosen(req("run/m.mdl", NULL, 1, t_fmt("%s/", into), NULL), t_fmt("%s/m_to_hf", into), NULL, NULL,
		"-o DIR/ to HF, DIR holding no model: into it");
	chosen(req("run/m.mdl", NULL, 1, into, NULL), into, NULL, NULL, "-o DIR to HF (no slash): DIR itself");
	chosen(req("run/m.mdl", NULL, 1, t_fmt("%s/", model), NULL), model, NULL, NULL,
		"-o DIR/ to HF, DIR holding a model: DIR itself (for --force to replace)");
	chosen(req("run/m.mdl", NULL, 1, t_fmt("%s/comp/", dir), NULL), t_fmt("%s/comp", dir), NULL, NULL,
		"... a model in a component directory counts");
	chosen(req("run/m.mdl", NULL, 1, t_fmt("%s/.", model), NULL), t_fmt("%s/./m_to_hf", model), NULL, NULL,
		"-o DIR/. to HF: into it, whatever it holds");
	chosen(req("run/m.mdl", NULL, 1, ".", NULL), "./m_to_hf", NULL, NULL, "-o . to HF");
	chosen(req("hf/pytorch_model.bin", "hf/config.json", 0, ".", NULL), "./pytorch_model_to_cs-2.9.mdl",
		"./config_to_cs-2.9.yaml", NULL, "-o . to CS");
}

/* --output-dir: the default names in it, made when missing. */
static void test_out_dir(void)
{
	held d = hold(t_fmt("%s/made/deeper", dir));
	const char *deeper = d.p;
	chosen(req("ckpt/pytorch_model.bin.index.json", "ckpt/config.json", 0, NULL, t_fmt("%s//", deeper)),
		t_fmt("%s/pytorch_model_to_cs-2.9.mdl", deeper), t_fmt("%s/config_to_cs-2.9.yaml", deeper), deeper,
		"missing: made (without its trailing slashes), the reference's names in it");
	chosen(req("x/checkpoint.mdl", NULL, 1, NULL, deeper), t_fmt("%s/checkpoint_to_hf", deeper), NULL, deeper, "... to HF");
	chosen(req("x/checkpoint.mdl", NULL, 1, NULL, dir), t_fmt("%s/checkpoint_to_hf", dir), NULL, NULL,
		"existing: nothing to make");
}

static void test_make_dir(void)
{
	ck_err e = {0};
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	T_EQ_INT(outpath_make_dir(t_at(dir, "mk/a/b/c"), &e), 0, "make_dir: the directory and its parents");
	T_OK(path_is_dir(t_at(dir, "mk/a/b/c")), "... they exist");
	T_EQ_INT(outpath_make_dir(t_at(dir, "mk/a/b/c"), &e), 0, "... again: nothing to do");
	t_put(dir, "mk/f", "");
	T_EQ_INT(outpath_make_dir(t_at(dir, "mk/f/g"), &e), CK_EINVALID, "a file in the way");
	T_HAS(e.msg, t_fmt("%s/mk/f: exists and is not a directory (needed for the output directory %s/mk/f/g)", dir, dir),
		"... named");
	ck_err_clear(&e);
	T_EQ_INT(outpath_make_dir(t_fmt("%s/mk/%s/x", dir, longname), &e), CK_EIO, "a name the file system refuses");
	T_HAS(e.msg, t_fmt("%s: cannot create the output directory: File name too long", longname), "... its reason");
	T_OK(!strchr(e.msg, '\n'), "... in one line");
}

static void test_parent(void)
{
	ck_err e = {0};
	T_EQ_INT(outpath_parent_exists("bare.mdl", "bare.mdl", &e), 0, "parent_exists: a bare name is in .");
	T_EQ_INT(outpath_parent_exists(t_at(dir, "x.mdl"), "x", &e), 0, "... an existing directory");
	T_EQ_INT(outpath_parent_exists("/nonexistent-ckconv/x.mdl", "given", &e), CK_EUSAGE, "... a missing one");
	T_HAS(e.msg, "/nonexistent-ckconv: no such directory (for -o given)", "... naming it and the -o given");
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_outpath.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	t_put(dir, "file", "");
	test_generic();
	test_refused();
	test_defaults();
	test_out();
	test_out_dir();
	test_make_dir();
	test_parent();
	cli_remove_tree(dir);
	return t_done();
}
