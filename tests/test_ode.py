"""srround.ode: fixed-step solvers with every operation rounded in a Context.

- convergence orders 1, 2, 2, 4 of euler, heun, midpoint, rk4 in binary64 (nearest);
- every operation is one rounded ctx operation (compared step by step with a slow
  reference written with sr.round on Fractions-free float64 arithmetic);
- Croci, Fasi, Higham, Mary & Mikaitis (R. Soc. Open Sci. 2022): Euler on y' = -y,
  y(0) = 2^-6 in binary16 never moves under RN once h y is below half an ulp (checked
  with exact rational arithmetic), and SR's mean follows exact-arithmetic Euler within
  5 standard errors;
- ensembles: reproducible from a seed, independent across runs, one fun call per stage;
- bad input gives clear errors.
"""
import math
import sys
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround import experiments
from srround.ode import ORDERS, reference_solution, solve_ivp


def negate(t, y, ctx):
    return ctx.multiply(-1.0, y)


def gaussian_rhs(t, y, ctx):
    """y' = -2 t y (exact solution exp(-t^2)); non-autonomous, so the stage times matter."""
    return ctx.multiply(ctx.multiply(-2.0, t), y)


def oscillator(t, y, ctx):
    return np.stack([y[..., 1], np.negative(y[..., 0])], axis=-1)


# ---------------------------------------------------------------- convergence orders

@pytest.mark.parametrize("method", ["euler", "heun", "midpoint", "rk4"])
def test_convergence_order_in_binary64(method):
    ctx = sr.Context(sr.binary64, "nearest")
    ns = [16, 32, 64, 128, 256]
    errors = [abs(solve_ivp(gaussian_rhs, (0.0, 1.0), 1.0, ctx, method=method,
                            n_steps=n).y[-1] - math.exp(-1.0)) for n in ns]
    slope = -experiments.fitted_slope(ns, errors)
    assert abs(slope - ORDERS[method]) < 0.2, (method, slope, errors)


@pytest.mark.parametrize("method", ["heun", "rk4"])
def test_convergence_of_a_system_against_scipy_reference(method):
    ctx = sr.Context(sr.binary64, "nearest")
    ref = reference_solution(lambda t, v: [v[1], -v[0]], (0.0, 2.0), [1.0, 0.0], [2.0])
    assert np.allclose(ref[:, 0], [math.cos(2.0), -math.sin(2.0)], atol=1e-12)
    ns = [20, 40, 80, 160]
    errors = [np.abs(solve_ivp(oscillator, (0.0, 2.0), [1.0, 0.0], ctx, method=method,
                               n_steps=n).y[:, -1] - ref[:, 0]).max() for n in ns]
    assert abs(-experiments.fitted_slope(ns, errors) - ORDERS[method]) < 0.2


def test_reference_solution_without_scipy_names_the_extra(monkeypatch):
    """SciPy is not a dependency of srround: without it, the error says how to get it;
    the lorenz experiment falls back to a fine binary64 RK4 reference."""
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.integrate", None)
    with pytest.raises(ImportError, match=r"needs SciPy: pip install 'srround\[ode\]'"):
        reference_solution(lambda t, v: [v[1], -v[0]], (0.0, 2.0), [1.0, 0.0], [2.0])
    lor = experiments.run("lorenz", n=64, runs=2, formats=("binary32",))
    assert lor.rows[0][6] == pytest.approx(lor.rows[0][5], rel=1e-3)   # RN follows it


# ---------------------------------------------------------------- operation by operation

def _reference_step(method, y, h, f, rnd):
    """One step written directly with sr.round after each float64 operation (each
    operation here is exact in float64 for the binary16 values used, or is rounded
    once; binary16 needs 2p + 2 <= 53, so float64-then-round equals one rounding)."""
    h2, h6 = rnd(h / 2), rnd(h / 6)
    if method == "euler":
        return rnd(y + rnd(h * f(y)))
    if method == "heun":
        k1 = f(y)
        k2 = f(rnd(y + rnd(h * k1)))
        return rnd(y + rnd(h2 * rnd(k1 + k2)))
    if method == "midpoint":
        k1 = f(y)
        return rnd(y + rnd(h * f(rnd(y + rnd(h2 * k1)))))
    k1 = f(y)
    k2 = f(rnd(y + rnd(h2 * k1)))
    k3 = f(rnd(y + rnd(h2 * k2)))
    k4 = f(rnd(y + rnd(h * k3)))
    return rnd(y + rnd(h6 * rnd(rnd(rnd(k1 + rnd(2 * k2)) + rnd(2 * k3)) + k4)))


