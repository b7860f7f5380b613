/* cli_inspect.c - `ckconv inspect` and `ckconv diff`: look at checkpoints tensor by tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cast.h"
#include "cli.h"
#include "h5ck.h"
#include "config.h"
#include "rule.h"
#include "strmap.h"
#include "valio.h"

/* For a packed file with params next to it (or --config): the model and whether its rules
 * call the checkpoint muP. */
static void print_model(const char *path, const char *config, const char *rules)
{
	char *yaml = NULL, *dir = cli_rules_dir(rules), *rpath = NULL;
	json_t *params = NULL, *wrap = NULL;
	rule_file *f = NULL;
	ck_err e = {0};
	size_t n = strlen(path);
	if (config)
		yaml = strdup(config);
	else if (asprintf(&yaml, "%.*s.yaml", (int)(n > 4 && !strcmp(path + n - 4, ".mdl") ? n - 4 : n), path) < 0)
		yaml = NULL;
	if (!yaml || !cli_exists(yaml) || valio_yaml_load(yaml, &params, &e) || !json_is_object(json_object_get(params, "model")))
		goto done;
	wrap = json_pack("{sO}", "model", json_object_get(params, "model"));
	if (rule_detect_model(dir, NULL, wrap, yaml, &rpath, &e) || rule_file_load(rpath, &f, &e)) {
		printf("params: %s (model not recognised: %s)\n", yaml, e.msg);
		goto done;
	}
	printf("params: %s (model %s)\n", yaml, f->model);
	if (f->mup) {
		json_t *v = NULL, *vars = json_pack("{si si}", "cs_major", 2, "cs_minor", 9);
		config_env env = {.cs = wrap, .scope = f->mup->scope, .vars = vars};
		if (config_eval(&env, f->mup->detect, &v, &e) == 0)
			printf("muP: %s\n", expr_truthy(v) ? (f->mup->n_tensors ? "yes (convert folds the multipliers into the "
				"weights; --no-mup-to-sp keeps them)" : "yes (this model's rules cannot fold it: convert with "
				"--no-mup-to-sp)") : "no");
		json_decref(v);
		json_decref(vars);
	}
done:
	rule_file_free(f);
	json_decref(params);
	json_decref(wrap);
	free(yaml);
	free(dir);
	free(rpath);
}

