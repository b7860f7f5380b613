#!/usr/bin/python3
"""make_convert_corpus.py - the seeds of fuzz_convert (tests/fuzz/corpus/convert/): the tiny GPT-2
packed file of tools/make_bad_corpus.py (written by bin/ckconv, params as in fuzz_convert.c) in
every storage feature an HDF5 writer can produce, each a whole .mdl. Run from the repository root:
/usr/bin/python3 tests/fuzz/make_convert_corpus.py  (needs h5py and hdf5plugin)."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_bad_h5 as bh  # noqa: E402  (make_bad_corpus first: the plugin path)
import h5py  # noqa: E402
import hdf5plugin  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "convert")


def unfiltered_chunks(f, k, a):
    n = f.create_dataset(k, shape=a.shape, dtype=a.dtype, chunks=(4, a.shape[1]), **hdf5plugin.LZ4())
    for r in range(0, a.shape[0], 4):
        n.id.write_direct_chunk((r, 0), np.ascontiguousarray(a[r:r + 4]).tobytes(), 1)
    return n


SEEDS = {
    "contiguous": None,
    "lz4-guessed-chunks": bh.every_2d(lambda f, k, a: f.create_dataset(k, data=a, chunks=True, **hdf5plugin.LZ4())),
    "lz4-odd-chunks": bh.every_2d(lambda f, k, a: f.create_dataset(k, data=a, chunks=(3, 5), **hdf5plugin.LZ4())),
    "lz4-unfiltered-chunks": bh.every_2d(unfiltered_chunks),
    "plain-chunks": bh.every_2d(lambda f, k, a: f.create_dataset(k, data=a, chunks=(5, a.shape[1]))),
    "big-endian": bh.every_2d(lambda f, k, a: f.create_dataset(k, data=a.astype(">f4"))),
    "compact": bh.compact,
    "external-storage": bh.external("../secret.txt"),
    "external-link": bh.ext_link,
    "soft-link": bh.soft_link,
    "virtual": bh.virtual,
    "fill-only-chunked": bh.never_written(True),
    "fill-only-contiguous": bh.never_written(False),
    "bzip2": bh.filtered(**hdf5plugin.BZip2()),
    "gzip": bh.filtered(compression="gzip"),
    "lz4-size-header": bh.lz4_chunk(lambda a: bh.lz4_frame(1 << 30, 0, [a.tobytes()])),
}


def cstorch_seed(base, dst):
    """The same tensors written the way cstorch writes them (tools/make_cstorch_h5.py: h5py's
    defaults, so the root attributes sit in compact storage in a version-1 object header, which
    ckconv reads itself, h5raw.c); ckconv's own files keep them in dense storage, read by HDF5."""
    import make_cstorch_h5 as mc
    st_of = {np.dtype(v[0]).str: k for k, v in mc.DTYPES.items() if k != "BF16"}
    with h5py.File(base, "r") as f:
        tensors = [(k, st_of[f[k].dtype.str], list(f[k].shape), f[k][()]) for k in sorted(f)]
    with h5py.File(dst, "w") as f:
        mc.write_v05(tensors, f)


def main():
    tmp = os.path.join(ROOT, "build", "fuzz-convert-base")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    try:
        base, _ = bh.mbc.make_base(os.path.join(ROOT, "bin", "ckconv"), tmp)
        subprocess.run([os.path.join(ROOT, "bin", "ckconv"), "convert", os.path.join(tmp, "hf"), "--model", "gpt2",
                        "-o", os.path.join(tmp, "lz4.mdl"), "--compress", "lz4", "-q"], check=True)
        shutil.copyfile(os.path.join(tmp, "lz4.mdl"), os.path.join(OUT, "ckconv-lz4.mdl"))
        cstorch_seed(base, os.path.join(OUT, "cstorch-h5py.mdl"))
        for name, edit in SEEDS.items():
            dst = os.path.join(OUT, name + ".mdl")
            shutil.copyfile(base, dst)
            if edit:
                with h5py.File(dst, "r+") as f:
                    edit(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("wrote %d seeds into %s" % (len(os.listdir(OUT)), OUT))


if __name__ == "__main__":
    main()
