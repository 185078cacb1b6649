"""sr.dot on 1e6 float32 values in bfloat16 (SR, the default sequential stream), one
thread: the one-pass kernel (csrc/dot_fused.h) against the two passes it replaces
(ctx.multiply into an array, then ctx.add.reduce), and the parts of each, all timed
in one run, interleaved (timing.best_seconds_interleaved), so that ratios hold on a
loaded machine.

    PYTHONPATH=$PWD python3 bench/bench_dot.py [rounds]
"""
import sys

from timing import best_seconds_interleaved

import numpy as np

import srround as sr
from srround.summation import _dot_two_pass


def main(rounds=15):
    n = 10**6
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 1, n).astype(np.float32)
    X = xs.reshape(n, 1)
    cb = sr.Context("bf16", rng=1)
    products = cb.multiply(xs, xs)
    cases = {
        "sr.dot, one pass (csrc/dot_fused.h)": lambda: sr.dot(xs, xs, cb),
        "sr.dot, two passes (multiply, then add.reduce)": lambda: _dot_two_pass(X, X, cb, cb),
        "  ctx.multiply alone": lambda: cb.multiply(xs, xs, out=products),
        "  ctx.add.reduce of the products alone": lambda: cb.add.reduce(products),
        "  the 2e6 words alone (ctx.random_words)": lambda: cb.random_words(2 * n),
    }
    t = best_seconds_interleaved(cases, rounds)
    for name, seconds in t.items():
        print(f"{name}: {seconds / n * 1e9:.2f} ns per element")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
