"""sr.sum, sr.cumsum, sr.dot and sr.matmul, bit for bit against slow references:
each algorithm written out element by element in Python, every operation the exact
result (Fractions) rounded once by tests/reference.py's ref_round. For stochastic
contexts the references replay the random words: a pickled twin of the context hands
out the words in advance (ctx.random_words), and the documented draw order says which
operation gets which word. The references name every rounded operation by a key; a
small function per algorithm maps keys to word positions. Also special values, bad
input, dtypes and shapes. The numerical results of the papers (harmonic series, error
growth, many small terms, limited random bits): tests/test_summation_results.py.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import MODES, STOCHASTIC, assert_same_floats, formats, same_float, twin
from reference import ref_round
from vector_oracle import ref_format

import srround as sr
from srround import summation

METHODS = ("recursive", "pairwise", "blocked", "kahan")


# ---------------------------------------------------------------- exact rounded operations

class Arith:
    """fl(a + b) and fl(a * b) for finite floats: the exact result rounded once.
    word_of(key) gives the 64-bit word of a stochastic context for the operation
    named key (None in deterministic modes)."""

    def __init__(self, ctx, word_of=None):
        self.rf = ref_format(ctx.format)
        self.mode = ctx.rounding
        self.bits = ctx.bits
        self.word_of = word_of

    def _round(self, exact, key):
        u = None
        if self.mode in STOCHASTIC:
            u = Fraction(int(self.word_of(key)), 2**64)
        return ref_round(exact, self.rf, self.mode, u=u, bits=self.bits)

    def add(self, a, b, key):
        s = Fraction(a) + Fraction(b)
        if s == 0:
            # IEEE 754: (+0) + (+0) = +0, (-0) + (-0) = -0, otherwise +0 (-0 in mode down);
            # a stochastic context still draws its word
            if self.mode in STOCHASTIC:
                self.word_of(key)
            both_neg = a == 0 and b == 0 and math.copysign(1, a) < 0 and math.copysign(1, b) < 0
            both_pos = a == 0 and b == 0 and math.copysign(1, a) > 0 and math.copysign(1, b) > 0
            if both_neg or (not both_pos and self.mode == "down"):
                return -0.0
            return 0.0
        return self._round(s, key)

    def mul(self, a, b, key):
        p = Fraction(a) * Fraction(b)
        if p == 0:
            if self.mode in STOCHASTIC:
                self.word_of(key)
            return -0.0 if (math.copysign(1, a) < 0) != (math.copysign(1, b) < 0) else 0.0
        return self._round(p, key)


# ---------------------------------------------------------------- slow references
# Each names its rounded operations by a key; add(a, b, key) rounds.

def ref_recursive(xs, add, tag=()):
    s = 0.0
    for i, x in enumerate(xs):
        s = add(s, x, tag + ("step", i))
    return s


def ref_pairwise(xs, add):
    xs = list(xs)
    if len(xs) == 1:
        return add(0.0, xs[0], ("level", 0, 0))
    level, depth = xs, 0
    while len(level) > 1:
        nxt = [add(level[2 * p], level[2 * p + 1], ("level", depth, p))
               for p in range(len(level) // 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0]


def ref_blocked(xs, add, block):
    sums = [ref_recursive(xs[q:q + block], add, ("block", q // block))
            for q in range(0, len(xs), block)]
    return ref_recursive(sums, add, ("total",))


def ref_kahan(xs, add):
    s = c = 0.0
    for i, x in enumerate(xs):
        y = add(x, -c, ("kahan", i, 0))
        t = add(s, y, ("kahan", i, 1))
        ts = add(t, -s, ("kahan", i, 2))
        c = add(ts, -y, ("kahan", i, 3))
        s = t
    return s


REFERENCES = {"recursive": lambda xs, add, b: ref_recursive(xs, add),
              "pairwise": lambda xs, add, b: ref_pairwise(xs, add),
              "blocked": ref_blocked,
              "kahan": lambda xs, add, b: ref_kahan(xs, add)}


def word_index(method, key, j, n, m, block):
    """Position in the stream of the word for operation `key` of lane j (of m lanes,
    n terms each): the draw order documented in srround/summation.py."""
    if method == "recursive":
        return key[1] * m + j                                   # step-major
    if method == "pairwise":
        _, depth, p = key
        offset, k = 0, n
        for _ in range(depth):
            offset += (k // 2) * m
            k = (k + 1) // 2
        return offset + p * m + j                               # level, pair, lane
    if method == "blocked":
        if key[0] == "block":
            q, i = key[1], key[3]
            return q * block * m + i * m + j                    # block, step, lane
        return n * m + key[2] * m + j                           # then the block sums
    if method == "kahan":
        _, i, op = key
        return j * 4 * n + 4 * i + op                           # lane by lane
    raise AssertionError(method)


def words_needed(method, n, m, block):
    if method == "recursive":
        return n * m
    if method == "pairwise":
        return max(n - 1, 1) * m
    if method == "blocked":
        return (n + -(-n // block)) * m
    return 4 * n * m


def reference_sum(ctx, method, X, block, words):
    """Reference sums of the (n, m) array X's columns, replaying words."""
    n, m = X.shape
    out = []
    for j in range(m):
        def word_of(key, j=j):
            return words[word_index(method, key, j, n, m, block)]
        arith = Arith(ctx, word_of)
        out.append(REFERENCES[method]([float(v) for v in X[:, j]], arith.add, block))
    return out


