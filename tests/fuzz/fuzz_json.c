/* fuzz_json.c - a config.json through valio_json_load; a value that loads is written back out
 * every way ckconv writes configs (Python json.dumps styles, PyYAML safe_dump). */
#include "fuzz.h"
#include "valio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	json_t *v = NULL;
	ck_err e = {0};
	if (!fuzz_input("config.json", path, data, size))
		return 0;
	if (valio_json_load(path, &v, &e) == 0) {
		free(valio_json_dumps(v));
		free(valio_json_text(v, -1, 0));
		free(valio_json_text(v, 0, 1));
		free(valio_yaml_dumps(v));
		json_decref(v);
	}
	return 0;
}
