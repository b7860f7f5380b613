/* cli_inspect.c - `ckconv inspect` and `ckconv diff`: look at checkpoints tensor by tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cast.h"
#include "cli.h"
#include "h5ck.h"
#include "conv.h"
#include "path.h"
#include "strmap.h"
#include "text.h"

/* What inspect says about a packed file's model, decided as convert decides it: conv_open on
 * the file and its params (the model detected, the configs read, `mup.detect` evaluated). */
typedef struct model_info {
	char *params;   /* the params file, or NULL when there is none */
	char *model;    /* the model, or NULL */
	char *why;      /* why the model is not known, or NULL */
	int mup;        /* conv_mup_state */
} model_info;

static void model_info_read(const char *path, const char *config, const char *rules, model_info *mi)
{
	conv *c = NULL;
	ck_err e = {0};
	size_t n = strlen(path);
	memset(mi, 0, sizeof *mi);
	if (config)
		mi->params = strdup(config);
	else if (asprintf(&mi->params, "%.*s.yaml", (int)(path_ends_with(path, ".mdl") ? n - 4 : n), path) < 0)
		mi->params = NULL;
	if (!mi->params || !cli_exists(mi->params)) {
		free(mi->params);
		mi->params = NULL;
		return;
	}
	/* --no-mup-to-sp: a muP file whose rules cannot fold is described, not refused */
	conv_opts o = {.src = path, .config = mi->params, .rules = rules, .dry_run = 1, .quiet = 1, .no_mup = 1};
	if (conv_open(&o, &c, &e) == 0) {
		mi->model = strdup(conv_model(c));
		mi->mup = conv_mup_state(c);
	} else {
		mi->why = strdup(e.msg);
	}
	conv_free(c);
}

static void model_info_dispose(model_info *mi)
{
	free(mi->params);
	free(mi->model);
	free(mi->why);
}

static void print_model(const model_info *mi)
{
	static const char *const mup[] = {"no", "yes (convert folds the multipliers into the weights; --no-mup-to-sp keeps them)",
		"yes (this model's rules cannot fold it: convert with --no-mup-to-sp)"};
	if (!mi->params)
		return;
	if (!mi->model) {
		printf("params: %s (model not recognised: %s)\n", mi->params, mi->why ? mi->why : "out of memory");
		return;
	}
	printf("params: %s (model %s)\nmuP: %s\n", mi->params, mi->model, mup[mi->mup]);
}

static json_t *model_json(const model_info *mi)
{
	static const char *const mup[] = {"no", "folded", "cannot-fold"};
	if (!mi->params)
		return json_null();
	return json_pack("{s:s, s:o, s:o, s:o}", "params", mi->params, "model",
		mi->model ? json_string(mi->model) : json_null(), "error", mi->why ? cli_json_str(mi->why) : json_null(),
		"mup", mi->model ? json_string(mup[mi->mup]) : json_null());
}

/* ckconv's provenance record (JSON written into the file) as JSON, or its text when it is not. */
static json_t *provenance_json(const char *prov)
{
	json_t *v = prov ? json_loads(prov, 0, NULL) : json_null();
	return v ? v : cli_json_str(prov);
}

static int inspect_json(const char *path, const ck_tsrc *s, const size_t *ix, const model_info *mi, ck_err *e)
{
	json_t *list = json_array();
	uint64_t total = 0;
	int packed = h5ck_is_hdf5(path);
	for (size_t i = 0; list && i < s->n; i++) {
		total += s->t[ix[i]].nbytes;
		if (json_array_append_new(list, cli_json_tensor(&s->t[ix[i]]))) {
			json_decref(list);
			list = NULL;
		}
	}
	return cli_json_print(list ? json_pack("{s:o, s:I, s:I, s:o, s:o, s:o}", "path", cli_json_str(path), "count",
		(json_int_t)s->n, "bytes", (json_int_t)total, "tensors", list, "written_by",
		packed ? provenance_json(h5ck_provenance(s)) : json_null(), "params", model_json(mi)) : NULL, e);
}

static void inspect_text(const char *path, const ck_tsrc *s, const size_t *ix, const model_info *mi)
{
	uint64_t total = 0;
	char sh[128], hb[32];
	for (size_t k = 0; k < s->n; k++) {
		const ck_tinfo *t = &s->t[ix[k]];
		printf("%-70s %-5s %-20s %10s\n", t->name, ck_dtype_short_name(t->dtype), ck_shape_str(&t->shape, sh, sizeof sh),
			text_human_bytes((double)t->nbytes, hb, sizeof hb));
		total += t->nbytes;
	}
	printf("%zu tensors, %llu bytes (%s)\n", s->n, (unsigned long long)total, text_human_bytes((double)total, hb, sizeof hb));
	if (h5ck_is_hdf5(path) && h5ck_provenance(s))
		printf("written by: %s\n", h5ck_provenance(s));
	print_model(mi);
}