def sample(rng, shape, dtype, fmt):
    """Signed values over a few binades, mostly not representable in fmt, with
    zeros of both signs and some values of the format mixed in."""
    x = rng.uniform(-1, 1, shape) * np.exp2(rng.integers(-6, 5, shape))
    x[rng.random(shape) < 0.03] = 0.0
    x[rng.random(shape) < 0.03] = -0.0
    fmt_vals = rng.random(shape) < 0.2
    x[fmt_vals] = sr.round(x[fmt_vals], fmt)
    return x.astype(dtype)


CASES = [(method, mode) for method in METHODS for mode in MODES]
FMTS = list(formats("binary16", "bfloat16", "p5_e9").values())


@pytest.mark.parametrize("method, mode", CASES)
def test_sum_matches_reference_bit_for_bit(method, mode):
    k = CASES.index((method, mode))
    fmt = FMTS[k % len(FMTS)]
    dtype = (np.float32, np.float64)[k % 2]
    bits = 3 if (mode == "stochastic" and k % 3 == 0) else None
    block = (5, 16, 1)[k % 3]
    rng = np.random.default_rng(k)
    # a 1-D sum, and lanes: an axis of a 3-D array (odd lengths exercise the pairwise
    # carry and the short last block)
    for shape, axis in (((203,), None), ((3, 37, 2), 1), ((1,), None)):
        x = sample(rng, shape, dtype, fmt)
        ctx = sr.Context(fmt, mode, bits=bits, rng=k)
        moved = np.moveaxis(x, axis if axis is not None else 0, 0)
        X = moved.reshape(moved.shape[0], -1)
        n, m = X.shape
        words = twin(ctx).random_words(words_needed(method, n, m, block)).tolist()
        got = sr.sum(x, ctx, method, axis=axis, block=block)
        assert got.dtype == dtype
        want = reference_sum(ctx, method, X, block, words)
        assert_same_floats(got, want, f"{method} {mode} {fmt.label} shape={shape} axis={axis}")


@pytest.mark.parametrize("method", METHODS)
def test_sum_draws_exactly_the_documented_number_of_words(method):
    for n, m in ((1, 1), (2, 1), (7, 1), (130, 1), (9, 4)):
        ctx = sr.Context(sr.bfloat16, "stochastic", rng=3)
        x = np.random.default_rng(n).random((n, m))
        sr.sum(x, ctx, method, axis=0, block=4)
        follower = sr.Context(sr.bfloat16, "stochastic", rng=3)
        follower.random_words(words_needed(method, n, m, 4))
        assert np.array_equal(ctx.random_words(5), follower.random_words(5)), (method, n, m)


@pytest.mark.parametrize("mode", ["nearest", "down", "stochastic"])
@pytest.mark.parametrize("m", [2, 5, 1000])
def test_recursive_lanes_are_step_major_for_large_arrays(mode, m):
    """The documented order holds beyond toy sizes (NumPy's iteration of an
    axis-0 reduce of a C-ordered array)."""
    n = 2000 if m < 1000 else 40
    x = sample(np.random.default_rng(m), (n, m), np.float32, sr.binary16)
    ctx = sr.Context(sr.binary16, mode, rng=m)
    words = twin(ctx).random_words(n * m)
    got = sr.sum(x, ctx, axis=0)
    lanes = [0, m - 1] if m > 2 else range(m)
    for j in lanes:
        arith = Arith(ctx, lambda key, j=j: words[key[1] * m + j])
        assert same_float(got[j], ref_recursive([float(v) for v in x[:, j]], arith.add))


