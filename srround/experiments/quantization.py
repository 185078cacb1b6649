"""Quantization: three worked examples for srround.quantize. `lowprec_training`
(weights stored in bfloat16 / 8-bit fixed point, RN vs SR updates; Gupta et al.
2015), `compress` (post-training quantization of the same network) and `signal` (a
slow sine through a coarse quantizer). The two network examples need scikit-learn's
digits data (the [examples] extra); without it they return an empty table saying so.
See docs/experiments.md."""
import math

import numpy as np

from srround import quantize as qz
from srround import Context
from srround.experiments.common import compared_modes, float_list, floats, rounding_label, seed_for
from srround.experiments.registry import Result, experiment
from srround.rounding import round as sr_round


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
                  {"skipped": why})


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
    rounder = qz.integer_rounder(rounding, rng=rng)
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


def plot_lowprec_training(fig, data):
    """Test accuracy against epoch, one line per way of storing the weights."""
    ax = fig.subplots()
    colors = {"float32": "black"}
    palette = iter(["tab:red", "tab:blue", "tab:orange", "tab:green", "tab:purple",
                    "tab:brown"])
    for label, c in data["curves"].items():
        color = colors.get(label) or next(palette)
        e = np.arange(1, len(c["mean"]) + 1)
        ax.plot(e, floats(c["mean"]), "-" if " RN" in label or label == "float32" else "--",
                color=color, marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


@experiment("lowprec_training", "low-precision training: weights stored in bfloat16 or "
            "8-bit fixed point, RN updates stall, SR gets close to float32 (needs "
            "scikit-learn)", n=20, runs=2, formats=("bfloat16",), plot=plot_lowprec_training)
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
        variants += [(f"{fmt.label} RN", fmt, "nearest"),
                     (f"{fmt.label} {rounding_label(mode)}", fmt, mode)]
    q_label = f"fixed Q1.{_FIXED_FRACTION_BITS}"
    variants += [(f"{q_label} RN", "fixed", "nearest"),
                 (f"{q_label} {rounding_label(mode)}", "fixed", mode)]
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
            seed = seed_for(s, 63, vi, r)
            if fmt is None:
                store = None
            elif fmt == "fixed":
                store = _fixed_store(_FIXED_FRACTION_BITS, rounding, seed)
            else:
                store = _float_store(fmt, rounding, seed)
            _, acc = _mlp_train(data, s.seed, epochs, lr, store, batch, on_epoch=tick)
            accs.append(acc)
        accs = np.array(accs)
        curves[label] = {"mean": float_list(accs.mean(axis=0)), "runs": accs.tolist()}
        rows.append([label, runs, float(accs[:, 0].mean()), float(accs[:, -1].mean()),
                     float(accs[:, -1].min()), float(accs[:, -1].max())])
    final = {row[0]: row[3] for row in rows}
    notes = ["forward and backward passes in float32; only the stored weights are rounded, "
             "w <- round(w - lr * g) once per update (initial weights rounded to nearest)",
             f"final test accuracy: float32 {final['float32']:.3f}; "
             + "; ".join(f"{k} {v:.3f}" for k, v in final.items() if k != "float32")]

    return Result("lowprec_training", title,
                  ["weights", "runs", "acc. epoch 1", "final acc.", "min", "max"],
                  ["s", "d", ".3f", ".3f", ".3f", ".3f"], rows, notes,
                  {"curves": curves, "final": final, "lr": lr, "batch": batch})


# ---- compress

def plot_compress(fig, data):
    """Test accuracy against weight storage, one point per quantizer (the table rows)."""
    ax = fig.subplots()
    names = [row[0] for row in data["rows"]]
    sizes = [row[1] for row in data["rows"]]
    accs = [row[3] for row in data["rows"]]
    ax.scatter(sizes, accs, color="tab:blue")
    for name, x_, y_ in zip(names, sizes, accs):
        ax.annotate(name, (x_, y_), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("weight storage (bytes)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)


@experiment("compress", "model compression: a float32 MLP on digits, weights quantized to "
            "int8 (per tensor, per channel), int4, fp8, MXFP4: size and accuracy (needs "
            "scikit-learn)", n=15, runs=5, formats=("e4m3",), plot=plot_compress)
def compress(s):
    """Post-training weight quantization of the 64-32-10 MLP (trained with lr 0.1,
    batch 32; W1, W2 quantized, biases stay float32). n: training epochs; runs: SR
    draws for the stochastic rows."""
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
               (f"int4 per-channel {rounding_label(mode)}",
                lambda w: qz.uniform(w, 4, axis=1, rounding=mode, rng=rng))]
        for fmt in s.formats:
            out.append((f"{fmt.label} (cast)", lambda w, f=fmt: sr_round_cast(w, f)))
        out += [("MXFP8", lambda w: qz.mx(w, "mxfp8", axis=0)),
                ("MXFP4", lambda w: qz.mx(w, "mxfp4", axis=0)),
                (f"MXFP4 {rounding_label(mode)}", lambda w: qz.mx(w, "mxfp4", axis=0,
                                                          rounding=mode, rng=rng))]
        return out

    def sr_round_cast(w, fmt):
        bits = 1 + (fmt.precision - 1) + max(1, math.ceil(math.log2(fmt.emax - fmt.emin + 2)))
        values = sr_round(w, fmt)
        return _Cast(values, bits)

    labels = [label for label, _ in quantizers(None)]
    rows = [["float32", base_bytes, 0.0, base_acc, 0.0, math.inf]]
    results = {"float32": {"bytes": base_bytes, "accuracy": base_acc}}
    for li, label in enumerate(labels):
        stochastic = label.endswith(" " + rounding_label(mode)) and mode != "nearest"
        runs = s.runs if stochastic else 1
        accs, sqnrs = [], []
        for r in range(runs):
            fn = dict(quantizers(seed_for(s, 64, li, r)))[label]
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

    return Result("compress", title,
                  ["weights", "bytes", "size %", "accuracy", "change (pp)", "SQNR dB"],
                  ["s", "d", "+.1f", ".3f", "+.1f", ".1f"], rows, notes,
                  {"results": results})


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

def plot_signal(fig, data):
    """One period of the A = 0.7 sine (RN, one stochastic run, low-passed), and the
    spectra of the A = 1.5 outputs."""
    n, f0 = data["settings"]["n"], data["f0"]
    sr_label = rounding_label(data["settings"]["rounding"])
    shown = data["shown"]
    fig.set_size_inches(12.8, 4.8)
    ax1, ax2 = fig.subplots(1, 2)
    period = np.arange(n // f0)
    ax1.plot(period, (0.7 * np.sin(2 * np.pi * period * f0 / n)), color="black", lw=1.5,
             label="x (A = 0.7 steps)")
    ax1.plot(period, floats(shown["A=0.7 RN"]["period"]), color="tab:red", lw=1.5,
             label="RN")
    sl = f"A=0.7 {sr_label}"
    ax1.plot(period, floats(shown[sl]["period"]), color="tab:blue", lw=0.3, alpha=0.4,
             label=f"{sr_label} (one run)")
    ax1.plot(period, floats(shown[sl]["lowpass"]), color="tab:blue", lw=1.5,
             label=f"{sr_label}, low-passed")
    ax1.set_xlabel("sample (one period)")
    ax1.set_ylabel("value (quantization steps)")
    ax1.set_title("one period, A = 0.7 steps")
    ax1.legend(fontsize=8, loc="lower left")
    ax1.grid(True, alpha=0.3)
    for key, color in (("A=1.5 RN", "tab:red"), (f"A=1.5 {sr_label}", "tab:blue")):
        bins = np.array(shown[key]["spectrum_bins"]) / f0
        mag = np.maximum(floats(shown[key]["spectrum"]), 1e-12)
        ax2.plot(bins, 20 * np.log10(mag), color=color, lw=1, label=key.split()[1])
    ax2.set_xscale("log")
    ax2.set_ylim(-140, 10)
    ax2.set_xlabel("frequency / f0")
    ax2.set_ylabel("amplitude (dB re 1 step)")
    ax2.set_title("spectrum, A = 1.5 steps (one run)")
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)


# signal computes in float64 and quantizes to fixed point: no --format (its JSON
# records binary64, the precision it computes in).
@experiment("signal", "a slow sine of 0.3 to 3 quantization steps through a coarse "
            "quantizer: RN dead zone and harmonics vs SR unbiased after low-pass",
            n=16384, runs=20, formats=("binary64",), min_n=1024, plot=plot_signal,
            ignores=("formats",))
def signal(s):
    """x = A sin(2 pi f0 t / n), f0 = n / 2048 cycles (2048 samples per period),
    quantized with step 1 (4-bit fixed point Q3.0) by RN and by the chosen mode.
    Spectra by FFT (coherent sampling, no window); low-pass: keep bins up to 10 f0."""
    n, runs = s.n, s.runs
    f0 = max(1, n // 2048)
    cutoff = 10 * f0
    t = np.arange(n)
    amplitudes = (0.3, 0.7, 1.5, 3.0)
    modes = compared_modes(s.rounding)

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
                         rng=seed_for(s, 65, ai, mi)).dequantize()
            gain, thd, sinad = spectrum_metrics(y, A)
            err_lp = np.mean((lowpass(y) - x) ** 2, axis=-1)
            err_avg = float(np.mean((lowpass(y.mean(axis=0)) - x) ** 2))
            snr_lp = 10 * np.log10(px / err_lp)
            snr_avg = 10 * math.log10(px / err_avg)
            label = rounding_label(mode)
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
                    "period": float_list(y[0, :n // f0]),
                    "lowpass": float_list(lowpass(y[0])[:n // f0]),
                    "spectrum_bins": keep.tolist(), "spectrum": float_list(Y[keep])}
            s.progress((ai * len(modes) + mi + 1) / total)
    notes = [f"n = {n} samples, {f0} periods, quantization step 1 (Q3.0, saturating at -8 "
             f"and 7); low-pass keeps the first {cutoff} frequency bins (10 f0)",
             "gain: fundamental amplitude of the output / A (1 = unbiased); THD over harmonics "
             "2..9; SINAD over the whole band; SNR of the low-passed output against x; last "
             f"column: {rounding_label(s.rounding)} outputs averaged over {runs} runs, "
             "then low-passed"]

    return Result("signal", f"A slow sine through a step-1 quantizer: RN vs "
                  f"{rounding_label(s.rounding)} ({runs} runs)",
                  ["A (steps)", "rounding", "gain", "THD dB", "SINAD dB", "low-pass SNR dB",
                   "averaged SNR dB"],
                  [".1f", "s", ".3f", ".1f", ".1f", ".1f", ".1f"], rows, notes,
                  {"results": results, "shown": shown, "f0": f0, "cutoff_bin": cutoff})
