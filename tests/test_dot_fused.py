"""sr.dot's one-pass kernel (csrc/dot_fused.h) against the two passes it replaces
(srround.summation._dot_two_pass: ctx.multiply into an array, then the recursive
sum, acc.add.reduce): the same bits, and the streams left at the same words after
the call, for every mode, format, dtype, stream kind and kernel path; accumulate
omitted, the same context, or another (format and mode); lengths around the chunk
(256) and the jump threshold of dot_fused.h; a waiting 32-bit half-word or buffered
words at the start; NaN, infinities, overflow and zero products; and the cases that
keep the two passes (batches, formats without -0, np.errstate raising)."""
import pickle

import numpy as np
import pytest
from conftest import formats, kernel_paths
from test_sum_chain import families

import srround as sr
from srround.summation import _dot_two_pass

FORMATS = formats("bfloat16", "binary16", "e4m3", "p50_e900")
LENGTHS = [1, 2, 7, 255, 256, 257, 700]
JUMP_WORDS = 1 << 15   # DOT_JUMP_WORDS in csrc/dot_fused.h: longer skips jump


def twin(ctx):
    return None if ctx is None else pickle.loads(pickle.dumps(ctx))


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def two_pass(x, y, ctx, acc):
    """The two passes on one pair of vectors, as sr.dot ran them before the kernel."""
    x, y = np.asarray(x), np.asarray(y)
    return _dot_two_pass(x.reshape(-1, 1), y.reshape(-1, 1), ctx, acc or ctx)[0]


def assert_dot_matches_two_passes(x, y, ctx, acc=None, what=""):
    """sr.dot(x, y, ctx, accumulate=acc) against the two passes on twins: value,
    type, and the next words of both streams."""
    ctx2 = twin(ctx)._set_isa(ctx._isa)
    acc2 = ctx2 if acc is ctx else twin(acc)
    with np.errstate(all="ignore"):
        got = sr.dot(x, y, ctx, accumulate=acc)
        want = two_pass(x, y, ctx2, acc2)
    assert type(got) is type(want), what
    assert same_bits(got, want), (what, got, want)
    assert ctx.random_words(3).tolist() == ctx2.random_words(3).tolist(), what
    if acc is not None and acc is not ctx:
        assert acc.random_words(3).tolist() == acc2.random_words(3).tolist(), what


def terms(fmt, dtype, n, seed):
    """x, y of length n whose products and sums reach the chain's hand-overs: the
    families of test_sum_chain.py times factors around 1."""
    rng = np.random.default_rng(seed)
    fam = list(families(fmt, seed).values())
    x = fam[seed % len(fam)]
    x = np.resize(x, n)
    y = rng.choice([1.0, -1.0, 0.75, 1.5, 2.0 ** -3], n)
    with np.errstate(all="ignore"):
        return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=lambda f: f.label)
