/* Unit tests for st.c: byte-identical round trips of real safetensors files, reading an HF
 * shard set, writing shards + index like HF, and the exact errors for malformed inputs. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "st.h"
#include "t.h"

#define GOLD "tests/golden/st"

static char dir[64];

static char *path(const char *name)
{
	static char p[8][512];
	static int k;
	k = (k + 1) % 8;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static void put(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "wb");
	fputs(text, f);
	fclose(f);
}

#define OWN (~(uint64_t)0) /* put_st's header length: the header's own */

/* A safetensors file: header length (hlen, or the header's own length when OWN), header, nd zero bytes. */
static void put_st(const char *name, uint64_t hlen, const char *hdr, size_t nd)
{
	FILE *f = fopen(path(name), "wb");
	unsigned char lb[8];
	if (hlen == OWN)
		hlen = strlen(hdr);
	for (int i = 0; i < 8; i++)
		lb[i] = (unsigned char)(hlen >> (8 * i));
	fwrite(lb, 1, 8, f);
	fputs(hdr, f);
	for (size_t i = 0; i < nd; i++)
		fputc(0, f);
	fclose(f);
}

/* Copies every tensor of src into a new sink in out_dir. */
static int copy_to(ck_tsrc *src, const char *out_dir, uint64_t shard, ck_err *e)
{
	ck_tsink *k = NULL;
	int rc;
	mkdir(out_dir, 0755);
	if ((rc = st_sink_open(out_dir, src->t, src->n, shard, &k, e)))
		return rc;
	for (size_t i = 0; i < src->n; i++) {
		void *buf = malloc(src->t[i].nbytes ? src->t[i].nbytes : 1);
		rc = ck_tsrc_read(src, i, buf, e);
		if (!rc)
			rc = ck_tsink_write(k, i, buf, e);
		free(buf);
		if (rc) {
			ck_tsink_abort(k);
			return rc;
		}
	}
	return ck_tsink_commit(k, e);
}

/* Bytes of tensor `name` (malloc'd), or NULL. */
static unsigned char *tensor_bytes(ck_tsrc *s, const char *name, uint64_t *n)
{
	long i = ck_tsrc_find(s, name);
	ck_err e = {0};
	unsigned char *b;
	if (i < 0)
		return NULL;
	*n = s->t[i].nbytes;
	b = malloc(*n ? *n : 1);
	if (ck_tsrc_read(s, (size_t)i, b, &e)) {
		free(b);
		return NULL;
	}
	return b;
}

static int same_tensors(ck_tsrc *a, ck_tsrc *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		uint64_t na, nb;
		unsigned char *x = tensor_bytes(a, a->t[i].name, &na), *y = tensor_bytes(b, a->t[i].name, &nb);
		long j = ck_tsrc_find(b, a->t[i].name);
		int ok = x && y && na == nb && memcmp(x, y, na) == 0 && j >= 0 &&
			 b->t[j].dtype == a->t[i].dtype && ck_shape_eq(&b->t[j].shape, &a->t[i].shape);
		free(x);
		free(y);
		if (!ok)
			return 0;
	}
	return 1;
}

static void roundtrip(const char *name)
{
	char in[256], out[256], msg[300];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	snprintf(in, sizeof in, GOLD "/%s.safetensors", name);
	snprintf(out, sizeof out, "%s/rt_%s", dir, name);
	snprintf(msg, sizeof msg, "open %s", in);
	T_OK(st_open(in, &s, &e) == 0, "%s: %s", msg, e.msg);
	if (!s)
		return;
	T_OK(copy_to(s, out, 0, &e) == 0, "write %s back: %s", name, e.msg);
	strcat(out, "/model.safetensors");
	T_OK(t_same_file(in, out), "%s: written file is byte-identical to the input", name);
	ck_tsrc_free(s);
}

static void test_roundtrips(void)
{
	ck_tsrc *s = NULL;
	ck_err e = {0};
	roundtrip("gpt2");
	roundtrip("mixtral");
	T_OK(st_open(GOLD "/gpt2.safetensors", &s, &e) == 0, "open gpt2");
	if (!s)
		return;
	long u8 = ck_tsrc_find(s, "transformer.h.0.attn.bias");
	long z = ck_tsrc_find(s, "transformer.h.0.attn.masked_bias");
	T_OK(u8 >= 0 && s->t[u8].dtype == CK_DT_U8 && s->t[u8].shape.rank == 4, "gpt2: U8 [1, 1, 64, 64] tensor");
	T_OK(z >= 0 && s->t[z].dtype == CK_DT_F32 && s->t[z].shape.rank == 0 && s->t[z].nbytes == 4,
	     "gpt2: 0-d F32 tensor");
	T_EQ_STR(s->t[0].name, "lm_head.weight", "gpt2: tinfo in header order");
	ck_tsrc_free(s);
}

