"""Experiments: results of the stochastic-rounding literature, reproduced with srround.

Each experiment is a function registered with ``@experiment``. It takes a
``Settings`` and returns a ``Result``: a table (printed), notes printed under it
(fitted slopes, stagnation points), every number in ``data`` (written as JSON) and a
``plot`` function that draws on a matplotlib Figure. ``python -m srround`` (see
srround/cli.py) runs them; nothing here prints, writes files or needs matplotlib.

    from srround import experiments
    result = experiments.run("harmonic", n=10**4, runs=5)
    print(experiments.format_table(result))

Sources: Higham & Pranesh (SISC 2019), Connolly, Higham & Mary (SISC 2021), Croci,
Fasi, Higham, Mary & Mikaitis (R. Soc. Open Sci. 2022), Fasi & Mikaitis (IEEE TETC
2021); see docs/experiments.md.
"""
import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from srround._core import ROUNDINGS, Context
from srround.formats import format as lookup
from srround.summation import cumsum, dot, sum as rounded_sum

__all__ = ["Settings", "Result", "Experiment", "EXPERIMENTS", "experiment", "run",
           "format_table", "fitted_slope"]


def _no_progress(fraction):
    pass


@dataclass(frozen=True)
class Settings:
    """What the command line can change. None means the experiment's default."""
    formats: tuple = None          # format names (or Formats)
    rounding: str = "stochastic"   # the mode compared against round to nearest
    n: int = None                  # problem size (the largest n where n varies)
    runs: int = None               # independent runs of each stochastic computation
    seed: int = 0
    progress: Callable = field(default=_no_progress, compare=False, repr=False)


@dataclass
class Result:
    name: str
    title: str
    columns: list        # column names
    specs: list          # a format spec per column ("s", "d", ".7g", ".3e", ...)
    rows: list           # lists of values
    notes: list          # lines printed under the table
    data: dict           # everything, for the JSON file
    plot: Callable = None   # plot(figure) draws the figure


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    function: Callable
    n: int
    runs: int
    formats: tuple
    min_n: int = 1


EXPERIMENTS = {}


def experiment(name, summary, *, n, runs, formats, min_n=1):
    """Register fn(settings) -> Result under name, with its defaults."""
    def register(fn):
        EXPERIMENTS[name] = Experiment(name, summary, fn, n, runs, tuple(formats), min_n)
        return fn
    return register


def run(name, settings=None, **changes):
    """Run the experiment called name; settings (or keyword changes to the default
    Settings) may leave fields None for the experiment's defaults."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    s = replace(settings or Settings(), **changes)
    s = replace(s, n=exp.n if s.n is None else int(s.n),
                runs=exp.runs if s.runs is None else int(s.runs),
                formats=exp.formats if s.formats is None else tuple(s.formats))
    if s.n < exp.min_n:
        raise ValueError(f"{name}: n must be at least {exp.min_n}, got {s.n}")
    if s.runs < 1:
        raise ValueError(f"runs must be at least 1, got {s.runs}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, (int, np.integer)) or s.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {s.seed!r}")
    if s.rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {s.rounding!r}; choose one of {ROUNDINGS}")
    s = replace(s, formats=tuple(lookup(f) for f in s.formats))
    result = exp.function(s)
    result.data = {"experiment": name, "title": result.title,
                   "settings": {"formats": [f.label for f in s.formats],
                                "rounding": s.rounding, "n": s.n, "runs": s.runs,
                                "seed": s.seed},
                   "columns": result.columns, "rows": result.rows, "notes": result.notes,
                   **result.data}
    return result


# ---------------------------------------------------------------- helpers

def format_table(result):
    """The result's table as text: a header, a rule and one line per row."""
    cells = [[_cell(v, spec) for v, spec in zip(row, result.specs)] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    left = [spec == "s" for spec in result.specs]

    def line(values):
        return "  ".join(v.ljust(w) if lf else v.rjust(w)
                         for v, w, lf in zip(values, widths, left)).rstrip()

    head = line(result.columns)
    return "\n".join([head, "-" * len(head)] + [line(r) for r in cells])


def _cell(value, spec):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def fitted_slope(ns, errors):
    """Least-squares slope of log(error) against log(n), over the positive errors
    (nan if fewer than two)."""
    ns, errors = np.asarray(ns, float), np.asarray(errors, float)
    keep = np.isfinite(errors) & (errors > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(ns[keep]), np.log(errors[keep]), 1)[0])


def _stream(settings, *key):
    """An independent, reproducible seed for one part of an experiment."""
    return np.random.SeedSequence(settings.seed, spawn_key=key)


