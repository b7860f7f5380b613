/* fuzz_st.c - one .safetensors file (8-byte length, JSON header, data) through st_open, then
 * every tensor read back. A source that opens must be self-consistent: nbytes agrees with
 * dtype and shape, and every tensor reads without error. */
#include "fuzz.h"
#include "st.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	ck_tsrc *s = NULL;
	ck_err e = {0};
	if (!fuzz_input("model.safetensors", path, data, size))
		return 0;
	if (st_open(path, &s, &e) == 0) {
		for (size_t i = 0; i < s->n; i++) {
			uint64_t nb = 0;
			ck_err te = {0};
			if (ck_tensor_nbytes(s->t[i].dtype, &s->t[i].shape, &nb, &te) || nb != s->t[i].nbytes ||
			    nb > size) {
				fprintf(stderr, "fuzz_st: tensor '%s': nbytes %llu inconsistent\n", s->t[i].name,
					(unsigned long long)s->t[i].nbytes);
				abort();
			}
			void *buf = malloc(nb ? nb : 1);
			if (!buf)
				abort();
			if (ck_tsrc_read(s, i, buf, &e)) {
				fprintf(stderr, "fuzz_st: opened but tensor %zu does not read: %s\n", i, e.msg);
				abort();
			}
			free(buf);
		}
		ck_tsrc_free(s);
	}
	return 0;
}
