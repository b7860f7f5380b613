/* Unit tests for fmt.c, the reference's pseudo formats resolved in one place: fmt_resolve
 * (--src-fmt cs-auto, --tgt-fmt cs-current) for HF <-> CS, on the repository's rules/ and a
 * golden packed file (run from the repository's root, as tests/run.sh does). */
#include <stdio.h>
#include <stdlib.h>
#include "fmt.h"
#include "t.h"

/* Each case: the formats given, then the formats resolved (or the error's text). */
static void test_resolve(void)
{
	static const struct {
		const char *what, *src, *src_fmt, *tgt_fmt;
		const char *want_src, *want_tgt; /* resolved, or want_err */
		int code;
		const char *want_err;
	} cases[] = {
		{"real formats are left alone", "tests/golden/llama/hf", "hf", "cs-2.4", "hf", "cs-2.4", 0, NULL},
		{"none given: none resolved", "tests/golden/llama/hf", NULL, NULL, NULL, NULL, 0, NULL},
		{"cs-current is releases.yaml's current", "tests/golden/llama/hf", NULL, "cs-current", NULL, "cs-2.9", 0, NULL},
		{"cs-auto of a directory is refused", "tests/golden/llama/hf", "cs-auto", "hf", NULL, NULL, CK_EUSAGE,
			"tests/golden/llama/hf: --src-fmt cs-auto reads the release from a packed checkpoint (.mdl), but this is a "
			"directory"},
		{"cs-auto of a file with no __metadata__ record is refused", "tests/golden/h5ck/llama_cstorch_lz4.mdl", "cs-auto",
			"hf", NULL, NULL, CK_EINVALID, "the checkpoint has no __metadata__ record with a version"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *sf = cases[i].src_fmt, *tf = cases[i].tgt_fmt;
		char *hs = NULL, *ht = NULL;
		ck_err e = {0};
		int rc = fmt_resolve(cases[i].src, "rules", &sf, &tf, &hs, &ht, &e);
		T_EQ_INT(rc, cases[i].code, cases[i].what);
		if (cases[i].code) {
			T_HAS(e.msg, cases[i].want_err, cases[i].what);
		} else {
			T_OK(sf == cases[i].want_src || (sf && cases[i].want_src && !strcmp(sf, cases[i].want_src)), "%s: source %s",
				cases[i].what, sf ? sf : "(none)");
			T_OK(tf == cases[i].want_tgt || (tf && cases[i].want_tgt && !strcmp(tf, cases[i].want_tgt)), "%s: target %s",
				cases[i].what, tf ? tf : "(none)");
			T_OK((ht != NULL) == (tf && cases[i].tgt_fmt && !strcmp(cases[i].tgt_fmt, "cs-current")),
				"%s: held only when resolved", cases[i].what);
		}
		free(hs);
		free(ht);
	}
}

int main(void)
{
	test_resolve();
	return t_done();
}
