"""Context ufuncs: arithmetic against exact Fraction results, reductions against
explicit loops, and NumPy ufunc machinery (broadcasting, out=, where=, axis=,
casting, names, lifetime).

Every expected value comes from tests/reference.py's ref_arith: inputs become
Fractions, the operation is carried out in rational arithmetic (square roots via
a stand-in that every rounding of these formats treats like the root, see
sqrt_standin), and the exact result is rounded by ref_round.
"""
import gc
import math
import os
import sys
import warnings
import zlib
from fractions import Fraction

import numpy as np
import pytest

import srround as sr

sys.path.insert(0, os.path.dirname(__file__))
from reference import RefFormat, ref_arith, ref_round  # noqa: E402
from vector_oracle import ref_format  # noqa: E402

DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd")
STOCHASTIC = ("stochastic", "stochastic_equal")
MODES = DETERMINISTIC + STOCHASTIC
OPS = ("add", "subtract", "multiply", "divide", "fma", "sqrt")
NIN = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3, "sqrt": 1, "round": 1}
INF, NAN = math.inf, math.nan


# ---------------------------------------------------------------- comparison

def same_float(got, want):
    got = float(got)
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def assert_matches(got, want, context):
    got = np.asarray(got).ravel()
    bad = [i for i, (g, w) in enumerate(zip(got.tolist(), want)) if not same_float(g, w)]
    assert len(got) == len(want)
    if bad:
        i = bad[0]
        raise AssertionError(f"{len(bad)} of {len(want)} wrong for {context}; first at {i}: "
                             f"got {float(got[i])!r}, want {want[i]!r}")


# ---------------------------------------------------------------- inputs

def _values(rng, n, k, e_lo, e_hi, dtype):
    """n signed values m * 2**(e - k + 1), m a k-bit integer, e in [e_lo, e_hi]."""
    k = min(k, 24 if dtype == np.float32 else 53)
    lo_cap, hi_cap = (-149, 127) if dtype == np.float32 else (-1074, 1023)
    e = np.clip(rng.integers(e_lo, e_hi + 1, n), lo_cap + k, hi_cap)
    m = rng.integers(2 ** (k - 1), 2**k, n, dtype=np.uint64)
    s = rng.choice([-1.0, 1.0], n)
    return np.array([sg * math.ldexp(int(mm), int(ee) - k + 1) for sg, mm, ee in zip(s, m, e)])


def _specials(fmt):
    s = math.ldexp(1.0, fmt.emax - fmt.precision + 1)
    vals = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 3.0, fmt.max, -fmt.max, fmt.tiny,
            -fmt.tiny, fmt.smallest_subnormal, -fmt.smallest_subnormal,
            fmt.smallest_subnormal / 2, 1.0 + fmt.eps / 2]
    if math.isfinite(fmt.max + s / 2):
        vals += [fmt.max + s / 2, -(fmt.max + s / 2), fmt.max + s / 4]
    return vals


def _sprinkle(rng, x, fmt, rate=0.06):
    sp = _specials(fmt)
    mask = rng.random(x.size) < rate
    x = x.copy()
    x[mask] = [sp[i] for i in rng.integers(0, len(sp), int(mask.sum()))]
    return x


def _tie_partners(rng, a, fmt, dtype):
    """b = +-(half an ulp of a) * (1 +- 2**-t): a + b lies just off a midpoint, at a
    distance binary64 often cannot hold next to a (t up to 60)."""
    p = fmt.precision
    out = np.empty_like(a)
    for i, v in enumerate(a):
        if not math.isfinite(v) or v == 0:
            out[i] = 1.0
            continue
        e = max(math.frexp(abs(v))[1] - 1, fmt.emin)
        half = math.ldexp(1.0, e - p)
        t = int(rng.integers(2, 61))
        eps = math.ldexp(half, -t) * rng.choice([-1, 0, 1])
        out[i] = rng.choice([-1.0, 1.0]) * (half + eps)
    return out


