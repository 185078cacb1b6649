"""Hardware formats (issue 13): formats without negative zero, one-binade formats, the
FNUZ / e3m4 / IEEE P3109 presets, checked bit for bit against ml_dtypes' casts and
gfloat's round_ndarray; sr.encode / sr.decode against ml_dtypes' and gfloat's codes.

Oracles: ml_dtypes (casts; float64 input only where it is a float32 value, since
ml_dtypes rounds float64 through float32), gfloat (round_ndarray, encode_ndarray)
and tests/reference.py (exact Fractions) for float64 input between float32 values.
"""
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from conftest import assert_same_floats
from reference import ref_round
from vector_oracle import ref_format

# overflow is part of what is checked here; NumPy's warning about it is noise
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

ml_dtypes = pytest.importorskip("ml_dtypes")
gfloat = pytest.importorskip("gfloat")
from gfloat import RoundMode, round_ndarray  # noqa: E402
from gfloat.encode_ndarray import encode_ndarray  # noqa: E402
from gfloat.formats import format_info_p3109  # noqa: E402
from gfloat.types import Domain  # noqa: E402

# srround preset -> the ml_dtypes type with the same values and codes
ML_TYPES = {
    "e4m3": "float8_e4m3fn", "e4m3fnuz": "float8_e4m3fnuz", "e4m3b11fnuz": "float8_e4m3b11fnuz",
    "e5m2": "float8_e5m2", "e5m2fnuz": "float8_e5m2fnuz", "e3m4": "float8_e3m4",
    "e2m3": "float6_e2m3fn", "e3m2": "float6_e3m2fn", "e2m1": "float4_e2m1fn",
}
NO_NEG_ZERO = ("e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz") + tuple(f"binary8p{p}" for p in range(1, 8))
# gfloat mode -> srround's name for the same rounding
GFLOAT_MODES = {"nearest": RoundMode.TiesToEven, "nearest_away": RoundMode.TiesToAway,
                "toward_zero": RoundMode.TowardZero, "up": RoundMode.TowardPositive,
                "down": RoundMode.TowardNegative}


def same_bits(got, want, what):
    """Equal floats, -0 distinct from +0, NaN equal to NaN."""
    assert_same_floats(got, want, what)


def boundary_patterns(fmt, extra_binades=3):
    """float32 values around every rounding boundary of fmt, both signs: in every
    binade from below the smallest subnormal to above max, each kept significand
    with the discarded bits 0, 1, half - 1, half, half + 1 and all ones."""
    lo_e = max(fmt.emin - fmt.precision - extra_binades, -149)
    hi_e = min(fmt.emax + extra_binades, 127)
    out = []
    for e in range(lo_e, hi_e + 1):
        E = max(e + 127, 0)
        # the format keeps p - 1 trailing bits here (fewer below 2**emin)
        kept = max(min(fmt.precision - 1 - max(fmt.emin - e, 0), 23), 0)
        d = 23 - kept
        sig = np.arange(2 ** kept, dtype=np.uint32) << np.uint32(d)
        tails = {0, 1, (1 << d) - 1}
        if d >= 1:
            tails |= {(1 << (d - 1)) - 1, 1 << (d - 1), (1 << (d - 1)) + 1}
        tails = np.array(sorted(t for t in tails if 0 <= t < (1 << d)), np.uint32)
        bits = (np.uint32(E) << np.uint32(23)) | (sig[:, None] | tails[None, :]).ravel()
        out.append(bits)
    bits = np.unique(np.concatenate(out))
    x = bits.view(np.float32)
    specials = np.array([0.0, np.inf, np.nan, fmt.max, 1.0], np.float32)
    return np.concatenate([x, -x, specials, -specials])


def ml_cast(x, name):
    dt = getattr(ml_dtypes, ML_TYPES[name])
    return x.astype(dt).astype(np.float32)


# ---- the Format model ----------------------------------------------------------

