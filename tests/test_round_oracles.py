"""Deterministic rounding modes of srround against independent oracles.

* tests/vector_oracle.py: exact integer rounding on frexp'd significands,
  vectorized with NumPy (cross-checked here against tests/reference.py);
* NumPy's float16 and float32 casts, ml_dtypes casts (round to nearest);
* gfloat.round_ndarray (the five IEEE modes, float64 input; unlike gfloat's
  scalar round_float it decides ties exactly, so no input needs skipping);
* round to odd by its definition, reading encodings from the storage types,
  and through RN_p(RO_{p+2}(x)) == RN_p(x).

Every comparison is bitwise: NaN matches NaN, and the sign of zero counts.
"""

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
from conftest import DETERMINISTIC, formats
from reference import neighbours, prob_up, ref_round
from vector_oracle import (Split, gfloat_format_infos, grid_points, mismatch_report,
                           oracle_round, ref_format, same_bits, sample)

import srround as sr

try:
    import ml_dtypes
except ImportError:  # the ml_dtypes tests skip; everything else runs
    ml_dtypes = None

N = 10**6  # random inputs per format and input type

# name -> Format.  Presets, then custom formats: odd precisions, precision 1,
# tiny and huge exponent ranges, no subnormals, each overflow policy, a
# reserved-code max under the "inf" policy, and near-binary64 formats (whose
# round-up can carry past the largest float64).
FORMATS = formats("binary16", "bfloat16", "tf32", "binary32", "binary64",
                  "e5m2", "e4m3", "e3m2", "e2m3", "e2m1",
                  "p5_e3_em20", "ieee_e3m4", "ieee_e4m3", "p1", "p1_sat", "p1_wide", "p2_e1",
                  "p3_below_one", "p3_e127", "nosub", "fp16_nosub_sat", "fp32_nosub",
                  "bf16_nan", "e4m3_inf", "e5m2_sat_max", "p53", "p53_sat", "p53_nosub",
                  "p52", "p50_em1000", "p3_e100_em900", "p6_e1000")

CASES = [(name, dt) for name, f in FORMATS.items()
         for dt in (np.float32, np.float64) if dt is np.float64 or f.fits_float32]
CASE_IDS = [f"{name}-{np.dtype(dt).name}" for name, dt in CASES]


def assert_same(x, got, want, what):
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    report = mismatch_report(x, got, want)
    assert not report, f"{what}: {report}"


def check_against_oracle(x, fmt, what, modes=DETERMINISTIC):
    split = Split(x, fmt)
    errors = []
    for mode in modes:
        want = split.result(mode).astype(x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            got = sr.round(x, fmt, mode)
        report = mismatch_report(x, got, want)
        if got.dtype != x.dtype:
            report = f"dtype {got.dtype}"
        if report:
            errors.append(f"{what}/{mode}: {report}")
    assert not errors, "\n".join(errors)


# ---------------------------------------------------------------------------
# The vectorized oracle agrees with the slow exact reference
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FORMATS))
def test_vector_oracle_matches_reference(name):
    fmt = FORMATS[name]
    rf = ref_format(fmt)
    rng = np.random.default_rng(11)
    for dt in (np.float32, np.float64):
        if dt is np.float32 and not fmt.fits_float32:
            continue
        x = sample(fmt, dt, 500, seed=12)
        xs = [float(v) for v in x]
        split = Split(x, fmt)
        for mode in DETERMINISTIC:
            want = np.array([ref_round(v, rf, mode) for v in xs])
            assert_same(x, split.result(mode), want, f"oracle {name}/{mode}")
        words = rng.integers(0, 2**64, x.size, dtype=np.uint64, endpoint=False)
        for mode, bits in (("stochastic", None), ("stochastic", 3), ("stochastic", 37),
                           ("stochastic_equal", None)):
            want = np.array([ref_round(v, rf, mode, u=Fraction(int(w), 2**64), bits=bits)
                             for v, w in zip(xs, words)])
            assert_same(x, split.result(mode, words, bits), want, f"oracle {name}/{mode}/{bits}")
        # the SR threshold is floor(f * 2**64) exactly
        fin = np.isfinite(x)
        thr = [Fraction(int(t), 2**64) for t in split.thr[fin]]
        assert thr == [prob_up(v, rf, "stochastic") for v, ok in zip(xs, fin) if ok]
        rd, ru = split.magnitudes()
        for v, lo, hi in list(zip(xs, rd, ru))[:200]:
            if math.isfinite(v) and hi < math.inf:
                assert neighbours(abs(Fraction(v)), rf) == (Fraction(lo), Fraction(hi))


