"""Input types: sr.round and Context.round take the same inputs and give the same
values and result dtypes (the rule in srround/rounding.py's docstring), and
64-bit integers are rounded from their exact value, never first to float64.

Expected values come from tests/reference.py's ref_round on the exact input (a
Fraction), with the random words the context draws (one 64-bit word per element).
"""
import os
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import srround as sr
from srround.rounding import as_float_array

sys.path.insert(0, os.path.dirname(__file__))
from reference import ref_round  # noqa: E402
from vector_oracle import ref_format  # noqa: E402

STOCHASTIC = ("stochastic", "stochastic_equal")


def big_integers(dtype, n=400, seed=0):
    """Integers of every size up to the type's limits, most beyond 2**53 with low bits
    set, ties of 53- and 52-bit formats among them, and the extremes."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    bits = rng.integers(0, 64 if info.min == 0 else 63, n)
    v = [int(rng.integers(0, 2**62)) * 4 + int(rng.integers(0, 4)) >> (63 - int(b))
         for b in bits]
    v = [x if info.min == 0 or i % 2 else -x for i, x in enumerate(v)]
    v += [2**62 + 1025, 2**62 + 1024, 2**62 + 3072, 2**53 + 1, 2**54 + 2, 2**60 + 2**7 + 1,
          info.max, info.max - 1024, info.max - 2047, 0, 1]
    if info.min:
        v += [info.min, info.min + 1, -(2**62 + 1025), -(2**53 + 1)]
    return np.array(v, dtype)


def test_int64_beyond_2_53_is_rounded_once():
    """The example that was wrong: 2**62 + 1025 lies above the midpoint 2**62 + 1024 of
    a 52-bit format; rounding it to float64 first gave the tie, then 2**62."""
    x = np.int64(2**62 + 1025)
    assert sr.round(x, sr.Format(52, 1023)) == 2.0**62 + 2048
    assert sr.Context(sr.Format(52, 1023), "nearest").round(x) == 2.0**62 + 2048
    assert sr.round(np.uint64(2**64 - 1), sr.binary64, "down") == 2.0**64 - 2048
    assert sr.round(np.int64(2**53 + 1), sr.binary64, "up") == 2.0**53 + 2


FORMATS = [sr.Format(52, 1023), sr.binary64, sr.binary32, sr.bfloat16, sr.binary16,
           sr.Format(53, 1023, subnormals=False, overflow="saturate")]
CASES = [(f, m) for f in FORMATS for m in sr.ROUNDINGS]


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("fmt,mode", CASES, ids=[f"{f.label}-{m}" for f, m in CASES])
def test_64_bit_integers_match_the_exact_reference(fmt, mode, dtype):
    x = big_integers(dtype, seed=len(mode))
    ref = ref_format(fmt)
    for data in (x, x[::-2]):                  # contiguous and strided
        words = sr.Context(fmt, mode, rng=9).random_words(data.size)
        with np.errstate(over="ignore"):
            got = [sr.Context(fmt, mode, rng=9).round(data),
                   sr.round(data, fmt, mode, rng=9)]
        want = np.array([ref_round(Fraction(int(v)), ref, mode,
                                   u=Fraction(int(w), 2**64) if mode in STOCHASTIC else None)
                         for v, w in zip(data, words)])
        for g in got:
            assert g.dtype == np.float64
            bad = np.flatnonzero(g != want)
            assert bad.size == 0, (f"{bad.size} wrong, e.g. {int(data[bad[0]])} gave "
                                   f"{g[bad[0]]!r}, want {want[bad[0]]!r}")


# ---------------------------------------------------------------- one input rule

VALUES = [0.0, -0.0, 1.0, 1.5, -2.25, 3.0, 0.1, 448.0, 57344.0, 1e-3, -7.0, 100.0]


def kinds():
    """(name, input, result dtype) for every kind of input the rule covers."""
    f64 = np.array(VALUES)
    ints = np.array([0, 1, -2, 3, 100, -7, 127, 60])
    out = [("float32", f64.astype(np.float32), np.float32),
           ("float64", f64, np.float64),
           (">f4", f64.astype(">f4"), np.float32),
           (">f8", f64.astype(">f8"), np.float64),
           ("float64-strided", np.repeat(f64, 2)[::2], np.float64),
           ("float16", f64.astype(np.float16), np.float64),
           ("bool", np.array([True, False, True]), np.float64),
           ("python-floats", VALUES, np.float64),
           ("python-int", 7, np.float64)]
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64, ">i8"):
        out.append((np.dtype(t).str, np.abs(ints).astype(t) if np.dtype(t).kind == "u"
                    else ints.astype(t), np.float64))
    for t in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "float4_e2m1fn"):
        typ = getattr(ml_dtypes, t)
        out.append((t, f64[np.abs(f64) <= float(ml_dtypes.finfo(typ).max)].astype(typ),
                    np.float32))
    out.append(("int4", np.array([1, -2, 7], ml_dtypes.int4), np.float64))
    for t in (np.float32, np.float64, np.int16):
        m = np.ma.masked_array(f64.astype(t), mask=[i % 3 == 1 for i in range(len(f64))])
        out.append((f"masked-{np.dtype(t).name}", m, np.float64 if t == np.int16
                    else np.dtype(t).type))
    return out


KINDS = kinds()


def same_result(a, b):
    assert type(a) is type(b)
    a, b = np.ma.getdata(a), np.ma.getdata(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a).view(f"u{a.dtype.itemsize}"),
                                  np.asarray(b).view(f"u{b.dtype.itemsize}"))


@pytest.mark.parametrize("mode", ["nearest", "stochastic", "up"])
@pytest.mark.parametrize("name,x,dtype", KINDS, ids=[k[0] for k in KINDS])
def test_sr_round_and_context_round_agree(name, x, dtype, mode):
    for fmt in (sr.bfloat16, sr.e4m3, sr.binary64):
        want_dtype = np.float64 if not fmt.fits_float32 else dtype
        if dtype == np.float32 and name.lstrip(">").startswith(("float32", "f4", "masked-float32")) \
                and not fmt.fits_float32:
            with pytest.raises(ValueError, match="float32"):
                sr.round(x, fmt, mode, rng=4)
            continue
        with np.errstate(over="ignore"):
            a = sr.round(x, fmt, mode, rng=4)
            b = sr.Context(fmt, mode, rng=4).round(x)
        same_result(a, b)
        assert np.asarray(a).dtype == want_dtype, (name, fmt.label)
        if isinstance(x, np.ma.MaskedArray):
            np.testing.assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(x))
        if mode not in STOCHASTIC:
            # the values are those of rounding the exact input as float64
            exact = np.ma.getdata(np.asarray(x) if not isinstance(x, np.ma.MaskedArray)
                                  else x).astype(np.float64)
            with np.errstate(over="ignore"):
                ref = sr.round(exact, fmt, mode)
            np.testing.assert_array_equal(np.ma.getdata(a).astype(np.float64), ref)


def test_out_takes_the_result_dtype():
    x = np.array([1.0, 2.0, 3.0], np.float16)
    out = np.empty(3)
    assert sr.round(x, sr.bfloat16, out=out) is out
    with pytest.raises(ValueError, match="dtype float64"):
        sr.round(x, sr.bfloat16, out=np.empty(3, np.float32))
    out32 = np.empty(3, np.float32)
    sr.round(x.astype(ml_dtypes.bfloat16), sr.e4m3, out=out32)
    np.testing.assert_array_equal(out32, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("x", [np.array([1 + 2j]), np.array(["1.0"]), np.array([1.0], object),
                               np.array([1], "datetime64[s]")],
                         ids=["complex", "str", "object", "datetime"])
def test_non_real_input_is_a_type_error_for_both(x):
    with pytest.raises(TypeError):
        sr.round(x, sr.bfloat16)
    with pytest.raises(TypeError):
        sr.Context(sr.bfloat16, "nearest").round(x)


def test_as_float_array_converts_exactly_or_refuses():
    assert as_float_array(np.array([1.5], ">f8")).dtype == np.float64
    assert as_float_array(np.array([1.5], ml_dtypes.bfloat16)).dtype == np.float32
    assert as_float_array(np.array([2**53], np.int64)).dtype == np.float64
    with pytest.raises(ValueError, match="exactly"):
        as_float_array(np.array([2**53 + 1], np.int64))
    with pytest.raises(ValueError, match="exactly"):
        sr.sum(np.array([1, 2**62 + 1], np.int64), sr.Context(sr.binary64, "nearest"))
