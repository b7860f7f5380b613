/* test_path.c - the shared file-name helpers. */
#include <stdlib.h>
#include "path.h"
#include "t.h"

static void dir_is(const char *p, const char *want)
{
	char *d = path_dir(p);
	T_EQ_STR(d, want, p);
	free(d);
}

int main(void)
{
	T_OK(path_ends_with("x.bin.index.json", ".json") && !path_ends_with("json", ".json"), "ends_with");
	T_OK(path_ends_with("a", "") && !path_ends_with("", "a"), "ends_with: empty");
	T_EQ_STR(path_base("a/b/c.yaml"), "c.yaml", "base");
	T_EQ_STR(path_base("c.yaml"), "c.yaml", "base without a directory");
	dir_is("a/b/c.yaml", "a/b");
	dir_is("c.yaml", ".");
	dir_is("/c.yaml", "/");
	char *j = path_join("a/b", "c.yaml");
	T_EQ_STR(j, "a/b/c.yaml", "join");
	free(j);
	T_OK(path_is_dir("/tmp") && !path_is_dir("/nonexistent-ckconv") && !path_is_dir("/dev/null"), "is_dir");
	return t_done();
}