@pytest.mark.parametrize("mode", sr.ROUNDINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("accumulate", ["omitted", "same", "other"])
def test_matches_two_passes(fmt, mode, dtype, accumulate):
    if dtype == np.float32 and not fmt.fits_float32:
        pytest.skip("float32 input cannot carry the format")
    for stream in ("sequential", "counter"):
        for k, n in enumerate(LENGTHS):
            x, y = terms(fmt, dtype, n, seed=k + len(mode))
            ctx = sr.Context(fmt, mode, rng=k, stream=stream)
            acc = {"omitted": None, "same": ctx,
                   "other": sr.Context(sr.binary32 if fmt.fits_float32 else sr.binary64,
                                       "stochastic", rng=100 + k, stream=stream)}[accumulate]
            assert_dot_matches_two_passes(x, y, ctx, acc, (stream, n))


@pytest.mark.parametrize("isa", kernel_paths())
@pytest.mark.parametrize("stream", ["sequential", "counter"])
def test_every_path_with_words_waiting(isa, stream):
    """Every kernel path; the call starting on a waiting high half-word (a 64-bit
    draw drops it) or on words left in the sequential stream's buffer."""
    for k, n in enumerate([1, 3, 256, 513, 700]):
        for halves in (0, 1, 3, 8):
            x, y = terms(sr.bfloat16, np.float32, n, seed=k)
            ctx = sr.Context(sr.bfloat16, "stochastic", rng=k, stream=stream)._set_isa(isa)
            ctx.random_words(halves, np.uint32)
            assert_dot_matches_two_passes(x, y, ctx, what=(n, halves))


@pytest.mark.parametrize("isa", kernel_paths())
def test_jump_past_the_products_words(isa):
    """Lengths from the jump threshold on: the sums' stream jumps past the products'
    words (x^J mod xoshiro256's characteristic polynomial) instead of drawing them,
    from every buffer position."""
    rng = np.random.default_rng(5)
    for n in (JUMP_WORDS - 1, JUMP_WORDS, JUMP_WORDS + 3, 3 * JUMP_WORDS + 7):
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        for words in (0, 1, 5):
            ctx = sr.Context(sr.bfloat16, "stochastic", rng=n + words)._set_isa(isa)
            ctx.random_words(words)
            assert_dot_matches_two_passes(x, y, ctx, what=(n, words))


@pytest.fixture
def threads():
    """Sets sr.set_num_threads(k) for the test, restored after it."""
    keep = sr.get_num_threads()
    yield sr.set_num_threads
    sr.set_num_threads(keep)


@pytest.mark.parametrize("count", [1, 2])
def test_thread_counts(threads, count):
    """Products that ctx.multiply splits across threads (a deterministic mode or a
    counter stream, a long vector) keep the two passes with several threads, and take
    the one pass with one: the same bits either way."""
    threads(count)
    rng = np.random.default_rng(9)
    x = rng.standard_normal(40000).astype(np.float32)
    for mode, stream in [("nearest", "sequential"), ("stochastic", "counter"),
                         ("stochastic", "sequential")]:
        ctx = sr.Context(sr.bfloat16, mode, rng=2, stream=stream)
        assert_dot_matches_two_passes(x, -x[::-1], ctx, what=(mode, stream))


@pytest.mark.slow
def test_a_million_terms_in_every_mode(threads):
    threads(1)
    rng = np.random.default_rng(8)
    x = rng.standard_normal(10**6).astype(np.float32)
    for mode in sr.ROUNDINGS:
        for stream in ("sequential", "counter"):
            ctx = sr.Context(sr.bfloat16, mode, rng=3, stream=stream)
            assert_dot_matches_two_passes(x, x[::-1], ctx, what=mode)
            assert_dot_matches_two_passes(x, x, ctx, sr.Context(sr.binary16, "stochastic", rng=4),
                                          what=mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    """NaN and infinite terms, products that overflow the format (and binary32),
    inf * 0, zero products of both signs, a sum that overflows."""
    big = np.finfo(dtype).max
    x = np.array([1.0, np.nan, 2.0, np.inf, 0.0, -0.0, 3e38, big, 1.0], dtype)
    y = np.array([1.0, 1.0, 1.0, 1.0, -1.0, 2.0, 1e3, big, np.inf], dtype)
    for mode in ("stochastic", "nearest", "up", "down"):
        for i in range(len(x)):
            for j in range(i + 1, len(x) + 1):
                ctx = sr.Context(sr.bfloat16, mode, rng=i * 10 + j)
                assert_dot_matches_two_passes(x[i:j], y[i:j], ctx, what=(mode, i, j))
        zeros = np.array([-0.0, -0.0], dtype)
        assert_dot_matches_two_passes(zeros, np.ones(2, dtype), sr.Context(sr.bfloat16, mode))
        ctx = sr.Context(sr.bfloat16, mode, rng=1)
        many = np.full(3000, 3e38 if dtype == np.float32 else 1e300, dtype)
        assert_dot_matches_two_passes(many, many[::-1] * 0 + 1, ctx, what=mode)


def test_flags_are_reported_as_the_two_passes_report_them():
    """Overflow warns as NumPy's own operations do; under np.errstate(over="raise")
    the two passes run, so the error comes after the products, the stream after
    their words alone, as before."""
    x = np.array([3e38, 3e38], np.float32)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=1)
    with pytest.warns(RuntimeWarning, match="overflow"):
        sr.dot(x, x, ctx)
    ctx, ctx2 = sr.Context(sr.bfloat16, "stochastic", rng=2), sr.Context(sr.bfloat16,
                                                                        "stochastic", rng=2)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            sr.dot(x, x, ctx)
        with pytest.raises(FloatingPointError):
            ctx2.multiply(x, x)
    assert ctx.random_words(2).tolist() == ctx2.random_words(2).tolist()


def test_shapes_that_keep_the_two_passes_or_reshape():
    """Batches (step-major words across rows) keep the two passes; a single lane in
    2-D (axis=0 of a column, a row of a 1 x n matrix), strided and broadcast vectors,
    mixed dtypes, and formats without -0 give the two passes' bits too."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 3)).astype(np.float32)
    for x, y, axis in [(A, A, 0), (A[:, :1], A[:, 1:2], 0), (A.T[:1], A.T[1:2], -1),
                       (A[::2, 0], A[1::2, 1], -1), (A[:, 0], np.float32(2.0) + 0 * A[:, 0], 0),
                       (A[:, 0], A[:, 1].astype(np.float64), -1)]:
        ctx, ctx2 = sr.Context(sr.bfloat16, rng=4), sr.Context(sr.bfloat16, rng=4)
        a, b = np.moveaxis(np.asarray(x, np.float64 if x.dtype != y.dtype else x.dtype), axis, -1), \
            np.moveaxis(np.asarray(y, np.float64 if x.dtype != y.dtype else y.dtype), axis, -1)
        a, b = np.broadcast_arrays(a, b)
        m = int(np.prod(a.shape[:-1]))
        want = _dot_two_pass(np.ascontiguousarray(a.reshape(m, -1).T),
                             np.ascontiguousarray(b.reshape(m, -1).T), ctx2, ctx2)
        got = sr.dot(x, y, ctx, axis=axis)
        assert same_bits(np.ravel(got), want), (x.shape, axis)
        assert ctx.random_words(2).tolist() == ctx2.random_words(2).tolist()
    x = rng.standard_normal(500).astype(np.float32)
    for name in ("e4m3fnuz", "e5m2fnuz"):
        fmt = getattr(sr.formats, name)
        for acc in (None, sr.Context(fmt, "stochastic", rng=6)):
            assert_dot_matches_two_passes(x, -x[::-1], sr.Context(fmt, "stochastic", rng=5),
                                          acc, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fewer_random_bits_and_other_byte_orders(dtype):
    """Contexts with bits=r (the words' top r bits), and input that is not native,
    contiguous float data (big-endian, reversed, integers)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal(600).astype(dtype)
    for bits in (1, 8, 30):
        ctx = sr.Context(sr.bfloat16, "stochastic", bits=bits, rng=bits)
        acc = sr.Context(sr.binary16, "stochastic", bits=bits + 1, rng=bits)
        assert_dot_matches_two_passes(x, x[::-1], ctx, what=bits)
        assert_dot_matches_two_passes(x, x, ctx, acc, what=bits)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=1)
    assert_dot_matches_two_passes(x.astype(x.dtype.newbyteorder(">")), x[::-1], ctx)
    assert_dot_matches_two_passes(np.arange(600), x, ctx)