@pytest.mark.parametrize("method", ["euler", "heun", "midpoint", "rk4"])
def test_every_operation_rounded_once_in_nearest(method):
    """binary16 nearest: the solver equals a hand-written step-by-step reference."""
    def rnd(x):
        return float(sr.round(np.float64(x), sr.binary16))

    def f(y):                      # y' = -y * y + 0.3 as rounded binary16 operations
        return rnd(rnd(-y * y) + rnd(0.3))

    def fun(t, y, ctx):
        return ctx.add(ctx.multiply(np.negative(y), y), ctx.round(0.3))

    n = 37
    res = solve_ivp(fun, (0.0, 1.3), 0.1, sr.Context(sr.binary16, "nearest"),
                    method=method, n_steps=n)
    h = rnd(1.3 / n)
    assert res.h == h
    y = rnd(0.1)
    for k in range(n):
        y = _reference_step(method, y, h, f, rnd)
        assert res.y[k + 1] == y, (method, k)
    assert np.allclose(res.t, h * np.arange(n + 1))


def test_fused_euler_is_one_rounding():
    ctx = sr.Context(sr.binary16, "nearest")
    res = solve_ivp(negate, (0.0, 1.0), 0.3, ctx, n_steps=10, fused=True)
    y = float(sr.round(0.3, sr.binary16))
    h = float(sr.round(0.1, sr.binary16))
    for k in range(10):
        y = float(sr.round(np.float64(y - h * y), sr.binary16))   # h*y exact in float64
        assert res.y[k + 1] == y


# --------------------------------- decay, RN and SR (Croci, Fasi, Higham, Mary & Mikaitis)

def test_decay_rn_stagnates_exactly_in_binary16():
    """h = 2^-13: h y(0) = 2^-19 is below half the ulp of the binade below 2^-6
    (2^-17 / 2 = 2^-18), so fl(2^-6 - fl(h 2^-6)) = 2^-6 and y never moves."""
    n = 2**13
    res = solve_ivp(negate, (0.0, 1.0), 2.0**-6, sr.Context(sr.binary16, "nearest"),
                    n_steps=n)
    assert np.all(res.y == 2.0**-6)
    # the same fact in exact rational arithmetic: y - h y lies strictly within half an
    # ulp of y, and the neighbours of 2^-6 in binary16 are 2^-6 - 2^-17 and 2^-6 + 2^-16
    y, h = Fraction(1, 2**6), Fraction(1, n)
    update = y - h * y
    below, above = y - Fraction(1, 2**17), y + Fraction(1, 2**16)
    assert abs(update - y) < abs(update - below) and abs(update - y) < abs(update - above)
    assert float(sr.round(float(update), sr.binary16)) == 2.0**-6
    # with fewer steps RN still moves (h y = 2^-17 rounds down)
    moved = solve_ivp(negate, (0.0, 1.0), 2.0**-6, sr.Context(sr.binary16, "nearest"),
                      n_steps=2**11).y[-1]
    assert moved < 2.0**-6


@pytest.mark.parametrize("fmt, n", [(sr.binary16, 2**13), (sr.bfloat16, 2**11)])
def test_decay_sr_mean_follows_exact_arithmetic_euler(fmt, n):
    """Every SR rounding has mean zero and the scheme is linear, so E[y_n] equals Euler in
    exact arithmetic, y0 (1 - h)^n. The sample mean of R runs must lie within 5
    standard errors (5 s / sqrt(R)) of it, and so within 5 s / sqrt(R) + |Euler error|
    of exp(-1) y0."""
    runs = 400
    y0 = 2.0**-6
    ctx = sr.Context(fmt, "stochastic", rng=1234)
    ends = solve_ivp(negate, (0.0, 1.0), y0, ctx, n_steps=n, n_runs=runs,
                     save_every=None).y[:, -1]
    euler = y0 * (1 - 1 / n) ** n
    sem = ends.std(ddof=1) / math.sqrt(runs)
    assert sem > 0
    assert abs(ends.mean() - euler) < 5 * sem
    assert abs(ends.mean() - math.exp(-1) * y0) < 5 * sem + abs(euler - math.exp(-1) * y0)
    # and SR does not stagnate: far from y0, unlike RN
    assert abs(ends.mean() - y0) > 100 * sem
    # the spread is a random walk of n steps of at most one ulp (2^-17 at most here)
    ulp = 2.0**-6 * fmt.eps
    assert ends.std() < 2 * math.sqrt(n) * ulp


