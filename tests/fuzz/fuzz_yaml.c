/* fuzz_yaml.c - a params.yaml through valio_yaml_load (PyYAML SafeLoader typing); a value that
 * loads is dumped back to YAML, loaded again, and must come back equal. */
#include "fuzz.h"
#include "valio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096], back[4096];
	json_t *v = NULL, *w = NULL;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!path[0]) {
		fuzz_path("params.yaml", path);
		fuzz_path("params-back.yaml", back);
	}
	fuzz_write(path, data, size);
	if (valio_yaml_load(path, &v, &e) == 0) {
		char *y = valio_yaml_dumps(v);
		free(valio_json_dumps(v));
		if (y) {
			fuzz_write(back, y, strlen(y));
			if (valio_yaml_load(back, &w, &e)) {
				fprintf(stderr, "fuzz_yaml: our own dump does not load: %s\n--- dump:\n%s", e.msg, y);
				abort();
			}
			if (!json_equal(v, w)) {
				fprintf(stderr, "fuzz_yaml: dump/load round trip changed the value\n--- dump:\n%s", y);
				abort();
			}
			json_decref(w);
			free(y);
		}
		json_decref(v);
	}
	return 0;
}