def test_signed_zero_is_a_parameter():
    a = sr.Format(4, 7, -7, overflow="nan", signed_zero=False)
    b = sr.Format(4, 7, -7, overflow="nan")
    assert a != b and hash(a) != hash(b)
    assert a == sr.e4m3fnuz and hash(a) == hash(sr.e4m3fnuz)
    assert not a.signed_zero and b.signed_zero
    assert "signed_zero=False" in repr(a) and "signed_zero" not in repr(b)
    assert a.label != b.label
    assert pickle.loads(pickle.dumps(a)) == a
    assert pickle.loads(pickle.dumps(sr.binary8p3)).signed_zero is False
    assert eval(repr(a), {"Format": sr.Format}) == a
    with pytest.raises(TypeError, match="signed_zero"):
        sr.Format(4, 7, -7, signed_zero=0)


def test_one_binade_formats():
    f = sr.Format(7, 0, 0, max=1.96875, signed_zero=False)
    assert f.emin == f.emax == 0 and f.max == 1.96875
    x = np.array([1.0, 1.96875, 1.97, 0.5, 2.0**-6, 2.0**-7 * 1.5], np.float64)
    same_bits(sr.round(x, f), [1.0, 1.96875, 1.96875, 0.5, 2.0**-6, 2.0**-6], "p7")
    with pytest.raises(ValueError, match="emin"):
        sr.Format(7, 0, 1)


@pytest.mark.parametrize("name, alias", [
    ("e4m3fnuz", "float8_e4m3fnuz"), ("e5m2fnuz", "float8_e5m2fnuz"),
    ("e4m3b11fnuz", "float8_e4m3b11fnuz"), ("e3m4", "float8_e3m4"),
    ("binary8p3", "p3109_k8p3se"), ("binary8p7", "binary8p7"), ("e4m3", "float8_e4m3fn")])
def test_lookup_names(name, alias):
    assert sr.format(alias) is sr.PRESETS[name] is getattr(sr, name)


def test_preset_parameters():
    assert (sr.e4m3fnuz.max, sr.e5m2fnuz.max, sr.e4m3b11fnuz.max, sr.e3m4.max) == \
        (240.0, 57344.0, 30.0, 15.5)
    assert sr.binary8p7.emin == sr.binary8p7.emax == 0 and sr.binary8p7.max == 1.96875
    for name, mlname in ML_TYPES.items():
        info = ml_dtypes.finfo(getattr(ml_dtypes, mlname))
        fmt = sr.PRESETS[name]
        assert fmt.max == float(info.max), name
        assert fmt.smallest_subnormal == float(info.smallest_subnormal), name
        assert fmt.tiny == float(info.smallest_normal), name


@pytest.mark.parametrize("k", range(3, 9))
@pytest.mark.parametrize("domain", ["extended", "finite"])
def test_p3109_parameters_match_gfloat(k, domain):
    for p in range(1, k):
        fi = format_info_p3109(k, p, domain=Domain.Extended if domain == "extended"
                               else Domain.Finite)
        try:
            fmt = sr.p3109(k, p, domain=domain)
        except ValueError:      # no positive finite value: gfloat has none either
            assert fi.max == 0 or fi.max == math.inf or fi.emax < 1 - fi.bias
            continue
        assert fmt.max == fi.max, (k, p)
        assert fmt.emin == 1 - fi.bias, (k, p)
        assert fmt.smallest_subnormal == fi.smallest_subnormal, (k, p)
        assert not fmt.signed_zero
        assert fmt.overflow == ("inf" if domain == "extended" else "nan")
    assert sr.p3109(8, 4, saturate=True).overflow == "saturate"


