"""sr.emulate / sr.EmulatedArray / sr.emulated: plain NumPy code with every operation
rounded into a format.

1. The contract: what NumPy code computes on EmulatedArrays of a stochastic context
   equals, bit for bit, the same sequence of explicit ctx calls replayed on a twin of
   the context (same seed, same stream position): operators, in-place operators,
   integral powers, elementary functions, reductions, dot/matmul with and without
   an accumulate context, norms, linear algebra.
2. Every ufunc in the numpy namespace is enumerated: each is emulated as the issue
   classifies it (rounded, exact, predicate, elementary, product) or raises TypeError
   naming it and pointing to np.asarray; every NumPy function that dispatches through
   __array_function__ is emulated (the list below) or raises the same TypeError.
3. Invariants: the storage dtype never changes, results are values of the format
   (checked with the independent oracle tests/vector_oracle.py), exact operations
   draw no random words, constants are rounded to nearest, 0-d results stay emulated.
4. Mixed contexts, pickling, out= / where=, the decorator, ODE right-hand sides, and
   bad input.
"""
import copy
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srround as sr

from vector_oracle import mismatch_report, oracle_round, same_bits

STOCHASTIC = [(sr.bfloat16, np.float32), (sr.binary16, np.float64), (sr.e4m3, np.float32)]
MODES = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd",
         "stochastic", "stochastic_equal")


def twin(*contexts):
    """Independent copies of contexts at the same point of their streams (one pickle,
    so a context given twice stays one object)."""
    copies = pickle.loads(pickle.dumps(contexts))
    return copies if len(copies) > 1 else copies[0]


def assert_bits(got, want, what=""):
    got_v = np.asarray(got)
    want_v = np.asarray(want)
    assert got_v.shape == want_v.shape, f"{what}: shape {got_v.shape} != {want_v.shape}"
    ok = same_bits(got_v, want_v)
    assert ok.all(), f"{what}:\n" + mismatch_report(np.asarray(want_v, np.float64),
                                                    got_v.astype(np.float64), want_v)


def assert_emulated(r, a, dtype=None, fmt=None):
    """r is an EmulatedArray of a's context, with the storage dtype, holding values of
    the format (RN of a value of the format is itself, by the independent oracle)."""
    assert isinstance(r, sr.EmulatedArray), type(r)
    assert r.context is a.context
    assert r.dtype == (a.dtype if dtype is None else dtype)
    v = r.values
    fmt = a.format if fmt is None else fmt
    assert_bits(v, oracle_round(v, fmt, "nearest"), f"values of {fmt.label}")


def rn(x, fmt, dtype):
    """A constant as the contract stores it: rounded to nearest, in the storage dtype."""
    return sr.round(np.asarray(x, np.float64), fmt, "nearest").astype(dtype)


def data(fmt, dtype, shape, seed, low=0.25, high=2.0):
    """Values of the format, as emulate stores them."""
    x = np.random.default_rng(seed).uniform(low, high, shape)
    x *= np.random.default_rng(seed + 1).choice([-1.0, 1.0], shape)
    return sr.round(x, fmt, "nearest").astype(dtype)


def pair(fmt=sr.bfloat16, dtype=np.float32, rounding="stochastic", shape=(7,), seed=0,
         **options):
    ctx = sr.Context(fmt, rounding, rng=seed)
    return (ctx, sr.emulate(data(fmt, dtype, shape, seed), ctx, **options),
            sr.emulate(data(fmt, dtype, shape, seed + 10), ctx, **options))


def untouched(ctx, reference):
    """ctx's stream is where reference's is: nothing was drawn since the twin."""
    return np.array_equal(ctx.random_words(4), reference.random_words(4))


# ---------------------------------------------------------------- construction

@pytest.mark.parametrize("x, fmt, dtype", [
    (np.arange(5, dtype=np.float32) / 3, sr.bfloat16, np.float32),
    (np.arange(5, dtype=np.float64) / 3, sr.bfloat16, np.float64),
    (np.arange(5, dtype=np.float32) / 3, sr.binary64, np.float64),   # float32 can't hold it
    (np.arange(5, dtype=np.int64), sr.binary16, np.float64),
    (np.arange(5, dtype=np.float16), sr.binary16, np.float64),
    ([0.1, 0.2], sr.e4m3, np.float64),
    (0.1, sr.bfloat16, np.float64),
])
def test_emulate_rounds_with_ctx_round(x, fmt, dtype):
    ctx = sr.Context(fmt, "stochastic", rng=3)
    ref = twin(ctx)
    a = sr.emulate(x, ctx)
    assert a.dtype == dtype
    assert_bits(a.values, ref.round(np.asarray(x).astype(dtype)), "emulate = ctx.round")
    assert a.context is ctx and a.format == fmt
    assert a.shape == np.shape(x) and a.ndim == np.ndim(x) and a.size == np.size(x)
    assert np.asarray(a) is a.values


def test_array_basics():
    ctx, a, _ = pair(shape=(3, 4))
    assert len(a) == 3 and a.T.shape == (4, 3) and a.mT.shape == (4, 3)
    rows = list(a)
    assert len(rows) == 3 and all(isinstance(r, sr.EmulatedArray) for r in rows)
    assert_bits(rows[1].values, a.values[1])
    c = a.copy()
    c[0, 0] = 100.0
    assert a.values[0, 0] != 100.0
    assert c.context is a.context
    d = copy.deepcopy(a)
    assert d.context is a.context and np.array_equal(d.values, a.values)
    assert "EmulatedArray(" in repr(a) and "bfloat16" in repr(a) and "stochastic" in repr(a)
    assert str(a) == str(a.values)
    s = a[1, 2]
    assert isinstance(s, sr.EmulatedArray) and s.ndim == 0
    assert float(s) == a.values[1, 2] and f"{s:.3f}" == f"{a.values[1, 2]:.3f}"
    assert a.tolist() == a.values.tolist() and a.item(0) == a.values.item(0)
    view = a[1]            # basic indexing gives a view, as in NumPy
    view[...] = 0.0
    assert (a.values[1] == 0).all()
    with pytest.raises(TypeError):
        hash(a)