def _sizes(n, smallest=8):
    """Powers of two from smallest up to n, and n itself."""
    sizes = []
    k = smallest
    while k < n:
        sizes.append(k)
        k *= 2
    return sizes + [n]


def _checkpoints(n, every=10):
    """1000, 10000, ... below n, and n."""
    points = []
    k = 1000
    while k < n:
        points.append(k)
        k *= every
    return points + [n]


def _curve_points(n, count=300):
    """About `count` log-spaced indices 1..n (for curves small enough for JSON)."""
    return np.unique(np.round(np.logspace(0, math.log10(n), count)).astype(np.int64))


def _short(rounding):
    return {"nearest": "RN", "stochastic": "SR", "stochastic_equal": "SR-equal",
            "nearest_away": "RNA", "toward_zero": "RZ", "up": "RU", "down": "RD",
            "odd": "RO"}[rounding]


def _floats(a):
    return [float(v) for v in np.asarray(a, float).ravel()]


def _exact_sums(X):
    """math.fsum of each column of X: the float64 nearest to the exact sum."""
    return np.array([math.fsum(X[:, j]) for j in range(X.shape[1])])


def _exact_dots(X, Y):
    """Columnwise sum of X * Y, correctly rounded to float64: each product split
    exactly into two doubles (Dekker's TwoProduct) and all parts summed by fsum."""
    p = X * Y
    split = 134217729.0   # 2**27 + 1 (Veltkamp)

    def halves(a):
        c = split * a
        hi = c - (c - a)
        return hi, a - hi

    xh, xl = halves(X)
    yh, yl = halves(Y)
    err = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return np.array([math.fsum(np.concatenate([p[:, j], err[:, j]]))
                     for j in range(X.shape[1])])


# ---------------------------------------------------------------- harmonic

@experiment("harmonic", "harmonic series: RN stagnates, SR tracks the exact sum; "
            "limited-bit SR in between", n=100_000, runs=40,
            formats=("binary16", "bfloat16"))
