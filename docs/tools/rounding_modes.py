"""The figure of docs/rounding.md: the probability that each rounding mode rounds x up.

    python docs/tools/rounding_modes.py            # writes docs/figures/rounding_modes.png

x runs over four gaps of binary16's subnormal range, [-2s, 2s] with s = 2**-24, where
the spacing is the same on both sides of 0 (so the sign's effect shows). Between its
neighbours lo < x < hi, a mode rounds x up (to hi) with a probability that depends on
f = (x - lo) / s. ``probabilities`` gives, per mode, that probability twice: exactly,
from each mode's definition (written here independently of srround), and measured,
from ``sr.round`` over many draws (stochastic modes) or one call (the others).
tests/test_docs_site.py checks that the two agree (5 sigma), so the picture shows what
srround does.
"""
import argparse
import math
import os

import numpy as np

import srround as sr

FORMAT = sr.binary16
SPACING = 2.0 ** -24                 # binary16's subnormal spacing, 2**(emin - p + 1)
GAPS = (-2, -1, 0, 1)                # the gaps [k s, (k + 1) s] shown
POINTS_PER_GAP = 48
# (label, rounding, bits)
MODES = [("nearest", "nearest", None), ("nearest_away", "nearest_away", None),
         ("toward_zero", "toward_zero", None), ("up", "up", None), ("down", "down", None),
         ("odd", "odd", None), ("stochastic", "stochastic", None),
         ("stochastic_equal", "stochastic_equal", None),
         ("stochastic, bits=2", "stochastic", 2)]


def grid():
    """x (float64) inside the gaps, never on a value of the format, with the gap k and
    f of each; the last len(GAPS) points are the ties, x = (k + 1/2) s."""
    offsets = (np.arange(POINTS_PER_GAP) + 0.5) / POINTS_PER_GAP
    k = np.concatenate([np.repeat(np.array(GAPS, float), POINTS_PER_GAP), GAPS])
    f = np.concatenate([np.tile(offsets, len(GAPS)), np.full(len(GAPS), 0.5)])
    return (k + f) * SPACING, k, f


def exact_probability(rounding, bits, k, f):
    """P(x rounds to hi = (k + 1) s) for x = (k + f) s, 0 < f < 1, from the mode's
    definition: the neighbours are lo = k s and hi = (k + 1) s (integers k, k + 1
    times s: the last bit of a subnormal's significand is the parity of the integer)."""
    positive = k >= 0                          # x > 0 exactly when its gap starts at >= 0
    hi_even = (k + 1) % 2 == 0
    if rounding == "nearest":
        return np.where(f > 0.5, 1.0, np.where(f < 0.5, 0.0, hi_even * 1.0))
    if rounding == "nearest_away":
        return np.where(f > 0.5, 1.0, np.where(f < 0.5, 0.0, positive * 1.0))
    if rounding == "toward_zero":
        return np.where(positive, 0.0, 1.0)
    if rounding == "up":
        return np.ones_like(f)
    if rounding == "down":
        return np.zeros_like(f)
    if rounding == "odd":
        return np.where(hi_even, 0.0, 1.0)
    if rounding == "stochastic_equal":
        return np.full_like(f, 0.5)
    # stochastic: away from zero with probability (distance to the neighbour toward
    # zero) / s, truncated to `bits` bits
    away = np.where(positive, f, 1 - f)
    if bits is not None:
        away = np.floor(away * 2**bits) / 2**bits
    return np.where(positive, away, 1 - away)


def probabilities(draws=4000, seed=0):
    """{label: (x / s, exact P(up), measured P(up), draws)} for every mode in MODES."""
    x, k, f = grid()
    out = {}
    for label, rounding, bits in MODES:
        stochastic = rounding.startswith("stochastic")
        n = draws if stochastic else 1
        y = sr.round(np.repeat(x, n), FORMAT, rounding, bits=bits,
                     rng=seed if stochastic else None)
        measured = (y.reshape(x.size, n) > x[:, None]).mean(axis=1)
        out[label] = (x / SPACING, exact_probability(rounding, bits, k, f), measured, n)
    return out


def draw(fig, data):
    axes = fig.subplots(3, 3, sharex=True, sharey=True)
    ties = slice(-len(GAPS), None)
    for ax, (label, (xs, exact, measured, n)) in zip(axes.flat, data.items()):
        between = xs[:ties.start]
        for gap in GAPS:
            inside = (between > gap) & (between < gap + 1)
            ax.plot(between[inside], exact[:ties.start][inside], color="C0", lw=1.5,
                    label="definition" if gap == GAPS[0] else None)
        what = "sr.round" if n == 1 else f"sr.round, mean of {n} draws"
        ax.plot(between, measured[:ties.start], ".", color="C1", ms=2.5, label=what)
        ax.plot(xs[ties], measured[ties], "D", color="k", ms=4, label="ties, sr.round")
        if label in ("nearest", "stochastic"):
            ax.legend(loc="center right" if label == "nearest" else "upper left",
                      fontsize=7, framealpha=0.9)
        ax.set_title(label, fontsize=9)
        ax.set_xticks(range(-2, 3))
        ax.set_ylim(-0.08, 1.08)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("x / s  (s = 2$^{-24}$, binary16's subnormal spacing)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("P(x rounds up)", fontsize=8)
    fig.suptitle("Probability of rounding x up to the next value of the format, in each "
                 "rounding mode", fontsize=10)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(os.path.dirname(here), "figures", "rounding_modes.png")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=default, help="the PNG file (default: %(default)s)")
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args(argv)
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    draw(fig, probabilities(args.draws))
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
