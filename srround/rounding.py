"""sr.round: round an array to a format, in any rounding mode.

Input rule, shared with the Context ufuncs (whose ``round`` registers its loops in
this order, see srround/_core.pyx): the result is float32 for float32 input and for
the narrower floating types that float32 holds exactly (ml_dtypes' bfloat16,
float8, float6, float4); float64 for everything else: float64, integers (64-bit
ones rounded from their exact value), bool and float16. A format that float32
cannot hold gives float64 for all input, and sr.round refuses float32 input for it.
Any byte order; masked arrays keep their mask.
"""
import numpy as np

from srround._core import STOCHASTIC_ROUNDINGS, Context, check_rng, check_rounding
from srround.formats import format as _lookup

# Deterministic contexts carry no state, so one per (format, mode) serves every call.
_DETERMINISTIC = {}

# Context.round's loops in NumPy's search order: the input goes to the first one it
# casts to safely (NumPy's rule for ufunc loops).
_ROUND_LOOPS = (np.int64, np.uint64, np.float16, np.float32, np.float64)


def real_array(x, name="x"):
    """x as an array (masked arrays and non-native byte order kept), or a TypeError
    unless it holds real numbers that float64 carries exactly."""
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if not np.can_cast(arr.dtype, np.float64):
        if arr.dtype.kind == "f":
            raise TypeError(f"{name} has dtype {arr.dtype}; convert it to float64 explicitly "
                            "(rounding it implicitly would round twice)")
        raise TypeError(f"{name} must hold real numbers (floats, integers or bool), "
                        f"got dtype {arr.dtype}")
    return arr


def result_dtype(dtype, fits_float32=True):
    """The dtype that rounding input of this dtype gives (the module's input rule)."""
    for loop in _ROUND_LOOPS:
        if (loop is not np.float32 or fits_float32) and np.can_cast(dtype, loop):
            return np.dtype(np.float32 if loop is np.float32 else np.float64)
    raise TypeError(f"cannot round dtype {dtype}")


def _check_exact_integers(arr, name):
    """64-bit integers that float64 cannot hold would be rounded twice on the way."""
    hi = (arr & ~np.array(0x7ff, arr.dtype)).astype(np.float64)   # each part is exact
    lo = (arr & np.array(0x7ff, arr.dtype)).astype(np.float64)
    if np.any((hi + lo) - hi != lo):
        raise ValueError(f"{name} holds integers that float64 cannot represent exactly; "
                         "round them with sr.round first")


def as_float_array(x, name="x"):
    """x as a native float32 or float64 array, converted exactly, of result_dtype's
    type; anything else is a TypeError, integers beyond float64's exact range a
    ValueError."""
    arr = np.asarray(real_array(x, name))
    dtype = result_dtype(arr.dtype)
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        _check_exact_integers(arr, name)
    return arr.astype(dtype, copy=False)


def round(x, fmt, rounding="nearest", *, bits=None, rng=None, out=None):
    """Round x to the format fmt.

    The result is x's exact value rounded once into fmt (float64 input goes
    straight to the target, never through float32).

    Parameters
    ----------
    x : array_like
        Real numbers. float32 and the narrower floats float32 holds exactly
        (ml_dtypes' bfloat16, float8 ...) give float32; float64, integers (64-bit
        ones from their exact value), bool and float16 give float64. Any byte
        order; a masked array gives a masked array with its mask.
    fmt : Format or str
        The target format, or a name that `srround.format` accepts.
    rounding : str, optional
        One of `srround.ROUNDINGS`; default ``"nearest"`` (ties to even).
    bits : int, optional
        With ``"stochastic"`` only: stochastic rounding with ``bits`` random bits.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes (None: fresh entropy).
    out : numpy.ndarray, optional
        An array of x's shape and the result's dtype to write into.

    Returns
    -------
    numpy.ndarray
        Values of fmt, in the dtype of the input rule above (float64 for all
        input when fmt has values float32 cannot hold).

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
    arr = real_array(x)
    if arr.dtype.kind == "f" and arr.dtype.itemsize == 4 and not fmt.fits_float32:
        raise ValueError(f"{fmt!r} has values that float32 cannot hold; "
                         "pass float64 input")
    dtype = result_dtype(arr.dtype, fmt.fits_float32)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
        if out.dtype.newbyteorder("=") != dtype or out.shape != arr.shape:
            raise ValueError(f"out must have shape {arr.shape} and dtype {dtype}, "
                             f"got shape {out.shape} and dtype {out.dtype}")
    if rounding in STOCHASTIC_ROUNDINGS:
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