# ---------------------------------------------------------------- the contract

@pytest.mark.parametrize("fmt, dtype", STOCHASTIC)
def test_operators_equal_explicit_ctx_calls(fmt, dtype):
    ctx, a, b = pair(fmt, dtype, seed=1)
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    c = lambda v: rn(v, fmt, dtype)   # noqa: E731
    got = [a + b, a - b, a * b, a / b, b - a, a + 2.5, 2.5 - a, 3 * a, a / 7,
           a * np.array([0.1] * 7), np.float64(0.3) - a, np.add(a, b), np.subtract(b, a),
           np.multiply(a, 1 / 3), np.true_divide(1, a), np.sqrt(abs(a)), np.square(a),
           np.reciprocal(a), a ** 3, a ** -2, a ** 1, a ** 2.0, a ** np.int64(5),
           np.power(a, 16)]
    want = [ref.add(x, y), ref.subtract(x, y), ref.multiply(x, y), ref.divide(x, y),
            ref.subtract(y, x), ref.add(x, c(2.5)), ref.subtract(c(2.5), x),
            ref.multiply(c(3), x), ref.divide(x, c(7)), ref.multiply(x, c([0.1] * 7)),
            ref.subtract(c(0.3), x), ref.add(x, y), ref.subtract(y, x),
            ref.multiply(x, c(1 / 3)), ref.divide(c(1), x), ref.sqrt(np.abs(x)),
            ref.multiply(x, x), ref.divide(c(1), x)]

    def power(k):
        p = x
        for _ in range(abs(k) - 1):
            p = ref.multiply(p, x)
        return ref.divide(c(1), p) if k < 0 else p.copy()
    want += [power(3), power(-2), power(1), power(2), power(5), power(16)]
    for i, (g, w) in enumerate(zip(got, want)):
        assert_emulated(g, a)
        assert_bits(g.values, w, f"operation {i}")


@pytest.mark.parametrize("fmt, dtype", STOCHASTIC)
def test_in_place_operators_round_like_out_of_place(fmt, dtype):
    ctx, a, b = pair(fmt, dtype, seed=2)
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    buffer = a.values
    a += b
    a -= 0.5
    a *= 3
    a /= b
    a **= 2
    x = ref.add(x, y)
    x = ref.subtract(x, rn(0.5, fmt, dtype))
    x = ref.multiply(x, rn(3, fmt, dtype))
    x = ref.divide(x, y)
    x = ref.multiply(x, x)
    assert a.values is buffer and a.dtype == dtype    # in place, storage unchanged
    assert_bits(a.values, x, "in-place chain")


