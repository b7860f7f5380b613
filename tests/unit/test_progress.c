/* test_progress.c - the progress line fits every terminal width and keeps what matters. */
#include <string.h>
#include "progress.h"
#include "t.h"

int main(void)
{
	static const char *name = "model.transformer_decoder.layers.31.self_attn.proj_output_dense_layer.weight";
	char line[1024];
	int fits = 1, worst = 0;
	for (int cols = 1; cols <= 300 && fits; cols++) {
		progress_format(line, sizeof line, cols, "packed", name, 10, 22, 5ULL << 30, 12ULL << 30, 30);
		fits = (int)strlen(line) <= (cols > 1 ? cols - 1 : 0) || cols < 12;
		worst = cols;
	}
	T_OK(fits, "at every width from 12 to 300 the line is at most width - 1 characters (failed at %d)", worst);
	progress_format(line, sizeof line, 80, "packed", name, 10, 22, 5ULL << 30, 12ULL << 30, 30);
	T_HAS(line, "packed  41%", "80 columns: label and percentage first");
	T_HAS(line, "ETA 0:00:42", "... the ETA as h:mm:ss (7 GiB left at 170.7 MiB/s)");
	T_HAS(line, "10/22", "... the tensor count");
	T_HAS(line, "170.7 MiB/s", "... the rate");
	T_HAS(line, "...", "... the tensor name shortened in the middle");
	T_HAS(line, "dense_layer.weight", "... keeping its tail");
	progress_format(line, sizeof line, 120, "packed", name, 10, 22, 5ULL << 30, 12ULL << 30, 30);
	T_HAS(line, "[", "120 columns: a bar too");
	progress_format(line, sizeof line, 160, "packed", name, 10, 22, 5ULL << 30, 12ULL << 30, 30);
	T_HAS(line, name, "160 columns: the whole name fits");
	progress_format(line, sizeof line, 30, "packed", name, 10, 22, 5ULL << 30, 12ULL << 30, 30);
	T_EQ_STR(line, "packed  41%  ETA 0:00:42", "30 columns: percentage and ETA only");
	progress_format(line, sizeof line, 80, "packed", NULL, 0, 22, 0, 12ULL << 30, 0);
	T_HAS(line, "ETA -:--:--", "no rate yet: no ETA number");
	progress_format(line, sizeof line, 80, "hf", NULL, 22, 22, 12ULL << 30, 12ULL << 30, 3600 * 5 + 61);
	T_HAS(line, "100%", "the end: 100%");
	return t_done();
}
