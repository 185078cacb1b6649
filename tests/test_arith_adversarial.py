"""Adversarial arithmetic: inputs chosen where error-free transformations break.

The arithmetic ufuncs carry the exact result of an operation as hi + lo (+ the
sign of a tail) and round that once (csrc/arith.c).  Those transformations stop
being exact near the ends of binary64: products, quotients, remainders and
square roots whose error terms underflow, sums and products just beyond
DBL_MAX, massive cancellation in fma and add.  This file aims inputs at exactly
those places and at exact ties of formats with p = 53, 52, 24, 11, 8, 2, 1, and
checks every result bit for bit (signed zeros included) against an exact model:

* the operation is carried out on Fractions (square roots: see ``sqrt_standin``),
* the exact result is rounded by tests/reference.py's ``ref_round``,
* stochastic modes replay the context's own stream: a pickled twin of the
  context hands out the 64-bit words the call will draw, one per element.

Inputs come from hypothesis: floats built from raw bit patterns, and structured
values m * 2**e built so that the exact result is a tie, a near tie, a massive
cancellation, an underflowing error term or an overflow.
"""
import math
import os
import pickle
import sys
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srround as sr

sys.path.insert(0, os.path.dirname(__file__))
from reference import RefFormat, ref_round  # noqa: E402

DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd")
STOCHASTIC = ("stochastic", "stochastic_equal")
# (mode, bits): every deterministic mode, exact SR, SR with a few random bits, SR-equal
VARIANTS = ([(m, None) for m in DETERMINISTIC]
            + [("stochastic", None), ("stochastic", 1), ("stochastic", 3),
               ("stochastic", 9), ("stochastic_equal", None)])

DBL_MAX = sys.float_info.max
DBL_TRUE_MIN = 5e-324

FORMATS = {
    "binary64": sr.binary64,
    "binary32": sr.binary32,
    "bfloat16": sr.bfloat16,
    "binary16": sr.binary16,
    "e4m3": sr.e4m3,
    "e2m1": sr.e2m1,
    "p53_nosub": sr.Format(53, 1023, -1022, subnormals=False),
    "p52_e1000": sr.Format(52, 1000, -1000),
    "p1_e10": sr.Format(1, 10, -10),
    "fp16_sat": sr.Format(11, 15, -14, overflow="saturate"),
}
NAMES = list(FORMATS)
OPS = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3, "sqrt": 1}

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def ref_format(fmt):
    return RefFormat(fmt.precision, fmt.emax, fmt.emin, subnormals=fmt.subnormals,
                     overflow=fmt.overflow, max=Fraction(fmt.max))


REF = {name: ref_format(f) for name, f in FORMATS.items()}


# ------------------------------------------------------------------ exact model

# Every threshold a rounding can compare against (grid points, midpoints, the
# 2**-64 steps of stochastic rounding) is a multiple of 2**(-1074 - 64): the
# smallest gap of any format inside binary64 is 2**-1074.
SQRT_K = 1074 + 64 + 2


def sqrt_standin(x):
    """A Fraction that every rounding of these formats treats like sqrt(x).

    With K = SQRT_K, let r = isqrt(floor(x * 4**K)).  Either r**2 == x * 4**K and
    sqrt(x) = r / 2**K exactly, or r < sqrt(x) * 2**K < r + 1 strictly.  In the
    second case no threshold (a multiple of 2**-K) lies strictly inside
    (r, r + 1) / 2**K, so the midpoint (r + 1/2) / 2**K lies on the same side of
    every threshold as sqrt(x), and it is not itself a threshold."""
    num = x.numerator << (2 * SQRT_K)
    n, rem = divmod(num, x.denominator)
    r = math.isqrt(n)
    if rem == 0 and r * r == n:
        return Fraction(r, 1 << SQRT_K)
    return Fraction(2 * r + 1, 1 << (SQRT_K + 1))


def _neg(v):
    return math.copysign(1.0, v) < 0


def _zero_sum(x_zero_neg, y_zero_neg, mode):
    """IEEE 754 sign of an exact zero sum (None: that addend is nonzero)."""
    if x_zero_neg is not None and x_zero_neg == y_zero_neg:
        return ("zero", x_zero_neg)
    return ("zero", mode == "down")


