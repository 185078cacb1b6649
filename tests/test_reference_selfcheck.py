"""Validate tests/reference.py against independent oracles.

Oracles: NumPy float16 / float32 casts, ml_dtypes casts (nearest only), gfloat
0.5.2 round_float (deterministic modes and limited-bit SR), encoding bits read
from ml_dtypes / NumPy arrays (round to odd), and plain integer arithmetic on
float64 bit patterns (exact 64-bit SR thresholds).
"""

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from conftest import same_float
from reference import PRESETS, RefFormat, encoding_is_odd, neighbours, prob_up, ref_round
from vector_oracle import gfloat_format_infos

ml_dtypes = pytest.importorskip("ml_dtypes")
gfloat = pytest.importorskip("gfloat")
from gfloat import RoundMode  # noqa: E402

TWO64 = 2**64
DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down")

# Storage types whose bit patterns are the format's encoding.
DTYPES = {
    "binary16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "binary32": np.float32,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
}

GFLOAT = gfloat_format_infos()
GFLOAT_MODE = {
    "nearest": RoundMode.TiesToEven,
    "nearest_away": RoundMode.TiesToAway,
    "toward_zero": RoundMode.TowardZero,
    "up": RoundMode.TowardPositive,
    "down": RoundMode.TowardNegative,
}


def assert_all_same(xs, got, want, what):
    bad = [(x, g, w) for x, g, w in zip(xs, got, want) if not same_float(g, w)]
    assert not bad, f"{what}: {len(bad)} mismatches, first: {bad[:5]}"


def sample_values(fmt, dtype, seed=0, per_binade=6):
    """Finite and special values of `dtype` spread over every binade of fmt.

    Random significands in each binade from below the subnormal range up to
    beyond max, plus grid points, exact midpoints between neighbours, the
    dtype values either side of each midpoint, and the overflow thresholds.
    Both signs.  Returns Python floats holding exact `dtype` values.
    """
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    lowest = int(np.log2(float(fi.smallest_subnormal)))
    e_lo = max(fmt.emin - fmt.precision - 3, lowest)
    e_hi = min(fmt.emax + 2, int(fi.maxexp) - 1)
    cand = [math.ldexp(m, e) for e in range(e_lo, e_hi + 1)
            for m in rng.uniform(1, 2, per_binade)]

    # Grid points: a few from each binade and from the subnormal range.
    grid = {fmt.max}
    for e in range(fmt.emin, fmt.emax + 1):
        ulp = Fraction(2) ** (e - fmt.precision + 1)
        n = 2 ** (fmt.precision - 1)  # significands per binade
        ks = {0, 1, n - 1} | {int(k) for k in rng.integers(0, n, 2)}
        grid |= {(n + k) * ulp for k in ks}
    n_sub = 2 ** (fmt.precision - 1)
    grid |= {k * fmt.q for k in {1, 2, n_sub - 1} | {int(k) for k in rng.integers(1, n_sub + 1, 3)}}
    extra = [fmt.max + fmt.s / 2, fmt.max + fmt.s, 2 * fmt.max, fmt.q / 2, fmt.q / 4]
    for g in sorted(grid) + extra:
        lo, hi = neighbours(g + fmt.q / 8, fmt)  # g and the grid point above
        mid = (lo + hi) / 2
        cand += [float(g), float(lo)]
        if mid > Fraction(float(fi.max)):
            continue  # beyond the dtype's range
        m = dtype(float(mid))
        if Fraction(float(m)) == mid:  # an exact tie in this dtype
            cand += [float(m), float(np.nextafter(m, dtype(np.inf))),
                     float(np.nextafter(m, dtype(0)))]
    cand += [float(fi.max), float(fi.smallest_subnormal), 0.0]
    with np.errstate(over="ignore"):
        vals = [float(dtype(v)) for v in cand]  # cast: exact dtype values
    vals = [v for v in vals if math.isfinite(v)]
    vals += [-v for v in vals] + [math.inf, -math.inf, math.nan]
    return vals


