"""Solvers in low precision: textbook NumPy solvers run unchanged through
``sr.emulated`` (conjugate gradient on the 2-D Poisson matrix, Jacobi on a diagonally
dominant system), and LU-based iterative refinement in three precisions with LU
factors from ``sr.linalg`` (Carson & Higham, SISC 2018). See docs/experiments.md.

``poisson_2d``, ``conjugate_gradient`` and ``jacobi`` are ordinary NumPy functions:
nothing in them knows about srround. ``sr.emulated(ctx)(conjugate_gradient)`` runs one
in ctx's format with every operation rounded (products and sums inside ``@`` and
``np.vdot`` too); called with float64 arrays they compute in binary64.
"""
import math
import warnings

import numpy as np
from numpy.linalg import LinAlgError

from srround import Context, emulated, linalg
from srround.experiments.common import (exact_column_dots, float_list, floats,
                                        rounding_label, saved_float, seed_for)
from srround.experiments.registry import Result, experiment

__all__ = ["poisson_2d", "conjugate_gradient", "jacobi", "poisson_2d_solution",
           "random_orthogonal", "randsvd", "exact_solution", "RefinementRun",
           "lu_refinement"]


# ---------------------------------------------------------------- the plain solvers

def poisson_2d(u):
    """The 2-D Poisson matrix applied to grid values u[..., i, j] (m x m grids, zero
    Dirichlet boundary values): the 5-point Laplacian, unscaled,

        (A u)_ij = 4 u_ij - u_(i-1)j - u_(i+1)j - u_i(j-1) - u_i(j+1),

    neighbours outside the grid taken as 0. A = kron(I, T) + kron(T, I), T =
    tridiag(-1, 2, -1), applied without forming it: one product and four
    subtractions per point, in the order written."""
    v = 4 * u
    v[..., 1:, :] -= u[..., :-1, :]
    v[..., :-1, :] -= u[..., 1:, :]
    v[..., :, 1:] -= u[..., :, :-1]
    v[..., :, :-1] -= u[..., :, 1:]
    return v


def conjugate_gradient(apply_A, b, iterations):
    """Conjugate gradient for A x = b, A symmetric positive definite, from x_0 = 0
    (Hestenes & Stiefel 1952; Saad, Iterative Methods for Sparse Linear Systems, 2nd
    ed., Alg. 6.18), A given as the function apply_A(p) = A p:

        r = b;  p = r;  rr = r.r
        repeat:  alpha = rr / p.(A p);  x = x + alpha p;  r = r - alpha A p
                 rr_new = r.r;  p = r + (rr_new / rr) p;  rr = rr_new

    Returns the iterates x_0, ..., x_k stacked (k = iterations, or fewer when r.r
    became 0 or not finite: the exact solution, or underflow / overflow in a low
    precision)."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = np.vdot(r, r)
    iterates = [x]
    for _ in range(iterations):
        if rr == 0 or not np.isfinite(rr):
            break
        Ap = apply_A(p)
        alpha = rr / np.vdot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = np.vdot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
        iterates.append(x)
    return np.stack(iterates)


def jacobi(A, b, iterations):
    """Jacobi iteration x_(k+1) = D^-1 (b - (A - D) x_k) from x_0 = 0, D the diagonal
    of A (Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., sec. 4.1).
    Returns the iterates x_0, ..., x_iterations stacked."""
    d = np.diag(A)
    off_diagonal = A - np.diag(d)
    x = np.zeros_like(b)
    iterates = [x]
    for _ in range(iterations):
        x = (b - off_diagonal @ x) / d
        iterates.append(x)
    return np.stack(iterates)


def poisson_2d_solution(b):
    """The solution of poisson_2d(x) = b in binary64, from the eigenvectors of
    T = tridiag(-1, 2, -1): V_jk = sqrt(2 / (m + 1)) sin(j k pi / (m + 1)) (symmetric,
    orthogonal), eigenvalues 2 - 2 cos(k pi / (m + 1)), so x = V ((V b V) / (l_i + l_j)) V."""
    m = b.shape[-1]
    k = np.arange(1, m + 1)
    V = math.sqrt(2.0 / (m + 1)) * np.sin(np.outer(k, k) * math.pi / (m + 1))
    lam = 2.0 - 2.0 * np.cos(k * math.pi / (m + 1))
    return V @ ((V @ b @ V) / (lam[:, None] + lam[None, :])) @ V


# ---------------------------------------------------------------- solvers experiment

def _relative_norms(vectors, reference):
    """||v - reference|| / ||reference|| (2-norms) of each v along the first axis."""
    diff = (vectors - reference).reshape(len(vectors), -1)
    return np.linalg.norm(diff, axis=1) / np.linalg.norm(reference)


class _System:
    """One test problem in one format: the data rounded to nearest into the format
    (what the emulated solver sees: A is the matrix, or for CG the function applying
    it), its binary64 solution, and how to measure the relative residual
    ||b - A x|| / ||b|| and error ||x - x*|| / ||x*|| of iterates."""

    def __init__(self, solver, apply_A, A, b, exact):
        self.solver, self.apply_A, self.A, self.b, self.exact = solver, apply_A, A, b, exact

    def run(self, ctx, iterations):
        """The solver's iterates: in binary64 (ctx None) or emulated in ctx."""
        solver = self.solver if ctx is None else emulated(ctx)(self.solver)
        with np.errstate(all="ignore"):      # breakdowns are measured, not warned about
            return np.asarray(solver(self.A, self.b, iterations), np.float64)

    def measure(self, X):
        with np.errstate(all="ignore"):
            residuals = _relative_norms(self.apply_A(X), self.b)
            return residuals, _relative_norms(X, self.exact)


