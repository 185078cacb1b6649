"""Helpers shared by the experiment modules: seeds, the sizes and points where an
experiment measures, short labels of the rounding modes, exact reference sums and
dot products, and fitted slopes."""
import math

import numpy as np

__all__ = ["fitted_slope", "seed_for", "powers_of_two_to", "checkpoints",
           "log_spaced_indices", "ROUNDING_LABELS", "rounding_label", "float_list",
           "floats", "saved_float", "format_panels", "exact_column_sums",
           "exact_column_dots", "compared_modes"]


def compared_modes(rounding):
    """Round to nearest and the experiment's rounding, each once (nearest alone when
    the experiment is asked for nearest)."""
    return tuple(dict.fromkeys(("nearest", rounding)))


def fitted_slope(ns, errors):
    """Least-squares slope of log(error) against log(n), over the positive errors.

    How errors grow with n: 1 for a bound proportional to n u, 0.5 for sqrt(n) u.

    Parameters
    ----------
    ns : array_like
        The sizes.
    errors : array_like
        The errors; non-finite and non-positive ones are left out.

    Returns
    -------
    float
        The slope, or nan with fewer than two errors left.

    Examples
    --------
    >>> from srround import experiments
    >>> round(experiments.fitted_slope([16, 256, 4096], [0.01, 0.04, 0.16]), 6)
    0.5
    """
    ns, errors = np.asarray(ns, float), np.asarray(errors, float)
    keep = np.isfinite(errors) & (errors > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(ns[keep]), np.log(errors[keep]), 1)[0])


def seed_for(settings, *key):
    """An independent, reproducible seed for one part of an experiment."""
    return np.random.SeedSequence(settings.seed, spawn_key=key)


def powers_of_two_to(n, smallest=8):
    """Powers of two from smallest up to n, and n itself."""
    sizes = []
    k = smallest
    while k < n:
        sizes.append(k)
        k *= 2
    return sizes + [n]


def checkpoints(n, every=10):
    """1000, 10000, ... below n, and n."""
    points = []
    k = 1000
    while k < n:
        points.append(k)
        k *= every
    return points + [n]


def log_spaced_indices(n, count=300):
    """About `count` log-spaced indices 1..n (for curves small enough for JSON)."""
    return np.unique(np.round(np.logspace(0, math.log10(n), count)).astype(np.int64))


# The short name of each rounding mode in tables, labels and JSON keys.
ROUNDING_LABELS = {"nearest": "RN", "stochastic": "SR", "stochastic_equal": "SR-equal",
                   "nearest_away": "RNA", "toward_zero": "RZ", "up": "RU", "down": "RD",
                   "odd": "RO"}


def rounding_label(rounding):
    return ROUNDING_LABELS[rounding]


def float_list(a):
    """a as a flat list of Python floats (for the JSON data)."""
    return [float(v) for v in np.asarray(a, float).ravel()]


def floats(values):
    """A float array from saved JSON numbers: null (nan) and "inf" / "-inf" strings,
    as registry.json_safe writes them, become nan and infinities again."""
    return np.array(values, dtype=float)


def saved_float(value):
    """A float from a saved JSON number: null is nan, "inf" / "-inf" infinities."""
    return math.nan if value is None else float(value)


def format_panels(fig, data):
    """One axes per format of a saved result, side by side: [(axes, format label)]."""
    names = data["settings"]["formats"]
    return list(zip(fig.subplots(1, len(names), squeeze=False)[0], names))


def exact_column_sums(X):
    """math.fsum of each column of X: the float64 nearest to the exact sum."""
    return np.array([math.fsum(X[:, j]) for j in range(X.shape[1])])


def exact_column_dots(X, Y):
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
