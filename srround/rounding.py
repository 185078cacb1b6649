"""sr.round: round an array to a format, in any rounding mode."""
import numpy as np

from srround._core import Context, check_rng, check_rounding
from srround.formats import format as _lookup

# Deterministic contexts carry no state, so one per (format, mode) serves every call.
_DETERMINISTIC = {}


def as_float_array(x, name="x"):
    """x as a float32 or float64 array: float32 and float64 stay; other real input
    (integers, bool, float16) becomes float64; anything else is a TypeError."""
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if arr.dtype in (np.float32, np.float64):
        return arr
    if kind in "biu" or arr.dtype == np.float16:
        return arr.astype(np.float64)
    if kind == "f":
        raise TypeError(f"{name} has dtype {arr.dtype}; convert it to float64 explicitly "
                        "(rounding it implicitly would round twice)")
    raise TypeError(f"{name} must hold real numbers (float32, float64 or integers), "
                    f"got dtype {arr.dtype}")


def round(x, fmt, rounding="nearest", *, bits=None, rng=None, out=None):
    """Round x to the format fmt.

    x: array_like of float32 or float64 (other real input is converted to float64);
    the result has x's float dtype and holds values of fmt. fmt: a Format or a name
    that ``sr.format`` accepts. rounding: one of ``sr.ROUNDINGS``. bits=r (with
    "stochastic" only): stochastic rounding with r random bits. rng: None (fresh
    entropy), a non-negative int, a SeedSequence or a Generator. out: an array of
    x's shape and float dtype to write into.
    """
    fmt = _lookup(fmt)
    check_rounding(rounding)
    arr = as_float_array(x)
    if arr.dtype == np.float32 and not fmt.fits_float32:
        raise ValueError(f"{fmt!r} has values that float32 cannot hold; "
                         "pass float64 input")
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
        if out.dtype != arr.dtype or out.shape != arr.shape:
            raise ValueError(f"out must have shape {arr.shape} and dtype {arr.dtype}, "
                             f"got shape {out.shape} and dtype {out.dtype}")
    if rounding in ("stochastic", "stochastic_equal"):
        ctx = Context(fmt, rounding, bits=bits, rng=rng)
    else:
        if bits is not None:
            raise ValueError(f"bits is only allowed with rounding='stochastic', not {rounding!r}")
        check_rng(rng)
        key = (fmt, rounding)
        ctx = _DETERMINISTIC.get(key)
        if ctx is None:
            ctx = _DETERMINISTIC[key] = Context(fmt, rounding)
    if out is None:
        return ctx.round(arr)
    return ctx.round(arr, out=out)