def _poisson_system(m, fmt):
    b = np.asarray(Context(fmt, "nearest").round(np.ones((m, m))), np.float64)
    return _System(conjugate_gradient, poisson_2d, poisson_2d, b, poisson_2d_solution(b))


def _jacobi_system(A, b, fmt):
    rn = Context(fmt, "nearest")
    A_f = np.asarray(rn.round(A), np.float64)
    b_f = np.asarray(rn.round(b), np.float64)
    try:                                   # data that overflow the format: no x*
        exact = np.linalg.solve(A_f, b_f) if np.isfinite(A_f).all() else None
    except LinAlgError:
        exact = None
    return _System(jacobi, lambda X: X @ A_f.T, A_f, b_f,
                   np.full_like(b, np.nan) if exact is None else exact)


def _finite_min(values):
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else math.nan


def _mean(values):
    values = np.asarray(values, float)
    return float(values.mean()) if values.size and np.isfinite(values).all() else math.nan


def _last_change(X):
    """The last iteration at which the iterate changed (len(X) - 1 if it still did)."""
    changed = [k for k in range(1, len(X)) if not np.array_equal(X[k], X[k - 1])]
    return changed[-1] if changed else 0


SOLVER_LABELS = {"cg": "CG, 2-D Poisson", "jacobi": "Jacobi, rand(n) + n I"}


def plot_solvers(fig, data):
    """Relative residual (solid) and error (dashed) against the iteration, one row
    per solver and one column per format: binary64 (cut off below the format's
    levels), RN, and the stochastic runs' geometric mean with their range shaded;
    grey: the residual and error of x* rounded to nearest."""
    names = data["settings"]["formats"]
    sr_label = rounding_label(data["settings"]["rounding"])
    axes = fig.subplots(len(SOLVER_LABELS), len(names), squeeze=False)
    for row, (key, label) in enumerate(SOLVER_LABELS.items()):
        for ax, name in zip(axes[row], names):
            c = data["curves"][key][name]
            for metric, style in (("residual", "-"), ("error", "--")):
                curves = c[metric]
                ax.plot(floats(curves["binary64"]), style, color="black", lw=1,
                        label=f"binary64 {metric}")
                ax.plot(floats(curves["RN"]), style, color="tab:red", lw=1.4,
                        label=f"RN {metric}")
                if sr_label == "RN":          # run with rounding="nearest": no runs
                    continue
                runs = [floats(r) for r in curves[sr_label]]
                length = max(len(r) for r in runs)
                table = np.full((len(runs), length), np.nan)
                for i, r in enumerate(runs):
                    table[i, :len(r)] = r
                with warnings.catch_warnings():      # all-nan columns: runs that stopped
                    warnings.simplefilter("ignore", RuntimeWarning)
                    logs = np.log(np.where(table > 0, table, np.nan))
                    middle = np.exp(np.nanmean(logs, axis=0))
                    low, high = np.nanmin(table, axis=0), np.nanmax(table, axis=0)
                steps = np.arange(length)
                ax.plot(steps, middle, style, color="tab:blue", lw=1.4,
                        label=f"{sr_label} {metric} ({len(runs)} runs)")
                ax.fill_between(steps, low, high, color="tab:blue", alpha=0.15, lw=0)
                ax.axhline(saved_float(c["rounded_solution"][metric]), color="gray",
                           ls=":" if metric == "residual" else "-.", lw=1.1,
                           label=f"x* rounded: {metric}")
            ax.set_yscale("log")
            # binary64 goes on to 1e-15; keep the low-precision levels readable
            floor = min(saved_float(v) for v in c["rounded_solution"].values())
            if math.isfinite(floor) and floor > 0:
                ax.set_ylim(bottom=floor / 30)
            ax.set_xlabel("iteration k")
            ax.set_ylabel("relative residual (-), error (--)")
            ax.set_title(f"{label}, {name}")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7, ncol=2, loc="lower left")


