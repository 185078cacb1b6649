"""Quantization: map data onto a small set of levels with any rounding mode.

    import srround as sr
    q = sr.quantize.uniform(w, bits=8, axis=0, rounding="stochastic", rng=0)
    q.codes, q.scale, q.zero_point      # int8 codes, per-channel scales
    w_hat = q.dequantize()
    f = sr.quantize.fixed(x, 1, 6)       # Q1.6: 8-bit words, spacing 2**-6, saturating
    l = sr.quantize.levels(x, sr.quantize.log2_levels(8))
    m = sr.quantize.mx(x, "mxfp4")       # OCP microscaling: blocks of 32, shared 2**E
    sr.quantize.sqnr_db(x, q)

Every rounding goes through the core's kernels; there are no per-element Python loops.
Rounding v (float64) to an integer is ``ctx.add(v, C) - C`` where ``C = 3 * 2**(k-1)``
puts v + C in the binade [2**k, 2**(k+1)) and ctx's format has precision k + 1, so
its spacing there is exactly 1: the exact sum is rounded once, so every rounding mode
(stochastic rounding included, with its exact probabilities) acts on v itself. C is
even, so ties-to-even and round-to-odd see v's own parity; modes that depend on the
sign (toward_zero, nearest_away) are applied to abs(v).

Stochastic rounding onto arbitrary levels compares one 64-bit random word u of the
context's stream with t = floor(f * 2**64), f the distance to the lower neighbour in
units of the gap: P(u < t) = t / 2**64 = f (f is a float64, so f * 2**64 is exact).

Conventions (docs/experiments.md, "quantization"): symmetric quantization uses
scale = max(abs(x)) / (2**(bits-1) - 1) and the narrow code range [-(2**(bits-1) - 1),
2**(bits-1) - 1] (0 exact, as PyTorch and TFLite); asymmetric quantization widens the
calibration range to contain 0 and uses an integer zero point. Values beyond the range
saturate. Non-finite input raises ValueError.
"""
import math

import numpy as np

from srround._core import Context, Format, check_rounding
from srround.formats import format as lookup

__all__ = ["QuantizedTensor", "LevelTensor", "MXTensor", "uniform", "fixed", "levels",
           "log2_levels", "quantile_levels", "lloyd_max_levels", "mx", "MX_FORMATS",
           "mse", "sqnr_db", "max_error", "bias", "nbytes", "compression_ratio"]


# ---------------------------------------------------------------- input checks

def _as_float_array(x, name="x"):
    a = np.asarray(x)
    if a.dtype.kind in "cOSUV" or a.dtype.kind == "M" or a.dtype.kind == "m":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: nothing to quantize")
    out_dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    a64 = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a64)):
        raise ValueError(f"{name} contains NaN or infinity; quantization needs finite data")
    return a64, out_dtype


