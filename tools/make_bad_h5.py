#!/usr/bin/python3
"""make_bad_h5.py - write the hostile-HDF5 cases of the bad-input corpus, tests/bad/3NN-h5-*/.

Each case is the tiny GPT-2 packed file of tools/make_bad_corpus.py (written by ckconv) with one
dataset rebuilt by h5py into something a hostile checkpoint could hold: storage outside the file
(external storage, external links, virtual datasets), links other than hard links, layouts and
filters cstorch never writes, and LZ4 chunks whose framing lies about their size. Every case must
make `convert` (or `verify`) fail with one line before reading a byte of that tensor and write
nothing (tests/e2e/bad_corpus.sh checks it; docs/security.md lists the classes).

usage: make_bad_h5.py [--ckconv bin/ckconv] [OUTDIR]   (default tests/bad; rewrites only its own
3NN-h5-* folders). Needs h5py and, for the blosc/lzf/zfp/bzip2 cases, hdf5plugin (Debian
python3-hdf5plugin).
"""
import argparse
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bad_corpus as mbc  # noqa: E402  (sets HDF5_PLUGIN_PATH before h5py loads)
import numpy as np  # noqa: E402
import h5py  # noqa: E402

try:
    import hdf5plugin  # noqa: E402
except ImportError:  # only the plugin-filter cases need it
    hdf5plugin = None

ROOT = mbc.ROOT
CS = mbc.CS
VERIFY = "verify IN/x.mdl"
VICTIM = "norm1.weight"   # the dataset each case rebuilds: float32 (8,), 32 bytes
CASES = []


def case(num, name, args, expect, mdl, files=None, stdout=None):
    CASES.append(dict(num=num, name="h5-" + name, args=args, expect=expect, files=files or {}, mdl=mdl,
                      params="keep", rules=None, out_before={}, stdout=stdout))


def replace(f, name, make):
    """Replace dataset `name` by make(f, name, data) (which creates the new object under `name` and
    returns it, or None for a link), keeping the dataset's attributes."""
    d = f[name]
    a, attrs = d[...], dict(d.attrs)
    del f[name]
    obj = make(f, name, a)
    if obj is not None:
        obj.attrs.update(attrs)


def rebuild(f, make):
    """replace() the victim dataset; its name"""
    name = mbc.ds_name(f, VICTIM)
    replace(f, name, make)
    return name


def every_2d(make):
    """An edit that replace()s every 2-d dataset (the storage layouts of tests/e2e/h5layouts.sh and
    the fuzz seeds of tests/fuzz/make_convert_corpus.py)."""
    def edit(f):
        for k in [k for k in f if f[k].ndim == 2]:
            replace(f, k, make)
    return edit


def external(path):
    def edit(f):
        rebuild(f, lambda f, n, a: f.create_dataset(n, shape=a.shape, dtype=a.dtype,
                                                    external=[(path, 0, a.nbytes)]))
    return edit


def other_h5():
    """Bytes of a second HDF5 file holding the victim tensor at /data (what links point at)."""
    with tempfile.TemporaryDirectory() as t:
        p = os.path.join(t, "other.h5")
        with h5py.File(p, "w") as f:
            f.create_dataset("data", data=np.full((8,), 7.0, "<f4"))
        with open(p, "rb") as fp:
            return fp.read()


def ext_link(f):
    rebuild(f, lambda f, n, a: f.__setitem__(n, h5py.ExternalLink("other.h5", "/data")))


def soft_link(f):
    rebuild(f, lambda f, n, a: f.__setitem__(n, h5py.SoftLink("/" + mbc.ds_name(f, "norm3.weight"))))


def virtual(f):
    def make(f, n, a):
        lay = h5py.VirtualLayout(shape=a.shape, dtype=a.dtype)
        lay[:] = h5py.VirtualSource("other.h5", "data", shape=a.shape)
        return f.create_virtual_dataset(n, lay)
    rebuild(f, make)


def compact(f):
    def make(f, n, a):
        sp = h5py.h5s.create_simple(a.shape)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        h5py.h5d.create(f.id, n.encode(), h5py.h5t.IEEE_F32LE, sp, dcpl)
        f[n][...] = a
        return f[n]
    rebuild(f, make)



def filtered(**kw):
    """The victim rebuilt chunked with a filter cstorch never writes (h5py / hdf5plugin options)."""
    def edit(f):
        rebuild(f, lambda f, n, a: f.create_dataset(n, data=a, chunks=a.shape, **kw))
    return edit


def lz4_chunk(payload):
    """The victim rebuilt as cstorch writes it (chunked, LZ4) with its one chunk replaced by raw
    bytes `payload(a)` (a: the tensor), written past the filter."""
    def edit(f):
        def make(f, n, a):
            d = f.create_dataset(n, data=a, chunks=a.shape, **hdf5plugin.LZ4())
            d.id.write_direct_chunk((0,), payload(a), 0)
            return d
        rebuild(f, make)
    return edit


def lz4_frame(size, block, blocks):
    """HDF5 LZ4 filter framing: u64 size, u32 block size, then (u32 length, bytes) per block."""
    return struct.pack(">QI", size, block) + b"".join(struct.pack(">I", len(b)) + b for b in blocks)


def lz4_block_of_zeros(n):
    """One LZ4 block (raw block format, no frame) decoding to n zero bytes: a literal zero, then
    matches at offset 1 (the last 5 bytes are literals, as the format requires)."""
    out = bytearray([0x10, 0x00])            # 1 literal (0x00), then a match...
    out += struct.pack("<H", 1)               # ...at offset 1
    rest = n - 1 - 5                          # match length to produce
    ml = rest - 4                             # beyond the 4-byte minimum
    out[0] = 0x10 | 0x0F
    ml -= 15
    while ml >= 255:
        out.append(255)
        ml -= 255
    out.append(ml)
    out += bytes([0x50]) + bytes(5)           # 5 final literals
    return bytes(out)


