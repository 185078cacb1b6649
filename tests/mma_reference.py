"""Slow, exact references for srround.hardware's matrix-unit models, and hard inputs.

The references follow the arithmetic as MMA-Sim describes it (Xie et al., "MMA-Sim:
Bit-Accurate Reference Model of Tensor Cores and Matrix Cores", arXiv 2511.10909,
and its algorithms T-FDPA, ST-FDPA, GST-FDPA, TR-FDPA, GTR-FDPA, E-FDPA, FMA and
FTZ multiply-add), written on ``fractions.Fraction``: every value is exact, every
rounding is tests/reference.py's ``ref_round``, and nothing here shares code with
csrc/mma.c. ``reference_dot(op, a, b, c)`` is one dot product through instruction
``op``; ``hard_inputs(op, count, rng)`` makes rows that exercise the corner cases:
wide exponent spreads, exact cancellations, subnormal products, ties of the output
rounding, zeros of both signs, overflow, infinities and NaN.
"""
import math
import struct
from fractions import Fraction

import numpy as np

import srround as sr
from reference import RefFormat, ref_round
from srround.hardware import TYPES

BINARY32 = RefFormat(24, 127, -126)
BINARY64 = RefFormat(53, 1023, -1022)
OUTPUTS = {   # precision, emin, emax, mode of each step's rounding
    "rz_binary32": (24, -126, 127, "toward_zero"),
    "rn_binary32": (24, -126, 127, "nearest"),
    "rn_binary16": (11, -14, 15, "nearest"),
    "rz_e8m13": (14, -126, 127, "toward_zero"),
}


def pow2(e):
    return Fraction(2) ** e


def floor_log2(x):
    e = x.numerator.bit_length() - x.denominator.bit_length()
    return e - 1 if pow2(e) > x else e


def split(x, emin):
    """x = s * 2**e with e = max(floor(log2 |x|), emin) (frexp, normalized so that
    1 <= |s| < 2, subnormals at emin); zero is (0, emin)."""
    x = Fraction(x)
    if x == 0:
        return Fraction(0), emin
    e = max(floor_log2(abs(x)), emin)
    return x / pow2(e), e


def round_out(x, rounding):
    """Exact x rounded as the step's output: RZ overflows to inf from 2**(emax + 1)."""
    p, emin, emax, mode = OUTPUTS[rounding]
    if abs(x) >= pow2(emax + 1):
        return -math.inf if x < 0 else math.inf
    return ref_round(x, RefFormat(p, emax, emin), mode)


def special_result(pairs, values):
    """The IEEE result of sum(a * b for a, b in pairs) + sum(values) when any term is
    NaN or infinite (inf * 0 is NaN, +inf + -inf is NaN); None when all are finite."""
    nan = pos = neg = False
    for a, b in pairs:
        if math.isnan(a) or math.isnan(b):
            nan = True
        elif math.isinf(a) or math.isinf(b):
            if a == 0 or b == 0:
                nan = True
            elif (a < 0) != (b < 0):
                neg = True
            else:
                pos = True
    for v in values:
        nan |= math.isnan(v)
        pos |= v == math.inf
        neg |= v == -math.inf
    if nan or (pos and neg):
        return math.nan
    if pos or neg:
        return math.inf if pos else -math.inf
    return None


def truncated_sum(terms, F):
    """(sum, E): the terms (s, e) aligned to E = max e, each truncated toward zero
    to F fraction bits, added exactly; sum in units of 2**E."""
    E = max(e for _, e in terms)
    return sum(Fraction(math.trunc(s * pow2(e - E + F))) for s, e in terms) / pow2(F), E


# ---- the arithmetic of one step -------------------------------------------------

def fdpa_truncated(op, a, b, c, c_emin, scale_exps=None):
    ar = op.arithmetic
    terms = []
    for i, (x, y) in enumerate(zip(a, b)):
        sx, ex = split(x, TYPES[op.a_type].emin)
        sy, ey = split(y, TYPES[op.b_type].emin)
        e = ex + ey + (scale_exps[i] if scale_exps else 0)
        terms.append((sx * sy, e if sx * sy != 0 else ar.e_zero))
    sc, ec = split(c, c_emin)
    terms.append((sc, ec if sc != 0 else ar.e_zero))
    total, E = truncated_sum(terms, ar.F)
    return round_out(total * pow2(E), ar.rounding) + 0.0