def make_inputs(op, fmt, dtype, n, seed):
    rng = np.random.default_rng(seed)
    p, emin, emax = fmt.precision, fmt.emin, fmt.emax
    lo, hi = emin - p - 3, emax + 1
    a = _values(rng, n, p + 3, lo, hi, dtype)
    if op in ("add", "subtract"):
        third = n // 3
        near = _values(rng, n, p + 3, lo, hi, dtype)
        ea = np.array([math.frexp(v)[1] if v else 0 for v in a])
        b = np.array([math.ldexp(math.frexp(near[i])[0], int(ea[i] - rng.integers(0, 90)))
                      for i in range(n)])
        b[:third] = _tie_partners(rng, a[:third], fmt, dtype)
        b[third:2 * third] = near[third:2 * third]
        args = [a, b]
    elif op in ("multiply", "divide", "fma"):
        ea = np.array([math.frexp(v)[1] for v in a])
        target = rng.integers(lo, hi + 2, n)
        eb = target - ea if op != "divide" else ea - target
        eb = np.clip(eb, -1070, 1020)
        b = np.array([rng.choice([-1.0, 1.0]) * math.ldexp(int(rng.integers(2 ** (p + 2), 2 ** (p + 3))),
                                                            int(e) - p - 2) for e in eb])
        args = [a, b]
        if op == "fma":
            with np.errstate(all="ignore"):
                prod = a * b
            c = _values(rng, n, p + 3, lo, hi, dtype)
            q = n // 3
            # cancellation: c close to -a*b
            pert = _values(rng, q, p, lo, hi, dtype) * 2.0 ** -30
            c[:q] = np.where(np.isfinite(prod[:q]), -prod[:q] + pert, c[:q])
            args.append(c)
    elif op == "sqrt":
        a = np.abs(_values(rng, n, p + 3, 2 * lo, 2 * hi, dtype))
        a[rng.random(n) < 0.05] *= -1
        args = [a]
    else:
        args = [a]
    with np.errstate(all="ignore"):
        args = [_sprinkle(rng, x, fmt).astype(dtype) for x in args]
    return args


# ---------------------------------------------------------------- formats

FORMATS = {
    "binary16": sr.binary16,
    "bfloat16": sr.bfloat16,
    "e4m3": sr.e4m3,
    "e5m2": sr.e5m2,
    "e2m1": sr.e2m1,
    "e3m2": sr.e3m2,
    "nosub": sr.Format(5, 4, -3, subnormals=False, name="nosub"),
    "binary32": sr.binary32,
    "wide": sr.Format(11, 200),        # float32 cannot carry it: float64 loop only
    "binary64": sr.binary64,
}
F32_FORMATS = [k for k, f in FORMATS.items() if f.fits_float32]


def _cases():
    for op in OPS:
        for name in FORMATS:
            yield op, name, np.float64
            if name in F32_FORMATS:
                yield op, name, np.float32


def check_against_exact_reference(op, fname, dtype, n, seed_tag, rng):
    """Every mode of ctx.<op> on n inputs against the Fraction reference; stochastic
    modes replay the words from a twin context with the same seed."""
    fmt = FORMATS[fname]
    rfmt = ref_format(fmt)
    args = make_inputs(op, fmt, dtype, n,
                       seed=zlib.crc32(f"{seed_tag}{op}{fname}{dtype.__name__}".encode()))
    for mode in MODES:
        ctx = sr.Context(fmt, mode, rng=rng)
        words = [None] * n
        if mode in STOCHASTIC:
            words = sr.Context(fmt, mode, rng=rng).random_words(n)
        with np.errstate(all="ignore"):
            got = getattr(ctx, op)(*args)
        assert got.dtype == dtype
        want = [ref_arith(op, [x[i] for x in args], rfmt, mode, words[i]) for i in range(n)]
        assert_matches(got, want, f"{op} {fname} {dtype.__name__} {mode}")


@pytest.mark.parametrize("op,fname,dtype", list(_cases()),
                         ids=lambda v: getattr(v, "__name__", v))
def test_arithmetic_matches_exact_reference(op, fname, dtype):
    check_against_exact_reference(op, fname, dtype, n=120, seed_tag="", rng=17)


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS)
def test_arithmetic_matches_exact_reference_large(op):
    """The same comparison with many more samples per format and mode."""
    for fname in FORMATS:
        for dtype in ((np.float32, np.float64) if fname in F32_FORMATS else (np.float64,)):
            check_against_exact_reference(op, fname, dtype, n=1500, seed_tag="L", rng=23)


def _near_boundaries(op, fmt, dtype, n, rng):
    """Operands of op, contiguous and free of special values, whose exact results lie
    in fmt's normal range on, or a hair off, its grid points and midpoints: where the
    vectorized path must hand elements to the exact path."""
    p = fmt.precision
    j = rng.integers(0, 2 ** min(p, 20), n)                   # even: grid point, odd: tie
    t = (1 + j * 2.0 ** -p) * 2.0 ** rng.integers(-4, 5, n)
    t = t * rng.choice([-1.0, 1.0], n)
    b = (1 + rng.random(n)) * 2.0 ** rng.integers(-3, 4, n)
    b = np.where(rng.random(n) < 0.25, np.exp2(rng.integers(-3, 4, n)), b)   # exact cases
    b = (b * rng.choice([-1.0, 1.0], n)).astype(dtype)
    if op == "divide":
        return [(t * b).astype(dtype), b]                      # a / b = t (1 + tiny)
    if op == "sqrt":                                           # sqrt = |t| (1 + tiny)
        sq = (t * t).astype(dtype)                             # often exact: nudge half
        away = rng.choice(np.array([-np.inf, np.inf], dtype), n)
        return [np.where(rng.random(n) < 0.5, np.nextafter(sq, away), sq)]
    a = rng.standard_normal(n).astype(dtype)                   # fma: a * b + c = t + tiny
    return [a, b, (t - a.astype(np.float64) * b).astype(dtype)]


