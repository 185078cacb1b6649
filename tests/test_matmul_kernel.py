"""sr.matmul's C kernel (csrc/matmul.c) against a slow loop of ctx.multiply / ctx.add
calls on twin contexts (pickle copies) in the documented order, bit for bit, with the
streams ending at the same place: every mode, binary32 and binary64 data, bits=r,
mixed precision, batches, strides, special values; every kernel path alike."""
import pickle

import numpy as np
import pytest
from conftest import formats, twin
from test_isa import PATHS

import srround as sr
from srround import summation

ROWS = summation.MATMUL_ROWS


def by_ufuncs(A, B, ctx, acc):
    """C = A @ B for stacks (nb, m, k) @ (nb, k, n): batches in order; rows in blocks
    of ROWS; in a block, for each l, for each row i: fl(A[i, l] * B[l, :]) in ctx
    (n words), then C[i] = fl(C[i] + those) in acc (n words); C starts at +0."""
    nb, m, k = A.shape
    n = B.shape[2]
    C = np.zeros((nb, m, n), A.dtype)
    for t in range(nb):
        for i0 in range(0, m, ROWS):
            for l in range(k):
                for i in range(i0, min(m, i0 + ROWS)):
                    products = ctx.multiply(np.full(n, A[t, i, l], A.dtype),
                                            np.ascontiguousarray(B[t, l]))
                    C[t, i] = acc.add(C[t, i], products)
    return C


def values(rng, shape, dtype, fmt, zeros=0.1):
    """Values of fmt (so products and sums stay in its range mostly), some zeros."""
    x = sr.round(rng.standard_normal(shape) * 4.0 ** rng.integers(-2, 3, shape), fmt,
                 "nearest")
    x[rng.random(shape) < zeros] = 0.0
    return x.astype(dtype)


def assert_same_bits(got, want):
    """The same bits, zeros' signs included; NaN payloads aside (IEEE 754 leaves
    them to the hardware, and compilers may swap the operands of an addition)."""
    got, want = np.array(got).reshape(-1), np.array(want).reshape(-1)
    both = np.isnan(got) & np.isnan(want)
    got[both] = want[both] = 0
    word = np.uint64 if got.itemsize == 8 else np.uint32
    bad = np.flatnonzero(got.view(word) != want.view(word))
    assert bad.size == 0, (f"{bad.size} of {got.size} differ; first at {bad[0]}: "
                           f"got {got[bad[0]]!r}, want {want[bad[0]]!r}")


def check(A, B, ctx, acc=None, stack=None):
    """sr.matmul(A, B) equals the ufunc loop on twins, bits and stream positions."""
    twin_ctx, twin_acc = pickle.loads(pickle.dumps((ctx, ctx if acc is None else acc)))
    got = sr.matmul(A, B, ctx, accumulate=acc)
    A3, B3 = stack if stack is not None else (np.asarray(A)[None], np.asarray(B)[None])
    want = by_ufuncs(A3, B3, twin_ctx, twin_acc).reshape(got.shape)
    assert got.dtype == want.dtype
    assert_same_bits(got, want)
    assert ctx.random_words(3).tolist() == twin_ctx.random_words(3).tolist()
    if acc is not None:
        assert acc.random_words(3).tolist() == twin_acc.random_words(3).tolist()


