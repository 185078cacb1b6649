"""The vectorized path of the arithmetic ufuncs (csrc/arith_fast_body.h) against the
per-element exact path (strided operands take it for every element), bit for bit and
with the same random words, on chunks that exercise each of its branches: chunks whose
results are all exact in binary64 (the rounding loop without tests), inexact ones (the
tested loop, and its undecided elements: errors that can tip a rounding boundary),
results outside the format's normal range (NaN, infinities, overflow, underflow: the
element-by-element loop), binary32 sums across exponent gaps near 29 (where
SR_EXACT_SUM32's test decides), odd lengths, broadcast operands, out= with where=, in
place, and a stream with a waiting high half-word; every mode, kernel path and stream
kind."""
import zlib

import numpy as np
import pytest
from conftest import FORMATS, STOCHASTIC, kernel_paths, twin

import srround as sr

OPS = ["add", "subtract", "multiply", "divide", "fma", "sqrt"]
CASES = [("bfloat16", np.float32), ("binary16", np.float32), ("e4m3", np.float32),
         ("e2m1", np.float32), ("bfloat16", np.float64), ("binary32", np.float64)]
PATHS = kernel_paths()
N = 1201   # five chunks of 256 and a tail: odd, not a multiple of any vector length


def strided(x):
    """x's values in a view with a stride of two elements: the exact path."""
    out = np.empty(2 * x.size, x.dtype)[::2]
    out[...] = x
    return out


def operand(rng, dtype, fmt):
    """N values in blocks that send chunks down each branch: binary32-exact ones in
    [1, 2), ordinary normals, ties of fmt plus or minus a tiny part, addends 2^-k apart
    (k near 29), and normals with 5% specials (NaN, infinities, zeros, values near fmt's
    largest, below its smallest normal and far beyond both)."""
    one = rng.uniform(1, 2, 300).astype(np.float32)
    normal = rng.standard_normal(300)
    p = fmt.precision
    ties = (1 + rng.integers(0, 2**min(p - 1, 20), 250) * 2.0 ** (1 - p) + 2.0 ** -p) \
        * rng.choice([-1, 1], 250)
    gaps = rng.choice([-1, 1], 200) * 2.0 ** -rng.integers(20, 40, 200)
    mixed = rng.standard_normal(N - 1050)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, fmt.max, -fmt.max,
                         2 * fmt.max, fmt.tiny / 3, -fmt.tiny / 5, 1e-300,
                         3e38, 1e300, -1e-45])
    at = rng.random(mixed.size) < 0.05
    mixed[at] = rng.choice(specials, int(at.sum()))
    with np.errstate(all="ignore"):
        return np.concatenate([one, normal, ties, gaps, mixed]).astype(dtype)


def operands(op, dtype, fmt, seed):
    rng = np.random.default_rng(seed)
    x = operand(rng, dtype, fmt)
    if op == "sqrt":
        return [np.abs(x) if seed % 2 else x]
    y = operand(rng, dtype, fmt)
    y[300:550] = rng.choice([2.0 ** -60, -(2.0 ** -60), 1.0, 0.5], 250)   # tiny, exact
    if op == "fma":
        return [x, y, operand(rng, dtype, fmt)]
    return [x, y]


