"""Tensor cores: the error of C = A B through Hopper's matrix instructions against K,
with and without the promotion of partial sums to binary32 every 128 terms that the
DeepSeek-V3 report introduced (arXiv 2412.19437, Sec. 3.3.2: Hopper's fp8 GEMMs keep
"around 14 bits" in accumulation, a maximum relative error of "nearly 2%" at
K = 4096), beside IEEE binary32 accumulation. The instructions are srround.hardware's
bit-exact models (docs/hardware-arithmetic.md). See docs/experiments.md."""
import numpy as np

from srround import Context
from srround.experiments.common import (fitted_slope, floats, powers_of_two_to, saved_float,
                                        seed_for)
from srround.experiments.registry import Result, experiment
from srround.formats import bfloat16, binary16, binary32, binary64, e4m3, e5m2, tf32
from srround.hardware import WGMMA, matmul as tensor_core_matmul
from srround.hardware.study import exact_matmul
from srround.rounding import round as round_to
from srround.summation import matmul as rounded_matmul

__all__ = ["HOPPER_INSTRUCTIONS", "DISTRIBUTIONS", "VARIANTS", "PROMOTE_EVERY",
           "DEEPSEEK_K", "DEEPSEEK_MAX_RELATIVE", "tensorcore"]

# The Hopper wgmma instruction that multiplies each input format, accumulating in f32:
# fp8 keeps F = 13 bits and rounds each step toward zero to 14 bits (e8m13); the
# 16-bit types and tf32 keep F = 25 and round toward zero into binary32.
HOPPER_INSTRUCTIONS = {
    e4m3: "m64n256k32.f32.e4m3.e4m3",
    e5m2: "m64n256k32.f32.e5m2.e5m2",
    bfloat16: "m64n256k16.f32.bf16.bf16",
    binary16: "m64n256k16.f32.f16.f16",
    tf32: "m64n256k8.f32.tf32.tf32",
}

# Input data, drawn in binary64 and rounded to nearest into the input format.
DISTRIBUTIONS = {
    "uniform": "uniform [0, 1): every product positive, the truncations add up",
    "normal": "standard normal: zero mean, the truncations of products partly cancel",
}

VARIANTS = {
    "TC": "the tensor core accumulates all of K (C carried from one instruction to "
          "the next)",
    "promote 128": "the tensor core's partial sum added into a binary32 accumulator "
                   "(round to nearest) every 128 terms (DeepSeek-V3)",
    "binary32": "recursive binary32 accumulation of the exact products, round to nearest "
                "at every addition",
}

PROMOTE_EVERY = 128
M = N = 32                     # each run multiplies a 32 x K matrix by a K x 32 one
SMALLEST_K = 256
DEEPSEEK_K = 4096
DEEPSEEK_MAX_RELATIVE = 0.02   # "nearly 2%" (DeepSeek-V3 report, Sec. 3.3.2)


def _binary32_accumulation(A, B, precision):
    """s = fl32(s + a_l b_l) from s = 0, l in increasing order, with the exact products.
    The products are formed in binary32 when they are exact there (at most 2 precision
    <= 24 significant bits, none below binary32's smallest normal or overflowing),
    which is faster; otherwise in binary64, where they always are for these formats."""
    nonzero_a, nonzero_b = np.abs(A[A != 0]), np.abs(B[B != 0])
    exact_in_binary32 = (2 * precision <= 24 and (nonzero_a.size == 0 or nonzero_b.size == 0
                         or (nonzero_a.min() * nonzero_b.min() >= 2.0**-126
                             and nonzero_a.max() * nonzero_b.max() < 2.0**128)))
    products = Context(binary32 if exact_in_binary32 else binary64, "nearest")
    return rounded_matmul(A, B, products, accumulate=Context(binary32, "nearest"))


def _errors(computed, exact, magnitude):
    """|computed - exact| / (|A| |B|), elementwise (0 where |A| |B| is 0)."""
    error = np.abs(np.asarray(computed, np.float64) - exact)
    return np.divide(error, magnitude, out=np.zeros_like(error), where=magnitude > 0)


