"""The numerical results of the stochastic-rounding literature, through sr.sum:
exact values for the deterministic modes, fixed seeds and explicit sigma bounds for SR.

- the harmonic series stagnates under round to nearest (binary16 at 7.0859375 from
  k = 513 on, bfloat16 at 5.0625) while the mean of SR runs tracks the exact sum
  (Higham & Pranesh, SISC 2019);
- the error of recursive summation grows like sqrt(n) u under SR, n u under RN, and
  many small terms stall RN but not SR or Kahan (Connolly, Higham & Mary, SISC 2021);
- with r random bits, terms below 2^-r ulp of the running sum are lost (Fasi &
  Mikaitis, IEEE TETC 2021).
The same results through the experiments: tests/test_experiments.py, docs/experiments.md.
"""

import math

import numpy as np
import pytest

import srround as sr


# ------------------------------------------------- harmonic series (Higham & Pranesh 2019)

def harmonic_terms(n):
    return 1.0 / np.arange(1, n + 1, dtype=np.float64)


@pytest.mark.parametrize("fmt, stuck", [(sr.binary16, 7.0859375), (sr.bfloat16, 5.0625)])
def test_harmonic_round_to_nearest_stagnates(fmt, stuck):
    rn = sr.Context(fmt, "nearest")
    terms = rn.round(harmonic_terms(10**5))
    assert sr.sum(terms, rn) == stuck
    partial = sr.cumsum(terms, rn)
    first = int(np.argmax(partial == stuck))        # the sum never moves from here on
    assert np.all(partial[first:] == stuck)
    if fmt is sr.binary16:
        assert first + 1 <= 513 and partial[511] == stuck   # no change from k = 513 on


@pytest.mark.parametrize("fmt", [sr.binary16, sr.bfloat16])
def test_harmonic_stochastic_mean_tracks_exact_sum(fmt):
    """E[SR sum] = exact sum (SR is unbiased; terms rounded by SR as well). 40 runs
    as lanes of one sum; the mean must lie within 5 standard errors."""
    n, runs = 10**5, 40
    exact = math.fsum(harmonic_terms(n))
    assert abs(exact - 12.0901) < 1e-4
    ctx = sr.Context(fmt, "stochastic", rng=2024)
    terms = ctx.round(np.broadcast_to(harmonic_terms(n)[:, None], (n, runs)))
    sums = sr.sum(terms, ctx, axis=0)
    mean, std = sums.mean(), sums.std(ddof=1)
    assert abs(mean - exact) < 5 * std / math.sqrt(runs), (mean, std)
    rn_ctx = sr.Context(fmt, "nearest")
    rn = float(sr.sum(rn_ctx.round(harmonic_terms(n)), rn_ctx))
    assert exact - rn > 20 * std / math.sqrt(runs)


# ------------------------------------------ error growth (Connolly, Higham & Mary 2021)

def fitted_slope(ns, errors):
    return float(np.polyfit(np.log(ns), np.log(errors), 1)[0])


def relative_errors(ctx, data, exact, method="recursive"):
    return np.abs(sr.sum(data, ctx, method, axis=0) - exact) / np.abs(exact)


def mean_errors(fmt, mode, ns, runs, make_data, seed):
    rng = np.random.default_rng(seed)
    rn = sr.Context(fmt, "nearest")
    ctx = sr.Context(fmt, mode, rng=seed)
    out = []
    for n in ns:
        data = rn.round(make_data(rng, (n, runs)))
        exact = np.array([math.fsum(data[:, j]) for j in range(runs)])
        out.append(relative_errors(ctx, data, exact).mean())
    return np.array(out)


def test_error_growth_slopes_sqrt_n_for_sr_and_n_for_rn():
    """Connolly, Higham & Mary: SR errors are mean-independent, so the error of
    recursive summation grows like sqrt(n) u; RN errors can add up like n u.
    Constant data x_i = fl(0.1) make RN's errors all alike within a binade (slope
    ~1), while SR on the same data gives slope ~1/2. Fitted on n = 2^3..2^10 in
    binary16 (n u <= 1/2), 30 runs per point."""
    ns = 2 ** np.arange(3, 11)
    constant = lambda rng, shape: np.full(shape, 0.1)   # noqa: E731
    rn = mean_errors(sr.binary16, "nearest", ns, 2, constant, 1)
    sr_ = mean_errors(sr.binary16, "stochastic", ns, 30, constant, 1)
    assert 0.8 <= fitted_slope(ns, rn) <= 1.2, fitted_slope(ns, rn)
    assert 0.35 <= fitted_slope(ns, sr_) <= 0.65, fitted_slope(ns, sr_)


