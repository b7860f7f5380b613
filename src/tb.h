/* tb.h - PyTorch checkpoints (`pytorch_model.bin`, as torch.save writes them since 1.6: a zip
 * whose `<name>/data.pkl` describes the state dict and `<name>/data/<key>` hold the storages)
 * as a tensor source, without PyTorch. The pickle goes through the restricted reader of
 * pickle.h; storages are read in place from the stored (uncompressed) zip members. */
#ifndef CK_TB_H
#define CK_TB_H

#include "err.h"
#include "tensor.h"

#define TB_SINGLE_NAME "pytorch_model.bin"
#define TB_INDEX_NAME "pytorch_model.bin.index.json"
#define TB_MAX_MEMBERS 2000000 /* zip entries */
#define TB_MAX_NAME 1024       /* zip entry name bytes */

/* `path` is a .bin file, a pytorch_model.bin.index.json shard index, or a directory holding
 * pytorch_model.bin or pytorch_model.bin.index.json (index preferred). Tensors come in
 * state-dict order (for an index: weight_map order); views with strides are gathered into
 * row-major order when read. */
int tb_open(const char *path, ck_tsrc **out, ck_err *e);

/* 1 when the file starts like a zip archive. */
int tb_is_zip(const char *path);

#endif