@pytest.mark.parametrize("fmt, dtype", STOCHASTIC)
def test_elementary_functions_round_binary64_once(fmt, dtype):
    ctx, a, b = pair(fmt, dtype, seed=3)
    ref = twin(ctx)
    pos = abs(a)
    got = [np.exp(a), np.sin(b), np.log(pos), np.arctan2(a, b), np.hypot(a, 3.0),
           a ** 0.5, 2.0 ** a, np.power(pos, b), np.tanh(a), a ** 20, a // b]
    x, y = a.values.astype(np.float64), b.values.astype(np.float64)
    three = rn(3.0, fmt, np.float64)
    want = [np.exp(x), np.sin(y), np.log(np.abs(x)), np.arctan2(x, y), np.hypot(x, three),
            np.power(x, 0.5), np.power(2.0, x), np.power(np.abs(x), y), np.tanh(x),
            np.power(x, 20.0), np.floor_divide(x, y)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_emulated(g, a)
            assert_bits(g.values, ref.round(w).astype(dtype), f"function {i}")


@pytest.mark.parametrize("method", ["recursive", "pairwise", "blocked", "kahan"])
@pytest.mark.parametrize("fmt, dtype", STOCHASTIC)
def test_reductions_equal_explicit_ctx_calls(fmt, dtype, method):
    ctx = sr.Context(fmt, "stochastic", rng=4)
    a = sr.emulate(data(fmt, dtype, (5, 6), 4), ctx, sum=method)
    ref = twin(ctx)
    x = a.values.copy()
    n = lambda k: rn(k, fmt, dtype)     # noqa: E731
    got = [a.sum(), np.sum(a, axis=0), np.add.reduce(a, axis=1), a.sum(axis=(0, 1)),
           np.mean(a), a.mean(axis=1), np.prod(a), np.prod(a, axis=0),
           np.cumsum(a), np.add.accumulate(a, axis=1), np.cumprod(a, axis=0),
           a.sum(axis=1, keepdims=True)]
    want = [sr.sum(x, ref, method), sr.sum(x, ref, method, axis=0),
            sr.sum(x, ref, method, axis=1), sr.sum(x, ref, method),
            ref.divide(sr.sum(x, ref, method), n(30)),
            ref.divide(sr.sum(x, ref, method, axis=1), n(6)),
            ref.multiply.reduce(x.ravel()), ref.multiply.reduce(x, axis=0),
            ref.add.accumulate(x.ravel()), ref.add.accumulate(x, axis=1),
            ref.multiply.accumulate(x, axis=0), sr.sum(x, ref, method, axis=1)[:, None]]
    # two-pass variance and its square root
    for ddof in (0, 1):
        got.append(np.var(a, axis=0, ddof=ddof))
        m = ref.divide(sr.sum(x, ref, method, axis=0), n(5))
        d = ref.subtract(x, m[None, :])
        want.append(ref.divide(sr.sum(ref.multiply(d, d), ref, method, axis=0), n(5 - ddof)))
    got.append(a.std())
    m = ref.divide(sr.sum(x, ref, method), n(30))
    d = ref.subtract(x, m)
    want.append(ref.sqrt(ref.divide(sr.sum(ref.multiply(d, d), ref, method), n(30))))
    for i, (g, w) in enumerate(zip(got, want)):
        assert_emulated(g, a)
        assert_bits(g.values, w, f"reduction {i}")


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("fmt, dtype", STOCHASTIC)
def test_products_equal_sr_dot_and_matmul(fmt, dtype, mixed):
    ctx = sr.Context(fmt, "stochastic", rng=5)
    acc = sr.Context(sr.binary32, "stochastic", rng=6) if mixed else None
    A = sr.emulate(data(fmt, dtype, (4, 6), 5), ctx, accumulate=acc)
    B = sr.emulate(data(fmt, dtype, (6, 3), 6), ctx, accumulate=acc)
    v = sr.emulate(data(fmt, dtype, (6,), 7), ctx, accumulate=acc)
    S = sr.emulate(data(fmt, dtype, (2, 4, 6), 8), ctx, accumulate=acc)
    ref, ref_acc = twin(ctx, acc if mixed else ctx)
    ref_acc = ref_acc if mixed else None
    Av, Bv, vv, Sv = (t.values.copy() for t in (A, B, v, S))
    mm = lambda p, q: sr.matmul(p, q, ref, accumulate=ref_acc)   # noqa: E731
    got = [A @ B, np.matmul(A, v), np.dot(v, v), v @ v, np.dot(A, B), np.dot(A, v),
           np.inner(A, A), np.vdot(B, B), np.linalg.norm(v), np.linalg.norm(A),
           np.linalg.norm(A, axis=1), S @ B, np.dot(S, B), np.vecdot(A, A),
           np.outer(v, v), A @ [1.0, 2, 3, 4, 5, 6]]
    want = [mm(Av, Bv), mm(Av, vv), mm(vv, vv), mm(vv, vv), mm(Av, Bv), mm(Av, vv),
            mm(Av, Av.T), mm(Bv.ravel(), Bv.ravel()),
            ref.sqrt(sr.dot(vv, vv, ref, accumulate=ref_acc)),
            ref.sqrt(sr.dot(Av.ravel(), Av.ravel(), ref, accumulate=ref_acc)),
            ref.sqrt(sr.dot(Av, Av, ref, accumulate=ref_acc)), mm(Sv, Bv),
            mm(Sv.reshape(8, 6), Bv).reshape(2, 4, 3),
            sr.dot(Av, Av, ref, accumulate=ref_acc), ref.multiply(vv[:, None], vv[None, :]),
            mm(Av, rn([1.0, 2, 3, 4, 5, 6], fmt, dtype))]
    summed = sr.binary32 if mixed else fmt     # sums are values of accumulate's format
    for i, (g, w) in enumerate(zip(got, want)):
        last = fmt if i in (8, 9, 10, 14) else summed    # norms end in ctx.sqrt
        assert_emulated(g, A, fmt=last)
        assert_bits(g.values, w, f"product {i}")


def test_a_loop_of_plain_numpy_equals_the_explicit_program():
    """Jacobi iterations written for NumPy, run on EmulatedArrays, against the same
    program written with explicit ctx calls."""
    def jacobi(A, b, steps):
        d = np.diag(A)
        R = A - np.diagflat(d)
        x = np.zeros_like(b)
        for _ in range(steps):
            x = (b - R @ x) / d
        return x, np.linalg.norm(b - A @ x) / np.linalg.norm(b)

    n = 6
    rng = np.random.default_rng(9)
    A64 = rng.uniform(-1, 1, (n, n)) + 8 * np.eye(n)
    b64 = rng.uniform(-1, 1, n)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=10)
    ref = twin(ctx)
    x, res = jacobi(sr.emulate(A64, ctx), sr.emulate(b64, ctx), 5)
    A, b = ref.round(A64), ref.round(b64)
    R = ref.subtract(A, np.diagflat(np.diag(A)))
    y = np.zeros(n)
    for _ in range(5):
        y = ref.divide(ref.subtract(b, sr.matmul(R, y, ref)), np.diag(A))
    r = ref.subtract(b, sr.matmul(A, y, ref))
    want = ref.divide(ref.sqrt(sr.dot(r, r, ref)), ref.sqrt(sr.dot(b, b, ref)))
    assert_bits(x.values, y, "iterate")
    assert_bits(res.values, want, "relative residual")
    assert res.ndim == 0 and isinstance(res, sr.EmulatedArray)


PROGRAM_STEPS = ("add", "subtract", "multiply", "divide", "add_constant", "scale",
                 "sqrt_abs", "square", "negative", "maximum", "sum_axis0", "cube")


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_random_programs_equal_explicit_ctx_calls(data):
    """Random straight-line programs (random formats, modes, storage, shapes that
    broadcast) against the same ctx calls on a twin of the context."""
    fmt = data.draw(st.sampled_from([sr.binary16, sr.bfloat16, sr.e4m3, sr.e5m2, sr.e2m3]))
    mode = data.draw(st.sampled_from(MODES))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    rows = data.draw(st.integers(1, 4))
    cols = data.draw(st.integers(1, 5))
    seed = data.draw(st.integers(0, 2**16))
    ctx = sr.Context(fmt, mode, rng=seed)
    a = sr.emulate(data_values(fmt, dtype, (rows, cols), seed), ctx)
    b = sr.emulate(data_values(fmt, dtype, (1, cols), seed + 1), ctx)     # broadcasts
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    const = data.draw(st.floats(-3, 3, allow_nan=False, width=64))
    c = rn(const, fmt, dtype)
    with np.errstate(all="ignore"):
        for step in data.draw(st.lists(st.sampled_from(PROGRAM_STEPS), min_size=1,
                                       max_size=6)):
            if step in ("add", "subtract", "multiply", "divide"):
                a = getattr(np, step)(a, b)
                x = getattr(ref, step)(x, y)
            elif step == "add_constant":
                a = a + const
                x = ref.add(x, c)
            elif step == "scale":
                a = const * a
                x = ref.multiply(c, x)
            elif step == "sqrt_abs":
                a = np.sqrt(abs(a))
                x = ref.sqrt(np.abs(x))
            elif step == "square":
                a = a ** 2
                x = ref.multiply(x, x)
            elif step == "cube":
                a **= 3
                x = ref.multiply(ref.multiply(x, x), x)
            elif step == "negative":
                a = -a
                x = -x
            elif step == "maximum":
                a = np.maximum(a, b)
                x = np.maximum(x, y)
            else:
                a = np.sum(a, axis=0, keepdims=True)
                x = sr.sum(x, ref, axis=0)[None, :]
            assert a.dtype == dtype
            assert_bits(a.values, x, step)


def data_values(fmt, dtype, shape, seed):
    return data(fmt, dtype, shape, seed, 0.1, 4.0)


# ---------------------------------------------------------------- every ufunc

ROUNDED_UFUNCS = {"add", "subtract", "multiply", "divide", "true_divide", "sqrt",
                  "square", "reciprocal"}
EXACT_UFUNCS = {"negative", "positive", "absolute", "abs", "fabs", "sign", "copysign",
                "maximum", "minimum", "fmax", "fmin", "floor", "ceil", "trunc", "rint",
                "conjugate", "conj"}
PREDICATE_UFUNCS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                    "isfinite", "isinf", "isnan", "signbit", "logical_and", "logical_or",
                    "logical_xor", "logical_not"}
