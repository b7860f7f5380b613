/* test_sha256.c - SHA-256 (FIPS 180-4 vectors through Nettle), file digests, and the rule-set
 * digest (rules_sha256): every file a model loads counts, in an order that does not matter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rule.h"
#include "sha256.h"
#include "t.h"

static void put(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);
	fputs(text, f);
	fclose(f);
}

static void test_vectors(void)
{
	char hex[65];
	sha256_hex("", 0, hex);
	T_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
	sha256_hex("abc", 3, hex);
	T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), hex);
	T_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks");
	char *a = malloc(1000000);
	memset(a, 'a', 1000000);
	sha256_hex(a, 1000000, hex);
	T_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million a's");
	free(a);
}

static void test_files(const char *dir)
{
	char p[256], q[256], hex[65], hex2[65], want[65];
	snprintf(p, sizeof p, "%s/a.yaml", dir);
	snprintf(q, sizeof q, "%s/b.yaml", dir);
	put(p, "abc", "w");
	put(q, "xyz\n", "w");
	T_EQ_INT(sha256_file_hex(p, hex), 0, "file read");
	T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "file digest is its bytes'");
	/* the manifest, as `sha256sum a.yaml b.yaml | sha256sum` prints it */
	char man[256];
	sha256_file_hex(q, hex2);
	snprintf(man, sizeof man, "%s  a.yaml\n%s  b.yaml\n", hex, hex2);
	sha256_hex(man, strlen(man), want);
	const char *ab[] = {p, q}, *ba[] = {q, p}, *aba[] = {p, q, p};
	T_EQ_INT(sha256_files_hex(ab, 2, hex), 0, "set digest");
	T_EQ_STR(hex, want, "set digest is the sorted sha256sum manifest's");
	sha256_files_hex(ba, 2, hex2);
	T_EQ_STR(hex2, want, "order does not matter");
	sha256_files_hex(aba, 3, hex2);
	T_EQ_STR(hex2, want, "a path given twice counts once");
	sha256_files_hex(ab, 1, hex2);
	T_OK(strcmp(hex2, want) != 0, "a file left out changes it");
	unlink(q);
	T_EQ_INT(sha256_files_hex(ab, 2, hex2), -1, "an unreadable file is an error");
	unlink(p);
}

/* rules_sha256 over a model that includes another file: editing the include changes it. */
static void test_rule_set(const char *dir)
{
	char m[256], inc[256], h1[65], h2[65];
	rule_set *rs = NULL;
	ck_err e = {0};
	snprintf(m, sizeof m, "%s/toy.yaml", dir);
	snprintf(inc, sizeof inc, "%s/toy-keys.yaml", dir);
	put(m, "model: toy\nformats: [cs-2.9]\nkeys:\n  - include: toy-keys\n", "w");
	put(inc, "keys:\n  - {hf: a.weight, cs: model.a.weight}\n", "w");
	int rc = rule_set_load(m, &rs, &e);
	T_EQ_INT(rc, 0, "toy model with an include loads");
	if (rc) {
		printf("#   %s\n", e.msg);
		return;
	}
	T_EQ_INT(rs->n_files, 2, "both files are recorded");
	const char *paths[2] = {rs->files[0]->path, rs->files[1]->path};
	sha256_files_hex(paths, 2, h1);
	rule_set_free(rs);
	put(inc, "# a comment\n", "a");
	rs = NULL;
	T_EQ_INT(rule_set_load(m, &rs, &e), 0, "reloads after the edit");
	const char *paths2[2] = {rs->files[0]->path, rs->files[1]->path};
	sha256_files_hex(paths2, 2, h2);
	T_OK(strcmp(h1, h2) != 0, "editing the included file changes the digest");
	rule_set_free(rs);
	unlink(m);
	unlink(inc);
}

int main(void)
{
	char dir[] = "/tmp/test_sha256.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_vectors();
	test_files(dir);
	test_rule_set(dir);
	rmdir(dir);
	return t_done();
}