@pytest.mark.parametrize("call, exc, word", [
    (lambda: sr.p3109(8, 3, signed=False), ValueError, "unsigned"),
    (lambda: sr.p3109(8, 3, domain="Extended"), ValueError, "domain"),
    (lambda: sr.p3109(8, 3, domain=1), TypeError, "domain"),
    (lambda: sr.p3109(8, 8), ValueError, "p"),
    (lambda: sr.p3109(8, 0), ValueError, "p"),
    (lambda: sr.p3109(1, 1), ValueError, "k"),
    (lambda: sr.p3109(8.0, 3), TypeError, "k"),
    (lambda: sr.p3109(8, True), TypeError, "p"),
    (lambda: sr.p3109(8, 3, saturate=1), TypeError, "saturate"),
    (lambda: sr.p3109(16, 1), ValueError, "emax|range"),
])
def test_p3109_bad_arguments(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


# ---- no negative zero ----------------------------------------------------------

MODES = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd", "stochastic",
         "stochastic_equal")


@pytest.mark.parametrize("name", NO_NEG_ZERO)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_negative_zero_from_rounding(name, mode, dtype):
    fmt = sr.PRESETS[name]
    tiny = fmt.smallest_subnormal
    x = np.array([-0.0, -tiny / 4, -tiny / 2, -tiny * 0.75, -tiny / 3, -1e-30, -tiny],
                 np.float64).astype(dtype)
    x = np.repeat(x, 50)
    y = sr.round(x, fmt, mode, rng=1)
    assert not np.any(np.signbit(y) & (y == 0)), y
    # the nonzero results are those of a format with -0, which differs only in zeros
    twin = sr.Format(fmt.precision, fmt.emax, fmt.emin, overflow=fmt.overflow, max=fmt.max)
    z = sr.round(x, twin, mode, rng=1)
    assert_same_floats(y, np.where(z == 0, 0.0, z), f"{name} {mode}")