def test_blocked_large_one_dimensional_order():
    x = sample(np.random.default_rng(1), (3000,), np.float64, sr.bfloat16)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=2)
    words = twin(ctx).random_words(3000 + 24)
    got = sr.sum(x, ctx, "blocked", block=128)
    arith = Arith(ctx, lambda key: words[word_index("blocked", key, 0, 3000, 1, 128)])
    assert same_float(got, ref_blocked([float(v) for v in x], arith.add, 128))


@pytest.mark.parametrize("mode", ["nearest", "toward_zero", "stochastic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cumsum_matches_reference(mode, dtype):
    fmt = sr.binary16
    rng = np.random.default_rng(5)
    for shape, axis in (((300,), None), ((4, 50), 1), ((30, 3), 0), ((2, 3, 4), None)):
        x = sample(rng, shape, dtype, fmt)
        ctx = sr.Context(fmt, mode, rng=8)
        words = twin(ctx).random_words(x.size)
        got = sr.cumsum(x, ctx, axis=axis)
        assert got.dtype == dtype
        if axis is None:
            assert got.shape == (x.size,)
            lanes = x.reshape(1, -1)
            back = lambda r: r.reshape(-1)             # noqa: E731
        else:
            assert got.shape == x.shape
            lanes = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
            moved_shape = np.moveaxis(x, axis, -1).shape
            back = lambda r: np.moveaxis(r.reshape(moved_shape), -1, axis)  # noqa: E731
        L, n = lanes.shape
        want = np.empty((L, n))
        for j in range(L):
            def word_of(key, j=j):
                i = key[1]
                return words[j] if i == 0 else words[L + j * (n - 1) + i - 1]
            arith = Arith(ctx, word_of)
            s = 0.0
            for i in range(n):
                s = arith.add(s, float(lanes[j, i]), ("step", i))
                want[j, i] = s
        assert_same_floats(got, back(want), f"cumsum {mode} {shape} axis={axis}")


def test_cumsum_first_value_rounded_and_last_equals_recursive_sum():
    x = np.array([1.0001, 2.0, 3.0])
    c = sr.cumsum(x, sr.Context(sr.binary16, "nearest"))
    assert c[0] == 1.0
    y = np.random.default_rng(0).random(1000)
    a = sr.cumsum(y, sr.Context(sr.bfloat16, "stochastic", rng=4))
    b = sr.sum(y, sr.Context(sr.bfloat16, "stochastic", rng=4))
    assert a[-1] == b


# ---------------------------------------------------------------- dot and matmul

def reference_products_then_sums(ctx, acc, pairs, word_of_product, word_of_sum):
    """One inner product: fl(x*y) in ctx, summed recursively in acc."""
    a_mul = Arith(ctx, word_of_product)
    a_add = Arith(acc, word_of_sum)
    ps = [a_mul.mul(float(x), float(y), ("mul", i)) for i, (x, y) in enumerate(pairs)]
    return ref_recursive(ps, a_add.add)


@pytest.mark.parametrize("mode", ["nearest", "up", "stochastic", "stochastic_equal"])
@pytest.mark.parametrize("mixed", [False, True])
def test_dot_matches_reference(mode, mixed):
    fmt = sr.bfloat16
    rng = np.random.default_rng(11)
    x = sample(rng, (4, 60), np.float32, fmt)
    y = sample(rng, (60,), np.float32, fmt)
    ctx = sr.Context(fmt, mode, rng=1)
    acc = sr.Context(sr.binary16, "stochastic" if mode in STOCHASTIC else mode, rng=2) \
        if mixed else None
    cw = twin(ctx).random_words(2 * x.size).tolist()
    aw = twin(acc).random_words(x.size).tolist() if mixed else None
    got = sr.dot(x, y, ctx, accumulate=acc)
    assert got.shape == (4,) and got.dtype == np.float32
    n, m = 60, 4
    for j in range(m):
        if mixed:
            sum_word = lambda key, j=j: aw[key[1] * m + j]           # noqa: E731
        else:
            sum_word = lambda key, j=j: cw[n * m + key[1] * m + j]   # noqa: E731
        want = reference_products_then_sums(
            ctx, acc or ctx, list(zip(x[j], y)),
            lambda key, j=j: cw[key[1] * m + j], sum_word)
        assert same_float(got[j], want), (mode, mixed, j)


def test_dot_axis_and_one_dimensional():
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 3)), rng.random((5, 3))
    rn = sr.Context(sr.binary16, "nearest")
    got = sr.dot(x, y, rn, axis=0)
    assert got.shape == (3,)
    want = [reference_products_then_sums(rn, rn, list(zip(x[:, j], y[:, j])), None, None)
            for j in range(3)]
    assert_same_floats(got, want, "dot axis=0")
    s = sr.dot(x[:, 0], y[:, 0], rn)
    assert np.ndim(s) == 0 and s == want[0]


