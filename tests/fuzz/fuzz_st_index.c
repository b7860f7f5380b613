/* fuzz_st_index.c - a model.safetensors.index.json through st_open on its directory, which also
 * holds two tiny valid shards (written once): shard-1.safetensors = {a: F32 [2], b: BF16 [1, 3]},
 * shard-2.safetensors = {c: I64 [], d: U8 [0]}. Every tensor of a source that opens is read. */
#include "st.h"
#include "fuzz.h"

static void put_shard(const char *name, const char *hdr, size_t data_len)
{
	char path[4096];
	unsigned char buf[512] = {0};
	size_t n = strlen(hdr);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(buf + 8, hdr, n);
	for (size_t i = 0; i < data_len; i++)
		buf[8 + n + i] = (unsigned char)(i * 37 + 1);
	fuzz_write(fuzz_path(name, path), buf, 8 + n + data_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[4096], index[4096];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "%s", fuzz_dir());
		fuzz_path("model.safetensors.index.json", index);
		put_shard("shard-1.safetensors",
			  "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
			  "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[8,14]}}  ",
			  14);
		put_shard("shard-2.safetensors",
			  "{\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
			  "\"d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,8]}}",
			  8);
	}
	fuzz_write(index, data, size);
	/* by directory (index preferred) and by the index path itself */
	for (int k = 0; k < 2; k++) {
		if (st_open(k ? index : dir, &s, &e) == 0) {
			for (size_t i = 0; i < s->n; i++)
				if (s->t[i].nbytes > 64)
					abort(); /* the shards hold 30 bytes in all */
			fuzz_read_all("fuzz_st_index", s, 64);
			ck_tsrc_free(s);
		}
		ck_err_clear(&e);
	}
	return 0;
}
