#!/usr/bin/python3
"""Reference vectors for src/cast.c: tests/golden/cast/<from>_<to>.bin.

    /usr/bin/python3 tools/cast_vectors.py [OUTDIR]      (default tests/golden/cast)

Each file is a run of records, little-endian: the input's bits (size of <from>) then the
expected output's bits (size of <to>). For an expected NaN the bits are a canonical quiet NaN
with the input's sign; the test checks "is NaN" and the sign only, never the payload.

The expected values are computed here from exact rationals (fractions.Fraction), by two
methods that share no code with the C (and little with each other), and cross-checked:
  - by enumeration, for the 16-bit targets: every finite f16/bf16 value as a Fraction,
    sorted; the nearest one is found by bisection and ties go to the even bit pattern;
  - by arithmetic, for any format: find the binade, scale to an integer quantum, and let
    Python's round() (half to even on a Fraction) round;
  - and against numpy wherever numpy has the pair (f32->f16, f64->f32, f16->f32, and
    numpy's once-rounded f64->f16 against our once-rounded reference).
numpy is only used as that cross-check and to draw random bits; the output is deterministic.

f64 -> f16 and f64 -> bf16 round twice, through f32, as PyTorch's CPU kernels do (see
src/cast.h); VIA_F32 below says so, and the script prints how many vectors would differ had
they rounded once (numpy's float64 -> float16 rounds once).
"""
import bisect
import os
import random
import struct
import sys
from fractions import Fraction

import numpy as np

VIA_F32 = True  # f64 -> f16/bf16 as PyTorch: double -> float -> 16 bits

FMT = {'f16': (5, 10), 'bf16': (8, 7), 'f32': (8, 23), 'f64': (11, 52)}
SIZE = {'f16': 2, 'bf16': 2, 'f32': 4, 'f64': 8}
PACK = {2: '<H', 4: '<I', 8: '<Q'}
RANDOM_PER_PAIR = 10000


def params(fmt):
    e, m = FMT[fmt]
    bias = (1 << (e - 1)) - 1
    return e, m, bias, 1 - bias, (1 << e) - 2 - bias  # ebits, mbits, bias, emin, emax


def inf_bits(fmt):
    e, m = FMT[fmt]
    return ((1 << e) - 1) << m


def nan_bits(fmt, neg):
    e, m = FMT[fmt]
    return (neg << (e + m)) | inf_bits(fmt) | (1 << (m - 1))


def decode(fmt, bits):
    """(kind, negative, magnitude): kind is 'nan', 'inf' or 'num' (magnitude a Fraction)."""
    e, m, bias, _, _ = params(fmt)
    neg = (bits >> (e + m)) & 1
    ex = (bits >> m) & ((1 << e) - 1)
    man = bits & ((1 << m) - 1)
    if ex == (1 << e) - 1:
        return ('nan' if man else 'inf', neg, None)
    if ex == 0:
        return ('num', neg, Fraction(man, 1 << m) * Fraction(2) ** (1 - bias))
    return ('num', neg, Fraction((1 << m) + man, 1 << m) * Fraction(2) ** (ex - bias))


def floor_log2(x):
    """k with 2^k <= x < 2^(k+1), for a positive Fraction."""
    k = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** k > x:
        k -= 1
    while Fraction(2) ** (k + 1) <= x:
        k += 1
    return k


def round_arith(fmt, x):
    """Bits of the non-negative Fraction x rounded to nearest even in fmt (inf on overflow)."""
    e, m, bias, emin, emax = params(fmt)
    if x == 0:
        return 0
    q = max(floor_log2(x), emin) - m          # exponent of the quantum (ulp) at x
    n = round(x / Fraction(2) ** q)            # Fraction.__round__: half to even
    if n == 1 << (m + 1):                      # rounded up into the next binade
        n, q = n >> 1, q + 1
    if n < 1 << m:                             # subnormal (or zero)
        return n
    ex = q + m + bias
    if ex >= (1 << e) - 1:
        return inf_bits(fmt)
    return (ex << m) | (n - (1 << m))


