"""Context ufuncs as NumPy ufuncs: broadcasting, out= and where= as NumPy's own
ufuncs behave, NumPy's casting rules for integer input, the loops registered for
each format, arity, identity, names, lifetime, and no spurious floating-point
warnings."""
import gc
import math
import warnings

import numpy as np
import pytest
from conftest import MODES

import srround as sr

NIN = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3, "sqrt": 1, "round": 1}
INF = math.inf


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
