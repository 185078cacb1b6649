"""sr.dot on float32 values in bfloat16 (SR, the default sequential stream), one
thread: the one-pass kernel (csrc/dot_fused.h) against the two passes it replaces
(ctx.multiply into an array, then ctx.add.reduce: sr.dot with the kernel switched
off), and at 1e6 the parts, all timed in one run, interleaved
(timing.best_seconds_interleaved), so that ratios hold on a loaded machine.

    PYTHONPATH=$PWD python3 bench/bench_dot.py [rounds]
"""
import sys

from timing import best_seconds_interleaved

import numpy as np

import srround as sr
import srround.summation as summation
from srround._core import _dot_kernel


def two_passes(fn):
    """fn run with sr.dot's one-pass kernel switched off (main's path before it)"""
    def run():
        keep = summation._fused_dot_applies
        summation._fused_dot_applies = lambda *args: False
        try:
            return fn()
        finally:
            summation._fused_dot_applies = keep
    return run


def main(rounds=15):
    rng = np.random.default_rng(0)
    for n in (10**5, 10**6, 10**7):
        xs = rng.uniform(0, 1, n).astype(np.float32)
        cb = sr.Context("bf16", rng=1)
        b32 = sr.Context("binary32", rng=2)
        cases = {
            "sr.dot(x, x, ctx), one pass": lambda: sr.dot(xs, xs, cb),
            "sr.dot(x, x, ctx), two passes": two_passes(lambda: sr.dot(xs, xs, cb)),
            "sr.dot, accumulate=binary32 ctx, one pass":
                lambda: sr.dot(xs, xs, cb, accumulate=b32),
            "sr.dot, accumulate=binary32 ctx, two passes":
                two_passes(lambda: sr.dot(xs, xs, cb, accumulate=b32)),
        }
        if n == 10**6:
            products = cb.multiply(xs, xs)
            other = sr.Context("bf16", rng=3)
            cases.update({
                "  the kernel, sums in another bf16 ctx (no jump)":
                    lambda: _dot_kernel(cb, other, xs, xs),
                "  ctx.multiply alone (into an existing array)":
                    lambda: cb.multiply(xs, xs, out=products),
                "  ctx.add.reduce of the products alone": lambda: cb.add.reduce(products),
                "  the 2n words alone (ctx.random_words)": lambda: cb.random_words(2 * n),
            })
        t = best_seconds_interleaved(cases, rounds if n < 10**7 else max(3, rounds // 3))
        print(f"n = {n:.0e}")
        for name, seconds in t.items():
            print(f"  {name}: {seconds / n * 1e9:.2f} ns per element")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
