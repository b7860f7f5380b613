/* cli_verify.c - `ckconv verify`: recheck every tensor's stored checksum, or prove a packed
 * file lossless against the HF checkpoint it came from by converting it back in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "conv.h"
#include "h5ck.h"

static const char usage[] =
	"usage: ckconv verify [--against HF_DIR [--config PARAMS.yaml] [--model M]] FILE.mdl\n"
	"\n"
	"Without --against: reads every tensor of FILE.mdl and checks it against the xxHash64 that\n"
	"ckconv recorded when writing it; each damaged tensor is named. With --against: converts\n"
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
	ck_tsrc_free(s);
	if (bad)
		return ck_errf(e, CK_ECORRUPT, "%s: %zu of %zu tensors damaged (first: '%s')", path, bad,
			ok + bad, first);
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
	for (int i = 1; i < argc; i++) {
		int r;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
#define OPT(name, var) if ((r = cli_opt(argc, argv, &i, name, &v, e)) < 0) return CK_EINVALID; if (r) { var = v; continue; }
		OPT("--against", against) OPT("--config", config) OPT("--model", model) OPT("--rules", rules)
#undef OPT
		if (argv[i][0] == '-' || file)
			return ck_errf(e, CK_EINVALID, "verify: unexpected argument '%s' (see ckconv verify --help)", argv[i]);
		file = argv[i];
	}
	if (!file)
		return ck_errf(e, CK_EINVALID, "verify: no file given (see ckconv verify --help)");
	if (!against)
		return verify_checksums(file, e);
	/* convert back in memory (conv.c), comparing instead of writing */
	conv_opts o = {.src = file, .config = config, .model = model, .rules = rules, .quiet = 1,
		.shard_size = 5000000000ULL};
	conv *c = NULL;
	int rc = conv_open(&o, &c, e);
	if (!rc)
		rc = conv_plan(c, e);
	if (!rc)
		rc = conv_compare(c, against, e);
	conv_free(c);
	return rc;
}
