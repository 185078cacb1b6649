"""How accurate is a GEMM through a matrix unit? The computation behind the fp8
accumulation study (DeepSeek-V3, arXiv 2412.19437, Sec. 3.3.2: Hopper's fp8 GEMMs keep
about 14 bits in accumulation, "nearly 2%" maximum relative error at K = 4096 without
promoting partial sums to CUDA cores every 128 terms), and the exact reference product
it is measured against (``exact_matmul``)."""
import math
from numbers import Integral

import numpy as np

from srround._core import Context
from srround.formats import binary32
from srround.hardware.mma import TYPES, Instruction, matmul
from srround.rounding import round as _round
from srround.summation import matmul as _rounded_matmul

__all__ = ["DISTRIBUTIONS", "exact_matmul", "gemm_error_study"]

DISTRIBUTIONS = ("normal", "uniform")


def _operands(K, M, N, a_format, b_format, distribution, rng):
    """A (M x K) and B (K x N) of standard-normal or uniform [0, 1) data, rounded to
    nearest into the operand formats."""
    draw = rng.standard_normal if distribution == "normal" else rng.random
    return _round(draw((M, K)), a_format), _round(draw((K, N)), b_format)


def exact_matmul(A, B, precision=53):
    """A @ B correctly rounded to float64 (each element the float64 nearest to the
    exact sum), for float64 matrices whose values have at most ``precision``
    significant bits (e4m3: 4, bfloat16: 8, binary16 and tf32: 11; 53: any float64).

    Fast path, for values of few bits: A and B are cut by the exponents of their
    elements into slices of w consecutive binades. Values of a slice with lowest
    exponent lo are multiples of 2^(lo - p + 1) below 2^(lo + w) (p = precision), so the
    K products of A-slice s and B-slice t are multiples of g = 2^(lo_s + lo_t - 2p + 2)
    below 2^(2w + 2p - 2) g; with K 2^(2w + 2p - 2) <= 2^53 every partial sum of
    A_s B_t is an integer multiple of g below 2^53 g, which float64 holds exactly (g is
    not below 2^-1074, checked), so the float64 product A_s B_t is exact in any order
    of summation. It is formed with np.einsum, not a multithreaded BLAS, whose threads
    can stall on a busy machine. math.fsum then adds the slice products of each
    element, rounding once. Otherwise (more bits, larger K, or more than 64 slice
    pairs), each product is split exactly into two float64 numbers (Dekker's
    TwoProduct) and math.fsum adds all of them, element by element: slow.

    ValueError if a value is not finite or has more bits than ``precision``, or a
    product leaves float64's range (where TwoProduct would not be exact).
    """
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"exact_matmul: need (M, K) and (K, N) matrices, got {A.shape} "
                         f"and {B.shape}")
    if isinstance(precision, bool) or not isinstance(precision, Integral) \
            or not 1 <= precision <= 53:
        raise ValueError(f"exact_matmul: precision must be an integer from 1 to 53, got "
                         f"{precision!r}")
    (M, K), N = A.shape, B.shape[1]
    exponent_ranges = []
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
        e = exponent[nonzero] - 1             # 2^e <= |x| < 2^(e + 1)
        exponent_ranges.append((int(e.min()), int(e.max())))
    (low_a, high_a), (low_b, high_b) = exponent_ranges
    if low_a + low_b < -969 or max(high_a, high_b) > 995 \
            or high_a + high_b + 2 + math.log2(max(K, 1)) >= 1023:
        raise ValueError("exact_matmul: the products leave float64's range")
    w = (55 - 2 * precision - math.ceil(math.log2(max(K, 1)))) // 2
    if w >= 1 and (-(-(high_a - low_a + 1) // w)) * (-(-(high_b - low_b + 1) // w)) <= 64:
        return _sliced_exact_matmul(A, B, w, low_a, high_a, low_b, high_b)
    return _two_product_exact_matmul(A, B)


def _exponent_slices(X, w, low, high):
    e = np.frexp(X)[1] - 1
    return [np.where((X != 0) & (e >= lo) & (e < lo + w), X, 0.0)
            for lo in range(low, high + 1, w)]


def _sliced_exact_matmul(A, B, w, low_a, high_a, low_b, high_b):
    parts = [np.einsum("ik,kj->ij", a, b)
             for a in _exponent_slices(A, w, low_a, high_a)
             for b in _exponent_slices(B, w, low_b, high_b)]
    if len(parts) == 1:
        return parts[0]
    columns = np.stack(parts).reshape(len(parts), -1).T.tolist()
    return np.array([math.fsum(terms) for terms in columns]).reshape(A.shape[0], B.shape[1])


def _two_product_exact_matmul(A, B):
    split = 134217729.0   # 2^27 + 1 (Veltkamp)

    def halves(x):
        c = split * x
        high = c - (c - x)
        return high, x - high

    out = np.empty((A.shape[0], B.shape[1]))
    b_high, b_low = halves(B)
    for i, row in enumerate(A):
        products = row[:, None] * B
        a_high, a_low = halves(row[:, None])
        errors = ((a_high * b_high - products) + a_high * b_low + a_low * b_high) + a_low * b_low
        out[i] = [math.fsum(terms) for terms in np.concatenate([products, errors]).T.tolist()]
    return out


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def gemm_error_study(instruction, K_values, *, M=32, N=32, promote_every=None,
                     accumulate=None, distribution="normal", seed=0):
    """Relative error of C = A B through ``instruction`` for each K in K_values.

    A (M x K) and B (K x N) hold standard-normal ("normal") or uniform [0, 1)
    ("uniform") data rounded to the instruction's A and B types; the product goes
    through ``matmul(A, B, instruction, promote_every=..., accumulate=...)``. The
    reference is the exact product AB of the same values, rounded once to binary64
    (``exact_matmul``). This is the computation of ``python -m srround tensorcore``.

    Parameters
    ----------
    instruction : Instruction or "binary32"
        The matrix instruction; ``"binary32"`` instead sums the (exact) products of
        e4m3 data recursively in binary32 with round to nearest, the IEEE contrast.
    K_values : sequence of int
        The inner dimensions to measure.
    M, N : int, optional
        The outer dimensions (default 32).
    promote_every : int, optional
        As for `matmul`.
    accumulate : Context, optional
        As for `matmul`.
    distribution : {"normal", "uniform"}, optional
        The data.
    seed : int, optional
        Seeds the data (default 0).

    Returns
    -------
    dict of numpy.ndarray
        One entry per K: ``K``; ``max_relative`` and ``median_relative``, over the
        elements where AB is not zero, of ``|C - AB| / |AB|`` (nan if there is
        none); and ``normwise``, ``max |C - AB| / max |AB|`` (nan if AB = 0).

    Raises
    ------
    TypeError
        For an instruction of the wrong type, or K_values that is not a sequence.
    ValueError
        For an unknown instruction name or distribution, or sizes that are not
        positive integers.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    >>> plain = hw.gemm_error_study(op, [4096], M=8, N=8)
    >>> promoted = hw.gemm_error_study(op, [4096], M=8, N=8, promote_every=128)
    >>> bool(plain["median_relative"][0] > 5 * promoted["median_relative"][0])
    True
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    try:
        K_values = [_positive_int(K, "every K") for K in K_values]
    except TypeError:
        raise TypeError(f"K_values must be a sequence of positive integers, got "
                        f"{type(K_values).__name__}") from None
    M, N = _positive_int(M, "M"), _positive_int(N, "N")
    if isinstance(instruction, str):
        if instruction != "binary32":
            raise ValueError(f"instruction must be an Instruction or 'binary32', got "
                             f"{instruction!r}")
        a_format = b_format = TYPES["e4m3"].format
    elif isinstance(instruction, Instruction):
        a_format, b_format = TYPES[instruction.a_type].format, TYPES[instruction.b_type].format
    else:
        raise TypeError(f"instruction must be an Instruction or 'binary32', got "
                        f"{type(instruction).__name__}")
    rng = np.random.default_rng(seed)
    out = {"K": [], "max_relative": [], "median_relative": [], "normwise": []}
    nearest32 = Context(binary32, "nearest")
    for K in K_values:
        A, B = _operands(K, M, N, a_format, b_format, distribution, rng)
        exact = exact_matmul(A, B, max(a_format.precision, b_format.precision))
        if isinstance(instruction, str):
            C = _rounded_matmul(A, B, nearest32)
        else:
            C = matmul(A, B, instruction, promote_every=promote_every, accumulate=accumulate)
        error = np.abs(C.astype(np.float64) - exact)
        nonzero = exact != 0
        relative = error[nonzero] / np.abs(exact[nonzero])
        out["K"].append(K)
        out["max_relative"].append(relative.max() if relative.size else np.nan)
        out["median_relative"].append(np.median(relative) if relative.size else np.nan)
        out["normwise"].append(error.max() / np.abs(exact).max() if nonzero.any() else np.nan)
    return {key: np.array(value) for key, value in out.items()}
