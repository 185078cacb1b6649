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


# ---------------------------------------------------------------- ODEs (srround.ode)

def _ode_modes(s):
    return (("RN", "nearest"), (_short(s.rounding), s.rounding))


def _negate(t, y, ctx):
    return ctx.multiply(-1.0, y)


@experiment("decay", "Euler on y' = -y, y(0) = 2^-6: RN stops moving once h*y is below "
            "half an ulp, SR follows the exact solution", n=2**14, runs=30,
            formats=("binary16", "bfloat16"), min_n=2)
def decay(s):
    """Explicit Euler y <- fl(y + fl(h * fl(-y))), t in [0, 1], n steps of h = 1/n
    (n a power of two, so h is exact); error |y_n - e^-1 2^-6| against n."""
    from srround.ode import solve_ivp
    y0, exact = 2.0**-6, math.exp(-1.0) * 2.0**-6
    sizes = _sizes(s.n, smallest=4)
    modes = _ode_modes(s)
    total, done = len(s.formats) * len(sizes), 0
    rows, series, slopes, stagnation = [], {}, {}, {}
    for fi, fmt in enumerate(s.formats):
        ser = {"n": sizes, "euler_exact_arithmetic": [], "RN": [], "RN stuck": [],
               f"{modes[1][0]} mean error": [], f"{modes[1][0]} std": []}
        for n in sizes:
            euler = y0 * (1 - 1.0 / n) ** n          # Euler in exact arithmetic (to 1e-16)
            rn = solve_ivp(_negate, (0.0, 1.0), y0, Context(fmt, "nearest"),
                           n_steps=n, save_every=None).y[-1]
            ctx = Context(fmt, modes[1][1], rng=_stream(s, 20, fi, n))
            ends = solve_ivp(_negate, (0.0, 1.0), y0, ctx, n_steps=n, n_runs=s.runs,
                             save_every=None).y[:, -1]
            mean, std = float(ends.mean()), float(ends.std(ddof=1)) if s.runs > 1 else 0.0
            row = [fmt.label, n, abs(euler - exact), abs(rn - exact), bool(rn == y0),
                   abs(mean - exact), std]
            rows.append(row)
            for key, v in zip(list(ser)[1:], row[2:]):
                ser[key].append(v)
            done += 1
            s.progress(done / total)
        stuck = [n for n, st in zip(sizes, ser["RN stuck"]) if st]
        stagnation[fmt.label] = min(stuck) if stuck else None
        series[fmt.label] = ser
        slopes[fmt.label] = {lab: fitted_slope(sizes, ser[lab])
                             for lab in ("RN", f"{modes[1][0]} mean error")}
    sr_label = modes[1][0]
    columns = ["format", "n", "exact Euler err", "RN err", "RN stuck", f"{sr_label} mean err",
               f"{sr_label} std"]
    specs = ["s", "d", ".2e", ".2e", "", ".2e", ".2e"]
    notes = [f"error |y_n - exp(-1)/64| at t = 1; {sr_label}: mean of {s.runs} runs; "
             "'RN stuck': y never leaves y(0) = 2^-6"]
    for name, first in stagnation.items():
        notes.append(f"RN in {name}: y stays exactly 2^-6 from n = {first} steps on"
                     if first else f"RN in {name}: still moving at n = {s.n}")
    notes.append("fitted log-log slopes of error against n: " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in sl.items())
        for name, sl in slopes.items()))

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        for ax, fmt in zip(axes, s.formats):
            ser = series[fmt.label]
            ns = np.array(ser["n"])
            ax.plot(ns, ser["euler_exact_arithmetic"], "k--", lw=1,
                    label="Euler, exact arithmetic")
            ax.plot(ns, ser["RN"], "o-", color="tab:red", ms=3, label="RN")
            mean = np.array(ser[f"{sr_label} mean error"])
            std = np.array(ser[f"{sr_label} std"])
            ax.plot(ns, mean, "s-", color="tab:blue", ms=3,
                    label=f"{sr_label}: |mean - exact| ({s.runs} runs)")
            ax.plot(ns, std, ":", color="tab:blue", label=f"{sr_label}: std of y_n")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("number of steps n (h = 1/n)")
            ax.set_ylabel("error at t = 1")
            ax.set_title(f"y' = -y, y(0) = 2^-6, Euler in {fmt.label}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)

    return Result("decay", "Explicit Euler on y' = -y, y(0) = 2^-6, t in [0, 1]: error "
                  "against the number of steps", columns, specs, rows, notes,
                  {"exact": exact, "series": series, "slopes": slopes,
                   "rn_stagnation_from_n": stagnation}, plot)


def _oscillator(t, y, ctx):
    return np.stack([y[..., 1], np.negative(y[..., 0])], axis=-1)   # negation is exact


@experiment("circle", "Euler on the unit circle u' = v, v' = -u: final radius, RN vs SR, "
            "against Euler in exact arithmetic", n=2**12, runs=30,
            formats=("binary16", "bfloat16"), min_n=8)
def circle(s):
    """u' = v, v' = -u, (u, v)(0) = (1, 0), t in [0, 2 pi], n steps. Explicit Euler
    multiplies the radius by sqrt(1 + h^2) each step (h the rounded step): exactly
    (1 + h^2)^(n/2) at the end, in exact arithmetic."""
    from srround.ode import solve_ivp
    T = 2 * math.pi
    sizes = _sizes(s.n, smallest=32)
    modes = _ode_modes(s)
    sr_label = modes[1][0]
    total, done = len(s.formats) * len(sizes), 0
    rows, series, paths = [], {}, {}
    shown = min(s.runs, 3)
    for fi, fmt in enumerate(s.formats):
        ser = {"n": sizes, "exact Euler": [], "RN": [], f"{sr_label} mean": [],
               f"{sr_label} std": []}
        for n in sizes:
            last = n == sizes[-1]
            every = max(1, n // 256) if last else None
            rn = solve_ivp(_oscillator, (0.0, T), [1.0, 0.0], Context(fmt, "nearest"),
                           n_steps=n, save_every=every)
            ctx = Context(fmt, modes[1][1], rng=_stream(s, 21, fi, n))
            st = solve_ivp(_oscillator, (0.0, T), [1.0, 0.0], ctx, n_steps=n,
                           n_runs=s.runs, save_every=every)
            radii = np.hypot(st.y[:, 0, -1], st.y[:, 1, -1])
            exact_euler = (1 + rn.h**2) ** (n / 2)
            row = [fmt.label, n, exact_euler, float(np.hypot(*rn.y[:, -1])),
                   float(radii.mean()), float(radii.std(ddof=1)) if s.runs > 1 else 0.0]
            rows.append(row)
            for key, v in zip(list(ser)[1:], row[2:]):
                ser[key].append(v)
            if last:
                paths[fmt.label] = {"n": n, "RN": rn.y.tolist(),
                                    sr_label: st.y[:shown].tolist()}
            done += 1
            s.progress(done / total)
        series[fmt.label] = ser
    columns = ["format", "n", "exact Euler r", "RN r", f"{sr_label} mean r", f"{sr_label} std"]
    specs = ["s", "d", ".5f", ".5f", ".5f", ".5f"]
    notes = [f"radius sqrt(u^2 + v^2) at t = 2 pi (exact solution: 1); {sr_label}: mean "
             f"of {s.runs} runs. Euler in exact arithmetic spirals out as (1 + h^2)^(n/2); "
             "RN's updates h*v, h*u fall below half an ulp near the axes, so it drifts off "
             "that value; SR keeps it on average"]

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        theta = np.linspace(0, 2 * math.pi, 400)
        for ax, fmt in zip(axes, s.formats):
            p = paths[fmt.label]
            ax.plot(np.cos(theta), np.sin(theta), "k--", lw=1, label="exact solution")
            rn = np.array(p["RN"])
            ax.plot(rn[0], rn[1], color="tab:red", lw=1.2, label="RN")
            for j, tr in enumerate(p[sr_label]):
                tr = np.array(tr)
                ax.plot(tr[0], tr[1], color="tab:blue", lw=0.8, alpha=0.7,
                        label=f"{sr_label} ({len(p[sr_label])} runs)" if j == 0 else None)
            ax.set_aspect("equal")
            ax.set_xlabel("u")
            ax.set_ylabel("v")
            ax.set_title(f"Euler, n = {p['n']} steps over [0, 2 pi], {fmt.label}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8, loc="upper right")

    return Result("circle", "Explicit Euler on the unit circle: radius after one period",
                  columns, specs, rows, notes, {"series": series, "paths": paths}, plot)


def _heat_fun(inv_dx2):
    def laplacian(t, u, ctx):
        """fl(fl(fl(u[i-1] + u[i+1]) - 2 u[i]) / dx^2), zero boundary values; 2 u and
        the scaling by 1/dx^2 (a power of two) are exact."""
        pad = np.zeros(u.shape[:-1] + (u.shape[-1] + 2,))
        pad[..., 1:-1] = u
        return ctx.multiply(inv_dx2, ctx.subtract(ctx.add(pad[..., :-2], pad[..., 2:]),
                                                  2.0 * u))
    return laplacian


@experiment("heat", "1D heat equation, explicit finite differences (Croci & Giles): "
            "rounding error against dt, RN vs SR, fitted slopes", n=2**13, runs=10,
            formats=("binary16", "bfloat16"), min_n=2)
def heat(s):
    """u_t = u_xx on [0, 1], u = 0 at both ends, u(0, x) = sin(pi x); 15 interior points
    (dx = 1/16), Euler in time to T = 1/16 with dt = 2^-9 (dt/dx^2 = 1/2) down to T/n.
    The error is the rounding error alone: max_i |u_i - v_i| at T, with v the same
    scheme in exact arithmetic (computed from the eigenvectors of the difference matrix)."""
    from srround.ode import solve_ivp
    m, T = 15, 2.0**-4
    dx = 1.0 / (m + 1)
    x = dx * np.arange(1, m + 1)
    u0 = np.sin(math.pi * x)
    fun = _heat_fun(1.0 / dx**2)
    j = np.arange(1, m + 1)
    V = math.sqrt(2 * dx) * np.sin(math.pi * np.outer(x, j))            # orthonormal
    lam = -4.0 / dx**2 * np.sin(math.pi * j * dx / 2) ** 2
    steps = [n for n in _sizes(s.n, smallest=32) if n >= T / (dx**2 / 2)]
    modes = _ode_modes(s)
    sr_label = modes[1][0]
    total, done = len(s.formats) * len(steps), 0
    rows, series, slopes = [], {}, {}
    for fi, fmt in enumerate(s.formats):
        start = np.asarray(Context(fmt, "nearest").round(u0))
        ser = {"n": steps, "dt": [T / n for n in steps], "RN": [], f"{sr_label} mean": [],
               f"{sr_label} std": []}
        for n in steps:
            dt = T / n
            exact_scheme = V @ ((1 + dt * lam) ** n * (V.T @ start))
            rn = solve_ivp(fun, (0.0, T), u0, Context(fmt, "nearest"), n_steps=n,
                           save_every=None).y[:, -1]
            ctx = Context(fmt, modes[1][1], rng=_stream(s, 22, fi, n))
            st = solve_ivp(fun, (0.0, T), u0, ctx, n_steps=n, n_runs=s.runs,
                           save_every=None).y[..., -1]
            errs = np.abs(st - exact_scheme).max(axis=-1)
            row = [fmt.label, n, dt, float(np.abs(rn - exact_scheme).max()),
                   float(errs.mean()), float(errs.std(ddof=1)) if s.runs > 1 else 0.0]
            rows.append(row)
            for key, v in zip(list(ser)[2:], row[3:]):
                ser[key].append(v)
            done += 1
            s.progress(done / total)
        series[fmt.label] = ser
        slopes[fmt.label] = {lab: fitted_slope(ser["dt"], ser[lab])
                             for lab in ("RN", f"{sr_label} mean")}
    columns = ["format", "steps", "dt", "RN error", f"{sr_label} mean error", f"{sr_label} std"]
    specs = ["s", "d", ".2e", ".2e", ".2e", ".2e"]
    notes = [f"rounding error max_i |u_i - v_i| at T = {T} (v: the scheme in exact "
             f"arithmetic); {sr_label}: mean over {s.runs} runs",
             "fitted log-log slopes of error against dt (Croci & Giles: RN -1, SR -1/4 in 1D):"]
    for name, sl in slopes.items():
        notes.append(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in sl.items()))

    def plot(fig):
        axes = fig.subplots(1, len(s.formats), squeeze=False)[0]
        for ax, fmt in zip(axes, s.formats):
            ser = series[fmt.label]
            dts = np.array(ser["dt"])
            u = fmt.unit_roundoff
            ax.plot(dts, ser["RN"], "o-", color="tab:red", ms=3,
                    label=f"RN (slope {slopes[fmt.label]['RN']:.2f})")
            ax.plot(dts, ser[f"{sr_label} mean"], "s-", color="tab:blue", ms=3,
                    label=f"{sr_label} mean (slope "
                          f"{slopes[fmt.label][f'{sr_label} mean']:.2f})")
            ax.plot(dts, u * dts[0] / dts * 0.1, "k--", lw=1, label="~ u / dt")
            ax.plot(dts, u * (dts[0] / dts) ** 0.25, "k:", lw=1.2, label="~ u / dt^(1/4)")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("dt")
            ax.set_ylabel("rounding error (max norm) at T")
            ax.set_title(f"heat equation, dx = 1/16, {fmt.label}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)

    return Result("heat", "1D heat equation, explicit Euler in time: rounding error against "
                  "dt", columns, specs, rows, notes, {"series": series, "slopes": slopes},
                  plot)


def _lorenz(sigma, rho, beta):
    def fun(t, s, ctx):
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        mul, sub = ctx.multiply, ctx.subtract
        return np.stack([mul(sigma, sub(y, x)), sub(mul(x, sub(rho, z)), y),
                         sub(mul(x, y), mul(beta, z))], axis=-1)
    return fun


def _lorenz_reference(beta, T, t_eval):
    """SciPy's DOP853 in binary64 (rtol 1e-12, atol 1e-14); without SciPy, RK4 in
    binary64 with a step 64 times smaller (within 1e-7 of DOP853 at t = 20)."""
    from srround.ode import reference_solution, solve_ivp
    from srround.formats import binary64
    try:
        return reference_solution(
            lambda t, v: [10.0 * (v[1] - v[0]), v[0] * (28.0 - v[2]) - v[1],
                          v[0] * v[1] - beta * v[2]], (0.0, T), [1.0, 1.0, 1.0], t_eval)
    except ImportError:
        fine = 64
        res = solve_ivp(_lorenz(10.0, 28.0, beta), (0.0, T), [1.0, 1.0, 1.0],
                        Context(binary64, "nearest"), method="rk4",
                        n_steps=fine * (len(t_eval) - 1), save_every=fine)
        return res.y


@experiment("lorenz", "Lorenz system with RK4 in several formats: time until the solution "
            "leaves the binary64 reference, RN vs SR", n=2560, runs=10,
            formats=("binary16", "bfloat16", "binary32"), min_n=16)
def lorenz(s):
    """x' = 10 (y - x), y' = x (28 - z) - y, z' = x y - beta z (beta = 8/3 rounded to
    the format, the same beta in the reference), (1, 1, 1) at t = 0; RK4 with
    h = 2^-7 for n steps. Reference: SciPy DOP853 with rtol 1e-12, atol 1e-14. A run
    has diverged when |state - reference| > 1 (the attractor is about 40 wide)."""
    from srround.ode import solve_ivp
    h = 2.0**-7
    T = s.n * h
    modes = _ode_modes(s)
    fmts = list(s.formats)
    total, done = len(fmts) * 2, 0
    rows, curves, results = [], {}, {}
    for fi, fmt in enumerate(fmts):
        beta = float(Context(fmt, "nearest").round(8.0 / 3.0))
        fun = _lorenz(10.0, 28.0, beta)
        ref = None
        curves[fmt.label] = {}
        results[fmt.label] = {}
        for mi, (label, mode) in enumerate(modes):
            ctx = Context(fmt, mode, rng=_stream(s, 23, fi, mi))
            runs = s.runs if ctx.stochastic else None
            res = solve_ivp(fun, (0.0, T), [1.0, 1.0, 1.0], ctx, method="rk4",
                            n_steps=s.n, n_runs=runs)
            if ref is None:
                ref = _lorenz_reference(beta, T, res.t)
                curves[fmt.label]["t"] = _floats(res.t[::4])
                curves[fmt.label]["reference x"] = _floats(ref[0, ::4])
            Y = res.y if runs else res.y[None]
            dist = np.sqrt(((Y - ref) ** 2).sum(axis=1))          # (runs, n_saved)
            off = dist > 1.0
            t_div = np.where(off.any(axis=1), res.t[np.argmax(off, axis=1)], np.inf)
            z_mean = Y[:, 2, res.t >= T / 2].mean(axis=1)
            finite = np.isfinite(t_div)
            rows.append([fmt.label, label, len(Y), float(np.mean(t_div[finite]))
                         if finite.any() else math.inf, int((~finite).sum()),
                         float(z_mean.mean()), float(ref[2, res.t >= T / 2].mean())])
            results[fmt.label][label] = {"divergence_times": _floats(t_div),
                                         "z_mean": _floats(z_mean)}
            curves[fmt.label][label] = [_floats(y[0, ::4]) for y in Y[:3]]
            done += 1
            s.progress(done / total)
    columns = ["format", "rounding", "runs", "mean t diverged", "never diverged",
               "mean z (2nd half)", "reference mean z"]
    specs = ["s", "s", "d", ".2f", "d", ".3f", ".3f"]
    notes = [f"RK4, h = 2^-7, t in [0, {T:g}]; diverged: first t with |state - reference| "
             "> 1 (chaos amplifies each rounding error by about e^(0.9 t)); mean z over "
             "the second half measures whether the attractor itself is right"]

    def plot(fig):
        axes = fig.subplots(1, len(fmts), squeeze=False)[0]
        for ax, fmt in zip(axes, fmts):
            c = curves[fmt.label]
            t = np.array(c["t"])
            ax.plot(t, c["reference x"], "k", lw=1.2, label="reference (binary64)")
            ax.plot(t, c["RN"][0], color="tab:red", lw=0.9, label="RN")
            for j, xs in enumerate(c[modes[1][0]]):
                ax.plot(t, xs, color="tab:blue", lw=0.7, alpha=0.6,
                        label=f"{modes[1][0]} (3 runs)" if j == 0 else None)
            ax.set_xlabel("t")
            ax.set_ylabel("x(t)")
            ax.set_title(f"Lorenz, RK4 in {fmt.label}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8, loc="lower left")

    return Result("lorenz", "Lorenz system, RK4 with h = 2^-7: how long each format "
                  "follows the reference", columns, specs, rows, notes,
                  {"results": results, "curves": curves}, plot)


# ---------------------------------------------------------------- quantization (issue 6)
# Three worked examples for srround.quantize: `signal` (a slow sine through a coarse
# quantizer), `lowprec_training` (weights stored in bfloat16 / 8-bit fixed point, RN vs
# SR updates; Gupta et al. 2015) and `compress` (post-training quantization of the
# same network). The two network examples need scikit-learn's digits data (the
# [examples] extra); without it they return an empty table saying so.

def _digits(seed):
    """sklearn's digits (8x8 images, 1797 samples) scaled to [0, 1], split 1297/500
    by a seeded permutation; None when scikit-learn is missing."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(60,))).permutation(
        len(y))
    train, test = order[:1297], order[1297:]
    return X[train], y[train], X[test], y[test]


def _skipped(name, title, why="scikit-learn is not installed (pip install 'srround[examples]')"):
    return Result(name, title, ["skipped"], ["s"], [], [f"skipped: {why}"],
                  {"skipped": why}, None)


def _mlp_init(seed, hidden=32):
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(61,)))
    return {"W1": (rng.standard_normal((64, hidden)) * math.sqrt(2 / 64)).astype(np.float32),
            "b1": np.zeros(hidden, np.float32),
            "W2": (rng.standard_normal((hidden, 10)) * math.sqrt(2 / hidden)).astype(
                np.float32),
            "b2": np.zeros(10, np.float32)}


def _mlp_forward(p, X):
    h = np.maximum(X @ p["W1"] + p["b1"], 0)
    return h, h @ p["W2"] + p["b2"]


def _mlp_accuracy(p, X, y):
    return float(np.mean(np.argmax(_mlp_forward(p, X)[1], axis=1) == y))


def _mlp_grads(p, X, y):
    """Gradients of the mean cross-entropy (softmax output), in float32."""
    h, z = _mlp_forward(p, X)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    d2 = e / e.sum(axis=1, keepdims=True)
    d2[np.arange(len(y)), y] -= 1
    d2 /= len(y)
    d1 = (d2 @ p["W2"].T) * (h > 0)
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h.T @ d2, "b2": d2.sum(axis=0)}


def _mlp_train(data, seed, epochs, lr, store=None, batch=32, on_epoch=None):
    """Minibatch SGD. store(name, w, update) returns the new stored weights (default
    float32: w - update); the initial weights go through store(name, w, 0)."""
    Xtr, ytr, Xte, yte = data
    p = _mlp_init(seed)
    if store is not None:
        p = {k: store(k, v, np.zeros_like(v)) for k, v in p.items()}
    order_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(62,)))
    accuracy = []
    for epoch in range(epochs):
        order = order_rng.permutation(len(ytr))
        for start in range(0, len(ytr), batch):
            idx = order[start:start + batch]
            g = _mlp_grads(p, Xtr[idx], ytr[idx])
            for k in p:
                update = (np.float32(lr) * g[k]).astype(np.float32)
                p[k] = p[k] - update if store is None else store(k, p[k], update)
        accuracy.append(_mlp_accuracy(p, Xte, yte))
        if on_epoch is not None:
            on_epoch(epoch)
    return p, accuracy


# ---- lowprec_training

def _fixed_store(n_frac, rounding, rng):
    """Store weights in 8-bit fixed point Q(7-n).n: w <- round(w - update) on the grid
    2**-n, saturating, one rounding per update."""
    from srround.quantize import _IntegerRounder
    rounder = _IntegerRounder(rounding, rng)
    top = 2 ** 7

    def store(name, w, update):
        v = np.clip(np.ldexp(w.astype(np.float64) - update, n_frac), -top, top - 1)
        return np.ldexp(rounder(v), -n_frac).astype(np.float32)
    return store


def _float_store(fmt, rounding, rng):
    """Store weights in a float format: w <- fl(w - update), the exact difference
    rounded once (Context.subtract)."""
    ctx = Context(fmt, rounding, rng=rng)

    def store(name, w, update):
        return ctx.subtract(w, update).astype(np.float32)
    return store


_FIXED_FRACTION_BITS = 6     # Q1.6: 8-bit words, range [-2, 2), spacing 1/64


@experiment("lowprec_training", "low-precision training: weights stored in bfloat16 or "
            "8-bit fixed point, RN updates stall, SR gets close to float32 (needs "
            "scikit-learn)", n=20, runs=2, formats=("bfloat16",))
def lowprec_training(s):
    """A 64-32-10 MLP on sklearn's digits, minibatch SGD (lr 0.005, batch 16); the
    stored weights are rounded after every update (Gupta et al. 2015). n: epochs;
    runs: independent SR trainings (the table shows their mean)."""
    title = (f"64-32-10 MLP on digits, weights stored in low precision "
             f"({s.n} epochs; SR: {s.runs} runs)")
    data = _digits(s.seed)
    if data is None:
        return _skipped("lowprec_training", title)
    epochs, lr, batch = s.n, 0.005, 16
    mode = s.rounding
    variants = [("float32", None, None)]
    for fmt in s.formats:
        variants += [(f"{fmt.label} RN", fmt, "nearest"), (f"{fmt.label} {_short(mode)}", fmt,
                                                              mode)]
    q_label = f"fixed Q1.{_FIXED_FRACTION_BITS}"
    variants += [(f"{q_label} RN", "fixed", "nearest"), (f"{q_label} {_short(mode)}", "fixed",
                                                         mode)]
    jobs = sum(1 if r in (None, "nearest") else s.runs for _, _, r in variants)
    done = [0]

    def tick(epoch):
        if epoch == epochs - 1:
            done[0] += 1
            s.progress(done[0] / jobs)

    curves, rows = {}, []
    for vi, (label, fmt, rounding) in enumerate(variants):
        runs = 1 if rounding in (None, "nearest") else s.runs
        accs = []
        for r in range(runs):
            seed = _stream(s, 63, vi, r)
            if fmt is None:
                store = None
            elif fmt == "fixed":
                store = _fixed_store(_FIXED_FRACTION_BITS, rounding, seed)
            else:
                store = _float_store(fmt, rounding, seed)
            _, acc = _mlp_train(data, s.seed, epochs, lr, store, batch, on_epoch=tick)
            accs.append(acc)
        accs = np.array(accs)
        curves[label] = {"mean": _floats(accs.mean(axis=0)), "runs": accs.tolist()}
        rows.append([label, runs, float(accs[:, 0].mean()), float(accs[:, -1].mean()),
                     float(accs[:, -1].min()), float(accs[:, -1].max())])
    final = {row[0]: row[3] for row in rows}
    notes = ["forward and backward passes in float32; only the stored weights are rounded, "
             "w <- round(w - lr * g) once per update (initial weights rounded to nearest)",
             f"final test accuracy: float32 {final['float32']:.3f}; "
             + "; ".join(f"{k} {v:.3f}" for k, v in final.items() if k != "float32")]

    def plot(fig):
        ax = fig.subplots()
        colors = {"float32": "black"}
        palette = iter(["tab:red", "tab:blue", "tab:orange", "tab:green", "tab:purple",
                        "tab:brown"])
        for label, c in curves.items():
            color = colors.get(label) or next(palette)
            e = np.arange(1, epochs + 1)
            ax.plot(e, c["mean"], "-" if " RN" in label or label == "float32" else "--",
                    color=color, marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")

    return Result("lowprec_training", title,
                  ["weights", "runs", "acc. epoch 1", "final acc.", "min", "max"],
                  ["s", "d", ".3f", ".3f", ".3f", ".3f"], rows, notes,
                  {"curves": curves, "final": final, "lr": lr, "batch": batch}, plot)


# ---- compress

@experiment("compress", "model compression: a float32 MLP on digits, weights quantized to "
            "int8 (per tensor, per channel), int4, fp8, MXFP4: size and accuracy (needs "
            "scikit-learn)", n=15, runs=5, formats=("e4m3",))
def compress(s):
    """Post-training weight quantization of the 64-32-10 MLP (trained with lr 0.1,
    batch 32; W1, W2 quantized, biases stay float32). n: training epochs; runs: SR draws for the stochastic rows."""
    from srround import quantize as qz
    title = f"Weight quantization of a 64-32-10 MLP on digits ({s.n} epochs in float32)"
    data = _digits(s.seed)
    if data is None:
        return _skipped("compress", title)
    Xte, yte = data[2], data[3]
    p, _ = _mlp_train(data, s.seed, s.n, 0.1)
    base_acc = _mlp_accuracy(p, Xte, yte)
    weights = ("W1", "W2")
    base_bytes = sum(p[k].nbytes for k in weights)
    mode = s.rounding

    def quantizers(rng):
        # channel = output unit (axis 1); MX blocks of 32 along the inputs (axis 0)
        out = [("int8 per-tensor", lambda w: qz.uniform(w, 8, rounding="nearest")),
               ("int8 per-channel", lambda w: qz.uniform(w, 8, axis=1)),
               ("int4 per-tensor", lambda w: qz.uniform(w, 4)),
               ("int4 per-channel", lambda w: qz.uniform(w, 4, axis=1)),
               (f"int4 per-channel {_short(mode)}",
                lambda w: qz.uniform(w, 4, axis=1, rounding=mode, rng=rng))]
        for fmt in s.formats:
            out.append((f"{fmt.label} (cast)", lambda w, f=fmt: sr_round_cast(w, f)))
        out += [("MXFP8", lambda w: qz.mx(w, "mxfp8", axis=0)),
                ("MXFP4", lambda w: qz.mx(w, "mxfp4", axis=0)),
                (f"MXFP4 {_short(mode)}", lambda w: qz.mx(w, "mxfp4", axis=0,
                                                          rounding=mode, rng=rng))]
        return out

    def sr_round_cast(w, fmt):
        from srround.rounding import round as sr_round
        bits = 1 + (fmt.precision - 1) + max(1, math.ceil(math.log2(fmt.emax - fmt.emin + 2)))
        values = sr_round(w, fmt)
        return _Cast(values, bits)

    labels = [label for label, _ in quantizers(None)]
    rows = [["float32", base_bytes, 0.0, base_acc, 0.0, math.inf]]
    results = {"float32": {"bytes": base_bytes, "accuracy": base_acc}}
    for li, label in enumerate(labels):
        stochastic = label.endswith(" " + _short(mode)) and mode != "nearest"
        runs = s.runs if stochastic else 1
        accs, sqnrs = [], []
        for r in range(runs):
            fn = dict(quantizers(_stream(s, 64, li, r)))[label]
            qp = dict(p)
            size = 0
            sq = []
            for k in weights:
                t = fn(p[k])
                qp[k] = t.dequantize().astype(np.float32)
                size += t.nbytes
                sq.append(qz.sqnr_db(p[k], qp[k]))
            accs.append(_mlp_accuracy(qp, Xte, yte))
            sqnrs.append(float(np.mean(sq)))
        acc = float(np.mean(accs))
        rows.append([label, size, 100.0 * (size / base_bytes - 1), acc, 100 * (acc - base_acc),
                     float(np.mean(sqnrs))])
        results[label] = {"bytes": size, "accuracy": acc, "accuracies": accs,
                          "sqnr_db": float(np.mean(sqnrs))}
        s.progress((li + 1) / len(labels))
    notes = [f"float32 test accuracy {base_acc:.3f} (500 test images); weights W1 (64x32) "
             f"and W2 (32x10), {base_bytes} bytes; sizes include scales (float32) and MX "
             f"shared exponents (1 byte per block of 32); biases stay float32",
             f"stochastic rows: mean of {s.runs} draws; SR adds noise to a one-shot "
             "quantization (its strength is unbiasedness across many roundings)"]

    def plot(fig):
        ax = fig.subplots()
        names = [row[0] for row in rows]
        sizes = [row[1] for row in rows]
        accs = [row[3] for row in rows]
        ax.scatter(sizes, accs, color="tab:blue")
        for name, x_, y_ in zip(names, sizes, accs):
            ax.annotate(name, (x_, y_), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("weight storage (bytes)")
        ax.set_ylabel("test accuracy")
        ax.grid(True, which="both", alpha=0.3)

    return Result("compress", title,
                  ["weights", "bytes", "size %", "accuracy", "change (pp)", "SQNR dB"],
                  ["s", "d", "+.1f", ".3f", "+.1f", ".1f"], rows, notes,
                  {"results": results}, plot)


class _Cast:
    """A plain cast to a small float format, in the quantized-tensor shape."""

    def __init__(self, values, bits):
        self.values, self.bits = values, bits

    def dequantize(self):
        return self.values

    @property
    def nbytes(self):
        return (self.values.size * self.bits + 7) // 8


# ---- signal

@experiment("signal", "a slow sine of 0.3 to 3 quantization steps through a coarse "
            "quantizer: RN dead zone and harmonics vs SR unbiased after low-pass",
            n=16384, runs=20, formats=("binary64",), min_n=1024)
def signal(s):
    """x = A sin(2 pi f0 t / n), f0 = n / 2048 cycles (2048 samples per period),
    quantized with step 1 (4-bit fixed point Q3.0) by RN and by the chosen mode.
    Spectra by FFT (coherent sampling, no window); low-pass: keep bins up to 10 f0."""
    from srround import quantize as qz
    n, runs = s.n, s.runs
    f0 = max(1, n // 2048)
    cutoff = 10 * f0
    t = np.arange(n)
    amplitudes = (0.3, 0.7, 1.5, 3.0)
    modes = ("nearest", s.rounding)

    def lowpass(y):
        Y = np.fft.rfft(y, axis=-1)
        Y[..., cutoff + 1:] = 0
        return np.fft.irfft(Y, n, axis=-1)

    def spectrum_metrics(y, A):
        Y = np.fft.rfft(y, axis=-1)
        P = np.abs(Y) ** 2
        fund = P[..., f0]
        harm = P[..., [h * f0 for h in range(2, 10) if h * f0 <= n // 2]].sum(axis=-1)
        rest = P[..., 1:].sum(axis=-1) - fund
        gain = 2 * np.abs(Y[..., f0]) / (n * A)
        with np.errstate(divide="ignore", invalid="ignore"):
            thd = 10 * np.log10(harm / fund)
            sinad = 10 * np.log10(fund / rest)
        return gain, thd, sinad

    rows, results, shown = [], {}, {}
    total = len(amplitudes) * len(modes)
    for ai, A in enumerate(amplitudes):
        x = A * np.sin(2 * np.pi * f0 * t / n)
        px = float(np.mean(x ** 2))
        for mi, mode in enumerate(modes):
            stochastic = mode.startswith("stochastic")
            reps = runs if stochastic else 1
            y = qz.fixed(np.broadcast_to(x, (reps, n)), 3, 0, rounding=mode,
                         rng=_stream(s, 65, ai, mi)).dequantize()
            gain, thd, sinad = spectrum_metrics(y, A)
            err_lp = np.mean((lowpass(y) - x) ** 2, axis=-1)
            err_avg = float(np.mean((lowpass(y.mean(axis=0)) - x) ** 2))
            snr_lp = 10 * np.log10(px / err_lp)
            snr_avg = 10 * math.log10(px / err_avg)
            label = _short(mode)
            r = {"gain": float(gain.mean()), "gain_std": float(gain.std(ddof=1)) if reps > 1
                 else 0.0, "thd_db": float(np.mean(thd)), "sinad_db": float(np.mean(sinad)),
                 "lowpass_snr_db": float(np.mean(snr_lp)), "averaged_snr_db": snr_avg,
                 "runs": reps, "bias": float(np.mean(y - x)),
                 "output_levels": sorted(set(np.unique(y).tolist()))}
            results[f"A={A} {label}"] = r
            rows.append([A, label, r["gain"], r["thd_db"], r["sinad_db"], r["lowpass_snr_db"],
                         snr_avg if reps > 1 else math.nan])
            if A in (0.7, 1.5):
                Y = np.abs(np.fft.rfft(y[0])) * 2 / n
                keep = np.unique(np.round(np.logspace(0, math.log10(n // 2), 400)).astype(int))
                shown[f"A={A} {label}"] = {
                    "period": _floats(y[0, :n // f0]), "lowpass": _floats(lowpass(y[0])[:n // f0]),
                    "spectrum_bins": keep.tolist(), "spectrum": _floats(Y[keep])}
            s.progress((ai * len(modes) + mi + 1) / total)
    notes = [f"n = {n} samples, {f0} periods, quantization step 1 (Q3.0, saturating at -8 "
             f"and 7); low-pass keeps the first {cutoff} frequency bins (10 f0)",
             "gain: fundamental amplitude of the output / A (1 = unbiased); THD over harmonics "
             "2..9; SINAD over the whole band; SNR of the low-passed output against x; last "
             f"column: {_short(s.rounding)} outputs averaged over {runs} runs, then low-passed"]

    def plot(fig):
        fig.set_size_inches(12.8, 4.8)
        ax1, ax2 = fig.subplots(1, 2)
        period = np.arange(n // f0)
        ax1.plot(period, (0.7 * np.sin(2 * np.pi * period * f0 / n)), color="black", lw=1.5,
                 label="x (A = 0.7 steps)")
        ax1.plot(period, shown["A=0.7 RN"]["period"], color="tab:red", lw=1.5, label="RN")
        sl = f"A=0.7 {_short(s.rounding)}"
        ax1.plot(period, shown[sl]["period"], color="tab:blue", lw=0.3, alpha=0.4,
                 label=f"{_short(s.rounding)} (one run)")
        ax1.plot(period, shown[sl]["lowpass"], color="tab:blue", lw=1.5,
                 label=f"{_short(s.rounding)}, low-passed")
        ax1.set_xlabel("sample (one period)")
        ax1.set_ylabel("value (quantization steps)")
        ax1.set_title("one period, A = 0.7 steps")
        ax1.legend(fontsize=8, loc="lower left")
        ax1.grid(True, alpha=0.3)
        for key, color in (("A=1.5 RN", "tab:red"), (f"A=1.5 {_short(s.rounding)}",
                                                      "tab:blue")):
            bins = np.array(shown[key]["spectrum_bins"]) / f0
            mag = np.maximum(np.array(shown[key]["spectrum"]), 1e-12)
            ax2.plot(bins, 20 * np.log10(mag), color=color, lw=1, label=key.split()[1])
        ax2.set_xscale("log")
        ax2.set_ylim(-140, 10)
        ax2.set_xlabel("frequency / f0")
        ax2.set_ylabel("amplitude (dB re 1 step)")
        ax2.set_title("spectrum, A = 1.5 steps (one run)")
        ax2.legend(fontsize=8)
        ax2.grid(True, which="both", alpha=0.3)

    return Result("signal", f"A slow sine through a step-1 quantizer: RN vs "
                  f"{_short(s.rounding)} ({runs} runs)",
                  ["A (steps)", "rounding", "gain", "THD dB", "SINAD dB", "low-pass SNR dB",
                   "averaged SNR dB"],
                  [".1f", "s", ".3f", ".1f", ".1f", ".1f", ".1f"], rows, notes,
                  {"results": results, "shown": shown, "f0": f0, "cutoff_bin": cutoff}, plot)
