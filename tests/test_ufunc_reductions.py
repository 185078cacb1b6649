"""Context ufunc reductions against explicit loops: ctx.add.reduce is the recursive
sum with every partial sum rounded (from 0), accumulate copies the first element
(NumPy's rule) then rounds, the stochastic modes draw one word per step; axis=,
keepdims=, where=, out=. Every expected value from tests/reference.py's ref_arith.
"""
import numpy as np
import pytest
from conftest import DETERMINISTIC, STOCHASTIC, assert_same_floats, formats, same_float
from reference import ref_arith
from vector_oracle import ref_format

import srround as sr

FORMATS = formats("binary16", "bfloat16", "e4m3", "e5m2", ("nosub", "p5_e4_nosub"))


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
    assert_same_floats(acc, want, f"stochastic accumulate {mode}")


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
    assert_same_floats(got, want, f"accumulate {mode}")
    # multiply.accumulate likewise
    gotp = sr.Context(sr.binary16, mode).multiply.accumulate(x[:30])
    p = float(x[0])
    wantp = [p]
    for v in x[1:30]:
        p = ref_arith("multiply", [p, float(v)], rf, mode)
        wantp.append(p)
    assert_same_floats(gotp, wantp, f"multiply.accumulate {mode}")


def test_reduce_axis_keepdims_where():
    rf = ref_format(sr.binary16)
    ctx = sr.Context(sr.binary16, "nearest")
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, (5, 7))
    for axis in (0, 1, -1):
        got = ctx.add.reduce(X, axis=axis)
        Xa = np.moveaxis(X, axis, -1)
        want = [loop_sum(row, rf, "nearest") for row in Xa]
        assert_same_floats(got, want, f"axis={axis}")
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
    assert_same_floats(got, want, "where")
    # where= together with an explicit initial
    got = ctx.add.reduce(X, axis=0, where=mask, initial=1000.0)
    want = [loop_sum(col[m], rf, "nearest", start=1000.0) for col, m in zip(X.T, mask.T)]
    assert_same_floats(got, want, "where+initial")


def test_reduce_out():
    ctx = sr.Context(sr.binary16, "nearest")
    X = np.linspace(0, 3, 12).reshape(3, 4)
    out = np.empty(4)
    r = ctx.add.reduce(X, axis=0, out=out)
    assert r is out
    np.testing.assert_array_equal(out, ctx.add.reduce(X, axis=0))
    with pytest.raises(ValueError):
        ctx.add.reduce(X, axis=0, out=np.empty(3))
