"""How accurate is a GEMM through a matrix unit? The computation behind the fp8
accumulation study (DeepSeek-V3, arXiv 2412.19437, Sec. 3.3.2: Hopper's fp8 GEMMs keep
about 14 bits in accumulation, "nearly 2%" maximum relative error at K = 4096 without
promoting partial sums to CUDA cores every 128 terms)."""
import numpy as np

from srround._core import Context
from srround.formats import binary32
from srround.hardware.mma import TYPES, Instruction, matmul
from srround.rounding import round as _round
from srround.summation import matmul as _rounded_matmul

DISTRIBUTIONS = ("normal", "uniform")


def _operands(K, M, N, a_format, b_format, distribution, rng):
    """A (M x K) and B (K x N) of standard-normal or uniform [0, 1) data, rounded to
    nearest into the operand formats."""
    draw = rng.standard_normal if distribution == "normal" else rng.random
    return _round(draw((M, K)), a_format), _round(draw((K, N)), b_format)


def gemm_error_study(instruction, K_values, *, M=32, N=32, promote_every=None,
                     accumulate=None, distribution="normal", seed=0):
    """Relative error of C = A B through ``instruction`` for each K in K_values.

    A (M x K) and B (K x N) hold standard-normal ("normal") or uniform [0, 1)
    ("uniform") data rounded to the instruction's A and B types; the product goes
    through ``matmul(A, B, instruction, promote_every=..., accumulate=...)``.
    ``instruction="binary32"`` instead sums the (exact) products of e4m3 data
    recursively in binary32 with round to nearest, the IEEE contrast. The reference
    is the binary64 product A @ B of the same values, whose own error (below
    K 2^-53 relative) is far under what is measured.

    Returns a dict of NumPy arrays, one entry per K: ``K``; ``max_relative`` and
    ``median_relative``, over the elements, of |C - AB| / |AB|; and ``normwise``,
    max |C - AB| / max |AB|.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
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
        A, B = _operands(int(K), M, N, a_format, b_format, distribution, rng)
        exact = A @ B
        if isinstance(instruction, str):
            C = _rounded_matmul(A, B, nearest32)
        else:
            C = matmul(A, B, instruction, promote_every=promote_every, accumulate=accumulate)
        error = np.abs(C.astype(np.float64) - exact)
        nonzero = exact != 0
        relative = error[nonzero] / np.abs(exact[nonzero])
        out["K"].append(int(K))
        out["max_relative"].append(relative.max())
        out["median_relative"].append(np.median(relative))
        out["normwise"].append(error.max() / np.abs(exact).max())
    return {key: np.array(value) for key, value in out.items()}