int cli_inspect(int argc, char **argv, ck_err *e)
{
	ck_tsrc *s = NULL;
	uint64_t total = 0;
	char sh[128];
	const char *path = NULL, *config = NULL, *rules = NULL, *v;
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
		{"rules", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	for (optind = 0; (c = cli_getopt(argc, argv, "inspect", "h", opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EINVALID;
		case 'h':
			puts("usage: ckconv inspect [--config PARAMS.yaml] [--rules DIR] PATH\n\nPATH: a .safetensors file, a "
			     "*.index.json, an HF directory, or a packed .mdl.\nPrints name, dtype, shape and bytes of every "
			     "tensor; for a packed file also who wrote it and,\nwhen its params are next to it (or --config), "
			     "the model and whether it is muP.");
			return 0;
		case 'c': config = v; break;
		case 'r': rules = v; break;
		default:
			if (path)
				return ck_errf(e, CK_EINVALID, "usage: ckconv inspect [--config PARAMS.yaml] PATH");
			path = v;
		}
	}
	if (!path)
		return ck_errf(e, CK_EINVALID, "usage: ckconv inspect [--config PARAMS.yaml] PATH");
	argv[1] = (char *)path;
	int rc = cli_open_checkpoint(argv[1], &s, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		printf("%-70s %-5s %-20s %llu\n", s->t[i].name, ck_dtype_short_name(s->t[i].dtype),
			ck_shape_str(&s->t[i].shape, sh, sizeof sh), (unsigned long long)s->t[i].nbytes);
		total += s->t[i].nbytes;
	}
	printf("%zu tensors, %llu bytes\n", s->n, (unsigned long long)total);
	if (h5ck_is_hdf5(argv[1]) && h5ck_provenance(s))
		printf("written by: %s\n", h5ck_provenance(s));
	if (h5ck_is_hdf5(argv[1]))
		print_model(argv[1], config, rules);
	ck_tsrc_free(s);
	return 0;
}

/* Index of the first differing element, or -1 when equal. */
static long long first_diff(const unsigned char *a, const unsigned char *b, uint64_t n, size_t es)
{
	for (uint64_t i = 0; i < n; i += es)
		if (memcmp(a + i, b + i, es))
			return (long long)(i / es);
	return -1;
}

/* --tensor_comparison_op allclose: |a - b| <= atol + rtol * |b| elementwise, as torch.allclose
 * with its defaults (rtol 1e-5, atol 1e-8; NaN never close). Floating dtypes only; the others
 * compare exactly. Returns the first element not close, or -1. */
static long long first_far(const ck_tinfo *t, const unsigned char *a, const unsigned char *b)
{
	uint64_t n = t->nbytes / (ck_dtype_size(t->dtype) ? ck_dtype_size(t->dtype) : 1);
	for (uint64_t i = 0; i < n; i++) {
		double x, y;
		switch (t->dtype) {
		case CK_DT_F64: memcpy(&x, a + 8 * i, 8), memcpy(&y, b + 8 * i, 8); break;
		case CK_DT_F32: {
			float f, g;
			memcpy(&f, a + 4 * i, 4), memcpy(&g, b + 4 * i, 4);
			x = f, y = g;
			break;
		}
		case CK_DT_F16:
		case CK_DT_BF16: {
			uint16_t f, g;
			memcpy(&f, a + 2 * i, 2), memcpy(&g, b + 2 * i, 2);
			x = t->dtype == CK_DT_F16 ? cast_f16_to_f32(f) : cast_bf16_to_f32(f);
			y = t->dtype == CK_DT_F16 ? cast_f16_to_f32(g) : cast_bf16_to_f32(g);
			break;
		}
		default: return first_diff(a, b, t->nbytes, ck_dtype_size(t->dtype));
		}
		if (!(fabs(x - y) <= 1e-8 + 1e-5 * fabs(y)) && !(x == y))
			return (long long)i;
	}
	return -1;
}

int cli_diff(int argc, char **argv, ck_err *e)
{
	static const struct option opts[] = {{"tensor_comparison_op", required_argument, NULL, 't'},
		{"tensor-comparison-op", required_argument, NULL, 't'}, {"profile", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	ck_tsrc *a = NULL, *b = NULL;
	strmap mb;
	int rc, differ = 0, close = 0, c;
	char s1[96], s2[96];
	const char *v, *path[2] = {NULL, NULL};
	for (optind = 0; (c = cli_getopt(argc, argv, "diff", "hp:", opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EUSAGE;
		case 'h':
			puts("usage: ckconv diff A B [--tensor_comparison_op equal|allclose]\n\nCompares two checkpoints (any "
			     "format ckconv reads): missing keys, dtype/shape differences and the\nfirst differing element "
			     "(allclose: the first not within torch.allclose's default tolerances).\nEnds with 'match' or "
			     "'differ'; exit status 0 on match, 1 when they differ, 2 when a file cannot be\nread. -p/--profile "
			     "(the reference's S3 profile) is accepted; ckconv reads local paths only.");
			return 0;
		case 't':
			if (strcmp(v, "equal") && strcmp(v, "allclose"))
				return ck_errf(e, CK_EUSAGE, "diff: --tensor_comparison_op takes equal or allclose, not '%s'", v);
			close = !strcmp(v, "allclose");
			break;
		case 'p': break;
		default:
			if (path[1])
				return ck_errf(e, CK_EUSAGE, "diff: unexpected argument '%s' (usage: ckconv diff A B)", v);
			path[path[0] ? 1 : 0] = v;
		}
	}
	if (!path[1])
		return ck_errf(e, CK_EUSAGE, "usage: ckconv diff A B [--tensor_comparison_op equal|allclose]");
	for (int i = 0; i < 2; i++)
		if (strstr(path[i], "://"))
			return ck_errf(e, CK_EUSAGE, "%s: ckconv reads local paths only (no S3)", path[i]);
	strmap_init(&mb);
	if ((rc = cli_need_path(path[0], e)) || (rc = cli_need_path(path[1], e)) ||
		(rc = cli_open_checkpoint(path[0], &a, e)) || (rc = cli_open_checkpoint(path[1], &b, e)))
		goto done;
	for (size_t i = 0; i < b->n; i++)
		strmap_put(&mb, b->t[i].name, i);
	for (size_t i = 0; i < a->n; i++) {
		size_t j;
		const ck_tinfo *x = &a->t[i];
		if (!strmap_get(&mb, x->name, &j)) {
			printf("only in %s: %s\n", path[0], x->name);
			differ = 1;
			continue;
		}
		const ck_tinfo *y = &b->t[j];
		if (x->dtype != y->dtype || !ck_shape_eq(&x->shape, &y->shape)) {
			printf("%s: %s %s vs %s %s\n", x->name, ck_dtype_short_name(x->dtype), ck_shape_str(&x->shape, s1, sizeof s1),
				ck_dtype_short_name(y->dtype), ck_shape_str(&y->shape, s2, sizeof s2));
			differ = 1;
			continue;
		}
		unsigned char *ba = ck_malloc(e, x->nbytes), *bb = ck_malloc(e, y->nbytes);
		if (!ba || !bb || (rc = ck_tsrc_read(a, i, ba, e)) || (rc = ck_tsrc_read(b, j, bb, e))) {
			free(ba);
			free(bb);
			rc = rc ? rc : CK_ENOMEM;
			goto done;
		}
		long long d = close ? first_far(x, ba, bb) : first_diff(ba, bb, x->nbytes, ck_dtype_size(x->dtype));
		if (d >= 0) {
			printf("%s: values %s, first at element %lld\n", x->name, close ? "not close" : "differ", d);
			differ = 1;
		}
		free(ba);
		free(bb);
	}
	strmap_dispose(&mb);
	strmap_init(&mb);
	for (size_t i = 0; i < a->n; i++)
		strmap_put(&mb, a->t[i].name, i);
	for (size_t j = 0; j < b->n; j++) {
		size_t i;
		if (!strmap_get(&mb, b->t[j].name, &i)) {
			printf("only in %s: %s\n", path[1], b->t[j].name);
			differ = 1;
		}
	}
	printf("%s\n", differ ? "differ" : "match");
	rc = differ ? 1 : 0;
done:
	strmap_dispose(&mb);
	ck_tsrc_free(a);
	ck_tsrc_free(b);
	return rc;
}