static void test_sharded_read(void)
{
	ck_tsrc *s = NULL, *s1 = NULL, *s2 = NULL;
	ck_err e = {0};
	uint64_t n1 = 0, n2 = 0;
	const char *key = "model.layers.1.mlp.down_proj.weight";
	T_OK(st_open(GOLD "/llama_sharded", &s, &e) == 0, "open llama shard dir: %s", e.msg);
	if (!s)
		return;
	T_EQ_INT(s->n, 21, "llama: 21 tensors over 2 shards");
	T_EQ_STR(s->t[1].name, "model.layers.0.self_attn.q_proj.weight", "llama: tinfo in weight_map order");
	long i = ck_tsrc_find(s, key);
	char sh[64];
	T_OK(i >= 0 && s->t[i].dtype == CK_DT_F32, "llama: %s is F32", key);
	T_EQ_STR(i >= 0 ? ck_shape_str(&s->t[i].shape, sh, sizeof sh) : "", "[64, 160]", "llama: its shape");
	T_OK(copy_to(s, path("llama1"), 0, &e) == 0, "llama: write as a single file: %s", e.msg);
	T_OK(st_open(path("llama1/model.safetensors"), &s1, &e) == 0, "llama: reopen single file");
	T_OK(st_open(GOLD "/llama_sharded/model.safetensors.index.json", &s2, &e) == 0, "llama: open by index path");
	if (s1 && s2) {
		unsigned char *a = tensor_bytes(s, key, &n1), *b = tensor_bytes(s1, key, &n2);
		T_OK(a && b && n1 == 40960 && n1 == n2 && memcmp(a, b, n1) == 0,
		     "llama: tensor from the shard set equals the single-file copy");
		free(a);
		free(b);
		T_OK(same_tensors(s, s1) && same_tensors(s2, s1), "llama: every tensor equal");
	}
	ck_tsrc_free(s);
	ck_tsrc_free(s1);
	ck_tsrc_free(s2);
}

static void test_sharded_write(void)
{
	ck_tsrc *s = NULL, *r = NULL, *one = NULL;
	ck_err e = {0};
	struct stat sb;
	T_OK(st_open(GOLD "/gpt2.safetensors", &s, &e) == 0, "open gpt2");
	if (!s)
		return;
	T_OK(copy_to(s, path("gpt2_sh"), 100000, &e) == 0, "gpt2: write with shard_size 100000: %s", e.msg);
	T_OK(stat(path("gpt2_sh/model-00007-of-00007.safetensors"), &sb) == 0, "gpt2: 7 shards written");
	T_OK(stat(path("gpt2_sh/model-00008-of-00007.safetensors"), &sb) != 0 &&
	     stat(path("gpt2_sh/model.safetensors"), &sb) != 0, "gpt2: no extra files");
	T_OK(t_same_file(path("gpt2_sh/model.safetensors.index.json"), GOLD "/gpt2_shard100000.index.json"),
	     "gpt2: index is byte-identical to Python json.dumps(indent=2, sort_keys=True)");
	T_OK(st_open(path("gpt2_sh"), &r, &e) == 0, "gpt2: read shards back: %s", e.msg);
	T_OK(r && same_tensors(s, r), "gpt2: sharded copy has equal tensors");
	/* wte (96x64 F32 = 24576 B) fits; a limit below one tensor gives it a shard of its own */
	T_OK(st_open(path("gpt2_sh/model-00007-of-00007.safetensors"), &one, &e) == 0 && one->n == 1 &&
	     strcmp(one->t[0].name, "transformer.wte.weight") == 0, "gpt2: last shard holds wte alone");
	ck_tsrc_free(one);
	ck_tsrc_free(r);
	ck_tsrc_free(s);
}

