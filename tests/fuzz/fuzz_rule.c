/* fuzz_rule.c - a rule file through rule_file_load (header only) and rule_set_load (keys, config
 * rules, components, muP, includes). The input is written next to copies of the project's rules/
 * (FUZZ_RULES_DIR, set by the build), so `include: llama-body` and friends resolve. */
#include <dirent.h>
#include "fuzz.h"
#include "rule.h"

#ifndef FUZZ_RULES_DIR
#define FUZZ_RULES_DIR "rules"
#endif

static void copy_rules(void)
{
	DIR *d = opendir(FUZZ_RULES_DIR);
	struct dirent *de;
	if (!d)
		return; /* includes then simply do not resolve */
	while ((de = readdir(d))) {
		char src[8192], dst[4096], buf[1 << 16];
		size_t n = strlen(de->d_name);
		FILE *f;
		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml"))
			continue;
		snprintf(src, sizeof src, "%s/%s", FUZZ_RULES_DIR, de->d_name);
		if (!(f = fopen(src, "rb")))
			continue;
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		fuzz_write(fuzz_path(de->d_name, dst), buf, n);
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	rule_file *f = NULL;
	rule_set *s = NULL;
	ck_err e = {0};
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!path[0]) {
		fuzz_path("fuzz-input.yaml", path);
		copy_rules();
	}
	fuzz_write(path, data, size);
	if (rule_file_load(path, &f, &e) == 0) {
		(void)rule_has_format(f, "cs-2.9");
		rule_file_free(f);
	}
	ck_err_clear(&e);
	if (rule_set_load(path, &s, &e) == 0) {
		for (size_t i = 0; i < s->n_keys; i++)
			if (!s->keys[i].scope)
				abort();
		rule_set_free(s);
	}
	return 0;
}
