"""Stochastic rounding with caller-supplied random bits (sr.round(..., random_bits=R),
Context.round_given): against a slow reference written from the rule itself (x goes
away from zero iff F + (R mod 2**r) >= 2**r, F = floor(f 2**r)), against gfloat's
StochasticFastest mode (the same rule), and statistically (all R, or uniform R, give
the probabilities of bits=r SR)."""
import math
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from conftest import assert_same_floats
from reference import neighbours, prob_up
from vector_oracle import ref_format

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def ref_given(x, fmt, r, R):
    """The rule, in exact arithmetic, for one Python float x and integer R."""
    if math.isnan(x):
        return math.nan
    negative = math.copysign(1.0, x) < 0
    ref = ref_format(fmt)
    if math.isinf(x):
        res = None
    else:
        a = abs(Fraction(x))
        lo, hi = neighbours(a, ref)
        if lo == hi:
            res = lo
        else:
            F = math.floor((a - lo) / (hi - lo) * 2**r)
            res = hi if F + R % 2**r >= 2**r else lo
    if res is None or res > ref.max:          # SR overflows outward, as nearest does
        if fmt.overflow == "saturate":
            res = ref.max
        elif fmt.overflow == "nan":
            return math.nan
        else:
            return -math.inf if negative else math.inf
    if res == 0 and not fmt.signed_zero:
        return 0.0
    return -float(res) if negative else float(res)


def sample(fmt, dtype, n, rng):
    """Values across fmt's range: subnormals, normals, beyond max, specials."""
    lo = fmt.emin - fmt.precision - 2
    hi = fmt.emax + 2
    e = rng.integers(lo, hi + 1, n)
    x = np.ldexp(1 + rng.random(n), e) * rng.choice([-1.0, 1.0], n)
    x = np.concatenate([x, [0.0, -0.0, np.inf, -np.inf, np.nan, fmt.max, -fmt.max,
                            fmt.smallest_subnormal / 2, -fmt.smallest_subnormal * 1.5]])
    return x.astype(dtype)


FORMATS = ["bfloat16", "binary16", "e4m3", "e2m1", "binary8p3", "e5m2fnuz", "e3m2"]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("r", [1, 3, 8, 13, 16, 32, 40, 64])
def test_matches_the_rule(name, dtype, r):
    fmt = sr.PRESETS[name]
    rng = np.random.default_rng(r * 31 + len(name))
    x = sample(fmt, dtype, 300, rng)
    R = rng.integers(0, 2**64 - 1, x.size, dtype=np.uint64, endpoint=True)
    got = sr.round(x, fmt, "stochastic", bits=r, random_bits=R)
    assert got.dtype == dtype
    want = [ref_given(float(v), fmt, r, int(w)) for v, w in zip(x, R)]
    assert_same_floats(got, want, f"{name} r={r} {np.dtype(dtype)}")
    ctx = sr.Context(fmt, "stochastic", bits=r, rng=5)
    before = ctx._state()
    assert_same_floats(ctx.round_given(x, R), want, "Context.round_given")
    after = ctx._state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "words were drawn"


def test_strided_broadcast_and_out():
    fmt = sr.bfloat16
    x = (1 + np.arange(40) / 64.0 * 2.0**-7).astype(np.float32).reshape(8, 5)[:, ::2]
    R = np.arange(3, dtype=np.uint16) * 20000
    got = sr.round(x, fmt, "stochastic", bits=16, random_bits=R)
    want = [[ref_given(float(v), fmt, 16, int(w)) for v, w in zip(row, R)] for row in x]
    assert_same_floats(got, want, "broadcast over rows")
    out = np.empty_like(x)
    assert sr.round(x, fmt, "stochastic", bits=16, random_bits=R, out=out) is out
    assert_same_floats(out, want, "out=")
    # integers and float16 input go through float64, from their exact value
    y = sr.round(np.array([257, 259], np.int64), fmt, "stochastic", bits=2,
                 random_bits=np.array([1, 2], np.uint8))
    assert y.dtype == np.float64 and list(y) == [256.0, 260.0]


