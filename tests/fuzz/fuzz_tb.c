/* fuzz_tb.c - one PyTorch .bin (zip + data.pkl + storages) through tb_open, then every tensor
 * read back: a source that opens must read every tensor without error. */
#include "fuzz.h"
#include "tb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!path[0])
		fuzz_path("pytorch_model.bin", path);
	fuzz_write(path, data, size);
	if (tb_open(path, &s, &e) == 0) {
		for (size_t i = 0; i < s->n; i++) {
			void *buf;
			if (s->t[i].nbytes > ((uint64_t)1 << 32))
				continue; /* stride-0 views may be large without large inputs */
			if (!(buf = malloc(s->t[i].nbytes ? s->t[i].nbytes : 1)))
				abort();
			if (ck_tsrc_read(s, i, buf, &e)) {
				fprintf(stderr, "fuzz_tb: opened but tensor %zu does not read: %s\n", i, e.msg);
				abort();
			}
			free(buf);
		}
		ck_tsrc_free(s);
	} else if (!e.msg[0]) {
		fprintf(stderr, "fuzz_tb: refused without a message\n");
		abort();
	}
	return 0;
}
