#!/usr/bin/env bash
# Packed files in every storage layout a reader may meet from an honest writer, converted to HF
# and compared with hf_back byte for byte: LZ4 chunks that do not divide the shape (edge chunks,
# chunks of a few columns), chunks the optional LZ4 filter left unfiltered (filter-mask bit set),
# chunked without a filter, big-endian contiguous data, a file with a user block (chunk addresses
# are then not file offsets: read through HDF5 instead of pread). h5ck.c reads chunks itself
# (pread at the chunk's address, or H5Dread_chunk, + its own LZ4 decoder, on a thread pool), so
# this is what keeps that path exact, with 1 thread and with more threads than cores.
. "$(dirname "$0")/lib.inc"
G="$ROOT/tests/golden"
P="$G/llama/cs/params.yaml"
"$PY" "$ROOT/tools/make_cstorch_h5.py" "$G/llama/cs/model.safetensors" "$T/base.mdl" >/dev/null

relayout() { # MODE OUT: every 2-d dataset of base.mdl rebuilt in layout MODE
	cp "$T/base.mdl" "$2"
	HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins "$PY" - "$1" "$2" <<'PY'
import struct, sys
import numpy as np, h5py
mode, path = sys.argv[1:]
with h5py.File(path, "r+") as f:
    for k in list(f):
        d = f[k]
        if d.ndim != 2:
            continue
        a, attrs = d[...], dict(d.attrs)
        del f[k]
        if mode == "odd-chunks":
            n = f.create_dataset(k, data=a, chunks=(7, 5), compression=32004, compression_opts=(0,))
        elif mode == "unfiltered-chunks":  # LZ4 declared, each chunk stored raw (mask bit 0 set)
            c = (min(16, a.shape[0]), a.shape[1])
            n = f.create_dataset(k, shape=a.shape, dtype=a.dtype, chunks=c, compression=32004, compression_opts=(0,))
            for r in range(0, a.shape[0], c[0]):
                blk = np.zeros(c, a.dtype)
                part = a[r:r + c[0]]
                blk[:part.shape[0]] = part
                n.id.write_direct_chunk((r, 0), blk.tobytes(), 1)
        elif mode == "plain-chunks":
            n = f.create_dataset(k, data=a, chunks=(5, a.shape[1]))
        elif mode == "big-endian":
            n = f.create_dataset(k, data=a.astype(a.dtype.newbyteorder(">")))
        n.attrs.update(attrs)
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

for mode in odd-chunks unfiltered-chunks plain-chunks big-endian user-block; do
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

# A chunk read failing on a pool thread (the LD_PRELOAD shim of tests/fault fails the 1001st
# pread, past the metadata: ~200 reads) is one error line naming the dataset and the chunk, and
# leaves no output behind.
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || notok "build the fault shim"
mkdir -p "$T/o"
err=$(env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" CKFAULT_READ_EIO_AFTER=1000 LD_PRELOAD="$T/shim.so" "$CKCONV" convert "$T/odd-chunks.mdl" --config "$P" -o "$T/o/eio" -q 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ "$(grep -c . <<<"$err")" -eq 1 ] && grep -q "dataset '.*': chunk at \[[0-9,]*\]: read failed: Input/output error" <<<"$err" &&
	[ -z "$(ls -A "$T/o")" ]; then
	ok "a chunk read failing on a pool thread: one line naming dataset and chunk, no output"
else
	notok "a chunk read failing on a pool thread: one line naming dataset and chunk, no output"
	echo "#   rc=$rc"; sed 's/^/#   /' <<<"$err"
fi
