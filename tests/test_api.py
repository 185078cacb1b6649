"""The public API surface: Format, presets and lookup, pickling, argument checking
(clear exceptions that name the argument) and the odd inputs sr.round must take
in its stride (empty, 0-d, scalars, strided views, NaN payloads, infinities,
signed zeros, subnormals)."""
import math
import pickle

import numpy as np
import pytest
from conftest import MODES, STOCHASTIC

import srround as sr

# name -> (precision, emax, emin, overflow, max or None), from each format's
# specification: IEEE 754-2019 (binary16, binary32), bfloat16, NVIDIA TF32, OCP 8-bit
# floating point v1.0 (E5M2, E4M3) and OCP Microscaling v1.0 (E3M2, E2M3, E2M1)
PRESET_TABLE = {
    "binary16": (11, 15, -14, "inf", None),
    "bfloat16": (8, 127, -126, "inf", None),
    "tf32": (11, 127, -126, "inf", None),
    "binary32": (24, 127, -126, "inf", None),
    "e5m2": (3, 15, -14, "inf", None),
    "e4m3": (4, 8, -6, "nan", 448.0),
    "e3m2": (3, 4, -2, "saturate", None),
    "e2m3": (4, 2, 0, "saturate", None),
    "e2m1": (2, 2, 0, "saturate", None),
}


# ---------------------------------------------------------------- Format

@pytest.mark.parametrize("name", list(PRESET_TABLE))
def test_presets_match_design_table(name):
    p, emax, emin, overflow, mx = PRESET_TABLE[name]
    f = getattr(sr, name)
    assert isinstance(f, sr.Format)
    assert (f.precision, f.emax, f.emin, f.overflow, f.subnormals) == (p, emax, emin, overflow, True)
    full = (2 - 2.0 ** (1 - p)) * 2.0**emax
    assert f.max == (full if mx is None else mx)
    assert f.name == name
    assert sr.format(name) is f
    assert sr.PRESETS[name] is f


def test_preset_known_values():
    assert sr.binary16.max == 65504.0
    assert sr.bfloat16.max == float(np.finfo(np.float32).max) * (1 - 2.0**-8) / (1 - 2.0**-24)
    assert sr.e5m2.max == 57344.0
    assert sr.e4m3.max == 448.0
    assert sr.e3m2.max == 28.0
    assert sr.e2m3.max == 7.5
    assert sr.e2m1.max == 6.0
    assert sr.binary32.max == float(np.finfo(np.float32).max)
    assert sr.binary64.max == float(np.finfo(np.float64).max)


def test_format_attributes():
    f = sr.Format(11, 15)
    assert f.emin == -14                      # default 1 - emax
    assert f.precision == 11 and f.emax == 15
    assert f.max == 65504.0
    assert f.tiny == 2.0**-14
    assert f.smallest_subnormal == 2.0**-24
    assert f.eps == 2.0**-10
    assert f.unit_roundoff == 2.0**-11
    assert f.subnormals is True and f.overflow == "inf"
    g = sr.Format(4, 8, -6, subnormals=False, overflow="nan", max=448)
    assert g.smallest_subnormal == g.tiny == 2.0**-6
    assert g.max == 448.0 and g.overflow == "nan" and g.subnormals is False
    assert sr.binary64.smallest_subnormal == 5e-324
    assert sr.binary32.tiny == float(np.finfo(np.float32).tiny)
    assert sr.binary32.eps == float(np.finfo(np.float32).eps)
    for f in sr.PRESETS.values():
        assert f.unit_roundoff == f.eps / 2
        assert f.tiny == 2.0**f.emin


def test_format_equality_and_hash_ignore_name():
    a = sr.Format(11, 15)
    assert a == sr.binary16 and hash(a) == hash(sr.binary16)
    assert sr.Format(11, 15, -14, name="half") == sr.binary16
    assert {a, sr.binary16, sr.Format(11, 15, name="x")} == {a}
    assert {sr.binary16: 1}[sr.Format(11, 15)] == 1
    assert a != sr.Format(11, 15, subnormals=False)
    assert a != sr.Format(11, 15, overflow="saturate")
    assert a != sr.Format(11, 16)
    assert a != sr.Format(10, 15)
    assert sr.Format(4, 8, -6) != sr.e4m3
    assert sr.Format(4, 8, -6, overflow="nan", max=448) == sr.e4m3
    # max equal to the default top value is the same format
    assert sr.Format(4, 8, -6, max=480) == sr.Format(4, 8, -6)
    assert (a == "binary16") is False and a != 11


