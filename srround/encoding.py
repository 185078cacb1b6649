"""Bit encodings of formats: sr.encode (values -> codes) and sr.decode (codes -> values).

A code is sign | biased exponent | trailing significand, with bias 1 - emin (so
the exponent field 0 holds zero and the subnormals). Where NaN and infinity sit
follows from where max sits (the layouts of docs/formats.md):

  * IEEE 754 (binary16, bfloat16, e5m2, e3m4, ...): the exponent field all ones
    holds +-inf (trailing significand 0) and NaN (anything else); canonical NaN:
    the quiet one, top trailing bit set.
  * OCP E4M3 ("fn"): one code above max, S.1111.111, is NaN (both signs); no inf.
  * OCP MX fp6/fp4 (saturating, no specials): every code is a number.
  * No negative zero (FNUZ, IEEE P3109): the code of -0 (sign bit alone: 0x80 for
    8 bits) is the one NaN; P3109's extended domain has +-inf at the top codes
    (0x7F, 0xFF), max one below; the finite domain and FNUZ use every code.

Formats that fit none of these (no subnormals, a max inside a binade, infinities
without a code for them ...) have no standard encoding: ValueError.

Packed layouts (``packed=True``, 1-D data): two fp4 codes per byte, the first
element in the low nibble (OCP MX, PyTorch's ``float4_e2m1fn_x2``); four fp6 codes
in three bytes, read as a little-endian 24-bit integer holding element j in bits
6j .. 6j+5 (the first element in the lowest bits). A short last group is padded
with zero codes.
"""
from collections import namedtuple

import numpy as np

from srround.formats import format as _lookup
from srround.rounding import as_float_array, real_array

# nbits: code width; t: trailing significand bits; bias; code_max: max's magnitude
# code; inf: infinity's magnitude code or None; nan: the canonical NaN's code or
# None. Magnitude codes above code_max other than inf are NaN.
Layout = namedtuple("Layout", "nbits t bias code_max inf nan")


def _no_encoding(fmt, why):
    return ValueError(f"{fmt.label} has no standard encoding: {why}")


def layout(fmt):
    """The Layout of fmt's codes (see the module docstring), or ValueError."""
    fmt = _lookup(fmt)
    if not fmt.subnormals:
        raise _no_encoding(fmt, "it has no subnormals, so its exponent field 0 holds "
                                "nothing but zero")
    t = fmt.precision - 1
    bias = 1 - fmt.emin
    top = fmt.emax + bias                                     # max's biased exponent
    mant = np.ldexp(fmt.max, t - fmt.emax) - 2 ** t           # max's trailing significand
    code_max = (top << t) | int(mant)
    w = top.bit_length()                                      # exponent field width
    nbits = 1 + w + t
    ones = (1 << (w + t)) - 1                                 # the largest magnitude code
    ieee_max = ((2 ** w - 2) << t) | (2 ** t - 1)
    if not fmt.signed_zero:
        nan = 1 << (w + t)                                    # the code of -0
        if code_max == ones and fmt.overflow != "inf":
            return Layout(nbits, t, bias, code_max, None, nan)
        if code_max == ones - 1:
            return Layout(nbits, t, bias, code_max, ones, nan)
        raise _no_encoding(fmt, "without negative zero, max must be the top code or "
                                "the one below infinity")
    if code_max == ones and fmt.overflow == "saturate":
        return Layout(nbits, t, bias, code_max, None, None)
    if code_max == ones - 1 and fmt.overflow != "inf":
        return Layout(nbits, t, bias, code_max, None, ones)
    if t >= 1 and code_max == ieee_max:
        inf = (2 ** w - 1) << t
        return Layout(nbits, t, bias, code_max, inf, inf | (1 << (t - 1)))
    raise _no_encoding(fmt, f"its max ({fmt.max!r}) is neither below the IEEE specials, "
                            "nor one code below a NaN code, nor the top code of a "
                            "saturating format")