def _check_int(value, name, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return int(value)


def _check_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return value


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _normalize_axis(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of {ndim} dimensions")
    return int(axis) % ndim


# ---------------------------------------------------------------- rounding to integers

class _IntegerRounder:
    """Rounds float64 arrays to integers in one rounding mode, with one random stream
    shared by all calls (one Context per binade size k, spawned from one seed)."""

    def __init__(self, rounding="nearest", rng=None, bits=None):
        self.rounding = check_rounding(rounding)
        self.bits = bits
        self.seed = rng if not isinstance(rng, (int, np.integer)) or isinstance(rng, bool) \
            else np.random.SeedSequence(int(rng))
        self.contexts = {}
        # one reference context validates rounding / bits / rng now, not on first use
        self._context(2)

    def _context(self, k):
        ctx = self.contexts.get(k)
        if ctx is None:
            rng = self.seed
            if isinstance(rng, np.random.SeedSequence):
                rng = np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key + (k,))
            ctx = Context(Format(k + 1, k + 2), self.rounding, bits=self.bits, rng=rng)
            self.contexts[k] = ctx
        return ctx

    def __call__(self, v):
        """v: float64 array with |v| < 2**50; returns float64 integers."""
        v = np.asarray(v, np.float64)
        if v.size == 0:
            return v.copy()
        top = float(np.max(np.abs(v)))
        # smallest k >= 2 with |v| < 2**(k-1): v + C lies in [2**k, 2**(k+1)]
        k = max(2, math.frexp(top)[1] + 1)
        if k > 51:
            raise ValueError("values too large to round to integers exactly (|v| >= 2**50)")
        C = 3.0 * 2.0 ** (k - 1)
        ctx = self._context(k)
        if self.rounding in ("toward_zero", "nearest_away"):
            return np.copysign(ctx.add(np.abs(v), C) - C, v) + 0.0
        return ctx.add(v, C) - C


def round_to_integer(v, rounding="nearest", rng=None, bits=None):
    """v rounded to integers (float64) in any rounding mode: one exact add, rounded once."""
    return _IntegerRounder(rounding, rng, bits)(v)


def integer_rounder(rounding="nearest", *, rng=None, bits=None):
    """A function v -> v rounded to integers, as round_to_integer, whose random stream
    runs on from one call to the next (round_to_integer starts afresh each call)."""
    return _IntegerRounder(rounding, rng, bits)


def _words(rng, n):
    """n uint64 random words from a stochastic context seeded with rng."""
    return Context(Format(2, 2), "stochastic", rng=rng).random_words(n)


# ---------------------------------------------------------------- packing

def _code_dtype(bits, signed):
    for width in (8, 16, 32, 64):
        if bits <= width:
            return np.dtype(f"{'int' if signed else 'uint'}{width}")
    raise ValueError(f"bits must be at most 64, got {bits}")


def _pack_nibbles(codes):
    """Codes of 4 bits or fewer, two per byte (low nibble first, C order, zero padded)."""
    flat = codes.reshape(-1).astype(np.int64) & 0xF
    if flat.size % 2:
        flat = np.append(flat, 0)
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def _unpack_nibbles(packed, size, signed):
    nib = np.empty(2 * packed.size, np.int16)
    nib[0::2] = packed & 0xF
    nib[1::2] = packed >> 4
    nib = nib[:size]
    if signed:
        nib = np.where(nib >= 8, nib - 16, nib)
    return nib.astype(np.int8 if signed else np.uint8)


# ---------------------------------------------------------------- uniform quantization

class QuantizedTensor:
    """Integer codes q with x ~ (q - zero_point) * scale.

    Made by `uniform` and `fixed`; not usually constructed directly.

    Parameters
    ----------
    codes : numpy.ndarray
        The integer codes, of the tensor's shape.
    scale : array_like
        The step between codes; broadcasts against the tensor (per tensor: shape
        (); per channel: the channel axis kept, the others of length 1).
    zero_point : array_like
        The code of 0, shaped as scale.
    bits : int
        Bits per code.
    signed : bool
        Signed or unsigned codes.
    axis : int or None
        The channel axis, or None for one scale per tensor.
    dtype : numpy.dtype
        The float type of `dequantize`.

    Attributes
    ----------
    data : numpy.ndarray
        The stored codes: uint8 bytes holding two codes each (low nibble first)
        when bits <= 4, otherwise int8/uint8/int16/... of the tensor's shape.
    shape : tuple of int
    packed : bool
        Whether two codes share a byte.

    Examples
    --------
    >>> q = sr.quantize.uniform(np.array([-1.0, -0.3, 0.0, 0.25, 1.27]), bits=4)
    >>> q
    QuantizedTensor(shape=(5,), bits=4, signed, per-tensor, nbytes=7)
    >>> q.codes, q.data
    (array([-6, -2,  0,  1,  7], dtype=int8), array([234,  16,   7], dtype=uint8))
    """

    def __init__(self, codes, scale, zero_point, bits, signed, axis, dtype):
        self.shape = codes.shape
        self.bits = bits
        self.signed = signed
        self.axis = axis
        self.scale = np.asarray(scale, np.float64)
        self.zero_point = np.asarray(zero_point, np.int64)
        self.dtype = np.dtype(dtype)
        self.packed = bits <= 4
        self.data = _pack_nibbles(codes) if self.packed else codes.astype(
            _code_dtype(bits, signed))

    @property
    def codes(self):
        """The integer codes, unpacked, of the tensor's shape."""
        if self.packed:
            return _unpack_nibbles(self.data, math.prod(self.shape),
                                   self.signed).reshape(self.shape)
        return self.data

    def dequantize(self):
        """The values the codes stand for, (codes - zero_point) * scale.

        Returns
        -------
        numpy.ndarray
            Of the tensor's shape and float dtype.
        """
        return ((self.codes.astype(np.float64) - self.zero_point) * self.scale).astype(
            self.dtype)

    @property
    def nbytes(self):
        """Storage: the code bytes, float32 scales, and zero points (one code word
        each) unless they are all 0."""
        size = self.data.nbytes + 4 * self.scale.size
        if np.any(self.zero_point != 0):
            size += self.zero_point.size * _code_dtype(self.bits, self.signed).itemsize
        return size

    def __repr__(self):
        kind = "per-tensor" if self.axis is None else f"per-channel (axis {self.axis})"
        return (f"QuantizedTensor(shape={self.shape}, bits={self.bits}, "
                f"{'signed' if self.signed else 'unsigned'}, {kind}, nbytes={self.nbytes})")


def _reduce_axes(ndim, axis):
    return None if axis is None else tuple(i for i in range(ndim) if i != axis)


def uniform(x, bits=8, rounding="nearest", *, signed=True, symmetric=True, axis=None,
            rng=None, calibration="minmax", percentile=99.99, scale=None, zero_point=None):
    """Uniform (affine) integer quantization of x.

    Parameters
    ----------
    x : array_like
        Finite real values.
    bits : int, optional
        2..16 (codes of 4 bits or fewer are packed two per byte); default 8.
    rounding : str, optional
        Any of `srround.ROUNDINGS`; default ``"nearest"``.
    signed : bool, optional
        Signed (default) or unsigned codes.
    symmetric : bool, optional
        True (default): scale = max(abs(x)) / (2**(bits-1) - 1), codes in
        +-(2**(bits-1) - 1), zero point 0 (signed) or 2**(bits-1) (unsigned).
        False: the range [min(x, 0), max(x, 0)] maps onto all 2**bits codes with an
        integer zero point.
    axis : int, optional
        None for one scale per tensor, an int for one scale per index along that
        axis (per channel).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes.
    calibration : {"minmax", "percentile"}, optional
        "percentile" takes the range from the given percentile of abs(x) (of x at both
        ends when asymmetric); larger values saturate.
    percentile : float, optional
        In (50, 100]; default 99.99.
    scale : float or array_like, optional
        Given instead of calibrating: positive finite reals; per tensor one value,
        per channel one value or one per channel.
    zero_point : int or array_like, optional
        With scale: integers within the code range.

    Returns
    -------
    QuantizedTensor

    Raises
    ------
    TypeError
        For non-real x, or options of the wrong type.
    ValueError
        For empty or non-finite x, bits out of range, an unknown rounding or
        calibration, a bad axis, scale or zero_point.

    Notes
    -----
    A channel (or tensor) that is all zeros gets scale 1, so it dequantizes to
    exactly 0. Values beyond the calibrated range saturate.

    Examples
    --------
    >>> x = np.array([-1.0, -0.3, 0.0, 0.25, 1.27])
    >>> q = sr.quantize.uniform(x, bits=8)
    >>> q.codes, q.scale
    (array([-100,  -30,    0,   25,  127], dtype=int8), array(0.01))
    >>> w = np.arange(6.0).reshape(2, 3)
    >>> sr.quantize.uniform(w, bits=8, axis=0).codes        # a scale per row
    array([[  0,  64, 127],
           [ 76, 102, 127]], dtype=int8)

    Stochastic rounding keeps the mean: 0.3 lies between the 4-bit codes 2/7 and
    3/7 of a tensor whose largest value is 1.

    >>> y = np.r_[1.0, np.full(9999, 0.3)]
    >>> sr.quantize.uniform(y, bits=4).dequantize()[1]
    np.float64(0.2857142857142857)
    >>> sto = sr.quantize.uniform(y, bits=4, rounding="stochastic", rng=1)
    >>> round(float(sto.dequantize()[1:].mean()), 3)
    0.3
    """
    bits = _check_int(bits, "bits", 2, 16)
    check_rounding(rounding)
    signed = _check_flag(signed, "signed")
    symmetric = _check_flag(symmetric, "symmetric")
    a, dtype = _as_float_array(x)
    axis = _normalize_axis(axis, a.ndim)
    if axis is not None and a.ndim == 0:
        raise ValueError("per-channel quantization needs an array with at least one axis")
    half = 2 ** (bits - 1)
    if symmetric:
        qmin, qmax = (-(half - 1), half - 1) if signed else (1, 2 * half - 1)
    else:
        qmin, qmax = (-half, half - 1) if signed else (0, 2 * half - 1)
    axes = _reduce_axes(a.ndim, axis)
    if scale is None:
        scale, zero_point = _calibrate(a, axes, symmetric, signed, half, qmin, qmax,
                                       calibration, percentile)
    else:
        channels = 1 if axis is None else a.shape[axis]
        scale = _given_parameter(scale, "scale", "fiu", channels, axis, a.ndim)
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError("scale must be positive and finite")
        if zero_point is None:
            zero_point = 0 if (symmetric and signed) else (half if symmetric else 0)
        zero_point = _given_parameter(zero_point, "zero_point", "iu", channels, axis, a.ndim)
        if np.any(zero_point < qmin) or np.any(zero_point > qmax):
            raise ValueError(f"zero_point must lie in the code range {qmin}..{qmax}")
        # every code must dequantize to a finite value of the data's float type
        reach = np.maximum(qmax - zero_point, zero_point - qmin) * scale
        if not np.all(reach <= np.finfo(dtype).max):
            raise ValueError(f"scale is too large: codes up to {qmax} would dequantize "
                             f"beyond the range of {np.dtype(dtype).name}")
    v = np.clip(a / scale + zero_point, qmin, qmax)
    codes = _IntegerRounder(rounding, rng)(v)
    return QuantizedTensor(codes.astype(np.int64), scale, zero_point, bits, signed, axis,
                           dtype)


def _given_parameter(value, name, kinds, channels, axis, ndim):
    """A caller's scale or zero point as an array that broadcasts against the data:
    one value, or (per channel) one per channel."""
    arr = np.asarray(value)
    if arr.dtype.kind not in kinds or arr.dtype.kind == "b":
        what = "integers" if kinds == "iu" else "real numbers"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if arr.size not in (1, channels):
        per = "" if axis is None else f" or one per channel ({channels})"
        raise ValueError(f"{name} must be one value{per}, got shape {arr.shape}")
    arr = arr.astype(np.float64 if name == "scale" else np.int64)
    if axis is None or arr.size == 1:
        return arr.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return arr.reshape(shape)


def _calibrate(a, axes, symmetric, signed, half, qmin, qmax, calibration, percentile):
    """(scale, zero_point) from the data: per tensor (axes None) or per channel.

    A channel whose calibrated range is empty (all of its values 0) gets scale 1:
    its codes are then the zero point and it dequantizes to exactly 0. Zero
    channels are common in real weights (pruned units), so this is not an error.
    With "percentile", a channel whose percentile range is empty but which is not
    all zero falls back to its min/max range."""
    if not isinstance(calibration, str):
        raise TypeError(f"calibration must be a string, got {type(calibration).__name__}")
    if calibration not in ("minmax", "percentile"):
        raise ValueError(f"calibration must be 'minmax' or 'percentile', got {calibration!r}")
    if calibration == "percentile":
        _check_real(percentile, "percentile")
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {percentile!r}")
    keep = axes is not None

    def value_range(method):
        """(lo, hi) of the calibration range, widened to contain 0."""
        if symmetric:
            if method == "minmax":
                amax = np.max(np.abs(a), axis=axes, keepdims=keep)
            else:
                amax = np.percentile(np.abs(a), percentile, axis=axes, keepdims=keep)
            return -amax, amax
        if method == "minmax":
            lo = np.min(a, axis=axes, keepdims=keep)
            hi = np.max(a, axis=axes, keepdims=keep)
        else:
            lo = np.percentile(a, 100 - percentile, axis=axes, keepdims=keep)
            hi = np.percentile(a, percentile, axis=axes, keepdims=keep)
        return np.minimum(lo, 0.0), np.maximum(hi, 0.0)

    lo, hi = value_range(calibration)
    if calibration == "percentile" and np.any(hi == lo):
        mlo, mhi = value_range("minmax")
        lo, hi = np.where(hi == lo, mlo, lo), np.where(hi == lo, mhi, hi)
    empty = hi == lo                                    # all-zero channels
    if symmetric:
        scale = np.where(empty, 1.0, hi / (half - 1))
        zero_point = np.zeros_like(scale, np.int64) + (0 if signed else half)
        return scale, zero_point
    scale = np.where(empty, 1.0, (hi - lo) / (qmax - qmin))
    zero_point = np.clip(np.rint(qmin - lo / scale), qmin, qmax).astype(np.int64)
    return scale, zero_point


def fixed(x, m, n, rounding="nearest", *, rng=None, signed=True):
    """Fixed point Qm.n: m integer bits, n fraction bits, and a sign bit when signed.

    Values lie on the grid k * 2**-n in [-2**m, 2**m - 2**-n] (unsigned:
    [0, 2**m - 2**-n]); values beyond saturate.

    Parameters
    ----------
    x : array_like
        Finite real values.
    m : int
        Integer bits, 0..31.
    n : int
        Fraction bits; the word length m + n (+ 1 when signed) is 2..32.
    rounding : str, optional
        Any of `srround.ROUNDINGS`; default ``"nearest"``.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes.
    signed : bool, optional
        Whether there is a sign bit (default True).

    Returns
    -------
    QuantizedTensor
        Scale 2**-n, zero point 0.

    Raises
    ------
    TypeError
        For non-real x, or options of the wrong type.
    ValueError
        For empty or non-finite x, m or n out of range, a word length outside 2..32.

    Examples
    --------
    >>> q = sr.quantize.fixed(np.array([0.3, -1.7, 5.0]), 1, 6)     # Q1.6, 8-bit words
    >>> q.codes, q.dequantize()
    (array([  19, -109,  127], dtype=int8), array([ 0.296875, -1.703125,  1.984375]))
    """
    m = _check_int(m, "m", 0, 31)
    n = _check_int(n, "n", 0, 64)
    signed = _check_flag(signed, "signed")
    width = m + n + (1 if signed else 0)
    if not 2 <= width <= 32:
        raise ValueError(f"word length m + n{' + 1' if signed else ''} must be in 2..32, "
                         f"got {width}")
    check_rounding(rounding)
    a, dtype = _as_float_array(x)
    top = 2 ** (m + n)
    v = np.clip(np.ldexp(a, n), -top if signed else 0, top - 1)   # exact scaling
    codes = _IntegerRounder(rounding, rng)(v)
    return QuantizedTensor(codes.astype(np.int64), 2.0 ** -n, 0, width, signed, None, dtype)


# ---------------------------------------------------------------- non-uniform levels

_LEVEL_ROUNDINGS = ("nearest", "nearest_away", "toward_zero", "up", "down", "stochastic",
                    "stochastic_equal")


class LevelTensor:
    """Indices into a sorted table of levels; `dequantize` looks them up.

    Made by `levels`; not usually constructed directly.

    Parameters
    ----------
    indices : numpy.ndarray
        Indices into levels, of the tensor's shape.
    levels : numpy.ndarray
        The strictly increasing levels (float64).
    dtype : numpy.dtype
        The float type of `dequantize`.

    Attributes
    ----------
    data : numpy.ndarray
        The stored indices: two per byte (low nibble first) for at most 16 levels,
        else uint8 or uint16 of the tensor's shape.
    shape : tuple of int
    packed : bool
        Whether two indices share a byte.

    Examples
    --------
    >>> t = sr.quantize.levels(np.array([0.3, -0.6, 0.9]), sr.quantize.log2_levels(3))
    >>> t.indices, t.dequantize()
    (array([4, 1, 6], dtype=uint8), array([ 0.25, -0.5 ,  1.  ]))
    """

    def __init__(self, indices, levels, dtype):
        self.shape = indices.shape
        self.levels = levels
        self.dtype = np.dtype(dtype)
        self.packed = levels.size <= 16
        self.data = _pack_nibbles(indices) if self.packed else indices.astype(
            np.uint8 if levels.size <= 256 else np.uint16)

    @property
    def indices(self):
        """The indices into levels, unpacked, of the tensor's shape."""
        if self.packed:
            return _unpack_nibbles(self.data, math.prod(self.shape), False).reshape(self.shape)
        return self.data

    def dequantize(self):
        """The levels the indices point at.

        Returns
        -------
        numpy.ndarray
            Of the tensor's shape and float dtype.
        """
        return self.levels[self.indices].astype(self.dtype)

    @property
    def nbytes(self):
        """Index bytes and the level table as float32."""
        return self.data.nbytes + 4 * self.levels.size

    def __repr__(self):
        return f"LevelTensor(shape={self.shape}, levels={self.levels.size}, nbytes={self.nbytes})"


def _check_levels(levels):
    lv = np.asarray(levels)
    if lv.dtype.kind not in "fiu":
        raise TypeError(f"levels must be real numbers, got dtype {lv.dtype}")
    lv = lv.astype(np.float64)
    if lv.ndim != 1 or lv.size < 2:
        raise ValueError("levels must be a 1-D array of at least two values")
    if lv.size > 65536:
        raise ValueError("at most 65536 levels")
    if not np.all(np.isfinite(lv)):
        raise ValueError("levels must be finite")
    if not np.all(np.diff(lv) > 0):
        raise ValueError("levels must be strictly increasing")
    return lv


def levels(x, levels, rounding="nearest", *, rng=None):
    """Quantize x onto a strictly increasing set of levels.

    Values beyond the ends saturate.

    Parameters
    ----------
    x : array_like
        Finite real values.
    levels : array_like
        At least two strictly increasing finite values (at most 65536).
    rounding : str, optional
        ``"nearest"`` (default): the closest level, ties to the even index;
        ``"stochastic"``: one of the two neighbours lo <= x <= hi, hi with
        probability (x - lo) / (hi - lo), so E[result] = x; also
        ``"nearest_away"``, ``"toward_zero"``, ``"up"``, ``"down"``,
        ``"stochastic_equal"``.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes.

    Returns
    -------
    LevelTensor

    Raises
    ------
    TypeError
        For non-real x or levels.
    ValueError
        For empty or non-finite x, bad levels, or a rounding levels do not have
        (``"odd"``).

    Examples
    --------
    >>> lv = sr.quantize.log2_levels(3)
    >>> sr.quantize.levels(np.array([0.3, -0.6, 0.9]), lv).dequantize()
    array([ 0.25, -0.5 ,  1.  ])
    >>> t = sr.quantize.levels(np.full(10000, 0.3), lv, "stochastic", rng=0)
    >>> round(float(t.dequantize().mean()), 2)                 # 0.25 or 0.5, mean 0.3
    0.3
    """
    lv = _check_levels(levels)
    check_rounding(rounding)
    if rounding not in _LEVEL_ROUNDINGS:
        raise ValueError(f"rounding {rounding!r} is not available for levels; choose one "
                         f"of {_LEVEL_ROUNDINGS}")
    a, dtype = _as_float_array(x)
    a = np.clip(a, lv[0], lv[-1])
    i = np.clip(np.searchsorted(lv, a, side="right") - 1, 0, lv.size - 2)
    lo, hi = lv[i], lv[i + 1]
    f = (a - lo) / (hi - lo)                    # in [0, 1]
    if rounding == "nearest":
        up = (f > 0.5) | ((f == 0.5) & (i % 2 == 1))
    elif rounding == "nearest_away":
        up = (f > 0.5) | ((f == 0.5) & (hi > 0) & (np.abs(hi) >= np.abs(lo)))
    elif rounding == "up":
        up = f > 0
    elif rounding == "down":
        up = f >= 1
    elif rounding == "toward_zero":
        up = (f >= 1) | ((f > 0) & (hi <= 0))
    else:
        exact = (f == 0) | (f == 1)
        if rounding == "stochastic":
            threshold = np.where(f < 1, np.ldexp(f, 64), 0.0)   # f * 2**64, exact
            words = _words(rng, a.size).reshape(a.shape)
            up = words < threshold.astype(np.uint64)
        else:
            words = _words(rng, a.size).reshape(a.shape)
            up = words >= np.uint64(2 ** 63)
        up = np.where(exact, f >= 1, up)
    return LevelTensor((i + up).astype(np.int64), lv, dtype)


def log2_levels(count, *, top=1.0, signed=True):
    """Logarithmic (power-of-two) levels: 0 and the magnitudes top * 2**-j.

    Parameters
    ----------
    count : int
        Magnitudes top * 2**-j, j = 0..count-1 (1..1074).
    top : float, optional
        The largest level (positive, finite; default 1).
    signed : bool, optional
        Include the negatives (default True).

    Returns
    -------
    numpy.ndarray
        The levels, increasing (2 count + 1 of them when signed, else count + 1).

    Raises
    ------
    TypeError
        For options of the wrong type.
    ValueError
        For count or top out of range.

    Examples
    --------
    >>> sr.quantize.log2_levels(3)
    array([-1.  , -0.5 , -0.25,  0.  ,  0.25,  0.5 ,  1.  ])
    """
    count = _check_int(count, "count", 1, 1074)
    _check_real(top, "top")
    signed = _check_flag(signed, "signed")
    if not (np.isfinite(top) and top > 0):
        raise ValueError(f"top must be positive and finite, got {top!r}")
    mags = float(top) * 2.0 ** -np.arange(count - 1, -1, -1, dtype=np.float64)
    return np.concatenate([-mags[::-1], [0.0], mags]) if signed else \
        np.concatenate([[0.0], mags])


def quantile_levels(x, count):
    """Levels at the quantiles (j + 1/2) / count of x: equally many values near each.

    Parameters
    ----------
    x : array_like
        Finite real data.
    count : int
        How many levels (2..65536); fewer come back when quantiles coincide.

    Returns
    -------
    numpy.ndarray
        The distinct levels, increasing.

    Raises
    ------
    TypeError
        For non-real x or count.
    ValueError
        For empty, non-finite or constant data.

    Examples
    --------
    >>> sr.quantize.quantile_levels(np.arange(100.0), 4)
    array([12.375, 37.125, 61.875, 86.625])
    """
    count = _check_int(count, "count", 2, 65536)
    a, _ = _as_float_array(x)
    lv = np.unique(np.quantile(a.ravel(), (np.arange(count) + 0.5) / count))
    if lv.size < 2:
        raise ValueError("cannot build levels from constant data")
    return lv


def lloyd_max_levels(x, count, *, iterations=50, tol=1e-9):
    """Lloyd-Max levels: 1-D k-means, the minimum-MSE levels for the data.

    Starts from the quantile levels, then alternates thresholds at midpoints and
    levels at the means of their cells until the levels move less than
    tol * (range of x).

    Parameters
    ----------
    x : array_like
        Finite real data.
    count : int
        How many levels (2..65536).
    iterations : int, optional
        At most this many rounds (default 50).
    tol : float, optional
        Stop when no level moves more than tol * (max(x) - min(x)).

    Returns
    -------
    numpy.ndarray
        The levels, increasing.

    Raises
    ------
    TypeError
        For non-real x or options of the wrong type.
    ValueError
        For empty, non-finite or constant data, options out of range.

    Examples
    --------
    >>> sr.quantize.lloyd_max_levels(np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.2]), 2)
    array([0.1, 5.1])
    """
    count = _check_int(count, "count", 2, 65536)
    iterations = _check_int(iterations, "iterations", 0, 2**31)
    _check_real(tol, "tol")
    if not tol >= 0:
        raise ValueError(f"tol must be non-negative, got {tol!r}")
    a, _ = _as_float_array(x)
    a = np.sort(a.ravel())
    lv = quantile_levels(a, count)
    span = a[-1] - a[0]
    for _ in range(iterations):
        edges = np.searchsorted(a, 0.5 * (lv[:-1] + lv[1:]))
        bounds = np.concatenate([[0], edges, [a.size]])
        sums = np.add.reduceat(np.concatenate([a, [0.0]]), bounds[:-1])
        counts = np.diff(bounds)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), lv)
        new = np.unique(new)
        if new.size == lv.size and np.max(np.abs(new - lv)) <= tol * span:
            lv = new
            break
        lv = new
    return lv