@pytest.mark.parametrize("f", list(sr.PRESETS.values()) + [
    sr.Format(5, 7), sr.Format(5, 7, -3, subnormals=False),
    sr.Format(3, 4, overflow="saturate", max=24.0), sr.Format(1, 3)], ids=repr)
def test_format_repr_and_pickle(f):
    r = repr(f)
    assert r.startswith("Format(") and str(f.precision) in r and str(f.emax) in r
    back = eval(r, {"Format": sr.Format})
    assert back == f and back.name == f.name
    p = pickle.loads(pickle.dumps(f))
    assert p == f and p.name == f.name and repr(p) == r


def test_format_lookup_by_name_and_alias():
    cases = {
        "binary16": sr.binary16, "fp16": sr.binary16, "half": sr.binary16,
        "FLOAT16": sr.binary16, "bf16": sr.bfloat16, "BFloat16": sr.bfloat16,
        "fp8_e4m3": sr.e4m3, "FP8-E4M3": sr.e4m3, "e4m3fn": sr.e4m3,
        "fp8_e5m2": sr.e5m2, "tf32": sr.tf32, "fp32": sr.binary32,
        "single": sr.binary32, "fp64": sr.binary64, "e2m1": sr.e2m1, "fp4_e2m1": sr.e2m1,
        "fp6_e3m2": sr.e3m2, "fp6_e2m3": sr.e2m3,
    }
    for name, f in cases.items():
        assert sr.format(name) is f, name
    assert sr.format(sr.bfloat16) is sr.bfloat16
    custom = sr.Format(5, 5)
    assert sr.format(custom) is custom


def test_format_names_accepted_everywhere():
    x = np.array([1.0 + 2.0**-9])
    np.testing.assert_array_equal(sr.round(x, "bf16"), sr.round(x, sr.bfloat16))
    assert sr.Context("fp16", "nearest").format == sr.binary16


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("name", ["binary15", "", "bf17", "float8"])
def test_unknown_format_name(name):
    with pytest.raises(ValueError, match="format"):
        sr.format(name)
    with pytest.raises(ValueError, match="format"):
        sr.round(1.0, name)
    with pytest.raises(ValueError, match="format"):
        sr.Context(name)


def test_format_of_wrong_type():
    with pytest.raises(TypeError):
        sr.format(16)
    with pytest.raises(TypeError, match="fmt|format"):
        sr.Context(16)
    with pytest.raises(TypeError):
        sr.round(1.0, None)


@pytest.mark.parametrize("rounding", ["nearst", "NEAREST", "sr", ""])
def test_unknown_rounding(rounding):   # non-strings: TypeError (tests/test_api_consistency.py)
    with pytest.raises(ValueError, match="rounding"):
        sr.round(1.0, sr.binary16, rounding)
    with pytest.raises(ValueError, match="rounding"):
        sr.Context(sr.binary16, rounding)


@pytest.mark.parametrize("args,kwargs,word", [
    ((0, 15), {}, "precision"),
    ((-3, 15), {}, "precision"),
    ((54, 15), {}, "precision"),
    ((11, 5, 6), {}, "emin"),
    ((11, 5, 9), {}, "emin"),
    ((11, 1024), {}, "emax"),
    ((11, 15, -1023), {}, "emin"),
    ((4, 8, -6), {"max": 449}, "max"),          # not representable
    ((4, 8, -6), {"max": 200}, "max"),          # below the top binade
    ((4, 8, -6), {"max": 512}, "max"),          # above the top binade
    ((4, 8, -6), {"max": 0}, "max"),
    ((4, 8, -6), {"max": -448}, "max"),
    ((4, 8, -6), {"max": math.inf}, "max"),
    ((4, 8, -6), {"max": math.nan}, "max"),
    ((11, 15), {"overflow": "clamp"}, "overflow"),
    ((11, 15), {"overflow": "INF"}, "overflow"),
])
def test_bad_format_arguments_value_error(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        sr.Format(*args, **kwargs)


@pytest.mark.parametrize("args,kwargs,word", [
    ((11.0, 15), {}, "precision"),
    ((11.5, 15), {}, "precision"),
    (("11", 15), {}, "precision"),
    ((True, 15), {}, "precision"),
    ((None, 15), {}, "precision"),
    ((11, 15.0), {}, "emax"),
    ((11, 15, -14.0), {}, "emin"),
    ((4, 8, -6), {"max": "448"}, "max"),
    ((11, 15), {"name": 5}, "name"),
])
def test_bad_format_arguments_type_error(args, kwargs, word):
    with pytest.raises(TypeError, match=word):
        sr.Format(*args, **kwargs)


def test_numpy_integer_parameters_accepted():
    assert sr.Format(np.int64(11), np.int32(15)) == sr.binary16


@pytest.mark.parametrize("bits", [0, 65, -1, 1000])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        sr.Context(sr.binary16, "stochastic", bits=bits)
    with pytest.raises(ValueError, match="bits"):
        sr.round(1.1, sr.binary16, "stochastic", bits=bits)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "stochastic"])
