"""ODEs: explicit Euler on exponential decay and on the unit circle, the 1D heat
equation (Croci & Giles) and the Lorenz system, in low precision with RN and SR
(Croci, Fasi, Higham, Mary & Mikaitis, R. Soc. Open Sci. 2022). See
docs/experiments.md."""
import math

import numpy as np

from srround import Context
from srround.experiments.common import (fitted_slope, float_list, floats, format_panels,
                                        powers_of_two_to, rounding_label, saved_float,
                                        seed_for)
from srround.experiments.registry import Result, experiment
from srround.formats import binary64, format as lookup
from srround.ode import reference_solution, solve_ivp


def _ode_modes(s):
    return (("RN", "nearest"), (rounding_label(s.rounding), s.rounding))


def _negate(t, y, ctx):
    return ctx.multiply(-1.0, y)


def plot_decay(fig, data):
    """Error at t = 1 against the number of steps: Euler in exact arithmetic, RN, and
    the stochastic mode's |mean - exact| and standard deviation."""
    runs = data["settings"]["runs"]
    sr_label = rounding_label(data["settings"]["rounding"])
    for ax, name in format_panels(fig, data):
        ser = data["series"][name]
        ns = np.array(ser["n"])
        ax.plot(ns, floats(ser["euler_exact_arithmetic"]), "k--", lw=1,
                label="Euler, exact arithmetic")
        ax.plot(ns, floats(ser["RN"]), "o-", color="tab:red", ms=3, label="RN")
        mean = floats(ser[f"{sr_label} mean error"])
        std = floats(ser[f"{sr_label} std"])
        ax.plot(ns, mean, "s-", color="tab:blue", ms=3,
                label=f"{sr_label}: |mean - exact| ({runs} runs)")
        ax.plot(ns, std, ":", color="tab:blue", label=f"{sr_label}: std of y_n")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of steps n (h = 1/n)")
        ax.set_ylabel("error at t = 1")
        ax.set_title(f"y' = -y, y(0) = 2^-6, Euler in {name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)


@experiment("decay", "Euler on y' = -y, y(0) = 2^-6: RN stops moving once h*y is below "
            "half an ulp, SR follows the exact solution", n=2**14, runs=30,
            formats=("binary16", "bfloat16"), min_n=2, plot=plot_decay)
def decay(s):
    """Explicit Euler y <- fl(y + fl(h * fl(-y))), t in [0, 1], n steps of h = 1/n
    (n a power of two, so h is exact); error |y_n - e^-1 2^-6| against n."""
    y0, exact = 2.0**-6, math.exp(-1.0) * 2.0**-6
    sizes = powers_of_two_to(s.n, smallest=4)
    modes = _ode_modes(s)
    total, done = len(s.formats) * len(sizes), 0
    rows, series, slopes, stagnation = [], {}, {}, {}
    for fi, fmt in enumerate(s.formats):
        ser = {"n": sizes, "euler_exact_arithmetic": [], "RN": [], "RN stuck": [],
               f"{modes[1][0]} mean error": [], f"{modes[1][0]} std": []}
        for n in sizes:
            euler = y0 * (1 - 1.0 / n) ** n          # Euler in exact arithmetic (to 1e-16)
            rn = solve_ivp(_negate, (0.0, 1.0), y0, Context(fmt, "nearest"),
                           n_steps=n, save_every=None).y[-1]
            ctx = Context(fmt, modes[1][1], rng=seed_for(s, 20, fi, n))
            ends = solve_ivp(_negate, (0.0, 1.0), y0, ctx, n_steps=n, n_runs=s.runs,
                             save_every=None).y[:, -1]
            mean, std = float(ends.mean()), float(ends.std(ddof=1)) if s.runs > 1 else 0.0
            row = [fmt.label, n, abs(euler - exact), abs(rn - exact), bool(rn == y0),
                   abs(mean - exact), std]
            rows.append(row)
            for key, v in zip(list(ser)[1:], row[2:]):
                ser[key].append(v)
            done += 1
            s.progress(done / total)
        stuck = [n for n, st in zip(sizes, ser["RN stuck"]) if st]
        stagnation[fmt.label] = min(stuck) if stuck else None
        series[fmt.label] = ser
        slopes[fmt.label] = {lab: fitted_slope(sizes, ser[lab])
                             for lab in ("RN", f"{modes[1][0]} mean error")}
    sr_label = modes[1][0]
    columns = ["format", "n", "exact Euler err", "RN err", "RN stuck", f"{sr_label} mean err",
               f"{sr_label} std"]
    specs = ["s", "d", ".2e", ".2e", "", ".2e", ".2e"]
    notes = [f"error |y_n - exp(-1)/64| at t = 1; {sr_label}: mean of {s.runs} runs; "
             "'RN stuck': y never leaves y(0) = 2^-6"]
    for name, first in stagnation.items():
        notes.append(f"RN in {name}: y stays exactly 2^-6 from n = {first} steps on"
                     if first else f"RN in {name}: still moving at n = {s.n}")
    notes.append("fitted log-log slopes of error against n: " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in sl.items())
        for name, sl in slopes.items()))

    return Result("decay", "Explicit Euler on y' = -y, y(0) = 2^-6, t in [0, 1]: error "
                  "against the number of steps", columns, specs, rows, notes,
                  {"exact": exact, "series": series, "slopes": slopes,
                   "rn_stagnation_from_n": stagnation})