# ---------------------------------------------------------------------------
# srround against the vectorized oracle: 1e6 inputs per format and input type
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, dtype", CASES, ids=CASE_IDS)
def test_deterministic_modes_bit_exact(name, dtype):
    fmt = FORMATS[name]
    x = sample(fmt, dtype, N, seed=zlib.crc32(name.encode()))
    assert x.size >= N
    check_against_oracle(x, fmt, f"{name}/{np.dtype(dtype).name}")


EXHAUSTIVE16 = ["binary16", "e5m2", "e4m3", "e3m2", "e2m3", "e2m1", "p1", "p1_sat", "p2_e1",
                "p3_below_one", "nosub", "fp16_nosub_sat", "e4m3_inf", "p5_e3_em20"]


@pytest.mark.parametrize("name", EXHAUSTIVE16)
def test_every_float16_input(name):
    """All 65536 float16 bit patterns (widened exactly to float32 and float64)."""
    fmt = FORMATS[name]
    h = np.arange(2**16, dtype=np.uint16).view(np.float16)
    for dt in (np.float32, np.float64):
        check_against_oracle(h.astype(dt), fmt, f"{name}/all-float16/{np.dtype(dt).name}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["binary16", "bfloat16", "tf32", "e5m2", "e4m3", "e2m1"])
def test_float32_bit_pattern_sweep(name):
    """Every 251st float32 bit pattern (17 million inputs, all binades and
    NaN payloads), in chunks."""
    fmt = FORMATS[name]
    step = 251
    chunk = 2**22
    for start in range(0, 2**32, chunk * step):
        stop = min(start + chunk * step, 2**32)
        x = np.arange(start, stop, step, dtype=np.uint64).astype(np.uint32).view(np.float32)
        check_against_oracle(x, fmt, f"{name}/sweep@{start}")


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items() if not f.fits_float32])
def test_float32_input_refused_for_wide_formats(name):
    with pytest.raises(ValueError):
        sr.round(np.ones(3, np.float32), FORMATS[name], "nearest")


def test_binary64_is_identity_on_float64():
    x = sample(sr.binary64, np.float64, 10**5, seed=3)
    for mode in DETERMINISTIC:
        got = sr.round(x, sr.binary64, mode)
        assert same_bits(got, x).all(), mode