def plot_tensorcore(fig, data):
    """Max error against K, one panel per input format: a color per variant, solid
    lines for uniform data and dashed for normal data, DeepSeek-V3's point on fp8."""
    names = list(data["series"])
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    colors = {"TC": "tab:red", "promote 128": "tab:blue", "binary32": "tab:green"}
    styles = {"uniform": ("-", "o"), "normal": ("--", "s")}
    for ax, name in zip(axes, names):
        for dist, per_variant in data["series"][name].items():
            line, marker = styles[dist]
            for variant, errs in per_variant.items():
                values = floats(errs["max"])
                keep = np.isfinite(values) & (values > 0)
                ax.plot(np.array(data["sizes"])[keep], values[keep], line, marker=marker, ms=4,
                        color=colors[variant], label=f"{variant}, {dist}")
        if name in data["deepseek"]:
            point = data["deepseek_statement"]
            ax.plot([point["K"]], [point["max_relative"]], "k*", ms=12,
                    label=f"DeepSeek-V3: nearly {100 * point['max_relative']:g}% "
                          f"at K = {point['K']}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("K")
        ax.set_ylabel("max |C - AB| / (|A| |B|)")
        ax.set_title(f"{name}: {data['instructions'][name]}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")


@experiment("tensorcore", "error of C = A B through Hopper's tensor-core models against K: "
            "fp8 (F = 13) and bf16 (F = 25), promoted every 128 or not, vs binary32",
            n=16384, runs=1, formats=("e4m3", "bfloat16"), min_n=SMALLEST_K,
            plot=plot_tensorcore, ignores=("rounding",))
def tensorcore(s):
    """For K = 256, 512, ... up to n: A (32 x K) and B (K x 32) of each distribution,
    rounded to nearest into the input format, multiplied three ways (VARIANTS);
    error of each element |C - AB| / (|A| |B|) against the exact product (relative
    error for uniform data), max and median over the elements of all runs."""
    supported = [f for f in s.formats if f in HOPPER_INSTRUCTIONS]
    unsupported = [f.label for f in s.formats if f not in HOPPER_INSTRUCTIONS]
    choices = ", ".join(f.label for f in HOPPER_INSTRUCTIONS)
    title = (f"C = A B (32 x K times K x 32) through Hopper's wgmma models against the exact "
             f"product ({s.runs} run{'s' if s.runs > 1 else ''} per K)")
    if not supported:
        why = (f"no Hopper wgmma instruction multiplies {', '.join(unsupported)}; "
               f"choose from {choices}")
        return Result("tensorcore", title, ["skipped"], ["s"], [], [f"skipped: {why}"],
                      {"skipped": why})
    sizes = powers_of_two_to(s.n, smallest=SMALLEST_K)
    steps = len(supported) * len(DISTRIBUTIONS) * len(sizes)
    done = 0
    rows, series, slopes, instructions, deepseek = [], {}, {}, {}, {}
    skipped_deepseek = False
    for fmt in supported:
        op = WGMMA("Hopper", HOPPER_INSTRUCTIONS[fmt])
        instructions[fmt.label] = (f"WGMMA('Hopper', '{op.shape_and_type}'), "
                                   f"F = {op.arithmetic.F}, L = {op.arithmetic.L}, "
                                   f"{op.arithmetic.rounding}")
        series[fmt.label], slopes[fmt.label] = {}, {}
        for di, dist in enumerate(DISTRIBUTIONS):
            maxima = {v: [] for v in VARIANTS}
            medians = {v: [] for v in VARIANTS}
            for K in sizes:
                errors = {v: [] for v in VARIANTS}
                for r in range(s.runs):
                    # the same binary64 draws for every format: only the rounding differs
                    rng = np.random.default_rng(seed_for(s, 70, di, K, r))
                    draw = rng.random if dist == "uniform" else rng.standard_normal
                    A, B = round_to(draw((M, K)), fmt), round_to(draw((K, N)), fmt)
                    exact = exact_matmul(A, B, fmt.precision)
                    magnitude = exact_matmul(np.abs(A), np.abs(B), fmt.precision)
                    computed = {
                        "TC": tensor_core_matmul(A, B, op),
                        "promote 128": tensor_core_matmul(A, B, op,
                                                          promote_every=PROMOTE_EVERY),
                        "binary32": _binary32_accumulation(A, B, fmt.precision)}
                    for v in VARIANTS:
                        errors[v].append(_errors(computed[v], exact, magnitude).ravel())
                row = [fmt.label, dist, K]
                for v in VARIANTS:
                    e = np.concatenate(errors[v])
                    maxima[v].append(float(e.max()))
                    medians[v].append(float(np.median(e)))
                    row += [maxima[v][-1], medians[v][-1]]
                rows.append(row)
                done += 1
                s.progress(done / steps)
            series[fmt.label][dist] = {v: {"max": maxima[v], "median": medians[v]}
                                       for v in VARIANTS}
            slopes[fmt.label][dist] = {v: fitted_slope(sizes, maxima[v]) for v in VARIANTS}
        if op.arithmetic.F == 13:      # fp8: beside the DeepSeek-V3 report's number
            if DEEPSEEK_K in sizes:
                at = sizes.index(DEEPSEEK_K)
                deepseek[fmt.label] = {dist: {v: series[fmt.label][dist][v]["max"][at]
                                              for v in ("TC", "promote 128")}
                                       for dist in DISTRIBUTIONS}
            else:
                skipped_deepseek = True

    columns = ["format", "data", "K"]
    for v in VARIANTS:
        columns += [f"{v} max", f"{v} median"]
    specs = ["s", "s", "d"] + [".2e"] * (2 * len(VARIANTS))
    notes = _notes(unsupported, choices, instructions, slopes, deepseek)
    if skipped_deepseek:
        notes.append(f"the DeepSeek-V3 comparison needs K = {DEEPSEEK_K}: run with --n "
                     f"{DEEPSEEK_K} or more")
    return Result("tensorcore", title, columns, specs, rows, notes,
                  {"sizes": sizes, "M": M, "N": N, "promote_every": PROMOTE_EVERY,
                   "instructions": instructions, "distributions": DISTRIBUTIONS,
                   "variants": VARIANTS, "series": series, "slopes": slopes,
                   "deepseek": deepseek,
                   "deepseek_statement": {"K": DEEPSEEK_K,
                                          "max_relative": DEEPSEEK_MAX_RELATIVE}})


def _notes(unsupported, choices, instructions, slopes, deepseek):
    notes = [f"{name}: {text}" for name, text in instructions.items()]
    notes += [f"{v}: {text}" for v, text in VARIANTS.items()]
    notes += [f"data {d}: {text}" for d, text in DISTRIBUTIONS.items()]
    notes.append("error = |C - AB| / (|A| |B|) per element, AB exact (float64 products "
                 "exact, summed exactly); for uniform data it is the relative error")
    for name, per_dist in deepseek.items():
        for dist, errs in per_dist.items():
            notes.append(f"{name}, K = {DEEPSEEK_K}, {dist} data: max error "
                         f"{100 * errs['TC']:.3g}% without promotion, "
                         f"{100 * errs['promote 128']:.3g}% promoted every {PROMOTE_EVERY}"
                         f" (DeepSeek-V3 report: nearly {100 * DEEPSEEK_MAX_RELATIVE:g}% "
                         "without promotion, test data not stated)")
    notes.append("fitted log-log slopes of the max error against K:")
    for name, per_dist in slopes.items():
        for dist, per_variant in per_dist.items():
            notes.append(f"  {name}, {dist}: " + ", ".join(
                f"{v} {saved_float(x):.2f}" for v, x in per_variant.items()))
    if unsupported:
        notes.append(f"skipped {', '.join(unsupported)}: no Hopper wgmma instruction "
                     f"multiplies it (choose from {choices})")
    return notes
