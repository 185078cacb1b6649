"""Hardening (issue 10, Python side): each test here failed before its fix.

Formats are immutable values and the presets read-only; tampered pickles of a
Context are refused; format names ignore '-' and '_'; flags take bools only;
huge integers give ValueError, not OverflowError; a per-channel zero channel
quantizes; solve_ivp lets a format's own NaN through; matmul keeps its memory bound.
"""
import pickle
import tracemalloc

import numpy as np
import pytest

import srround as sr
from srround import summation


# ---------------------------------------------------------------- Format values

def test_format_cannot_be_reinitialised():
    f = sr.Format(11, 15, name="half")
    before = (f._params(), hash(f), f.name)
    with pytest.raises(TypeError, match="immutable"):
        f.__init__(0, 15)
    with pytest.raises(TypeError, match="immutable"):
        f.__init__(5, 7, name="other")
    assert (f._params(), hash(f), f.name) == before


def test_preset_survives_reinit_and_deterministic_cache_stays_right():
    x = np.array([1.0 + 2.0**-9, 3.0e5, -2.0**-20])
    expected = sr.round(x, sr.bfloat16)           # fills rounding.py's cache
    with pytest.raises(TypeError):
        sr.bfloat16.__init__(11, 15)
    assert sr.bfloat16 == sr.Format(8, 127, -126)
    np.testing.assert_array_equal(sr.round(x, sr.bfloat16), expected)
    np.testing.assert_array_equal(sr.round(x, "bf16"), expected)


def test_presets_read_only():
    with pytest.raises(TypeError):
        sr.PRESETS["binary16"] = sr.Format(5, 5)
    with pytest.raises(TypeError):
        del sr.PRESETS["e4m3"]
    with pytest.raises((TypeError, AttributeError)):
        sr.PRESETS.clear()
    assert sr.PRESETS["binary16"] is sr.binary16 and sr.format("fp16") is sr.binary16


def test_context_cannot_be_reinitialised():
    ctx = sr.Context(sr.binary16, "nearest")
    add = ctx.add
    with pytest.raises(TypeError, match="re-initialised"):
        ctx.__init__(sr.e2m1, "up")
    assert ctx.format == sr.binary16 and ctx.rounding == "nearest"
    assert ctx.add is add and float(add(1.0, 2.0**-11)) == 1.0


def test_uninitialised_format_refused():
    blank = sr.Format.__new__(sr.Format)
    with pytest.raises(ValueError, match="initialised"):
        sr.Context(blank, "nearest")
    with pytest.raises(ValueError, match="initialised"):
        sr.round(1.0, blank)


# ---------------------------------------------------------------- names and flags

@pytest.mark.parametrize("name,preset", [
    ("bf-16", "bfloat16"), ("BF_16", "bfloat16"), ("b-float16", "bfloat16"),
    ("fp8-e4m3", "e4m3"), ("fp8e4m3", "e4m3"), ("E4M3-FN", "e4m3"), (" fp-16 ", "binary16"),
    ("float8_e5m2", "e5m2"), ("tensor-float-32", "tf32"), ("fp4-e2m1", "e2m1"),
])
def test_format_lookup_ignores_dashes_and_underscores(name, preset):
    assert sr.format(name) is sr.PRESETS[preset]
    assert sr.Context(name, "nearest").format is sr.PRESETS[preset]


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, 1.0, [True]])
def test_subnormals_takes_bools_only(value):
    with pytest.raises(TypeError, match="subnormals"):
        sr.Format(11, 15, subnormals=value)


def test_subnormals_bools_accepted():
    assert sr.Format(11, 15, subnormals=np.bool_(False)) == sr.Format(11, 15, subnormals=False)
    assert sr.Format(11, 15, subnormals=True) == sr.binary16


@pytest.mark.parametrize("call", [
    lambda: sr.Context(sr.binary16, "stochastic", bits=2**70),
    lambda: sr.round(1.0, sr.binary16, "stochastic", bits=2**70),
    lambda: sr.round(1.0, sr.binary16, "stochastic", bits=-2**70),
    lambda: sr.Format(2**70, 15),
    lambda: sr.Format(11, 2**70),
    lambda: sr.Format(11, 15, -2**70),
    lambda: sr.Format(4, 8, -6, max=10**400),
    lambda: sr.Context(sr.binary16, "stochastic", rng=0).random_words(2**70),
    lambda: sr.Context(sr.binary16, "stochastic", rng=0).spawn(-2**70),
], ids=["Context bits", "round bits", "round -bits", "precision", "emax", "emin", "max",
        "random_words", "spawn"])
def test_huge_integers_give_value_error(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- tampered pickles

def _tampered(ctx, **changes):
    restore, args = ctx.__reduce__()
    names = ("fmt", "rounding", "bits", "s", "buf", "pos", "half")
    values = dict(zip(names, args))
    values.update(changes)
    return restore, tuple(values[n] for n in names)


@pytest.mark.parametrize("lane", [0, 3, 7])
def test_pickle_with_an_all_zero_lane_is_refused(lane):
    ctx = sr.Context(sr.binary16, "stochastic", rng=5)
    s = ctx.__reduce__()[1][3].copy()
    s[:, lane] = 0
    restore, args = _tampered(ctx, s=s)
    with pytest.raises(ValueError, match="zero"):
        restore(*args)
    # the same refusal through pickle itself
    blob = pickle.dumps(ctx)
    good = pickle.loads(blob)
    assert good.random_words(4).tolist() == ctx.random_words(4).tolist()


@pytest.mark.parametrize("change", [
    {"s": np.zeros((4, 8), np.uint64)},
    {"s": np.ones((4, 7), np.uint64)},
    {"s": np.ones((4, 8), np.float64)},
    {"buf": np.ones(3, np.uint64)},
    {"pos": 9}, {"pos": -1}, {"pos": 2**70},
    {"half": 2**32}, {"half": -2},
    {"bits": 0}, {"bits": 2**70},
    {"rounding": "sideways"},
], ids=["zero state", "short s", "float s", "short buf", "pos 9", "pos -1", "pos 2**70",
        "half 2**32", "half -2", "bits 0", "bits 2**70", "rounding"])
def test_tampered_pickle_fields_are_refused(change):
    ctx = sr.Context(sr.binary16, "stochastic", rng=5)
    restore, args = _tampered(ctx, **change)
    with pytest.raises(ValueError):
        restore(*args)


def test_tampered_pickle_of_wrong_types_is_type_error():
    ctx = sr.Context(sr.binary16, "stochastic", rng=5)
    for change in ({"fmt": "binary16"}, {"rounding": 3}, {"pos": 1.5}, {"bits": 8.0}):
        restore, args = _tampered(ctx, **change)
        with pytest.raises(TypeError):
            restore(*args)


def test_state_in_other_byte_order_is_accepted():
    ctx = sr.Context(sr.binary16, "stochastic", rng=5)
    restore, args = ctx.__reduce__()
    swapped = list(args)
    swapped[3] = args[3].astype(">u8")
    swapped[4] = args[4].astype(">u8")
    twin = restore(*swapped)
    assert twin.random_words(20).tolist() == ctx.random_words(20).tolist()