@pytest.mark.parametrize("op", ["divide", "sqrt", "fma"])
@pytest.mark.parametrize("fname,dtype", [("bfloat16", np.float32), ("binary16", np.float32),
                                         ("e4m3", np.float32), ("bfloat16", np.float64),
                                         ("binary16", np.float64), ("p50", np.float64)])
def test_vectorized_path_on_boundaries(op, fname, dtype):
    """Contiguous divide, sqrt and fma decide most elements from the binary64 result
    and its error-free remainder or error terms; the rest take the exact path. All
    modes, every element against the exact reference, stochastic words replayed."""
    fmt = sr.Format(50, 900, name="p50") if fname == "p50" else FORMATS[fname]
    rng = np.random.default_rng(zlib.crc32(f"{op}{fname}{dtype.__name__}".encode()))
    args = _near_boundaries(op, fmt, dtype, 600, rng)
    rfmt = ref_format(fmt)
    for mode in MODES:
        ctx = sr.Context(fmt, mode, rng=31)
        words = sr.Context(fmt, mode, rng=31).random_words(600) if mode in STOCHASTIC \
            else [None] * 600
        got = getattr(ctx, op)(*args)
        want = [ref_arith(op, [x[i] for x in args], rfmt, mode, words[i])
                for i in range(600)]
        assert_matches(got, want, f"{op} {fname} {dtype.__name__} {mode}")