def test_bits_with_other_modes(mode):
    with pytest.raises(ValueError, match="bits"):
        sr.Context(sr.binary16, mode, bits=8)
    with pytest.raises(ValueError, match="bits"):
        sr.round(1.1, sr.binary16, mode, bits=8)


def test_bits_type():
    with pytest.raises(TypeError, match="bits"):
        sr.Context(sr.binary16, "stochastic", bits=8.0)
    for b in (1, 8, 64, np.int8(5)):
        assert sr.Context(sr.binary16, "stochastic", bits=b, rng=0).bits == b


@pytest.mark.parametrize("x", [np.array([1 + 2j]), np.array([1.0], np.complex64), 1j,
                               np.array(["1.0"]), "1.0", np.array([1.0], object),
                               [1.0, None], np.array([b"1"])], ids=repr)
def test_non_real_input_type_error(x):
    with pytest.raises(TypeError, match="x|dtype"):
        sr.round(x, sr.binary16)


def test_longdouble_input_type_error():
    x = np.array([1.0], np.longdouble)
    if x.dtype == np.float64:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match="float64|dtype"):
        sr.round(x, sr.binary16)


def test_integer_and_small_float_input_become_float64():
    """Documented: integer, bool and float16 input is converted to float64."""
    for x in (np.arange(5, dtype=np.int8), np.arange(5), np.array([True, False]),
              np.array([1.5], np.float16), [1, 2, 3], 7):
        r = sr.round(x, sr.binary16)
        assert r.dtype == np.float64
        np.testing.assert_array_equal(r, np.asarray(x, np.float64))
    assert sr.round(np.array([2049]), sr.binary16)[0] == 2048.0


def test_out_argument_checks():
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="out"):
        sr.round(x, sr.binary16, out=np.empty(6))
    with pytest.raises(ValueError, match="out"):
        sr.round(x, sr.binary16, out=np.empty((5, 1)))
    with pytest.raises(ValueError, match="out"):
        sr.round(x, sr.binary16, out=np.empty(5, np.float32))
    with pytest.raises(ValueError, match="out"):
        sr.round(x.astype(np.float32), sr.binary16, out=np.empty(5))
    with pytest.raises((TypeError, ValueError), match="out"):
        sr.round(x, sr.binary16, out=[0.0] * 5)
    out = np.empty(5)
    assert sr.round(x, sr.binary16, out=out) is out
    np.testing.assert_array_equal(out, sr.round(x, sr.binary16))
    out32 = np.empty(5, np.float32)
    assert sr.round(x.astype(np.float32), sr.binary16, "stochastic", rng=1, out=out32) is out32


@pytest.mark.parametrize("fmt", [sr.binary64, sr.Format(11, 200), sr.Format(25, 127),
                                 sr.Format(24, 127, -127), sr.Format(8, 128)], ids=repr)
def test_float32_input_with_format_float32_cannot_carry(fmt):
    assert not fmt.fits_float32
    for mode in ("nearest", "stochastic"):
        with pytest.raises(ValueError, match="float32"):
            sr.round(np.ones(3, np.float32), fmt, mode)
        with pytest.raises(ValueError, match="float32"):
            sr.round(np.float32(1.0), fmt, mode)
    # float64 input is fine
    assert sr.round(np.ones(3), fmt).dtype == np.float64


def test_formats_float32_can_carry():
    for f in sr.PRESETS.values():
        assert f.fits_float32 == (f is not sr.binary64)
    assert sr.Format(24, 127, -126, subnormals=False).fits_float32