def never_written(chunked):
    def edit(f):
        rebuild(f, lambda f, n, a: f.create_dataset(n, shape=a.shape, dtype=a.dtype,
                                                    **({"chunks": a.shape, **hdf5plugin.LZ4()} if chunked else {})))
    return edit


case(301, "external-storage-parent", CS, "has external storage (file '../secret.txt')", external("../secret.txt"),
     files={"secret.txt": b"a secret the checkpoint must not read\n"})
case(302, "external-storage-passwd", CS, "has external storage (file '/etc/passwd')", external("/etc/passwd"))
case(303, "external-storage-verify", VERIFY, "has external storage (file '/etc/passwd')", external("/etc/passwd"))
case(304, "external-link", CS, "is an external link (to 'other.h5')", ext_link, files={"other.h5": other_h5()})
case(305, "external-link-verify", VERIFY, "is an external link (to 'other.h5')", ext_link,
     files={"other.h5": other_h5()})
case(306, "virtual", CS, "has virtual layout", virtual, files={"other.h5": other_h5()})
case(307, "virtual-verify", VERIFY, "has virtual layout", virtual, files={"other.h5": other_h5()})
case(308, "soft-link", CS, "is a soft link", soft_link)
case(309, "compact", CS, "has compact layout", compact)
case(310, "filter-bzip2", CS, "uses the bzip2 filter (id 307)", filtered(**hdf5plugin.BZip2()))
case(311, "filter-blosc", CS, "uses the blosc filter (id 32001)", filtered(**hdf5plugin.Blosc()))
case(312, "filter-lzf", CS, "uses the lzf filter (id 32000)", filtered(compression="lzf"))
case(313, "filter-zfp", CS, "uses the zfp filter (id 32013)", filtered(**hdf5plugin.Zfp(rate=16)))
case(314, "filter-gzip", CS, "uses the deflate (gzip) filter (id 1)", filtered(compression="gzip"))
case(315, "filter-shuffle-lz4", CS, "uses the shuffle filter (id 2)", filtered(shuffle=True, **hdf5plugin.LZ4()))
case(316, "filter-verify-bzip2", VERIFY, "uses the bzip2 filter (id 307)", filtered(**hdf5plugin.BZip2()))
# LZ4 chunks that lie: the 32-byte chunk claims 1 GiB; a block claims more bytes than the chunk
# holds; garbage where a block should be; a valid 8 MiB block of zeros (an LZ4 bomb; HDF5 stores at most 64 KiB for a 32-byte chunk) in a 32-byte
# chunk. Found while streaming, so -q (the plan line would go to stdout first).
case(320, "lz4-size-header-1g", CS + " -q", "chunk at [0]: its LZ4 header declares a decoded size other than the chunk's",
     lz4_chunk(lambda a: lz4_frame(1 << 30, 0, [a.tobytes()])))
case(321, "lz4-block-past-end", CS + " -q", "chunk at [0]: LZ4 block runs past the end of the chunk",
     lz4_chunk(lambda a: struct.pack(">QII", a.nbytes, 0, 4096) + b"\0" * 20))
case(322, "lz4-garbage-block", CS + " -q", "chunk at [0]: LZ4 block does not decode to its declared size",
     lz4_chunk(lambda a: lz4_frame(a.nbytes, 0, [b"\xff" * 20])))
case(323, "lz4-bomb", CS + " -q", "chunk at [0] stores 32923 bytes, too many for its 32-byte size",
     lz4_chunk(lambda a: lz4_frame(8 << 20, 0, [lz4_block_of_zeros(8 << 20)])))
case(324, "lz4-bomb-in-right-size", CS + " -q", "chunk at [0] stores 4138 bytes, too many for its 32-byte size",
     lz4_chunk(lambda a: lz4_frame(a.nbytes, 0, [lz4_block_of_zeros(1 << 20)])))
case(325, "lz4-verify-size-header", VERIFY, "1 of 22 tensors damaged (first: 'model.transformer_decoder.layers.0.norm1.weight')",
     lz4_chunk(lambda a: lz4_frame(1 << 30, 0, [a.tobytes()])), stdout="chunk at [0]: its LZ4 header declares a decoded size")
case(326, "never-written-chunked", CS, "its data was never written (no storage for 32 bytes", never_written(True))
case(327, "never-written-contiguous", CS, "its data was never written (no storage for 32 bytes", never_written(False))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckconv", default=os.path.join(ROOT, "bin", "ckconv"))
    ap.add_argument("outdir", nargs="?", default=os.path.join(ROOT, "tests", "bad"))
    a = ap.parse_args()
    if len({c["num"] for c in CASES}) != len(CASES):
        sys.exit("duplicate case numbers")
    for old in os.listdir(a.outdir):  # this script's folders only
        num, _, rest = old.partition("-")
        if num.isdigit() and rest.startswith("h5-"):
            shutil.rmtree(os.path.join(a.outdir, old))
    tmp = os.path.join(ROOT, "build", "bad-h5-base")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        base_mdl, base_params = mbc.make_base(os.path.abspath(a.ckconv), tmp)
        for c in CASES:
            mbc.write_case(a.outdir, c["num"], c, base_mdl, base_params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("wrote %d cases into %s" % (len(CASES), a.outdir))


if __name__ == "__main__":
    main()
