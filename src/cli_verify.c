/* cli_verify.c - `ckconv verify`: recheck every tensor's stored checksum, or prove a packed
 * file lossless against the HF checkpoint it came from by converting it back in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "carry.h"
#include "cli.h"
#include "conv.h"
#include "h5ck.h"

const char cli_verify_usage[] =
	"usage: ckconv verify [--json] [--against HF_DIR [--config PARAMS.yaml] [--model M]] FILE.mdl\n"
	"\n"
	"Without --against: reads every tensor of FILE.mdl and checks it against the xxHash64 that\n"
	"ckconv recorded when writing it, and each carried file in FILE.hf-files/ likewise; each damaged\n"
	"tensor or file is named. With --against: converts\n"
	"FILE.mdl back to HF in memory and compares every tensor with HF_DIR (lossless or not).\n"
	"--json: one JSON object on stdout (path, result: ok|damaged, tensors, checksummed, damaged\n"
	"[{name, error}], carried_files, carried_damaged; with --against: path, against, result:\n"
	"lossless|differ, the differences listed on stderr).\n"
	"Exit status 0 when everything matches, 1 when something is damaged or differs, 2 when a file\n"
	"cannot be found or read.\n";

typedef struct tally {
	size_t ok, bad, none, files, bad_files;
	char first[256];
	json_t *damaged; /* --json: [{name, error}], else NULL */
} tally;

static void damaged(tally *t, const char *name, int corrupt, const char *why)
{
	if (!t->bad)
		snprintf(t->first, sizeof t->first, "%s", name);
	t->bad++;
	if (t->damaged)
		json_array_append_new(t->damaged, json_pack("{s:o, s:s, s:o}", "name", cli_json_str(name), "kind",
			corrupt ? "damaged" : "unreadable", "error", cli_json_str(why)));
	else
		printf("%s: %s: %s\n", name, corrupt ? "damaged" : "unreadable", why);
}

/* Every tensor read (the reader checks its stored checksum), then the carried files. */
static int check_all(const char *path, tally *t, ck_err *e)
{
	ck_tsrc *s = NULL;
	int rc = cli_open_source(path, &s, e);
	if (rc)
		return rc;
	if (!h5ck_is_hdf5(path)) {
		ck_tsrc_free(s);
		return ck_errf(e, CK_EINVALID, "%s: not a packed (HDF5) checkpoint", path);
	}
	for (size_t i = 0; i < s->n; i++) {
		ck_err te = {0};
		void *buf = ck_malloc(e, s->t[i].nbytes);
		if (!buf) {
			ck_tsrc_free(s);
			return CK_ENOMEM;
		}
		int r = ck_tsrc_read(s, i, buf, &te);
		free(buf);
		if (r)
			damaged(t, s->t[i].name, r == CK_ECORRUPT, te.msg);
		else
			t->ok++;
	}
	t->none = h5ck_checksummed(s) < s->n ? s->n - h5ck_checksummed(s) : 0;
	/* the carried files the packed file recorded (tokenizer, processor) are checked the same way */
	json_t *rec = carry_record(h5ck_provenance(s));
	char *dir = rec ? carry_dir(path) : NULL;
	rc = rec && dir ? carry_verify(dir, rec, &t->files, &t->bad_files, e) : rec ? ck_errf(e, CK_ENOMEM, "out of memory") : 0;
	if (!rc && t->bad_files && dir)
		rc = ck_errf(e, CK_ECORRUPT, "%s: %zu of %zu carried files in %s damaged or missing%s", path, t->bad_files,
			t->files, dir, t->bad ? " (and tensors too, listed above)" : "");
	json_decref(rec);
	free(dir);
	ck_tsrc_free(s);
	return rc;
}

static int verify_checksums(const char *path, int json, ck_err *e)
{
	tally t;
	memset(&t, 0, sizeof t);
	if (json && !(t.damaged = json_array()))
		return ck_errf(e, CK_ENOMEM, "out of memory");
	int rc = check_all(path, &t, e);
	if (rc && rc != CK_ECORRUPT) {
		json_decref(t.damaged);
		return rc;
	}
	if (!rc && t.bad)
		rc = ck_errf(e, CK_ECORRUPT, "%s: %zu of %zu tensors damaged (first: '%s')", path, t.bad, t.ok + t.bad, t.first);
	if (json) /* stdout gets the report, stderr the error line as always */
		return cli_json_print(json_pack("{s:o, s:s, s:I, s:I, s:o, s:I, s:I}", "path", cli_json_str(path), "result",
			rc ? "damaged" : "ok", "tensors", (json_int_t)(t.ok + t.bad), "checksummed", (json_int_t)(t.ok + t.bad - t.none),
			"damaged", t.damaged, "carried_files", (json_int_t)t.files, "carried_damaged", (json_int_t)t.bad_files), e) ? CK_ENOMEM : rc;
	if (rc)
		return rc;
	if (t.files)
		printf("%s: %zu carried files, every recorded checksum matches\n", path, t.files);
	if (t.none == t.ok)
		printf("%s: %zu tensors read back fine; none carries a checksum (not written by ckconv), so none was "
		       "verified\n", path, t.ok);
	else
		printf("%s: %zu tensors read, every stored checksum matches%s\n", path, t.ok,
			t.none ? " (some carry none: not written by ckconv)" : "");
	return 0;
}

/* --against: convert back in memory (conv.c), comparing instead of writing. */
static int verify_against(const char *file, const char *against, const char *config, const char *model, const char *rules,
	int json, ck_err *e)
{
	conv_opts o = {.src = file, .config = config, .model = model, .rules = rules, .quiet = 1, .shard_size = 5000000000ULL};
	conv *run = NULL;
	int rc = cli_need_path(file, e);
	if (!rc)
		rc = cli_need_path(against, e);
	if (!rc)
		rc = conv_open(&o, &run, e);
	if (!rc)
		rc = conv_plan(run, e);
	int compared = !rc;
	if (!rc)
		rc = conv_compare(run, against, json ? stderr : stdout, e);
	conv_free(run);
	if (json && compared && (!rc || rc == CK_ECORRUPT) &&
		cli_json_print(json_pack("{s:o, s:o, s:s}", "path", cli_json_str(file), "against", cli_json_str(against), "result",
			rc ? "differ" : "lossless"), e))
		return CK_ENOMEM;
	return rc;
}

const struct option cli_verify_opts[] = {{"against", required_argument, NULL, 'a'}, {"config", required_argument, NULL, 'c'},
	{"model", required_argument, NULL, 'm'}, {"rules", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

int cli_verify(int argc, char **argv, ck_err *e)
{
	const char *against = NULL, *config = NULL, *model = NULL, *rules = NULL, *file = NULL, *v;
	int c, json = 0;
	for (optind = 0; (c = cli_getopt(argc, argv, "verify", "h", cli_verify_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EUSAGE;
		case 'h': fputs(cli_verify_usage, stdout); return 0;
		case 'a': against = v; break;
		case 'c': config = v; break;
		case 'm': model = v; break;
		case 'r': rules = v; break;
		case 'j': json = 1; break;
		default:
			if (file)
				return ck_errf(e, CK_EUSAGE, "verify: unexpected argument '%s' (see ckconv verify --help)", v);
			file = v;
		}
	}
	if (!file)
		return ck_errf(e, CK_EUSAGE, "verify: no file given (see ckconv verify --help)");
	if (!against) {
		int rc = cli_need_path(file, e);
		return rc ? rc : verify_checksums(file, json, e);
	}
	return verify_against(file, against, config, model, rules, json, e);
}