def _oscillator(t, y, ctx):
    return np.stack([y[..., 1], np.negative(y[..., 0])], axis=-1)   # negation is exact


def plot_circle(fig, data):
    """The (u, v) paths of the largest n: exact circle, RN, a few stochastic runs."""
    sr_label = rounding_label(data["settings"]["rounding"])
    theta = np.linspace(0, 2 * math.pi, 400)
    for ax, name in format_panels(fig, data):
        p = data["paths"][name]
        ax.plot(np.cos(theta), np.sin(theta), "k--", lw=1, label="exact solution")
        rn = floats(p["RN"])
        ax.plot(rn[0], rn[1], color="tab:red", lw=1.2, label="RN")
        for j, tr in enumerate(p[sr_label]):
            tr = floats(tr)
            ax.plot(tr[0], tr[1], color="tab:blue", lw=0.8, alpha=0.7,
                    label=f"{sr_label} ({len(p[sr_label])} runs)" if j == 0 else None)
        ax.set_aspect("equal")
        ax.set_xlabel("u")
        ax.set_ylabel("v")
        ax.set_title(f"Euler, n = {p['n']} steps over [0, 2 pi], {name}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")


@experiment("circle", "Euler on the unit circle u' = v, v' = -u: final radius, RN vs SR, "
            "against Euler in exact arithmetic", n=2**12, runs=30,
            formats=("binary16", "bfloat16"), min_n=8, plot=plot_circle)
