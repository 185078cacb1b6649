"""srround.linalg: LU with partial pivoting, triangular solves, solve, Cholesky, inverse,
every operation rounded.

1. Bit for bit against slow element-by-element references below: the algorithms as
   srround/linalg.py's docstrings write them, one scalar ctx call per rounded
   operation, in the documented order. A scalar call draws exactly one random word,
   so for stochastic contexts (replayed on a twin of the context) this checks the
   documented order of the draws too; in every rounding mode, stacked inputs included.
2. Higham's componentwise backward error bounds, computed exactly with Fractions on
   random matrices in every preset format: Theorem 9.4, |PA - LU| <= gamma_n |L||U|,
   and Theorem 10.3 for Cholesky, plus the additive term of underflow.
3. binary64 with round to nearest against LAPACK (np.linalg.solve, scipy's pivots); a
   low-precision solve carries the error of every operation, not one rounding of a
   binary64 solution; results are values of the format.
4. np.linalg on EmulatedArrays routes here; plain arrays in, plain arrays out; bad input.
"""
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround import linalg

from vector_oracle import mismatch_report, oracle_round, same_bits

MODES = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd",
         "stochastic", "stochastic_equal")
PRESETS = [sr.binary16, sr.bfloat16, sr.tf32, sr.binary32, sr.binary64, sr.e5m2, sr.e4m3,
           sr.e3m2, sr.e2m3, sr.e2m1]


def twin(ctx):
    return pickle.loads(pickle.dumps(ctx))