def _random_doubles(rng, n, dtype):
    """Finite values spread over every binade of dtype (random bit patterns)."""
    if dtype == np.float64:
        bits = rng.integers(0, 0x7FF0000000000000, n, dtype=np.uint64)
        x = bits.view(np.float64)
    else:
        bits = rng.integers(0, 0x7F800000, n, dtype=np.uint32)
        x = bits.view(np.float32)
    return x * rng.choice(np.array([-1, 1], dtype), n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_in_the_input_format_matches_hardware(dtype):
    """Rounding to nearest into the input type's own format (binary32 for float32,
    binary64 for float64) must reproduce IEEE hardware arithmetic exactly:
    an independent oracle over random bit patterns, subnormals included."""
    fmt = sr.binary32 if dtype == np.float32 else sr.binary64
    ctx = sr.Context(fmt, "nearest")
    rng = np.random.default_rng(12)
    n = 100_000
    a, b = _random_doubles(rng, n, dtype), _random_doubles(rng, n, dtype)
    # bias some pairs toward close exponents and toward subnormal operands
    with np.errstate(over="ignore"):
        b[: n // 4] = (a[: n // 4] * rng.uniform(0.5, 2, n // 4)).astype(dtype)
    a[n // 4: n // 2] = (a[n // 4: n // 2] * dtype(2.0 ** -60 if dtype == np.float32 else 2.0 ** -1000))
    with np.errstate(all="ignore"):
        for name, hw in (("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
                         ("divide", np.divide)):
            got, want = getattr(ctx, name)(a, b), hw(a, b)
            assert got.dtype == dtype
            bad = np.flatnonzero(~((got == want) & (np.signbit(got) == np.signbit(want))
                                   | (np.isnan(got) & np.isnan(want))))
            assert bad.size == 0, (f"{name}: {bad.size} mismatches, e.g. {float(a[bad[0]]).hex()} "
                                   f"{float(b[bad[0]]).hex()}: got {float(got[bad[0]]).hex()}, "
                                   f"want {float(want[bad[0]]).hex()}")
        x = np.abs(a)
        got, want = ctx.sqrt(x), np.sqrt(x)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (f"sqrt: {bad.size} mismatches, e.g. {float(x[bad[0]]).hex()}: "
                               f"got {float(got[bad[0]]).hex()}, want {float(want[bad[0]]).hex()}")


def test_sqrt_binary64_largest_double():
    """sqrt(DBL_MAX) lies just below the midpoint between 0x1.fffffffffffffp+511 and
    2**512; its binary64 rounding is the former (math.sqrt agrees)."""
    x = np.finfo(np.float64).max
    assert sr.Context(sr.binary64, "nearest").sqrt(x) == math.sqrt(x)
    assert sr.Context(sr.binary64, "nearest_away").sqrt(x) == math.sqrt(x)


def test_divide_tiny_operands_low_precision_format():
    """a / b with a, b near the bottom of binary64 and a/b just below the binary16
    value 1 + 2**-10 (by 2**-62 relatively): binary64's quotient is exactly
    1 + 2**-10 and the remainder underflows, yet the exact quotient is below it, so
    'down' and 'toward_zero' must give 1.0 (as they do for the same ratio at
    ordinary magnitudes)."""
    m = 2**52 + 1
    n = m + 2**42
    for scale in (-1074, -60):
        a, b = math.ldexp(n, scale), math.ldexp(m, scale)
        assert a / b == 1 + 2.0**-10 and Fraction(a) / Fraction(b) < 1 + Fraction(1, 1024)
        for mode in ("down", "toward_zero"):
            assert sr.Context(sr.binary16, mode).divide(a, b) == 1.0, (mode, scale)
        assert sr.Context(sr.binary16, "up").divide(a, b) == 1 + 2.0**-10


@pytest.mark.parametrize("fname", ["binary16", "e4m3", "e2m1", "nosub", "binary64"])
@pytest.mark.parametrize("mode", MODES)
def test_round_ufunc_matches_reference(fname, mode):
    fmt = FORMATS[fname]
    x = make_inputs("round", fmt, np.float64, 300, seed=5)[0]
    ctx = sr.Context(fmt, mode, rng=3)
    words = sr.Context(fmt, mode, rng=3).random_words(x.size) if mode in STOCHASTIC else [None] * x.size
    got = ctx.round(x)
    want = [ref_arith("round", [v], ref_format(fmt), mode, w) for v, w in zip(x, words)]
    assert_matches(got, want, f"round {fname} {mode}")


# ------------------------------------------------- hand-picked hard cases

@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_add_ties_not_representable_in_binary64(mode):
    rf = RefFormat(11, 15, -14)
    ctx = sr.Context(sr.binary16, mode)
    tiny = 2.0**-60   # 2**-11 + tiny is a double; 1 + 2**-11 + tiny is not
    cases = [(1.0, 2.0**-11 + tiny), (1.0, 2.0**-11 - tiny), (1.0, -(2.0**-12) - tiny),
             (-1.0, -(2.0**-11) - tiny), (1.0 + 2.0**-10, 2.0**-11 - tiny),
             (1.0 + 2.0**-10, 2.0**-11 + tiny), (2048.0, 1.0 + 2.0**-60)]
    for a, b in cases:
        want = ref_round(Fraction(a) + Fraction(b), rf, mode)
        assert ctx.add(a, b) == want, (mode, a, b)
        assert ctx.subtract(a, -b) == want, (mode, a, b)
        assert ctx.fma(a, 1.0, b) == want, (mode, a, b)
    # the tie itself (exact in binary64)
    if mode == "nearest":
        assert ctx.add(1.0, 2.0**-11) == 1.0
        assert ctx.add(1.0, 2.0**-11 + tiny) == 1.0 + 2.0**-10
        assert ctx.add(1.0, 2.0**-11 - tiny) == 1.0


def test_add_ties_binary32_format_float64_input():
    ctx = sr.Context(sr.binary32, "nearest")
    assert ctx.add(1.0, 2.0**-24 + 2.0**-70) == 1.0 + 2.0**-23
    assert ctx.add(1.0, 2.0**-24 - 2.0**-70) == 1.0
    assert ctx.add(1.0, 2.0**-24) == 1.0


def test_multiply_underflow_rounds_up_in_mode_up():
    up = sr.Context(sr.binary16, "up")
    assert up.multiply(1e-200, 1e-200) == 2.0**-24
    assert up.multiply(-1e-200, 1e-200) == 0.0
    assert math.copysign(1, up.multiply(-1e-200, 1e-200)) < 0
    down = sr.Context(sr.binary16, "down")
    assert down.multiply(-1e-200, 1e-200) == -(2.0**-24)
    assert down.divide(-1e-300, 1e300) == -(2.0**-24)
    assert up.fma(1e-200, 1e-200, 0.0) == 2.0**-24
    assert up.sqrt(1e-320) == 2.0**-24
    near = sr.Context(sr.binary16, "nearest")
    assert near.multiply(1e-200, 1e-200) == 0.0


@pytest.mark.parametrize("mode", ["up", "down", "toward_zero", "odd", "nearest"])
def test_fma_product_below_binary64_range_still_counts(mode):
    """a*b = 2**-1076 underflows binary64 entirely, but the exact a*b + 1 lies
    strictly above 1 (and 1 - a*b strictly below): directed modes must see that."""
    a = 2.0**-538
    for fmt in (sr.binary16, sr.binary64):
        rf = ref_format(fmt)
        ctx = sr.Context(fmt, mode)
        exact_up = Fraction(a) * Fraction(a) + 1
        exact_dn = 1 - Fraction(a) * Fraction(a)
        assert ctx.fma(a, a, 1.0) == ref_round(exact_up, rf, mode), fmt
        assert ctx.fma(-a, a, 1.0) == ref_round(exact_dn, rf, mode), fmt


def test_fma_tie_decided_below_the_error_term():
    """(1 + 2**-52) * 1.5 is the midpoint between 1.5 + 2**-52 (odd) and
    1.5 + 2**-51; subtracting 2**-200 puts the exact result just below it, so
    nearest must give 1.5 + 2**-52 (binary64 hardware fma does)."""
    a, b, c = 1 + 2.0**-52, 1.5, -(2.0**-200)
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    want = 1.5 + 2.0**-52
    assert float(exact) == want          # Fraction -> float is correctly rounded
    for mode in ("nearest", "nearest_away"):
        got = sr.Context(sr.binary64, mode).fma(a, b, c)
        assert got == want, (mode, float(got).hex())


@pytest.mark.parametrize("mode", ["up", "down", "toward_zero", "nearest"])
def test_divide_subnormal_operands_binary64(mode):
    """The remainder a - q*b of a quotient of subnormals underflows binary64; the
    inexact quotient 1/3 must still round in the right direction."""
    rf = ref_format(sr.binary64)
    cases = [(5e-324, 1.5e-323), (2.0**-1070, 3 * 2.0**-1070), (1e-310, 3e-310),
             (float.fromhex("0x1.7cb659b087e13p-1021"), float.fromhex("-0x1.b6197c12a0798p-960"))]
    ctx = sr.Context(sr.binary64, mode)
    for a, b in cases:
        want = ref_round(Fraction(a) / Fraction(b), rf, mode)
        got = ctx.divide(a, b)
        assert got == want, (mode, a, b, float(got).hex(), want.hex())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divide_by_zero_follows_overflow_policy(dtype):
    x = np.array([1.0, -1.0, 0.0, 2.5], dtype)
    zero = np.array([0.0, 0.0, 0.0, -0.0], dtype)
    for mode in MODES:
        with np.errstate(all="ignore"):
            r_inf = sr.Context(sr.Format(11, 15), mode, rng=0).divide(x, zero)
            r_sat = sr.Context(sr.Format(11, 15, overflow="saturate"), mode, rng=0).divide(x, zero)
            r_nan = sr.Context(sr.Format(11, 15, overflow="nan"), mode, rng=0).divide(x, zero)
        np.testing.assert_array_equal(r_inf, [INF, -INF, NAN, -INF])
        np.testing.assert_array_equal(r_sat, [65504.0, -65504.0, NAN, -65504.0])
        assert np.isnan(r_nan).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_zero_sum_sign(dtype):
    one = dtype(1.0)
    for mode in MODES:
        ctx = sr.Context(sr.binary16, mode, rng=0)
        want_neg = mode == "down"
        for r in (ctx.add(one, -one), ctx.subtract(one, one), ctx.fma(one, one, -one),
                  ctx.add(dtype(0.0), dtype(-0.0)), ctx.add.reduce(np.array([one, -one]))):
            assert r == 0 and (math.copysign(1, r) < 0) == want_neg, mode
        assert math.copysign(1, ctx.add(dtype(-0.0), dtype(-0.0))) < 0
        assert math.copysign(1, ctx.add(dtype(0.0), dtype(0.0))) > 0


# ---------------------------------------------------------------- reductions

def loop_sum(xs, rfmt, mode, start=0.0):
    """s = fl(s + x_i) for each x_i, from s = start (exact operation, then ref_round)."""
    s = start
    for v in xs:
        s = ref_arith("add", [s, float(v)], rfmt, mode)
    return s


def loop_prod(xs, rfmt, mode):
    p = 1.0
    for v in xs:
        p = ref_arith("multiply", [p, float(v)], rfmt, mode)
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fname", ["binary16", "bfloat16", "e4m3", "nosub"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_add_reduce_is_recursive_rounded_sum(dtype, fname, mode):
    fmt = FORMATS[fname]
    rf = ref_format(fmt)
    rng = np.random.default_rng(4)
    x = (rng.uniform(0.01, 1.0, 300) * rng.choice([1, 1, 1, -1], 300)).astype(dtype)
    ctx = sr.Context(fmt, mode)
    got = ctx.add.reduce(x)
    assert got.dtype == dtype
    assert same_float(got, loop_sum(x, rf, mode))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fname", ["binary16", "bfloat16", "e5m2"])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_multiply_reduce_is_recursive_rounded_product(dtype, fname, mode):
    fmt = FORMATS[fname]
    rng = np.random.default_rng(9)
    x = rng.uniform(0.6, 1.5, 200).astype(dtype)
    got = sr.Context(fmt, mode).multiply.reduce(x)
    assert got.dtype == dtype
    assert same_float(got, loop_prod(x, ref_format(fmt), mode))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_harmonic_series_stagnates(dtype):
    """Higham, Accuracy and Stability of Numerical Algorithms: in round to nearest,
    the harmonic series stagnates at 7.0859375 in binary16 and 5.0625 in bfloat16."""
    x = (1.0 / np.arange(1, 3001)).astype(dtype)
    h16 = sr.Context(sr.binary16, "nearest").add.reduce(x)
    bf = sr.Context(sr.bfloat16, "nearest").add.reduce(x)
    assert h16 == 7.0859375
    assert bf == 5.0625
    assert h16 == loop_sum(x, ref_format(sr.binary16), "nearest")
    assert bf == loop_sum(x, ref_format(sr.bfloat16), "nearest")


@pytest.mark.parametrize("mode", STOCHASTIC)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stochastic_reduce_and_accumulate_draw_one_word_per_step(mode, dtype):
    """A 1-d reduce makes one rounded addition per element, in order: step i uses
    stream word i (checked against a twin context's words)."""
    fmt, rf = sr.bfloat16, ref_format(sr.bfloat16)
    x = np.random.default_rng(8).uniform(0, 1, 700).astype(dtype)
    ctx = sr.Context(fmt, mode, rng=21)
    words = sr.Context(fmt, mode, rng=21).random_words(2 * x.size)
    s = 0.0
    for v, w in zip(x, words[: x.size]):
        s = ref_arith("add", [s, float(v)], rf, mode, w)
    assert ctx.add.reduce(x) == s
    acc = ctx.add.accumulate(x)             # x[0] copied: no word for it
    s = float(x[0])
    want = [s]
    for v, w in zip(x[1:], words[x.size:]):
        s = ref_arith("add", [s, float(v)], rf, mode, w)
        want.append(s)
    assert_matches(acc, want, f"stochastic accumulate {mode}")


def test_reduce_rounds_a_single_element():
    ctx = sr.Context(sr.binary16, "nearest")
    assert ctx.add.reduce(np.array([1.0001])) == 1.0     # 0 + x is rounded
    assert ctx.multiply.reduce(np.array([1.0001])) == 1.0
    assert ctx.add.reduce(np.array([], np.float64)) == 0.0
    assert ctx.multiply.reduce(np.array([], np.float64)) == 1.0
    assert ctx.add.identity == 0 and ctx.multiply.identity == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_accumulate_copies_first_element_then_rounds(dtype, mode):
    rf = ref_format(sr.binary16)
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 3, 200).astype(dtype)
    x[0] = dtype(1.0001)                       # not representable in binary16
    got = sr.Context(sr.binary16, mode).add.accumulate(x)
    assert got.dtype == dtype
    assert got[0] == x[0]                      # NumPy's rule: x[0] copied, unrounded
    s = float(x[0])
    want = [s]
    for v in x[1:]:
        s = ref_arith("add", [s, float(v)], rf, mode)
        want.append(s)
    assert_matches(got, want, f"accumulate {mode}")
    # multiply.accumulate likewise
    gotp = sr.Context(sr.binary16, mode).multiply.accumulate(x[:30])
    p = float(x[0])
    wantp = [p]
    for v in x[1:30]:
        p = ref_arith("multiply", [p, float(v)], rf, mode)
        wantp.append(p)
    assert_matches(gotp, wantp, f"multiply.accumulate {mode}")


def test_reduce_axis_keepdims_where():
    rf = ref_format(sr.binary16)
    ctx = sr.Context(sr.binary16, "nearest")
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, (5, 7))
    for axis in (0, 1, -1):
        got = ctx.add.reduce(X, axis=axis)
        Xa = np.moveaxis(X, axis, -1)
        want = [loop_sum(row, rf, "nearest") for row in Xa]
        assert_matches(got, want, f"axis={axis}")
        kd = ctx.add.reduce(X, axis=axis, keepdims=True)
        assert kd.shape == np.add.reduce(X, axis=axis, keepdims=True).shape
        np.testing.assert_array_equal(kd.ravel(), got)
    full = ctx.add.reduce(X, axis=None)
    assert full == loop_sum(X.ravel(), rf, "nearest")
    both = ctx.add.reduce(X, axis=(0, 1))
    assert both.shape == () and np.isfinite(both)
    mask = rng.random((5, 7)) < 0.6
    got = ctx.add.reduce(X, axis=1, where=mask)
    want = [loop_sum(row[m], rf, "nearest") for row, m in zip(X, mask)]
    assert_matches(got, want, "where")
    # where= together with an explicit initial
    got = ctx.add.reduce(X, axis=0, where=mask, initial=1000.0)
    want = [loop_sum(col[m], rf, "nearest", start=1000.0) for col, m in zip(X.T, mask.T)]
    assert_matches(got, want, "where+initial")


def test_reduce_out():
    ctx = sr.Context(sr.binary16, "nearest")
    X = np.linspace(0, 3, 12).reshape(3, 4)
    out = np.empty(4)
    r = ctx.add.reduce(X, axis=0, out=out)
    assert r is out
    np.testing.assert_array_equal(out, ctx.add.reduce(X, axis=0))
    with pytest.raises(ValueError):
        ctx.add.reduce(X, axis=0, out=np.empty(3))


# ---------------------------------------------------------------- NumPy machinery

def test_broadcasting():
    ctx = sr.Context(sr.bfloat16, "nearest")
    a = np.linspace(1, 2, 3)[:, None]
    b = np.linspace(0.001, 0.01, 4)[None, :]
    got = ctx.add(a, b)
    assert got.shape == (3, 4)
    A, B = np.broadcast_arrays(a, b)
    np.testing.assert_array_equal(got, ctx.add(A.copy(), B.copy()))
    c = np.float64(0.5)
    np.testing.assert_array_equal(ctx.fma(a, b, c), ctx.fma(A.copy(), B.copy(), np.full((3, 4), c)))
    assert ctx.add(1.0, 2.0 ** -9) == 1.0    # Python scalars
    assert ctx.round(3.0) == 3.0


OUT_CASES = [
    ("right", lambda: np.empty(3)),
    ("too_long", lambda: np.empty(4)),
    ("broadcast_up", lambda: np.empty((2, 3))),
    ("float32", lambda: np.empty(3, np.float32)),
    ("float16", lambda: np.empty(3, np.float16)),
    ("int64", lambda: np.empty(3, np.int64)),
    ("tuple", lambda: (np.empty(3),)),
    ("readonly", lambda: np.empty(3).__array__()),
]


@pytest.mark.parametrize("case", [c[0] for c in OUT_CASES])
def test_out_behaves_like_numpy_ufuncs(case):
    """out= follows NumPy's own rules: the same shapes broadcast, the same casts are
    allowed (same_kind: float64 -> float32 is, float64 -> int64 is not). Note that
    a downcast of the rounded result (e.g. bfloat16 values into a float16 out) is
    NumPy's cast, a second rounding outside srround."""
    make = dict(OUT_CASES)[case]
    ctx = sr.Context(sr.binary16, "nearest")
    x, y = np.arange(3.0), np.full(3, 0.25)
    results = []
    for u in (np.add, ctx.add):
        out = make()
        if case == "readonly":
            out.flags.writeable = False
        try:
            r = u(x, y, out=out)
            results.append(("ok", r.dtype, r.shape, r is (out[0] if isinstance(out, tuple) else out)))
        except Exception as e:  # noqa: BLE001
            results.append(("error", type(e)))
    assert results[0] == results[1]


def test_out_written_in_place_and_returned():
    ctx = sr.Context(sr.binary16, "up")
    x = np.linspace(0, 1, 10)
    out = np.zeros(10)
    r = ctx.round(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, ctx.round(x))
    # in place on the input itself
    y = x.copy()
    ctx.round(y, out=y)
    np.testing.assert_array_equal(y, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_leaves_out_untouched(dtype):
    ctx = sr.Context(sr.binary16, "nearest")
    x = np.linspace(0.1, 5, 9).astype(dtype)
    mask = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1], bool)
    sentinel = dtype(-7.25)
    for op, args in (("round", (x,)), ("add", (x, dtype(0.3))), ("fma", (x, x, dtype(1))),
                     ("sqrt", (x,)), ("divide", (x, dtype(3)))):
        out = np.full(9, sentinel, dtype)
        getattr(ctx, op)(*args, out=out, where=mask)
        full = getattr(ctx, op)(*args)
        np.testing.assert_array_equal(out[mask], full[mask])
        assert (out[~mask] == sentinel).all(), op


def test_integer_inputs_follow_numpy_casting():
    """Integer arrays are cast by NumPy to the first loop they safely fit: int8/int16
    (and uint8/uint16) to float32, int32/int64 to float64. A large int64 is rounded
    to float64 by that cast before srround sees it."""
    ctx = sr.Context(sr.binary16, "nearest")
    assert ctx.add.types == ["ff->f", "dd->d"]
    for dt, want in ((np.int8, np.float32), (np.int16, np.float32), (np.uint8, np.float32),
                     (np.uint16, np.float32), (np.int32, np.float64), (np.int64, np.float64),
                     (np.bool_, np.float32)):
        a = np.arange(5).astype(dt)
        r = ctx.add(a, a)
        assert r.dtype == want, dt
        np.testing.assert_array_equal(r, ctx.add(a.astype(want), a.astype(want)))
    assert ctx.round(np.array([2049], np.int64)) == 2048.0   # tie to even in binary16
    # round takes an int64 beyond 2**53 from its exact value (its own loop): mode
    # "up" at binary64 precision gives 2**53 + 2 for 2**53 + 1 (tests/test_inputs.py)
    up64 = sr.Context(sr.binary64, "up")
    assert up64.round(np.array([2**53 + 1], np.int64))[0] == 2.0**53 + 2
    # int with float32 -> NumPy promotes like for its own ufuncs
    assert ctx.add(np.arange(3, dtype=np.int16), np.float32(1)).dtype == np.float32
    assert ctx.add(np.arange(3, dtype=np.int64), np.float32(1)).dtype == np.float64


@pytest.mark.parametrize("fmt", [sr.binary64, sr.Format(11, 200), sr.Format(25, 127),
                                 sr.Format(24, 127, -127)], ids=repr)
def test_formats_float32_cannot_carry_register_only_float64(fmt):
    """These contexts have only a 'dd->d' loop, so NumPy upcasts float32 input to
    float64 (exactly) and returns float64: the ufuncs are correct, just wider.
    sr.round, by contrast, refuses float32 input for them (see test_api.py)."""
    ctx = sr.Context(fmt, "nearest")
    for name in ("round", "add", "subtract", "multiply", "divide", "fma", "sqrt"):
        u = getattr(ctx, name)
        assert u.types == ROUND_OTHER_LOOPS * (name == "round") + ["d" * u.nin + "->d"], name
    x32 = np.array([1.5, 2.25, 1e-30], np.float32)
    r = ctx.add(x32, x32)
    assert r.dtype == np.float64
    np.testing.assert_array_equal(r, ctx.add(x32.astype(np.float64), x32.astype(np.float64)))
    assert ctx.add.reduce(x32).dtype == np.float64
    assert ctx.round(x32).dtype == np.float64


# round's loops for integers (rounded from their exact value) and float16 come
# first, so that they give float64 as sr.round does (tests/test_inputs.py)
ROUND_OTHER_LOOPS = [np.dtype(t).char + "->d" for t in (np.int64, np.uint64, np.float16)]


def test_float32_formats_list_float32_loop_first():
    for fmt in (sr.binary16, sr.bfloat16, sr.binary32, sr.e4m3, sr.tf32):
        ctx = sr.Context(fmt, "stochastic", rng=0)
        assert ctx.add.types == ["ff->f", "dd->d"]
        assert ctx.round.types == ROUND_OTHER_LOOPS + ["f->f", "d->d"]
        assert ctx.fma.types == ["fff->f", "ddd->d"]


def test_ufunc_arity_identity():
    ctx = sr.Context(sr.binary16, "nearest")
    for name, nin in NIN.items():
        u = getattr(ctx, name)
        assert isinstance(u, np.ufunc)
        assert (u.nin, u.nout) == (nin, 1)
    assert ctx.add.identity == 0
    assert ctx.multiply.identity == 1
    for name in ("round", "subtract", "divide", "fma", "sqrt"):
        assert getattr(ctx, name).identity is None
    assert ctx.add is ctx.add          # one ufunc object per context and operation


def test_ufunc_names_unique_and_informative():
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=0)
    names = [getattr(ctx, op).__name__ for op in NIN]
    assert len(set(names)) == len(names)
    for op, name in zip(NIN, names):
        assert op in name and "bfloat16" in name and "stochastic" in name
    modes = {sr.Context(sr.binary16, m, rng=0).add.__name__ for m in MODES}
    assert len(modes) == len(MODES)
    fmts = {sr.Context(f, "nearest").add.__name__ for f in sr.PRESETS.values()}
    assert len(fmts) == len(sr.PRESETS)