def test_rng_argument_validated_in_deterministic_modes_too():
    """A negative seed is a ValueError in every mode: a deterministic mode has no use
    for rng, but should not accept garbage silently."""
    with pytest.raises(ValueError):
        sr.round(1.0, sr.binary16, "nearest", rng=-1)
    with pytest.raises(TypeError):
        sr.Context(sr.binary16, "nearest", rng="seed")


# ---------------------------------------------------------------- Context

def test_context_attributes_and_repr():
    c = sr.Context(sr.bfloat16, "stochastic", bits=7, rng=0)
    assert c.format == sr.bfloat16 and c.rounding == "stochastic" and c.bits == 7
    assert c.stochastic
    r = repr(c)
    assert "bfloat16" in r and "stochastic" in r and "bits=7" in r
    d = sr.Context(sr.binary16, "nearest")
    assert not d.stochastic and d.bits is None
    assert sr.Context(sr.binary16).rounding == "stochastic"   # the default


@pytest.mark.parametrize("mode", MODES)
def test_context_pickle_keeps_stream(mode):
    c = sr.Context(sr.e4m3, mode, rng=31)
    x = np.random.default_rng(0).uniform(-500, 500, 257)
    c.round(x)                               # advance the stream (mid-buffer)
    p = pickle.loads(pickle.dumps(c))
    assert (p.format, p.rounding, p.bits) == (c.format, c.rounding, c.bits)
    assert p.format.name == "e4m3"
    np.testing.assert_array_equal(p.round(x), c.round(x))
    np.testing.assert_array_equal(p.add(x, x[::-1]), c.add(x, x[::-1]))
    np.testing.assert_array_equal(p.random_words(10), c.random_words(10))


def test_context_pickle_with_bits():
    c = sr.Context(sr.binary16, "stochastic", bits=3, rng=2)
    p = pickle.loads(pickle.dumps(c))
    assert p.bits == 3
    x = np.full(1000, 1 + 2.0**-12)
    np.testing.assert_array_equal(p.round(x), c.round(x))


# ---------------------------------------------------------------- odd inputs

