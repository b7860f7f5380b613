/* dlstate.h - the data-loader state files of Cerebras release 1.9 (a directory holding
 * `data_iter_checkpoint_state_file_global`, the data step, and one
 * `data_iter_state_file_worker_<W>_step_<S>.txt` per worker and step, each starting with the
 * samples that worker streamed) as the `dataloader` entry of a 2.x checkpoint, the way the
 * reference's convert_dataloader_checkpoint builds it. */
#ifndef CK_DLSTATE_H
#define CK_DLSTATE_H

#include <jansson.h>
#include "err.h"

/* *out (new): for a map-style loader (iterable 0) {samples_streamed: the workers' sum at the data
 * step, seed: 0}; for an iterable one {all_worker_states: [{samples_streamed, shard_index}, ...]}
 * by shard_index (then file name). Errors name the directory or file and what was expected; each
 * file and the workers are bounded (bounds.h). */
int dlstate_read(const char *dir, int iterable, json_t **out, ck_err *e);

#endif
