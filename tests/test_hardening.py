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


# ---------------------------------------------------------------- quantize: zero channels

@pytest.mark.parametrize("signed,symmetric", [(True, True), (True, False), (False, True),
                                              (False, False)])
@pytest.mark.parametrize("calibration", ["minmax", "percentile"])
def test_zero_channel_gets_scale_one(signed, symmetric, calibration):
    w = np.random.default_rng(3).standard_normal((6, 5))
    w[:, 2] = 0.0                                   # a pruned output unit
    t = sr.quantize.uniform(w, 8, signed=signed, symmetric=symmetric, axis=1,
                            calibration=calibration)
    assert t.scale.shape == (1, 5) and t.scale[0, 2] == 1.0
    assert (t.codes[:, 2] == t.zero_point.reshape(-1)[2]).all()
    back = t.dequantize()
    assert (back[:, 2] == 0).all() and not np.signbit(back[:, 2]).any()
    # the other channels are calibrated exactly as if the zero channel were not there
    rest = np.delete(w, 2, axis=1)
    alone = sr.quantize.uniform(rest, 8, signed=signed, symmetric=symmetric, axis=1,
                                calibration=calibration)
    np.testing.assert_array_equal(np.delete(t.scale, 2, axis=1), alone.scale)
    np.testing.assert_array_equal(np.delete(t.codes, 2, axis=1), alone.codes)


def test_all_zero_and_constant_tensors_quantize():
    z = sr.quantize.uniform(np.zeros(10), 8)
    assert z.scale == 1.0 and (z.dequantize() == 0).all()
    z4 = sr.quantize.uniform(np.zeros((3, 4)), 4, axis=0, rounding="stochastic", rng=1)
    assert (z4.scale == 1).all() and (z4.dequantize() == 0).all()
    c = sr.quantize.uniform(np.full(10, 3.0), 8)
    np.testing.assert_allclose(c.dequantize(), 3.0, rtol=1e-12)
    ca = sr.quantize.uniform(np.full(10, -3.0), 8, symmetric=False)
    np.testing.assert_allclose(ca.dequantize(), -3.0, rtol=1e-12)


def test_percentile_falls_back_to_minmax_for_a_sparse_channel():
    w = np.zeros((100000, 2))
    w[:, 0] = np.random.default_rng(4).standard_normal(100000)
    w[7, 1] = 5.0                                  # the 99.99th percentile of |w| is 0
    t = sr.quantize.uniform(w, 8, axis=1, calibration="percentile")
    assert t.scale[0, 1] == 5.0 / 127
    assert t.dequantize()[7, 1] == pytest.approx(5.0)


# ---------------------------------------------------------------- ODEs: NaN by design

def _grow(t, y, ctx):                       # y' = 8 y: overflows e4m3 (max 448) by t = 1
    return ctx.multiply(8.0, y)


def test_e4m3_overflow_nan_propagates_by_default():
    ctx = sr.Context(sr.e4m3, "nearest")
    res = sr.ode.solve_ivp(_grow, (0.0, 1.0), [1.0, 2.0**-6], ctx, n_steps=16)
    y = res.y
    assert np.isnan(y[0, -1]) and np.isfinite(y[0, 0])
    # NaN stays in the component it reached; the other one goes on undisturbed
    alone = sr.ode.solve_ivp(_grow, (0.0, 1.0), 2.0**-6, ctx, n_steps=16)
    np.testing.assert_array_equal(y[1], alone.y)
    first = np.flatnonzero(np.isnan(y[0]))[0]
    assert np.isnan(y[0, first:]).all() and np.isfinite(y[0, :first]).all()
    with pytest.raises(ValueError, match="NaN"):
        sr.ode.solve_ivp(_grow, (0.0, 1.0), [1.0, 2.0**-6], ctx, n_steps=16, on_nan="raise")


