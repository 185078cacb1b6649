"""Hardware stochastic rounding: how few random bits, and the vendors' rules, bias a
long accumulation and an SGD-like update (Fitzgibbon & Felix, "On Stochastic
Rounding with Few Random Bits", ARITH 2025; El Arar, Fasi, Filip & Mikaitis,
"Limited-Precision Stochastic Rounding", 2026). Compared: round to nearest, exact SR,
SR with r = 2..16 random bits supplied by the caller (the hardware rule, F + R >=
2**r), NVIDIA's cvt.rs rule and the add-and-truncate trick
(srround.hardware.sr_rules; docs/hardware-sr.md). See docs/experiments.md."""
import numpy as np

from srround import Context
from srround.experiments.common import floats, seed_for
from srround.experiments.registry import Result, experiment
from srround.hardware.sr_rules import CVT_RS_BITS, add_and_truncate, nvidia_cvt_rs

__all__ = ["FEW_BITS", "WORKLOADS", "hardware_sr"]

FEW_BITS = tuple(range(2, 17))

WORKLOADS = {
    "accumulate": "s_k = fl(s_(k-1) + x_k), x_k uniform in [0, 2c) float32, c chosen so "
                  "that the exact sum ends near max / 8; error of s_n",
    "sgd": "w_k = fl(w_(k-1) - eta g_k), g_k = (w_(k-1) - w*) + N(0, 1/4) noise, w* = 1.3, "
           "w_0 = 1, eta = ulp(1) / 8; error of w_n against the same iteration in binary64",
}


def _rules(fmt, runs, n, rng):
    """(label, step) for every rule that applies to fmt: step(k, t) rounds the float64
    values t (one per run) at step k. Random integers are drawn up front."""
    rn = Context(fmt, "nearest")
    sr_ctx = Context(fmt, "stochastic", rng=rng.integers(2**63))
    rules = [("RN", lambda k, t: rn.round(t)), ("SR exact", lambda k, t: sr_ctx.round(t))]
    for r in FEW_BITS:
        ctx = Context(fmt, "stochastic", bits=r)
        R = rng.integers(0, 2**r, (n, runs), dtype=np.uint64)
        rules.append((f"SR {r} bits",
                      lambda k, t, u=ctx.round_given, R=R: u(t, R[k])))
    # the vendor rules take a float32 source: the exact value is rounded to float32
    # first, as an FP32 accumulator followed by a conversion instruction does
    target = next((name for name in CVT_RS_BITS if Context(name, "nearest").format == fmt),
                  None)
    if target is not None:
        width = CVT_RS_BITS[target]
        R = rng.integers(0, 2**width, (n, runs), dtype=np.uint64)
        rules.append((f"NVIDIA cvt.rs ({width} bits)",
                      lambda k, t, R=R: nvidia_cvt_rs(t.astype(np.float32), target, R[k])
                      .astype(np.float64)))
    if (fmt.emax, fmt.emin, fmt.subnormals) == (127, -126, True) and fmt.precision <= 24:
        d = 24 - fmt.precision
        R = rng.integers(0, 2**d, (n, runs), dtype=np.uint64)
        rules.append((f"add-and-truncate ({d} bits)",
                      lambda k, t, R=R: add_and_truncate(t.astype(np.float32), fmt, R[k])
                      .astype(np.float64)))
    return rules


def _accumulate(fmt, runs, n, rng, rules):
    c = fmt.max / 8 / n
    x = (rng.random((n, runs)) * 2 * c).astype(np.float32).astype(np.float64)
    exact = np.array([np.sum(np.sort(x[:, j])) for j in range(runs)])  # float64: ~1e-16
    results = {}
    for label, step in rules:
        s = np.zeros(runs)
        for k in range(n):
            s = step(k, s + x[k])          # s + x exact in binary64 (a few dozen bits)
        results[label] = s
    return results, exact


def _sgd(fmt, runs, n, rng, rules):
    eta = 2.0 ** (1 - fmt.precision) / 8
    target = 1.3
    noise = rng.standard_normal((n, runs)) / 2
    w_ref = np.ones(runs)
    for k in range(n):
        w_ref = w_ref - eta * ((w_ref - target) + noise[k])
    results = {}
    for label, step in rules:
        w = np.ones(runs)
        for k in range(n):
            w = step(k, w - eta * ((w - target) + noise[k]))
        results[label] = w
    return results, w_ref


