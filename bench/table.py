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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import one_thread  # noqa: E402,F401  (before NumPy)

import numpy as np  # noqa: E402
from cases import (CONVERSIONS, OPERATIONS, SIZES, data, methods, operands,  # noqa: E402
                   target_dtype)

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
    # Elementwise arithmetic into bfloat16: exact result, rounded once.
    arith = {}
    n_arith = sizes[0]
    for dtype in (np.float32, np.float64):
        for op in OPERATIONS:
            args = operands(op, n_arith, dtype)
            out = np.empty_like(args[0])
            for mode in ("nearest", "stochastic"):
                ufunc = getattr(sr.Context(sr.bfloat16, mode, rng=1), op)
                arith[(op, np.dtype(dtype).name, mode)] = median_ns(
                    lambda: ufunc(*args, out=out), n_arith, repeats)
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
    arith_cols = [(dt, mode) for dt in ("float32", "float64") for mode in ("nearest", "stochastic")]
    print(f"\n| ctx.<op>(..., out=) into bfloat16, {n_arith:.0e} values | "
          + " | ".join(f"{dt} {mode}" for dt, mode in arith_cols) + " |")
    print("|---|" + "---|" * len(arith_cols))
    for op in OPERATIONS:
        print(f"| {op} | " + " | ".join(f"{arith[(op, dt, mode)]:.2f}"
                                        for dt, mode in arith_cols) + " |")


if __name__ == "__main__":
    main()