@pytest.mark.parametrize("name", ["binary8p3", "binary8p5", "binary8p1"])
@pytest.mark.parametrize("r", [2, 5, 8, 13])
def test_matches_gfloat_stochastic_fastest(name, r):
    """gfloat's StochasticFastest rounds away iff delta + srbits 2**-n >= 1, the same
    rule (exact in float64 for float32 data and these r)."""
    from gfloat import RoundMode, round_ndarray
    from gfloat.formats import format_info_p3109
    fmt = sr.PRESETS[name]
    fi = format_info_p3109(8, fmt.precision)
    rng = np.random.default_rng(r)
    x = sample(fmt, np.float32, 3000, rng)
    x = x[np.isfinite(x)]
    R = rng.integers(0, 2**r, x.size)
    want = round_ndarray(fi, x.astype(np.float64), RoundMode.StochasticFastest,
                         srbits=R, srnumbits=r)
    assert_same_floats(sr.round(x, fmt, "stochastic", bits=r, random_bits=R), want, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("r", [1, 4, 9])
def test_every_random_integer_once_gives_the_sr_probability(dtype, r):
    """Over all 2**r integers, x rounds away exactly F times: P(away) = F / 2**r, the
    probability of bits=r SR (reference.prob_up)."""
    fmt = sr.binary16
    rng = np.random.default_rng(r)
    x = sample(fmt, dtype, 60, rng)
    x = x[np.isfinite(x) & (np.abs(x) < fmt.max)]
    R = np.arange(2**r, dtype=np.uint32)
    y = sr.round(np.repeat(x, R.size), fmt, "stochastic", bits=r,
                 random_bits=np.tile(R, x.size)).reshape(x.size, R.size)
    down = sr.round(x, fmt, "toward_zero")
    for v, row, lo in zip(x, y, down):
        away = np.count_nonzero(row != lo)
        assert Fraction(away, 2**r) == prob_up(float(v), ref_format(fmt), "stochastic", bits=r)


def test_uniform_random_integers_are_bits_r_sr():
    """Uniform 64-bit R: the frequency of rounding away is within 5 sigma of
    bits=r SR's exact probability."""
    fmt, r, n = sr.bfloat16, 6, 200_000
    rng = np.random.default_rng(0)
    for v in (1 + 0.3 * 2.0**-7, 1 + 0.95 * 2.0**-7, 3.2e-39):
        R = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
        y = sr.round(np.full(n, v), fmt, "stochastic", bits=r, random_bits=R)
        p = float(prob_up(v, ref_format(fmt), "stochastic", bits=r))
        freq = np.mean(y != sr.round(np.float64(v), fmt, "toward_zero"))
        assert abs(freq - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (v, freq, p)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(bits=4, random_bits=np.array([1.0])), TypeError, "integers"),
    (dict(bits=4, random_bits=np.array([True])), TypeError, "integers"),
    (dict(bits=4, random_bits=np.array([-1, 2])), ValueError, "non-negative"),
    (dict(bits=4, random_bits=np.arange(3)), ValueError, "broadcast"),
    (dict(bits=0, random_bits=np.arange(4)), ValueError, "bits"),
    (dict(bits=65, random_bits=np.arange(4, dtype=np.uint64)), ValueError, "bits"),
    (dict(bits=9, random_bits=np.arange(4, dtype=np.uint8)), ValueError, "uint8"),
    (dict(bits=33, random_bits=np.arange(4, dtype=np.int32)), ValueError, "int32"),
    (dict(random_bits=np.arange(4)), ValueError, "bits"),
    (dict(bits=4.0, random_bits=np.arange(4)), TypeError, "bits"),
    (dict(bits=4, random_bits=np.arange(4), rng=1), ValueError, "rng"),
])
def test_bad_random_bits(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        sr.round(np.ones(4, np.float32), sr.bfloat16, "stochastic", **kwargs)


def test_random_bits_needs_stochastic():
    with pytest.raises(ValueError, match="stochastic"):
        sr.round(np.ones(4), sr.bfloat16, "nearest", bits=3, random_bits=np.arange(4))
    with pytest.raises(ValueError, match="stochastic"):
        sr.round(np.ones(4), sr.bfloat16, "stochastic_equal", bits=3,
                 random_bits=np.arange(4))
    for ctx in (sr.Context(sr.bfloat16, "nearest"), sr.Context(sr.bfloat16, "stochastic")):
        with pytest.raises(ValueError, match="bits given"):
            ctx.round_given


@pytest.mark.parametrize("r", [8, 40])
def test_nan_payload_kept(r):
    x = np.array([0x7FC01234, 0xFFA00001], np.uint32).view(np.float32)
    y = sr.round(x, sr.bfloat16, "stochastic", bits=r, random_bits=np.array([3, 5]))
    assert np.array_equal(y.view(np.uint32), x.view(np.uint32))
