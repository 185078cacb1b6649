"""Summation throughput beside ctx.add.reduce (target, bench/README.md: within 2x per element,
Kahan per rounded operation):

    python bench/bench_summation.py                        # ratio table
    python -m pytest bench/bench_summation.py --benchmark-only
"""
import one_thread  # noqa: F401  (before NumPy)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from timing import best_seconds_interleaved  # noqa: E402

import srround as sr  # noqa: E402

METHODS = ("recursive", "pairwise", "blocked", "kahan")
N = 10**6


def calls(mode, dtype=np.float32, n=N):
    x = np.random.default_rng(0).random(n).astype(dtype)
    ctx = sr.Context(sr.bfloat16, mode, rng=0)
    out = {"ctx.add.reduce": lambda: ctx.add.reduce(x)}
    out.update({m: (lambda m=m: sr.sum(x, ctx, m)) for m in METHODS})
    return out


@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
@pytest.mark.parametrize("method", ("ctx.add.reduce",) + METHODS)
def test_sum(benchmark, mode, method):
    benchmark.pedantic(calls(mode)[method], rounds=7, iterations=1, warmup_rounds=1)


def main():
    print(f"ns per element, best of 7 interleaved calls, {N:.0e} values, bfloat16")
    print("| mode | dtype | ctx.add.reduce | " + " | ".join(METHODS) + " |")
    print("|---|---|---|" + "---|" * len(METHODS))
    for dtype in (np.float32, np.float64):
        for mode in ("nearest", "stochastic"):
            best = best_seconds_interleaved(calls(mode, dtype), rounds=7)
            base = best["ctx.add.reduce"]
            cells = [f"{best[m] / base / (4 if m == 'kahan' else 1):.2f}x" for m in METHODS]
            print(f"| {mode} | {np.dtype(dtype).name} | {base / N * 1e9:.2f} ns | "
                  + " | ".join(cells) + " |")
    print("(kahan: per rounded operation, four per element)")


if __name__ == "__main__":
    main()