def fdpa_scaled_groups(op, a, b, c, c_emin, scale_a, scale_b):
    """scale_a[i], scale_b[i]: the scales of product i's block"""
    ar, G = op.arithmetic, op.arithmetic.group
    s_emin = TYPES[op.s_type].emin
    terms = []
    for first in range(0, len(a), G):
        products = [Fraction(x) * Fraction(y) for x, y in zip(a[first:first + G], b[first:first + G])]
        sa, ea = split(scale_a[first], s_emin)
        sb, eb = split(scale_b[first], s_emin)
        zero = all(p == 0 for p in products) or sa * sb == 0
        terms.append((sum(products) * sa * sb, ar.e_zero if zero else ea + eb))
    sc, ec = split(c, c_emin)
    terms.append((sc, ec if sc != 0 else ar.e_zero))
    total, E = truncated_sum(terms, ar.F)
    return round_out(total * pow2(E), ar.rounding) + 0.0


def fdpa_two_stage(op, a, b, c):
    ar = op.arithmetic
    F, F2 = ar.F, ar.F2
    products = []
    for x, y in zip(a, b):
        sx, ex = split(x, TYPES[op.a_type].emin)
        sy, ey = split(y, TYPES[op.b_type].emin)
        products.append((sx * sy, ex + ey))

    def aligned(items):   # zero products take no part in the alignment
        items = [t for t in items if t[0] != 0]
        return truncated_sum(items, F) if items else (Fraction(0), None)

    if ar.kind == "fdpa_two_stage":
        s_dot, E_dot = aligned(products)
    else:   # even and odd positions apart, each floored to F bits below the larger
        (s_even, E_even), (s_odd, E_odd) = aligned(products[0::2]), aligned(products[1::2])
        E_dot = max((e for e in (E_even, E_odd) if e is not None), default=None)
        s_dot = sum((Fraction(math.floor(s * pow2(e - E_dot + F))) / pow2(F)
                     for s, e in ((s_even, E_even), (s_odd, E_odd)) if e is not None),
                    Fraction(0))
    sc, ec = split(c, -126)
    E = ec if E_dot is None else max(E_dot, ec)
    dot_part = (Fraction(0) if E_dot is None
                else Fraction(math.floor(s_dot * pow2(E_dot - E + F2 + 1))) / pow2(F2 + 1))
    c_part = Fraction(math.floor(sc * pow2(ec - E + F))) / pow2(F)
    if ar.kind == "fdpa_two_stage_split" and ec < E - F - 1:
        c_part = Fraction(0)
    total = (dot_part + c_part) * pow2(E)
    if total == 0:
        return 0.0
    floored = ref_round(total, RefFormat(F2 + 1, 2000, -126), "down")
    return round_out(Fraction(floored), ar.rounding)


def fdpa_exact(op, a, b, c):
    total = sum((Fraction(x) * Fraction(y) for x, y in zip(a, b)), Fraction(c))
    return ref_round(total, BINARY32, "nearest")   # an exact zero is +0


def ieee_fma(x, y, z, fmt):
    """fma(x, y, z) rounded to nearest in fmt, IEEE 754 signs of zero."""
    special = special_result([(x, y)], [z])
    if special is not None:
        return special
    exact = Fraction(x) * Fraction(y) + Fraction(z)
    if exact == 0:
        product_negative = (math.copysign(1, x) < 0) != (math.copysign(1, y) < 0)
        both_negative = product_negative and math.copysign(1, z) < 0
        return -0.0 if both_negative else 0.0
    return ref_round(exact, fmt, "nearest")


def fma_chain(op, a, b, c):
    fmt = BINARY64 if op.d_type == "f64" else BINARY32
    for x, y in zip(a, b):
        c = ieee_fma(x, y, c, fmt)
    return c