@pytest.mark.parametrize("stream", ["sequential", "counter"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_arrays_draw_the_same_stream(dtype, stream):
    """Arrays longer than the blocks the -0 loops work in (csrc/unsigned_zero.c): the
    same random words, element for element, as the format with -0."""
    x = np.random.default_rng(0).standard_normal(50000).astype(dtype) * 2.0**-6
    twin = sr.Format(4, 7, -7, overflow="nan")
    for op in ("round", "accumulate", "multiply"):
        got, want = [], []
        for fmt, out in ((sr.e4m3fnuz, got), (twin, want)):
            ctx = sr.Context(fmt, "stochastic", rng=4, stream=stream)
            out.append({"round": lambda: ctx.round(x),
                        "accumulate": lambda: ctx.add.accumulate(x),
                        "multiply": lambda: ctx.multiply(x, x[::-1])}[op]())
        assert_same_floats(got[0], np.where(want[0] == 0, 0.0, want[0]), op)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_negative_zero_from_arithmetic(dtype):
    for mode in ("nearest", "down", "stochastic"):
        ctx = sr.Context(sr.e4m3fnuz, mode, rng=0)
        a = np.array([-1.0, -0.0, 3.0, -2.0**-12], dtype)
        b = np.array([0.0, -0.0, 3.0, 1.0], dtype)
        for out in (ctx.multiply(a, b), ctx.add(-0.0 * b, b * 0 - 0.0),
                    ctx.subtract(a, a), ctx.multiply(a, b[::-1]), ctx.fma(a, b, -0.0 * b),
                    ctx.divide(np.array([-0.0], dtype), 2.0), ctx.sqrt(np.array([-0.0], dtype)),
                    ctx.round(np.array([-0.0], dtype)),
                    ctx.add.reduce(np.array([-0.0, -0.0], dtype)),
                    ctx.multiply.accumulate(np.array([-1.0, 0.0, -1.0], dtype)),
                    ctx.kahan_sum(np.array([-0.0, -0.0], dtype))):
            out = np.asarray(out)
            assert not np.any(np.signbit(out) & (out == 0)), (mode, out)
        for out in (sr.matmul(np.array([[1.0, -1.0], [-1.0, 0.0]], dtype),
                              np.array([[1.0, 0.0], [1.0, 0.0]], dtype), ctx),
                    sr.dot(np.array([-1.0], dtype), np.array([0.0], dtype), ctx)):
            out = np.asarray(out)
            assert not np.any(np.signbit(out) & (out == 0)), (mode, "matmul", out)
        # the same operations in a format with -0 do give -0
        twin = sr.Context(sr.Format(4, 7, -7, overflow="nan"), mode, rng=0)
        assert np.signbit(twin.multiply(dtype(-1.0), dtype(0.0)))


# ---- bit-exact against ml_dtypes -----------------------------------------------

@pytest.mark.parametrize("name", sorted(ML_TYPES))
def test_nearest_matches_ml_dtypes_at_boundaries(name):
    fmt = sr.PRESETS[name]
    x = boundary_patterns(fmt)
    if fmt.overflow == "saturate":      # ml_dtypes' MX types have no NaN: it invents one
        x = x[~np.isnan(x)]
    want = ml_cast(x, name)
    same_bits(sr.round(x, fmt), want, f"{name} from float32")
    # float64 input holding float32 values: ml_dtypes rounds it through float32,
    # which is exact for these
    same_bits(sr.round(x.astype(np.float64), fmt), want, f"{name} from float64")


@pytest.mark.parametrize("name", sorted(ML_TYPES))
def test_nearest_float64_between_float32_values(name):
    """float64 values that float32 cannot hold (where ml_dtypes would round twice):
    against the exact reference."""
    fmt = sr.PRESETS[name]
    rng = np.random.default_rng(3)
    x32 = boundary_patterns(fmt, extra_binades=1)
    x32 = x32[np.isfinite(x32) & (x32 != 0)]
    x = rng.choice(x32, 400).astype(np.float64)
    x = x * (1 + rng.choice([-1, 1], x.size) * 2.0**-40)    # just off each boundary
    got = sr.round(x, fmt)
    ref = ref_format(fmt)
    want = [ref_round(float(v), ref, "nearest") for v in x]
    if not fmt.signed_zero:
        want = [0.0 if w == 0 else w for w in want]
    same_bits(got, want, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ML_TYPES))
def test_nearest_matches_ml_dtypes_every_float32_near_range(name):
    """Every float32 bit pattern from 4 binades below the smallest subnormal to 2
    above max, both signs."""
    fmt = sr.PRESETS[name]
    lo = max(fmt.emin - fmt.precision - 3 + 127, 0)
    hi = min(fmt.emax + 2 + 127, 254)
    for E in range(lo, hi + 1):
        bits = (np.uint32(E) << np.uint32(23)) + np.arange(2**23, dtype=np.uint32)
        x = bits.view(np.float32)
        for xs in (x, -x):
            got, want = sr.round(xs, fmt), ml_cast(xs, name)
            same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) &
                                                                    np.isnan(want))
            assert same.all(), (name, E, xs[~same][:4], got[~same][:4], want[~same][:4])


# ---- bit-exact against gfloat ---------------------------------------------------

def p3109_cases():
    for k in (3, 4, 5, 6, 8):
        for p in range(1, k):
            for domain in ("extended", "finite"):
                try:
                    sr.p3109(k, p, domain=domain)
                except ValueError:
                    continue
                yield k, p, domain


@pytest.mark.parametrize("k, p, domain", list(p3109_cases()))
@pytest.mark.parametrize("saturate", [False, True])
def test_p3109_matches_gfloat(k, p, domain, saturate):
    fmt = sr.p3109(k, p, domain=domain, saturate=saturate)
    fi = format_info_p3109(k, p, domain=Domain.Extended if domain == "extended"
                           else Domain.Finite)
    x32 = boundary_patterns(fmt)
    x32 = x32[np.abs(x32) < 2.0**126]       # gfloat scales by 2**-expval in float64
    rng = np.random.default_rng(k * 100 + p)
    x64 = rng.choice(x32[np.isfinite(x32)], 300).astype(np.float64) * \
        (1 + rng.choice([-1, 1], 300) * 2.0**-35)
    for mode, gmode in GFLOAT_MODES.items():
        for x in (x32, x64):
            want = round_ndarray(fi, x.astype(np.float64), gmode, sat=saturate)
            same_bits(sr.round(x, fmt, mode), want.astype(x.dtype),
                      f"k{k}p{p} {domain} sat={saturate} {mode} {x.dtype}")


