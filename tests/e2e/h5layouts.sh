#!/usr/bin/env bash
# Packed files in every storage layout a reader may meet from an honest writer, converted to HF
# and compared with hf_back byte for byte: LZ4 chunks that do not divide the shape (edge chunks,
# chunks of a few columns), chunks the optional LZ4 filter left unfiltered (filter-mask bit set),
# chunks stored last to first, chunked without a filter, big-endian contiguous data, a file with
# a user block (chunk addresses are then not file offsets: read through HDF5 instead of pread).
# h5ck.c reads chunks itself (pread at the chunk's address, one pread per run of chunks stored
# back to back, or H5Dread_chunk, + its own LZ4 decoder, on a thread pool), so this is what keeps
# that path exact, with 1 thread and with more threads than cores.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
P="$G/llama/cs/params.yaml"
"$PY" "$ROOT/tools/make_cstorch_h5.py" "$G/llama/cs/model.safetensors" "$T/base.mdl" >/dev/null

relayout() { # MODE OUT: every 2-d dataset of base.mdl rebuilt in layout MODE
	cp "$T/base.mdl" "$2"
	"$PY" - "$ROOT/tools" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import make_bad_h5 as bh  # every_2d (make_bad_corpus sets the LZ4 plugin path first)
import numpy as np, h5py
mode, path = sys.argv[2:]
LZ4 = dict(compression=32004, compression_opts=(0,))


def raw_chunks(f, k, a, c, order=lambda origins: origins):
    """LZ4 declared, each chunk of shape c stored raw (filter mask bit 0 set), in the given order"""
    n = f.create_dataset(k, shape=a.shape, dtype=a.dtype, chunks=c, **LZ4)
    origins = [(r, q) for r in range(0, a.shape[0], c[0]) for q in range(0, a.shape[1], c[1])]
    for r, q in order(origins):
        blk = np.zeros(c, a.dtype)
        part = a[r:r + c[0], q:q + c[1]]
        blk[:part.shape[0], :part.shape[1]] = part
        n.id.write_direct_chunk((r, q), blk.tobytes(), 1)
    return n


MODES = {
    "odd-chunks": lambda f, k, a: f.create_dataset(k, data=a, chunks=(7, 5), **LZ4),
    "unfiltered-chunks": lambda f, k, a: raw_chunks(f, k, a, (min(16, a.shape[0]), a.shape[1])),
    # raw chunks of half rows stored last to first: no two neighbours in the file are read together
    "reverse-chunks": lambda f, k, a: raw_chunks(f, k, a, (min(16, a.shape[0]), max(1, a.shape[1] // 2)), reversed),
    "plain-chunks": lambda f, k, a: f.create_dataset(k, data=a, chunks=(5, a.shape[1])),
    "big-endian": lambda f, k, a: f.create_dataset(k, data=a.astype(a.dtype.newbyteorder(">"))),
}
with h5py.File(path, "r+") as f:
    bh.every_2d(MODES[mode])(f)
PY
}
userblock() { # OUT: base.mdl copied into a file with a 512-byte user block
	"$PY" - "$T/base.mdl" "$1" <<'PY'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as s, h5py.File(sys.argv[2], "w", userblock_size=512) as d:
    d.attrs.update(dict(s.attrs))
    for k in s:
        s.copy(k, d)
PY
}

for mode in odd-chunks unfiltered-chunks reverse-chunks plain-chunks big-endian user-block; do
	if [ $mode = user-block ]; then userblock "$T/$mode.mdl"; else relayout $mode "$T/$mode.mdl"; fi
	check "$mode: converts to HF" "$CKCONV" convert "$T/$mode.mdl" --config "$P" -o "$T/$mode" -q
	check "$mode: tensors equal hf_back" $CHECK st-vs-st "$T/$mode" "$G/llama/hf_back"
	check "$mode: verify reads every tensor back" "$CKCONV" verify "$T/$mode.mdl"
done

# The same bytes whatever the number of decoding threads (CKCONV_THREADS, pool.h).
for th in 1 4; do
	check "odd-chunks, $th thread(s): converts" env CKCONV_THREADS=$th "$CKCONV" convert "$T/odd-chunks.mdl" --config "$P" -o "$T/th$th" -q
	check "odd-chunks, $th thread(s): tensors equal hf_back" $CHECK st-vs-st "$T/th$th" "$G/llama/hf_back"
done

# A chunk read failing (the LD_PRELOAD shim of tests/fault fails every pread that covers one byte
# in the middle of the largest dataset's chunks) is one error line naming the dataset and a chunk,
# and leaves no output behind: in odd-chunks the read of a run of chunks stored back to back,
# in reverse-chunks (no two read together, the dataset's chunks spread over the pool) one chunk's.
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || notok "build the fault shim"
for mode in odd-chunks reverse-chunks; do
	at=$("$PY" - "$T/$mode.mdl" <<'PY'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    d = max((f[k] for k in f if isinstance(f[k], h5py.Dataset) and f[k].chunks), key=lambda d: d.id.get_num_chunks())
    c = d.id.get_chunk_info(d.id.get_num_chunks() // 2)
    print(c.byte_offset + c.size // 2)
PY
)
	rm -rf "$T/o" && mkdir -p "$T/o"
	err=$(env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" CKCONV_THREADS=4 CKFAULT_READ_EIO_AT="$at" \
		LD_PRELOAD="$T/shim.so" "$CKCONV" convert "$T/$mode.mdl" --config "$P" -o "$T/o/eio" -q 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && [ "$(grep -c . <<<"$err")" -eq 1 ] &&
		grep -q "dataset '.*': chunk at \[[0-9,]*\]: read failed: Input/output error" <<<"$err" && [ -z "$(ls -A "$T/o")" ]; then
		ok "$mode: a chunk read failing: one line naming dataset and chunk, no output"
	else
		notok "$mode: a chunk read failing: one line naming dataset and chunk, no output"
		echo "#   rc=$rc"; sed 's/^/#   /' <<<"$err"
	fi
done