# ---------------------------------------------------------------------------
# Round to nearest against NumPy / ml_dtypes casts from float32
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e5m2", "e4m3", "e3m2", "e2m3", "e2m1"])
def test_nearest_matches_casts_from_float32(name):
    fmt, dtype = PRESETS[name], DTYPES[name]
    # At least ~2000 random values even for the narrow fp4/fp6/fp8 formats.
    n_binades = fmt.emax - fmt.emin + fmt.precision + 6
    xs = sample_values(fmt, np.float32, per_binade=max(6, 1000 // n_binades))
    if fmt.overflow == "saturate":
        # ml_dtypes' fp6/fp4 types have no inf or NaN; their casts saturate
        # (inf -> +-max, as we do) but turn NaN into -0.  srround keeps NaN as
        # NaN (design: "NaN stays NaN"), so NaN inputs are left out here.
        xs = [x for x in xs if not math.isnan(x)]
    arr = np.array(xs, dtype=np.float32)
    with np.errstate(over="ignore"):
        got = arr.astype(dtype).astype(np.float64)
    want = [ref_round(x, fmt, "nearest") for x in xs]
    assert_all_same(xs, got, want, name)
    assert len(xs) > 200


def test_e4m3_overflow_ties_like_ml_dtypes():
    fmt = PRESETS["e4m3"]
    xs = [464.0, float(np.nextafter(np.float32(464), np.float32(0))),
          float(np.nextafter(np.float32(464), np.float32(1e9))), 480.0, 1e30]
    xs += [-x for x in xs]
    got = np.array(xs, np.float32).astype(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert_all_same(xs, got, [ref_round(x, fmt, "nearest") for x in xs], "e4m3")
    assert ref_round(464.0, fmt, "nearest") == 448.0  # tie: 448 has the even code
    assert math.isnan(ref_round(464.0000001, fmt, "nearest"))


def test_binary32_matches_numpy_cast_from_float64():
    fmt = PRESETS["binary32"]
    xs = sample_values(fmt, np.float64, per_binade=3)
    with np.errstate(over="ignore"):
        got = np.array(xs).astype(np.float32).astype(np.float64)
    assert_all_same(xs, got, [ref_round(x, fmt, "nearest") for x in xs], "binary32")


# ---------------------------------------------------------------------------
# Deterministic modes against gfloat (float64 inputs)
# ---------------------------------------------------------------------------

def gfloat_round(name, x, mode, **kw):
    fmt = PRESETS[name]
    return gfloat.round_float(GFLOAT[name], x, GFLOAT_MODE.get(mode, mode),
                              sat=fmt.overflow == "saturate", **kw)


def gfloat_inputs(name, seed=1):
    xs = sample_values(PRESETS[name], np.float64, seed=seed, per_binade=3)
    if PRESETS[name].overflow == "saturate":
        xs = [x for x in xs if not math.isnan(x)]  # gfloat: no NaN to return
    return xs


def gfloat_tie_misread(x, fmt, mode):
    """gfloat decides TiesToAway by delta + 0.5 >= 1.0 in binary64, which
    rounds up when delta (the fraction in ulps) is in [1/2 - 2**-54, 1/2).
    That can only happen below the smallest subnormal, where delta keeps all
    53 bits of x; gfloat then wrongly rounds away, so such x are skipped."""
    if mode != "nearest_away" or not math.isfinite(x):
        return False
    lo, hi = neighbours(abs(Fraction(x)), fmt)
    f = (abs(Fraction(x)) - lo) / (hi - lo) if hi > lo else 0
    return Fraction(1, 2) - Fraction(1, 2**54) <= f < Fraction(1, 2)


def test_gfloat_tie_misread_is_real():
    # The documented gfloat disagreement: just below half the smallest
    # binary16 subnormal.  Correct ties-away rounding gives 0, gfloat 2**-24.
    x = float(np.nextafter(2.0**-25, 0))
    assert gfloat_tie_misread(x, PRESETS["binary16"], "nearest_away")
    assert ref_round(x, PRESETS["binary16"], "nearest_away") == 0.0
    assert gfloat_round("binary16", x, "nearest_away") == 2.0**-24


@pytest.mark.parametrize("name", sorted(GFLOAT))
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_deterministic_modes_match_gfloat(name, mode):
    xs = [x for x in gfloat_inputs(name) if not gfloat_tie_misread(x, PRESETS[name], mode)]
    got = [gfloat_round(name, x, mode) for x in xs]
    want = [ref_round(x, PRESETS[name], mode) for x in xs]
    assert_all_same(xs, got, want, f"{name}/{mode}")


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_precision_one_matches_gfloat(mode):
    # p = 1: there is no trailing significand bit, "even" is the parity of the
    # biased exponent.  4 exponent bits, bias 7, top codes inf / NaN.
    from gfloat.types import Domain, FormatInfo
    fi = FormatInfo("p1", 5, 1, bias=7, is_signed=True, domain=Domain.Extended,
                    has_nz=True, num_high_nans=1, has_subnormals=True,
                    is_twos_complement=False)
    fmt = RefFormat(1, 6, -6)
    assert fmt.max == Fraction(fi.max) and fmt.q == Fraction(fi.smallest)
    xs = [x for x in sample_values(fmt, np.float64, per_binade=20)
          if not gfloat_tie_misread(x, fmt, mode)]
    got = [gfloat.round_float(fi, x, GFLOAT_MODE[mode]) for x in xs]
    assert_all_same(xs, got, [ref_round(x, fmt, mode) for x in xs], f"p1/{mode}")


# ---------------------------------------------------------------------------
# Round to odd, by definition, reading the encoding from the storage types
# ---------------------------------------------------------------------------

def code_is_odd(name, v):
    """Last bit of the encoding of v, as the storage type stores it."""
    a = np.array([v], dtype=np.float64).astype(DTYPES[name])
    return int(a.view(np.uint8 if a.itemsize == 1 else f"u{a.itemsize}")[0]) & 1 == 1


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_odd_by_definition(name):
    fmt = PRESETS[name]
    gname = name if name in GFLOAT else None
    xs = [x for x in sample_values(fmt, np.float64, seed=2, per_binade=2)
          if math.isfinite(x)]
    for x in xs:
        r = ref_round(x, fmt, "odd")
        tz = ref_round(x, fmt, "toward_zero") if gname is None else gfloat_round(name, x, "toward_zero")
        if Fraction(tz) == Fraction(x):  # exact: unchanged
            assert same_float(r, x), x
        elif abs(x) > fmt.max:  # odd never overflows
            assert same_float(r, math.copysign(float(fmt.max), x)), x
        else:
            # One of the two neighbours, the one whose code ends in 1.
            away = "up" if x > 0 else "down"
            aw = ref_round(x, fmt, away) if gname is None else gfloat_round(name, x, away)
            assert same_float(r, tz) or same_float(r, aw), x
            assert code_is_odd(name, r), (x, r)
            assert code_is_odd(name, r) == encoding_is_odd(abs(Fraction(r)), fmt)


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e5m2", "e4m3", "e2m1"])
def test_odd_then_nearest_is_nearest(name):
    # Boldo & Melquiond: RN_p(RO_{p+2}(x)) == RN_p(x).  The intermediate format
    # has 2 more bits (so a 4x finer subnormal quantum) and room above max.
    fmt = PRESETS[name]
    wide = RefFormat(fmt.precision + 2, fmt.emax + 4, fmt.emin)
    for x in sample_values(fmt, np.float64, seed=3, per_binade=4):
        y = ref_round(x, wide, "odd")
        assert same_float(ref_round(y, fmt, "nearest"), ref_round(x, fmt, "nearest")), x


# ---------------------------------------------------------------------------
# Stochastic rounding
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GFLOAT))
def test_limited_bits_match_gfloat_fastest(name):
    # gfloat StochasticFastest rounds away iff delta + srbits/2**r >= 1, with
    # delta the fraction in ulps: with srbits = 2**r - 1 - k that is exactly
    # k < floor(delta * 2**r), our rule for k = R >> (64 - r).
    fmt = PRESETS[name]
    rnd = random.Random(4)
    xs = [x for x in gfloat_inputs(name, seed=4) if math.isfinite(x)]
    checked = skipped = 0
    for x in xs:
        lo, hi = neighbours(abs(Fraction(x)), fmt)
        f = (abs(Fraction(x)) - lo) / (hi - lo) if hi > lo else Fraction(0)
        for r in (1, 2, 3, 8, rnd.randint(1, 52)):
            t = math.floor(f * 2**r)
            # random words, and the two either side of the threshold
            for k in {rnd.getrandbits(r), max(t - 1, 0), min(t, 2**r - 1)}:
                srbits = 2**r - 1 - k
                # gfloat adds in binary64: skip the sums it rounds up to 1.
                s = f + Fraction(srbits, 2**r)
                if 1 - Fraction(1, 2**54) <= s < 1:
                    skipped += 1
                    continue
                R = (k << (64 - r)) | rnd.getrandbits(64 - r)
                want = gfloat_round(name, x, RoundMode.StochasticFastest,
                                    srbits=srbits, srnumbits=r)
                got = ref_round(x, fmt, "stochastic", u=Fraction(R, TWO64), bits=r)
                assert same_float(got, want), (x, r, k, got, want)
                checked += 1
    assert checked > 1000 and skipped < checked / 100


def float64_threshold(x, fmt):
    """floor(f * 2**64) from the bits of float64 x, by integer shifts only.

    x = M * 2**E; the target ulp at x is 2**k; the d = k - E discarded low bits
    of M are f's binary digits, so the first 64 of them are (frac << 64) >> d.
    """
    m, e = math.frexp(abs(x))
    M, E = int(m * 2**53), e - 53
    k = max(e - 1, fmt.emin) - fmt.precision + 1
    d = k - E
    return 0 if d <= 0 else ((M & ((1 << d) - 1)) << 64) >> d


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "tf32", "e4m3", "e2m1"])
def test_exact_sr_threshold_from_bits(name):
    fmt = PRESETS[name]
    rnd = random.Random(5)
    for x in sample_values(fmt, np.float64, seed=5, per_binade=2):
        if not math.isfinite(x) or x == 0 or abs(x) >= fmt.max:
            continue
        T = float64_threshold(x, fmt)
        assert prob_up(x, fmt, "stochastic") == Fraction(T, TWO64)
        tz, aw = ref_round(x, fmt, "toward_zero"), ref_round(x, fmt, "up" if x > 0 else "down")
        if T > 0:
            assert same_float(ref_round(x, fmt, "stochastic", u=Fraction(T - 1, TWO64)), aw)
            assert same_float(ref_round(x, fmt, "stochastic", u=Fraction(rnd.randrange(T), TWO64)), aw)
        if T < TWO64:
            assert same_float(ref_round(x, fmt, "stochastic", u=Fraction(T, TWO64)), tz)
            assert same_float(ref_round(x, fmt, "stochastic",
                                  u=Fraction(rnd.randrange(T, TWO64), TWO64)), tz)