def code_dtype(nbits):
    """uint8 for formats of at most 8 bits, uint16 up to 16, then uint32, uint64."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if nbits <= 8 * np.dtype(dtype).itemsize:
            return np.dtype(dtype)


def _check_packed(lay, fmt, ndim):
    if lay.nbits not in (4, 6):
        raise ValueError(f"packed=True is for 4- and 6-bit formats; {fmt.label} has "
                         f"{lay.nbits}-bit codes")
    if ndim != 1:
        raise ValueError(f"packed=True takes 1-D data, got {ndim} dimensions")


def _pack(codes, nbits):
    per = 2 if nbits == 4 else 4                     # codes per group (1 or 3 bytes)
    n = codes.size
    padded = np.zeros(-(-n // per) * per, np.uint32)
    padded[:n] = codes
    groups = padded.reshape(-1, per) << (nbits * np.arange(per, dtype=np.uint32))
    word = np.bitwise_or.reduce(groups, axis=1)
    if nbits == 4:
        return word.astype(np.uint8)
    return np.stack([word & 0xFF, (word >> 8) & 0xFF, word >> 16], axis=1).astype(
        np.uint8).reshape(-1)


def _unpack(data, nbits, count):
    if nbits == 4:
        word = data.astype(np.uint32)
        per = 2
    else:
        if data.size % 3:
            raise ValueError(f"packed fp6 data holds whole groups of 3 bytes, got "
                             f"{data.size} bytes")
        b = data.reshape(-1, 3).astype(np.uint32)
        word = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        per = 4
    capacity = word.size * per
    if count is None:
        count = capacity
    if not 0 <= count <= capacity:
        raise ValueError(f"count={count} is more than the {capacity} codes the packed data "
                         "holds")
    codes = (word[:, None] >> (nbits * np.arange(per, dtype=np.uint32))) & ((1 << nbits) - 1)
    return codes.reshape(-1)[:count]


def encode(x, fmt, *, packed=False):
    """The bit patterns (codes) of values of a format.

    Parameters
    ----------
    x : array_like
        Values of fmt (round first with `srround.round`): floats or integers.
    fmt : Format or str
        A format with a standard encoding (every preset; see docs/formats.md).
    packed : bool, optional
        For 4- and 6-bit formats and 1-D x: two fp4 codes per byte (first element
        in the low nibble) or four fp6 codes in three bytes (first element in the
        lowest bits of a little-endian 24-bit group); a short last group is padded
        with zero codes.

    Returns
    -------
    numpy.ndarray
        Codes of x's shape: uint8 for formats of at most 8 bits, uint16 up to 16,
        then uint32 and uint64 (packed: 1-D uint8). NaN (any payload) gives the
        format's canonical NaN; -0 in a format without negative zero gives the
        zero code.

    Raises
    ------
    TypeError
        For non-real x or a fmt of the wrong type.
    ValueError
        For a value that is not in the format (the message names the first one),
        NaN or infinity in a format without them, a format with no standard
        encoding, or packed=True with another width or non-1-D x.

    Examples
    --------
    >>> sr.encode([1.0, -0.0, np.nan, 240.0], "e4m3fnuz")
    array([ 64,   0, 128, 127], dtype=uint8)
    >>> sr.encode([1.0, 6.0, -0.5], sr.e2m1, packed=True)   # low nibble first
    array([114,   9], dtype=uint8)
    """
    fmt = _lookup(fmt)
    if not isinstance(packed, (bool, np.bool_)):
        raise TypeError(f"packed must be True or False, got {packed!r}")
    lay = layout(fmt)
    arr = np.asarray(real_array(x))
    if packed:
        _check_packed(lay, fmt, arr.ndim)
    v = as_float_array(arr).astype(np.float64)      # exact (or ValueError)
    a = np.abs(v)
    nan, inf = np.isnan(v), np.isinf(v)
    finite = ~(nan | inf)
    a_fin = np.where(finite, a, 0.0)
    normal = a_fin >= np.ldexp(1.0, fmt.emin)
    exp = np.where(normal, np.frexp(a_fin)[1] - 1, fmt.emin)
    sig = np.ldexp(a_fin, lay.t - exp)              # exact: a power-of-two scaling
    ok = finite & (sig == np.floor(sig))
    exp_field = np.where(normal, exp + lay.bias, 0)
    frac = np.where(ok, sig, 0).astype(np.uint64) & np.uint64((1 << lay.t) - 1)
    mag = (exp_field.astype(np.uint64) << np.uint64(lay.t)) | frac
    ok &= mag <= lay.code_max
    if lay.inf is not None:
        ok |= inf
        mag = np.where(inf, np.uint64(lay.inf), mag)
    if lay.nan is not None:
        ok |= nan
    if not np.all(ok):
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        value = arr[first] if arr.ndim else arr[()]
        where = f"x[{', '.join(map(str, first))}]" if arr.ndim else "x"
        raise ValueError(f"{where} = {value!r} is not a value of {fmt.label}; round it "
                         "with sr.round first")
    sign_bit = np.uint64(1 << (lay.nbits - 1))
    negative = np.signbit(v) & (fmt.signed_zero | (mag != 0))
    codes = mag | np.where(negative, sign_bit, np.uint64(0))
    if lay.nan is not None:
        codes = np.where(nan, np.uint64(lay.nan), codes)
    codes = codes.astype(code_dtype(lay.nbits))
    return _pack(codes, lay.nbits) if packed else codes


def decode(codes, fmt, dtype=np.float64, *, packed=False, count=None):
    """The values of a format's codes (the inverse of `srround.encode`).

    Parameters
    ----------
    codes : array_like
        Non-negative integers below 2**nbits (nbits: the format's code width).
    fmt : Format or str
        A format with a standard encoding.
    dtype : {numpy.float64, numpy.float32}, optional
        The result's dtype (float32 only for formats whose values it holds).
    packed : bool, optional
        codes is 1-D uint8 packed data of a 4- or 6-bit format (layout as in
        `srround.encode`).
    count : int, optional
        With packed=True: how many values to unpack (default: all the data holds).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    TypeError
        For codes that are not integers, or another dtype.
    ValueError
        For negative or too large codes, a format without a standard encoding, a
        dtype that cannot hold the format's values, count without packed=True or
        beyond the data, or packed=True with another width.

    Examples
    --------
    >>> sr.decode(np.array([0x40, 0x80, 0x7F], np.uint8), "binary8p3")
    array([  1.,  nan,  inf])
    """
    fmt = _lookup(fmt)
    lay = layout(fmt)
    if not isinstance(packed, (bool, np.bool_)):
        raise TypeError(f"packed must be True or False, got {packed!r}")
    dtype = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"dtype must be float64 or float32, got {dtype}")
    if dtype == np.float32 and not fmt.fits_float32:
        raise ValueError(f"{fmt.label} has values that float32 cannot hold")
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {arr.dtype}")
    if count is not None and not packed:
        raise ValueError("count is only meaningful with packed=True")
    if packed:
        _check_packed(lay, fmt, arr.ndim)
        if arr.dtype != np.uint8:
            raise TypeError(f"packed codes are bytes (uint8), got dtype {arr.dtype}")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
                raise TypeError(f"count must be an integer, got {count!r}")
        arr = _unpack(arr, lay.nbits, None if count is None else int(count))
    if arr.size and (arr.min() < 0 or int(arr.max()) >> lay.nbits):
        raise ValueError(f"codes must lie in 0 .. 2**{lay.nbits} - 1 for {fmt.label}")
    c = arr.astype(np.uint64)
    mag = c & np.uint64((1 << (lay.nbits - 1)) - 1)
    negative = (c >> np.uint64(lay.nbits - 1)) != 0
    exp_field = (mag >> np.uint64(lay.t)).astype(np.int64)
    frac = (mag & np.uint64((1 << lay.t) - 1)).astype(np.float64)
    sig = np.where(exp_field > 0, frac + 2.0 ** lay.t, frac)
    with np.errstate(over="ignore"):      # the codes of inf and NaN; replaced below
        value = np.ldexp(sig, np.maximum(exp_field, 1) - lay.bias - lay.t)
    beyond = mag > lay.code_max
    if lay.inf is not None:
        value = np.where(beyond, np.where(mag == lay.inf, np.inf, np.nan), value)
    else:
        value = np.where(beyond, np.nan, value)
    value = np.where(negative, -value, value)
    if not fmt.signed_zero:
        value = np.where(negative & (mag == 0), np.nan, value)
    return value.astype(dtype)