/* HF appends a too-big tensor's shard at once, before the shard being filled. */
static void test_shard_order(void)
{
	ck_tinfo t[3] = {
		{"a", CK_DT_F32, {1, {4}}, 16}, {"b", CK_DT_BF16, {2, {10, 10}}, 200}, {"c", CK_DT_U8, {1, {3}}, 3}};
	unsigned char buf[200] = {0};
	ck_tsink *k = NULL;
	ck_tsrc *s = NULL;
	ck_err e = {0};
	size_t n;
	mkdir(path("order"), 0755);
	T_OK(st_sink_open(path("order"), t, 3, 100, &k, &e) == 0, "order: open sink");
	for (int i = 2; i >= 0 && k; i--)
		T_OK(ck_tsink_write(k, (size_t)i, buf, &e) == 0, "order: write %d", i);
	T_OK(k && ck_tsink_commit(k, &e) == 0, "order: commit: %s", e.msg);
	T_OK(st_open(path("order/model-00001-of-00002.safetensors"), &s, &e) == 0 && s->n == 1 &&
	     strcmp(s->t[0].name, "b") == 0, "order: oversized 'b' is shard 1");
	ck_tsrc_free(s);
	unsigned char *idx = (unsigned char *)t_slurp(path("order/model.safetensors.index.json"), &n);
	/* Python: json.dumps({"metadata": {"total_size": 219}, "weight_map": {...}}, indent=2, sort_keys=True) + "\n" */
	const char *want_idx = "{\n  \"metadata\": {\n    \"total_size\": 219\n  },\n  \"weight_map\": {\n"
			       "    \"a\": \"model-00002-of-00002.safetensors\",\n"
			       "    \"b\": \"model-00001-of-00002.safetensors\",\n"
			       "    \"c\": \"model-00002-of-00002.safetensors\"\n  }\n}\n";
	T_OK(idx && n == strlen(want_idx) && memcmp(idx, want_idx, n) == 0, "order: index text");
	free(idx);
	/* the data is laid out sorted by name, dtype ignored, as in the real files */
	idx = (unsigned char *)t_slurp(path("order/model-00002-of-00002.safetensors"), &n);
	const char *want = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
			   "\"data_offsets\":[0,16]},\"c\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[16,19]}}";
	T_OK(idx && n == 8 + 144 + 19 && idx[0] == 144 && memcmp(idx + 8, want, strlen(want)) == 0 &&
	     memcmp(idx + 8 + strlen(want), "    ", 4) == 0, "order: shard 2 header, padded with spaces");
	free(idx);
}

static void test_sink_errors(void)
{
	ck_tinfo t[2] = {{"a", CK_DT_F32, {1, {4}}, 16}, {"b", CK_DT_F32, {0, {0}}, 4}};
	unsigned char buf[16] = {0};
	ck_tsink *k = NULL;
	ck_err e = {0};
	struct stat sb;
	mkdir(path("sk"), 0755);
	T_OK(st_sink_open(path("sk"), t, 2, 0, &k, &e) == 0, "sink: open");
	T_OK(ck_tsink_write(k, 0, buf, &e) == 0, "sink: write a");
	T_OK(ck_tsink_write(k, 0, buf, &e) != 0, "sink: second write of a fails");
	T_HAS(e.msg, "tensor 'a' written twice", "sink: message");
	ck_err_clear(&e);
	T_OK(ck_tsink_commit(k, &e) != 0, "sink: commit with 'b' unwritten fails");
	T_HAS(e.msg, "model.safetensors: tensor 'b' was declared but never written", "sink: message");
	T_OK(stat(path("sk/model.safetensors"), &sb) != 0, "sink: failed commit removed its file");
	k = NULL;
	T_OK(st_sink_open(path("sk"), t, 2, 8, &k, &e) == 0, "sink: open sharded");
	T_OK(stat(path("sk/model-00002-of-00002.safetensors"), &sb) == 0, "sink: shard files exist");
	ck_tsink_abort(k);
	T_OK(stat(path("sk/model-00001-of-00002.safetensors"), &sb) != 0 &&
	     stat(path("sk/model-00002-of-00002.safetensors"), &sb) != 0, "sink: abort removed the shards");
	ck_err_clear(&e);
	t[1].name = "a";
	T_OK(st_sink_open(path("sk"), t, 2, 0, &k, &e) != 0, "sink: duplicate name rejected");
	T_HAS(e.msg, "tensor 'a' declared twice", "sink: message");
	ck_err_clear(&e);
	t[1].name = "b";
	t[1].nbytes = 8;
	T_OK(st_sink_open(path("sk"), t, 2, 0, &k, &e) != 0, "sink: wrong nbytes rejected");
	T_HAS(e.msg, "tensor 'b': declared 8 bytes, but F32 [] takes 4", "sink: message");
}