@pytest.mark.parametrize("mode", sr.ROUNDINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_mode_matches_the_ufunc_loop(mode, dtype):
    rng = np.random.default_rng(list(sr.ROUNDINGS).index(mode))
    for m, k, n in [(7, 5, 9), (1, 13, 3), (4, 1, 17), (9, 6, 300)]:
        A, B = values(rng, (m, k), dtype, sr.binary16), values(rng, (k, n), dtype, sr.binary16)
        check(A, B, sr.Context(sr.bfloat16, mode, rng=int(rng.integers(2**32))))


@pytest.mark.parametrize("mode", ["stochastic", "nearest", "down", "stochastic_equal"])
def test_mixed_precision_has_its_own_stream(mode):
    rng = np.random.default_rng(5)
    A, B = values(rng, (6, 8), np.float32, sr.binary16), values(rng, (8, 10), np.float32, sr.binary16)
    for prod_fmt, acc_fmt in [(sr.binary16, sr.binary32), (sr.bfloat16, sr.binary16),
                              (sr.e4m3, sr.bfloat16)]:
        ctx = sr.Context(prod_fmt, mode, rng=1)
        check(A, B, ctx, sr.Context(acc_fmt, "stochastic", rng=2))
        check(A, B, ctx, sr.Context(acc_fmt, "nearest"))
    # binary64 sums of binary64 data: the format is the data type itself
    A64, B64 = A.astype(np.float64) / 3, B.astype(np.float64) / 7
    check(A64, B64, sr.Context(sr.bfloat16, mode, rng=3), sr.Context(sr.binary64, mode, rng=4))


@pytest.mark.parametrize("bits", [1, 3, 12, 40])
def test_few_random_bits(bits):
    rng = np.random.default_rng(bits)
    A, B = values(rng, (5, 7), np.float64, sr.binary32), values(rng, (7, 6), np.float64, sr.binary32)
    check(A, B, sr.Context(sr.bfloat16, "stochastic", bits=bits, rng=bits))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_formats_and_strides():
    rng = np.random.default_rng(7)
    fmts = list(formats("p1_e5", "p5_e3_em20_nosub", "p7_e10_nan").values()) + [sr.e5m2, sr.e2m1]
    for fmt in fmts:
        A = values(rng, (8, 5), np.float64, sr.binary16, zeros=0.2)
        B = values(rng, (5, 6), np.float64, sr.binary16, zeros=0.2)
        check(A, B, sr.Context(fmt, "stochastic", rng=3))
        check(A, B, sr.Context(fmt, "nearest"))
    A, B = values(rng, (10, 12), np.float32, sr.binary16), values(rng, (12, 14), np.float32, sr.binary16)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=8)
    check(A[::-2, ::3], B[::3, ::-1].T.copy().T, ctx)    # strided, reversed, Fortran
    check(A.T[::2], np.asfortranarray(A), ctx)


def test_batches_broadcast_and_vectors():
    rng = np.random.default_rng(8)
    A = values(rng, (2, 1, 5, 4), np.float64, sr.binary16)
    B = values(rng, (3, 4, 6), np.float64, sr.binary16)
    stack = (np.broadcast_to(A, (2, 3, 5, 4)).reshape(-1, 5, 4),
             np.broadcast_to(B, (2, 3, 4, 6)).reshape(-1, 4, 6))
    check(A, B, sr.Context(sr.bfloat16, "stochastic", rng=9), stack=stack)
    v = values(rng, 4, np.float64, sr.binary16)
    check(v, B[0], sr.Context(sr.bfloat16, "stochastic", rng=10), stack=(v[None, None], B[:1]))
    check(B[0].T, v, sr.Context(sr.bfloat16, "stochastic", rng=11),
          stack=(B[0].T[None], v[None, :, None]))


@pytest.mark.parametrize("stream", ["sequential", "counter"])
@pytest.mark.parametrize("n", [7, 4100])      # 4100: wide rows, drawn a chunk at a time
def test_streams_and_a_waiting_half_word(stream, n):
    """Both kinds of stream; a 32-bit half-word left waiting by an earlier draw is
    dropped by the first 64-bit draw, as the ufuncs drop it."""
    rng = np.random.default_rng(n)
    A, B = values(rng, (5, 3), np.float64, sr.binary16), values(rng, (3, n), np.float64, sr.binary16)
    for shared in (True, False):
        ctx = sr.Context(sr.bfloat16, "stochastic", rng=3, stream=stream)
        acc = None if shared else sr.Context(sr.binary16, "stochastic", rng=4, stream=stream)
        ctx.random_words(1, np.uint32)
        if acc is not None:
            acc.random_words(3, np.uint32)
        check(A, B, ctx, acc)


