"""Stochastic rounding of arithmetic is exact to 64 bits (README, "Semantics worth
knowing"): an exact result x between the format's neighbours T (toward zero) and
T + G goes away from zero when the 64-bit random word w is below
F = floor(2**64 (|x| - T) / G), so with w = F - 1 it must go away and with w = F it
must not. The word is placed in the context's stream (its buffered words), and F
comes from exact integer and rational arithmetic here, square roots included. Any
error in the core's 64-bit fraction, even of one unit, flips one of the two.

Formats with p close to 53 are where it is hard: there the fraction's low bits come
from the error terms of the binary64 result (remainders of quotients and square
roots, the error of fma), which must be exact too.
"""
import math
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround import _core

TWO64 = 2 ** 64


def neighbours(x, fmt):
    """(T, G): |x| lies in [T, T + G), T in the format (unbounded exponent range)."""
    ax = abs(x)
    e = ax.numerator.bit_length() - ax.denominator.bit_length()
    if Fraction(2) ** e > ax:
        e -= 1
    q = max(e, fmt.emin) - fmt.precision + 1        # the quantum: subnormals share emin's
    G = Fraction(2) ** q
    return math.floor(ax / G) * G, G


def fraction_word(x, fmt):
    """F = floor(2**64 (|x| - T) / G) and T, G, for a rational x."""
    T, G = neighbours(x, fmt)
    return math.floor((abs(x) - T) / G * TWO64), T, G