def assert_bits(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert same_bits(got, want).all(), f"{what}:\n" + mismatch_report(
        want.astype(np.float64), got.astype(np.float64), want)


def storage(fmt):
    return np.float32 if fmt.fits_float32 else np.float64


def matrix(fmt, shape, seed, low=-1.0, high=1.0, dtype=None):
    """Random values of fmt (rounded to nearest), in its storage dtype."""
    x = np.random.default_rng(seed).uniform(low, high, shape)
    return sr.round(x, fmt).astype(dtype or storage(fmt))


# ---------------------------------------------------------------- element-by-element references

class Scalar:
    """ctx's operations on one element at a time: one call, one random word each."""

    def __init__(self, ctx, dtype):
        self.ctx, self.t = ctx, np.dtype(dtype).type

    def div(self, a, b):
        return self.ctx.divide(self.t(a), self.t(b))

    def mul(self, a, b):
        return self.ctx.multiply(self.t(a), self.t(b))

    def sub(self, a, b):
        return self.ctx.subtract(self.t(a), self.t(b))

    def sqrt(self, a):
        return self.ctx.sqrt(self.t(a))


def ref_lu(A, op):
    """Right-looking LU with partial pivoting on a (B, n, n) stack, element by element."""
    A = np.array(A)
    B, n, _ = A.shape
    piv = np.zeros((B, n), np.int32)
    for k in range(n):
        for b in range(B):
            column = [abs(A[b, i, k]) for i in range(k, n)]
            p = k + column.index(max(column))
            piv[b, k] = p
            A[b, [k, p]] = A[b, [p, k]]
            if A[b, k, k] == 0:
                raise np.linalg.LinAlgError("singular")
        for b in range(B):
            for i in range(k + 1, n):
                A[b, i, k] = op.div(A[b, i, k], A[b, k, k])
        for b in range(B):                  # row by row: products, then subtractions
            for i in range(k + 1, n):
                products = [op.mul(A[b, i, k], A[b, k, j]) for j in range(k + 1, n)]
                for j, p in zip(range(k + 1, n), products):
                    A[b, i, j] = op.sub(A[b, i, j], p)
    return A, piv


def ref_substitute(T, X, op, lower, unit):
    """Column-oriented substitution, element by element, X (B, n, k) overwritten."""
    B, n, k = X.shape
    for j in (range(n) if lower else range(n - 1, -1, -1)):
        if not unit:
            for b in range(B):
                for c in range(k):
                    X[b, j, c] = op.div(X[b, j, c], T[b, j, j])
        rows = range(j + 1, n) if lower else range(j)
        products = {(b, i, c): op.mul(T[b, i, j], X[b, j, c]) for b in range(B)
                    for i in rows for c in range(k)}
        for (b, i, c), p in products.items():
            X[b, i, c] = op.sub(X[b, i, c], p)
    return X


def ref_permute(X, piv):
    X = np.array(X)
    for b in range(X.shape[0]):
        for i in range(piv.shape[1]):
            X[b, [i, piv[b, i]]] = X[b, [piv[b, i], i]]
    return X


def ref_cholesky_upper(A, op):
    A = np.array(A)
    B, n, _ = A.shape
    for k in range(n):
        for b in range(B):
            if not A[b, k, k] > 0:
                raise np.linalg.LinAlgError("not positive definite")
        for b in range(B):
            A[b, k, k] = op.sqrt(A[b, k, k])
        for b in range(B):
            for j in range(k + 1, n):
                A[b, k, j] = op.div(A[b, k, j], A[b, k, k])
        products = {(b, i, j): op.mul(A[b, k, i], A[b, k, j]) for b in range(B)
                    for i in range(k + 1, n) for j in range(i, n)}
        for (b, i, j), p in products.items():
            A[b, i, j] = op.sub(A[b, i, j], p)
    return np.triu(A)


CASES = [(sr.bfloat16, np.float32), (sr.binary16, np.float64), (sr.e4m3, np.float32)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt, dtype", CASES)
def test_lu_solve_inv_equal_element_by_element_reference(fmt, dtype, mode):
    n, B = 5, 2
    A = matrix(fmt, (B, n, n), 1, dtype=dtype) + np.eye(n, dtype=dtype)
    A = sr.round(A, fmt).astype(dtype)
    b = matrix(fmt, (B, n, 3), 2, dtype=dtype)
    ctx = sr.Context(fmt, mode, rng=3)
    ref = twin(ctx)
    lu, piv = linalg.lu_factor(A, ctx)
    want_lu, want_piv = ref_lu(A, Scalar(ref, dtype))
    assert lu.dtype == dtype and piv.dtype == np.int32
    assert_bits(lu, want_lu, "lu")
    assert np.array_equal(piv, want_piv)

    x = linalg.lu_solve((lu, piv), b, ctx)
    X = ref_permute(b, want_piv)
    ref_substitute(want_lu, X, Scalar(ref, dtype), lower=True, unit=True)
    ref_substitute(want_lu, X, Scalar(ref, dtype), lower=False, unit=False)
    assert_bits(x, X, "lu_solve")

    assert_bits(linalg.solve(A, b, ctx), _ref_solve(A, b, Scalar(ref, dtype)), "solve")

    inverse = linalg.inv(A, ctx)
    f, p = ref_lu(A, Scalar(ref, dtype))
    eye = ref_permute(np.broadcast_to(np.eye(n, dtype=dtype), (B, n, n)), p)
    ref_substitute(f, eye, Scalar(ref, dtype), lower=True, unit=True)
    ref_substitute(f, eye, Scalar(ref, dtype), lower=False, unit=False)
    assert_bits(inverse, eye, "inv")


def _ref_solve(A, b, op):
    f, p = ref_lu(A, op)
    X = ref_permute(b, p)
    ref_substitute(f, X, op, lower=True, unit=True)
    return ref_substitute(f, X, op, lower=False, unit=False)


@pytest.mark.parametrize("mode", ["nearest", "up", "stochastic"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_equals_reference(mode, lower, unit):
    fmt, dtype, n = sr.binary16, np.float32, 6
    T = sr.round(matrix(fmt, (n, n), 4) + 2 * np.eye(n, dtype=dtype), fmt)   # junk triangle too
    b = matrix(fmt, (n,), 5)
    ctx = sr.Context(fmt, mode, rng=6)
    ref = twin(ctx)
    x = linalg.solve_triangular(T, b, ctx, lower=lower, unit_diagonal=unit)
    want = ref_substitute(T[None], b[None, :, None].copy(), Scalar(ref, dtype), lower, unit)
    assert x.shape == (n,)
    assert_bits(x, want[0, :, 0])
    part = np.tril(T) if lower else np.triu(T)       # only one triangle is read
    assert_bits(linalg.solve_triangular(part, b, sr.Context(fmt, "nearest"), lower=lower,
                                        unit_diagonal=unit),
                linalg.solve_triangular(T, b, sr.Context(fmt, "nearest"), lower=lower,
                                        unit_diagonal=unit))


@pytest.mark.parametrize("mode", ["nearest", "down", "stochastic"])
@pytest.mark.parametrize("fmt, dtype", CASES[:2])
def test_cholesky_equals_reference(fmt, dtype, mode):
    n, B = 5, 2
    M = matrix(fmt, (B, n, n), 7, dtype=np.float64)
    S = sr.round(M @ np.swapaxes(M, 1, 2) + n * np.eye(n), fmt).astype(dtype)
    ctx = sr.Context(fmt, mode, rng=8)
    ref = twin(ctx)
    R = linalg.cholesky(S, ctx, lower=False)
    assert_bits(R, ref_cholesky_upper(S, Scalar(ref, dtype)), "upper")
    ref = twin(ctx)
    L = linalg.cholesky(S, ctx)
    want = np.swapaxes(ref_cholesky_upper(np.swapaxes(S, 1, 2), Scalar(ref, dtype)), 1, 2)
    assert_bits(L, want, "lower")
    junk = S.copy()
    junk[:, 0, -1] = 1e3                                    # lower=True reads the lower part
    assert_bits(linalg.cholesky(junk, sr.Context(fmt, "nearest")),
                linalg.cholesky(S, sr.Context(fmt, "nearest")))


# ---------------------------------------------------------------- backward error bounds

def _unit_roundoff(fmt, mode):
    """(u', lambda): |delta| <= u' for a rounded operation, |eta| <= lambda for the
    absolute error of an underflowing product or quotient (subnormal quantum q)."""
    u = Fraction(fmt.unit_roundoff)
    q = Fraction(fmt.smallest_subnormal)
    if mode in ("nearest", "nearest_away"):
        return u, q / 2
    return 2 * u, q


def _exact(M):
    return [[Fraction(float(v)) for v in row] for row in M]


@pytest.mark.parametrize("mode", ["nearest", "toward_zero", "stochastic"])
@pytest.mark.parametrize("fmt", PRESETS, ids=lambda f: f.label)
def test_lu_satisfies_higham_theorem_9_4(fmt, mode):
    """|PA - LU| <= gamma_n |L||U| + (1 + gamma_n) lambda (n + |u_jj|), exactly, with
    n u' <= 1/2; the second term covers underflow (Demmel's model: fl(x op y) =
    (x op y)(1 + delta) + eta, eta = 0 for sums of values of a format with subnormals)."""
    u, lam = _unit_roundoff(fmt, mode)
    n = min(8, int(Fraction(1, 2) / u))
    if n < 2:
        pytest.skip(f"n u' < 1 only for n = 1 in {fmt.label} with {mode}")
    gamma = n * u / (1 - n * u)
    ctx = sr.Context(fmt, mode, rng=9)
    checked = errors = 0
    for seed in range(40):
        A = matrix(fmt, (n, n), 100 + seed)
        try:
            lu, piv = linalg.lu_factor(A, ctx)
        except np.linalg.LinAlgError:
            continue                     # random matrices of 4-bit formats can be singular
        assert np.isfinite(lu).all() and (np.abs(lu) <= fmt.max).all()
        PA = A.copy()
        for i, p in enumerate(piv):
            PA[[i, p]] = PA[[p, i]]
        LU, PA = _exact(lu), _exact(PA)
        for i in range(n):
            for j in range(n):
                terms = [(LU[i][k] if k < i else 1) * LU[k][j] for k in range(min(i, j + 1))]
                if i <= j:
                    terms.append(LU[i][j])           # l_ii = 1
                error = abs(PA[i][j] - sum(terms))
                bound = gamma * sum(abs(t) for t in terms) \
                    + (1 + gamma) * lam * (n + abs(LU[min(i, j)][min(i, j)]))
                assert error <= bound, (i, j, float(error), float(bound))
                errors += error > 0
        checked += 1
    assert checked >= 10
    if fmt.precision < 53:
        assert errors > 0                 # the factors really carry rounding errors


@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
@pytest.mark.parametrize("fmt", [sr.binary16, sr.bfloat16, sr.tf32, sr.binary32],
                         ids=lambda f: f.label)
def test_cholesky_satisfies_higham_theorem_10_3(fmt, mode):
    """|A - R^T R| <= gamma_(n+1) |R^T||R| (plus underflow's additive term), exactly."""
    u, lam = _unit_roundoff(fmt, mode)
    n = 8
    gamma = (n + 1) * u / (1 - (n + 1) * u)
    ctx = sr.Context(fmt, mode, rng=10)
    for seed in range(5):
        M = matrix(fmt, (n, n), 200 + seed, dtype=np.float64)
        A = sr.round(M @ M.T + np.eye(n), fmt).astype(storage(fmt))
        R = _exact(linalg.cholesky(A, ctx, lower=False))
        E = _exact(A)
        for i in range(n):
            for j in range(i, n):
                terms = [R[k][i] * R[k][j] for k in range(i + 1)]
                error = abs(E[i][j] - sum(terms))
                bound = gamma * sum(abs(t) for t in terms) + (1 + gamma) * lam * (n + 1)
                assert error <= bound, (i, j, float(error), float(bound))


def test_binary64_nearest_solve_has_lapack_backward_error():
    """Normwise backward error ||b - Ax|| / (||A|| ||x|| + ||b||) (infinity norms, the
    residual exact) of a few units of 2^-53, like LAPACK's; the solutions agree."""
    n = 40
    rng = np.random.default_rng(11)
    ctx = sr.Context(sr.binary64, "nearest")
    u = Fraction(1, 2**53)
    for trial in range(3):
        A = rng.standard_normal((n, n))
        b = rng.standard_normal(n)
        x = linalg.solve(A, b, ctx)
        x_lapack = np.linalg.solve(A, b)
        Af, bf = _exact(A), [Fraction(v) for v in b]

        def backward_error(x):
            xf = [Fraction(v) for v in x]
            r = max(abs(bf[i] - sum(Af[i][j] * xf[j] for j in range(n))) for i in range(n))
            normA = max(sum(abs(v) for v in row) for row in Af)
            return r / (normA * max(abs(v) for v in xf) + max(abs(v) for v in bf))

        ours, lapack = backward_error(x), backward_error(x_lapack)
        assert ours <= 4 * u, float(ours / u)
        assert ours <= 4 * max(lapack, u)
        kappa = np.linalg.cond(A, np.inf)
        assert np.abs(x - x_lapack).max() <= 16 * kappa * float(u) * np.abs(x_lapack).max()


def test_pivots_match_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    ctx = sr.Context(sr.binary64, "nearest")
    rng = np.random.default_rng(12)
    for n in (1, 2, 7, 30):
        A = rng.standard_normal((n, n))
        lu, piv = linalg.lu_factor(A, ctx)
        lu_s, piv_s = scipy_linalg.lu_factor(A)
        assert np.array_equal(piv, piv_s)
        assert np.allclose(lu, lu_s, rtol=1e-10, atol=1e-12)
        b = rng.standard_normal(n)
        x = linalg.lu_solve((lu_s, piv_s), b, ctx)          # scipy's factors work too
        assert np.allclose(x, scipy_linalg.lu_solve((lu_s, piv_s), b), rtol=1e-8)


def test_low_precision_solve_carries_every_rounding():
    """A bfloat16 solve is not a binary64 solve rounded once: its error is many times
    that of one rounding, as it must be with every operation rounded."""
    fmt, n = sr.bfloat16, 48
    rng = np.random.default_rng(13)
    A = sr.round(rng.standard_normal((n, n)) + 4 * np.eye(n), fmt)
    b = sr.round(rng.standard_normal(n), fmt)
    exact = np.linalg.solve(A, b)                         # A, b exact in binary64
    once = sr.round(exact, fmt)
    x = linalg.solve(A, b, sr.Context(fmt, "nearest"))
    error_once = np.abs(once - exact).max() / np.abs(exact).max()
    error = np.abs(x - exact).max() / np.abs(exact).max()
    assert error_once <= fmt.unit_roundoff
    assert error > 8 * error_once
    assert np.mean(x != once) > 0.5
    # and it is the element-by-element algorithm, bit for bit (first 12 unknowns)
    small = linalg.solve(A[:12, :12], b[:12], sr.Context(fmt, "nearest"))
    want = _ref_solve(A[None, :12, :12], b[None, :12, None].copy(),
                      Scalar(sr.Context(fmt, "nearest"), np.float64))
    assert_bits(small, want[0, :, 0])


@pytest.mark.parametrize("fmt", PRESETS, ids=lambda f: f.label)
def test_results_are_values_of_the_format(fmt):
    n = 4 if fmt.precision > 3 else 3
    ctx = sr.Context(fmt, "stochastic", rng=14)
    M = matrix(fmt, (n, n), 15, dtype=np.float64)
    A = sr.round(M + 4 * np.eye(n), fmt).astype(storage(fmt))
    S = sr.round(M @ M.T + 2 * np.eye(n), fmt).astype(storage(fmt))
    b = matrix(fmt, (n,), 16)
    results = [linalg.lu_factor(A, ctx)[0], linalg.solve(A, b, ctx), linalg.inv(A, ctx),
               linalg.solve_triangular(A, b, ctx)]
    if fmt.overflow == "inf" or fmt.precision > 2:
        try:
            results.append(linalg.cholesky(S, ctx))
        except np.linalg.LinAlgError:
            pass              # a 4-bit rounding of an SPD matrix may not be SPD
    for r in results:
        assert r.dtype == storage(fmt)
        finite = np.isfinite(r)
        assert_bits(r[finite], oracle_round(r[finite], fmt, "nearest"))


# ---------------------------------------------------------------- stacks, routing, types

def test_stacks_equal_one_matrix_at_a_time():
    fmt = sr.binary16
    ctx = sr.Context(fmt, "nearest")
    A = matrix(fmt, (3, 5, 5), 17) + 2 * np.eye(5, dtype=np.float32)
    b = matrix(fmt, (5,), 18)
    B = matrix(fmt, (3, 5, 2), 19)
    x = linalg.solve(A, b, ctx)
    X = linalg.solve(A, B, ctx)
    assert x.shape == (3, 5) and X.shape == (3, 5, 2)
    for i in range(3):
        assert_bits(x[i], linalg.solve(A[i], b, ctx))
        assert_bits(X[i], linalg.solve(A[i], B[i], ctx))
        assert_bits(linalg.inv(A, ctx)[i], linalg.inv(A[i], ctx))
        lu, piv = linalg.lu_factor(A, ctx)
        lu_i, piv_i = linalg.lu_factor(A[i], ctx)
        assert_bits(lu[i], lu_i)
        assert np.array_equal(piv[i], piv_i)
    A4 = np.broadcast_to(A, (2, 3, 5, 5))
    assert linalg.solve(A4, B, ctx).shape == (2, 3, 5, 2)
    assert linalg.solve(np.zeros((0, 0)), np.zeros(0), ctx).shape == (0,)
    assert linalg.inv(np.zeros((2, 0, 0)), ctx).shape == (2, 0, 0)


def test_numpy_linalg_on_emulated_arrays_routes_here():
    fmt = sr.bfloat16
    ctx = sr.Context(fmt, "stochastic", rng=20)
    M = np.random.default_rng(21).standard_normal((6, 6))
    A = sr.emulate(M + 3 * np.eye(6), ctx)
    S = sr.emulate(M @ M.T + np.eye(6), ctx)
    b = sr.emulate(np.arange(6.0), ctx)
    ref = twin(ctx)
    Av, Sv, bv = A.values.copy(), S.values.copy(), b.values.copy()
    got = [np.linalg.solve(A, b), np.linalg.inv(A), np.linalg.cholesky(S),
           np.linalg.cholesky(S, upper=True), linalg.solve(A, b), linalg.solve(A, b, ctx),
           np.linalg.solve(A, [1.0, 2, 3, 4, 5, 6])]
    want = [linalg.solve(Av, bv, ref), linalg.inv(Av, ref), linalg.cholesky(Sv, ref),
            linalg.cholesky(Sv, ref, lower=False), linalg.solve(Av, bv, ref),
            linalg.solve(Av, bv, ref), linalg.solve(Av, np.arange(1.0, 7), ref)]
    for i, (g, w) in enumerate(zip(got, want)):
        assert isinstance(g, sr.EmulatedArray) and g.context is ctx and g.dtype == A.dtype
        assert type(w) is np.ndarray
        assert_bits(g.values, w, f"call {i}")
    lu, piv = linalg.lu_factor(A)
    assert isinstance(lu, sr.EmulatedArray) and type(piv) is np.ndarray
    assert sr.linalg is linalg


@pytest.mark.parametrize("x, fmt, dtype", [
    (np.eye(3, dtype=np.float32), sr.bfloat16, np.float32),
    (np.eye(3), sr.bfloat16, np.float64),
    (np.eye(3, dtype=np.int64), sr.binary16, np.float64),
    (np.eye(3, dtype=np.float32), sr.binary64, np.float64),
])
def test_plain_arrays_in_plain_arrays_out(x, fmt, dtype):
    ctx = sr.Context(fmt, "stochastic", rng=22)
    ref = twin(ctx)
    A = x * 3 + 0.1
    r = linalg.inv(A, ctx)
    assert type(r) is np.ndarray and r.dtype == dtype
    stored = sr.round(np.asarray(A, np.float64), fmt).astype(dtype)   # rounded to nearest
    assert_bits(r, linalg.inv(stored, ref))


def test_bad_input():
    ctx = sr.Context(sr.binary16, "nearest")
    with pytest.raises(np.linalg.LinAlgError, match="[Ss]ingular"):
        linalg.solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 1.0], ctx)
    with pytest.raises(np.linalg.LinAlgError):
        linalg.lu_factor(np.zeros((3, 3)), ctx)
    with pytest.raises(np.linalg.LinAlgError):
        linalg.inv([[1.0, 1.0], [1.0, 1.0]], ctx)
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        linalg.cholesky([[1.0, 2.0], [2.0, 1.0]], ctx)
    with pytest.raises(np.linalg.LinAlgError, match="diagonal"):
        linalg.solve_triangular([[1.0, 0.0], [1.0, 0.0]], [1.0, 1.0], ctx, lower=True)
    for A in (np.ones((2, 3)), np.ones(3), np.ones(())):
        with pytest.raises(ValueError, match="square"):
            linalg.solve(A, np.ones(2), ctx)
    for bad in (np.nan, np.inf, 1e6):           # 1e6 overflows binary16
        A = np.eye(2)
        A[0, 1] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            linalg.solve(A, [1.0, 1.0], ctx)
        with pytest.raises(ValueError, match="NaN or inf"):
            linalg.solve(np.eye(2), [bad, 1.0], ctx)
    with pytest.raises(ValueError, match="rows"):
        linalg.solve(np.eye(2), np.ones(3), ctx)
    with pytest.raises(ValueError, match="broadcast"):
        linalg.solve(np.ones((2, 2, 2)) + np.eye(2), np.ones((3, 2, 1)), ctx)
    with pytest.raises(TypeError):
        linalg.solve(np.eye(2) * 1j, np.ones(2), ctx)
    with pytest.raises(TypeError, match="ctx is required"):
        linalg.solve(np.eye(2), np.ones(2))
    with pytest.raises(TypeError, match="Context"):
        linalg.inv(np.eye(2), "binary16")
    a = sr.emulate(np.eye(2), sr.Context(sr.binary16, "nearest"))
    with pytest.raises(ValueError, match="context"):
        linalg.inv(a, ctx)
    with pytest.raises(ValueError, match="different contexts"):
        linalg.solve(a, sr.emulate(np.ones(2), ctx))
    lu, piv = linalg.lu_factor(np.eye(2) * 2, ctx)
    for bad_piv in (np.array([0, 2]), np.array([0.0, 1.0]), np.array([0, 1, 1])):
        with pytest.raises(ValueError, match="piv"):
            linalg.lu_solve((lu, bad_piv), np.ones(2), ctx)
    with pytest.raises(TypeError, match="lu_factor"):
        linalg.lu_solve(lu, np.ones(2), ctx)
    with pytest.raises(TypeError, match="not emulated"):
        np.linalg.det(a)
    assert math.isfinite(float(np.linalg.norm(a)))