def matmul_reference(ctx, acc, A3, B3, cw, aw):
    """The reference product of stacks A3 (nb, m, k) and B3 (nb, k, n), replaying
    words in the documented order (aw None: sums draw from ctx's stream): batches in
    order; rows in blocks of MATMUL_ROWS; in a block, for each l, for each row i:
    its n product words, then its n sum words."""
    nb, m, k = A3.shape
    n = B3.shape[2]
    rows = summation.MATMUL_ROWS
    pos = {"ctx": 0, "acc": 0}
    first_product, first_sum = {}, {}     # (b, i, l) -> the word of column 0
    for b in range(nb):
        for i0 in range(0, m, rows):
            for l in range(k):
                for i in range(i0, min(i0 + rows, m)):
                    first_product[b, i, l] = pos["ctx"]
                    pos["ctx"] += n
                    stream = "ctx" if aw is None else "acc"
                    first_sum[b, i, l] = pos[stream]
                    pos[stream] += n
    sums_words = cw if aw is None else aw
    out = np.empty((nb, m, n))
    for b in range(nb):
        for i in range(m):
            for j in range(n):
                out[b, i, j] = reference_products_then_sums(
                    ctx, acc, [(A3[b, i, l], B3[b, l, j]) for l in range(k)],
                    lambda key, b=b, i=i, j=j: cw[first_product[b, i, key[1]] + j],
                    lambda key, b=b, i=i, j=j: sums_words[first_sum[b, i, key[1]] + j])
    return out


@pytest.mark.parametrize("mode", ["nearest", "down", "stochastic"])
def test_matmul_matches_reference(mode):
    fmt = sr.binary16
    rng = np.random.default_rng(3)
    A = sample(rng, (2, 1, 6, 5), np.float64, fmt)     # batch (2, 1) broadcasts with (3,)
    B = sample(rng, (3, 5, 4), np.float64, fmt)
    ctx = sr.Context(fmt, mode, rng=6)
    A3 = np.broadcast_to(A, (2, 3, 6, 5)).reshape(-1, 6, 5)
    B3 = np.broadcast_to(B, (2, 3, 5, 4)).reshape(-1, 5, 4)
    cw = twin(ctx).random_words(2 * A3.shape[0] * 6 * 4 * 5).tolist()
    got = sr.matmul(A, B, ctx)
    assert got.shape == (2, 3, 6, 4)
    want = matmul_reference(ctx, ctx, A3, B3, cw, None)
    assert_same_floats(got, want.reshape(2, 3, 6, 4), f"matmul {mode}")


def test_matmul_mixed_precision_and_vectors():
    rng = np.random.default_rng(4)
    A = rng.random((6, 7)).astype(np.float32)
    B = rng.random((7, 2)).astype(np.float32)
    ctx = sr.Context(sr.binary16, "stochastic", rng=1)
    acc = sr.Context(sr.binary32, "stochastic", rng=2)
    cw, aw = twin(ctx).random_words(84).tolist(), twin(acc).random_words(84).tolist()
    got = sr.matmul(A, B, ctx, accumulate=acc)
    assert got.dtype == np.float32
    want = matmul_reference(ctx, acc, A[None], B[None], cw, aw)[0]
    assert_same_floats(got, want, "mixed matmul")
    rn = sr.Context(sr.binary16, "nearest")
    v = rng.random(7)
    assert sr.matmul(v, B, rn).shape == (2,)
    assert sr.matmul(A, v, rn).shape == (6,)
    assert np.ndim(sr.matmul(v, v, rn)) == 0
    assert sr.matmul(v, v, rn) == sr.dot(v, v, rn)
    assert_same_floats(sr.matmul(A, v, rn), sr.dot(A, v, rn), "matrix-vector == dot")


def test_matmul_close_to_exact_product():
    rng = np.random.default_rng(5)
    A, B = rng.random((20, 30)), rng.random((30, 10))
    got = sr.matmul(A, B, sr.Context(sr.binary32, "nearest"))
    assert np.allclose(got, A @ B, rtol=30 * 2.0**-24)


# ---------------------------------------------------------------- special values

@pytest.mark.parametrize("method", METHODS)
def test_special_values(method):
    rn = sr.Context(sr.binary16, "nearest")
    assert math.isnan(sr.sum([1.0, np.nan, 2.0], rn, method))
    if method != "kahan":   # Kahan: inf - inf in the compensation gives NaN
        assert sr.sum([1.0, np.inf, 2.0], rn, method) == np.inf
    assert sr.sum([60000.0, 60000.0], rn, method) == np.inf          # overflow
    for mode in MODES:
        ctx = sr.Context(sr.binary16, mode, rng=0)
        z = sr.sum([-0.0, -0.0, -0.0], ctx, method, block=2)
        assert z == 0


