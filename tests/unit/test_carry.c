/* test_carry.c - carried files (carry.c): listed names only, the symlink policy, checksums. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "carry.h"
#include "cli.h"
#include "t.h"

static char dir[64];

int main(void)
{
	ck_err e = {0};
	char *pat[] = {"tokenizer*.json", "special_tokens_map.json"};
	snprintf(dir, sizeof dir, "/tmp/test_carry.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	mkdir(t_at(dir, "src"), 0777);
	t_put(dir, "src/tokenizer.json", "{\"v\": 1}");
	t_put(dir, "src/modeling_evil.py", "import os");
	t_put(dir, "outside.txt", "secret");
	symlink("../outside.txt", t_at(dir, "src/tokenizer_config.json"));

	json_t *sums = json_object(), *skipped = json_array();
	T_EQ_INT(carry_copy(t_at(dir, "src"), t_at(dir, "src"), pat, 2, t_at(dir, "dst"), "text_model/", sums, skipped, &e), CK_EINVALID,
		"a listed symlink out of the source tree is refused");
	T_HAS(e.msg, "tokenizer_config.json: a symbolic link to", "... naming it");
	T_HAS(e.msg, "outside the source directory; refusing to follow it", "... and why");
	unlink(t_at(dir, "src/tokenizer_config.json"));
	mkdir(t_at(dir, "src/sub"), 0777);
	t_put(dir, "src/sub/tok.json", "{\"v\": 2}");
	symlink("sub/tok.json", t_at(dir, "src/tokenizer_config.json"));
	json_object_clear(sums);
	json_array_clear(skipped);
	cli_remove_tree(t_at(dir, "dst"));
	ck_err_clear(&e);
	T_EQ_INT(carry_copy(t_at(dir, "src"), t_at(dir, "src"), pat, 2, t_at(dir, "dst"), "text_model/", sums, skipped, &e), 0,
		"a listed symlink inside the source tree is followed");
	struct stat st;
	T_OK(lstat(t_at(dir, "dst/tokenizer_config.json"), &st) == 0 && S_ISREG(st.st_mode), "... and copied as a regular file");
	T_OK(access(t_at(dir, "dst/modeling_evil.py"), F_OK) != 0, "an unlisted file is not copied");
	T_EQ_INT(json_object_size(sums), 2, "two checksums recorded");
	T_OK(json_is_string(json_object_get(sums, "text_model/tokenizer.json")) &&
		strlen(json_string_value(json_object_get(sums, "text_model/tokenizer.json"))) == 16,
		"under the relative path, 16 hex digits");
	int evil = 0;
	for (size_t i = 0; i < json_array_size(skipped); i++)
		evil |= !strcmp(json_string_value(json_array_get(skipped, i)), "modeling_evil.py");
	T_OK(evil, "the unlisted file is reported as skipped");

	/* the HF cache layout: snapshots/REV/x -> ../../blobs/HASH */
	mkdir(t_at(dir, "models--m"), 0777);
	mkdir(t_at(dir, "models--m/blobs"), 0777);
	mkdir(t_at(dir, "models--m/snapshots"), 0777);
	mkdir(t_at(dir, "models--m/snapshots/r1"), 0777);
	t_put(dir, "models--m/blobs/abc", "{\"cached\": 1}");
	symlink("../../blobs/abc", t_at(dir, "models--m/snapshots/r1/tokenizer.json"));
	json_t *s2 = json_object();
	ck_err_clear(&e);
	T_EQ_INT(carry_copy(t_at(dir, "models--m/snapshots/r1"), t_at(dir, "models--m/snapshots/r1"), pat, 2, t_at(dir, "dst2"), "", s2, NULL, &e),
		0, "a link into the HF cache's blob store is followed");

	/* checks against a record */
	json_t *want = json_deep_copy(sums);
	ck_err_clear(&e);
	T_EQ_INT(carry_check(sums, want, "x.hf-files", &e), 0, "the same files pass");
	T_EQ_INT(carry_check(sums, NULL, "x.hf-files", &e), 0, "no record: nothing to check");
	json_object_set_new(want, "text_model/tokenizer.json", json_string("0000000000000000"));
	T_EQ_INT(carry_check(sums, want, "x.hf-files", &e), CK_ECORRUPT, "a changed file is refused");
	T_HAS(e.msg, "x.hf-files/text_model/tokenizer.json: xxHash64", "... naming it");
	json_object_del(want, "text_model/tokenizer.json");
	ck_err_clear(&e);
	T_EQ_INT(carry_check(sums, want, "x.hf-files", &e), CK_ECORRUPT, "an unrecorded file is refused");
	T_HAS(e.msg, "not among the carried files recorded", "... saying so");
	json_object_set_new(want, "text_model/tokenizer.json", json_string("0"));
	json_object_set_new(want, "text_model/gone.json", json_string("0"));
	json_object_set(want, "text_model/tokenizer.json", json_object_get(sums, "text_model/tokenizer.json"));
	ck_err_clear(&e);
	T_EQ_INT(carry_check(sums, want, "x.hf-files", &e), CK_ECORRUPT, "a recorded file that is missing is refused");
	T_HAS(e.msg, "text_model/gone.json: recorded when the packed file was written, but missing", "... naming it");

	json_t *rec = carry_record("{\"tool\": \"ckconv\", \"carried\": {\"a\": \"00\"}}");
	T_OK(rec && json_object_size(rec) == 1, "carry_record reads the provenance's record");
	json_decref(rec);
	T_OK(carry_record("{\"tool\": \"ckconv\"}") == NULL && carry_record(NULL) == NULL && carry_record("not json") == NULL,
		"... NULL when there is none");
	char *d1 = carry_dir("out/x.mdl"), *d2 = carry_dir("x.h5"), *d3 = carry_dir("x");
	T_EQ_STR(d1, "out/x.hf-files", "carry_dir of x.mdl");
	T_EQ_STR(d2, "x.hf-files", "carry_dir of x.h5");
	T_EQ_STR(d3, "x.hf-files", "carry_dir of x");
	free(d1);
	free(d2);
	free(d3);
	json_decref(want);
	json_decref(sums);
	json_decref(s2);
	json_decref(skipped);
	cli_remove_tree(dir);
	return t_done();
}