def test_uniform_data_sr_slope_and_sqrt_n_bound():
    """Uniform [0, 1] data (the summation experiment): SR's mean error has slope
    ~1/2 while n u <= 1, and every single run stays below lambda sqrt(n) u with
    lambda = 2 (the probabilistic bound with probability >= 1 - 2 exp(-lambda^2/2)
    per run only needs lambda ~ 4.5 for 400 runs at 10^-3 failure; the actual error
    is far below). RN goes far above that line once it stagnates."""
    fmt = sr.binary16
    u = fmt.unit_roundoff
    ns = 2 ** np.arange(3, 12)
    uniform = lambda rng, shape: rng.random(shape)   # noqa: E731
    sr_ = mean_errors(fmt, "stochastic", ns, 30, uniform, 2)
    assert 0.35 <= fitted_slope(ns, sr_) <= 0.65, fitted_slope(ns, sr_)
    rng = np.random.default_rng(3)
    rn_ctx, sr_ctx = sr.Context(fmt, "nearest"), sr.Context(fmt, "stochastic", rng=3)
    for n in (2**9, 2**12, 2**14):
        data = rn_ctx.round(rng.random((n, 20)))
        exact = np.array([math.fsum(data[:, j]) for j in range(20)])
        assert np.all(relative_errors(sr_ctx, data, exact) <= 4.5 * math.sqrt(n) * u)
        if n == 2**14:
            assert np.all(relative_errors(rn_ctx, data, exact) > 5 * math.sqrt(n) * u)


# -------------------------------------- many small terms (Connolly, Higham & Mary 2021)

def test_many_small_terms():
    """1e5 values uniform on [-0.002, 0.008] in binary16: RN recursive summation
    stalls far below the exact sum (~300); SR (mean of 20 runs, 5 sigma) and Kahan
    summation do not."""
    n, runs = 10**5, 20
    rn = sr.Context(sr.binary16, "nearest")
    x = rn.round(np.random.default_rng(7).uniform(-0.002, 0.008, n))
    exact = math.fsum(x)
    assert 290 < exact < 310
    assert sr.sum(x, rn) < exact / 4
    assert abs(sr.sum(x, rn, "kahan") - exact) <= 4 * sr.binary16.unit_roundoff * exact
    ctx = sr.Context(sr.binary16, "stochastic", rng=7)
    sums = sr.sum(np.broadcast_to(x[:, None], (n, runs)), ctx, axis=0)
    assert abs(sums.mean() - exact) < 5 * sums.std(ddof=1) / math.sqrt(runs)
    assert sums.std() < 0.05 * exact           # SR spreads (about 2%) but does not stall
    kahan_sr = sr.sum(x, sr.Context(sr.binary16, "stochastic", rng=8), "kahan")
    assert abs(kahan_sr - exact) <= 8 * sr.binary16.unit_roundoff * exact


# ------------------------------------------ limited random bits (Fasi & Mikaitis 2021)

@pytest.mark.parametrize("r", [1, 4, 8])
def test_limited_bits_lose_terms_below_two_to_minus_r_ulp(r):
    """With r random bits P(up) = floor(f 2^r) / 2^r, so a term below 2^-r ulp of the
    running sum is always lost: the sum never moves. With exact SR it moves."""
    fmt = sr.binary16
    ulp_one = 2.0**-10
    tiny = 0.99 * 2.0**-r * ulp_one
    x = np.full(5000, tiny)
    x[0] = 1.0
    for seed in range(3):
        assert sr.sum(x, sr.Context(fmt, "stochastic", bits=r, rng=seed)) == 1.0
    full = sr.sum(x, sr.Context(fmt, "stochastic", rng=0))
    assert full > 1.0
    # just above the threshold the sum moves again
    x[1:] = 1.01 * 2.0**-r * ulp_one
    assert sr.sum(x, sr.Context(fmt, "stochastic", bits=r, rng=0)) > 1.0


def test_limited_bits_harmonic_bias():
    """Harmonic series in binary16, n = 1e5, 30 runs each: r = 4 random bits lose the
    small terms (mean far below the exact 12.09, beyond 10 standard errors); more bits
    reduce the bias; r never overshoots (bias <= 0 up to 5 standard errors)."""
    n, runs = 10**5, 30
    exact = math.fsum(harmonic_terms(n))
    means = {}
    for r in (4, 8, 12, None):
        ctx = sr.Context(sr.binary16, "stochastic", bits=r, rng=99)
        terms = ctx.round(np.broadcast_to(harmonic_terms(n)[:, None], (n, runs)))
        sums = sr.sum(terms, ctx, axis=0)
        se = sums.std(ddof=1) / math.sqrt(runs)
        means[r] = sums.mean()
        assert sums.mean() <= exact + 5 * se, (r, sums.mean())
        if r == 4:
            assert exact - sums.mean() > 10 * se
        if r is None:
            assert abs(sums.mean() - exact) < 5 * se
    assert means[4] < means[8] < means[12] + 0.05
