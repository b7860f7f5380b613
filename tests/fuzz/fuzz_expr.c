/* fuzz_expr.c - an expression (the input, as text) through expr_parse, then expr_eval over a fixed
 * small context: hf and cs configs, cs_minor, a list, a string, and a known-but-absent name. */
#include "fuzz.h"
#include "expr.h"

static json_t *ctx_root;

static json_t *resolve(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "absent"))
		return expr_absent();
	return json_object_get(ctx_root, name); /* NULL: unknown name */
}

static void on_ref(void *ctx, const char *path)
{
	if (!path)
		abort();
	++*(size_t *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	expr *x = NULL;
	json_t *v = NULL;
	ck_err e = {0};
	size_t nrefs = 0;
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!ctx_root) {
		json_error_t je;
		ctx_root = json_loads(
			"{\"hf\": {\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_key_value_heads\": null,"
			" \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, \"architectures\": [\"LlamaForCausalLM\"],"
			" \"tie_word_embeddings\": false, \"rms_norm_eps\": 1e-05, \"vocab_size\": 32000,"
			" \"layers\": [1, 2, 3], \"name\": \"llama\"},"
			" \"cs\": {\"model\": {\"hidden_size\": 64, \"num_heads\": 4, \"mup_base_hidden_size\": 32,"
			" \"position_embedding_type\": \"rotary\", \"norm_type\": \"rmsnorm\", \"big\": 9223372036854775807,"
			" \"neg\": -9223372036854775807, \"tiny\": 5e-324}},"
			" \"cs_minor\": 9, \"L\": 3, \"mup_w\": 2.0, \"items\": [0, 1.5, \"a\", null, true, [2], {\"k\": 1}],"
			" \"s\": \"abc\", \"empty\": {}}",
			0, &je);
		if (!ctx_root)
			abort();
	}
	char *src = fuzz_cstr(data, size);
	if (expr_parse(src, "fuzz", &x, &e) == 0) {
		expr_refs(x, on_ref, &nrefs);
		(void)expr_is_literal(x);
		if (strcmp(expr_src(x), src))
			abort(); /* expr_src gives back what was parsed */
		if (expr_eval(x, resolve, NULL, &v, &e) == 0) {
			char buf[32];
			if (json_is_real(v))
				expr_float_str(json_real_value(v), buf, sizeof buf);
			json_decref(v);
		}
		expr_free(x);
	}
	free(src);
	return 0;
}