def _neighbours(x, fmt):
    return (sr.round(x, fmt, "down"), sr.round(x, fmt, "up"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_and_zero_d(mode, dtype):
    e = sr.round(np.empty((0, 4), dtype), sr.binary16, mode, rng=0)
    assert e.shape == (0, 4) and e.dtype == dtype
    z = sr.round(np.array(3.0001, dtype), sr.binary16, mode, rng=0)
    assert np.ndim(z) == 0 and z.dtype == dtype
    assert z in _neighbours(np.array(3.0001, dtype), sr.binary16)
    s = sr.round(dtype(3.0001), sr.binary16, mode, rng=0)
    assert s.dtype == dtype


@pytest.mark.parametrize("mode", MODES)
def test_python_scalars(mode):
    r = sr.round(1.0 + 2.0**-12, sr.binary16, mode, rng=0)
    assert r.dtype == np.float64 and np.ndim(r) == 0
    assert r in (1.0, 1.0 + 2.0**-10)
    assert sr.round(3, sr.binary16, mode, rng=0) == 3.0
    assert sr.round([1.0, 2.0], sr.binary16, mode, rng=0).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("mode", ["nearest", "up", "odd"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_views_deterministic(mode, dtype):
    base = np.random.default_rng(1).uniform(-100, 100, (20, 30)).astype(dtype)
    views = [base[::2], base[:, ::3], base[::-1], base[:, ::-2], base.T, base[5:1:-1, 29:2:-5],
             np.asfortranarray(base), base.ravel()[::7]]
    for v in views:
        want = sr.round(np.ascontiguousarray(v), sr.bfloat16, mode)
        np.testing.assert_array_equal(sr.round(v, sr.bfloat16, mode), want)
        ctx = sr.Context(sr.bfloat16, mode)
        np.testing.assert_array_equal(ctx.round(v), want)
        out = np.empty_like(v)
        np.testing.assert_array_equal(sr.round(v, sr.bfloat16, mode, out=out), want)


@pytest.mark.parametrize("mode", STOCHASTIC)
def test_strided_views_stochastic(mode):
    base = np.random.default_rng(1).uniform(-100, 100, (20, 30))
    for v in (base[::2], base[::-1], base.T, base[:, ::-3]):
        r = sr.round(v, sr.bfloat16, mode, rng=5)
        lo, hi = _neighbours(v, sr.bfloat16)
        assert ((r == lo) | (r == hi)).all()
        np.testing.assert_array_equal(r, sr.round(v, sr.bfloat16, mode, rng=5))
    # the input view itself is left alone
    before = base.copy()
    sr.round(base[::-1], sr.bfloat16, mode, rng=1)
    np.testing.assert_array_equal(base, before)


NAN32 = [0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0x7F800100]
NAN64 = [0x7FF0000000000001, 0xFFF0000000000001, 0x7FF8000000000000, 0x7FFFFFFFFFFFFFFF,
         0x7FF0000000000100, 0x7FF0000100000000]


def _nans(dtype):
    if dtype == np.float32:
        return np.array(NAN32, np.uint32).view(np.float32)
    return np.array(NAN64, np.uint64).view(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_nan_payloads_stay_nan(dtype, mode):
    x = _nans(dtype)
    assert np.isnan(x).all()
    fmts = [f for f in list(sr.PRESETS.values()) + [sr.Format(5, 5, subnormals=False)]
            if dtype == np.float64 or f.fits_float32]
    for f in fmts:
        with np.errstate(all="ignore"):
            r = sr.round(x, f, mode, rng=0)
            assert r.dtype == dtype and np.isnan(r).all(), (f, mode)
            ctx = sr.Context(f, mode, rng=0)
            for res in (ctx.round(x), ctx.add(x, dtype(1)), ctx.multiply(x, dtype(2)),
                        ctx.divide(dtype(1), x), ctx.fma(x, dtype(1), dtype(0)), ctx.sqrt(x),
                        ctx.subtract(dtype(0), x)):
                assert np.isnan(res).all(), (f, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinities_follow_overflow_policy(mode, dtype):
    x = np.array([np.inf, -np.inf], dtype)
    for f in sr.PRESETS.values():
        if dtype == np.float32 and not f.fits_float32:
            continue
        r = sr.round(x, f, mode, rng=0)
        if f.overflow == "inf":
            np.testing.assert_array_equal(r, x)
        elif f.overflow == "saturate":
            np.testing.assert_array_equal(r, [f.max, -f.max])
        else:
            assert np.isnan(r).all()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zero_preserved(mode, dtype):
    x = np.array([0.0, -0.0], dtype)
    for f in (sr.binary16, sr.e2m1, sr.Format(5, 5, subnormals=False)):
        r = sr.round(x, f, mode, rng=0)
        assert (r == 0).all()
        assert list(np.signbit(r)) == [False, True], (f, mode)
    # tiny negatives never become +0 (SR never changes sign; RN keeps it)
    t = np.array([-1e-30, 1e-30], dtype)
    r = sr.round(t, sr.binary16, mode, rng=0)
    assert list(np.signbit(r)) == [True, False]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormals(dtype):
    # binary16 subnormals are representable: unchanged in every mode
    k = np.arange(1, 1024, dtype=np.float64)
    sub = (k * 2.0**-24).astype(dtype)
    for mode in MODES:
        np.testing.assert_array_equal(sr.round(sub, sr.binary16, mode, rng=0), sub)
        np.testing.assert_array_equal(sr.round(-sub, sr.binary16, mode, rng=0), -sub)
    # input subnormals of the input type itself
    tiny_in = np.array([np.finfo(dtype).smallest_subnormal, -np.finfo(dtype).smallest_subnormal], dtype)
    assert sr.round(tiny_in, sr.binary16, "up").tolist() == [2.0**-24, -0.0]
    assert sr.round(tiny_in, sr.binary16, "down").tolist() == [0.0, -(2.0**-24)]
    assert sr.round(tiny_in, sr.bfloat16, "up")[0] == 2.0**-133
    r = sr.round(tiny_in, sr.binary16, "nearest")
    assert r.tolist() == [0.0, 0.0] and list(np.signbit(r)) == [False, True]
    # without subnormals, values below tiny go to 0 or tiny
    nosub = sr.Format(11, 15, subnormals=False)
    assert sr.round(np.array([2.0**-16], dtype), nosub, "up")[0] == 2.0**-14
    assert sr.round(np.array([2.0**-16], dtype), nosub, "nearest")[0] == 0.0
    assert sr.round(np.array([0.75 * 2.0**-14], dtype), nosub, "nearest")[0] == 2.0**-14