ELEMENTARY_UFUNCS = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
                     "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
                     "arcsinh", "arccosh", "arctanh", "asin", "acos", "atan", "atan2",
                     "asinh", "acosh", "atanh", "hypot", "cbrt", "logaddexp", "logaddexp2",
                     "deg2rad", "rad2deg", "degrees", "radians", "fmod", "remainder", "mod",
                     "floor_divide", "divmod", "modf", "heaviside", "power", "pow",
                     "float_power"}
PRODUCT_UFUNCS = {"matmul", "vecdot", "matvec", "vecmat"}


def numpy_ufuncs():
    return sorted(((name, u) for name, u in vars(np).items() if isinstance(u, np.ufunc)),
                  key=lambda item: item[0])


def test_every_numpy_ufunc_is_emulated_or_raises():
    fmt, dtype = sr.binary16, np.float64
    seen = set()
    for name, ufunc in numpy_ufuncs():
        ctx = sr.Context(fmt, "stochastic", rng=11)
        low, high = (1.25, 1.75) if name in ("arccosh", "acosh") else (0.25, 0.75)
        shape = (3, 3)
        args = [abs(sr.emulate(data(fmt, dtype, shape, 20 + i, low, high), ctx))
                for i in range(ufunc.nin)]
        ref = twin(ctx)
        values = [x.values.copy() for x in args]
        emulated = name in (ROUNDED_UFUNCS | EXACT_UFUNCS | PREDICATE_UFUNCS
                            | ELEMENTARY_UFUNCS | PRODUCT_UFUNCS)
        if not emulated:
            with pytest.raises(TypeError) as info:
                ufunc(*args)
            message = str(info.value)
            assert f"np.{ufunc.__name__}" in message and "np.asarray" in message, name
            assert untouched(ctx, ref), name
            continue
        seen.add(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = ufunc(*args)
            wide = [v.astype(np.float64) for v in values]
            if name in ROUNDED_UFUNCS:
                op = {"true_divide": "divide", "square": "multiply",
                      "reciprocal": "divide"}.get(name, name)
                operands = {"square": values * 2,
                            "reciprocal": [np.ones(shape, dtype)] + values}.get(name, values)
                want = getattr(ref, op)(*operands)
            elif name in EXACT_UFUNCS:
                want = ufunc(*values)
                assert untouched(ctx, ref), name
            elif name in PREDICATE_UFUNCS:
                assert type(got) is np.ndarray and got.dtype == bool, name
                assert np.array_equal(got, ufunc(*values)), name
                assert untouched(ctx, ref), name
                continue
            elif name in ELEMENTARY_UFUNCS:
                exact = ufunc(*wide)
                exact = exact if ufunc.nout > 1 else (exact,)
                want = tuple(ref.round(e).astype(dtype) for e in exact)
                want = want if ufunc.nout > 1 else want[0]
            else:
                want = {"matmul": lambda p, q: sr.matmul(p, q, ref),
                        "vecdot": lambda p, q: sr.dot(p, q, ref),
                        "matvec": lambda p, q: sr.matmul(p, q[:, :, None], ref)[..., 0],
                        "vecmat": lambda p, q: sr.matmul(p[:, None, :], q, ref)[:, 0, :],
                        }[name](*values)
        for g, w in zip(got if ufunc.nout > 1 else (got,), want if ufunc.nout > 1 else (want,)):
            assert_emulated(g, args[0])
            assert_bits(g.values, w, name)
    assert seen == {n for n, _ in numpy_ufuncs()} & (
        ROUNDED_UFUNCS | EXACT_UFUNCS | PREDICATE_UFUNCS | ELEMENTARY_UFUNCS | PRODUCT_UFUNCS)


def test_ufunc_methods():
    ctx, a, b = pair(shape=(3, 4), seed=12)
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    outer = np.add.outer(a.ravel()[:3], b.ravel()[:2])
    assert_bits(outer.values, ref.add(x.ravel()[:3, None], y.ravel()[None, :2]))
    m = np.maximum.reduce(a, axis=1)
    assert_bits(m.values, x.max(axis=1))
    assert_bits(np.minimum.accumulate(a, axis=0).values, np.minimum.accumulate(x, axis=0))
    assert np.logical_or.reduce(a < 0, axis=None) == (x < 0).any()
    idx = np.array([0, 0, 2])
    np.add.at(a, (idx, idx), 1.0)
    want = x.copy()
    ref.add.at(want, (idx, idx), rn(1.0, a.format, np.float32))
    assert_bits(a.values, want, "add.at")
    for method, args in (("reduceat", (a, [0, 2])), ("reduce", (a,))):
        with pytest.raises(TypeError, match=r"np\.subtract|np\.add\.reduceat"):
            getattr(np.subtract if method == "reduce" else np.add, method)(*args)


def test_context_ufuncs_apply_to_stored_values():
    ctx, a, b = pair(seed=13)
    ref = twin(ctx)
    got = ctx.fma(a, b, 0.5)
    want = ref.fma(a.values, b.values, rn(0.5, a.format, np.float32))
    assert_emulated(got, a)
    assert_bits(got.values, want)
    assert_bits(ctx.add.reduce(a).values, ref.add.reduce(a.values))
    other = sr.Context(sr.bfloat16, "stochastic", rng=1)
    with pytest.raises(TypeError):
        other.add(a, b)


# ---------------------------------------------------------------- functions

EMULATED_FUNCTIONS = """reshape transpose permute_dims swapaxes moveaxis rollaxis squeeze
    expand_dims ravel atleast_1d atleast_2d atleast_3d broadcast_to diagonal diag diagflat
    triu tril flip fliplr flipud rot90 roll tile repeat resize split array_split hsplit
    vsplit dsplit unstack take take_along_axis compress extract delete sort partition copy
    fix real imag unique unique_values nanmax nanmin argmax argmin nanargmax nanargmin
    argsort argpartition nonzero flatnonzero argwhere count_nonzero searchsorted any all
    isclose allclose array_equal array_equiv shape ndim size iscomplexobj isrealobj isreal
    iscomplex may_share_memory shares_memory matrix_transpose max amax min amin round
    around concatenate stack vstack hstack dstack column_stack block append insert where
    clip zeros_like empty_like ones_like full_like pad put place putmask fill_diagonal
    copyto select meshgrid broadcast_arrays sum prod mean var std cumsum cumprod trace
    diff dot inner vdot outer linalg.diagonal linalg.matrix_transpose linalg.trace
    linalg.outer linalg.matmul linalg.vecdot linalg.norm linalg.vector_norm
    linalg.matrix_norm linalg.solve linalg.inv linalg.cholesky""".split()


def dispatched_functions():
    """Every public NumPy function (numpy and numpy.linalg) that goes through
    __array_function__."""
    found = {}
    for prefix, space in (("", np), ("linalg.", np.linalg)):
        for name in dir(space):
            f = getattr(space, name)
            if type(f).__name__ == "_ArrayFunctionDispatcher" and not name.startswith("_"):
                found.setdefault(f, prefix + name)
    return found


def test_every_dispatched_function_is_emulated_or_raises():
    a = pair(seed=14)[1]
    listed = set()
    for name in EMULATED_FUNCTIONS:
        space, _, attr = name.rpartition(".")
        listed.add(getattr(np.linalg if space else np, attr, None))
    raised = 0
    for f, name in dispatched_functions().items():
        if f in listed:
            continue
        with pytest.raises(TypeError) as info:
            a.__array_function__(f, (sr.EmulatedArray,), (a,), {})
        message = str(info.value)
        assert f".{f.__name__} is not emulated" in message and "np.asarray" in message, name
        raised += 1
    assert raised > 100                 # NumPy has many more functions


def test_listed_functions_are_emulated():
    ctx, a, b = pair(shape=(3, 4), seed=15)
    ref = twin(ctx)
    x = a.values.copy()
    mask = x > 0
    exact_results = {
        "reshape": np.reshape(a, (4, 3)), "transpose": np.transpose(a),
        "where": np.where(mask, a, b), "concatenate": np.concatenate([a, b]),
        "stack": np.stack([a, b]), "take": np.take(a, [0, 2], axis=1),
        "clip": np.clip(a, -0.5, 0.5), "sort": np.sort(a), "diag": np.diag(a),
        "diagonal": np.diagonal(a), "triu": np.triu(a), "tril": np.tril(a, -1),
        "zeros_like": np.zeros_like(a), "ones_like": np.ones_like(a),
        "full_like": np.full_like(a, 0.1), "max": np.max(a), "min": np.min(a, axis=0),
        "squeeze": np.squeeze(a[None]), "flip": np.flip(a), "roll": np.roll(a, 1),
        "pad": np.pad(a, 1), "hstack": np.hstack([a, b]), "tile": np.tile(a, 2),
        "empty_like": np.empty_like(a), "diagflat": np.diagflat(a[0]),
    }
    y = b.values
    want = {
        "reshape": x.reshape(4, 3), "transpose": x.T, "where": np.where(mask, x, y),
        "concatenate": np.concatenate([x, y]), "stack": np.stack([x, y]),
        "take": x[:, [0, 2]], "clip": np.clip(x, -0.5, 0.5), "sort": np.sort(x),
        "diag": np.diag(x), "diagonal": np.diagonal(x), "triu": np.triu(x),
        "tril": np.tril(x, -1), "zeros_like": np.zeros_like(x), "ones_like": np.ones_like(x),
        "full_like": np.full_like(x, rn(0.1, a.format, np.float32)), "max": np.max(x),
        "min": np.min(x, axis=0), "squeeze": x, "flip": np.flip(x), "roll": np.roll(x, 1),
        "pad": np.pad(x, 1), "hstack": np.hstack([x, y]), "tile": np.tile(x, 2),
        "empty_like": np.zeros_like(x), "diagflat": np.diagflat(x[0]),
    }
    for name, got in exact_results.items():
        assert_emulated(got, a)
        assert_bits(got.values, want[name], name)
    for name, got in {"argmax": np.argmax(a), "argmin": np.argmin(a, axis=1),
                      "nonzero": np.nonzero(a)[0], "argsort": np.argsort(a)}.items():
        assert isinstance(got, (np.ndarray, np.integer)) and np.asarray(got).dtype.kind == "i"
    assert untouched(ctx, ref)          # exact functions draw nothing


def test_more_functions():
    fmt = sr.e4m3
    ctx, a, b = pair(fmt=fmt, shape=(3, 3), seed=26)
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    c = lambda v: rn(v, fmt, np.float32)        # noqa: E731
    checks = {          # exact, constants rounded: NumPy on the values
        "pad": (np.pad(a, 1, constant_values=0.1), np.pad(x, 1, constant_values=c(0.1))),
        "block": (np.block([[a, b], [b, a]]), np.block([[x, y], [y, x]])),
        "insert": (np.insert(a, 1, 0.1, axis=0), np.insert(x, 1, c(0.1), axis=0)),
        "append": (np.append(a, [0.1, 3]), np.append(x, c([0.1, 3]))),
        "select": (np.select([x > 0], [a], 0.1), np.select([x > 0], [x], c(0.1))),
        "clip": (np.clip(a, min=-0.1, max=0.3), np.clip(x, c(-0.1), c(0.3))),
        "meshgrid": (np.meshgrid(a[0], b[0])[1], np.meshgrid(x[0], y[0])[1]),
        "broadcast_arrays": (np.broadcast_arrays(a[0], 0.1)[1],
                             np.broadcast_to(c(0.1), (3,))),
        "matrix_transpose": (np.linalg.matrix_transpose(a), x.T),
        "split": (np.split(a, 3)[2], x[2:]), "unique": (np.unique(a), np.unique(x)),
        "round": (np.round(a), np.rint(x)),
    }
    for name, (got, want) in checks.items():
        assert_emulated(got, a)
        assert_bits(got.values, want, name)
    assert untouched(ctx, ref)
    rounded = {         # every step a ctx call
        "diff": (np.diff(a, n=2, axis=0, append=0.1),
                 lambda: (lambda d: ref.subtract(d[1:], d[:-1]))(
                     (lambda v: ref.subtract(v[1:], v[:-1]))(
                         np.concatenate([x, np.full((1, 3), c(0.1))])))),
        "trace": (np.trace(a), lambda: sr.sum(np.diagonal(x), ref)),
        "linalg.trace": (np.linalg.trace(a), lambda: sr.sum(np.diagonal(x), ref)),
        "vector_norm": (np.linalg.vector_norm(a, axis=0),
                        lambda: ref.sqrt(sr.dot(x.T, x.T, ref))),
        "matrix_norm": (np.linalg.matrix_norm(a),
                        lambda: ref.sqrt(sr.dot(x.ravel(), x.ravel(), ref))),
        "linalg.matmul": (np.linalg.matmul(a, b), lambda: sr.matmul(x, y, ref)),
        "linalg.vecdot": (np.linalg.vecdot(a, b), lambda: sr.dot(x, y, ref)),
        "linalg.outer": (np.linalg.outer(a[0], b[1]),
                         lambda: ref.multiply(x[0][:, None], y[1][None, :])),
    }
    for name, (got, want) in rounded.items():
        assert_emulated(got, a)
        assert_bits(got.values, want(), name)
    d = a.copy()
    np.put(d, [0, 4], [0.1, 1000.0])
    np.place(d, d.values < 0, 0.3)
    np.putmask(d, np.eye(3, dtype=bool), 0.2)
    np.fill_diagonal(d, 0.1)
    e = x.copy()
    np.put(e, [0, 4], c([0.1, 1000.0]))
    np.place(e, e < 0, c(0.3))
    np.putmask(e, np.eye(3, dtype=bool), c(0.2))
    np.fill_diagonal(e, c(0.1))
    assert_bits(d.values, e, "in place")
    np.copyto(d, 0.3)
    assert (d.values == c(0.3)).all()
    plain = np.zeros((3, 3), np.float32)
    np.copyto(plain, a)
    assert_bits(plain, x)


def test_constants_in_exact_functions_are_rounded_to_nearest():
    ctx, a, b = pair(fmt=sr.e4m3, seed=16)
    ref = twin(ctx)
    c = rn(0.1, sr.e4m3, np.float32)
    assert c != np.float32(0.1)
    assert_bits(np.where(a.values > 0, a, 0.1).values, np.where(a.values > 0, a.values, c))
    assert_bits(np.maximum(a, 0.1).values, np.maximum(a.values, c))
    assert_bits(np.concatenate([a, [0.1]]).values, np.append(a.values, c))
    assert np.array_equal(a < 0.1, a.values < c)
    a[0] = 0.1
    assert a.values[0] == c
    a[1:3] = [1000.0, -1000.0]                 # beyond e4m3's max: NaN (its overflow rule)
    assert np.isnan(a.values[1:3]).all()
    a.fill(0.3)
    assert (a.values == rn(0.3, sr.e4m3, np.float32)).all()
    assert untouched(ctx, ref)


# ---------------------------------------------------------------- invariants

def test_storage_dtype_never_changes():
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=17)
    a = sr.emulate(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), ctx)
    wide = np.full((3, 4), 1 + 2.0**-40)         # float64, not a float32 value
    with np.errstate(invalid="ignore"):
        power = a ** 2.5                         # NaN for negative a, as in NumPy
    results = [power, a + wide, a * (1 + 2.0**-40), np.maximum(a, wide), np.exp(a), a.sum(),
               np.mean(a, axis=0), a @ wide.T, np.concatenate([a, wide]),
               np.where(a.values > 0, a, wide), np.clip(a, wide * -0.5, 0.5),
               np.linalg.norm(a), np.full_like(a, 1 + 2.0**-40), np.var(a)]
    for r in results:
        assert_emulated(r, a, np.float32)
    a += wide
    assert a.dtype == np.float32
    a64 = sr.emulate(np.ones((3, 4)), ctx)
    assert (a + a64).dtype == np.float64          # float32 and float64 storage: float64
    assert np.concatenate([a, a64]).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        np.add(a, a, dtype=np.float64)
    with pytest.raises(TypeError, match="dtype"):
        np.sum(a, dtype=np.float64)
    with pytest.raises(TypeError, match="astype"):
        a.astype(np.float64)


