"""The benchmark cases shared by the pytest-benchmark suite and the table script."""
import numpy as np
from timing import standard_normal

import srround as sr

SIZES = (10**6, 10**7)
# (label, input dtype, srround format, NumPy/ml_dtypes target dtype name)
CONVERSIONS = (
    ("f32->bf16", np.float32, sr.bfloat16, "bfloat16"),
    ("f32->fp16", np.float32, sr.binary16, "float16"),
    ("f64->bf16", np.float64, sr.bfloat16, "bfloat16"),
    ("f64->fp16", np.float64, sr.binary16, "float16"),
    ("f32->e4m3", np.float32, sr.e4m3, "float8_e4m3fn"),   # ~1% of values subnormal
)
# the low-precision arithmetic ufuncs, with their operands (a, b, c of standard-normal
# data; sqrt takes |a| + 0.5)
OPERATIONS = ("add", "subtract", "multiply", "divide", "sqrt", "fma")


def operands(op, n, dtype):
    a, b, c = (standard_normal(n, dtype, seed=s) for s in (1, 2, 3))
    return {"sqrt": (np.abs(a) + dtype(0.5),), "fma": (a, b, c)}.get(op, (a, b))


def target_dtype(name):
    """NumPy's float16, or ml_dtypes' bfloat16 (None where ml_dtypes is missing)."""
    if name == "float16":
        return np.dtype(np.float16)
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(getattr(ml_dtypes, name))


def methods(x, fmt, target):
    """name -> zero-argument callable doing the work on x into a preallocated output."""
    out = np.empty_like(x)
    rn = sr.Context(fmt, "nearest")
    srctx = sr.Context(fmt, "stochastic", rng=1)
    sr8 = sr.Context(fmt, "stochastic", bits=8, rng=1)
    m = {
        "np.copyto (same dtype)": lambda: np.copyto(out, x),
        "srround RN": lambda: rn.round(x, out=out),
        "srround SR": lambda: srctx.round(x, out=out),
        "srround SR bits=8": lambda: sr8.round(x, out=out),
    }
    if target is not None:
        cast_out = np.empty(x.shape, target)
        lib = "NumPy" if target == np.float16 else "ml_dtypes"
        m[f"{lib} astype (RN)"] = lambda: np.copyto(cast_out, x, casting="unsafe")
    return m