def plot_hardware_sr(fig, data):
    """|relative bias| against the number of random bits, per workload and format, with
    RN, exact SR and the vendor rules as horizontal lines."""
    names = data["settings"]["formats"]
    axes = fig.subplots(len(WORKLOADS), len(names), squeeze=False)
    styles = {"RN": ("tab:red", "--"), "SR exact": ("black", "-")}
    for i, workload in enumerate(WORKLOADS):
        for j, name in enumerate(names):
            ax = axes[i][j]
            res = data["results"][workload][name]
            bits = [r for r in FEW_BITS if f"SR {r} bits" in res]
            ax.plot(bits, np.abs(floats([res[f"SR {r} bits"]["bias"] for r in bits])), "o-",
                    color="tab:blue", ms=4, label="SR, r random bits")
            others = [label for label in res if not label.startswith("SR ") or
                      label == "SR exact"]
            vendor = [label for label in others if label not in styles]
            for label in others:
                color, line = styles.get(label, (("tab:green", "tab:purple", "tab:orange")
                                                 [vendor.index(label) % 3]
                                                 if label in vendor else "gray", ":"))
                ax.axhline(abs(res[label]["bias"]), color=color, ls=line, lw=1.2, label=label)
            ax.set_yscale("log")
            ax.set_xlabel("random bits r")
            ax.set_ylabel("|relative bias|")
            ax.set_title(f"{workload}, {name}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)


@experiment("hardware", "SR as hardware does it: bias of accumulation and SGD with r = "
            "2..16 random bits, NVIDIA cvt.rs and add-and-truncate, vs exact SR",
            n=2048, runs=64, formats=("bfloat16", "e4m3"), min_n=16,
            plot=plot_hardware_sr, ignores=("rounding",), rows=len(WORKLOADS))
def hardware_sr(s):
    """For each format and workload (WORKLOADS): the final value of every run under
    each rule; relative bias = mean(error) / scale and relative RMS error, the scale
    being the exact sum (accumulate) or w* (sgd)."""
    rows, results = [], {w: {} for w in WORKLOADS}
    total = len(s.formats) * len(WORKLOADS)
    done = 0
    for fi, fmt in enumerate(s.formats):
        for wi, (workload, run) in enumerate((("accumulate", _accumulate), ("sgd", _sgd))):
            rng = np.random.default_rng(seed_for(s, 90, fi, wi))
            rules = _rules(fmt, s.runs, s.n, rng)
            finals, reference = run(fmt, s.runs, s.n, rng, rules)
            scale = float(np.mean(np.abs(reference)))
            per_rule = {}
            for label, _ in rules:
                err = finals[label] - reference
                bias = float(np.mean(err)) / scale
                rms = float(np.sqrt(np.mean(err ** 2))) / scale
                stderr = float(np.std(err) / np.sqrt(s.runs)) / scale
                per_rule[label] = {"bias": bias, "stderr": stderr, "rms": rms}
                rows.append([workload, fmt.label, label, bias, stderr, rms])
            results[workload][fmt.label] = per_rule
            done += 1
            s.progress(done / total)
    title = "Hardware SR: relative bias and RMS error of a long accumulation and SGD"
    notes = [f"{w}: {text}" for w, text in WORKLOADS.items()]
    notes.append("SR r bits: sr.round(..., 'stochastic', bits=r, random_bits=R), R uniform "
                 "in [0, 2**r): away iff F + R >= 2**r (F = the top r discarded bits)")
    notes.append("NVIDIA cvt.rs / add-and-truncate take a float32 source: the exact value "
                 "is rounded to float32 first (an FP32 accumulator, then the conversion)")
    notes.append("relative bias = mean(final - reference) / |reference| over the runs, with "
                 "its standard error (a bias within ~3 standard errors of 0 is noise); "
                 "the RMS error likewise")
    return Result("hardware", title,
                  ["workload", "format", "rule", "rel. bias", "std. err.", "rel. RMS"],
                  ["s", "s", "s", ".2e", ".1e", ".2e"], rows, notes,
                  {"workloads": WORKLOADS, "few_bits": list(FEW_BITS), "results": results})
