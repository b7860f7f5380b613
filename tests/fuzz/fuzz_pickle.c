/* fuzz_pickle.c - raw bytes as data.pkl through the restricted unpickler. A dict that parses
 * must be self-consistent: every view inside its declared storage, names non-empty. */
#include "fuzz.h"
#include "pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pickle_dict d;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (pickle_parse("fuzz.pkl", data, size, &d, &e) == 0) {
		for (size_t i = 0; i < d.n; i++) {
			uint64_t numel = 0;
			ck_err te = {0};
			if (!d.t[i].name[0] || ck_shape_numel(&d.t[i].shape, &numel, &te) ||
			    (numel && d.t[i].offset >= d.t[i].storage_numel)) {
				fprintf(stderr, "fuzz_pickle: tensor %zu inconsistent\n", i);
				abort();
			}
		}
		pickle_dict_dispose(&d);
	} else if (!e.msg[0]) {
		fprintf(stderr, "fuzz_pickle: refused without a message\n");
		abort();
	}
	return 0;
}
