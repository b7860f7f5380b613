/* cli_verify.c - `ckconv verify`: recheck every tensor's stored checksum, or prove a packed
 * file lossless against the HF checkpoint it came from by converting it back in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "carry.h"
#include "cli.h"
#include "conv.h"
#include "h5ck.h"

static const char usage[] =
	"usage: ckconv verify [--against HF_DIR [--config PARAMS.yaml] [--model M]] FILE.mdl\n"
	"\n"
	"Without --against: reads every tensor of FILE.mdl and checks it against the xxHash64 that\n"
	"ckconv recorded when writing it, and each carried file in FILE.hf-files/ likewise; each damaged\n"
	"tensor or file is named. With --against: converts\n"
	"FILE.mdl back to HF in memory and compares every tensor with HF_DIR (lossless or not).\n"
	"Exit status 0 when everything matches.\n";

static int verify_checksums(const char *path, ck_err *e)
{
	ck_tsrc *s = NULL;
	size_t ok = 0, bad = 0, none = 0;
	char first[256] = "";
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
		if (r && !bad)
			snprintf(first, sizeof first, "%s", s->t[i].name);
		if (r == CK_ECORRUPT) {
			printf("%s: damaged: %s\n", s->t[i].name, te.msg);
			bad++;
		} else if (r) {
			printf("%s: unreadable: %s\n", s->t[i].name, te.msg);
			bad++;
		} else {
			ok++;
		}
	}
	none = h5ck_checksummed(s) < s->n ? s->n - h5ck_checksummed(s) : 0;
	/* the carried files the packed file recorded (tokenizer, processor) are checked the same way */
	json_t *rec = carry_record(h5ck_provenance(s));
	char *dir = rec ? carry_dir(path) : NULL;
	size_t nf = 0, badf = 0;
	rc = rec && dir ? carry_verify(dir, rec, &nf, &badf, e) : rec ? ck_errf(e, CK_ENOMEM, "out of memory") : 0;
	json_decref(rec);
	ck_tsrc_free(s);
	if (rc) {
		free(dir);
		return rc;
	}
	if (badf)
		rc = ck_errf(e, CK_ECORRUPT, "%s: %zu of %zu carried files in %s damaged or missing%s", path, badf, nf, dir,
			bad ? " (and tensors too, listed above)" : "");
	free(dir);
	if (rc)
		return rc;
	if (bad)
		return ck_errf(e, CK_ECORRUPT, "%s: %zu of %zu tensors damaged (first: '%s')", path, bad,
			ok + bad, first);
	if (nf)
		printf("%s: %zu carried files, every recorded checksum matches\n", path, nf);
	if (none == ok)
		printf("%s: %zu tensors read back fine; none carries a checksum (not written by ckconv), so none was "
		       "verified\n", path, ok);
	else
		printf("%s: %zu tensors read, every stored checksum matches%s\n", path, ok,
			none ? " (some carry none: not written by ckconv)" : "");
	return 0;
}

int cli_verify(int argc, char **argv, ck_err *e)
{
	const char *against = NULL, *config = NULL, *model = NULL, *rules = NULL, *file = NULL, *v;
	static const struct option opts[] = {{"against", required_argument, NULL, 'a'}, {"config", required_argument, NULL, 'c'},
		{"model", required_argument, NULL, 'm'}, {"rules", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	for (optind = 0; (c = cli_getopt(argc, argv, "verify", "h", opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'h': fputs(usage, stdout); return 0;
		case 'a': against = v; break;
		case 'c': config = v; break;
		case 'm': model = v; break;
		case 'r': rules = v; break;
		default:
			if (file)
				return ck_errf(e, CK_EINVALID, "verify: unexpected argument '%s' (see ckconv verify --help)", v);
			file = v;
		}
	}
	if (!file)
		return ck_errf(e, CK_EINVALID, "verify: no file given (see ckconv verify --help)");
	if (!against)
		return verify_checksums(file, e);
	/* convert back in memory (conv.c), comparing instead of writing */
	conv_opts o = {.src = file, .config = config, .model = model, .rules = rules, .quiet = 1,
		.shard_size = 5000000000ULL};
	conv *run = NULL;
	int rc = conv_open(&o, &run, e);
	if (!rc)
		rc = conv_plan(run, e);
	if (!rc)
		rc = conv_compare(run, against, e);
	conv_free(run);
	return rc;
}
