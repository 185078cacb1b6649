"""Command line: ``python -m srround`` prints the harmonic-series table.

The harmonic series sum_k 1/k, summed recursively as s = fl(s + fl(1/k)) in a
low-precision format, is the classic demonstration (Higham & Pranesh, SISC 2019)
that round-to-nearest stagnates — every new term falls below half an ulp of the
running sum — while stochastic rounding follows the exact sum on average.
"""
import argparse
import math
import time

import numpy as np

from srround._core import Context
from srround.formats import format as lookup


def harmonic_partial_sums(n, ctx):
    """fl(s + fl(1/k)) for k = 1..n in ctx's format and rounding; returns the sum."""
    terms = ctx.round(1.0 / np.arange(1, n + 1, dtype=np.float64))
    return float(ctx.add.reduce(terms))


def harmonic_table(formats=("binary16", "bfloat16"), sizes=(1000, 10000, 100000), runs=10,
                   seed=0):
    """Rows (format, n, exact, RN, SR mean, SR std)."""
    rows = []
    root = np.random.SeedSequence(seed)
    for name in formats:
        fmt = lookup(name)
        rn = Context(fmt, "nearest")
        for n in sizes:
            exact = float(np.sum(1.0 / np.arange(1, n + 1)[::-1]))
            streams = root.spawn(runs)
            sr_sums = [harmonic_partial_sums(n, Context(fmt, "stochastic", rng=s))
                       for s in streams]
            rows.append((fmt.name, n, exact, harmonic_partial_sums(n, rn),
                         float(np.mean(sr_sums)), float(np.std(sr_sums))))
    return rows


def print_harmonic(rows, runs):
    print("Harmonic series s = fl(s + fl(1/k)), recursive summation")
    print(f"(RN: round to nearest; SR: stochastic rounding, mean and std over {runs} runs)\n")
    head = f"{'format':<10}{'n':>9}{'exact':>12}{'RN':>12}{'SR mean':>12}{'SR std':>10}"
    print(head)
    print("-" * len(head))
    for name, n, exact, rn, mean, std in rows:
        print(f"{name:<10}{n:>9}{exact:>12.5f}{rn:>12.5f}{mean:>12.5f}{std:>10.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m srround", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", default="harmonic", choices=["harmonic"])
    parser.add_argument("--n", type=int, default=100000, help="largest number of terms")
    parser.add_argument("--runs", type=int, default=10, help="SR runs to average")
    parser.add_argument("--seed", type=int, default=0, help="seed for the SR runs")
    args = parser.parse_args(argv)
    if args.n < 1 or args.runs < 1:
        parser.error("--n and --runs must be at least 1")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    sizes = sorted({min(10 ** k, args.n) for k in range(3, int(math.log10(args.n)) + 1)} | {args.n})
    start = time.perf_counter()
    rows = harmonic_table(sizes=tuple(sizes), runs=args.runs, seed=args.seed)
    print_harmonic(rows, args.runs)
    print(f"\n({time.perf_counter() - start:.2f} s)")
    return 0
