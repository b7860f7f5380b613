#!/usr/bin/python3
"""bench_cast_check.py - `make bench`'s cast case: a bf16 HF directory cast to f32 and back to
bf16 (--dtype) must hold the same bits as the original, except that a NaN may come back with
its quiet bit set (f32 -> bf16 keeps sign and top payload bits and sets quiet, as PyTorch does).

usage: bench_cast_check.py ORIG_DIR ROUND_TRIP_DIR     exit 0 when they agree, 1 (with the key) when not
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stfile  # noqa: E402


def main(a_dir, b_dir):
    a, b = stfile.read_dir(a_dir), stfile.read_dir(b_dir)
    if sorted(a) != sorted(b):
        print("keys differ:", sorted(set(a) ^ set(b))[:5])
        return 1
    for k in sorted(a):
        (da, x), (db, y) = a[k], b[k]
        if da != "BF16" or db != "BF16" or x.shape != y.shape:
            print(f"{k}: {da} {list(x.shape)} vs {db} {list(y.shape)}")
            return 1
        x, y = x.view(np.uint16), y.view(np.uint16)
        nan = (x & 0x7F80) == 0x7F80
        nan &= (x & 0x007F) != 0
        if not np.array_equal(x[~nan], y[~nan]) or not np.array_equal((x[nan] | 0x0040), y[nan]):
            print(f"{k}: values differ")
            return 1
    print(f"match ({len(a)} tensors)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
