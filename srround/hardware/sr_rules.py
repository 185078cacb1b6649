"""Stochastic rounding as vendors' instructions do it: the element rules of NVIDIA's
PTX ``cvt.rs`` and the add-and-truncate bit trick (AMD ``V_CVT_SR_PK_BF16_F32``,
PyTorch and StochasticRounding.jl). docs/hardware-sr.md compares them with srround's
SR; the tests (tests/test_sr_rules.py) check each against a slow reference written
from the vendor's text.
"""
import numpy as np

from srround._core import Format
from srround.formats import format as _lookup
from srround.rounding import random_integers, round as _round

# cvt.rs targets: random bits per element (PTX ISA 8.7, cvt: "rbits")
CVT_RS_BITS = {"binary16": 13, "bfloat16": 16, "e4m3": 16, "e5m2": 16, "e2m3": 16,
               "e3m2": 16, "e2m1": 8}
# targets whose .satfinite turns NaN into +MAX_NORM (they have no NaN)
_NAN_TO_MAX = ("e2m3", "e3m2", "e2m1")


def _float32_array(x):
    arr = np.asarray(x)
    if arr.dtype != np.float32:
        raise TypeError(f"the source operand is float32 (an .f32 register), got dtype "
                        f"{arr.dtype}; convert explicitly")
    return arr