# ---------------------------------------------------------------- ensembles

def test_ensemble_shapes_and_single_call_per_stage():
    calls = []

    def fun(t, y, ctx):
        calls.append(y.shape)
        return oscillator(t, y, ctx)

    ctx = sr.Context(sr.bfloat16, "stochastic", rng=0)
    res = solve_ivp(fun, (0.0, 1.0), [1.0, 0.0], ctx, method="rk4", n_steps=10, n_runs=1000)
    assert res.y.shape == (1000, 2, 11) and res.t.shape == (11,)
    assert len(calls) == 40 and set(calls) == {(1000, 2)} and res.nfev == 40
    assert np.all(res.y[:, :, 0] == [1.0, 0.0])
    single = solve_ivp(negate, (0.0, 1.0), 0.5, ctx, n_steps=8)
    assert single.y.shape == (9,)
    thin = solve_ivp(negate, (0.0, 1.0), 0.5, ctx, n_steps=10, save_every=4)
    assert thin.t.tolist() == pytest.approx([0, 0.4, 0.8, 1.0], abs=1e-3)
    assert solve_ivp(negate, (0.0, 1.0), [0.5], ctx, n_steps=10,
                     save_every=None).y.shape == (1, 2)


def test_ensemble_reproducible_from_seed():
    def run(seed):
        ctx = sr.Context(sr.binary16, "stochastic", rng=seed)
        return solve_ivp(oscillator, (0.0, 6.0), [1.0, 0.0], ctx, method="heun",
                         n_steps=500, n_runs=50).y
    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_ensemble_runs_independent():
    """M independent copies of the decay problem as components, two runs: the final
    values of run 0 and run 1 are uncorrelated (|r| < 5 / sqrt(M)), as are
    neighbouring components within a run; and the runs differ."""
    m = 4000
    ctx = sr.Context(sr.binary16, "stochastic", rng=99)
    res = solve_ivp(negate, (0.0, 1.0), np.full(m, 2.0**-6), ctx, n_steps=256, n_runs=2,
                    save_every=None)
    a, b = res.y[0, :, -1], res.y[1, :, -1]
    assert a.std() > 0 and b.std() > 0
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(m)
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 5 / math.sqrt(m)
    assert np.mean(a != b) > 0.5
    many = solve_ivp(negate, (0.0, 1.0), 2.0**-6, ctx, n_steps=256, n_runs=200,
                     save_every=None).y[:, -1]
    assert len(np.unique(many)) > 20


def test_nearest_ensemble_runs_identical():
    ctx = sr.Context(sr.binary16, "nearest")
    res = solve_ivp(negate, (0.0, 1.0), 0.7, ctx, n_steps=50, n_runs=5)
    single = solve_ivp(negate, (0.0, 1.0), 0.7, ctx, n_steps=50)
    assert np.array_equal(res.y, np.broadcast_to(single.y, res.y.shape))


# ---------------------------------------------------------------- bad input