def test_constructed_edge_cases():
    """A few hand-written expectations, independent of any oracle."""
    h = sr.binary16
    f32 = np.float32
    nan_low = np.array([0x7f800001], np.uint32).view(f32)
    for mode in DETERMINISTIC:
        assert np.isnan(sr.round(nan_low, h, mode)[0])
        assert np.isnan(sr.round(nan_low, sr.e2m1, mode)[0])  # saturating: NaN stays NaN
        for fmt, v in ((h, np.inf), (sr.e4m3, np.nan), (sr.e2m1, 6.0)):
            r = sr.round(np.array([np.inf, -np.inf], f32), fmt, mode)
            assert same_bits(r, [v, -v]).all(), (fmt, mode, r)
        z = sr.round(np.array([0.0, -0.0]), h, mode)
        assert same_bits(z, [0.0, -0.0]).all(), mode
    # ties in binary16 at 1: 1 + 2**-11 goes to 1 (even), 1 + 3 * 2**-11 to 1 + 2**-9
    x = np.array([1 + 2.0**-11, 1 + 3 * 2.0**-11, -(1 + 2.0**-11)])
    assert (sr.round(x, h, "nearest") == [1, 1 + 2.0**-9, -1]).all()
    assert (sr.round(x, h, "nearest_away") == [1 + 2.0**-10, 1 + 2.0**-9, -(1 + 2.0**-10)]).all()
    assert (sr.round(x, h, "odd") == [1 + 2.0**-10, 1 + 2.0**-10, -(1 + 2.0**-10)]).all()
    # overflow thresholds of binary16: max + ulp/2 is a tie that goes to inf
    x = np.array([65504, 65519.996, 65520, 65536, 1e300])
    assert (sr.round(x, h, "nearest") == [65504, 65504, np.inf, np.inf, np.inf]).all()
    assert (sr.round(-x, h, "up") == -65504).all()
    assert (sr.round(x, h, "toward_zero") == 65504).all()
    assert (sr.round(x, h, "odd") == 65504).all()
    assert (sr.round(x[2:], h, "up") == np.inf).all()
    # subnormals: half the smallest binary16 subnormal is a tie to +-0
    q = 2.0**-24
    x = np.array([q / 2, -q / 2, np.nextafter(q / 2, 1), q / 4, -q / 4])
    assert same_bits(sr.round(x, h, "nearest"), [0, -0.0, q, 0, -0.0]).all()
    assert same_bits(sr.round(x, h, "up"), [q, -0.0, q, q, -0.0]).all()
    assert same_bits(sr.round(x, h, "down"), [0, -q, 0, 0, -q]).all()
    assert same_bits(sr.round(x, h, "odd"), [q, -q, q, q, -q]).all()
    # no subnormals: 0 and 2**emin are neighbours, the tie between them goes to 0
    ns = sr.Format(4, 5, subnormals=False)  # emin = -4
    t = 2.0**-4
    x = np.array([t / 2, t * 0.51, t * 0.01, -t * 0.49])
    assert same_bits(sr.round(x, ns, "nearest"), [0, t, 0, -0.0]).all()
    assert same_bits(sr.round(x, ns, "nearest_away"), [t, t, 0, -0.0]).all()
    assert same_bits(sr.round(x, ns, "odd"), [t, t, t, -t]).all()
    # precision 1 (values are powers of two; the encoding parity is the exponent's)
    p1 = sr.Format(1, 6, -6)
    x = np.array([3.0, 6.0, 1.5, 0.75, 2.0**-7, 2.0**-7 * 1.0001, 100.0, 96.0, 1e9])
    assert (sr.round(x, p1, "toward_zero") == [2, 4, 1, 0.5, 0, 0, 64, 64, 64]).all()
    assert (sr.round(x, p1, "up") == [4, 8, 2, 1, 2.0**-6, 2.0**-6, np.inf, np.inf, np.inf]).all()
    # e4m3: 464 is the tie between 448 (even) and 480 (beyond max): stays 448
    t = f32(464)
    x = np.array([t, np.nextafter(t, f32(0)), np.nextafter(t, f32(1e9)), 449, 1e6], f32)
    assert same_bits(sr.round(x, sr.e4m3, "nearest"), [448, 448, np.nan, 448, np.nan]).all()
    assert same_bits(sr.round(x, sr.e4m3, "up"), [np.nan] * 5).all()
    assert same_bits(sr.round(x, sr.e4m3, "toward_zero"), [448] * 5).all()
    # near-binary64: rounding up from the top binade carries into 2**1024 = inf
    p52 = sr.Format(52, 1023)
    big = np.finfo(np.float64).max
    assert sr.round(np.array([big]), p52, "up")[0] == np.inf
    assert sr.round(np.array([big]), p52, "nearest")[0] == np.inf  # tie, p52.max is odd
    assert sr.round(np.array([big]), p52, "toward_zero")[0] == p52.max
    assert sr.round(np.array([big]), sr.Format(52, 1023, overflow="saturate"), "up")[0] == p52.max
    assert math.isnan(sr.round(np.array([big]), sr.Format(52, 1023, overflow="nan"), "up")[0])


# ---------------------------------------------------------------------------
# Round to nearest against NumPy and ml_dtypes casts
# ---------------------------------------------------------------------------

def test_binary16_nearest_matches_numpy_cast():
    for dt in (np.float32, np.float64):
        x = sample(sr.binary16, dt, N, seed=21)
        with np.errstate(over="ignore", invalid="ignore"):
            want = x.astype(np.float16).astype(dt)
        assert_same(x, sr.round(x, sr.binary16, "nearest"), want, f"binary16 from {dt}")


def test_binary32_nearest_matches_numpy_cast():
    x = sample(sr.binary32, np.float64, N, seed=22)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(np.float32).astype(np.float64)
    assert_same(x, sr.round(x, sr.binary32, "nearest"), want, "binary32 from float64")
    # and binary32 from float32 input is the identity
    y = sample(sr.binary32, np.float32, 10**5, seed=23)
    for mode in DETERMINISTIC:
        assert same_bits(sr.round(y, sr.binary32, mode), y).all(), mode