def sqrt_fraction_word(a, fmt):
    """The same for x = sqrt(a), a a positive float, in integer arithmetic: with
    K = 2**64 / G, floor(sqrt(a) K) = floor(isqrt(a K**2 4**t) / 2**t)."""
    root_approx = Fraction(math.sqrt(a))
    _, G = neighbours(root_approx, fmt)              # a double's root: same binade
    K2 = (TWO64 / G) ** 2
    scaled = Fraction(a) * K2
    t = max(0, (scaled.denominator.bit_length() + 1) // 2)
    root_floor = math.isqrt(math.floor(scaled * 4 ** t)) >> t
    T = math.floor(root_approx / G) * G
    if T ** 2 > Fraction(a):                         # the double's root may be above sqrt(a)
        T -= G
    F = root_floor - int(T * TWO64 / G)
    assert 0 <= F < TWO64
    return F, T, G


def exact(op, args):
    a = [Fraction(v) for v in args]
    if op == "add":
        return a[0] + a[1]
    if op == "subtract":
        return a[0] - a[1]
    if op == "multiply":
        return a[0] * a[1]
    if op == "divide":
        return a[0] / a[1]
    return a[0] * a[1] + a[2]


def context_with_next_word(fmt, word):
    """A stochastic context whose next 64-bit draw is `word`."""
    ctx = sr.Context(fmt, "stochastic", rng=0)
    s, buf, pos, half = ctx._state()
    buf = buf.copy()
    buf[0] = word
    return _core._restore_context(fmt, "stochastic", None, s, buf, 0, -1)


def check_decisions(op, args, fmt):
    """Both decisions at the exact threshold; returns a description of a failure."""
    if op == "sqrt":
        F, T, G = sqrt_fraction_word(args[0], fmt)
        sign = 1
    else:
        x = exact(op, args)
        F, T, G = fraction_word(x, fmt)
        sign = -1 if x < 0 else 1
    if F == 0:
        return None                                   # exact or too close to T to test
    for word, away in ((F - 1, True), (F, False)):
        ctx = context_with_next_word(fmt, word)
        got = getattr(ctx, op)(*[np.float64(v) for v in args])
        want = sign * (T + G if away else T)
        if Fraction(float(got)) != want:
            return (f"{op}{tuple(float.hex(v) for v in args)} in p={fmt.precision}: word "
                    f"{word:#x} (fraction {F:#x}) gave {float(got).hex()}, want "
                    f"{float(want).hex()}")
    return None


def random_operands(rng, n, nargs, e_lo=-40, e_hi=40):
    m = rng.uniform(1, 2, (n, nargs)) * rng.choice([-1, 1], (n, nargs))
    return np.ldexp(m, rng.integers(e_lo, e_hi, (n, nargs)))


PRECISIONS = (53, 52, 50, 45, 40, 24)
OPS = {"add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3, "sqrt": 1}


@pytest.mark.parametrize("p", PRECISIONS)
@pytest.mark.parametrize("op", list(OPS))
def test_fraction_is_exact_to_64_bits(op, p):
    fmt = sr.Format(p, 1023, -1022)
    rng = np.random.default_rng(p * 7 + len(op))
    rows = random_operands(rng, 60, OPS[op])
    if op == "sqrt":
        rows = np.abs(rows)
    bad = [msg for row in rows if (msg := check_decisions(op, [float(v) for v in row], fmt))]
    assert not bad, f"{len(bad)} of {len(rows)} wrong, e.g. " + "; ".join(bad[:3])


@pytest.mark.parametrize("op", ["divide", "sqrt", "multiply", "fma"])
def test_fraction_is_exact_for_tiny_and_huge_results(op):
    """Results far down (below 2**-960, where the core scales the operation) and
    near the top of the range."""
    fmt = sr.Format(53, 1023, -1022)
    rng = np.random.default_rng(5)
    rows = []
    for e_lo, e_hi in ((-530, -470), (470, 510)):
        rows += random_operands(rng, 30, OPS[op], e_lo, e_hi).tolist()
    if op == "sqrt":
        rows = [[abs(r[0]) * 2.0 ** -500] for r in rows] + [[abs(r[0]) * 2.0 ** 480] for r in rows]
    if op == "fma":
        rows = [[a, b, c * 2.0 ** -200] for a, b, c in rows]
    with np.errstate(all="ignore"):
        bad = [msg for row in rows
               if abs(float(np.prod(row[:2]))) < 1e300
               and (msg := check_decisions(op, [float(v) for v in row], fmt))]
    assert not bad, f"{len(bad)} wrong, e.g. " + "; ".join(bad[:3])


def near_integer_quotients(n, seed):
    """(a, b) in [1, 2) whose quotient, in units of 2**-64 of its binary64 ulp, lies
    within 2**-50 of an integer: A 2**116 = N B + d with |d| <= 2 (N from B's inverse
    modulo 2**116), a = A 2**-52, b = B 2**-52."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        B = int(rng.integers(2**52, 2**53)) | 1
        d = int(rng.choice([-2, -1, 1, 2]))
        N = (-d * pow(B, -1, 2**116)) % 2**116
        A, rest = divmod(N * B + d, 2**116)
        if rest == 0 and A.bit_length() == 53:
            out.append((math.ldexp(A, -52), math.ldexp(B, -52)))
    return out


@pytest.mark.parametrize("p", [53, 50])
def test_fraction_exact_where_it_nearly_is_an_integer(p):
    """Quotients whose 64-bit fraction lies within 2**-50 of an integer, and fma
    results whose fraction is an integer: the core's error terms cannot settle these,
    its exact comparison must."""
    fmt = sr.Format(p, 1023, -1022)
    rows = [("divide", [a * s, b]) for a, b in near_integer_quotients(40, p)
            for s in (1.0, -1.0, 2.0 ** -950, 2.0 ** 900)]
    rng = np.random.default_rng(p)
    for _ in range(60):     # c + N 2**-k exactly, N of 53 bits: an integer fraction
        c = float(rng.uniform(1, 2)) * 2.0 ** int(rng.integers(-900, 900))
        n = int(rng.integers(2**52, 2**53))
        k = int(rng.integers(5, 50))
        rows.append(("fma", [math.ldexp(n, -k - 52 + math.frexp(c)[1] - 11), 2.0 ** -64, c]))
        rows.append(("fma", [-rows[-1][1][0], 2.0 ** -64, c]))
    bad = [msg for op, row in rows if (msg := check_decisions(op, row, fmt))]
    assert not bad, f"{len(bad)} of {len(rows)} wrong, e.g. " + "; ".join(bad[:3])