def test_ufunc_names_distinguish_unnamed_formats():
    """Unnamed formats that differ only in subnormals / overflow / max still get
    distinct ufunc names (they show up in NumPy warnings and errors)."""
    variants = [sr.Format(5, 5), sr.Format(5, 5, subnormals=False),
                sr.Format(5, 5, overflow="saturate"), sr.Format(5, 5, overflow="nan"),
                sr.Format(5, 5, max=40.0)]
    assert len(set(variants)) == len(variants)
    names = {sr.Context(f, "nearest").add.__name__ for f in variants}
    assert len(names) == len(variants), sorted(names)


@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
def test_ufunc_outlives_its_context(mode):
    ctx = sr.Context(sr.binary16, mode, rng=5)
    twin = sr.Context(sr.binary16, mode, rng=5)
    add, rnd, fma = ctx.add, ctx.round, ctx.fma
    del ctx
    gc.collect()
    x = np.linspace(0, 1, 1000)
    np.testing.assert_array_equal(add(x, 1e-3), twin.add(x, 1e-3))
    np.testing.assert_array_equal(rnd(x), twin.round(x))
    np.testing.assert_array_equal(fma(x, x, x), twin.fma(x, x, x))
    np.testing.assert_array_equal(add.reduce(x), twin.add.reduce(x))
    del add, rnd
    gc.collect()
    np.testing.assert_array_equal(fma(x, x, x), twin.fma(x, x, x))


def test_no_spurious_floating_point_warnings():
    """Finite, non-overflowing work raises no NumPy FP warning (NumPy checks the
    FP flags after each loop)."""
    ctx = sr.Context(sr.binary16, "nearest")
    x = np.array([1.0, 2.5, 1e-300, 3e-320, 100.0, INF, -INF])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(under="ignore"):
            ctx.round(x)
            ctx.add(x, 1.0)
            ctx.multiply(x[:5], 1e-10)
            ctx.divide(x[:5], 3.0)
            ctx.sqrt(np.abs(x))
            ctx.fma(x[:5], x[:5], 1.0)
            ctx.add(INF, 1.0)
            ctx.multiply(INF, 2.0)