def exact(op, args, mode):
    """The exact result: a nonzero Fraction (a stand-in for sqrt), or a tuple
    ("zero", negative), ("inf", negative), ("nan",)."""
    if any(math.isnan(a) for a in args):
        return ("nan",)
    if op == "subtract":
        return exact("add", (args[0], -args[1]), mode)
    if op == "add":
        a, b = args
        if math.isinf(a) or math.isinf(b):
            s = a + b
            return ("nan",) if math.isnan(s) else ("inf", s < 0)
        s = Fraction(a) + Fraction(b)
        if s == 0:
            return _zero_sum(_neg(a) if a == 0 else None, _neg(b) if b == 0 else None, mode)
        return s
    if op == "multiply":
        a, b = args
        neg = _neg(a) != _neg(b)
        if math.isinf(a) or math.isinf(b):
            return ("nan",) if a == 0 or b == 0 else ("inf", neg)
        if a == 0 or b == 0:
            return ("zero", neg)
        return Fraction(a) * Fraction(b)
    if op == "divide":
        a, b = args
        neg = _neg(a) != _neg(b)
        if math.isinf(a):
            return ("nan",) if math.isinf(b) else ("inf", neg)
        if math.isinf(b):
            return ("zero", neg)
        if b == 0:
            return ("nan",) if a == 0 else ("inf", neg)
        if a == 0:
            return ("zero", neg)
        return Fraction(a) / Fraction(b)
    if op == "sqrt":
        (a,) = args
        if a == 0:
            return ("zero", _neg(a))
        if a < 0:
            return ("nan",)
        if math.isinf(a):
            return ("inf", False)
        return sqrt_standin(Fraction(a))
    if op == "fma":
        a, b, c = args
        pneg = _neg(a) != _neg(b)
        if math.isinf(a) or math.isinf(b):
            if a == 0 or b == 0:
                return ("nan",)
            s = (-math.inf if pneg else math.inf) + c
            return ("nan",) if math.isnan(s) else ("inf", s < 0)
        if math.isinf(c):
            return ("inf", c < 0)
        p = Fraction(a) * Fraction(b)
        s = p + Fraction(c)
        if s == 0:
            return _zero_sum(pneg if p == 0 else None, _neg(c) if c == 0 else None, mode)
        return s
    raise AssertionError(op)


def expected(x, rfmt, mode, bits=None, word=None):
    """What the ufunc must return for the exact result x (from ``exact``)."""
    if isinstance(x, tuple):
        if x[0] == "nan":
            return math.nan
        if x[0] == "zero":
            return -0.0 if x[1] else 0.0
        return ref_round(-math.inf if x[1] else math.inf, rfmt, mode)
    u = None if word is None else Fraction(int(word), 2**64)
    return ref_round(x, rfmt, mode, u=u, bits=bits)


def same(got, want):
    if math.isnan(want):
        return math.isnan(got)
    return got == want and _neg(got) == _neg(want)


_CTX = {}


def context(name, mode, bits):
    """A context and, for stochastic modes, the words its next call will use."""
    key = (name, mode, bits)
    if key not in _CTX:
        _CTX[key] = sr.Context(FORMATS[name], mode, bits=bits, rng=zlib.crc32(repr(key).encode()))
    return _CTX[key]


def check(op, rows, names=NAMES, variants=VARIANTS, dtype=np.float64):
    """Runs op on the rows (tuples of operands) for every format and mode;
    returns a list of mismatch descriptions (empty: all agree)."""
    if not rows:
        return []
    cols = [np.array([r[k] for r in rows], dtype=dtype) for k in range(OPS[op])]
    vals = [[float(v) for v in c] for c in cols]
    bad = []
    for name in names:
        fmt = FORMATS[name]
        if dtype == np.float32 and not fmt.fits_float32:
            continue
        for mode, bits in variants:
            ctx = context(name, mode, bits)
            words = None
            if mode in STOCHASTIC:
                words = pickle.loads(pickle.dumps(ctx)).random_words(len(rows))
            with np.errstate(all="ignore"):
                got = getattr(ctx, op)(*cols)
            for i in range(len(rows)):
                args = [v[i] for v in vals]
                x = exact(op, args, mode)
                want = expected(x, REF[name], mode, bits, None if words is None else words[i])
                g = float(got[i])
                if not same(g, want):
                    bad.append(f"{op}({', '.join(float(a).hex() for a in args)}) {name} {mode}"
                               f"{'' if bits is None else f' bits={bits}'}"
                               f"{'' if words is None else f' word={int(words[i]):#018x}'}: "
                               f"got {g.hex()}, want {want.hex()}")
    return bad


def assert_all_match(op, rows, **kw):
    bad = check(op, rows, **kw)
    assert not bad, f"{len(bad)} mismatches, e.g.\n" + "\n".join(bad[:8])
