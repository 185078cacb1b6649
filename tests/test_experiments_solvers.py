"""The solver experiments (srround/experiments/solvers.py): the plain NumPy solvers are
plain NumPy and, through sr.emulated, exactly the explicit ctx calls; the Poisson
operator, randsvd and the exact solutions are what they claim; each experiment shows
its headline property with its defaults (fixed seeds; the bounds leave room for a
change of seed). Figures from JSON: tests/test_experiments.py."""

import builtins
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround.experiments import run
from srround.experiments import solvers as sv

PLAIN_SOLVERS = [sv.poisson_2d, sv.conjugate_gradient, sv.jacobi]


def dense_poisson(m):
    T = 2 * np.eye(m) - np.eye(m, k=1) - np.eye(m, k=-1)
    return np.kron(np.eye(m), T) + np.kron(T, np.eye(m))


# ---------------------------------------------------------------- plain NumPy

@pytest.mark.parametrize("solver", PLAIN_SOLVERS, ids=lambda f: f.__name__)
def test_solvers_are_plain_numpy(solver):
    """The functions sr.emulated runs know nothing of srround: the only global names
    they use are NumPy's module and Python's builtins (no ctx, no sr.*)."""
    code = solver.__code__
    assert not [c for c in code.co_consts if hasattr(c, "co_names")]   # no nested code
    globals_used = {name for name in code.co_names if name in solver.__globals__
                    or hasattr(builtins, name)}
    assert globals_used <= {"np", "range"}, globals_used
    assert "ctx" not in code.co_names + code.co_varnames


def test_plain_solvers_solve_in_binary64():
    """Called with float64 arrays they are ordinary solvers: CG reaches the solution
    of the Poisson system, Jacobi the solution of a diagonally dominant one."""
    m = 6
    b = np.random.default_rng(0).uniform(-1, 1, (m, m))
    X = sv.conjugate_gradient(sv.poisson_2d, b, 4 * m)
    assert type(X) is np.ndarray and X.dtype == np.float64 and X.shape[1:] == (m, m)
    exact = np.linalg.solve(dense_poisson(m), b.ravel()).reshape(m, m)
    np.testing.assert_allclose(X[-1], exact, rtol=0, atol=1e-12)
    assert np.array_equal(X[0], np.zeros((m, m)))

    rng = np.random.default_rng(1)
    A = rng.uniform(0, 1, (20, 20)) + 20 * np.eye(20)
    b = rng.uniform(0, 1, 20)
    X = sv.jacobi(A, b, 60)
    assert X.shape == (61, 20)
    np.testing.assert_allclose(X[-1], np.linalg.solve(A, b), rtol=1e-13)