/* st_open on dir/name must fail with a message starting with the path and containing want. */
static void bad(const char *name, const char *want)
{
	ck_tsrc *s = NULL;
	ck_err e = {0};
	char *p = path(name);
	int rc = st_open(p, &s, &e);
	T_OK(rc < 0 && s == NULL, "%s: st_open fails", name);
	T_OK(strncmp(e.msg, p, strlen(p)) == 0, "%s: message starts with the path", name);
	T_HAS(e.msg, want, name);
	ck_tsrc_free(s);
}

#define ENTRY(n, dt, shape, b, e) "\"" n "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

/* Crafted files st_open must refuse: the header length (OWN: the header's own), the header, the number
 * of data bytes after it, and what the one-line error says. */
static const struct bad_st {
	const char *name;
	uint64_t hlen;
	const char *hdr;
	size_t nd;
	const char *want;
} bad_sts[] = {
	{"trunc.safetensors", 1000, "{}", 0,
		": header length 1000 runs past end of file (file is 10 bytes)"},
	{"cap.safetensors", 200u << 20, "{}", 0,
		": header length 209715200 exceeds the limit of 104857600 bytes"},
	{"nojson.safetensors", OWN, "{\"a\": nope}", 0,
		": header is not valid JSON: "},
	{"array.safetensors", OWN, "[1]     ", 0,
		": header is not a JSON object"},
	{"dtype.safetensors", OWN, "{" ENTRY("a", "F7", "[1]", 0, 1) "}", 1,
		": tensor 'a': unknown dtype 'F7'"},
	{"neg.safetensors", OWN, "{" ENTRY("a", "F32", "[2,-1]", 0, 0) "}", 0,
		": tensor 'a': shape[1] is -1, expected >= 0"},
	{"huge.safetensors", OWN, "{" ENTRY("a", "F32", "[4294967296,4294967296,4294967296]", 0, 0) "}", 0,
		": tensor 'a': F32 [4294967296, 4294967296, 4294967296]: shape element count overflows 64 bits"},
	{"huge2.safetensors", OWN, "{" ENTRY("a", "F64", "[4611686018427387904]", 0, 0) "}", 0,
		": tensor 'a': F64 [4611686018427387904]: tensor byte size overflows 64 bits"},
	{"rank.safetensors", OWN, "{" ENTRY("a", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1,
		": tensor 'a': shape has rank 9, limit is 8"},
	{"past.safetensors", OWN, "{" ENTRY("a", "F32", "[4]", 0, 16) "}", 8,
		": tensor 'a': data_offsets [0, 16] run past the end of the file (8 data bytes after the header)"},
	{"overlap.safetensors", OWN, "{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 4, 12) "}", 12,
		": tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"},
	{"hole.safetensors", OWN, "{" ENTRY("b", "F32", "[2]", 12, 20) "," ENTRY("a", "F32", "[2]", 0, 8) "}", 20,
		": tensor 'b': data_offsets [12, 20] leave a hole of 4 bytes after tensor 'a' (ends at 8)"},
	{"start.safetensors", OWN, "{" ENTRY("a", "F32", "[2]", 4, 12) "}", 12,
		": tensor 'a': data starts at 4, expected 0 (hole of 4 bytes)"},
	{"tail.safetensors", OWN, "{" ENTRY("a", "F32", "[2]", 0, 8) "}", 12,
		": tensors end at data offset 8 but the file has 12 data bytes after the header (4 trailing bytes)"},
	{"nbytes.safetensors", OWN, "{" ENTRY("a", "F32", "[2,3]", 0, 12) "}", 12,
		": tensor 'a': data_offsets [0, 12] give 12 bytes, expected 24 for F32 [2, 3]"},
	{"backw.safetensors", OWN, "{" ENTRY("a", "F32", "[2]", 8, 0) "}", 8,
		": tensor 'a': data_offsets [8, 0] end before they begin"},
	{"dup.safetensors", OWN, "{" ENTRY("a", "F32", "[1]", 0, 4) "," ENTRY("a", "F32", "[1]", 4, 8) "}", 8,
		": header is not valid JSON: duplicate object key"},
	{"meta.safetensors", OWN, "{\"__metadata__\":{\"format\":1}}", 0,
		": '__metadata__' value for 'format' is not a string"},
};

static void test_bad_files(void)
{
	for (size_t i = 0; i < sizeof bad_sts / sizeof *bad_sts; i++) {
		put_st(bad_sts[i].name, bad_sts[i].hlen, bad_sts[i].hdr, bad_sts[i].nd);
		bad(bad_sts[i].name, bad_sts[i].want);
	}
	put("short.safetensors", "abc");
	bad("short.safetensors", ": file is 3 bytes, too short for the 8-byte header length");
	put_st("empty.safetensors", OWN, "{\"__metadata__\":{\"format\":\"pt\"}}", 0);
	ck_tsrc *s = NULL;
	ck_err e = {0};
	T_OK(st_open(path("empty.safetensors"), &s, &e) == 0 && s->n == 0, "empty file with metadata only opens");
	ck_tsrc_free(s);
}

