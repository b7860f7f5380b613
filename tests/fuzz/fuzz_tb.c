/* fuzz_tb.c - one PyTorch .bin (zip + data.pkl + storages) through tb_open, then every tensor
 * read back: a source that opens must read every tensor without error. */
#include "tb.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	if (!fuzz_input("pytorch_model.bin", path, data, size))
		return 0;
	if (tb_open(path, &s, &e) == 0) {
		fuzz_read_all("fuzz_tb", s, (uint64_t)1 << 32);
		ck_tsrc_free(s);
	} else if (!e.msg[0]) {
		fprintf(stderr, "fuzz_tb: refused without a message\n");
		abort();
	}
	return 0;
}
