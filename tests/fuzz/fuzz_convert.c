/* fuzz_convert.c - whole `convert` runs (CS -> HF) of a tiny GPT-2 on a mutated packed file.
 * Input: the bytes of x.mdl. Written beside a fixed params file, then
 *   ckconv convert x.mdl --config x.yaml -o out --rules RULES -q
 * runs in-process; the output is removed after each run. A run may fail (most mutations are
 * refused); it must not crash, leak, hang or read outside the file. The seeds
 * (make_convert_corpus.py) hold every storage feature a writer can produce: contiguous, chunked,
 * LZ4, unfiltered chunks of an LZ4 dataset, compact, external storage, external and soft links,
 * virtual, fill value only, other filters. libhdf5 reads the file's metadata first in h5ck's
 * sandboxed child (docs/security.md): its own crashes and hangs there are refusals, not crashes. */
#include <sys/stat.h>
#include "fuzz.h"
#include "cli.h"
#include "h5ck.h"

static const char params[] =
	"model:\n"
	"  attention_dropout_rate: 0.1\n"
	"  attention_type: scaled_dot_product\n"
	"  dropout_rate: 0.1\n"
	"  embedding_dropout_rate: 0.1\n"
	"  filter_size: 32\n"
	"  hidden_size: 8\n"
	"  initializer_range: 0.02\n"
	"  layer_norm_epsilon: 1.0e-05\n"
	"  max_position_embeddings: 8\n"
	"  name: gpt2\n"
	"  nonlinearity: gelu_new\n"
	"  num_heads: 2\n"
	"  num_hidden_layers: 1\n"
	"  share_embedding_weights: true\n"
	"  use_bias_in_output: false\n"
	"  vocab_size: 16\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char mdl[4096], yaml[4096], out[4096];
	static int ready;
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!ready) {
		fuzz_path("x.mdl", mdl);
		fuzz_path("x.yaml", yaml);
		fuzz_path("out", out);
		fuzz_write(yaml, (const uint8_t *)params, sizeof params - 1);
		/* libhdf5's own hangs end in the sandbox well inside libFuzzer's -timeout (10 s) */
		h5ck_sandbox_limits(2, 6);
		ready = 1;
	}
	fuzz_write(mdl, data, size);
	char *argv[] = {"convert", mdl, "--config", yaml, "-o", out, "--rules", FUZZ_RULES_DIR, "-q", NULL};
	ck_err e = {0};
	(void)cli_convert(9, argv, &e);
	cli_remove_tree(out);
	return 0;
}
