"""Kahan sums (ctx.kahan_sum, sr.sum(method="kahan")) against their definition, one
rounded operation per ufunc call, on inputs where the two-pass chain of
csrc/kahan_chain.h must hand over to its checks and the exact path: the chain takes
c = t - (s + y) in binary64 and rounds it only when it has discarded bits, which is
fl(fl(t - s) - y) only while s + y is exact in binary64 and t - s is a value of the
format. The inputs below break that on purpose (large cancellations and sign changes,
terms far below ulp(s), binade changes, subnormal corrections, NaN, infinities,
overflow), at positions inside and across the chunks of 256 steps, on every kernel
path, for both input dtypes and every rounding mode."""
import pickle

import numpy as np
import pytest
from conftest import MODES, formats, kernel_paths, same_float

import srround as sr

FORMATS = formats("bfloat16", "binary16", "e4m3", "p20_e100", "p50_e900", "fp16_sat")


def kahan_by_definition(x, ctx):
    """s after Kahan's steps y = x - c, t = s + y, ts = t - s, c = ts - y, s = t,
    each one call of ctx's ufuncs on one element (four words per step, in order)."""
    s = c = np.float64(0)
    one = np.empty(1)
    with np.errstate(all="ignore"):
        for v in x:
            one[0] = v
            y = ctx.subtract(one, c)[0]
            t = ctx.add(s, y)
            ts = ctx.subtract(t, s)
            c = ctx.subtract(ts, y)
            s = t
    return float(s)


def hard_terms(fmt, kind, n, seed):
    """n terms of one kind, scaled into fmt's range."""
    rng = np.random.default_rng(seed)
    e_hi = min(fmt.emax - 2, 60)
    big = 2.0 ** e_hi
    tiny = 2.0 ** max(fmt.emin - 3, -1000)
    if kind == "cancellation":      # +-big against small terms: |y| > |s|, t - s inexact
        x = rng.uniform(0.5, 1, n) * np.where(rng.random(n) < 0.5, 1.0, -1.0)
        x[::7] *= 2.0 ** rng.integers(min(8, e_hi), e_hi + 1, x[::7].size)
        x[3::7] = -x[::7][: len(x[3::7])]
    elif kind == "far_below":       # terms far below ulp(s): s + y inexact in binary64
        x = rng.uniform(0.5, 1, n)
        x[::50] = big
    elif kind == "small_terms":     # ulp(s) above the terms: t often the farther neighbour
        x = rng.uniform(0, 1, n)
        x[0] = min(fmt.max / 4, 2.0**10)
    elif kind == "binades":         # a running sum that climbs through binades and falls back
        x = 2.0 ** rng.integers(-4, 12, n) * rng.uniform(1, 2, n)
        x[n // 2:] *= -1.3
    elif kind == "subnormal":       # corrections near and below 2^emin
        x = tiny * rng.uniform(0.5, 40, n) * np.where(rng.random(n) < 0.3, -1.0, 1.0)
    elif kind == "special":         # NaN, infinities and overflow inside chunks
        x = rng.standard_normal(n)
        x[300] = np.inf
        x[150] = fmt.max
        x[151] = fmt.max
        x[1 if n > 1 else 0] = -np.inf if seed % 2 else np.nan
    else:
        raise ValueError(kind)
    return x


KINDS = ("cancellation", "far_below", "small_terms", "binades", "subnormal", "special")


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=list(FORMATS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_kahan_sum_equals_its_definition_on_hard_inputs(fmt, mode, kind):
    x = hard_terms(fmt, kind, 600, seed=len(mode) + fmt.precision)
    ctx = sr.Context(fmt, mode, rng=3)
    want = kahan_by_definition(x, pickle.loads(pickle.dumps(ctx)))
    with np.errstate(all="ignore"):
        got = ctx.kahan_sum(x)
    assert same_float(got, want), (float(got), want)


@pytest.mark.parametrize("path", kernel_paths())
@pytest.mark.parametrize("mode", ["stochastic", "stochastic_equal", "toward_zero",
                                  "nearest_away"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kahan_sum_on_every_kernel_path_and_dtype(path, mode, dtype):
    """The modes that take the two-pass chain, every ISA path, float32 and float64
    data, sums of several lengths (chunk edges), and sr.sum's kahan the same."""
    fmt = sr.bfloat16
    rng = np.random.default_rng(7)
    x = np.concatenate([hard_terms(fmt, kind, 200, seed=i) for i, kind in
                        enumerate(("cancellation", "far_below", "small_terms", "binades"))])
    x = np.concatenate([x, rng.uniform(0, 1, 300)]).astype(dtype)
    for n in (1, 255, 256, 257, 513, x.size):
        ctx = sr.Context(fmt, mode, rng=n)._set_isa(path)
        want = kahan_by_definition(x[:n].astype(np.float64), pickle.loads(pickle.dumps(ctx)))
        with np.errstate(all="ignore"):
            got = ctx.kahan_sum(x[:n])
        assert got.dtype == dtype and same_float(got, want), (n, float(got), want)
    ctx = sr.Context(fmt, mode, rng=1)._set_isa(path)
    twin = pickle.loads(pickle.dumps(ctx))
    with np.errstate(all="ignore"):
        assert same_float(sr.sum(x, ctx, "kahan"), twin.kahan_sum(x))


def test_hard_inputs_reach_the_fallback():
    """The inputs above do break the chain's assumptions: some step has t - s not a
    value of the format, s + y not exact in binary64, or c = fl(ts - y) with
    discarded bits in ts - y (else this file would test only the fast path)."""
    fmt = sr.bfloat16
    ctx = sr.Context(fmt, "stochastic", rng=3)
    seen = set()
    for kind in ("cancellation", "far_below", "small_terms"):
        s = c = 0.0
        for v in hard_terms(fmt, kind, 600, seed=1):
            y = float(ctx.subtract(np.array([v]), c)[0])
            t = float(ctx.add(s, y))
            if float(ctx.round(t - s)) != t - s:
                seen.add("t - s")
            if s + y - s != y or s + y - y != s:
                seen.add("s + y")
            ts = float(ctx.subtract(t, s))
            c = float(ctx.subtract(ts, y))
            if c != ts - y:
                seen.add("c")
            s = t
    assert seen == {"t - s", "s + y", "c"}, seen
