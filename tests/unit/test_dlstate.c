/* test_dlstate.c - R1.9 data-loader state files as a `dataloader` entry (dlstate.c), on scratch
 * directories: the reference's convert_dataloader_checkpoint's results for map and iterable
 * loaders, and one clear error per malformed input. */
#include <stdlib.h>
#include <unistd.h>
#include "dlstate.h"
#include "t.h"

static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

static void check(const char *dir, int iterable, const char *want, const char *name)
{
	json_t *out = NULL;
	ck_err e = {0};
	int rc = dlstate_read(dir, iterable, &out, &e);
	char *got = dump(out);
	T_OK(rc == 0, "%s: reads (%s)", name, e.msg);
	T_EQ_STR(got, want, name);
	free(got);
	json_decref(out);
}

static void refused(const char *dir, const char *msg, const char *name)
{
	json_t *out = NULL;
	ck_err e = {0};
	T_OK(dlstate_read(dir, 0, &out, &e) != 0 && !out, "%s: refused", name);
	T_HAS(e.msg, msg, name);
}

static void cleanup(const char *dir, const char *const *names)
{
	for (; *names; names++)
		unlink(t_at(dir, *names));
	rmdir(dir);
}

int main(void)
{
	char d[] = "/tmp/test_dlstate.XXXXXX";
	static const char *const files[] = {"data_iter_checkpoint_state_file_global",
		"data_iter_state_file_worker_1_step_200.txt", "data_iter_state_file_worker_0_step_200.txt",
		"data_iter_state_file_worker_0_step_100.txt", "notes.md", NULL};
	T_OK(mkdtemp(d) != NULL, "scratch directory");
	t_put(d, files[0], "200\n");
	t_put(d, files[1], " 70 \n");
	t_put(d, files[2], "30\n");
	t_put(d, files[3], "999\n");   /* another step: not read */
	t_put(d, files[4], "not a state file");
	check(d, 0, "{\"samples_streamed\":100,\"seed\":0}", "map: the workers' samples at the data step, summed");
	check(d, 1, "{\"all_worker_states\":[{\"samples_streamed\":30,\"shard_index\":0},"
		"{\"samples_streamed\":70,\"shard_index\":1}]}", "iterable: one state per worker, by shard index");

	t_put(d, files[1], "seventy\n");
	refused(d, "data_iter_state_file_worker_1_step_200.txt: expected an integer on the first line", "a worker file without a number");
	t_put(d, files[1], "-5\n");
	refused(d, "expected a count of samples, found -5", "a negative count");
	t_put(d, files[1], "70\n");
	t_put(d, "stray.txt", "1\n");
	refused(d, "stray.txt: expected a worker file named data_iter_state_file_worker_<W>_step_<S>.txt", "another .txt file");
	unlink(t_at(d, "stray.txt"));
	unlink(t_at(d, files[0]));
	refused(d, "expected the file data_iter_checkpoint_state_file_global", "no global step file");
	refused("/nonexistent/dlstate", "data_iter_checkpoint_state_file_global", "no directory");
	cleanup(d, files);
	return t_done();
}