def test_bad_input():
    ctx = sr.Context(sr.binary16, "nearest")
    with pytest.raises(TypeError, match="callable"):
        solve_ivp(3.0, (0, 1), 1.0, ctx, n_steps=4)
    with pytest.raises(TypeError, match="Context"):
        solve_ivp(negate, (0, 1), 1.0, sr.binary16, n_steps=4)
    with pytest.raises(ValueError, match="y0"):
        solve_ivp(negate, (0, 1), np.ones((2, 2)), ctx, n_steps=4)
    with pytest.raises(ValueError, match="y0"):
        solve_ivp(negate, (0, 1), [], ctx, n_steps=4)
    with pytest.raises(ValueError, match="y0"):
        solve_ivp(negate, (0, 1), [1.0, np.nan], ctx, n_steps=4)
    with pytest.raises(TypeError, match="y0"):
        solve_ivp(negate, (0, 1), 1 + 2j, ctx, n_steps=4)
    for n in (0, -3):
        with pytest.raises(ValueError, match="n_steps"):
            solve_ivp(negate, (0, 1), 1.0, ctx, n_steps=n)
    with pytest.raises(TypeError, match="n_steps"):
        solve_ivp(negate, (0, 1), 1.0, ctx, n_steps=2.5)
    with pytest.raises(ValueError, match="exactly one"):
        solve_ivp(negate, (0, 1), 1.0, ctx)
    with pytest.raises(ValueError, match="exactly one"):
        solve_ivp(negate, (0, 1), 1.0, ctx, n_steps=4, h=0.25)
    with pytest.raises(ValueError, match="divide"):
        solve_ivp(negate, (0, 1), 1.0, ctx, h=0.3)
    with pytest.raises(ValueError, match="h must be positive"):
        solve_ivp(negate, (0, 1), 1.0, ctx, h=-0.25)
    with pytest.raises(ValueError, match="t0 < t1"):
        solve_ivp(negate, (1, 0), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="t0 < t1"):
        solve_ivp(negate, (1, 1), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="finite"):
        solve_ivp(negate, (0, np.nan), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="t_span"):
        solve_ivp(negate, (0, 1, 2), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="method"):
        solve_ivp(negate, (0, 1), 1.0, ctx, method="rk45", n_steps=4)
    with pytest.raises(ValueError, match="n_runs"):
        solve_ivp(negate, (0, 1), 1.0, ctx, n_steps=4, n_runs=0)
    with pytest.raises(ValueError, match="step"):
        solve_ivp(negate, (0, 1), 1.0, ctx, n_steps=2**30)      # h underflows binary16
    with pytest.raises(ValueError, match="shape"):
        solve_ivp(lambda t, y, c: [1.0, 2.0], (0, 1), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="shape"):   # a list-built RHS in an ensemble
        solve_ivp(lambda t, y, c: np.array([y[..., 1], -y[..., 0]]), (0, 1), [1.0, 0.0],
                  ctx, n_steps=4, n_runs=3)
    with pytest.raises(ValueError, match="NaN"):
        solve_ivp(lambda t, y, c: y * np.nan, (0, 1), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="NaN"):
        solve_ivp(lambda t, y, c: np.nan if t > 0.5 else -y, (0, 1), 1.0, ctx, n_steps=4)
    with pytest.raises(ValueError, match="real"):
        solve_ivp(lambda t, y, c: "x", (0, 1), 1.0, ctx, n_steps=4)


def test_h_argument_and_rounded_step():
    ctx = sr.Context(sr.binary16, "nearest")
    res = solve_ivp(negate, (0.0, 1.0), 1.0, ctx, h=0.1)
    assert res.n_steps == 10 and res.h == float(sr.round(0.1, sr.binary16)) != 0.1
    assert res.t[-1] == pytest.approx(10 * res.h)


# ---------------------------------------------------------------- the experiments

def test_decay_experiment_reproduces_stagnation():
    res = experiments.run("decay", n=2**13, runs=20)
    assert res.data["rn_stagnation_from_n"] == {"binary16": 4096, "bfloat16": 512}
    for row in res.rows:
        fmt, n, euler_err, rn_err, stuck, sr_err, sr_std = row
        if stuck:
            assert rn_err == pytest.approx(2.0**-6 * (1 - math.exp(-1)))
            assert sr_err < 5 * sr_std / math.sqrt(20) + euler_err


def test_circle_heat_lorenz_experiments_quick():
    circ = experiments.run("circle", n=512, runs=10)
    for fmt, n, euler_r, rn_r, mean_r, std_r in circ.rows:
        assert abs(mean_r - euler_r) < 5 * std_r / math.sqrt(10) + 1e-3
    heat = experiments.run("heat", n=512, runs=4, formats=("binary16",))
    assert heat.data["slopes"]["binary16"]["RN"] < -0.8
    sr_err = heat.data["series"]["binary16"]["SR mean"]
    rn_err = heat.data["series"]["binary16"]["RN"]
    assert sr_err[-1] < rn_err[-1] / 5
    lor = experiments.run("lorenz", n=640, runs=3, formats=("binary16", "binary32"))
    assert len(lor.rows) == 4