@experiment("solvers", "textbook NumPy CG (2-D Poisson) and Jacobi (rand(n) + n I) run "
            "unchanged through sr.emulated: residual and error per iteration, RN vs SR "
            "vs binary64", n=512, runs=5, formats=("bfloat16", "binary16"), min_n=8,
            rows=2, plot=plot_solvers)
def solvers(s):
    """Two plain NumPy solvers (this module's conjugate_gradient and jacobi), run in
    binary64 and through sr.emulated in each format with RN and the stochastic mode:

    * CG on the 2-D Poisson matrix (poisson_2d) on an m x m grid, m = isqrt(n / 2),
      b = 1 (the unit source), 4 m iterations;
    * Jacobi on A = rand(n) + n I (entries uniform on [0, 1), strictly diagonally
      dominant, iteration matrix norm about 1/2), b = A x_true with x_true uniform on
      [0, 1), 30 iterations.

    The data are first rounded to nearest into the format, so the emulated solvers
    (sr.emulated enters arrays with ctx.round, which keeps values of the format) and
    the measurements see one system: residual ||b - A x_k|| / ||b|| and error
    ||x_k - x*|| / ||x*|| (2-norms, binary64), x* its binary64 solution."""
    m = max(2, math.isqrt(s.n // 2))
    sr_label = rounding_label(s.rounding)
    compared = s.rounding != "nearest"      # rounding="nearest": RN alone, no runs
    labels = ["binary64", "RN"] + ([sr_label] if compared else [])
    iterations = {"cg": 4 * m, "jacobi": 30}
    rng = np.random.default_rng(seed_for(s, 40))
    A = rng.uniform(0.0, 1.0, (s.n, s.n)) + s.n * np.eye(s.n)
    b = A @ rng.uniform(0.0, 1.0, s.n)
    total, done = 2 * len(s.formats) * (2 + (s.runs if compared else 0)), 0
    rows, curves, frozen = [], {key: {} for key in SOLVER_LABELS}, {}
    for si, key in enumerate(SOLVER_LABELS):
        for fi, fmt in enumerate(s.formats):
            system = _poisson_system(m, fmt) if key == "cg" else _jacobi_system(A, b, fmt)
            steps = iterations[key]
            rounded = np.asarray(Context(fmt, "nearest").round(system.exact), np.float64)
            floor_res, floor_err = (float(v[0]) for v in system.measure(rounded[None]))
            c = {"residual": {}, "error": {},
                 "rounded_solution": {"residual": floor_res, "error": floor_err}}
            runs = [("binary64", None), ("RN", Context(fmt, "nearest"))]
            runs += [(sr_label, Context(fmt, s.rounding, rng=seed_for(s, 41, si, fi, r)))
                     for r in range(s.runs if compared else 0)]
            finals = {}
            for label, ctx in runs:
                X = system.run(ctx, steps)
                residual, error = system.measure(X)
                if label == sr_label:
                    c["residual"].setdefault(label, []).append(float_list(residual))
                    c["error"].setdefault(label, []).append(float_list(error))
                else:
                    c["residual"][label] = float_list(residual)
                    c["error"][label] = float_list(error)
                if label == "RN":
                    frozen.setdefault(key, {})[fmt.label] = {
                        "last_change": _last_change(X), "iterates": len(X) - 1}
                finals.setdefault(label, []).append(
                    [residual[-1], _finite_min(residual), error[-1], _finite_min(error)])
                done += 1
                s.progress(done / total)
            curves[key][fmt.label] = c
            for label in labels:
                values = np.array(finals[label], float)
                rows.append([SOLVER_LABELS[key], fmt.label, label, len(values)]
                            + [_mean(values[:, j]) for j in range(4)])
            rows.append([SOLVER_LABELS[key], fmt.label, "x* rounded (RN)", None,
                         floor_res, None, floor_err, None])

    columns = ["solver", "format", "arithmetic", "runs", "final residual", "min residual",
               "final error", "min error"]
    specs = ["s", "s", "s", "d", ".2e", ".2e", ".2e", ".2e"]
    notes = [f"CG: {m} x {m} grid, {iterations['cg']} iterations; Jacobi: n = {s.n}, "
             f"{iterations['jacobi']} iterations. residual ||b - A x_k|| / ||b||, error "
             "||x_k - x*|| / ||x*|| against the data rounded to nearest into the format; "
             + (f"{sr_label}: mean over {s.runs} runs; " if compared else "")
             + "'x* rounded': the binary64 solution rounded to nearest into the format, "
             "for scale"]
    for key, per_format in frozen.items():
        for fmt_label, f in per_format.items():
            if f["last_change"] < f["iterates"]:
                notes.append(f"RN, {SOLVER_LABELS[key]}, {fmt_label}: the iterate never "
                             f"changes after iteration {f['last_change']} (of "
                             f"{f['iterates']})")
    notes += _solver_headlines(rows, sr_label)
    return Result("solvers", "Textbook NumPy solvers through sr.emulated: relative "
                  "residual and error per iteration", columns, specs, rows, notes,
                  {"grid": m, "iterations": iterations, "curves": curves,
                   "rn_last_change": frozen})


def _solver_headlines(rows, sr_label):
    """Notes: RN's level over the stochastic mode's (mean over runs), final and
    minimum, of the residual and the error, per solver and format."""
    by_key = {(r[0], r[1], r[2]): r for r in rows}
    notes = []
    for (solver, fmt, label), rn in by_key.items():
        other = by_key.get((solver, fmt, sr_label))
        if label != "RN" or other is None or other is rn:
            continue
        parts = []
        for name, j in (("residual", 4), ("error", 6)):
            ratios = [rn[i] / other[i] if other[i] > 0 else math.nan for i in (j, j + 1)]
            parts.append(f"{name} final {ratios[0]:.2g}, min {ratios[1]:.2g}")
        notes.append(f"RN / {sr_label}, {solver}, {fmt}: " + "; ".join(parts))
    return notes


# ---------------------------------------------------------------- refinement

def random_orthogonal(n, rng):
    """A random orthogonal n x n matrix, Haar distributed: Q of the QR factorization of
    a standard normal matrix, its columns' signs fixed by R's diagonal (Mezzadri,
    Notices AMS 54, 2007)."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def randsvd(n, kappa, rng, mode=2):
    """A random n x n matrix U diag(sigma) V^T with 2-norm condition number kappa and
    prescribed singular values, as MATLAB's gallery('randsvd', n, kappa, mode):
    mode 2, one small singular value (sigma = 1, ..., 1, 1/kappa); mode 3,
    geometrically distributed (sigma_i = kappa^(-(i-1)/(n-1))). U and V are random
    orthogonal (random_orthogonal)."""
    if mode == 2:
        sigma = np.ones(n)
        sigma[-1] = 1.0 / kappa
    elif mode == 3:
        sigma = kappa ** (-np.arange(n) / max(n - 1, 1))
    else:
        raise ValueError(f"randsvd: mode must be 2 or 3, got {mode!r}")
    return (random_orthogonal(n, rng) * sigma) @ random_orthogonal(n, rng).T


def _exact_residual(A, x, b):
    """b - A x for binary64 A, x, b, each entry correctly rounded to binary64 (the
    products split exactly, everything summed by math.fsum)."""
    n = len(b)
    X = np.vstack([b[None, :], A.T])
    Y = np.vstack([np.ones((1, n)), -np.broadcast_to(x[:, None], (n, n))])
    return exact_column_dots(X, Y)


def exact_solution(A, b, steps=3):
    """The solution of A x = b (binary64 data) to binary64 accuracy for condition
    numbers up to about 1e15: LAPACK's solve, then `steps` of refinement with residuals
    correctly rounded to binary64 (each step gains about 16 - log10(kappa) digits)."""
    A, b = np.asarray(A, np.float64), np.asarray(b, np.float64)
    x = np.linalg.solve(A, b)
    for _ in range(steps):
        x = x + np.linalg.solve(A, _exact_residual(A, x, b))
    return x


class RefinementRun:
    """What lu_refinement did: status ("converged", "not converged", "diverged",
    "zero pivot", "LU overflow"), steps (refinement steps to converge, else None),
    x0_overflow (the first solve overflowed and x_0 = 0 was used), and per iterate
    x_0, x_1, ... the forward error, normwise and componentwise backward errors."""

    def __init__(self):
        self.status, self.steps, self.x0_overflow = "not converged", None, False
        self.forward, self.normwise, self.componentwise = [], [], []

    @property
    def converged(self):
        return self.status == "converged"


def lu_refinement(A, b, ctx, x_exact, *, max_steps=10, tolerance=2.0**-23):
    """LU-based iterative refinement in three precisions (Carson & Higham, SISC 2018,
    Alg. 1.1): factors in ctx's format, working precision binary32 (A, b and x are
    binary32), residuals in binary64.

        lu, piv = sr.linalg.lu_factor(A, ctx)            every operation rounded in ctx
        x_0 = lu_solve(b) in ctx, stored in binary32     (x_0 = 0 if it overflowed)
        for i = 0, 1, ...:
            stop if max(ferr, nbe, cbe) <= tolerance (converged) or i = max_steps
            r = b - A x_i                               binary64 (NumPy float64)
            d = lu_solve(r / ||r||_inf) in ctx          r / ||r|| rounded to nearest
            x_(i+1) = fl32(x_i + fl32(||r||_inf d))     binary32
            stop if x_(i+1) is not finite (diverged)

    The residual is scaled before the solve so that it neither underflows nor
    overflows the factors' format (as Carson & Higham's code does). Convergence
    criterion (theirs): the forward error ||x - x*||_inf / ||x*||_inf, the normwise
    backward error ||r||_inf / (||A||_inf ||x||_inf + ||b||_inf) and the componentwise
    backward error max_i |r_i| / (|A| |x| + |b|)_i all at most `tolerance` (default
    2^-23, binary32's machine epsilon), x* = x_exact; at most max_steps corrections.
    """
    A32, b32 = np.asarray(A, np.float32), np.asarray(b, np.float32)
    A64, b64 = A32.astype(np.float64), b32.astype(np.float64)
    x_exact = np.asarray(x_exact, np.float64)
    out = RefinementRun()
    try:
        factors = linalg.lu_factor(A32, ctx)
    except LinAlgError:
        out.status = "zero pivot"
        return out
    if not np.isfinite(factors[0]).all():
        out.status = "LU overflow"
        return out
    with np.errstate(all="ignore"):
        x = np.asarray(linalg.lu_solve(factors, b32, ctx), np.float32)
        if not np.isfinite(x).all():
            x, out.x0_overflow = np.zeros_like(b32), True
        for step in range(max_steps + 1):
            x64 = x.astype(np.float64)
            r = b64 - A64 @ x64
            out.forward.append(float(np.abs(x64 - x_exact).max() / np.abs(x_exact).max()))
            out.normwise.append(float(np.abs(r).max() / (np.abs(A64).sum(axis=1).max()
                                                         * np.abs(x64).max()
                                                         + np.abs(b64).max())))
            scale = np.abs(A64) @ np.abs(x64) + np.abs(b64)
            out.componentwise.append(float(np.max(np.abs(r) / np.where(scale > 0, scale,
                                                                      np.inf))))
            if max(out.forward[-1], out.normwise[-1], out.componentwise[-1]) <= tolerance:
                out.status, out.steps = "converged", step
                return out
            if step == max_steps:
                return out
            norm = np.abs(r).max()
            d = np.asarray(linalg.lu_solve(factors, r / norm, ctx), np.float32)
            x = x + np.float32(norm) * d
            if not np.isfinite(x).all():
                out.status = "diverged"
                return out
    return out


KAPPAS = tuple(10.0 ** k for k in range(1, 9))


def _failures(results):
    """The failures among runs, counted: 'zero pivot 1, diverged 2', '' if none."""
    counts = {}
    for r in results:
        if r.status in ("zero pivot", "LU overflow", "diverged"):
            counts[r.status] = counts.get(r.status, 0) + 1
        if r.x0_overflow:
            counts["x0 overflow"] = counts.get("x0 overflow", 0) + 1
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def plot_refinement(fig, data):
    """Top: forward error per refinement step, RN (solid) and the first stochastic run
    (dashed), one colour per condition number. Bottom: the final forward error
    against kappa_2, RN and every stochastic run, with RN's step counts."""
    from matplotlib import colormaps
    names = data["settings"]["formats"]
    sr_label = rounding_label(data["settings"]["rounding"])
    tol = data["tolerance"]
    cmap = colormaps["viridis"]
    axes = fig.subplots(2, len(names), squeeze=False)
    for col, name in enumerate(names):
        top, bottom = axes[0][col], axes[1][col]
        results = data["results"][name]
        kappas = [saved_float(r["kappa_2"]) for r in results]
        for i, r in enumerate(results):
            colour = cmap(i / max(len(results) - 1, 1))
            if r["RN"]["forward"]:
                top.plot(floats(r["RN"]["forward"]), "o-", color=colour, ms=3, lw=1.2,
                         label=f"kappa_2 = {kappas[i]:.0e}")
            sr_runs = [run for run in r.get(sr_label, []) if sr_label != "RN"
                       and run["forward"]]
            if sr_runs:
                top.plot(floats(sr_runs[0]["forward"]), "--", color=colour, lw=0.9)
        top.axhline(tol, color="black", ls=":", lw=1, label="2^-23")
        top.set_yscale("log")
        top.set_xlabel(f"refinement step (solid: RN, dashed: {sr_label})")
        top.set_ylabel("forward error")
        top.set_title(f"LU-IR, LU factors in {name}")
        top.grid(True, which="both", alpha=0.3)
        top.legend(fontsize=7, ncol=2)

        rn_final = [_final(r["RN"]) for r in results]
        bottom.plot(kappas, rn_final, "o-", color="tab:red", label="RN")
        for i, r in enumerate(results):
            if r["RN"]["steps"] is not None:
                bottom.annotate(str(r["RN"]["steps"]), (kappas[i], rn_final[i]),
                                textcoords="offset points", xytext=(4, 4), fontsize=8,
                                color="tab:red")
            if sr_label == "RN":
                continue
            finals = [_final(run) for run in r[sr_label]]
            bottom.plot([kappas[i]] * len(finals), finals, ".", color="tab:blue",
                        alpha=0.6, label=f"{sr_label} runs" if i == 0 else None)
        bottom.axhline(tol, color="black", ls=":", lw=1, label="2^-23")
        bottom.set_xscale("log")
        bottom.set_yscale("log")
        bottom.set_xlabel("kappa_2(A) (randsvd, mode 2)")
        bottom.set_ylabel("final forward error (numbers: RN steps)")
        bottom.set_title(f"final error against the condition number, {name}")
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(fontsize=8)


def _final(run):
    """The last forward error of a saved run (nan when the LU broke down)."""
    values = floats(run["forward"])
    return float(values[-1]) if values.size else math.nan


@experiment("refinement", "LU-based iterative refinement in three precisions (Carson & "
            "Higham 2018): LU in binary16 by sr.linalg, binary32 working, binary64 "
            "residuals; steps and final error against kappa = 1e1 ... 1e8, RN vs SR",
            n=100, runs=5, formats=("binary16",), min_n=2, rows=2, plot=plot_refinement)
def refinement(s):
    """lu_refinement on n x n randsvd matrices (mode 2: one small singular value, as
    Carson & Higham's experiments, MATLAB's gallery('randsvd', n, kappa, 2)) with
    kappa_2 = 1e1, ..., 1e8 and b standard normal, both stored in binary32; the LU
    factors and the correction solves in each format with RN and the stochastic mode.
    Converged: forward, normwise and componentwise backward errors all at most 2^-23
    within 10 refinement steps (see lu_refinement)."""
    sr_label = rounding_label(s.rounding)
    compared = s.rounding != "nearest"      # rounding="nearest": RN alone, no runs
    tolerance, max_steps = 2.0**-23, 10
    total, done = len(s.formats) * len(KAPPAS) * (1 + (s.runs if compared else 0)), 0
    rows, results = [], {}
    for fi, fmt in enumerate(s.formats):
        results[fmt.label] = []
        for ki, kappa in enumerate(KAPPAS):
            rng = np.random.default_rng(seed_for(s, 50, ki))     # same A for every format
            A = randsvd(s.n, kappa, rng).astype(np.float32)
            b = rng.standard_normal(s.n).astype(np.float32)
            x_exact = exact_solution(A, b)
            kappa_inf = float(np.linalg.cond(A.astype(np.float64), np.inf))
            entry = {"kappa_2": kappa, "kappa_inf": kappa_inf}
            modes = [("RN", [Context(fmt, "nearest")])]
            if compared:
                modes.append((sr_label, [Context(fmt, s.rounding,
                                                 rng=seed_for(s, 51, fi, ki, r))
                                         for r in range(s.runs)]))
            for label, contexts in modes:
                runs = []
                for ctx in contexts:
                    runs.append(lu_refinement(A, b, ctx, x_exact, max_steps=max_steps,
                                              tolerance=tolerance))
                    done += 1
                    s.progress(done / total)
                saved = [{"status": r.status, "steps": r.steps, "x0_overflow": r.x0_overflow,
                          "forward": r.forward, "normwise": r.normwise,
                          "componentwise": r.componentwise} for r in runs]
                entry[label] = saved[0] if label == "RN" else saved
                converged = [r for r in runs if r.converged]
                finals = [r.forward[-1] for r in runs if r.forward]
                final_nbe = [r.normwise[-1] for r in runs if r.normwise]
                rows.append([fmt.label, kappa, kappa_inf, label, len(runs),
                             f"{len(converged)}/{len(runs)}",
                             float(np.mean([r.steps for r in converged])) if converged
                             else None,
                             float(np.median(finals)) if finals else None,
                             float(np.median(final_nbe)) if final_nbe else None,
                             _failures(runs)])
            results[fmt.label].append(entry)

    columns = ["format", "kappa_2", "kappa_inf", "rounding", "runs", "converged", "steps",
               "final ferr", "final nbe", "breakdowns"]
    specs = ["s", ".0e", ".1e", "s", "d", "s", ".1f", ".1e", ".1e", "s"]
    notes = [f"n = {s.n}; A, b in binary32, LU factors and correction solves in the "
             "format (sr.linalg.lu_factor / lu_solve), residuals in binary64",
             f"converged: forward error, normwise and componentwise backward errors all "
             f"<= 2^-23 within {max_steps} steps; steps: mean over the converged runs; "
             "final ferr / nbe: median over the runs of the last iterate's forward error "
             "and normwise backward error",
             "breakdowns: zero pivot (LinAlgError in the LU), LU overflow, x0 overflow "
             "(the first solve overflowed: x_0 = 0 used), diverged (an iterate overflowed)"]
    for name, entries in results.items():
        for label in ("RN", sr_label) if compared else ("RN",):
            ok = [e["kappa_2"] for e in entries
                  if (e[label]["status"] == "converged" if label == "RN"
                      else all(r["status"] == "converged" for r in e[label]))]
            largest = max(ok) if ok else None
            notes.append(f"{name}, {label}: " + (
                f"every run converges up to kappa_2 = {largest:.0e}" if largest
                else "no condition number where every run converges"))
    return Result("refinement", "LU-based iterative refinement in three precisions: "
                  "error against kappa", columns, specs, rows, notes,
                  {"tolerance": tolerance, "max_steps": max_steps, "results": results})