class Table:
    """Every finite non-negative value of a 16-bit format, sorted, for rounding by search.
    One virtual entry past the largest finite value, 2^(emax+1), stands for inf: its bit
    pattern (the inf pattern) is even, so a tie at the overflow threshold goes to inf, which
    is IEEE's rule (round as if the exponent were unbounded, then overflow)."""

    def __init__(self, fmt):
        self.fmt = fmt
        _, _, _, _, emax = params(fmt)
        pairs = [(decode(fmt, b)[2], b) for b in range(inf_bits(fmt))]
        pairs.append((Fraction(2) ** (emax + 1), inf_bits(fmt)))
        pairs.sort()
        self.vals = [v for v, _ in pairs]
        self.bits = [b for _, b in pairs]

    def round(self, x):
        if x >= self.vals[-1]:
            return self.bits[-1]
        i = bisect.bisect_right(self.vals, x) - 1  # vals[i] <= x < vals[i+1]
        lo, hi = self.vals[i], self.vals[i + 1]
        if x - lo < hi - x:
            return self.bits[i]
        if x - lo > hi - x:
            return self.bits[i + 1]
        return self.bits[i] if self.bits[i] % 2 == 0 else self.bits[i + 1]


TABLES = {}


def round_to(fmt, x):
    """Round the non-negative Fraction x into fmt; both methods must agree on 16-bit formats."""
    a = round_arith(fmt, x)
    if fmt in ('f16', 'bf16'):
        if fmt not in TABLES:
            TABLES[fmt] = Table(fmt)
        b = TABLES[fmt].round(x)
        if a != b:
            raise SystemExit(f'reference methods disagree on {x} -> {fmt}: {a:#x} vs {b:#x}')
    return a


def convert(src, bits, dst, via=None):
    """Expected dst bits for src bits; via='f32' rounds through f32 first."""
    kind, neg, mag = decode(src, bits)
    e, m = FMT[dst]
    sign = neg << (e + m)
    if kind == 'nan':
        return nan_bits(dst, neg)
    if kind == 'inf':
        return sign | inf_bits(dst)
    if via:
        mid = round_to(via, mag)
        return convert(via, (neg << sum(FMT[via])) | mid, dst)
    return sign | round_to(dst, mag)


def encode_exact(fmt, x):
    """Bits of the Fraction x (sign included), which must be exactly representable."""
    neg = x < 0
    b = round_to(fmt, abs(x))
    kind, _, mag = decode(fmt, b)
    if kind != 'num' or mag != abs(x):
        raise ValueError(f'{x} is not exact in {fmt}')
    return (neg << sum(FMT[fmt])) | b


# --- inputs -------------------------------------------------------------------------------

def target_picks(fmt, rng):
    """Bit patterns of the target worth probing around: the edges of every region."""
    e, m, _, _, _ = params(fmt)
    top = inf_bits(fmt) - 1                      # largest finite
    one = encode_exact(fmt, Fraction(1))
    two = encode_exact(fmt, Fraction(2))
    sub_max = (1 << m) - 1
    picks = {0, 1, 2, 3, 4, 5, sub_max // 2, sub_max - 2, sub_max - 1, sub_max,
             1 << m, (1 << m) + 1, (1 << m) + 2, one - 1, one, one + 1, one + 2,
             two - 2, two - 1, two, top - 2, top - 1, top}
    picks.update(rng.randrange(0, top + 1) for _ in range(40))
    return sorted(picks)


def probes_near(src, x):
    """Source bit patterns at x (if exact) and one source ulp either side, both signs."""
    out = []
    try:
        b = encode_exact(src, x)
    except ValueError:
        b = round_to(src, x)
    n = sum(FMT[src])
    for d in (-1, 0, 1):
        c = b + d
        if 0 <= c < inf_bits(src):
            out += [c, c | (1 << n)]
    return out


def special_inputs(src, dst, rng):
    e, m = FMT[src]
    n = e + m
    inf = inf_bits(src)
    out = [0, 1 << n, inf, inf | (1 << n)]
    # NaNs: quiet, signalling with the payload only in bits the target drops, all ones
    for payload in (1 << (m - 1), 1, (1 << (m - 1)) | 1, (1 << m) - 1, 1 << (m - 2), 0x5 << max(m - 12, 0)):
        out += [inf | payload, inf | payload | (1 << n)]
    # the source's own edges
    out += [1, 2, (1 << m) - 1, 1 << m, inf - 1, encode_exact(src, Fraction(1))]
    out += [(1 << n) | b for b in (1, (1 << m) - 1, inf - 1)]
    out += [rng.randrange(1, 1 << m) for _ in range(20)]     # source subnormals
    if SIZE[dst] >= SIZE[src]:
        return out
    # ties between neighbouring targets, the target values themselves, a source ulp around
    for t in target_picks(dst, rng):
        lo = decode(dst, t)[2]
        hi = decode(dst, t + 1)[2] if t + 1 < inf_bits(dst) else \
            Fraction(2) ** (params(dst)[4] + 1)        # past the largest: the inf threshold
        out += probes_near(src, lo)
        out += probes_near(src, (lo + hi) / 2)
        if src == 'f64' and dst != 'f32':
            # just off a tie, closer than half an f32 ulp: f32 lands on the tie, so rounding
            # once and rounding twice disagree here
            mid = encode_exact('f64', (lo + hi) / 2)
            for k in (1, 1 << 10, 1 << 27):
                out += [mid - k, mid + k, (mid - k) | (1 << 63), (mid + k) | (1 << 63)]
    return out