def test_exact_operations_draw_nothing():
    ctx, a, b = pair(shape=(4, 5), seed=18)
    ref = twin(ctx)
    _ = [-a, +a, abs(a), np.sign(a), np.copysign(a, b), np.maximum(a, b), np.fmin(a, b),
         np.floor(a), np.ceil(a), np.trunc(a), np.rint(a), a < b, a == b, np.isnan(a),
         a.T, a[1:], a.reshape(5, 4), np.argmax(a), np.max(a), np.round(a),
         np.sort(a, axis=0), np.triu(a), np.take(a, [1])]
    assert untouched(ctx, ref)


def test_zero_d_results_stay_emulated():
    ctx, a, b = pair(seed=19)
    ref = twin(ctx)
    s = a.sum()
    assert isinstance(s, sr.EmulatedArray) and s.ndim == 0
    t = s * 2 + b[0]
    assert isinstance(t, sr.EmulatedArray) and t.ndim == 0
    x = ref.add(ref.multiply(sr.sum(a.values, ref), rn(2, a.format, np.float32)),
                b.values[0])
    assert_bits(t.values, x)
    assert isinstance(float(t), float) and bool(s) == bool(s.values)
    assert isinstance(np.linalg.norm(a), sr.EmulatedArray)
    assert isinstance(a @ b, sr.EmulatedArray) and (a @ b).ndim == 0
    assert isinstance(np.max(a), sr.EmulatedArray)