@pytest.mark.parametrize("method", METHODS)
def test_representable_integers_sum_exactly(method):
    x = np.arange(1, 51, dtype=np.float32)       # every partial sum exact in binary16
    for mode in MODES:
        got = sr.sum(x, sr.Context(sr.binary16, mode, rng=1), method, block=7)
        assert got == 1275 and got.dtype == np.float32


# ---------------------------------------------------------------- bad input

def test_bad_input():
    ctx = sr.Context(sr.binary16, "nearest")
    with pytest.raises(TypeError, match="Context"):
        sr.sum([1.0], "binary16")
    with pytest.raises(TypeError, match="Context"):
        sr.dot([1.0], [1.0], None)
    with pytest.raises(TypeError, match="accumulate"):
        sr.matmul(np.ones((2, 2)), np.ones((2, 2)), ctx, accumulate="binary32")
    with pytest.raises(TypeError, match="Context"):
        sr.cumsum([1.0], object())
    with pytest.raises(ValueError, match="method"):
        sr.sum([1.0], ctx, "fast")
    with pytest.raises(ValueError, match="block"):
        sr.sum([1.0], ctx, "blocked", block=0)
    with pytest.raises(TypeError, match="block"):
        sr.sum([1.0], ctx, "blocked", block=2.5)
    for method in METHODS:
        with pytest.raises(ValueError, match="empty"):
            sr.sum([], ctx, method)
        with pytest.raises(ValueError, match="empty"):
            sr.sum(np.ones((3, 0)), ctx, method, axis=1)
    assert sr.sum(np.ones((0, 3)), ctx, axis=1).shape == (0,)   # nothing summed is empty
    with pytest.raises(ValueError, match="empty"):
        sr.cumsum([], ctx)
    with pytest.raises(ValueError, match="empty"):
        sr.dot([], [], ctx)
    with pytest.raises(ValueError, match="empty"):
        sr.matmul(np.ones((2, 0)), np.ones((0, 2)), ctx)
    with pytest.raises(ValueError, match="length"):
        sr.dot([1.0, 2.0], [1.0, 2.0, 3.0], ctx)
    with pytest.raises(ValueError, match="broadcast"):
        sr.dot(np.ones((2, 3)), np.ones((4, 3)), ctx)
    with pytest.raises(ValueError, match="inner"):
        sr.matmul(np.ones((2, 3)), np.ones((2, 3)), ctx)
    with pytest.raises(ValueError, match="batch"):
        sr.matmul(np.ones((2, 2, 3)), np.ones((4, 3, 2)), ctx)
    with pytest.raises(ValueError):
        sr.matmul(1.0, np.ones(2), ctx)
    with pytest.raises(np.exceptions.AxisError):
        sr.sum(np.ones((2, 2)), ctx, axis=2)
    with pytest.raises(TypeError):
        sr.sum(np.array(["a"]), ctx)
    with pytest.raises(TypeError):
        sr.sum(np.ones(3, complex), ctx)
    big = sr.Context(sr.binary64, "nearest")
    with pytest.raises(ValueError, match="float32"):
        sr.sum(np.ones(3, np.float32), big)
    with pytest.raises(ValueError, match="float32"):
        sr.dot(np.ones(3, np.float32), np.ones(3, np.float32), ctx, accumulate=big)


def test_dtypes_and_shapes():
    ctx = sr.Context(sr.bfloat16, "nearest")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for method in METHODS:
        s = sr.sum(x, ctx, method)
        assert isinstance(s, np.float32) and s == 276
        assert sr.sum(x, ctx, method, axis=-1).shape == (2, 3)
        assert sr.sum(x, ctx, method, axis=(0, 2)).shape == (3,)
        assert np.array_equal(sr.sum(x, ctx, method, axis=1), x.sum(axis=1))
        assert sr.sum(x.astype(np.float64), ctx, method).dtype == np.float64
        assert sr.sum(np.arange(5), ctx, method).dtype == np.float64   # integers -> float64
        assert sr.sum(np.float32(3.0), ctx, method) == 3.0             # a 0-d input
    # non-contiguous input gives the same as a contiguous copy
    y = np.random.default_rng(0).random((50, 40))[::2, ::-3]
    for method in METHODS:
        assert_same_floats(sr.sum(y, ctx, method, axis=0), sr.sum(y.copy(), ctx, method, axis=0),
                    method)