# ---------------------------------------------------------------- microscaling (OCP MX)

# name -> (element format name or "int8", element bits, emax of the element format)
MX_FORMATS = {"mxfp8": ("e4m3", 8, 8), "mxfp8_e4m3": ("e4m3", 8, 8),
              "mxfp8_e5m2": ("e5m2", 8, 15), "mxfp6": ("e2m3", 6, 2),
              "mxfp6_e2m3": ("e2m3", 6, 2), "mxfp6_e3m2": ("e3m2", 6, 4),
              "mxfp4": ("e2m1", 4, 2), "mxint8": ("int8", 8, 0)}


class MXTensor:
    """Blocks of ``block`` elements along ``axis`` sharing a scale 2**exponent.

    Made by `mx`; not usually constructed directly.

    Parameters
    ----------
    elements : numpy.ndarray
        The element values (representable in the element format; for mxint8,
        integer codes / 64), of the tensor's shape.
    exponents : numpy.ndarray
        int16 scale exponents, the block axis replaced by the number of blocks
        (E8M0 holds -127..127).
    fmt : str
        The MX format's name (a key of `MX_FORMATS`).
    axis : int
        The axis along which blocks run.
    block : int
        Elements per block.
    elem_bits : int
        Bits per element.
    dtype : numpy.dtype
        The float type of `dequantize`.

    Attributes
    ----------
    format : str
        The MX format's name.
    shape : tuple of int

    Examples
    --------
    >>> m = sr.quantize.mx(np.linspace(-1, 1, 32), "mxfp4")
    >>> m
    MXTensor(mxfp4, shape=(32,), axis=0, block=32, nbytes=17)
    >>> m.exponents, m.elements[:3], m.dequantize()[:3]
    (array([-2], dtype=int16), array([-4., -4., -3.]), array([-1.  , -1.  , -0.75]))
    """

    def __init__(self, elements, exponents, fmt, axis, block, elem_bits, dtype):
        self.elements = elements
        self.exponents = exponents
        self.format = fmt
        self.axis = axis
        self.block = block
        self.elem_bits = elem_bits
        self.shape = elements.shape
        self.dtype = np.dtype(dtype)

    def dequantize(self):
        """The values the blocks stand for, elements * 2**exponent.

        Returns
        -------
        numpy.ndarray
            Of the tensor's shape and float dtype.
        """
        e = np.repeat(self.exponents.astype(np.int64), self.block, axis=self.axis)
        return np.ldexp(self.elements.astype(np.float64), e).astype(self.dtype)

    @property
    def nbytes(self):
        """Element bits, packed, plus one byte (E8M0) per block."""
        return (self.elements.size * self.elem_bits + 7) // 8 + self.exponents.size

    def __repr__(self):
        return (f"MXTensor({self.format}, shape={self.shape}, axis={self.axis}, "
                f"block={self.block}, nbytes={self.nbytes})")