# ---- encode / decode -------------------------------------------------------------

SMALL = [n for n, f in sr.PRESETS.items() if sr.encoding.layout(f).nbits <= 16]


def all_codes(fmt):
    nbits = sr.encoding.layout(fmt).nbits
    return np.arange(2**nbits, dtype=np.uint64).astype(sr.encoding.code_dtype(nbits))


@pytest.mark.parametrize("name", sorted(ML_TYPES))
def test_codes_match_ml_dtypes(name):
    fmt = sr.PRESETS[name]
    dt = getattr(ml_dtypes, ML_TYPES[name])
    values = sr.decode(all_codes(fmt), fmt)
    codes = sr.encode(values, fmt)
    ml = values.astype(np.float32).astype(dt).view(np.uint8)
    finite = ~np.isnan(values)
    assert np.array_equal(codes[finite], ml[finite])
    # and ml_dtypes reads every code as decode does
    every = np.arange(2 ** sr.encoding.layout(fmt).nbits, dtype=np.uint8)
    same_bits(sr.decode(every, fmt), every.view(dt).astype(np.float64), name)


@pytest.mark.parametrize("name", SMALL)
def test_every_code_round_trips(name):
    fmt = sr.PRESETS[name]
    lay = sr.encoding.layout(fmt)
    codes = all_codes(fmt)
    values = sr.decode(codes, fmt)
    back = sr.encode(values, fmt)
    nan = np.isnan(values)
    assert np.array_equal(back[~nan], codes[~nan])
    assert np.all(back[nan] == lay.nan)
    # every value of the format is decoded exactly once (no two codes of one value)
    finite = values[~nan]
    assert np.unique(finite).size == finite.size - (1 if fmt.signed_zero else 0)
    same_bits(sr.round(finite, fmt), finite, f"{name}: decoded values are in the format")
    same_bits(sr.decode(back, fmt), values, name)


@pytest.mark.parametrize("name", ["binary32", "binary64"])
def test_wide_codes_are_the_machine_encoding(name):
    fmt = sr.PRESETS[name]
    dtype, udtype = (np.float32, np.uint32) if name == "binary32" else (np.float64, np.uint64)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, np.iinfo(udtype).max, 10000, dtype=udtype, endpoint=True)
    values = codes.view(dtype)
    finite = ~np.isnan(values)
    assert np.array_equal(sr.encode(values[finite], fmt), codes[finite])
    same_bits(sr.decode(codes, fmt, dtype), values, name)


@pytest.mark.parametrize("k, p, domain", list(p3109_cases()))
def test_p3109_codes_match_gfloat(k, p, domain):
    fmt = sr.p3109(k, p, domain=domain)
    fi = format_info_p3109(k, p, domain=Domain.Extended if domain == "extended"
                           else Domain.Finite)
    values = sr.decode(all_codes(fmt), fmt)
    assert np.array_equal(sr.encode(values, fmt).astype(np.int64),
                          encode_ndarray(fi, values).astype(np.int64))


