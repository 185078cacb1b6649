"""ODE solver overhead (targets, bench/README.md: 1e5 Euler steps of a scalar ODE with a
Python right-hand side in under 2 s; an ensemble of 1000 runs costing little more
than one run):

    python bench/bench_ode.py
"""
import one_thread  # noqa: F401  (before NumPy)

import time  # noqa: E402

import srround as sr  # noqa: E402


def negate(t, y, ctx):
    return ctx.multiply(y, -1.0)


def seconds(**kw):
    ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    start = time.perf_counter()
    sr.ode.solve_ivp(negate, (0.0, 1.0), 2.0**-6, ctx, save_every=None, **kw)
    return time.perf_counter() - start


def main():
    print("| steps | runs | seconds |\n|---|---|---|")
    for steps, runs in ((10**5, None), (10**4, None), (10**4, 100), (10**4, 1000),
                        (10**5, 1000)):
        t = min(seconds(n_steps=steps, n_runs=runs) for _ in range(3))
        print(f"| {steps:.0e} | {runs or 1} | {t:.3f} |")


if __name__ == "__main__":
    main()