def circle(s):
    """u' = v, v' = -u, (u, v)(0) = (1, 0), t in [0, 2 pi], n steps. Explicit Euler
    multiplies the radius by sqrt(1 + h^2) each step (h the rounded step): exactly
    (1 + h^2)^(n/2) at the end, in exact arithmetic."""
    T = 2 * math.pi
    sizes = powers_of_two_to(s.n, smallest=32)
    modes = _ode_modes(s)
    sr_label = modes[1][0]
    total, done = len(s.formats) * len(sizes), 0
    rows, series, paths = [], {}, {}
    shown = min(s.runs, 3)
    for fi, fmt in enumerate(s.formats):
        ser = {"n": sizes, "exact Euler": [], "RN": [], f"{sr_label} mean": [],
               f"{sr_label} std": []}
        for n in sizes:
            last = n == sizes[-1]
            every = max(1, n // 256) if last else None
            rn = solve_ivp(_oscillator, (0.0, T), [1.0, 0.0], Context(fmt, "nearest"),
                           n_steps=n, save_every=every)
            ctx = Context(fmt, modes[1][1], rng=seed_for(s, 21, fi, n))
            st = solve_ivp(_oscillator, (0.0, T), [1.0, 0.0], ctx, n_steps=n,
                           n_runs=s.runs, save_every=every)
            radii = np.hypot(st.y[:, 0, -1], st.y[:, 1, -1])
            exact_euler = (1 + rn.h**2) ** (n / 2)
            row = [fmt.label, n, exact_euler, float(np.hypot(*rn.y[:, -1])),
                   float(radii.mean()), float(radii.std(ddof=1)) if s.runs > 1 else 0.0]
            rows.append(row)
            for key, v in zip(list(ser)[1:], row[2:]):
                ser[key].append(v)
            if last:
                paths[fmt.label] = {"n": n, "RN": rn.y.tolist(),
                                    sr_label: st.y[:shown].tolist()}
            done += 1
            s.progress(done / total)
        series[fmt.label] = ser
    columns = ["format", "n", "exact Euler r", "RN r", f"{sr_label} mean r", f"{sr_label} std"]
    specs = ["s", "d", ".5f", ".5f", ".5f", ".5f"]
    notes = [f"radius sqrt(u^2 + v^2) at t = 2 pi (exact solution: 1); {sr_label}: mean "
             f"of {s.runs} runs. Euler in exact arithmetic spirals out as (1 + h^2)^(n/2); "
             "RN's updates h*v, h*u fall below half an ulp near the axes, so it drifts off "
             "that value; SR keeps it on average"]

    return Result("circle", "Explicit Euler on the unit circle: radius after one period",
                  columns, specs, rows, notes, {"series": series, "paths": paths})


def _heat_fun(inv_dx2):
    def laplacian(t, u, ctx):
        """fl(fl(fl(u[i-1] + u[i+1]) - 2 u[i]) / dx^2), zero boundary values; 2 u and
        the scaling by 1/dx^2 (a power of two) are exact."""
        pad = np.zeros(u.shape[:-1] + (u.shape[-1] + 2,))
        pad[..., 1:-1] = u
        return ctx.multiply(inv_dx2, ctx.subtract(ctx.add(pad[..., :-2], pad[..., 2:]),
                                                  2.0 * u))
    return laplacian


def _unit_roundoff(label):
    """The unit roundoff of a saved format label that sr.format knows (the presets
    and their aliases); None for other formats."""
    try:
        return lookup(label).unit_roundoff
    except ValueError:
        return None


def plot_heat(fig, data):
    """Rounding error against dt, RN and the stochastic mode's mean, with lines
    proportional to u / dt and u / dt^(1/4) (drawn for the formats sr.format knows)."""
    sr_label = rounding_label(data["settings"]["rounding"])
    for ax, name in format_panels(fig, data):
        ser = data["series"][name]
        slopes = data["slopes"][name]
        dts = floats(ser["dt"])
        ax.plot(dts, floats(ser["RN"]), "o-", color="tab:red", ms=3,
                label=f"RN (slope {saved_float(slopes['RN']):.2f})")
        ax.plot(dts, floats(ser[f"{sr_label} mean"]), "s-", color="tab:blue", ms=3,
                label=f"{sr_label} mean (slope "
                      f"{saved_float(slopes[f'{sr_label} mean']):.2f})")
        u = _unit_roundoff(name)
        if u is not None:
            ax.plot(dts, u * dts[0] / dts * 0.1, "k--", lw=1, label="~ u / dt")
            ax.plot(dts, u * (dts[0] / dts) ** 0.25, "k:", lw=1.2, label="~ u / dt^(1/4)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("dt")
        ax.set_ylabel("rounding error (max norm) at T")
        ax.set_title(f"heat equation, dx = 1/16, {name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)


@experiment("heat", "1D heat equation, explicit finite differences (Croci & Giles): "
            "rounding error against dt, RN vs SR, fitted slopes", n=2**13, runs=10,
            formats=("binary16", "bfloat16"), min_n=2, plot=plot_heat)
def heat(s):
    """u_t = u_xx on [0, 1], u = 0 at both ends, u(0, x) = sin(pi x); 15 interior points
    (dx = 1/16), Euler in time to T = 1/16 with dt = 2^-9 (dt/dx^2 = 1/2) down to T/n.
    The error is the rounding error alone: max_i |u_i - v_i| at T, with v the same
    scheme in exact arithmetic (computed from the eigenvectors of the difference matrix)."""
    m, T = 15, 2.0**-4
    dx = 1.0 / (m + 1)
    x = dx * np.arange(1, m + 1)
    u0 = np.sin(math.pi * x)
    fun = _heat_fun(1.0 / dx**2)
    j = np.arange(1, m + 1)
    V = math.sqrt(2 * dx) * np.sin(math.pi * np.outer(x, j))            # orthonormal
    lam = -4.0 / dx**2 * np.sin(math.pi * j * dx / 2) ** 2
    steps = [n for n in powers_of_two_to(s.n, smallest=32) if n >= T / (dx**2 / 2)]
    modes = _ode_modes(s)
    sr_label = modes[1][0]
    total, done = len(s.formats) * len(steps), 0
    rows, series, slopes = [], {}, {}
    for fi, fmt in enumerate(s.formats):
        start = np.asarray(Context(fmt, "nearest").round(u0))
        ser = {"n": steps, "dt": [T / n for n in steps], "RN": [], f"{sr_label} mean": [],
               f"{sr_label} std": []}
        for n in steps:
            dt = T / n
            exact_scheme = V @ ((1 + dt * lam) ** n * (V.T @ start))
            rn = solve_ivp(fun, (0.0, T), u0, Context(fmt, "nearest"), n_steps=n,
                           save_every=None).y[:, -1]
            ctx = Context(fmt, modes[1][1], rng=seed_for(s, 22, fi, n))
            st = solve_ivp(fun, (0.0, T), u0, ctx, n_steps=n, n_runs=s.runs,
                           save_every=None).y[..., -1]
            errs = np.abs(st - exact_scheme).max(axis=-1)
            row = [fmt.label, n, dt, float(np.abs(rn - exact_scheme).max()),
                   float(errs.mean()), float(errs.std(ddof=1)) if s.runs > 1 else 0.0]
            rows.append(row)
            for key, v in zip(list(ser)[2:], row[3:]):
                ser[key].append(v)
            done += 1
            s.progress(done / total)
        series[fmt.label] = ser
        slopes[fmt.label] = {lab: fitted_slope(ser["dt"], ser[lab])
                             for lab in ("RN", f"{sr_label} mean")}
    columns = ["format", "steps", "dt", "RN error", f"{sr_label} mean error", f"{sr_label} std"]
    specs = ["s", "d", ".2e", ".2e", ".2e", ".2e"]
    notes = [f"rounding error max_i |u_i - v_i| at T = {T} (v: the scheme in exact "
             f"arithmetic); {sr_label}: mean over {s.runs} runs",
             "fitted log-log slopes of error against dt (Croci & Giles: RN -1, SR -1/4 in 1D):"]
    for name, sl in slopes.items():
        notes.append(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in sl.items()))

    return Result("heat", "1D heat equation, explicit Euler in time: rounding error against "
                  "dt", columns, specs, rows, notes, {"series": series, "slopes": slopes})


def _lorenz(sigma, rho, beta):
    def fun(t, s, ctx):
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        mul, sub = ctx.multiply, ctx.subtract
        return np.stack([mul(sigma, sub(y, x)), sub(mul(x, sub(rho, z)), y),
                         sub(mul(x, y), mul(beta, z))], axis=-1)
    return fun


def _lorenz_reference(beta, T, t_eval):
    """SciPy's DOP853 in binary64 (rtol 1e-12, atol 1e-14); without SciPy, RK4 in
    binary64 with a step 64 times smaller (within 1e-7 of DOP853 at t = 20)."""
    try:
        return reference_solution(
            lambda t, v: [10.0 * (v[1] - v[0]), v[0] * (28.0 - v[2]) - v[1],
                          v[0] * v[1] - beta * v[2]], (0.0, T), [1.0, 1.0, 1.0], t_eval)
    except ImportError:
        fine = 64
        res = solve_ivp(_lorenz(10.0, 28.0, beta), (0.0, T), [1.0, 1.0, 1.0],
                        Context(binary64, "nearest"), method="rk4",
                        n_steps=fine * (len(t_eval) - 1), save_every=fine)
        return res.y


def plot_lorenz(fig, data):
    """x(t): the binary64 reference, RN and up to three stochastic runs."""
    sr_label = rounding_label(data["settings"]["rounding"])
    for ax, name in format_panels(fig, data):
        c = data["curves"][name]
        t = floats(c["t"])
        ax.plot(t, floats(c["reference x"]), "k", lw=1.2, label="reference (binary64)")
        ax.plot(t, floats(c["RN"][0]), color="tab:red", lw=0.9, label="RN")
        for j, xs in enumerate(c[sr_label]):
            ax.plot(t, floats(xs), color="tab:blue", lw=0.7, alpha=0.6,
                    label=f"{sr_label} (3 runs)" if j == 0 else None)
        ax.set_xlabel("t")
        ax.set_ylabel("x(t)")
        ax.set_title(f"Lorenz, RK4 in {name}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")


@experiment("lorenz", "Lorenz system with RK4 in several formats: time until the solution "
            "leaves the binary64 reference, RN vs SR", n=2560, runs=10,
            formats=("binary16", "bfloat16", "binary32"), min_n=16, plot=plot_lorenz)
def lorenz(s):
    """x' = 10 (y - x), y' = x (28 - z) - y, z' = x y - beta z (beta = 8/3 rounded to
    the format, the same beta in the reference), (1, 1, 1) at t = 0; RK4 with
    h = 2^-7 for n steps. Reference: SciPy DOP853 with rtol 1e-12, atol 1e-14. A run
    has diverged when |state - reference| > 1 (the attractor is about 40 wide)."""
    h = 2.0**-7
    T = s.n * h
    modes = _ode_modes(s)
    fmts = list(s.formats)
    total, done = len(fmts) * 2, 0
    rows, curves, results = [], {}, {}
    for fi, fmt in enumerate(fmts):
        beta = float(Context(fmt, "nearest").round(8.0 / 3.0))
        fun = _lorenz(10.0, 28.0, beta)
        ref = None
        curves[fmt.label] = {}
        results[fmt.label] = {}
        for mi, (label, mode) in enumerate(modes):
            ctx = Context(fmt, mode, rng=seed_for(s, 23, fi, mi))
            runs = s.runs if ctx.stochastic else None
            res = solve_ivp(fun, (0.0, T), [1.0, 1.0, 1.0], ctx, method="rk4",
                            n_steps=s.n, n_runs=runs)
            if ref is None:
                ref = _lorenz_reference(beta, T, res.t)
                curves[fmt.label]["t"] = float_list(res.t[::4])
                curves[fmt.label]["reference x"] = float_list(ref[0, ::4])
            Y = res.y if runs else res.y[None]
            dist = np.sqrt(((Y - ref) ** 2).sum(axis=1))          # (runs, n_saved)
            off = dist > 1.0
            t_div = np.where(off.any(axis=1), res.t[np.argmax(off, axis=1)], np.inf)
            z_mean = Y[:, 2, res.t >= T / 2].mean(axis=1)
            finite = np.isfinite(t_div)
            rows.append([fmt.label, label, len(Y), float(np.mean(t_div[finite]))
                         if finite.any() else math.inf, int((~finite).sum()),
                         float(z_mean.mean()), float(ref[2, res.t >= T / 2].mean())])
            results[fmt.label][label] = {"divergence_times": float_list(t_div),
                                         "z_mean": float_list(z_mean)}
            curves[fmt.label][label] = [float_list(y[0, ::4]) for y in Y[:3]]
            done += 1
            s.progress(done / total)
    columns = ["format", "rounding", "runs", "mean t diverged", "never diverged",
               "mean z (2nd half)", "reference mean z"]
    specs = ["s", "s", "d", ".2f", "d", ".3f", ".3f"]
    notes = [f"RK4, h = 2^-7, t in [0, {T:g}]; diverged: first t with |state - reference| "
             "> 1 (chaos amplifies each rounding error by about e^(0.9 t)); mean z over "
             "the second half measures whether the attractor itself is right"]

    return Result("lorenz", "Lorenz system, RK4 with h = 2^-7: how long each format "
                  "follows the reference", columns, specs, rows, notes,
                  {"results": results, "curves": curves})