@pytest.mark.parametrize("fmt", [sr.binary16, sr.e4m3, sr.bfloat16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(fmt, dtype):
    """NaN, infinities, overflow (inf, saturation), results in the subnormal range,
    exact zeros of every sign: the kernel's undecided elements take the exact path."""
    rng = np.random.default_rng(9)
    A = values(rng, (9, 6), dtype, sr.binary16, zeros=0.3)
    B = values(rng, (6, 11), dtype, sr.binary16, zeros=0.3)
    A[0, 0], B[1, 2], A[2, 3], B[3, 0] = np.nan, np.inf, -np.inf, -0.0
    A[3] *= np.float32(2.0**10)           # products beyond the format's max
    A[4] *= np.float32(2.0**-12)          # products and sums in the subnormal range
    A[5, :3], B[:3, 4] = 1.0, -1.0        # cancellation to exact zeros
    A[6] = -A[5]
    with np.errstate(all="ignore"):
        for mode in sr.ROUNDINGS:
            check(A, B, sr.Context(fmt, mode, rng=12))
            check(A, B, sr.Context(fmt, mode, rng=13), sr.Context(sr.binary32, mode, rng=14))


def test_overflow_is_reported_like_numpy():
    A = np.full((2, 2), 1e4)
    ctx = sr.Context(sr.binary16, "nearest")
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        sr.matmul(A, A, ctx)
    with np.errstate(over="ignore"):
        assert np.isinf(sr.matmul(A, A, ctx)).all()
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError, match="invalid"):
        sr.matmul(np.array([[np.inf, 1.0]]), np.array([[0.0], [1.0]]), ctx)


@pytest.mark.parametrize("path", PATHS)
def test_every_kernel_path_gives_the_same_bits(path):
    """The product context's kernel path runs the kernel (and both streams' paths draw
    the words): every path against the portable one."""
    results = {}
    for name in ("scalar", path):
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(10)     # the same data on both paths
            A = values(rng, (11, 37), dtype, sr.binary16)
            B = values(rng, (37, 301), dtype, sr.binary16)
            B[5, 7:20] = np.inf
            for mode in sr.ROUNDINGS:
                ctx = sr.Context(sr.bfloat16, mode, rng=5)._set_isa(name)
                acc = sr.Context(sr.binary16, mode, rng=6)._set_isa(name)
                with np.errstate(all="ignore"):
                    results[name, dtype, mode] = (sr.matmul(A, B, ctx),
                                                  sr.matmul(A, B, ctx, accumulate=acc))
    for dtype in (np.float32, np.float64):
        for mode in sr.ROUNDINGS:
            for got, want in zip(results[path, dtype, mode], results["scalar", dtype, mode]):
                assert_same_bits(got, want)


def lopsided(rng, m, k, n, fmt):
    """float32 data for the binary32 fast path (matmul_body.h) with each fallback in
    a few places among ordinary chunks: column scales 2^10 .. 2^-30 make later sums
    inexact in binary32 (decided, or undecided where the product is below half an
    ulp of the sum), data off the format (inexact products), exact cancellations to
    zeros of both signs, products beyond max and in the subnormal range, NaN, inf."""
    A = values(rng, (m, k), np.float32, fmt, zeros=0.05)
    B = values(rng, (k, n), np.float32, fmt, zeros=0.05)
    A *= np.float32(2.0) ** np.array([10, 0, -6, -12, -20, -30, 3, -9, 1][:k] + [0] * (k - 9),
                                     np.float32)
    A[1] += np.float32(2.0**-20)              # off the format: inexact products
    A[2, :2], B[:2, 3] = 1.0, -1.0            # cancellation: +0 (-0 rounding down)
    A[3, :2], B[:2, 4] = -0.0, 0.0            # zeros of both signs
    A[4, 6] = float(fmt.max) / 2              # beyond max: the overflow policy
    A[5, 7] = float(fmt.tiny) / 4             # the subnormal range, and below 2^-96
    B[5, n - 3], B[6, n // 2] = np.nan, -np.inf
    return A, B


@pytest.mark.parametrize("fmt", [sr.bfloat16, sr.binary16, sr.e4m3])
@pytest.mark.parametrize("n", [15, 16, 33, 300])
def test_fast_path_fallbacks_among_fast_chunks(fmt, n):
    rng = np.random.default_rng(n)
    A, B = lopsided(rng, 13, 9, n, fmt)
    with np.errstate(all="ignore"):
        for mode in sr.ROUNDINGS:
            seed = int(rng.integers(2**32))
            check(A, B, sr.Context(fmt, mode, rng=seed))
            check(A, B, sr.Context(fmt, mode, rng=seed), sr.Context(sr.binary16, mode, rng=1))
        for bits in (5, 11, 16):              # fewer random bits than, as many as, more
            check(A, B, sr.Context(fmt, "stochastic", bits=bits, rng=bits),
                  sr.Context(sr.bfloat16, "stochastic", bits=21 - bits, rng=2))
        # different modes, and binary32 sums: the binary64 passes
        check(A, B, sr.Context(fmt, "stochastic", rng=3), sr.Context(fmt, "nearest"))
        check(A, B, sr.Context(fmt, "stochastic", rng=4), sr.Context(sr.binary32, "stochastic", rng=5))


@pytest.mark.parametrize("path", PATHS)
def test_fast_path_strides_and_batches_on_every_kernel_path(path):
    rng = np.random.default_rng(11)
    A, B = lopsided(rng, 10, 9, 40, sr.bfloat16)
    A3 = np.stack([A, -A[::-1]])[:, ::2]            # strided rows, two batches
    B3 = np.broadcast_to(B[:, ::-1], (2, 9, 40))    # reversed columns, broadcast
    with np.errstate(all="ignore"):
        for mode in ("stochastic", "nearest", "down", "odd"):
            ctx = sr.Context(sr.bfloat16, mode, rng=6)._set_isa(path)
            check(A3, B3, ctx, stack=(A3, np.ascontiguousarray(B3)))
            check(A3[0].T.copy().T, B3[1], ctx, sr.Context(sr.e4m3, mode, rng=7)._set_isa(path))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_fast_path_small_and_odd_formats():
    """The binary32 lanes for p = 1 (odd follows the exponent), no subnormals, NaN
    on overflow, saturating fp4/fp6: data of the format (fast chunks) and lopsided."""
    fmts = list(formats("p1_e5", "p5_e3_em20_nosub", "p7_e10_nan").values())
    for fmt in fmts + [sr.e5m2, sr.e3m2, sr.e2m1]:
        rng = np.random.default_rng(12)
        data = [(values(rng, (6, 5), np.float32, fmt, zeros=0.2),
                 values(rng, (5, 40), np.float32, fmt, zeros=0.2) / 4),
                lopsided(rng, 13, 9, 40, fmt)]
        with np.errstate(all="ignore"):
            for A, B in data:
                for mode in sr.ROUNDINGS:
                    check(A, B, sr.Context(fmt, mode, rng=3))
                    check(A, B, sr.Context(fmt, mode, rng=3), sr.Context(fmt, mode, rng=4))


@pytest.mark.parametrize("stream", ["sequential", "counter"])
def test_fast_path_wide_rows_and_both_streams(stream):
    """float32 rows wider than a draw (4100: words a chunk at a time) and lopsided
    data, on both kinds of stream, one context and two."""
    rng = np.random.default_rng(13)
    A, B = values(rng, (5, 3), np.float32, sr.binary16), values(rng, (3, 4100), np.float32, sr.binary16)
    for shared in (True, False):
        ctx = sr.Context(sr.bfloat16, "stochastic", rng=3, stream=stream)
        acc = None if shared else sr.Context(sr.binary16, "stochastic", rng=4, stream=stream)
        ctx.random_words(1, np.uint32)
        check(A, B, ctx, acc)
    A, B = lopsided(rng, 13, 9, 600, sr.bfloat16)
    with np.errstate(all="ignore"):
        check(A, B, sr.Context(sr.bfloat16, "stochastic", rng=5, stream=stream))
        check(A, B, sr.Context(sr.bfloat16, "stochastic", rng=6, stream=stream),
              sr.Context(sr.e4m3, "stochastic", rng=7, stream=stream))