def nvidia_cvt_rs(x, target, rbits, *, relu=False, satfinite=None):
    """NVIDIA PTX ``cvt.rs``: float32 to a narrow format with caller-supplied random bits.

    The element rule of ``cvt.rs{.relu}{.satfinite}.{f16x2,bf16x2}.f32`` and of the
    ``.satfinite`` x4 forms for e4m3, e5m2, e2m3, e3m2 and e2m1 (PTX ISA 8.7,
    "cvt", sm_100a): the value "is rounded toward zero or away from zero based on
    the carry out of the integer addition of rbits to the truncated off
    (discarded) bits of mantissa". Each element takes its own random integer:
    13 bits for binary16, 16 for bfloat16 and the fp8/fp6 targets (which discard
    20, 21 or 22 bits of a normal float32: the integer meets the top 16 of them),
    8 for e2m1. That is ``sr.round(x, target, "stochastic", bits=r,
    random_bits=rbits)``: away iff F + rbits >= 2**r, F the top r discarded bits.
    Where the target is subnormal more bits are discarded; this model lines the
    random integer up with the top of them, as srround's rule does (the PTX text
    does not say otherwise).

    Not modelled: how the instruction packs the random integers of its two or four
    elements into one 32-bit register. The PTX manual gives that layout only in
    figures, and it has not been checked independently (no sm_100a hardware at
    hand); pass one integer per element and place them as your kernel does.

    Parameters
    ----------
    x : numpy.ndarray of float32
    target : {"binary16", "bfloat16", "e4m3", "e5m2", "e2m3", "e3m2", "e2m1"} or Format
    rbits : array_like of unsigned integers
        One per element (broadcast against x), below 2**13, 2**16 or 2**8 (for
        binary16 the top 3 of the 16 bits must be 0, as PTX requires).
    relu : bool, optional
        ``.relu``: negative results (and -0) become +0; NaN stays NaN.
    satfinite : bool, optional
        ``.satfinite``: finite results beyond MAX_NORM and infinities clamp to
        +-MAX_NORM; NaN stays NaN for binary16, bfloat16, e4m3 and e5m2 and becomes
        +MAX_NORM for e2m3, e3m2 and e2m1. Default (and the only form PTX has) True
        for the 8-, 6- and 4-bit targets, False for binary16 and bfloat16 (overflow
        then gives +-inf, as SR does).

    Returns
    -------
    numpy.ndarray of float32
        Values of the target format.

    Raises
    ------
    TypeError
        For x that is not float32, or rbits that are not integers.
    ValueError
        For another target, rbits out of range or not broadcasting, or
        satfinite=False with an 8-, 6- or 4-bit target.

    Examples
    --------
    >>> from srround.hardware import nvidia_cvt_rs
    >>> x = np.full(4, 1 + 2**-9, np.float32)        # F = 2**14 of 2**16
    >>> nvidia_cvt_rs(x, "bfloat16", np.array([0, 2**15, 3 * 2**14 - 1, 3 * 2**14]))
    array([1.       , 1.       , 1.       , 1.0078125], dtype=float32)
    """
    x = _float32_array(x)
    fmt = _lookup(target)
    name = next((n for n in CVT_RS_BITS if _lookup(n) == fmt), None)
    if name is None:
        raise ValueError(f"cvt.rs has no {fmt.label} form; targets: {', '.join(CVT_RS_BITS)}")
    r = CVT_RS_BITS[name]
    if satfinite is None:
        satfinite = name not in ("binary16", "bfloat16")
    for what, v in (("relu", relu), ("satfinite", satfinite)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{what} must be True or False, got {v!r}")
    if not satfinite and name not in ("binary16", "bfloat16"):
        raise ValueError(f"cvt.rs to {name} exists only with .satfinite")
    R = random_integers(rbits, 1)
    if R.size and int(R.max()) >> r:
        raise ValueError(f"rbits for {name} hold {r} bits: values must be below 2**{r}")
    if satfinite:   # the same grid, clamped: |x| beyond MAX_NORM and +-inf give +-MAX_NORM
        fmt = _lookup(name)
        fmt = Format(fmt.precision, fmt.emax, fmt.emin, overflow="saturate", max=fmt.max)
    y = _round(x, fmt, "stochastic", bits=r, random_bits=R)
    if satfinite and name in _NAN_TO_MAX:
        y = np.where(np.isnan(y), np.float32(fmt.max), y)
    if relu:
        y = np.where(y <= 0, np.float32(0.0), y)    # NaN compares false: kept
    return y


def add_and_truncate(x, target, rbits):
    """The add-and-truncate trick: add a random integer to the float32 bit pattern's
    discarded bits, then clear them.

    AMD CDNA4/CDNA5 ``V_CVT_SR_PK_BF16_F32`` (CDNA4 ISA reference: tmp = S0.b32 +
    S2[15:0], result tmp[31:16]), and the formulation of PyTorch users and
    StochasticRounding.jl. For finite input it is srround's ``bits=r`` SR with
    caller bits (``sr.round(x, target, "stochastic", bits=r, random_bits=rbits)``,
    r = 24 - p): the carry out of the discarded bits is the same carry, and near
    FLT_MAX it carries into the infinity pattern just as SR overflows. It differs
    on NaN: the addition runs into the payload, so a NaN whose payload lies in the
    discarded bits alone becomes +-inf (0x7F800001 -> inf), and a NaN of all-ones
    significand wraps through the sign bit into -0 or +0 (0x7FFFFFFF + 1 ->
    0x80000000). Only the low r bits of each random integer are used, as the AMD
    instruction reads S2[15:0].

    Parameters
    ----------
    x : numpy.ndarray of float32
    target : Format or str
        A format with float32's exponent range and p <= 24: bfloat16, tf32, or a
        custom Format(p, 127, -126).
    rbits : array_like of unsigned integers
        One per element, broadcast against x; bits above the low 24 - p ignored.

    Returns
    -------
    numpy.ndarray of float32

    Raises
    ------
    TypeError
        For x that is not float32, or rbits that are not integers.
    ValueError
        For a target of another exponent range, or rbits that do not broadcast.

    Examples
    --------
    >>> from srround.hardware import add_and_truncate
    >>> add_and_truncate(np.float32([1 + 2**-9] * 2), "bf16", np.array([0xBFFF, 0xC000]))
    array([1.       , 1.0078125], dtype=float32)
    >>> add_and_truncate(np.array([0x7F800001], np.uint32).view(np.float32), "bf16", [0])
    array([inf], dtype=float32)
    """
    x = _float32_array(x)
    fmt = _lookup(target)
    if (fmt.emax, fmt.emin, fmt.subnormals) != (127, -126, True) or fmt.precision > 24:
        raise ValueError(f"add_and_truncate works on float32 patterns: the target needs "
                         f"float32's exponent range (emax 127, emin -126, subnormals), "
                         f"got {fmt.label}")
    d = 24 - fmt.precision
    mask = np.uint32((1 << d) - 1)
    R = random_integers(rbits, 1)
    try:
        np.broadcast_shapes(x.shape, R.shape)
    except ValueError:
        raise ValueError(f"rbits of shape {R.shape} does not broadcast against x of shape "
                         f"{x.shape}") from None
    low = (R & np.uint64(mask)).astype(np.uint32)
    bits = x.view(np.uint32) + low                   # wraps modulo 2**32, as the ALU does
    return (bits & ~mask).view(np.float32)
