"""Sums: the harmonic series, error growth of summation and inner products against n,
and many small terms (Higham & Pranesh, SISC 2019; Connolly, Higham & Mary, SISC 2021;
Fasi & Mikaitis, IEEE TETC 2021). See docs/experiments.md."""
import math

import numpy as np

from srround import Context
from srround.experiments.common import (ROUNDING_LABELS, checkpoints, compared_modes,
                                        exact_column_dots, exact_column_sums, fitted_slope,
                                        float_list, floats,
                                        format_panels, log_spaced_indices, powers_of_two_to,
                                        rounding_label, saved_float, seed_for)
from srround.experiments.registry import Result, experiment
from srround.formats import binary32
from srround.summation import cumsum, dot, sum as rounded_sum


# ---------------------------------------------------------------- harmonic

def plot_harmonic(fig, data):
    """Partial sums against k: exact, RN, and the mean +- std of each stochastic
    variant (the curves "<label> mean" / "<label> std" of the data)."""
    runs = data["settings"]["runs"]
    for ax, name in format_panels(fig, data):
        c = data["curves"][name]
        k = np.array(c["k"])
        ax.plot(k, floats(c["exact"]), color="black", lw=1.5, label="exact")
        ax.plot(k, floats(c["RN"]), color="tab:red", lw=1.5, label="RN")
        labels = [key[:-len(" mean")] for key in c if key.endswith(" mean")]
        colors = ["tab:blue", "tab:green", "tab:orange"]
        for label, color in zip(labels, colors):
            mean, std = floats(c[label + " mean"]), floats(c[label + " std"])
            ax.plot(k, mean, color=color, lw=1.2, label=f"{label} (mean of {runs})")
            ax.fill_between(k, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("number of terms n")
        ax.set_ylabel("partial sum")
        ax.set_title(f"harmonic series in {name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)


@experiment("harmonic", "harmonic series: RN stagnates, SR tracks the exact sum; "
            "limited-bit SR in between", n=100_000, runs=40,
            formats=("binary16", "bfloat16"), plot=plot_harmonic)
def harmonic(s):
    """s_k = fl(s_{k-1} + fl(1/k)) (Higham & Pranesh 2019; Fasi & Mikaitis 2021)."""
    n, runs = s.n, s.runs
    terms = 1.0 / np.arange(1, n + 1, dtype=np.float64)
    exact = np.cumsum(terms)
    exact_n = math.fsum(terms)
    points = log_spaced_indices(n)
    checks = checkpoints(n)
    variants = [(rounding_label(s.rounding), s.rounding, None)]
    if s.rounding == "stochastic":
        variants += [("SR r=8", "stochastic", 8), ("SR r=4", "stochastic", 4)]
    total = len(s.formats) * (1 + len(variants))
    done = 0
    rows, curves, stagnation = [], {}, {}
    for fi, fmt in enumerate(s.formats):
        rn = Context(fmt, "nearest")
        rn_partial = cumsum(rn.round(terms), rn)
        done += 1
        s.progress(done / total)
        final = float(rn_partial[-1])
        first = int(np.argmax(rn_partial == final)) + 1   # k from which it never moves
        stagnation[fmt.label] = {"value": final, "from_k": first,
                                 "stagnated": bool(first < n)}
        curve = {"k": points.tolist(), "exact": float_list(exact[points - 1]),
                 "RN": float_list(rn_partial[points - 1])}
        stats = {}
        for vi, (label, mode, bits) in enumerate(variants):
            ctx = Context(fmt, mode, bits=bits, rng=seed_for(s, 1, fi, vi))
            lanes = np.broadcast_to(terms[:, None], (n, runs))
            partial = cumsum(ctx.round(lanes), ctx, axis=0)
            mean = partial.mean(axis=1)
            std = partial.std(axis=1, ddof=1) if runs > 1 else np.zeros(n)
            stats[label] = (mean, std)
            curve[label + " mean"] = float_list(mean[points - 1])
            curve[label + " std"] = float_list(std[points - 1])
            done += 1
            s.progress(done / total)
        curves[fmt.label] = curve
        for k in checks:
            row = [fmt.label, k, float(exact[k - 1]) if k < n else exact_n,
                   float(rn_partial[k - 1])]
            row += [float(stats[variants[0][0]][0][k - 1]),
                    float(stats[variants[0][0]][1][k - 1])]
            row += [float(stats[label][0][k - 1]) for label, _, _ in variants[1:]]
            rows.append(row)
    columns = ["format", "n", "exact", "RN", f"{variants[0][0]} mean", f"{variants[0][0]} std"]
    columns += [f"{label} mean" for label, _, _ in variants[1:]]
    specs = ["s", "d", ".5f", ".7g", ".5f", ".4f"] + [".5f"] * (len(variants) - 1)
    notes = [f"RN in {name} reaches {st['value']:.8g} at k = {st['from_k']} and never "
             f"moves again (no change from k = {st['from_k'] + 1} on)"
             if st["stagnated"] else f"RN in {name} still moving at k = {n}"
             for name, st in stagnation.items()]
    if s.rounding == "stochastic":
        notes.append("SR r=b: stochastic rounding with b random bits: terms below 2^-b ulp "
                     "of the running sum are always lost, so the sum stalls later than RN's, "
                     "below the exact sum")

    return Result("harmonic", f"Harmonic series s = fl(s + fl(1/k)), recursive summation "
                  f"({runs} runs for stochastic modes; mean and std)",
                  columns, specs, rows, notes,
                  {"exact_sum": exact_n, "stagnation": stagnation, "curves": curves})


# ---------------------------------------------------------------- summation and dot

def _group(label):
    """The curve family of a label: the method for "recursive RN", the label itself
    for dot's labels."""
    head, _, tail = label.rpartition(" ")
    return head if head and tail in ROUNDING_LABELS.values() else label


def plot_error_table(fig, data):
    """Error against n on log-log axes, one panel per format, with the n u and
    sqrt(n) u lines (the plot of `summation` and `dot`)."""
    labels = data["columns"][4:]
    for ax, name in format_panels(fig, data):
        ser = data["series"][name]
        slopes = data["slopes"][name]
        ns = np.array(ser["n"])
        ax.plot(ns, floats(ser["n*u"]), "k--", lw=1, label="n u")
        ax.plot(ns, floats(ser["sqrt(n)*u"]), "k:", lw=1.2, label="sqrt(n) u")
        groups = list(dict.fromkeys(_group(label) for label in labels))
        colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
        for label in labels:
            vals = floats(ser[label])
            rn_line = label.startswith("RN") or label.endswith(" RN")
            keep = np.isfinite(vals) & (vals > 0)
            color = colors[groups.index(_group(label)) % len(colors)]
            ax.plot(ns[keep], vals[keep], "-" if rn_line else "--", color=color,
                    marker="o" if rn_line else "s", ms=3,
                    label=f"{label} (slope {saved_float(slopes[label]):.2f})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel("relative error")
        ax.set_title(f"{data['experiment']} in {name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")


def _error_table(s, name, title, labels, errors_at, data_note):
    """Shared by `summation` and `dot`: errors_at(fmt, fi, n, rng) -> {label: mean
    error}. Rows per (format, n); slopes fitted per (format, label)."""
    sizes = powers_of_two_to(s.n)
    total = len(s.formats) * len(sizes)
    done = 0
    rows, series, slopes = [], {}, {}
    for fi, fmt in enumerate(s.formats):
        u = fmt.unit_roundoff
        rng = np.random.default_rng(seed_for(s, 2, fi))
        per_label = {label: [] for label in labels}
        for n in sizes:
            errs = errors_at(fmt, fi, n, rng)
            for label in labels:
                per_label[label].append(errs[label])
            rows.append([fmt.label, n, n * u, math.sqrt(n) * u] + [errs[lb] for lb in labels])
            done += 1
            s.progress(done / total)
        series[fmt.label] = {"n": sizes, "n*u": [n * u for n in sizes],
                             "sqrt(n)*u": [math.sqrt(n) * u for n in sizes], **per_label}
        slopes[fmt.label] = {label: fitted_slope(sizes, per_label[label]) for label in labels}
    columns = ["format", "n", "n*u", "sqrt(n)*u"] + labels
    specs = ["s", "d", ".2e", ".2e"] + [".2e"] * len(labels)
    notes = [data_note, "fitted log-log slopes of error against n "
             "(1 for n*u growth, 0.5 for sqrt(n)*u):"]
    for fmt_label, sl in slopes.items():
        notes.append(f"  {fmt_label}: " + ", ".join(f"{lb} {v:.2f}" for lb, v in sl.items()))

    return Result(name, title, columns, specs, rows, notes,
                  {"sizes": sizes, "series": series, "slopes": slopes})


@experiment("summation", "error against n of recursive, pairwise and Kahan summation, "
            "RN vs SR, with the n*u and sqrt(n)*u bounds", n=2**14, runs=30,
            formats=("binary16",), min_n=8, plot=plot_error_table)
def summation(s):
    """Uniform [0, 1] data stored in the format (rounded to nearest); relative error
    |s_hat - s| / s, the backward error for positive data; mean over runs (new data
    and new random draws for every run)."""
    methods = ("recursive", "pairwise", "kahan")
    modes = compared_modes(s.rounding)
    labels = [f"{m} {rounding_label(md)}" for m in methods for md in modes]

    def errors_at(fmt, fi, n, rng):
        rn = Context(fmt, "nearest")
        data = rn.round(rng.random((n, s.runs)))
        exact = exact_column_sums(data)
        out = {}
        for mi, method in enumerate(methods):
            for di, mode in enumerate(modes):
                ctx = Context(fmt, mode, rng=seed_for(s, 3, fi, n, mi, di))
                got = rounded_sum(data, ctx, method, axis=0)
                out[f"{method} {rounding_label(mode)}"] = float(np.mean(np.abs(got - exact)
                                                                        / exact))
        return out

    return _error_table(s, "summation", f"Summation of n values uniform on [0, 1]: mean "
                        f"relative error over {s.runs} runs", labels, errors_at,
                        "data uniform on [0, 1], rounded to the format; error |s_hat - s| / s")


@experiment("dot", "inner-product backward error against n (uniform [0, 1] data), RN vs "
            "SR, and binary32 accumulation", n=2**14, runs=30,
            formats=("binary16",), min_n=8, plot=plot_error_table)
def dot_products(s):
    """x, y uniform [0, 1] in the format; backward error |s_hat - s| / sum |x_i y_i|;
    products rounded in the format, recursive accumulation in the format (or in
    binary32 for the mixed-precision column, as tensor cores do)."""
    modes = compared_modes(s.rounding)
    labels = [rounding_label(md) for md in modes]
    mixed = None
    if all(f.precision < binary32.precision for f in s.formats):
        mixed = f"RN, {binary32.name} accumulate"
        labels.append(mixed)

    def errors_at(fmt, fi, n, rng):
        rn = Context(fmt, "nearest")
        X = rn.round(rng.random((n, s.runs)))
        Y = rn.round(rng.random((n, s.runs)))
        exact = exact_column_dots(X, Y)
        scale = exact_column_dots(np.abs(X), np.abs(Y))
        out = {}
        for di, mode in enumerate(modes):
            ctx = Context(fmt, mode, rng=seed_for(s, 4, fi, n, di))
            got = dot(X, Y, ctx, axis=0)
            out[rounding_label(mode)] = float(np.mean(np.abs(got - exact) / scale))
        if mixed:
            got = dot(X, Y, rn, axis=0, accumulate=Context(binary32, "nearest"))
            out[mixed] = float(np.mean(np.abs(got - exact) / scale))
        return out

    return _error_table(s, "dot", f"Inner products of n-vectors uniform on [0, 1]: mean "
                        f"backward error over {s.runs} runs", labels, errors_at,
                        "data uniform on [0, 1], rounded to the format; backward error "
                        "|s_hat - s| / sum |x_i y_i|")


# ---------------------------------------------------------------- many small terms

def plot_many_small(fig, data):
    """Partial sums: RN, a few runs of the stochastic mode, exact; Kahan's final sum."""
    sr_label = rounding_label(data["settings"]["rounding"])
    for ax, name in format_panels(fig, data):
        c = data["curves"][name]
        k = np.array(c["k"])
        ax.plot(k, floats(c["RN"]), color="tab:red", lw=1.5, label="RN, recursive")
        for j, run_ in enumerate(c[sr_label]):
            ax.plot(k, floats(run_), color="tab:blue", lw=0.8, alpha=0.7,
                    label=f"{sr_label}, recursive ({len(c[sr_label])} "
                    "runs)" if j == 0 else None)
        ax.plot(k, floats(c["exact"]), color="black", lw=1, ls="--", label="exact")
        kahan = saved_float(data["results"][name]["kahan RN"]["mean"])
        ax.plot([k[-1]], [kahan], "o", color="tab:green", label="RN, Kahan (final sum)")
        ax.set_xlabel("number of terms")
        ax.set_ylabel("partial sum")
        ax.set_title(f"many small terms in {name}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")


@experiment("manysmall", "many small terms: 1e5 values uniform on [-0.002, 0.008]; RN "
            "recursive summation stalls, SR and Kahan do not", n=100_000, runs=20,
            formats=("binary16",), min_n=2, plot=plot_many_small)
def many_small(s):
    """Sum of n values uniform on [-0.002, 0.008] stored in the format (Connolly,
    Higham & Mary 2021): exact sum about 0.003 n."""
    n, runs = s.n, s.runs
    methods = ("recursive", "pairwise", "blocked", "kahan")
    modes = compared_modes(s.rounding)
    total = len(s.formats) * len(methods) * len(modes)
    done = 0
    rows, results, curves = [], {}, {}
    points = np.unique(np.linspace(1, n, min(n, 400)).astype(np.int64))
    for fi, fmt in enumerate(s.formats):
        rn = Context(fmt, "nearest")
        x = rn.round(np.random.default_rng(seed_for(s, 5, fi)).uniform(-0.002, 0.008, n))
        exact = math.fsum(x)
        rows.append([fmt.label, "exact", "-", exact, 0.0, 0.0])
        res = {"exact": exact}
        for mi, method in enumerate(methods):
            for di, mode in enumerate(modes):
                ctx = Context(fmt, mode, rng=seed_for(s, 6, fi, mi, di))
                if ctx.stochastic:
                    sums = rounded_sum(np.broadcast_to(x[:, None], (n, runs)), ctx, method,
                                       axis=0)
                else:
                    sums = np.array([rounded_sum(x, ctx, method)])
                mean = float(sums.mean())
                std = float(sums.std(ddof=1)) if sums.size > 1 else 0.0
                rows.append([fmt.label, method, rounding_label(mode), mean, std,
                             abs(mean - exact) / abs(exact)])
                res[f"{method} {rounding_label(mode)}"] = {"mean": mean, "std": std,
                                                   "sums": float_list(sums)}
                done += 1
                s.progress(done / total)
        results[fmt.label] = res
        sr_ctx = Context(fmt, s.rounding, rng=seed_for(s, 7, fi))
        shown = min(runs, 5)
        sr_partial = cumsum(np.broadcast_to(x[:, None], (n, shown)), sr_ctx, axis=0)
        curves[fmt.label] = {"k": points.tolist(),
                             "exact": float_list(np.cumsum(x)[points - 1]),
                             "RN": float_list(cumsum(x, rn)[points - 1]),
                             rounding_label(s.rounding): [float_list(sr_partial[points - 1, j])
                                                  for j in range(shown)]}
    columns = ["format", "method", "rounding", "sum (mean)", "std", "rel. error"]
    specs = ["s", "s", "s", ".6g", ".3g", ".2e"]
    notes = [f"{n} values uniform on [-0.002, 0.008] rounded to the format; stochastic "
             f"rows: mean and std over {runs} runs"]

    return Result("manysmall", "Many small terms: sum of values uniform on [-0.002, 0.008]",
                  columns, specs, rows, notes, {"results": results, "curves": curves})
