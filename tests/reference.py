"""Slow, obviously-correct reference rounding for the test suite.

Everything here is exact: values are ``fractions.Fraction`` and random words are
Python integers, so there is no intermediate rounding to reason about.  The
semantics are those of README.md ("Semantics worth knowing") and csrc/srround.h;
the C core must agree with this module bit for bit.  ``ref_arith`` extends ``ref_round`` to the
arithmetic operations: the exact result (``exact_result``), rounded once.

The grid of a format with precision p (significand bits, implicit bit included)
and exponent range [emin, emax]:

* subnormal range [0, 2**emin): multiples of q = 2**(emin - p + 1)
  (without subnormals only 0 and 2**emin),
* binade [2**e, 2**(e+1)) for e >= emin: multiples of 2**(e - p + 1).

``neighbours`` continues this grid above ``max`` on purpose: rounding first picks
a point of the unbounded grid, and the overflow policy is applied afterwards.
"""

import math
from fractions import Fraction

MODES = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd",
         "stochastic", "stochastic_equal")
STOCHASTIC_MODES = ("stochastic", "stochastic_equal")
WORD_BITS = 64  # width of one random word R; u = R / 2**64


def _pow2(e):
    return Fraction(2) ** e


class RefFormat:
    """Plain parameters of a target format (no validation beyond the obvious)."""

    def __init__(self, precision, emax, emin=None, subnormals=True,
                 overflow="inf", max=None):
        assert precision >= 1 and overflow in ("inf", "saturate", "nan")
        self.precision = precision
        self.emax = emax
        self.emin = 1 - emax if emin is None else emin
        self.subnormals = subnormals
        self.overflow = overflow
        top = (2 - _pow2(1 - precision)) * _pow2(emax)
        self.max = top if max is None else Fraction(max)
        self.q = _pow2(self.emin - precision + 1)   # subnormal quantum
        self.s = _pow2(emax - precision + 1)        # top-binade spacing
        self.tiny = _pow2(self.emin)

    def __repr__(self):
        return (f"RefFormat({self.precision}, {self.emax}, {self.emin}, "
                f"subnormals={self.subnormals}, overflow={self.overflow!r}, "
                f"max={self.max})")


PRESETS = {
    "binary16": RefFormat(11, 15, -14),
    "bfloat16": RefFormat(8, 127, -126),
    "tf32": RefFormat(11, 127, -126),
    "binary32": RefFormat(24, 127, -126),
    "e5m2": RefFormat(3, 15, -14),
    "e4m3": RefFormat(4, 8, -6, overflow="nan", max=448),
    "e3m2": RefFormat(3, 4, -2, overflow="saturate"),
    "e2m3": RefFormat(4, 2, 0, overflow="saturate"),
    "e2m1": RefFormat(2, 2, 0, overflow="saturate"),
}