def test_poisson_2d_is_the_five_point_matrix():
    m = 7
    u = np.random.default_rng(2).standard_normal((3, m, m))   # a stack of grids
    expected = (u.reshape(3, -1) @ dense_poisson(m).T).reshape(3, m, m)
    np.testing.assert_allclose(sv.poisson_2d(u.copy()), expected, rtol=0, atol=1e-13)
    b = np.random.default_rng(3).standard_normal((m, m))
    x = sv.poisson_2d_solution(b)
    np.testing.assert_allclose(sv.poisson_2d(x), b, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- through sr.emulated

def twins(fmt, seed):
    ctx = sr.Context(fmt, "stochastic", rng=seed)
    return ctx, pickle.loads(pickle.dumps(ctx))       # same stream, same position


def explicit_laplacian(u, c):
    v = c.multiply(4.0, u)
    for target, source in (((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
                           ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                           ((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                           ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        v[target] = c.subtract(v[target], u[source])
    return v


def explicit_vdot(x, y, c):
    """np.vdot on EmulatedArrays: sr.matmul of the flattened arrays."""
    return sr.matmul(x.ravel(), y.ravel(), c)


def test_emulated_cg_is_the_explicit_ctx_program():
    """sr.emulated(ctx)(conjugate_gradient) on the Poisson operator gives, bit for bit,
    the same iterates as CG written with explicit ctx calls (every product, sum and
    quotient rounded stochastically, the same random words in the same order)."""
    m, steps = 5, 6
    b = np.linspace(0.5, 1.5, m * m).reshape(m, m)
    ctx, c = twins(sr.bfloat16, 11)
    X = sr.emulated(ctx)(sv.conjugate_gradient)(sv.poisson_2d, b, steps)

    x = np.zeros((m, m))
    r = c.round(b)                # sr.emulated enters arrays with ctx.round
    p = r.copy()
    rr = explicit_vdot(r, r, c)
    expected = [x]
    for _ in range(steps):
        Ap = explicit_laplacian(p, c)
        alpha = c.divide(rr, explicit_vdot(p, Ap, c))
        x = c.add(x, c.multiply(alpha, p))
        r = c.subtract(r, c.multiply(alpha, Ap))
        rr_new = explicit_vdot(r, r, c)
        p = c.add(r, c.multiply(c.divide(rr_new, rr), p))
        rr = rr_new
        expected.append(x)
    assert X.shape == (steps + 1, m, m)
    np.testing.assert_array_equal(X, np.stack(expected))
    assert np.array_equal(sr.round(X, sr.bfloat16), X)          # values of the format


def test_emulated_jacobi_is_the_explicit_ctx_program():
    n, steps = 9, 5
    rng = np.random.default_rng(4)
    A = rng.uniform(0, 1, (n, n)) + n * np.eye(n)
    b = rng.uniform(0, 1, n)
    ctx, c = twins(sr.binary16, 12)
    X = sr.emulated(ctx)(sv.jacobi)(A, b, steps)

    A_f, b_f = c.round(A), c.round(b)     # sr.emulated enters arrays with ctx.round
    d = np.diag(A_f)
    R = c.subtract(A_f, np.diag(d))
    x = np.zeros(n)
    expected = [x]
    for _ in range(steps):
        x = c.divide(c.subtract(b_f, sr.matmul(R, x, c)), d)
        expected.append(x)
    np.testing.assert_array_equal(X, np.stack(expected))
    # ... and the rounding inside shows: not the binary64 iterates rounded once
    once = sr.round(sv.jacobi(A_f, b_f, steps), sr.binary16)
    assert not np.array_equal(X, once)


def test_cg_stops_when_r_dot_r_vanishes():
    """In binary16, r.r underflows to 0 once the recursive residual is small: CG
    stops there (no 0/0), returning the iterates it made."""
    m = 16
    X = sr.emulated(sr.Context(sr.binary16, "nearest"))(sv.conjugate_gradient)(
        sv.poisson_2d, np.ones((m, m)), 200)
    assert len(X) < 201 and np.isfinite(X).all()


# ---------------------------------------------------------------- solvers experiment

@pytest.fixture(scope="module")
def solvers_result():
    return run("solvers", runs=3)


def table(result):
    return {(row[0], row[1], row[2]): dict(zip(result.columns, row)) for row in result.rows}


def test_solvers_rn_stagnates_where_sr_gets_below(solvers_result):
    """The headline: RN stops improving at a level the stochastic runs get below.
    CG on the Poisson problem (smooth solution): RN's iterate freezes (updates below
    half an ulp are lost) and its error stays 2x or more above SR's, in bfloat16 and
    binary16. Jacobi on rand(512) + 512 I in bfloat16: RN's sums of 511 positive terms
    stagnate, and its residual stays above SR's."""
    res = solvers_result
    t = table(res)
    for fmt in ("bfloat16", "binary16"):
        rn, st = t[("CG, 2-D Poisson", fmt, "RN")], t[("CG, 2-D Poisson", fmt, "SR")]
        assert rn["final error"] > 2 * st["final error"], fmt
        assert rn["min error"] > 2 * st["min error"], fmt
        frozen = res.data["rn_last_change"]["cg"][fmt]
        assert frozen["last_change"] < frozen["iterates"], fmt
        assert any(f"RN, CG, 2-D Poisson, {fmt}: the iterate never changes" in note
                   for note in res.notes)
    rn, st = t[("Jacobi, rand(n) + n I", "bfloat16", "RN")], \
        t[("Jacobi, rand(n) + n I", "bfloat16", "SR")]
    assert rn["final residual"] > 1.5 * st["final residual"]
    assert rn["min residual"] > 1.3 * st["min residual"]
    assert rn["final error"] > 1.3 * st["final error"]


def test_solvers_residual_and_binary64_reference(solvers_result):
    """The other facts the docs state: binary64 converges; no low-precision run gets
    below x* rounded to nearest; and CG's residual, dominated by the rough rounding
    noise of x that A amplifies, is lower with RN than with SR (small residual, large
    error: the error is the measure that shows the stagnation). Stated with a factor
    1/2: a vector of the format may beat x* rounded to nearest, but not by much."""
    t = table(solvers_result)
    for solver in ("CG, 2-D Poisson", "Jacobi, rand(n) + n I"):
        for fmt in ("bfloat16", "binary16"):
            assert t[(solver, fmt, "binary64")]["final residual"] < 1e-8
            floor = t[(solver, fmt, "x* rounded (RN)")]
            for label in ("RN", "SR"):
                assert t[(solver, fmt, label)]["min residual"] > 0.5 * floor["final residual"]
                assert t[(solver, fmt, label)]["min error"] > 0.5 * floor["final error"]
    for fmt in ("bfloat16", "binary16"):
        assert t[("CG, 2-D Poisson", fmt, "RN")]["min residual"] < \
            t[("CG, 2-D Poisson", fmt, "SR")]["min residual"]


def test_solvers_data_and_reproducibility(solvers_result):
    data = solvers_result.data
    assert data["grid"] == 16 and data["iterations"] == {"cg": 64, "jacobi": 30}
    curves = data["curves"]["jacobi"]["bfloat16"]
    assert len(curves["residual"]["SR"]) == 3 and len(curves["residual"]["binary64"]) == 31
    assert curves["residual"]["RN"][0] == 1.0        # x_0 = 0
    small = run("solvers", n=32, runs=2, seed=7)
    assert small.rows == run("solvers", n=32, runs=2, seed=7).rows
    assert small.rows != run("solvers", n=32, runs=2, seed=8).rows


# ---------------------------------------------------------------- refinement pieces

def test_random_orthogonal_and_randsvd():
    rng = np.random.default_rng(5)
    Q = sv.random_orthogonal(30, rng)
    np.testing.assert_allclose(Q.T @ Q, np.eye(30), atol=1e-13)
    for kappa in (1e1, 1e4, 1e8):
        A = sv.randsvd(30, kappa, np.random.default_rng(6), mode=2)
        sigma = np.linalg.svd(A, compute_uv=False)
        np.testing.assert_allclose(sigma[:-1], 1.0, rtol=1e-12)
        assert sigma[-1] == pytest.approx(1 / kappa, rel=1e-6)
        sigma = np.linalg.svd(sv.randsvd(30, kappa, np.random.default_rng(6), mode=3),
                              compute_uv=False)
        np.testing.assert_allclose(sigma, kappa ** (-np.arange(30) / 29), rtol=1e-6)
    assert np.array_equal(sv.randsvd(8, 10.0, np.random.default_rng(1)),
                          sv.randsvd(8, 10.0, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="mode"):
        sv.randsvd(8, 10.0, rng, mode=1)


def fraction_solve(A, b):
    """Gaussian elimination in exact rational arithmetic."""
    n = len(b)
    M = [[Fraction(float(v)) for v in row] + [Fraction(float(bi))] for row, bi in zip(A, b)]
    for k in range(n):
        p = next(i for i in range(k, n) if M[i][k] != 0)
        M[k], M[p] = M[p], M[k]
        for i in range(k + 1, n):
            f = M[i][k] / M[k][k]
            M[i] = [a - f * c for a, c in zip(M[i], M[k])]
    x = [Fraction(0)] * n
    for k in range(n - 1, -1, -1):
        x[k] = (M[k][n] - sum(M[k][j] * x[j] for j in range(k + 1, n))) / M[k][k]
    return x


def test_exact_solution_is_binary64_accurate_for_kappa_1e8():
    """exact_solution (the x* of the refinement criterion) against an exact rational
    solve: within a few units of 2^-53 although kappa = 1e8 (LAPACK alone: ~1e-9)."""
    A = sv.randsvd(8, 1e8, np.random.default_rng(7)).astype(np.float32)
    b = np.random.default_rng(8).standard_normal(8).astype(np.float32)
    exact = fraction_solve(A, b)
    x = sv.exact_solution(A, b)
    scale = max(abs(v) for v in exact)
    err = max(abs(Fraction(float(xi)) - e) for xi, e in zip(x, exact)) / scale
    assert err < 4 * 2.0**-53


def test_lu_refinement_steps_and_criterion():
    """With binary32 factors (the classical single / single / double refinement)
    kappa = 1e6 converges in a few steps; the stopping rule is the documented one:
    max(ferr, nbe, cbe) <= 2^-23 at the last iterate and not before."""
    rng = np.random.default_rng(9)
    A = sv.randsvd(40, 1e6, rng).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    x_exact = sv.exact_solution(A, b)
    out = sv.lu_refinement(A, b, sr.Context(sr.binary32, "nearest"), x_exact)
    assert out.converged and 1 <= out.steps <= 4
    errors = np.array([out.forward, out.normwise, out.componentwise]).max(axis=0)
    assert len(errors) == out.steps + 1
    assert errors[-1] <= 2.0**-23 and (errors[:-1] > 2.0**-23).all()
    stuck = sv.lu_refinement(A, b, sr.Context(sr.binary16, "nearest"), x_exact,
                             max_steps=3)
    assert stuck.status in ("not converged", "diverged") and stuck.steps is None
    assert len(stuck.forward) <= 4


def test_lu_refinement_reports_a_zero_pivot():
    A = np.ones((4, 4), np.float32)               # singular: the LU meets a zero pivot
    out = sv.lu_refinement(A, np.ones(4, np.float32), sr.Context(sr.binary16, "nearest"),
                           np.ones(4))
    assert out.status == "zero pivot" and out.forward == [] and not out.converged


# ---------------------------------------------------------------- refinement experiment

@pytest.fixture(scope="module")
def refinement_result():
    return run("refinement", runs=3)


def test_refinement_converges_to_binary32_accuracy_then_fails(refinement_result):
    """Carson & Higham's result with LU factors in binary16: refinement reaches
    binary32 accuracy (forward error <= 2^-23) for small condition numbers (every run,
    RN and SR, at kappa_2 = 10 and 100), RN up to kappa_inf about 1e4, and no run
    converges from kappa_2 = 1e5 (kappa_inf about 1e6) on: kappa u_f >> 1."""
    res = refinement_result
    rows = {(row[1], row[3]): dict(zip(res.columns, row)) for row in res.rows}
    for kappa in (1e1, 1e2):
        for label in ("RN", "SR"):
            row = rows[(kappa, label)]
            assert row["converged"] == f"{row['runs']}/{row['runs']}", (kappa, label)
            assert row["final ferr"] <= 2.0**-23 and 1 <= row["steps"] <= 10
    converged_inf = [row["kappa_inf"] for (kappa, label), row in rows.items()
                     if label == "RN" and row["converged"] == "1/1"]
    assert 1e3 < max(converged_inf) < 1e5
    for kappa in (1e5, 1e6, 1e7, 1e8):
        for label in ("RN", "SR"):
            assert rows[(kappa, label)]["converged"].startswith("0/"), (kappa, label)
    assert rows[(1e8, "RN")]["final ferr"] > 1e-3          # not even close
    assert "binary16, RN: every run converges up to kappa_2 = 1e+0" in " ".join(res.notes)


def test_refinement_data(refinement_result):
    data = refinement_result.data
    assert data["tolerance"] == 2.0**-23 and data["max_steps"] == 10
    entries = data["results"]["binary16"]
    assert [e["kappa_2"] for e in entries] == [10.0**k for k in range(1, 9)]
    for e in entries:
        assert len(e["SR"]) == 3 and e["RN"]["status"] in (
            "converged", "not converged", "diverged", "zero pivot", "LU overflow")
        assert e["kappa_inf"] >= e["kappa_2"] / 10


def test_refinement_bfloat16_factors():
    """The bfloat16 option: u_f = 2^-8, so refinement converges only for the best
    conditioned matrices."""
    res = run("refinement", runs=1, formats=("bfloat16",))
    rows = {(row[1], row[3]): row for row in res.rows}
    assert rows[(1e1, "RN")][5] == "1/1" and rows[(1e1, "RN")][7] <= 2.0**-23
    for kappa in (1e4, 1e8):
        assert rows[(kappa, "RN")][5] == "0/1"


@pytest.mark.parametrize("name, size", [("solvers", 16), ("refinement", 6)])
def test_rounding_nearest_runs_rn_alone(name, size, tmp_path):
    """--rounding nearest compares RN with itself: one RN row per case, no runs, and
    the figure still draws from the JSON."""
    from srround import experiments
    res = run(name, n=size, runs=2, rounding="nearest")
    labels = {row[2] if name == "solvers" else row[3] for row in res.rows}
    assert "SR" not in labels and "RN" in labels
    experiments.write_json(res.data, tmp_path / "r.json")
    pytest.importorskip("matplotlib")
    assert experiments.write_plot(experiments.read_json(tmp_path / "r.json"),
                                  tmp_path / "r.png")