def test_mixed_contexts_raise_value_error():
    c1, a, _ = pair(seed=20)
    c2, b, _ = pair(seed=20)
    for op in (lambda: a + b, lambda: np.add(a, b), lambda: a @ b,
               lambda: np.concatenate([a, b]), lambda: np.where(a.values > 0, a, b),
               lambda: np.maximum(a, b)):
        with pytest.raises(ValueError, match="different contexts"):
            op()
    with pytest.raises(ValueError):
        a[0:2] = b[0:2]
    same = sr.emulate(np.ones(7), c1)           # another emulate call, one context: fine
    assert (a + same).context is c1
    pairwise = sr.emulate(np.ones(7), c1, sum="pairwise")
    with pytest.raises(ValueError, match="summation"):
        a + pairwise


def test_pickled_arrays_share_their_context():
    ctx, a, b = pair(seed=21)
    c, d = pickle.loads(pickle.dumps([a, b]))
    assert c.context is d.context and c.context is not ctx
    assert_bits((c * d).values, (a * b).values)          # same stream state, same bits
    assert_bits(np.sum(c).values, np.sum(a).values)
    e = pickle.loads(pickle.dumps(a))
    with pytest.raises(ValueError):
        e + d


def test_out_and_where():
    ctx, a, b = pair(shape=(6,), seed=22)
    c = sr.emulate(np.zeros(6, np.float32), ctx)
    out = sr.emulate(np.zeros(1, np.float32), ctx)
    ref = twin(ctx)
    x, y = a.values.copy(), b.values.copy()
    mask = np.array([True, False, True, True, False, True])
    r = np.add(a, b, out=c)
    assert r is c
    assert_bits(c.values, ref.add(x, y))
    plain = np.zeros(6, np.float32)
    assert np.multiply(a, b, out=plain) is plain
    assert_bits(plain, ref.multiply(x, y))
    m = np.subtract(a, b, where=mask)
    assert_bits(m.values, ref.subtract(x, y, out=np.zeros(6, np.float32), where=mask))
    s = np.sum(a, where=mask)
    assert_bits(s.values, ref.add.reduce(x, where=mask))
    e = np.exp(a, where=mask)
    want = ref.round(np.exp(x.astype(np.float64)), out=np.zeros(6, np.float32), where=mask)
    assert_bits(e.values, want)
    assert np.sum(a, keepdims=True, out=out) is out
    assert_bits(out.values, [sr.sum(x, ref)])
    with pytest.raises(TypeError):
        np.less(a, b, out=sr.emulate(np.zeros(6), ctx))
    with pytest.raises(TypeError, match="recursive"):
        np.sum(sr.emulate(x, ctx, sum="pairwise"), where=mask)
    wide = sr.emulate(np.ones(6), sr.Context(sr.binary64, "nearest"))
    with pytest.raises(ValueError, match="float32"):
        np.add(wide, wide, out=np.zeros(6, np.float32))


