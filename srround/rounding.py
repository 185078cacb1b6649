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

    The result is x's exact value rounded once into fmt (float64 input goes
    straight to the target, never through float32).

    Parameters
    ----------
    x : array_like
        float32 or float64 values; other real input (integers, bool, float16) is
        converted to float64.
    fmt : Format or str
        The target format, or a name that `srround.format` accepts.
    rounding : str, optional
        One of `srround.ROUNDINGS`; default ``"nearest"`` (ties to even).
    bits : int, optional
        With ``"stochastic"`` only: stochastic rounding with ``bits`` random bits.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes (None: fresh entropy).
    out : numpy.ndarray, optional
        An array of x's shape and float dtype to write into.

    Returns
    -------
    numpy.ndarray
        Values of fmt, in x's float dtype (float64 for other input).

    Raises
    ------
    TypeError
        For non-real x (complex, strings, longdouble: convert explicitly), a wrong
        type of fmt, rounding, bits or rng, or an out that is not an array.
    ValueError
        For an unknown format or rounding, bits with a deterministic mode, float32
        x with a format float32 cannot hold, or an out of another shape or dtype.

    See Also
    --------
    Context.round : the same rounding as a ufunc, with a stream that runs on.

    Examples
    --------
    >>> x = np.array([1.0, 1 + 2**-9, 3.0e5], np.float32)
    >>> sr.round(x, sr.bfloat16)              # 1 + 2**-9 is a tie: to even
    array([1.00000e+00, 1.00000e+00, 2.99008e+05], dtype=float32)
    >>> sr.round(np.full(6, 1 + 2**-9), "bf16", "stochastic", rng=42)
    array([1.       , 1.       , 1.       , 1.       , 1.0078125, 1.       ])
    >>> sr.round([1000.0, -1000.0], sr.e4m3, "toward_zero")
    array([ 448., -448.])
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