static void test_bad_index(void)
{
	ck_tsrc *s = NULL;
	ck_err e = {0};
	mkdir(path("ix"), 0755);
	put_st("ix/s1.safetensors", OWN, "{" ENTRY("a", "F32", "[1]", 0, 4) "," ENTRY("b", "U8", "[2]", 4, 6) "}", 6);
	put_st("ix/s2.safetensors", OWN, "{" ENTRY("c", "I64", "[1]", 0, 8) "}", 8);
	put_st("ix/s3.safetensors", OWN, "{" ENTRY("a", "F32", "[1]", 0, 4) "}", 4);
	put("ix/ok.index.json", "{\"metadata\":{},\"weight_map\":{\"c\":\"s2.safetensors\",\"a\":\"s1.safetensors\","
				"\"b\":\"s1.safetensors\"}}");
	T_OK(st_open(path("ix/ok.index.json"), &s, &e) == 0 && s->n == 3, "index: good index opens: %s", e.msg);
	T_OK(s && strcmp(s->t[0].name, "c") == 0 && s->t[0].dtype == CK_DT_I64, "index: weight_map order");
	ck_tsrc_free(s);
	put("ix/miss.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
				  "\"c\":\"model-00009-of-00009.safetensors\"}}");
	bad("ix/miss.index.json", ": shard 'model-00009-of-00009.safetensors' not found");
	put("ix/dots.index.json", "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}");
	bad("ix/dots.index.json", ": tensor 'a': shard name '../s1.safetensors' must be a plain file name (no '/' or '..')");
	put("ix/slash.index.json", "{\"weight_map\":{\"a\":\"/etc/passwd\"}}");
	bad("ix/slash.index.json", "shard name '/etc/passwd' must be a plain file name");
	put("ix/absent.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
				    "\"x\":\"s2.safetensors\",\"c\":\"s2.safetensors\"}}");
	bad("ix/absent.index.json", ": tensor 'x': weight_map names shard 's2.safetensors', which does not contain it");
	put("ix/wrong.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\","
				   "\"c\":\"s2.safetensors\"}}");
	bad("ix/wrong.index.json", ": tensor 'b': weight_map names shard 's2.safetensors', which does not contain it (it is in 's1.safetensors')");
	put("ix/extra.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
	bad("ix/extra.index.json", ": shard 's1.safetensors' holds tensor 'b', which weight_map does not list");
	put("ix/two.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
				 "\"x\":\"s3.safetensors\"}}");
	bad("ix/two.index.json", ": tensor 'a' appears in two shards: 's1.safetensors' and 's3.safetensors'");
	put("ix/nowm.index.json", "{\"metadata\":{}}");
	bad("ix/nowm.index.json", ": index has no 'weight_map' object");
	put("ix/dupk.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}");
	bad("ix/dupk.index.json", ": index is not valid JSON: duplicate object key");
	mkdir(path("nothing"), 0755);
	bad("nothing", ": directory holds neither model.safetensors nor model.safetensors.index.json");
}

/* A file truncated after open is reported on read, not read as garbage. */
static void test_shrunk(void)
{
	ck_tsrc *s = NULL;
	ck_err e = {0};
	unsigned char buf[16];
	put_st("shrink.safetensors", ~(uint64_t)0, "{" ENTRY("a", "F32", "[4]", 0, 16) "}", 16);
	T_OK(st_open(path("shrink.safetensors"), &s, &e) == 0, "shrink: opens");
	if (!s)
		return;
	T_OK(truncate(path("shrink.safetensors"), 30) == 0, "shrink: truncate");
	T_OK(ck_tsrc_read(s, 0, buf, &e) != 0, "shrink: read fails");
	T_HAS(e.msg, "shrink.safetensors: tensor 'a': file ended before byte", "shrink: message");
	T_HAS(e.msg, "it shrank since it was opened", "shrink: says why");
	ck_tsrc_free(s);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/ckconv_st.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrips();
	test_sharded_read();
	test_sharded_write();
	test_shard_order();
	test_sink_errors();
	test_bad_files();
	test_bad_index();
	test_shrunk();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return t_done();
}
