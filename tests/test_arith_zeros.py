"""Exact zero results (x - x, 0 * y, 0 / y, sqrt(+-0), a * b - a * b) on the
vectorized path of the arithmetic ufuncs (csrc/arith_fast_body.h): bit for bit what
the per-element exact path gives (strided operands take it for every element), signs
of zero included (-0 for exact zero sums when rounding down), every mode, with the
same random words."""
import zlib

import numpy as np
import pytest
from conftest import twin

import srround as sr

FORMATS = [(sr.bfloat16, np.float32), (sr.binary16, np.float32), (sr.e4m3, np.float32),
           (sr.bfloat16, np.float64), (sr.binary16, np.float64), (sr.binary32, np.float64)]


def strided(x):
    """x's values in a view with a stride of two elements: the exact path."""
    out = np.empty(2 * x.size, x.dtype)[::2]
    out[...] = x
    return out


def operands(op, dtype, fmt, rng, n=2000):
    """Values of fmt, about half of the results exact zeros of both signs, the rest
    ordinary (so chunks mix the two), a few zero operands of either sign."""
    x = sr.round(rng.standard_normal(n) * 4.0 ** rng.integers(-2, 3, n), fmt, "nearest")
    y = sr.round(rng.standard_normal(n) * 4.0 ** rng.integers(-2, 3, n), fmt, "nearest")
    z = rng.random(n) < 0.5
    signs = rng.choice([-1.0, 1.0], n)
    if op in ("add", "subtract"):
        y = np.where(z, -x if op == "add" else x, y)
        both = rng.random(n) < 0.05                      # +-0 op +-0
        x, y = np.where(both, 0.0 * signs, x), np.where(both, 0.0 * signs[::-1], y)
        return [x.astype(dtype), y.astype(dtype)]
    if op == "multiply":
        return [np.where(z, 0.0 * signs, x).astype(dtype), y.astype(dtype)]
    if op == "divide":
        return [np.where(z, 0.0 * signs, x).astype(dtype), y.astype(dtype)]
    if op == "sqrt":
        return [np.where(z, 0.0 * signs, np.abs(x)).astype(dtype)]
    c = np.where(z, -(x * y), rng.standard_normal(n))    # fma: a * b + c == 0 exactly
    zero_ab = rng.random(n) < 0.05
    x = np.where(zero_ab, 0.0 * signs, x)
    c = np.where(zero_ab, 0.0 * signs[::-1], c)
    return [x.astype(dtype), y.astype(dtype), c.astype(dtype)]


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "sqrt", "fma"])
@pytest.mark.parametrize("fmt,dtype", FORMATS, ids=[f"{f.label}-{d.__name__}" for f, d in FORMATS])
def test_exact_zeros_match_the_exact_path(op, fmt, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{op}{fmt.label}{dtype.__name__}".encode()))
    args = operands(op, dtype, fmt, rng)
    if op == "fma" and dtype == np.float32 and not np.all(np.isfinite(args[2])):
        pytest.skip("products beyond float32")
    zeros = 0
    for mode in sr.ROUNDINGS:
        ctx = sr.Context(fmt, mode, rng=7)
        other = twin(ctx)
        with np.errstate(all="ignore"):
            fast = getattr(ctx, op)(*args)
            exact = getattr(other, op)(*[strided(a) for a in args])
        assert fast.dtype == exact.dtype == dtype
        same = (fast == exact) & (np.signbit(fast) == np.signbit(exact)) \
            | (np.isnan(fast) & np.isnan(exact))
        bad = np.flatnonzero(~same)
        assert bad.size == 0, (f"{mode}: {bad.size} differ, first at {bad[0]}: fast "
                               f"{fast[bad[0]]!r}, exact {exact[bad[0]]!r}, operands "
                               f"{[a[bad[0]] for a in args]}")
        assert ctx.random_words(2).tolist() == other.random_words(2).tolist()
        zeros += int(np.count_nonzero(exact == 0))
        if mode == "down" and op in ("add", "subtract", "fma"):
            assert np.signbit(exact[exact == 0]).mean() > 0.5   # -0 dominates
    assert zeros > 0.3 * len(sr.ROUNDINGS) * args[0].size