def _floor_log2(x):
    """floor(log2(x)) for a Fraction x > 0, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    # The bit-length difference is floor(log2 x) or one more than it.
    return e - 1 if _pow2(e) > x else e


def _spacing(v, fmt):
    """Distance from grid point v >= 0 to the next grid point above it."""
    if v < fmt.tiny:
        return fmt.q if fmt.subnormals else fmt.tiny
    return _pow2(_floor_log2(v) - fmt.precision + 1)


def neighbours(x, fmt):
    """(RD(x), RU(x)) in the unbounded grid of fmt, for a Fraction x >= 0."""
    x = Fraction(x)
    assert x >= 0
    if not fmt.subnormals and x < fmt.tiny:
        return (x, x) if x == 0 else (Fraction(0), fmt.tiny)
    ulp = _spacing(x, fmt)  # the grid spacing is constant on [RD, RU]
    lo = math.floor(x / ulp) * ulp
    return (lo, lo) if lo == x else (lo, lo + ulp)


def encoding_is_odd(v, fmt):
    """Last bit of the encoding of grid point v >= 0.

    For p > 1 that is the parity of the integer significand v / spacing(v)
    (0 is even).  For p = 1 there are no trailing significand bits, so, as in
    gfloat, the last bit is that of the biased exponent e + 1 - emin.  Either
    way two adjacent grid points have opposite parity.
    """
    if v == 0:
        return False
    if fmt.precision == 1:
        return (_floor_log2(v) + 1 - fmt.emin) % 2 == 1
    return (v / _spacing(v, fmt)).numerator % 2 == 1


def _fraction_floor(f, r):
    """floor(f * 2**r): the first r bits of the fraction f in [0, 1)."""
    return math.floor(f * 2**r)


def _away(a, lo, hi, negative, mode, fmt, u, bits):
    """True iff the inexact magnitude a (lo < a < hi) rounds to hi."""
    if mode == "nearest":
        if a - lo != hi - a:
            return a - lo > hi - a
        return encoding_is_odd(lo, fmt)  # tie: go to the even neighbour
    if mode == "nearest_away":
        return a - lo >= hi - a
    if mode == "toward_zero":
        return False
    if mode == "up":
        return not negative
    if mode == "down":
        return negative
    if mode == "odd":
        return not encoding_is_odd(lo, fmt)
    assert u is not None and 0 <= u < 1, "stochastic modes need u in [0, 1)"
    R = math.floor(Fraction(u) * 2**WORD_BITS)  # the 64-bit random word
    if mode == "stochastic_equal":
        return R >> (WORD_BITS - 1) == 1
    if mode == "stochastic":
        r = WORD_BITS if bits is None else bits
        assert 1 <= r <= WORD_BITS
        return R >> (WORD_BITS - r) < _fraction_floor((a - lo) / (hi - lo), r)
    raise ValueError(f"unknown rounding mode {mode!r}")


def _rounds_outward(mode, negative):
    """Does this mode send an overflowing magnitude to infinity (IEEE 754)?"""
    if mode in ("nearest", "nearest_away") + STOCHASTIC_MODES:
        return True
    return (mode == "up" and not negative) or (mode == "down" and negative)


def ref_round(x, fmt, mode, u=None, bits=None):
    """Round x (a Python float, or an exact Fraction) into fmt; returns a float.

    u: for the stochastic modes, the random word R as the Fraction R / 2**64.
    bits: for 'stochastic', use only the top `bits` bits of R (limited-bit SR).
    The result must fit in a float64 (true of every preset).
    """
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}")
    if bits is not None and mode != "stochastic":
        raise ValueError("bits is only meaningful for 'stochastic'")
    if isinstance(x, Fraction):
        negative, infinite = x < 0, False  # an exact zero has no sign: +0
    else:
        if math.isnan(x):
            return math.nan
        negative, infinite = math.copysign(1.0, x) < 0, math.isinf(x)

    if infinite:
        # An infinite input is not rounded: it stays infinite unless the
        # policy saturates ("nan" turns it into NaN below).
        overflowed, outward, r = True, True, None
    else:
        a = abs(Fraction(x))
        lo, hi = neighbours(a, fmt)
        if lo == hi:
            r = lo
        else:
            r = hi if _away(a, lo, hi, negative, mode, fmt, u, bits) else lo
        overflowed, outward = r > fmt.max, _rounds_outward(mode, negative)

    if overflowed:
        if fmt.overflow == "saturate" or not outward:
            r = fmt.max
        elif fmt.overflow == "nan":
            return math.nan
        else:
            return -math.inf if negative else math.inf
    return -float(r) if negative else float(r)


def prob_up(x, fmt, mode, bits=None):
    """Exact probability (over a uniform 64-bit R) that |x| rounds away from zero.

    Defined for the stochastic modes; 0 for representable x and infinities.
    Under overflow="inf" this is also the probability of overflowing when
    RU(|x|) > max.
    """
    if mode not in STOCHASTIC_MODES:
        raise ValueError("prob_up is defined for the stochastic modes only")
    if not isinstance(x, Fraction) and (math.isnan(x) or math.isinf(x)):
        return Fraction(0)
    a = abs(Fraction(x))
    lo, hi = neighbours(a, fmt)
    if lo == hi:
        return Fraction(0)
    if mode == "stochastic_equal":
        return Fraction(1, 2)
    r = WORD_BITS if bits is None else bits
    return Fraction(_fraction_floor((a - lo) / (hi - lo), r), 2**r)


def sqrt_standin(x, K=1074 + 64 + 2):
    """A Fraction that every rounding of a format inside binary64 treats like sqrt(x),
    for x > 0 a Fraction with a power-of-two denominator (sqrt itself is irrational).

    Every grid point, midpoint and 64-bit stochastic threshold is a multiple of 2**-K.
    With r = isqrt(floor(x * 4**K)): either r**2 == x * 4**K and sqrt(x) = r / 2**K
    exactly, or r < sqrt(x) * 2**K < r + 1 strictly; then no threshold lies strictly
    inside (r, r + 1) / 2**K, so the midpoint (r + 1/2) / 2**K lies on the same side
    of every threshold as sqrt(x), and is not itself one."""
    import math
    n, rem = divmod(x.numerator << (2 * K), x.denominator)
    r = math.isqrt(n)
    if rem == 0 and r * r == n:
        return Fraction(r, 1 << K)
    return Fraction(2 * r + 1, 1 << (K + 1))


# ----------------------------------------------------------- exact arithmetic
#
# The expected results of the arithmetic ufuncs: carry out the operation exactly
# (on Fractions), then round once with ref_round.  Results that need no rounding
# (signed zeros, infinities, NaN) follow IEEE 754.

def _is_negative(v):
    """The sign bit of a float (so -0.0 counts as negative)."""
    return math.copysign(1.0, v) < 0


def _signed_zero(negative):
    return -0.0 if negative else 0.0


def _zero_sum_is_negative(x_zero_neg, y_zero_neg, mode):
    """Sign of an exact zero sum x + y (IEEE 754 6.3).

    x_zero_neg, y_zero_neg: the sign of each addend that is itself a zero, None
    for a nonzero addend.  Two zeros of the same sign keep it; every other exact
    zero sum is +0, except -0 in mode "down" (the stochastic modes act like
    nearest here: an exact result has nothing to round)."""
    if x_zero_neg is not None and x_zero_neg == y_zero_neg:
        return x_zero_neg
    return mode == "down"


def exact_result(op, args, mode):
    """The exact result of op on the Python floats args.

    op: "add", "subtract", "multiply", "divide", "fma" (a * b + c), "sqrt", or
    "round" (no operation: the input itself).  Returns a nonzero Fraction (for
    sqrt, a stand-in that rounds like the irrational root, see sqrt_standin), or
    a float that is not rounded further: a signed zero, an infinity or NaN.
    mode only decides the sign of an exact zero sum."""
    if any(math.isnan(a) for a in args):
        return math.nan
    if op == "subtract":
        a, b = args
        return exact_result("add", (a, -b), mode)
    if op == "add":
        a, b = args
        if math.isinf(a) or math.isinf(b):
            return a + b  # an infinity, or NaN for inf - inf
        s = Fraction(a) + Fraction(b)
        if s == 0:
            return _signed_zero(_zero_sum_is_negative(
                _is_negative(a) if a == 0 else None,
                _is_negative(b) if b == 0 else None, mode))
        return s
    if op == "multiply":
        a, b = args
        negative = _is_negative(a) != _is_negative(b)
        if math.isinf(a) or math.isinf(b):
            if a == 0 or b == 0:
                return math.nan  # 0 * inf
            return -math.inf if negative else math.inf
        if a == 0 or b == 0:
            return _signed_zero(negative)
        return Fraction(a) * Fraction(b)
    if op == "divide":
        a, b = args
        negative = _is_negative(a) != _is_negative(b)
        if math.isinf(a):
            if math.isinf(b):
                return math.nan  # inf / inf
            return -math.inf if negative else math.inf
        if math.isinf(b):
            return _signed_zero(negative)
        if b == 0:
            if a == 0:
                return math.nan  # 0 / 0
            return -math.inf if negative else math.inf
        if a == 0:
            return _signed_zero(negative)
        return Fraction(a) / Fraction(b)
    if op == "sqrt":
        (a,) = args
        if a == 0:
            return a  # sqrt(-0) = -0
        if a < 0:
            return math.nan  # -inf included
        if math.isinf(a):
            return a
        return sqrt_standin(Fraction(a))
    if op == "fma":
        a, b, c = args
        product_negative = _is_negative(a) != _is_negative(b)
        if math.isinf(a) or math.isinf(b):
            if a == 0 or b == 0:
                return math.nan  # 0 * inf
            # an infinite product plus c: an infinity, or NaN for inf - inf
            return (-math.inf if product_negative else math.inf) + c
        if math.isinf(c):
            return c
        p = Fraction(a) * Fraction(b)
        s = p + Fraction(c)
        if s == 0:
            # a zero product carries the sign of a * b into the zero-sum rule
            return _signed_zero(_zero_sum_is_negative(
                product_negative if p == 0 else None,
                _is_negative(c) if c == 0 else None, mode))
        return s
    if op == "round":
        (a,) = args
        return a if a == 0 or math.isinf(a) else Fraction(a)
    raise ValueError(f"unknown operation {op!r}")


def ref_arith(op, args, fmt, mode, word=None, bits=None):
    """What a correctly rounding op(*args) into fmt returns, as a float.

    args: the operands (floats, NumPy scalars included; converted exactly).
    word: for the stochastic modes, the 64-bit random word R the call uses
    (u = R / 2**64); bits: for "stochastic", limited-bit SR (see ref_round)."""
    x = exact_result(op, [float(a) for a in args], mode)
    if isinstance(x, float):
        if math.isinf(x):
            return ref_round(x, fmt, mode)  # not rounded, but the overflow policy applies
        return x  # a signed zero or NaN
    u = None if word is None else Fraction(int(word), 2**WORD_BITS)
    return ref_round(x, fmt, mode, u=u, bits=bits)
