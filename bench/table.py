"""Side-by-side table, ns per element (median of repeated calls, one process):

    python bench/table.py            # markdown table on stdout
    python bench/table.py --quick    # 1e6 only, fewer repeats

Ratios are taken against np.copyto on the same array in the same run, which is
what makes numbers from a shared, noisy machine comparable.
"""
import one_thread  # noqa: F401  (before NumPy)

import argparse  # noqa: E402

import numpy as np  # noqa: E402
from cases import CONVERSIONS, OPERATIONS, SIZES, methods, operands, target_dtype  # noqa: E402
from timing import markdown_table, ns_per_element, standard_normal, with_ratio  # noqa: E402

import srround as sr  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes = SIZES[:1] if args.quick else SIZES
    repeats = 5 if args.quick else 11

    def median_ns(fn, n):
        return ns_per_element(fn, n, repeats)[0]

    results = {}
    names = []
    for label, dtype, fmt, target in CONVERSIONS:
        for n in sizes:
            x = standard_normal(n, dtype)
            for name, fn in methods(x, fmt, target_dtype(target)).items():
                if name not in names:
                    names.append(name)
                results[(name, label, n)] = median_ns(fn, n)
    # Reductions: a chain of dependent rounded additions, one element at a time.
    reduce_rows = []
    for fmt in (sr.bfloat16, sr.binary16):
        x = standard_normal(sizes[-1], np.float32)
        for mode in ("nearest", "stochastic"):
            ctx = sr.Context(fmt, mode, rng=1)
            reduce_rows.append((f"ctx.add.reduce, float32 -> {fmt.name}, {mode}",
                                median_ns(lambda: ctx.add.reduce(x), x.size)))
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
                    lambda: ufunc(*args, out=out), n_arith)
    cols = [(label, n) for label, *_ in CONVERSIONS for n in sizes]
    print(f"srround {sr.__version__}, kernels: {sr.isa()}; ns per element, median of "
          f"{repeats}; (x copyto) = ratio to np.copyto on the same array\n")
    rows = []
    for name in names:
        cells = []
        for lab, n in cols:
            v = results.get((name, lab, n))
            base = results[("np.copyto (same dtype)", lab, n)]
            cells.append("–" if v is None else with_ratio(v, base))
        rows.append([name] + cells)
    print("\n".join(markdown_table(["method"] + [f"{lab} {n:.0e}" for lab, n in cols],
                                   rows)))
    print()
    print("\n".join(markdown_table([f"reduction ({sizes[-1]:.0e} float32 values)",
                                    "ns per element"],
                                   [[name, f"{v:.2f}"] for name, v in reduce_rows])))
    arith_cols = [(dt, mode) for dt in ("float32", "float64") for mode in ("nearest", "stochastic")]
    print()
    print("\n".join(markdown_table(
        [f"ctx.<op>(..., out=) into bfloat16, {n_arith:.0e} values"]
        + [f"{dt} {mode}" for dt, mode in arith_cols],
        [[op] + [f"{arith[(op, dt, mode)]:.2f}" for dt, mode in arith_cols]
         for op in OPERATIONS])))


if __name__ == "__main__":
    main()
