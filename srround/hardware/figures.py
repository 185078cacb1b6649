"""The figures of docs/hardware-arithmetic.md:

    python -m srround.hardware.figures [directory]     # default: docs/figures

hardware_alignment.png: one fused step of Hopper's fp8 wgmma, bit by bit (the terms
aligned to the largest exponent E, F = 13 bits kept, the rest truncated, the sum
rounded toward zero to 14 significant bits); hardware_gemm_error.png: the relative
error of C = A B against K, with and without promotion (srround.hardware.study).
"""
import math
import os
import sys
from fractions import Fraction

import numpy as np

from srround.hardware.mma import MMA, TYPES, WGMMA
from srround.hardware.study import gemm_error_study

FP8 = WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")


def alignment_example():
    """A step of FP8 with three nonzero products and c: a, b (32 values each), c. The
    third product (of subnormals) and c's last bit are truncated; the sum reaches
    2^1, so rounding it to 14 significant bits drops its last bit too."""
    a = np.zeros(32)
    b = np.zeros(32)
    a[:3] = [1.5, 0.8125, -0.013671875]      # e4m3 values (the last one subnormal)
    b[:3] = [1.25, 0.3125, 0.0078125]
    return a, b, 2.0**-13 + 2.0**-16


def _bits(value, weights):
    """The bits of |value| at the given powers of two (1 or 0)."""
    x = abs(Fraction(value))
    return [int(x / Fraction(2) ** w) % 2 for w in weights]


def alignment_figure(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b, c = alignment_example()
    F = FP8.arithmetic.F
    def exponent(x, etype):   # subnormals count at emin
        return max(math.frexp(x)[1] - 1, TYPES[etype].emin)

    terms = [(f"a{i + 1} b{i + 1}", Fraction(a[i]) * Fraction(b[i]),
              exponent(a[i], FP8.a_type) + exponent(b[i], FP8.b_type)) for i in range(3)]
    terms.append(("c", Fraction(c), exponent(c, FP8.c_type)))
    E = max(e for _, _, e in terms)
    quantum = Fraction(2) ** (E - F)
    kept = [math.trunc(v / quantum) * quantum for _, v, _ in terms]
    result = float(FP8.dot(a, b, c))
    weights = list(range(E + 1, E - F - 12, -1))
    rows = [(name, v, f"e = {e}") for name, v, e in terms]
    rows += [("sum of kept bits", sum(kept), "exact"),
             ("D", Fraction(result), "to 14 bits, toward zero")]

    fig, ax = plt.subplots(figsize=(9, 3.6))
    for r, (name, value, note) in enumerate(rows):
        y = len(rows) - 1 - r - (0.4 if r >= len(terms) else 0)
        for col, (w, bit) in enumerate(zip(weights, _bits(value, weights))):
            dropped = w < E - F and r < len(terms)
            face = ("#d62728" if dropped else "#1f77b4") if bit else ("#f3d3d3" if dropped else "#e8eef6")
            ax.add_patch(plt.Rectangle((col, y), 0.92, 0.8, color=face))
        sign = ("\u2212 " if value < 0 else "+ ") if r < len(terms) else ""
        ax.text(-0.5, y + 0.4, f"{sign}{name}", ha="right", va="center", fontsize=9)
        ax.text(len(weights) + 0.3, y + 0.4, note, va="center", fontsize=8, color="0.3")
    cut = weights.index(E - F) + 1
    ax.axvline(cut - 0.04, color="k", lw=1.2, ls="--")
    ax.text(cut, len(rows) - 0.2, f"2^(E - F): F = {F} bits after E = {E}; truncated beyond",
            fontsize=8, va="bottom")
    ax.set_xticks([i + 0.46 for i in range(0, len(weights), 4)])
    ax.set_xticklabels([f"2^{w}" for w in weights[::4]], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-4, len(weights) + 3)
    ax.set_ylim(-0.6, len(rows) + 0.3)
    ax.set_title("One fused step of WGMMA('Hopper', 'm64n8k32.f32.e4m3.e4m3'): "
                 "align, keep F bits, add, round toward zero", fontsize=10)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def gemm_error_figure(path, K_values=(256, 512, 1024, 2048, 4096, 8192, 16384)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [
        ("Hopper fp8 wgmma (F = 13)", dict(instruction=FP8)),
        ("... promoted to binary32 every 128", dict(instruction=FP8, promote_every=128)),
        ("Hopper bf16 mma (F = 25)",
         dict(instruction=MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32"))),
        ("binary32, round to nearest (fp8 data)", dict(instruction="binary32")),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, kw in curves:
        res = gemm_error_study(kw.pop("instruction"), K_values, distribution="uniform", **kw)
        ax.loglog(res["K"], res["max_relative"], "o-", label=label)
    ax.axvline(4096, color="0.7", lw=0.8)
    ax.text(4096 * 1.05, 2e-7, "K = 4096", color="0.4", fontsize=8)
    ax.set_xlabel("K")
    ax.set_ylabel("max relative error of C = A B")
    ax.set_title("32 x K times K x 32, uniform [0, 1) data", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join("docs", "figures")
    os.makedirs(out, exist_ok=True)
    alignment_figure(os.path.join(out, "hardware_alignment.png"))
    gemm_error_figure(os.path.join(out, "hardware_gemm_error.png"))
    print(f"wrote {out}/hardware_alignment.png and {out}/hardware_gemm_error.png")


if __name__ == "__main__":
    main()