def test_e4m3_ensemble_keeps_going_with_nan_runs():
    """y' = y, Euler with h = 1/8 from 1: 1.125**52 is about 455, at e4m3's overflow,
    so SR runs overflow (NaN) or not; the finite ones stay in range."""
    ctx = sr.Context(sr.e4m3, "stochastic", rng=3)
    res = sr.ode.solve_ivp(lambda t, y, c: y, (0.0, 6.5), 1.0, ctx, n_steps=52, n_runs=200)
    end = res.y[:, -1]
    assert 10 < np.isnan(end).sum() < 190
    assert (np.abs(end[np.isfinite(end)]) <= 448).all()


def _square_then_cancel(t, y, ctx):         # inf - inf = NaN once y * y overflows
    yy = ctx.multiply(y, y)
    return ctx.subtract(yy, ctx.multiply(y, y))


def _square_then_turn(t, y, ctx):           # -inf on an infinite state: inf - inf in y
    return np.where(np.isinf(y), -np.inf, ctx.multiply(y, y))


@pytest.mark.parametrize("fmt", [sr.binary16, sr.bfloat16, sr.e5m2], ids=lambda f: f.name)
@np.errstate(invalid="ignore", over="ignore")      # inf - inf, as intended
def test_inf_formats_raise_on_nan_by_default(fmt):
    ctx = sr.Context(fmt, "nearest")
    big = fmt.max / 2
    with pytest.raises(ValueError, match="fun returned NaN"):
        sr.ode.solve_ivp(lambda t, y, c: _square_then_cancel(t, y + big, c), (0, 1), 1.0,
                         ctx, n_steps=4)
    with pytest.raises(ValueError, match="NaN appeared in the state"):
        sr.ode.solve_ivp(_square_then_turn, (0, 1), big, ctx, n_steps=8)
    with pytest.raises(ValueError, match="NaN appeared in the state"):
        sr.ode.solve_ivp(_square_then_turn, (0, 1), big, ctx, n_steps=8, save_every=None)
    res = sr.ode.solve_ivp(_square_then_turn, (0, 1), big, ctx, n_steps=8, on_nan="propagate")
    assert np.isnan(res.y[-1]) and np.isinf(res.y).any()


def test_on_nan_argument_checked():
    ctx = sr.Context(sr.binary16, "nearest")
    with pytest.raises(ValueError, match="on_nan"):
        sr.ode.solve_ivp(_grow, (0, 1), 1.0, ctx, n_steps=4, on_nan="ignore")
    with pytest.raises(TypeError, match="on_nan"):
        sr.ode.solve_ivp(_grow, (0, 1), 1.0, ctx, n_steps=4, on_nan=True)


# ---------------------------------------------------------------- matmul: memory bound

def _matmul_by_ufuncs(A, B, ctx, acc):
    """sr.matmul of 2-D operands as ctx.multiply / acc.add calls in its documented
    order (rows in blocks of MATMUL_ROWS; per l and row: n products, n additions)."""
    m, k = A.shape
    n = B.shape[1]
    C = np.zeros((m, n), A.dtype)
    for i0 in range(0, m, summation.MATMUL_ROWS):
        for l in range(k):
            for i in range(i0, min(m, i0 + summation.MATMUL_ROWS)):
                C[i] = acc.add(C[i], ctx.multiply(A[i, l], np.ascontiguousarray(B[l])))
    return C


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shared", [True, False])
def test_matmul_memory_is_bounded(order, shared):
    """A long inner dimension and wide rows (n beyond the 4096 columns whose words are
    drawn at once): besides the result, matmul holds a few rows' worth of words,
    never the k * n products nor a copy of B."""
    k, n = 300, 5000
    rng = np.random.default_rng(1)
    A = rng.standard_normal((2, k))
    B = np.asarray(rng.standard_normal((k, n)), order=order)
    ctx = sr.Context(sr.binary16, "stochastic", rng=2)
    acc = ctx if shared else sr.Context(sr.bfloat16, "stochastic", rng=3)
    twins = pickle.loads(pickle.dumps((ctx, acc)))
    tracemalloc.start()
    try:
        got = sr.matmul(A, B, ctx, accumulate=acc)
        peak = tracemalloc.get_traced_memory()[1] - got.nbytes
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * B.nbytes, f"peak {peak / 2**20:.2f} MiB"
    # the words of a wide row are drawn a chunk at a time, in the documented order
    assert got.tobytes() == _matmul_by_ufuncs(A, B, *twins).tobytes()
    assert ctx.random_words(2).tolist() == twins[0].random_words(2).tolist()
    assert acc.random_words(2).tolist() == twins[1].random_words(2).tolist()