ML_DTYPES = {} if ml_dtypes is None else {
    "bfloat16": ml_dtypes.bfloat16,
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "ieee_e3m4": ml_dtypes.float8_e3m4,
    "ieee_e4m3": ml_dtypes.float8_e4m3,
}


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
@pytest.mark.parametrize("name", sorted(ML_DTYPES) or ["bfloat16"])
def test_nearest_matches_ml_dtypes_from_float32(name):
    fmt = FORMATS[name]
    # ml_dtypes' fp6/fp4 types have no NaN: their casts turn NaN into -0, while
    # srround keeps NaN (design: NaN stays NaN).  Leave NaN out there.
    keep_nan = fmt.overflow != "saturate"
    x = sample(fmt, np.float32, N, seed=24, nan=keep_nan)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(ML_DTYPES[name]).astype(np.float32)
    assert_same(x, sr.round(x, fmt, "nearest"), want, name)


# ---------------------------------------------------------------------------
# The five IEEE modes against gfloat.round_ndarray (float64 input)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["binary16", "bfloat16", "tf32", "e5m2", "e4m3", "e3m2",
                                  "e2m3", "e2m1"])
def test_ieee_modes_match_gfloat_round_ndarray(name):
    gfloat = pytest.importorskip("gfloat")
    from gfloat import RoundMode
    fi = gfloat_format_infos()[name]
    fmt = FORMATS[name]
    sat = fmt.overflow == "saturate"
    x = sample(fmt, np.float64, 2 * 10**5, seed=25, nan=not sat)
    modes = {"nearest": RoundMode.TiesToEven, "nearest_away": RoundMode.TiesToAway,
             "toward_zero": RoundMode.TowardZero, "up": RoundMode.TowardPositive,
             "down": RoundMode.TowardNegative}
    for mode, gm in modes.items():
        with np.errstate(over="ignore", invalid="ignore"):
            want = gfloat.round_ndarray(fi, x, gm, sat=sat)
        assert_same(x, sr.round(x, fmt, mode), np.asarray(want, np.float64), f"{name}/{mode}")


# ---------------------------------------------------------------------------
# Round to odd
# ---------------------------------------------------------------------------

STORAGE = {name: dt for name, dt in ML_DTYPES.items() if name in sr.PRESETS}
STORAGE.update(binary16=np.float16, binary32=np.float32)


def encoding_last_bit(values, storage):
    """Last bit of each value's encoding in its storage type (values exact)."""
    a = np.asarray(values, np.float64).astype(storage)
    return (a.view(f"u{a.itemsize}") & 1).astype(bool)