@pytest.mark.parametrize("name", ["bfloat16", "e4m3", "e2m1"])
def test_prob_up_counts_random_words(name):
    # With r bits, enumerating every top-r-bit word must hit "away" exactly
    # prob_up * 2**r times; stochastic_equal goes away on half of the words.
    fmt = PRESETS[name]
    for x in sample_values(fmt, np.float32, seed=6, per_binade=1)[::7]:
        if not math.isfinite(x) or abs(x) >= fmt.max:
            continue
        tz = ref_round(x, fmt, "toward_zero")
        for r in (1, 3, 6):
            ups = sum(not same_float(ref_round(x, fmt, "stochastic", u=Fraction(k, 2**r), bits=r), tz)
                      for k in range(2**r))
            assert Fraction(ups, 2**r) == prob_up(x, fmt, "stochastic", bits=r)
        ups = sum(not same_float(ref_round(x, fmt, "stochastic_equal", u=Fraction(k, 4)), tz)
                  for k in range(4))
        assert Fraction(ups, 4) == prob_up(x, fmt, "stochastic_equal")
        assert prob_up(x, fmt, "stochastic_equal") == (Fraction(1, 2) if tz != x else 0)


def test_prob_up_values():
    bf16 = PRESETS["bfloat16"]
    third = float(np.float32(1 / 3))
    p = prob_up(third, bf16, "stochastic")
    # float32(1/3) has the bits 0x3EAAAAAB: bfloat16 keeps the top 16, the
    # discarded 0xAAAB are f = 43691/65536 = 2/3 + 5.1e-6.  (Not within 1e-6
    # of 2/3: the float32 rounding of 1/3 already moved it by 2**-16/3 ulps.)
    assert p == Fraction(0xAAAB, 2**16) and abs(p - Fraction(2, 3)) < 2**-16
    lo, hi = neighbours(Fraction(third), bf16)
    assert p == (Fraction(third) - lo) / (hi - lo)  # f has < 64 bits: exact
    assert prob_up(-third, bf16, "stochastic") == p
    assert prob_up(third, bf16, "stochastic", bits=2) == Fraction(2, 4)
    for name, fmt in PRESETS.items():
        for v in (0.0, -0.0, float(fmt.q), float(fmt.tiny), 1.0, -1.5, float(fmt.max)):
            for mode in ("stochastic", "stochastic_equal"):
                assert prob_up(v, fmt, mode) == 0, (name, v, mode)
                assert same_float(ref_round(v, fmt, mode, u=Fraction(0)), v)