const char cli_inspect_usage[] =
	"usage: ckconv inspect [--json] [--config PARAMS.yaml] [--rules DIR] PATH\n\nPATH: a .safetensors "
	"file, a *.index.json, an HF directory, or a packed .mdl.\nPrints name, dtype, shape and size of every "
	"tensor (in name order, layer numbers as\nnumbers); for a packed file also who wrote it and, when its "
	"params are next to it\n(or --config), the model and whether it is muP, decided as convert decides it.\n"
	"--json: one JSON object (path, count, bytes, tensors [{name, dtype, shape, bytes}],\nwritten_by, "
	"params {params, model, error, mup: no|folded|cannot-fold} or null).\n";

const struct option cli_inspect_opts[] = {{"config", required_argument, NULL, 'c'},
	{"rules", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

int cli_inspect(int argc, char **argv, ck_err *e)
{
	ck_tsrc *s = NULL;
	size_t *ix = NULL;
	model_info mi = {0};
	const char *path = NULL, *config = NULL, *rules = NULL, *v;
	int c, json = 0, rc;
	for (optind = 0; (c = cli_getopt(argc, argv, "inspect", "h", cli_inspect_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EUSAGE;
		case 'h':
			fputs(cli_inspect_usage, stdout);
			return 0;
		case 'c': config = v; break;
		case 'r': rules = v; break;
		case 'j': json = 1; break;
		default:
			if (path)
				return ck_errf(e, CK_EUSAGE, "inspect: unexpected argument '%s' (usage: ckconv inspect [--json] PATH)", v);
			path = v;
		}
	}
	if (!path)
		return ck_errf(e, CK_EUSAGE, "usage: ckconv inspect [--json] [--config PARAMS.yaml] PATH");
	if ((rc = cli_need_path(path, e)) || (rc = cli_open_checkpoint(path, &s, e)))
		return rc;
	if (!(ix = cli_sorted_tensors(s, e))) {
		ck_tsrc_free(s);
		return CK_ENOMEM;
	}
	if (h5ck_is_hdf5(path))
		model_info_read(path, config, rules, &mi);
	if (json)
		rc = inspect_json(path, s, ix, &mi, e);
	else
		inspect_text(path, s, ix, &mi);
	model_info_dispose(&mi);
	free(ix);
	ck_tsrc_free(s);
	return rc;
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

/* What diff found: printed as it is found, or gathered for --json. */
typedef struct diff_report {
	json_t *j; /* --json: {"only_in_a": [], "only_in_b": [], "dtype_shape": [], "values": []}, else NULL */
	int differ;
} diff_report;

static void diff_only(diff_report *r, int side, const char *path, const char *name)
{
	r->differ = 1;
	if (!r->j)
		printf("only in %s: %s\n", path, name);
	else
		json_array_append_new(json_object_get(r->j, side ? "only_in_b" : "only_in_a"), cli_json_str(name));
}

static void diff_meta(diff_report *r, const ck_tinfo *x, const ck_tinfo *y)
{
	char s1[96], s2[96];
	r->differ = 1;
	if (!r->j) {
		printf("%s: %s %s vs %s %s\n", x->name, ck_dtype_short_name(x->dtype), ck_shape_str(&x->shape, s1, sizeof s1),
			ck_dtype_short_name(y->dtype), ck_shape_str(&y->shape, s2, sizeof s2));
		return;
	}
	json_t *a = cli_json_tensor(x), *b = cli_json_tensor(y);
	json_object_del(a, "name");
	json_object_del(b, "name");
	json_array_append_new(json_object_get(r->j, "dtype_shape"), json_pack("{s:o, s:o, s:o}", "name",
		cli_json_str(x->name), "a", a, "b", b));
}

static void diff_values(diff_report *r, const char *name, int close, long long first)
{
	r->differ = 1;
	if (!r->j)
		printf("%s: values %s, first at element %lld\n", name, close ? "not close" : "differ", first);
	else
		json_array_append_new(json_object_get(r->j, "values"), json_pack("{s:o, s:I}", "name", cli_json_str(name),
			"first_element", (json_int_t)first));
}

/* Every tensor of a against its namesake in b (mb: b's names). */
static int diff_tensors(diff_report *r, const char *const path[2], ck_tsrc *a, ck_tsrc *b, const strmap *mb, int close,
	ck_err *e)
{
	int rc = 0;
	size_t *ix = cli_sorted_tensors(a, e);
	for (size_t k = 0; ix && !rc && k < a->n; k++) {
		size_t i = ix[k], j;
		const ck_tinfo *x = &a->t[i];
		if (!strmap_get(mb, x->name, &j)) {
			diff_only(r, 0, path[0], x->name);
			continue;
		}
		const ck_tinfo *y = &b->t[j];
		if (x->dtype != y->dtype || !ck_shape_eq(&x->shape, &y->shape)) {
			diff_meta(r, x, y);
			continue;
		}
		unsigned char *ba = ck_malloc(e, x->nbytes), *bb = ck_malloc(e, y->nbytes);
		if (!ba || !bb)
			rc = CK_ENOMEM;
		else if (!(rc = ck_tsrc_read(a, i, ba, e)) && !(rc = ck_tsrc_read(b, j, bb, e))) {
			long long d = close ? first_far(x, ba, bb) : first_diff(ba, bb, x->nbytes, ck_dtype_size(x->dtype));
			if (d >= 0)
				diff_values(r, x->name, close, d);
		}
		free(ba);
		free(bb);
	}
	free(ix);
	return ix ? rc : CK_ENOMEM;
}

const char cli_diff_usage[] =
	"usage: ckconv diff A B [--tensor_comparison_op equal|allclose] [--json]\n\nCompares two checkpoints "
	"(any format ckconv reads): missing keys, dtype/shape differences and the\nfirst differing element "
	"(allclose: the first not within torch.allclose's default tolerances).\nEnds with 'match' or "
	"'differ'. --json: one JSON object instead (a, b, op, result: match|differ,\nonly_in_a, only_in_b, "
	"dtype_shape [{name, a, b}], values [{name, first_element}]).\nExit status 0 on match, 1 when they "
	"differ, 2 when a file is missing or cannot be read.\n-p/--profile (the reference's S3 profile) is "
	"accepted; ckconv reads local paths only.\n";

const struct option cli_diff_opts[] = {{"tensor_comparison_op", required_argument, NULL, 't'},
	{"tensor-comparison-op", required_argument, NULL, 't'}, {"profile", required_argument, NULL, 'p'},
	{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

int cli_diff(int argc, char **argv, ck_err *e)
{
	ck_tsrc *a = NULL, *b = NULL;
	strmap ma, mb;
	diff_report r = {NULL, 0};
	int rc, close = 0, json = 0, c;
	size_t *ix = NULL;
	const char *v, *path[2] = {NULL, NULL};
	for (optind = 0; (c = cli_getopt(argc, argv, "diff", "hp:", cli_diff_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: return CK_EUSAGE;
		case 'h':
			fputs(cli_diff_usage, stdout);
			return 0;
		case 't':
			if (strcmp(v, "equal") && strcmp(v, "allclose"))
				return ck_errf(e, CK_EUSAGE, "diff: --tensor_comparison_op takes equal or allclose, not '%s'", v);
			close = !strcmp(v, "allclose");
			break;
		case 'p': break;
		case 'j': json = 1; break;
		default:
			if (path[1])
				return ck_errf(e, CK_EUSAGE, "diff: unexpected argument '%s' (usage: ckconv diff A B)", v);
			path[path[0] ? 1 : 0] = v;
		}
	}
	if (!path[1])
		return ck_errf(e, CK_EUSAGE, "usage: ckconv diff A B [--tensor_comparison_op equal|allclose] [--json]");
	for (int i = 0; i < 2; i++)
		if (strstr(path[i], "://"))
			return ck_errf(e, CK_EUSAGE, "%s: ckconv reads local paths only (no S3)", path[i]);
	strmap_init(&ma);
	strmap_init(&mb);
	if (json && !(r.j = json_pack("{s:[], s:[], s:[], s:[]}", "only_in_a", "only_in_b", "dtype_shape", "values"))) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = cli_need_path(path[0], e)) || (rc = cli_need_path(path[1], e)) ||
		(rc = cli_open_checkpoint(path[0], &a, e)) || (rc = cli_open_checkpoint(path[1], &b, e)))
		goto done;
	for (size_t i = 0; i < b->n; i++)
		strmap_put(&mb, b->t[i].name, i);
	for (size_t i = 0; i < a->n; i++)
		strmap_put(&ma, a->t[i].name, i);
	if ((rc = diff_tensors(&r, path, a, b, &mb, close, e)) || !(ix = cli_sorted_tensors(b, e)))
		goto done;
	for (size_t k = 0; k < b->n; k++) {
		size_t i;
		if (!strmap_get(&ma, b->t[ix[k]].name, &i))
			diff_only(&r, 1, path[1], b->t[ix[k]].name);
	}
	if (!json)
		printf("%s\n", r.differ ? "differ" : "match");
	else if ((rc = cli_json_print(json_pack("{s:o, s:o, s:s, s:s, s:O, s:O, s:O, s:O}", "a", cli_json_str(path[0]), "b",
			cli_json_str(path[1]), "op", close ? "allclose" : "equal", "result", r.differ ? "differ" : "match",
			"only_in_a", json_object_get(r.j, "only_in_a"), "only_in_b", json_object_get(r.j, "only_in_b"),
			"dtype_shape", json_object_get(r.j, "dtype_shape"), "values", json_object_get(r.j, "values")), e)))
		goto done;
	rc = r.differ ? 1 : 0;
done:
	/* a file that cannot be opened or read is an I/O error here (2), never "differ" (1) */
	if (rc < 0 && rc != CK_ENOMEM && rc != CK_EUSAGE)
		e->code = rc = CK_EIO;
	free(ix);
	json_decref(r.j);
	strmap_dispose(&ma);
	strmap_dispose(&mb);
	ck_tsrc_free(a);
	ck_tsrc_free(b);
	return rc;
}