@pytest.mark.parametrize("name", sorted(STORAGE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_odd_by_definition(name, dtype):
    fmt = FORMATS[name]
    if name == "binary32" and dtype is np.float32:
        pytest.skip("float32 input is exact in binary32")
    x = sample(fmt, dtype, 2 * 10**5, seed=26)
    x = x[np.isfinite(x)]
    r = sr.round(x, fmt, "odd")
    tz = sr.round(x, fmt, "toward_zero")
    aw = np.where(np.signbit(x), sr.round(x, fmt, "down"), sr.round(x, fmt, "up"))
    exact = same_bits(tz, x)
    assert same_bits(r[exact], x[exact]).all()
    beyond = ~exact & (np.abs(x) > fmt.max)
    assert same_bits(r[beyond], np.copysign(fmt.max, x[beyond])).all()
    inexact = ~exact & ~beyond
    ri = r[inexact]
    assert (same_bits(ri, tz[inexact]) | same_bits(ri, aw[inexact])).all()
    odd = encoding_last_bit(np.abs(ri), STORAGE[name])
    assert odd.all(), mismatch_report(x[inexact][~odd], ri[~odd], ri[~odd] * np.nan)
    assert inexact.sum() > x.size // 4


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "tf32", "binary32", "e5m2", "e4m3",
                                  "e3m2", "e2m1", "p1", "p5_e3_em20", "p3_e100_em900"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_odd_then_nearest_is_nearest(name, dtype):
    # Boldo & Melquiond: RN_p(RO_{p+2}(x)) == RN_p(x).  The intermediate format
    # has two more bits, the same emin (a 4x finer subnormal quantum) and room
    # above max.
    fmt = FORMATS[name]
    wide = sr.Format(fmt.precision + 2, fmt.emax + 4, fmt.emin, subnormals=fmt.subnormals)
    if dtype is np.float32 and not wide.fits_float32:
        pytest.skip("the intermediate format needs float64")
    x = sample(fmt, dtype, 2 * 10**5, seed=27)
    with np.errstate(over="ignore", invalid="ignore"):
        y = sr.round(x, wide, "odd")
        assert_same(x, sr.round(y, fmt, "nearest"), sr.round(x, fmt, "nearest"), name)


# ---------------------------------------------------------------------------
# Memory layouts, scalars, empty arrays, out=
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["bfloat16", "e4m3", "nosub"])
def test_layouts_give_the_same_results(name, dtype):
    fmt = FORMATS[name]
    base = sample(fmt, dtype, 7000, seed=28)[:6000]
    for mode in DETERMINISTIC:
        want = oracle_round(base, fmt, mode)
        views = {
            "strided": (base[::3], want[::3]),
            "reversed": (base[::-1], want[::-1]),
            "reversed_strided": (base[-2::-5], want[-2::-5]),
            "2d": (base.reshape(60, 100), want.reshape(60, 100)),
            "transposed": (base.reshape(60, 100).T, want.reshape(60, 100).T),
            "fortran": (np.asfortranarray(base.reshape(60, 100)), want.reshape(60, 100)),
            "3d_sliced": (base.reshape(10, 20, 30)[::2, ::-3, 1::4],
                          want.reshape(10, 20, 30)[::2, ::-3, 1::4]),
        }
        for label, (v, w) in views.items():
            got = sr.round(v, fmt, mode)
            assert got.shape == v.shape and got.dtype == v.dtype
            assert same_bits(got, w).all(), (label, mode)
            ctx = sr.Context(fmt, mode)
            assert same_bits(ctx.round(v), w).all(), (label, mode)
            out = np.full_like(v, 7)
            r = sr.round(v, fmt, mode, out=out)
            assert r is out and same_bits(out, w).all(), (label, mode)
        # a non-contiguous out
        big = np.zeros(2 * base.size, dtype)
        sr.round(base, fmt, mode, out=big[::2])
        assert same_bits(big[::2], want).all() and (big[1::2] == 0).all()
        # 0-d arrays, NumPy scalars and Python floats, one at a time
        for i in range(0, base.size, 397):
            r0 = sr.round(base[i:i + 1].reshape(()), fmt, mode)
            assert np.shape(r0) == () and same_bits(r0, want[i]), (mode, base[i])
            r1 = sr.round(base[i], fmt, mode)
            assert same_bits(r1, want[i]), (mode, base[i])
            if dtype is np.float64:
                r2 = sr.round(float(base[i]), fmt, mode)
                assert np.asarray(r2).dtype == np.float64 and same_bits(r2, want[i])
        # empty arrays keep their shape and dtype
        for shape in ((0,), (3, 0), (0, 5, 2)):
            e = sr.round(np.empty(shape, dtype), fmt, mode)
            assert e.shape == shape and e.dtype == dtype


def test_python_scalars_and_lists():
    fmt = sr.bfloat16
    xs = [1 / 3, -2.5e-40, 1e39, -0.0, float("nan"), float("inf"), 7, -3]
    want = oracle_round(np.array(xs, np.float64), fmt, "nearest")
    assert same_bits(sr.round(xs, fmt, "nearest"), want).all()
    for v, w in zip(xs, want):
        assert same_bits(sr.round(v, fmt, "nearest"), w), v


def test_grid_points_are_fixed_points():
    for name, fmt in FORMATS.items():
        g = grid_points(fmt, 20000, np.random.default_rng(29))
        for mode in DETERMINISTIC:
            assert same_bits(sr.round(g, fmt, mode), g).all(), (name, mode)
            if fmt.fits_float32:
                g32 = g.astype(np.float32)
                assert (g32 == g).all()
                assert same_bits(sr.round(g32, fmt, mode), g32).all(), (name, mode)