# ---------------------------------------------------------------- the decorator, ODEs

def test_emulated_decorator_runs_numpy_functions_in_the_format():
    def f(x, y, *, scale, index):
        s = np.sum(x * y) * scale
        return s, {"z": np.exp(x[index]) + 1}, [x.max()]

    ctx = sr.Context(sr.binary16, "stochastic", rng=23)
    ref = twin(ctx)
    x, y = np.linspace(0.1, 1, 8), np.linspace(1, 2, 8)
    idx = np.array([1, 3])
    s, d, (m,) = sr.emulated(ctx)(f)(x, y, scale=0.3, index=idx)
    assert isinstance(s, np.float64) and type(d["z"]) is np.ndarray and type(m) is np.float64
    xr, yr = ref.round(x), ref.round(y)
    want_s = ref.multiply(sr.sum(ref.multiply(xr, yr), ref), rn(0.3, sr.binary16, np.float64))
    want_z = ref.add(ref.round(np.exp(xr[idx])), rn(1, sr.binary16, np.float64))
    assert_bits(s, want_s)
    assert_bits(d["z"], want_z)
    assert m == xr.max()
    with pytest.raises(TypeError):
        sr.emulated("bfloat16")
    with pytest.raises(ValueError):
        sr.emulated(ctx, sum="bogus")


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_ode_accepts_scipy_signature(method):
    def scipy_rhs(t, y):                # u' = v, v' = -u, plain NumPy
        return np.stack([y[..., 1], -y[..., 0]], axis=-1) * (1 + 0.0 * t)

    def ctx_rhs(t, y, c):
        k = np.stack([y[..., 1], -y[..., 0]], axis=-1)
        return c.multiply(k, sr.round(np.float64(1 + 0.0 * t), c.format))

    ctx = sr.Context(sr.bfloat16, "stochastic", rng=24)
    ref = twin(ctx)
    got = sr.ode.solve_ivp(scipy_rhs, (0.0, 1.0), [1.0, 0.0], ctx, method=method,
                           n_steps=16, n_runs=4)
    want = sr.ode.solve_ivp(ctx_rhs, (0.0, 1.0), [1.0, 0.0], ref, method=method,
                            n_steps=16, n_runs=4)
    assert_bits(got.y, want.y, "trajectories")
    rn_ctx = sr.Context(sr.bfloat16, "nearest")
    const = sr.ode.solve_ivp(lambda t, y: 0.1, (0.0, 1.0), 0.0, rn_ctx, n_steps=4)
    explicit = sr.ode.solve_ivp(lambda t, y, c: rn(0.1, sr.bfloat16, np.float64),
                                (0.0, 1.0), 0.0, rn_ctx, n_steps=4)
    assert_bits(const.y, explicit.y, "a constant right-hand side")
    assert const.y[-1] != 0.0


