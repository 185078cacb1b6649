"""Side-by-side table, ns per element (median of repeated calls, one process):

    python bench/table.py            # markdown table on stdout
    python bench/table.py --quick    # 1e6 only, fewer repeats

Ratios are taken against np.copyto on the same array in the same run, which is
what makes numbers from a shared, noisy machine comparable.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CONVERSIONS, SIZES, data, methods, target_dtype  # noqa: E402

import srround as sr  # noqa: E402


def median_ns(fn, n, repeats):
    fn()  # warm up: page in the output, build the ufunc
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / n * 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes = SIZES[:1] if args.quick else SIZES
    repeats = 5 if args.quick else 11
    results = {}
    names = []
    for label, dtype, fmt, target in CONVERSIONS:
        for n in sizes:
            x = data(n, dtype)
            for name, fn in methods(x, fmt, target_dtype(target)).items():
                if name not in names:
                    names.append(name)
                results[(name, label, n)] = median_ns(fn, n, repeats)
    # Reductions: a chain of dependent rounded additions, one element at a time.
    reduce_rows = []
    for fmt in (sr.bfloat16, sr.binary16):
        x = data(sizes[-1], np.float32)
        for mode in ("nearest", "stochastic"):
            ctx = sr.Context(fmt, mode, rng=1)
            reduce_rows.append((f"ctx.add.reduce, float32 -> {fmt.name}, {mode}",
                                median_ns(lambda: ctx.add.reduce(x), x.size, repeats)))
    cols = [(label, n) for label, *_ in CONVERSIONS for n in sizes]
    print(f"srround {sr.__version__}, kernels: {sr.isa()}; ns per element, median of "
          f"{repeats}; (x copyto) = ratio to np.copyto on the same array\n")
    print("| method | " + " | ".join(f"{lab} {n:.0e}" for lab, n in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name in names:
        cells = []
        for lab, n in cols:
            v = results.get((name, lab, n))
            base = results[("np.copyto (same dtype)", lab, n)]
            cells.append("–" if v is None else f"{v:.2f} ({v / base:.1f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n| reduction ({sizes[-1]:.0e} float32 values) | ns per element |\n|---|---|")
    for name, v in reduce_rows:
        print(f"| {name} | {v:.2f} |")


if __name__ == "__main__":
    main()