def ftz_mul_add(op, a, b, c):
    """CDNA2: binary32 products and sums, subnormal inputs to +0, results to +-0."""
    def flush_input(x, emin):
        return 0.0 if abs(x) < 2.0 ** emin else x

    def flush_result(x):
        return math.copysign(0.0, x) if abs(x) < 2.0 ** -126 else x

    def mul(x, y):
        return flush_result(ieee_fma(x, y, -0.0, BINARY32))   # x * y + (-0) is x * y

    def add(x, y):
        return flush_result(ieee_fma(x, 1.0, y, BINARY32))

    p = [mul(flush_input(x, TYPES[op.a_type].emin), flush_input(y, TYPES[op.b_type].emin))
         for x, y in zip(a, b)]
    c = flush_input(c, -126)
    G = op.arithmetic.group
    for i in range(0, len(p), G):
        s = add(p[i], p[i + 1])
        if G == 4:
            s = add(s, add(p[i + 2], p[i + 3]))
        c = add(c, s)
    return c


def tf32_of(x):
    """The binary32 encoding of x with its low 13 bits cleared."""
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFE000))[0]


def reference_dot(op, a, b, c, scale_a=None, scale_b=None):
    """One element of D: the chain of steps over a and b (floats, length a multiple
    of the step) from c, each step as MMA-Sim describes it, exactly."""
    ar = op.arithmetic
    L = len(a) if ar.kind == "ftz_mul_add" else ar.L
    c_emin = TYPES[op.c_type].emin
    if TYPES[op.a_type].tf32:   # tf32/xf32: the unit reads the top 19 bits of binary32
        a, b = [tf32_of(x) for x in a], [tf32_of(y) for y in b]
    for first in range(0, len(a), L):
        ca, cb = list(a[first:first + L]), list(b[first:first + L])
        sa = sb = []
        if op.scaled:   # the scales of each product's block
            sa = [scale_a[(first + i) // op.block] for i in range(L)]
            sb = [scale_b[(first + i) // op.block] for i in range(L)]
        if ar.kind == "fdpa_two_stage_split" and not math.isfinite(c):
            # gtr_fdpa reads a NaN or infinite c with exponent -1 (frexp's) and drops
            # c below 2^(E - F - 1): so does it beside products of 2^(F + 1) and more
            exps = [split(x, TYPES[op.a_type].emin)[1] + split(y, TYPES[op.b_type].emin)[1]
                    for x, y in zip(ca, cb) if math.isfinite(x * y) and x * y != 0]
            if exps and max(exps) > ar.F:
                c = 0.0
        if ar.kind.startswith("fdpa"):
            overflowed = []   # CDNA3: finite products of 2^128 and more are infinite
            if ar.kind == "fdpa_two_stage":
                overflowed = [math.copysign(math.inf, x) * math.copysign(1, y)
                              for x, y in zip(ca, cb) if math.isfinite(x) and math.isfinite(y)
                              and abs(Fraction(x) * Fraction(y)) >= pow2(128)]
            special = special_result(zip(ca, cb), [c] + sa + sb + overflowed)
            if special is not None:
                c = special
                continue
        if ar.kind == "fdpa_truncated":
            exps = [split(x, -127)[1] + split(y, -127)[1] for x, y in zip(sa, sb)] or None
            c = fdpa_truncated(op, ca, cb, c, c_emin, exps)
        elif ar.kind == "fdpa_scaled_groups":
            c = fdpa_scaled_groups(op, ca, cb, c, c_emin, sa, sb)
        elif ar.kind in ("fdpa_two_stage", "fdpa_two_stage_split"):
            c = fdpa_two_stage(op, ca, cb, c)
        elif ar.kind == "fdpa_exact":
            c = fdpa_exact(op, ca, cb, c)
        elif ar.kind == "fma_chain":
            c = fma_chain(op, ca, cb, c)
        else:
            c = ftz_mul_add(op, ca, cb, c)
        c_emin = -14 if ar.rounding == "rn_binary16" else -126   # c is D's type from now on
    return c


# ---- hard inputs ------------------------------------------------------------------

def finite_values(tname):
    """Every finite value of a small type (fp8/fp6/fp4, scales), both signs."""
    t = TYPES[tname]
    if tname == "ue8m0":
        return 2.0 ** np.arange(-127, 128)
    fmt = t.format
    p, emin, emax = fmt.precision, fmt.emin, fmt.emax
    mags = [m * 2.0 ** (emin - p + 1) for m in range(2 ** (p - 1))]
    mags += [m * 2.0 ** (e - p + 1) for e in range(emin, emax + 1)
             for m in range(2 ** (p - 1), 2 ** p)]
    mags = np.array(sorted(v for v in set(mags) if v <= fmt.max))
    if t.unsigned:
        return mags
    return np.concatenate([mags, -mags[1:]] + ([[-0.0]] if t.signed_zero else []))


def random_values(tname, shape, rng, low=None, high=None):
    """Random values of a type with exponents uniform in [low, high] (default: the
    whole range, subnormals included) and random significands and signs."""
    t = TYPES[tname]
    if t.precision <= 8 and tname != "bf16":
        vals = finite_values(tname)
        if low is not None:
            mags = np.abs(vals)
            keep = (mags == 0) | ((mags >= 2.0 ** low) & (mags < 2.0 ** (high + 1)))
            vals = vals[keep] if keep.any() else vals
        return rng.choice(vals, shape)
    fmt = sr.binary32 if t.tf32 else t.format   # tf32 operands: any float32
    lo = fmt.emin - fmt.precision + 1 if low is None else low
    hi = fmt.emax if high is None else high
    e = rng.integers(lo, hi + 1, shape)
    frac = rng.integers(0, 2 ** (fmt.precision - 1), shape) / 2.0 ** (fmt.precision - 1)
    x = (1 + frac) * 2.0 ** e * rng.choice([-1.0, 1.0], shape)
    return sr.round(x, fmt, "toward_zero")   # subnormal range: drop the low bits


def _has_inf(tname):
    fmt = TYPES[tname].format
    return fmt is not None and fmt.overflow == "inf"


def _has_nan(tname):
    fmt = TYPES[tname].format
    return fmt is None or fmt.overflow != "saturate"


STRATEGIES = ("spread", "normal", "cancel", "subnormal", "tie", "zeros", "special", "large")


def hard_inputs(op, count, rng, strategies=STRATEGIES):
    """count rows (a, b, c[, scale_a, scale_b]) for op.dot, float64 values of the
    instruction's types; each row made by one of the strategies, in turn."""
    k = op.k
    ta, tb, tc = op.a_type, op.b_type, op.c_type
    a = random_values(ta, (count, k), rng)
    b = random_values(tb, (count, k), rng)
    c = random_values(tc, (count,), rng)
    which = np.arange(count) % len(strategies)
    for s, name in enumerate(strategies):
        rows = np.flatnonzero(which == s)
        n = len(rows)
        if n == 0:
            continue
        if name == "normal":   # ordinary data: exponents near 0
            a[rows] = random_values(ta, (n, k), rng, -4, 4)
            b[rows] = random_values(tb, (n, k), rng, -4, 4)
            c[rows] = random_values(tc, (n,), rng, -4, 8)
        elif name == "cancel":   # products in +- pairs, and c = -(a0 b0) when exact
            a[rows] = random_values(ta, (n, k), rng, -4, 4)
            b[rows] = random_values(tb, (n, k), rng, -4, 4)
            half = k // 2
            if ta == tb:
                a[rows, half:2 * half] = -a[rows, :half]
                b[rows, half:2 * half] = b[rows, :half]
            exact = a[rows, 0] * b[rows, 0]
            ok = sr.round(exact, TYPES[tc].format) == exact
            c[rows] = np.where(ok & (rng.random(n) < 0.5), -exact, c[rows])
        elif name == "subnormal":   # the bottom of every range, and tiny c
            fa, fb = TYPES[ta], TYPES[tb]
            a[rows] = random_values(ta, (n, k), rng, fa.emin - fa.precision + 1, fa.emin + 2)
            b[rows] = random_values(tb, (n, k), rng, fb.emin - fb.precision + 1, fb.emin + 2)
            fc = TYPES[tc]
            c[rows] = np.where(rng.random(n) < 0.5, 0.0,
                               random_values(tc, (n,), rng, fc.emin - fc.precision + 1, fc.emin + 4))
        elif name == "tie":   # c plus one product of half an output ulp (or 1.5 ulps)
            out_p = {"rn_binary16": 11, "rz_binary32": 24, "rz_e8m13": 14}.get(
                op.arithmetic.rounding, 24)
            c[rows] = random_values(tc, (n,), rng, -2, 6)
            a[rows] = 0.0
            b[rows] = 0.0
            ec = np.floor(np.log2(np.abs(np.where(c[rows] == 0, 1.0, c[rows]))))
            half_ulp = 2.0 ** (ec - out_p) * rng.choice([1.0, 3.0, -1.0, -3.0], n)
            ea = np.clip(np.floor(np.log2(np.abs(half_ulp))) // 2, -6, 6)
            ok_a = sr.round(2.0 ** ea, TYPES[ta].format) == 2.0 ** ea
            bb = half_ulp / 2.0 ** ea
            ok_b = sr.round(bb, TYPES[tb].format) == bb
            ok = ok_a & ok_b
            a[rows[ok], 0] = 2.0 ** ea[ok]
            b[rows[ok], 0] = bb[ok]
            a[rows[~ok]] = random_values(ta, ((~ok).sum(), k), rng, -3, 3)
            b[rows[~ok]] = random_values(tb, ((~ok).sum(), k), rng, -3, 3)
        elif name == "zeros":   # zeros of both signs, a few nonzero terms
            z = rng.random((n, k)) < 0.7
            sign_a = np.where(rng.random((n, k)) < 0.5, -0.0, 0.0)
            a[rows] = np.where(z, sign_a if TYPES[ta].signed_zero else 0.0, a[rows])
            b[rows] = np.where(rng.random((n, k)) < 0.5,
                               -0.0 if TYPES[tb].signed_zero else 0.0, b[rows])
            c[rows] = np.where(rng.random(n) < 0.6, rng.choice([0.0, -0.0], n), c[rows])
        elif name == "special":   # infinities and NaN where the types have them
            a[rows] = random_values(ta, (n, k), rng, -4, 4)
            b[rows] = random_values(tb, (n, k), rng, -4, 4)
            rate = rng.choice([0.005, 0.02, 0.08], n)   # a row has none, one or several
            for arr, t, shape in ((a, ta, (n, k)), (b, tb, (n, k)), (c, tc, (n,))):
                pick = rng.random(shape) < (rate[:, None] if len(shape) == 2 else rate)
                choices = [v for v, ok in ((np.inf, _has_inf(t)), (-np.inf, _has_inf(t)),
                                           (np.nan, _has_nan(t))) if ok]
                if choices:
                    arr[rows] = np.where(pick, rng.choice(choices, shape), arr[rows])
        elif name == "large":   # the top of the ranges: products and sums overflow
            fa, fb, fc = TYPES[ta].format, TYPES[tb].format, TYPES[tc].format
            a[rows] = random_values(ta, (n, k), rng, fa.emax - 3, fa.emax)
            b[rows] = random_values(tb, (n, k), rng, fb.emax - 3, fb.emax)
            c[rows] = random_values(tc, (n,), rng, fc.emax - 2, fc.emax)
    if not TYPES[ta].signed_zero:
        a = np.where(a == 0, 0.0, a)
    if not TYPES[tb].signed_zero:
        b = np.where(b == 0, 0.0, b)
    if not op.scaled:
        return a, b, c
    nb = -(-k // op.block)
    sa = random_values(op.s_type, (count, nb), rng)
    sb = random_values(op.s_type, (count, nb), rng)
    near = rng.random((count, nb)) < 0.5   # half the scales near 1
    sa = np.where(near, random_values(op.s_type, (count, nb), rng, -3, 3), sa)
    sb = np.where(near, random_values(op.s_type, (count, nb), rng, -3, 3), sb)
    special_rows = which == STRATEGIES.index("special") if "special" in strategies else which < 0
    nan = special_rows[:, None] & (rng.random((count, nb)) < 0.1)
    sa = np.where(nan, np.nan, sa)
    return a, b, c, sa, sb