# ---------------------------------------------------------------- bad input

def test_bad_input():
    ctx, a, b = pair(seed=25)
    with pytest.raises(TypeError, match="Context"):
        sr.emulate([1.0], "bfloat16")
    with pytest.raises(ValueError, match="summation"):
        sr.emulate([1.0], ctx, sum="bogus")
    with pytest.raises(TypeError, match="accumulate"):
        sr.emulate([1.0], ctx, accumulate=sr.binary32)
    for bad in ([1 + 2j], ["x"], [None]):
        with pytest.raises(TypeError):
            sr.emulate(bad, ctx)
    with pytest.raises(TypeError):
        a + 1j
    with pytest.raises(TypeError):
        a * "x"
    with pytest.raises(TypeError):
        a[b]
    with pytest.raises(TypeError, match=r"np\.spacing.*np\.asarray"):
        np.spacing(a)
    with pytest.raises(TypeError, match=r"np\.bitwise_and"):
        a & b
    with pytest.raises(TypeError, match=r"np\.linalg\.det"):
        np.linalg.det(a.reshape(7, 1) @ b.reshape(1, 7))
    with pytest.raises(TypeError, match=r"np\.median"):
        np.median(a)
    with pytest.raises(TypeError, match="ord=1"):
        np.linalg.norm(a, ord=1)
    with pytest.raises(TypeError, match="decimals"):
        np.round(a, 2)
    with pytest.raises(TypeError, match="linear_ramp"):
        np.pad(a, 1, mode="linear_ramp")
    with pytest.raises(TypeError, match="iteration"):
        iter(a.sum())
    with pytest.raises(TypeError, match="casting"):
        np.add(a, b, casting="unsafe")
    assert np.sum(a[:0]).values == 0 and np.prod(a[:0]).values == 1   # empty: identities
