"""The checks shared by the adversarial arithmetic tests (tests/test_arith_adversarial.py,
tests/test_arith_properties.py): inputs chosen where error-free transformations break.

The arithmetic ufuncs carry the exact result of an operation as hi + lo (+ the
sign of a tail) and round that once (csrc/arith.c).  Those transformations stop
being exact near the ends of binary64: products, quotients, remainders and
square roots whose error terms underflow, sums and products just beyond
DBL_MAX, massive cancellation in fma and add.  The tests aim inputs at exactly
those places and at exact ties of formats with p = 53, 52, 24, 11, 8, 2, 1, and
``check`` compares every result bit for bit (signed zeros included) against an exact
model:

* tests/reference.py's ``ref_arith`` carries out the operation on Fractions
  (square roots: see ``sqrt_standin``) and rounds the exact result once with
  ``ref_round``,
* stochastic modes replay the context's own stream: a pickled twin of the
  context hands out the 64-bit words the call will draw, one per element.
"""
import math
import sys
import zlib
from fractions import Fraction

import numpy as np
from conftest import DETERMINISTIC, STOCHASTIC, formats, same_float, twin
from reference import ref_arith
from vector_oracle import ref_format

import srround as sr

# (mode, bits): every deterministic mode, exact SR, SR with a few random bits, SR-equal
VARIANTS = ([(m, None) for m in DETERMINISTIC]
            + [("stochastic", None), ("stochastic", 1), ("stochastic", 3),
               ("stochastic", 9), ("stochastic_equal", None)])

DBL_MAX = sys.float_info.max
DBL_TRUE_MIN = 5e-324

FORMATS = formats("binary64", "binary32", "bfloat16", "binary16", "e4m3", "e2m1",
                  "p53_nosub", "p52_e1000", "p1_e10", "fp16_sat")
NAMES = list(FORMATS)
OPS = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3, "sqrt": 1}
REF = {name: ref_format(f) for name, f in FORMATS.items()}


def f64(m, e):
    """m * 2**e as a float; m * 2**e must be exactly representable."""
    v = math.ldexp(m, e)
    assert Fraction(v) == Fraction(m) * Fraction(2) ** e, (m, e)
    return v


def maybe_f64(m, e):
    """m * 2**e as a float when exactly representable, else None."""
    if e < -1074 or m.bit_length() + e > 1024:
        return None
    v = math.ldexp(m, e)
    return v if Fraction(v) == Fraction(m) * Fraction(2) ** e else None


# ------------------------------------------------------------------ checking

_CTX = {}


def context(name, mode, bits, stream="sequential"):
    """A context and, for stochastic modes, the words its next call will use."""
    key = (name, mode, bits) if stream == "sequential" else (name, mode, bits, stream)
    if key not in _CTX:
        _CTX[key] = sr.Context(FORMATS[name], mode, bits=bits, rng=zlib.crc32(repr(key).encode()),
                               stream=stream)
    return _CTX[key]


def check(op, rows, names=NAMES, variants=VARIANTS, dtype=np.float64, stream="sequential"):
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
            ctx = context(name, mode, bits, stream)
            words = None
            if mode in STOCHASTIC:
                words = twin(ctx).random_words(len(rows))
            with np.errstate(all="ignore"):
                got = getattr(ctx, op)(*cols)
            for i in range(len(rows)):
                args = [v[i] for v in vals]
                want = ref_arith(op, args, REF[name], mode,
                                 word=None if words is None else words[i], bits=bits)
                g = float(got[i])
                if not same_float(g, want):
                    bad.append(f"{op}({', '.join(float(a).hex() for a in args)}) {name} {mode}"
                               f"{'' if bits is None else f' bits={bits}'}"
                               f"{'' if words is None else f' word={int(words[i]):#018x}'}: "
                               f"got {g.hex()}, want {want.hex()}")
    return bad


def assert_all_match(op, rows, **kw):
    bad = check(op, rows, **kw)
    assert not bad, f"{len(bad)} mismatches, e.g.\n" + "\n".join(bad[:8])