def test_stochastic_overflow_and_sign():
    h = PRESETS["binary16"]  # max 65504, s = 32
    x = 65504.0 + 8
    assert prob_up(x, h, "stochastic") == Fraction(1, 4)
    assert ref_round(x, h, "stochastic", u=Fraction(0)) == math.inf
    assert ref_round(-x, h, "stochastic", u=Fraction(1, 4)) == -65504.0
    assert ref_round(-x, h, "stochastic", u=Fraction(1, 5)) == -math.inf
    e4 = PRESETS["e4m3"]
    assert math.isnan(ref_round(449.0, e4, "stochastic", u=Fraction(0)))
    assert ref_round(449.0, e4, "stochastic", u=Fraction(1, 2)) == 448.0
    assert ref_round(1e9, PRESETS["e2m1"], "stochastic_equal", u=Fraction(3, 4)) == 6.0
    # SR never changes sign; a negative value rounding to zero stays -0.
    for u in (Fraction(0), Fraction(1, 2), Fraction(TWO64 - 1, TWO64)):
        assert same_float(ref_round(-1e-30, h, "stochastic", u=u), -0.0)
        assert same_float(ref_round(-1e-30, h, "stochastic_equal", u=u),
                    -0.0 if u < Fraction(1, 2) else -float(h.q))