def mx(x, fmt="mxfp8", rounding="nearest", *, axis=-1, block=32, rng=None):
    """OCP Microscaling (MX v1.0): blocks of elements sharing a power-of-two scale.

    Each block of ``block`` consecutive elements along axis shares the scale
    X = 2**(floor(log2(amax)) - emax_elem) (amax the block's largest abs(x), clamped to
    E8M0's 2**-127..2**127); the elements x / X are rounded into the element format
    (e4m3, e5m2, e2m3, e3m2, e2m1, saturating at its max) or, for mxint8, to int8
    codes k / 64 with abs(k) <= 127.

    Parameters
    ----------
    x : array_like
        Finite real values, at least 1-D.
    fmt : str, optional
        A key of `MX_FORMATS` (default ``"mxfp8"``, E4M3 elements).
    rounding : str, optional
        Any of `srround.ROUNDINGS`; default ``"nearest"``.
    axis : int, optional
        The axis along which blocks run (default the last).
    block : int, optional
        Elements per block (default 32, the standard's); must divide the axis.
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stochastic modes.

    Returns
    -------
    MXTensor

    Raises
    ------
    TypeError
        For non-real x or a non-string fmt.
    ValueError
        For an unknown fmt or rounding, empty or non-finite x, a scalar x, or a
        block that does not divide the axis.

    Examples
    --------
    >>> m = sr.quantize.mx(np.linspace(-1, 1, 32), "mxfp4")
    >>> m.exponents, m.dequantize()[:4]
    (array([-2], dtype=int16), array([-1.  , -1.  , -0.75, -0.75]))
    """
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be the name of an MX format, got {type(fmt).__name__}")
    if fmt not in MX_FORMATS:
        raise ValueError(f"unknown MX format {fmt!r}; choose one of {list(MX_FORMATS)}")
    check_rounding(rounding)
    a, dtype = _as_float_array(x)
    if a.ndim == 0:
        raise ValueError("mx needs an array with at least one axis")
    axis = _normalize_axis(axis, a.ndim)
    block = _check_int(block, "block", 1, 2 ** 31)
    length = a.shape[axis]
    if length % block:
        raise ValueError(f"block size {block} does not divide the length {length} of "
                         f"axis {axis}")
    name, elem_bits, emax_elem = MX_FORMATS[fmt]
    moved = np.moveaxis(a, axis, -1)
    blocks = moved.reshape(moved.shape[:-1] + (length // block, block))
    amax = np.max(np.abs(blocks), axis=-1, keepdims=True)
    exp_amax = np.frexp(amax)[1] - 1              # floor(log2(amax)) for amax > 0
    exps = np.where(amax > 0, exp_amax - emax_elem, 0)
    exps = np.clip(exps, -127, 127)
    scaled = np.ldexp(blocks, -exps)              # exact (powers of two)
    if name == "int8":
        codes = np.clip(_IntegerRounder(rounding, rng)(np.ldexp(scaled, 6)), -127, 127)
        elems = np.ldexp(codes, -6)
    else:
        base = lookup(name)
        sat = Format(base.precision, base.emax, base.emin, subnormals=base.subnormals,
                     overflow="saturate", max=base.max)
        elems = Context(sat, rounding, rng=rng).round(scaled)
    elems = np.moveaxis(elems.reshape(moved.shape), -1, axis)
    exps = np.moveaxis(exps[..., 0].astype(np.int16), -1, axis)
    return MXTensor(elems, exps, fmt, axis, block, elem_bits, dtype)


# ---------------------------------------------------------------- metrics

def _values(y):
    return y.dequantize() if hasattr(y, "dequantize") else y


def _real(v, name):
    a = np.asarray(_values(v))
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real numbers (or a quantized tensor), got dtype "
                        f"{a.dtype}")
    return a.astype(np.float64)


def _pair(x, y):
    x, y = _real(x, "x"), _real(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
    return x, y


def mse(x, y):
    """Mean squared error between x and y.

    Parameters
    ----------
    x : array_like
        The original values.
    y : array_like or QuantizedTensor or LevelTensor or MXTensor
        Their approximation (a quantized tensor is dequantized).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        For non-real input.
    ValueError
        For shapes that differ.

    Examples
    --------
    >>> x = np.array([0.1, 0.2, 0.3])
    >>> sr.quantize.mse(x, sr.quantize.fixed(x, 0, 3))
    0.001874999999999999
    """
    x, y = _pair(x, y)
    return float(np.mean((y - x) ** 2))


def sqnr_db(x, y):
    """Signal-to-quantization-noise ratio 10 log10(sum x**2 / sum (y - x)**2) in dB.

    Parameters
    ----------
    x : array_like
        The original values.
    y : array_like or QuantizedTensor or LevelTensor or MXTensor
        Their approximation.

    Returns
    -------
    float
        inf when y == x.

    Raises
    ------
    TypeError
        For non-real input.
    ValueError
        For shapes that differ.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(1000)
    >>> round(sr.quantize.sqnr_db(x, sr.quantize.uniform(x, bits=8)), 1)
    40.8
    """
    x, y = _pair(x, y)
    noise = float(np.sum((y - x) ** 2))
    signal = float(np.sum(x ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def max_error(x, y):
    """Largest absolute error max(abs(y - x)).

    Parameters
    ----------
    x : array_like
        The original values.
    y : array_like or QuantizedTensor or LevelTensor or MXTensor
        Their approximation.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        For non-real input.
    ValueError
        For shapes that differ.

    Examples
    --------
    >>> x = np.array([0.1, 0.2, 0.3])
    >>> sr.quantize.max_error(x, sr.quantize.fixed(x, 0, 3))
    0.04999999999999999
    """
    x, y = _pair(x, y)
    return float(np.max(np.abs(y - x)))


def bias(x, y):
    """Mean error mean(y - x): near 0 for unbiased (stochastic) rounding.

    Parameters
    ----------
    x : array_like
        The original values.
    y : array_like or QuantizedTensor or LevelTensor or MXTensor
        Their approximation.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        For non-real input.
    ValueError
        For shapes that differ.

    Examples
    --------
    >>> x = np.full(10000, 0.3)
    >>> sr.quantize.bias(x, sr.quantize.fixed(x, 0, 2))           # always 0.25
    -0.04999999999999999
    >>> abs(sr.quantize.bias(x, sr.quantize.fixed(x, 0, 2, "stochastic", rng=0))) < 0.005
    True
    """
    x, y = _pair(x, y)
    return float(np.mean(y - x))


def nbytes(a):
    """Bytes of an array or of a quantized tensor's storage.

    Parameters
    ----------
    a : array_like or QuantizedTensor or LevelTensor or MXTensor
        Anything with an ``nbytes``, or array_like.

    Returns
    -------
    int

    Examples
    --------
    >>> x = np.zeros(64)
    >>> sr.quantize.nbytes(x), sr.quantize.nbytes(sr.quantize.uniform(x, bits=4))
    (512, 36)
    """
    return int(a.nbytes) if hasattr(a, "nbytes") else int(np.asarray(a).nbytes)


def compression_ratio(original, quantized):
    """The storage saved: nbytes(original) / nbytes(quantized).

    Parameters
    ----------
    original : array_like
        The data.
    quantized : QuantizedTensor or LevelTensor or MXTensor or array_like
        Its quantized form.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the quantized data has no bytes.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(1024)
    >>> sr.quantize.compression_ratio(x, sr.quantize.mx(x, "mxfp4"))
    15.0588...
    """
    size = nbytes(quantized)
    if size == 0:
        raise ValueError("the quantized data has no bytes: no compression ratio")
    return nbytes(original) / size