def harmonic(s):
    """s_k = fl(s_{k-1} + fl(1/k)) (Higham & Pranesh 2019; Fasi & Mikaitis 2021)."""
    n, runs = s.n, s.runs
    terms = 1.0 / np.arange(1, n + 1, dtype=np.float64)
    exact = np.cumsum(terms)
    exact_n = math.fsum(terms)
    points = _curve_points(n)
    checks = _checkpoints(n)
    variants = [(_short(s.rounding), s.rounding, None)]
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
        curve = {"k": points.tolist(), "exact": _floats(exact[points - 1]),
                 "RN": _floats(rn_partial[points - 1])}
        stats = {}
        for vi, (label, mode, bits) in enumerate(variants):
            ctx = Context(fmt, mode, bits=bits, rng=_stream(s, 1, fi, vi))
            lanes = np.broadcast_to(terms[:, None], (n, runs))
            partial = cumsum(ctx.round(lanes), ctx, axis=0)
            mean = partial.mean(axis=1)
            std = partial.std(axis=1, ddof=1) if runs > 1 else np.zeros(n)
            stats[label] = (mean, std)
            curve[label + " mean"] = _floats(mean[points - 1])
            curve[label + " std"] = _floats(std[points - 1])
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

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        for ax, fmt in zip(axes, s.formats):
            c = curves[fmt.label]
            k = np.array(c["k"])
            ax.plot(k, c["exact"], color="black", lw=1.5, label="exact")
            ax.plot(k, c["RN"], color="tab:red", lw=1.5, label="RN")
            colors = ["tab:blue", "tab:green", "tab:orange"]
            for (label, _, _), color in zip(variants, colors):
                mean, std = np.array(c[label + " mean"]), np.array(c[label + " std"])
                ax.plot(k, mean, color=color, lw=1.2, label=f"{label} (mean of {runs})")
                ax.fill_between(k, mean - std, mean + std, color=color, alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.set_xlabel("number of terms n")
            ax.set_ylabel("partial sum")
            ax.set_title(f"harmonic series in {fmt.label}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="upper left", fontsize=8)

    return Result("harmonic", f"Harmonic series s = fl(s + fl(1/k)), recursive summation "
                  f"({runs} runs for stochastic modes; mean and std)",
                  columns, specs, rows, notes,
                  {"exact_sum": exact_n, "stagnation": stagnation, "curves": curves}, plot)


# ---------------------------------------------------------------- summation and dot

def _group(label):
    """The curve family of a label: the method for "recursive RN", the label itself
    for dot's labels."""
    head, _, tail = label.rpartition(" ")
    return head if head and tail in ("RN", "SR", "SR-equal", "RNA", "RZ", "RU", "RD", "RO") \
        else label


def _error_table(s, name, title, labels, errors_at, data_note):
    """Shared by `summation` and `dot`: errors_at(fmt, fi, n, rng) -> {label: mean
    error}. Rows per (format, n); slopes fitted per (format, label)."""
    sizes = _sizes(s.n)
    total = len(s.formats) * len(sizes)
    done = 0
    rows, series, slopes = [], {}, {}
    for fi, fmt in enumerate(s.formats):
        u = fmt.unit_roundoff
        rng = np.random.default_rng(_stream(s, 2, fi))
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

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        for ax, fmt in zip(axes, s.formats):
            ser = series[fmt.label]
            ns = np.array(ser["n"])
            ax.plot(ns, ser["n*u"], "k--", lw=1, label="n u")
            ax.plot(ns, ser["sqrt(n)*u"], "k:", lw=1.2, label="sqrt(n) u")
            groups = list(dict.fromkeys(_group(label) for label in labels))
            colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
            for label in labels:
                vals = np.array(ser[label], float)
                rn_line = label.startswith("RN") or label.endswith(" RN")
                keep = np.isfinite(vals) & (vals > 0)
                color = colors[groups.index(_group(label)) % len(colors)]
                ax.plot(ns[keep], vals[keep], "-" if rn_line else "--", color=color,
                        marker="o" if rn_line else "s", ms=3,
                        label=f"{label} (slope {slopes[fmt.label][label]:.2f})")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("n")
            ax.set_ylabel("relative error")
            ax.set_title(f"{name} in {fmt.label}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")

    return Result(name, title, columns, specs, rows, notes,
                  {"sizes": sizes, "series": series, "slopes": slopes}, plot)


@experiment("summation", "error against n of recursive, pairwise and Kahan summation, "
            "RN vs SR, with the n*u and sqrt(n)*u bounds", n=2**14, runs=30,
            formats=("binary16",), min_n=8)
def summation(s):
    """Uniform [0, 1] data stored in the format (rounded to nearest); relative error
    |s_hat - s| / s, the backward error for positive data; mean over runs (new data
    and new random draws for every run)."""
    methods = ("recursive", "pairwise", "kahan")
    modes = ("nearest", s.rounding)
    labels = [f"{m} {_short(md)}" for m in methods for md in modes]

    def errors_at(fmt, fi, n, rng):
        rn = Context(fmt, "nearest")
        data = rn.round(rng.random((n, s.runs)))
        exact = _exact_sums(data)
        out = {}
        for mi, method in enumerate(methods):
            for di, mode in enumerate(modes):
                ctx = Context(fmt, mode, rng=_stream(s, 3, fi, n, mi, di))
                got = rounded_sum(data, ctx, method, axis=0)
                out[f"{method} {_short(mode)}"] = float(np.mean(np.abs(got - exact) / exact))
        return out

    return _error_table(s, "summation", f"Summation of n values uniform on [0, 1]: mean "
                        f"relative error over {s.runs} runs", labels, errors_at,
                        "data uniform on [0, 1], rounded to the format; error |s_hat - s| / s")


@experiment("dot", "inner-product backward error against n (uniform [0, 1] data), RN vs "
            "SR, and binary32 accumulation", n=2**14, runs=30,
            formats=("binary16",), min_n=8)
def dot_products(s):
    """x, y uniform [0, 1] in the format; backward error |s_hat - s| / sum |x_i y_i|;
    products rounded in the format, recursive accumulation in the format (or in
    binary32 for the mixed-precision column, as tensor cores do)."""
    modes = ("nearest", s.rounding)
    labels = [_short(md) for md in modes]
    from srround.formats import binary32

    mixed = None
    if all(f.precision < binary32.precision for f in s.formats):
        mixed = f"RN, {binary32.name} accumulate"
        labels.append(mixed)

    def errors_at(fmt, fi, n, rng):
        rn = Context(fmt, "nearest")
        X = rn.round(rng.random((n, s.runs)))
        Y = rn.round(rng.random((n, s.runs)))
        exact = _exact_dots(X, Y)
        scale = _exact_dots(np.abs(X), np.abs(Y))
        out = {}
        for di, mode in enumerate(modes):
            ctx = Context(fmt, mode, rng=_stream(s, 4, fi, n, di))
            got = dot(X, Y, ctx, axis=0)
            out[_short(mode)] = float(np.mean(np.abs(got - exact) / scale))
        if mixed:
            got = dot(X, Y, rn, axis=0, accumulate=Context(binary32, "nearest"))
            out[mixed] = float(np.mean(np.abs(got - exact) / scale))
        return out

    return _error_table(s, "dot", f"Inner products of n-vectors uniform on [0, 1]: mean "
                        f"backward error over {s.runs} runs", labels, errors_at,
                        "data uniform on [0, 1], rounded to the format; backward error "
                        "|s_hat - s| / sum |x_i y_i|")


# ---------------------------------------------------------------- many small terms

@experiment("manysmall", "many small terms: 1e5 values uniform on [-0.002, 0.008]; RN "
            "recursive summation stalls, SR and Kahan do not", n=100_000, runs=20,
            formats=("binary16",), min_n=2)
def many_small(s):
    """Sum of n values uniform on [-0.002, 0.008] stored in the format (Connolly,
    Higham & Mary 2021): exact sum about 0.003 n."""
    n, runs = s.n, s.runs
    methods = ("recursive", "pairwise", "blocked", "kahan")
    modes = ("nearest", s.rounding)
    total = len(s.formats) * len(methods) * len(modes)
    done = 0
    rows, results, curves = [], {}, {}
    points = np.unique(np.linspace(1, n, min(n, 400)).astype(np.int64))
    for fi, fmt in enumerate(s.formats):
        rn = Context(fmt, "nearest")
        x = rn.round(np.random.default_rng(_stream(s, 5, fi)).uniform(-0.002, 0.008, n))
        exact = math.fsum(x)
        rows.append([fmt.label, "exact", "-", exact, 0.0, 0.0])
        res = {"exact": exact}
        for mi, method in enumerate(methods):
            for di, mode in enumerate(modes):
                ctx = Context(fmt, mode, rng=_stream(s, 6, fi, mi, di))
                if ctx.stochastic:
                    sums = rounded_sum(np.broadcast_to(x[:, None], (n, runs)), ctx, method,
                                       axis=0)
                else:
                    sums = np.array([rounded_sum(x, ctx, method)])
                mean = float(sums.mean())
                std = float(sums.std(ddof=1)) if sums.size > 1 else 0.0
                rows.append([fmt.label, method, _short(mode), mean, std,
                             abs(mean - exact) / abs(exact)])
                res[f"{method} {_short(mode)}"] = {"mean": mean, "std": std,
                                                   "sums": _floats(sums)}
                done += 1
                s.progress(done / total)
        results[fmt.label] = res
        sr_ctx = Context(fmt, s.rounding, rng=_stream(s, 7, fi))
        shown = min(runs, 5)
        sr_partial = cumsum(np.broadcast_to(x[:, None], (n, shown)), sr_ctx, axis=0)
        curves[fmt.label] = {"k": points.tolist(),
                             "exact": _floats(np.cumsum(x)[points - 1]),
                             "RN": _floats(cumsum(x, rn)[points - 1]),
                             _short(s.rounding): [_floats(sr_partial[points - 1, j])
                                                  for j in range(shown)]}
    columns = ["format", "method", "rounding", "sum (mean)", "std", "rel. error"]
    specs = ["s", "s", "s", ".6g", ".3g", ".2e"]
    notes = [f"{n} values uniform on [-0.002, 0.008] rounded to the format; stochastic "
             f"rows: mean and std over {runs} runs"]

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        for ax, fmt in zip(axes, s.formats):
            c = curves[fmt.label]
            k = np.array(c["k"])
            ax.plot(k, c["RN"], color="tab:red", lw=1.5, label="RN, recursive")
            for j, run_ in enumerate(c[_short(s.rounding)]):
                ax.plot(k, run_, color="tab:blue", lw=0.8, alpha=0.7,
                        label=f"{_short(s.rounding)}, recursive ({len(c[_short(s.rounding)])} "
                        "runs)" if j == 0 else None)
            ax.plot(k, c["exact"], color="black", lw=1, ls="--", label="exact")
            kahan = results[fmt.label]["kahan RN"]["mean"]
            ax.plot([k[-1]], [kahan], "o", color="tab:green", label="RN, Kahan (final sum)")
            ax.set_xlabel("number of terms")
            ax.set_ylabel("partial sum")
            ax.set_title(f"many small terms in {fmt.label}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, loc="upper left")

    return Result("manysmall", "Many small terms: sum of values uniform on [-0.002, 0.008]",
                  columns, specs, rows, notes, {"results": results, "curves": curves}, plot)