# ---------------------------------------------------------------------------
# Overflow policy and no-subnormal formats, by the design's table
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("x, mode, want", [
    (65519.99, "nearest", 65504.0), (65520.0, "nearest", math.inf),
    (-65520.0, "nearest_away", -math.inf), (1e6, "toward_zero", 65504.0),
    (1e6, "up", math.inf), (-1e6, "up", -65504.0), (1e6, "down", 65504.0),
    (-1e6, "down", -math.inf), (1e6, "odd", 65504.0), (-1e6, "odd", -65504.0),
    (math.inf, "toward_zero", math.inf), (-math.inf, "odd", -math.inf),
    (65505.0, "odd", 65504.0),  # 65504 = 2047 * 32: odd code, beyond max
    (65490.0, "odd", 65504.0),  # 65472 = 2046 * 32 is even: go to 65504
    (65450.0, "odd", 65440.0),  # 65440 = 2045 * 32 is odd: stay
])
def test_binary16_overflow_table(x, mode, want):
    assert same_float(ref_round(x, PRESETS["binary16"], mode), want)


@pytest.mark.parametrize("mode", DETERMINISTIC + ("odd",))
def test_saturate_and_nan_policies(mode):
    e3 = PRESETS["e3m2"]
    for x in (29.0, 1e9, math.inf):
        assert ref_round(x, e3, mode) == 28.0 and ref_round(-x, e3, mode) == -28.0
    e4 = PRESETS["e4m3"]
    assert math.isnan(ref_round(math.inf, e4, mode))
    outward = mode in ("nearest", "nearest_away", "up")
    r = ref_round(1e9, e4, mode)
    assert math.isnan(r) if outward else r == 448.0


def test_no_subnormals():
    fmt = RefFormat(3, 3, subnormals=False)  # emin = -2, tiny = 1/4
    t = 0.25
    assert neighbours(Fraction(1, 16), fmt) == (0, Fraction(1, 4))
    assert neighbours(Fraction(9, 32), fmt) == (Fraction(1, 4), Fraction(5, 16))
    assert ref_round(t / 2, fmt, "nearest") == 0.0  # tie: 0 is even
    assert ref_round(t / 2, fmt, "nearest_away") == t
    assert ref_round(0.6 * t, fmt, "nearest") == t
    assert same_float(ref_round(-0.4 * t, fmt, "nearest"), -0.0)
    assert ref_round(0.01 * t, fmt, "odd") == t
    assert ref_round(0.01 * t, fmt, "up") == t and ref_round(0.99 * t, fmt, "down") == 0.0
    assert prob_up(0.75 * t, fmt, "stochastic") == Fraction(3, 4)
    assert ref_round(0.75 * t, fmt, "stochastic", u=Fraction(1, 2)) == t
    assert ref_round(0.75 * t, fmt, "stochastic", u=Fraction(3, 4)) == 0.0
    # 2**emin keeps its place as an even grid point above the gap.
    assert ref_round(t + t / 8, fmt, "nearest") == t


def test_neighbours_continue_above_max():
    e4 = PRESETS["e4m3"]
    assert neighbours(Fraction(450), e4) == (448, 480)
    assert neighbours(Fraction(500), e4) == (480, 512)
    assert neighbours(Fraction(448), e4) == (448, 448)
    assert neighbours(Fraction(0), e4) == (0, 0)
    assert neighbours(Fraction(1, 1024), e4) == (0, Fraction(1, 512))


def test_fraction_input_and_nan():
    h = PRESETS["binary16"]
    assert ref_round(Fraction(1, 3), h, "nearest") == float(np.float16(1 / 3))
    assert same_float(ref_round(Fraction(0), h, "down"), 0.0)
    for mode in DETERMINISTIC + ("odd",):
        assert math.isnan(ref_round(math.nan, h, mode))
    assert math.isnan(ref_round(math.nan, h, "stochastic", u=Fraction(0)))
