"""Helpers shared by the experiment modules: seeds, the sizes and points where an
experiment measures, short labels of the rounding modes, exact reference sums, dot
products and matrix products, and fitted slopes."""
import math

import numpy as np

__all__ = ["fitted_slope", "seed_for", "powers_of_two_to", "checkpoints",
           "log_spaced_indices", "ROUNDING_LABELS", "rounding_label", "float_list",
           "floats", "saved_float", "format_panels", "exact_column_sums",
           "exact_column_dots", "exact_matmul"]


def fitted_slope(ns, errors):
    """Least-squares slope of log(error) against log(n), over the positive errors
    (nan if fewer than two)."""
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


def exact_matmul(A, B, precision):
    """A @ B correctly rounded to float64, for float64 matrices whose values have at
    most ``precision`` significant bits (e4m3: 4, bfloat16: 8); fast, through float64
    matrix products that are exact.

    A and B are cut by the exponents of their elements into slices of w consecutive
    binades. Values of a slice with lowest exponent lo are multiples of 2^(lo - p + 1)
    below 2^(lo + w) (p = precision), so the K products of A-slice s and B-slice t
    are multiples of g = 2^(lo_s + lo_t - 2p + 2) below 2^(2w + 2p - 2) g; with
    K 2^(2w + 2p - 2) <= 2^53 every partial sum of A_s @ B_t is an integer multiple of
    g below 2^53 g, which float64 holds exactly (g is not below 2^-1074, checked), so
    the float64 product A_s B_t is exact in any order of summation. It is formed with
    np.einsum, not a multithreaded BLAS, whose threads can stall on a busy machine.
    math.fsum then adds the slice products of each element with one rounding. ValueError if a value
    has more bits or is not finite, or K is too large for the precision.
    """
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"exact_matmul: need (M, K) and (K, N) matrices, got {A.shape} "
                         f"and {B.shape}")
    M, K = A.shape
    N = B.shape[1]
    w = (55 - 2 * precision - math.ceil(math.log2(max(K, 1)))) // 2
    if w < 1:
        raise ValueError(f"exact_matmul: K = {K} is too large for {precision}-bit values")
    slices, ranges = [], []
    for name, X in (("A", A), ("B", B)):
        if not np.isfinite(X).all():
            raise ValueError(f"exact_matmul: {name} has values that are not finite")
        significand, exponent = np.frexp(X)   # X = significand 2^exponent, 1/2 <= |s| < 1
        scaled = np.ldexp(significand, precision)
        if not np.array_equal(scaled, np.trunc(scaled)):
            raise ValueError(f"exact_matmul: {name} has values with more than {precision} "
                             "significant bits")
        nonzero = X != 0
        if not nonzero.any():
            return np.zeros((M, N))
        e = exponent - 1                      # 2^e <= |x| < 2^(e + 1)
        low, high = int(e[nonzero].min()), int(e[nonzero].max())
        slices.append([np.where(nonzero & (e >= lo) & (e < lo + w), X, 0.0)
                       for lo in range(low, high + 1, w)])
        ranges.append((low, high))
    (low_a, high_a), (low_b, high_b) = ranges
    if low_a + low_b - 2 * precision + 2 < -1074 or high_a + high_b + 2 + math.log2(K) >= 1024:
        raise ValueError("exact_matmul: the products leave float64's range")
    parts = [np.einsum("ik,kj->ij", a, b) for a in slices[0] for b in slices[1]]
    if len(parts) == 1:
        return parts[0]
    columns = np.stack(parts).reshape(len(parts), -1).T.tolist()
    return np.array([math.fsum(terms) for terms in columns]).reshape(M, N)