def same_bits(got, want, what):
    """got and want hold the same bit patterns (signed zeros and NaN payloads too)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    uint = f"u{got.itemsize}"
    bad = np.flatnonzero(got.view(uint) != want.view(uint))
    assert bad.size == 0, (f"{what}: {bad.size} of {got.size} differ, first at {bad[0]}: "
                           f"got {got[bad[0]]!r}, want {want[bad[0]]!r}")


def contexts(fmt, mode, stream, path):
    kw = {"rng": 11, "stream": stream} if mode in STOCHASTIC else {}
    ctx = sr.Context(fmt, mode, **kw)._set_isa(path)
    other = twin(ctx)._set_isa(path)
    return ctx, other


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name,dtype", CASES, ids=[f"{f}-{d.__name__}" for f, d in CASES])
@pytest.mark.parametrize("op", OPS)
def test_fast_path_matches_the_exact_path(op, name, dtype, path):
    fmt = FORMATS[name]
    args = operands(op, dtype, fmt, zlib.crc32(f"{op}{name}{dtype.__name__}".encode()))
    where = np.arange(N) % 7 != 3
    for mode in sr.ROUNDINGS:
        for stream in ("sequential", "counter"):
            if stream == "counter" and mode not in STOCHASTIC:
                continue
            ctx, other = contexts(fmt, mode, stream, path)
            what = f"{op} {name} {dtype.__name__} {mode} {stream} {path}"
            with np.errstate(all="ignore"):
                ufunc, exact = getattr(ctx, op), getattr(other, op)
                same_bits(ufunc(*args), exact(*map(strided, args)), what)
                # a broadcast scalar operand (the first element of the last operand)
                if len(args) > 1:
                    scalar = args[-1][301]
                    same_bits(ufunc(*args[:-1], scalar),
                              exact(*map(strided, args[:-1]), scalar), what + " broadcast")
                # out= with where= (NumPy passes the runs of True to the loop)
                got = np.full(N, 7, dtype)
                want = strided(np.full(N, 7, dtype))
                ufunc(*args, out=got, where=where)
                exact(*map(strided, args), out=want, where=where)
                same_bits(got, np.ascontiguousarray(want), what + " where")
                # in place: out is the first operand
                got = args[0].copy()
                ufunc(got, *args[1:], out=got)
                same_bits(got, exact(*map(strided, args)), what + " in place")
                # an odd number of half-words drawn first: the high half waits
                if mode in STOCHASTIC:
                    half = np.ones(3, np.float32)
                    ctx.round(half), other.round(strided(half))
                    same_bits(ufunc(*args), exact(*map(strided, args)), what + " after half")
            assert ctx.random_words(2).tolist() == other.random_words(2).tolist(), what


def test_in_place_undecided_elements_keep_their_operand():
    """1 + 2^-8 is a tie of bfloat16 and 2^-60 tips it up: the fast path leaves that
    element to the exact path, which must still see the operand when out is it."""
    ctx = sr.Context("bf16", "nearest")
    a = np.full(300, 1 + 2.0 ** -8, np.float32)
    b = np.full(300, 2.0 ** -60, np.float32)
    assert ctx.add(a, b).tolist() == [1 + 2.0 ** -7] * 300
    ctx.add(a, b, out=a)
    assert a.tolist() == [1 + 2.0 ** -7] * 300
    c = np.full(300, 1 + 2.0 ** -8, np.float32)
    ctx.fma(c, np.float32(1), b, out=c)
    assert c.tolist() == [1 + 2.0 ** -7] * 300


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary32_sums_across_exponent_gaps(dtype):
    """Sums of values 2^-k apart, k from 20 to 75 (binary32 sums, and sums of a binary32
    product and a binary32 value, stop being exact in binary64 about there), in
    round-to-odd and SR with every bit of the word: fast equals exact."""
    rng = np.random.default_rng(5)
    n = 4096
    k = rng.integers(20, 75, n)
    x = (rng.uniform(1, 2, n) * rng.choice([-1, 1], n)).astype(np.float32)
    y = (rng.uniform(1, 2, n) * 2.0 ** -k * rng.choice([-1, 1], n)).astype(np.float32)
    w = rng.uniform(1, 2, n).astype(np.float32)
    x, y, w = x.astype(dtype), y.astype(dtype), w.astype(dtype)
    for mode in ("odd", "stochastic"):
        ctx = sr.Context("bf16", mode, rng=3)
        other = twin(ctx)
        for op, args in (("add", (x, y)), ("subtract", (x, y)), ("subtract", (y, x)),
                         ("fma", (x, w, y)), ("fma", (y, w, x)), ("fma", (x, -w, y))):
            same_bits(getattr(ctx, op)(*args), getattr(other, op)(*map(strided, args)),
                      f"{op} {mode}")