def random_inputs(src, dst, rng, nrng, count):
    e, m = FMT[src]
    n = e + m
    width = 8 * SIZE[src]
    if width == 16:                              # distinct patterns, a sixth of them all
        return rng.sample(range(1 << 16), count)
    out = [int(v) for v in nrng.integers(0, 1 << width, size=count * 4 // 10, dtype=np.uint64)]
    if SIZE[dst] >= SIZE[src]:
        out += [int(v) for v in nrng.integers(0, 1 << width, size=count - len(out), dtype=np.uint64)]
        return out
    # the rest inside the target's range and a little past both ends
    de, dm, _, demin, demax = params(dst)
    _, _, sbias, _, _ = params(src)
    while len(out) < count * 9 // 10:
        k = rng.randint(demin - dm - 3, demax + 2)
        ex = k + sbias
        if not 0 < ex < (1 << e) - 1:
            continue
        out.append((rng.getrandbits(1) << n) | (ex << m) | rng.getrandbits(m))
    while len(out) < count:                      # random exact ties
        t = rng.randrange(0, inf_bits(dst) - 1)
        mid = (decode(dst, t)[2] + decode(dst, t + 1)[2]) / 2
        out.append((rng.getrandbits(1) << n) | encode_exact(src, mid))
    return out


# --- numpy cross-checks -------------------------------------------------------------------

NP = {'f16': (np.uint16, np.float16), 'f32': (np.uint32, np.float32), 'f64': (np.uint64, np.float64)}


def same(dst, a, b):
    ka, na, _ = decode(dst, a)
    kb, nb, _ = decode(dst, b)
    return (ka == kb == 'nan' and na == nb) or a == b


def numpy_check(src, dst, inputs, expected):
    if src not in NP or dst not in NP:
        return
    ui, fi = NP[src]
    uo, fo = NP[dst]
    with np.errstate(all='ignore'):
        got = np.array(inputs, dtype=ui).view(fi).astype(fo).view(uo)
    bad = [(i, e, int(g)) for i, e, g in zip(inputs, expected, got) if not same(dst, e, int(g))]
    if bad:
        i, e, g = bad[0]
        raise SystemExit(f'numpy disagrees on {src}->{dst} for {len(bad)} inputs, e.g. {i:#x}: '
                         f'ours {e:#x}, numpy {g:#x}')


PAIRS = [('f32', 'bf16'), ('f32', 'f16'), ('f64', 'f16'), ('f64', 'bf16'),
         ('f64', 'f32'), ('f16', 'f32'), ('bf16', 'f32')]


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else 'tests/golden/cast'
    os.makedirs(outdir, exist_ok=True)
    for i, (src, dst) in enumerate(PAIRS):
        rng = random.Random(1000 + i)
        nrng = np.random.default_rng(1000 + i)
        seen, inputs = set(), []
        for b in special_inputs(src, dst, rng) + random_inputs(src, dst, rng, nrng, RANDOM_PER_PAIR):
            if b not in seen:
                seen.add(b)
                inputs.append(b)
        via = 'f32' if VIA_F32 and src == 'f64' and dst in ('f16', 'bf16') else None
        expected = [convert(src, b, dst, via) for b in inputs]
        note = ''
        if via:
            once = [convert(src, b, dst) for b in inputs]
            if dst == 'f16':
                numpy_check(src, dst, inputs, once)
            differ = sum(1 for a, b in zip(expected, once) if not same(dst, a, b))
            note = f', {differ} where rounding once would differ'
        else:
            numpy_check(src, dst, inputs, expected)
        path = os.path.join(outdir, f'{src}_{dst}.bin')
        with open(path, 'wb') as f:
            for b, x in zip(inputs, expected):
                f.write(struct.pack(PACK[SIZE[src]], b) + struct.pack(PACK[SIZE[dst]], x))
        print(f'{path}: {len(inputs)} vectors{note}')


if __name__ == '__main__':
    main()