def test_encode_rules():
    assert sr.encode(-0.0, sr.e4m3fnuz) == 0 and sr.encode(-0.0, sr.e4m3) == 0x80
    assert sr.encode(np.float32(np.nan), sr.e4m3) == 0x7F
    assert sr.encode(-np.nan, sr.binary8p4) == 0x80
    assert sr.encode(np.inf, sr.binary8p4) == 0x7F and sr.encode(-np.inf, sr.binary8p4) == 0xFF
    assert sr.encode(np.nan, sr.binary16) == 0x7E00
    assert sr.encode([1.0], sr.binary16).dtype == np.uint16
    assert sr.encode([1.0], sr.tf32).dtype == np.uint32
    assert sr.encode(np.array([[1, 2], [3, 4]]), sr.e4m3).shape == (2, 2)
    with pytest.raises(ValueError, match=r"x\[2\] = .*0\.3.* e4m3"):
        sr.encode([1.0, 2.0, 0.3, 0.7], sr.e4m3)
    with pytest.raises(ValueError, match="not a value"):
        sr.encode([500.0], sr.e4m3)
    with pytest.raises(ValueError, match="not a value"):
        sr.encode([np.inf], sr.e4m3)
    with pytest.raises(ValueError, match="not a value"):
        sr.encode([np.nan], sr.e2m1)
    with pytest.raises(ValueError, match="no standard encoding"):
        sr.encode([1.0], sr.Format(4, 8, -6, max=416))
    with pytest.raises(ValueError, match="no standard encoding"):
        sr.encode([1.0], sr.Format(4, 5, subnormals=False))
    with pytest.raises(TypeError):
        sr.encode(["a"], sr.e4m3)
    with pytest.raises(TypeError):
        sr.decode(np.array([1.5]), sr.e4m3)
    with pytest.raises(ValueError, match="codes"):
        sr.decode(np.array([256]), sr.e4m3)
    with pytest.raises(ValueError, match="codes"):
        sr.decode(np.array([-1]), sr.e4m3)
    with pytest.raises(ValueError, match="float32"):
        sr.decode(np.array([1]), sr.binary64, np.float32)
    with pytest.raises(TypeError, match="dtype"):
        sr.decode(np.array([1]), sr.e4m3, np.int32)
    assert sr.decode(np.array([0x38], np.uint8), "e4m3", np.float32).dtype == np.float32


def test_packed_layouts():
    # fp4: first element in the low nibble
    codes = sr.encode([1.0, 6.0, -0.5], sr.e2m1)
    assert list(codes) == [0b0010, 0b0111, 0b1001]
    packed = sr.encode([1.0, 6.0, -0.5], sr.e2m1, packed=True)
    assert list(packed) == [0x72, 0x09]                  # padded with a zero code
    same_bits(sr.decode(packed, sr.e2m1, packed=True, count=3), [1.0, 6.0, -0.5], "fp4")
    assert sr.decode(packed, sr.e2m1, packed=True).size == 4
    # fp6: four codes in three bytes, element j in bits 6j .. 6j+5 (little-endian)
    vals = np.array([1.0, -7.5, 0.125, 2.0, 3.0])
    c = sr.encode(vals, sr.e2m3)
    packed = sr.encode(vals, sr.e2m3, packed=True)
    assert packed.dtype == np.uint8 and packed.size == 6
    word = int(packed[0]) | int(packed[1]) << 8 | int(packed[2]) << 16
    assert [(word >> (6 * j)) & 63 for j in range(4)] == list(c[:4])
    assert packed[3] == c[4] and packed[4] == packed[5] == 0
    same_bits(sr.decode(packed, sr.e2m3, packed=True, count=5), vals, "fp6")
    rng = np.random.default_rng(1)
    for fmt in (sr.e2m1, sr.e2m3, sr.e3m2):
        for n in range(0, 13):
            v = sr.decode(rng.integers(0, 2 ** sr.encoding.layout(fmt).nbits, n), fmt)
            same_bits(sr.decode(sr.encode(v, fmt, packed=True), fmt, packed=True, count=n),
                      v, f"{fmt.label} n={n}")
    with pytest.raises(ValueError, match="4- and 6-bit"):
        sr.encode([1.0], sr.e4m3, packed=True)
    with pytest.raises(ValueError, match="1-D"):
        sr.encode(np.ones((2, 2)), sr.e2m1, packed=True)
    with pytest.raises(ValueError, match="count"):
        sr.decode(packed, sr.e2m3, packed=True, count=9)
    with pytest.raises(ValueError, match="count"):
        sr.decode(c, sr.e2m3, count=2)
    with pytest.raises(ValueError, match="3 bytes"):
        sr.decode(packed[:4], sr.e2m3, packed=True)