def test_matmul_does_not_materialize_broadcast_batches():
    """(256, 1) x (1, 256) batches of 8 x 8 matrices: the broadcast operands hold
    32 MiB each, which matmul once copied in full."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((256, 1, 8, 8))
    B = rng.standard_normal((1, 256, 8, 8))
    ctx = sr.Context(sr.binary16, "nearest")
    tracemalloc.start()
    try:
        got = sr.matmul(A, B, ctx)
        peak = tracemalloc.get_traced_memory()[1] - got.nbytes
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"   # the operands: 32 MiB each
    probe = (17, 200)
    want = sr.matmul(A[probe[0], 0], B[0, probe[1]], ctx)
    assert got[probe].tobytes() == want.tobytes()


# ---------------------------------------------------------------- README: overflow rules

OVERFLOW_FORMATS = [sr.binary16, sr.bfloat16, sr.e5m2, sr.e4m3, sr.e3m2, sr.e2m1,
                    sr.Format(5, 6, subnormals=False), sr.Format(3, 4, -2, overflow="nan"),
                    sr.Format(4, 8, -6, max=416.0)]


def _overflowed(fmt, sign):
    return {"inf": sign * np.inf, "nan": np.nan, "saturate": sign * fmt.max}[fmt.overflow]


def _beyond_max(fmt):
    """Finite float64 values above max: inside (max, max + s), at max + s, far beyond."""
    s = 2.0 ** (fmt.emax - fmt.precision + 1)
    return np.array([fmt.max + s / 8, fmt.max + s / 2, fmt.max + 0.999 * s, fmt.max + s,
                     fmt.max + 3 * s, 64 * fmt.max, 1e300]), s


@pytest.mark.parametrize("fmt", OVERFLOW_FORMATS, ids=lambda f: f.label)
def test_round_to_odd_stops_at_max(fmt):
    x, _ = _beyond_max(fmt)
    for sign in (1, -1):
        np.testing.assert_array_equal(sr.round(sign * x, fmt, "odd"), sign * fmt.max)
        got = sr.round(np.array([sign * np.inf]), fmt, "odd")
        np.testing.assert_array_equal(got, _overflowed(fmt, sign))
    if fmt.fits_float32:
        x32 = x[x < np.finfo(np.float32).max].astype(np.float32)
        np.testing.assert_array_equal(sr.round(x32, fmt, "odd"), np.float32(fmt.max))


@pytest.mark.parametrize("fmt", OVERFLOW_FORMATS, ids=lambda f: f.label)
def test_stochastic_equal_overflow(fmt):
    """P(overflow) = 1/2 for |x| in (max, max + s) whatever the distance (5 sigma),
    and 1 from max + s on; 'saturate' never overflows."""
    x, s = _beyond_max(fmt)
    n = 20000
    ctx = sr.Context(fmt, "stochastic_equal", rng=7)
    for sign in (1, -1):
        for v in x:
            r = ctx.round(np.full(n, sign * v))
            at_max = r == sign * fmt.max
            over = np.isnan(r) if fmt.overflow == "nan" else (r == sign * np.inf)
            assert (at_max | over).all()
            if fmt.overflow == "saturate":
                assert at_max.all()
            elif v < fmt.max + s:
                assert abs(over.sum() - n / 2) < 5 * np.sqrt(n / 4), (v, over.sum())
            else:
                assert over.all(), v
