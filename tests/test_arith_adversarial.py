"""Adversarial arithmetic: inputs chosen where error-free transformations break.

Here: enumerated hard cases (ties and near ties of formats with p = 53, 52, 24, 11,
8, 2, 1 at the ends of binary64, square roots and fma results next to midpoints) and
minimal repros of the bugs found, each checked bit for bit, in every format and mode,
against the exact model of tests/arith_check.py (which says where and why the
transformations stop being exact). The hypothesis-drawn inputs are in
tests/test_arith_properties.py.
"""
import math

import numpy as np
import pytest
from arith_check import (DBL_MAX, assert_all_match, check, context,
                         f64, maybe_f64)
from conftest import DETERMINISTIC, twin

import srround as sr


# ------------------------------------------------------------------ enumerated hard cases

TIE_PRECISIONS = (53, 52, 24, 11, 8, 2, 1)


def _exponent_row(A, targets, parity=None):
    """A * 2**k for each binade target (k of the given parity), when exact."""
    out = []
    for t in targets:
        k = t - A.bit_length() + 1
        if parity is not None and (k - parity) % 2:
            k += 1
        if k < -1074 or k > 1024 - A.bit_length():
            continue
        v = maybe_f64(A, k)   # A may need more bits than a subnormal has
        if v is not None:
            out.append(v)
    return out


def sqrt_hard_cases(cs=(0, 1), ds=(0, 1), targets=(-1040, -1000, -950, 0, 1000)):
    """a with sqrt(a) within ~2**-(2q) relative of a q-bit point M (q = p+1..p+3):
    a = M**2 truncated to 53 bits (+ d), at several even scalings, including
    below 2**-900 where the C core scales the operand first."""
    rows = set()
    for p in TIE_PRECISIONS:
        for q in (p, p + 1, p + 2):
            for c in cs:
                for M in (2**q + 2 * c + 1, 2**(q + 1) - (2 * c + 1)):
                    S = M * M
                    sh = max(S.bit_length() - 53, 0)
                    for d in ds:
                        A = (S >> sh) + d
                        rows.update((a,) for a in _exponent_row(A, targets, parity=sh))
    return sorted(rows)


def test_sqrt_near_midpoints_enumerated():
    assert_all_match("sqrt", sqrt_hard_cases())


def fma_tie_cases(exps=(-1040, -1000, -962, 0), precisions=(53, 52, 24, 8, 1)):
    """c + a*b with a*b = +-(half a gap of c's p-bit format) * (1 or 1 - 2**-104):
    exact ties, and ties missed by 2**-104 relative on either side, with c's last
    bit even (c = 2**e) or odd (c = (1 + 2**(1-p)) 2**e)."""
    # (A, B, log2(A*B) rounded): A*B = 1, and A*B = 2**104 - 1 = 2**104 (1 - 2**-104)
    products = [(1, 1, 0), (2**52 + 1, 2**52 - 1, 104)]
    rows = []
    for p in precisions:
        for cm in (1, 2**(p - 1) + 1):
            for e in exps:
                c = maybe_f64(cm, e - cm.bit_length() + 1)
                if c is None:
                    continue
                h = e - p                      # 2**h: half of c's gap
                for A, B, lg in products:
                    ea = (h - lg) // 2
                    a, b = maybe_f64(A, ea), maybe_f64(B, h - lg - ea)
                    if a is None or b is None:
                        continue
                    for s in (1.0, -1.0):       # c + a*b and c - a*b
                        rows += [(a, s * b, c), (-a, s * b, -c)]
    return rows


def test_fma_near_ties_enumerated():
    """Includes exact results within 2**-104 (relative) of a binary64 midpoint,
    down in the range where the C core rescales the whole fma."""
    assert_all_match("fma", fma_tie_cases())


# ------------------------------------------------------------------ minimal repros (bugs found)

H = float.fromhex


def test_regression_sqrt_tiny_operand_near_midpoint():
    """Bug: for a < 2**-900 sqrt takes the scaled path, which rounds with the
    tail sign dropped (round_dd(..., 0, ...)); sqrt_rem's estimate of lo there
    reaches exactly half an ulp, so a value just below a midpoint is taken as the
    tie: nearest (odd neighbour) and nearest_away round up.
    sqrt(0x1.fffffffffffffp-1001) = 2**-500 (1 - 2**-54 - 2**-109 - ...) lies just
    below the midpoint (1 - 2**-54) 2**-500, so binary64 nearest (and
    nearest_away) must give 0x1.fffffffffffffp-501, not 0x1p-500."""
    rows = [(H(v),) for v in ("0x1.fffffffffffffp-1001", "0x1.fffffffffffffp-1021",
                              "0x1.fffffffffffffp-959", "0x1.fffffffffffffp-901",
                              "0x1.0000000000001p-1000", "0x1.0000000000001p-1022",
                              "0x1.0000000000001p-902",
                              # the same at ordinary magnitudes (unscaled path: correct)
                              "0x1.fffffffffffffp-1", "0x1.0000000000001p+0")]
    assert_all_match("sqrt", rows)


def test_regression_fma_tiny_result_near_midpoint():
    """Bug: the scaled fma path (|a*b| < 2**-960, |c| < 2**-900) drops the tail
    of fma_residual, so c + a*b with a*b = half an ulp of c times (1 - 2**-104)
    is taken as an exact tie: binary64 nearest of
    fma(0x1.0000000000001p-527, 0x1.ffffffffffffep-527, 0x1.0000000000001p-1000)
    gave 0x1.0000000000002p-1000 instead of 0x1.0000000000001p-1000."""
    rows = []
    for e in (-1000, -1022, -990, -1010, -962, 0):
        c = math.ldexp(1 + 2**-52, e)
        a = math.ldexp(1 + 2**-52, (e - 53) // 2)
        b = math.ldexp(1 - 2**-52, (e - 53) - (e - 53) // 2)
        rows += [(a, b, c), (a, b, -c), (-a, b, c)]
    assert_all_match("fma", rows)


FMA_OVERFLOWING_INTERMEDIATES = [
    # a*b beyond DBL_MAX, exact result finite
    (2.0**512, 2.0**512, -DBL_MAX), (2.0**1023, 2.0, -DBL_MAX),
    (1.5 * 2.0**512, 2.0**512, -DBL_MAX), (H("0x1.0000000000001p+512"), 2.0**512, -DBL_MAX),
    (2.0**512, 2.0**512, -(2.0**1023)),
    # a*b just below DBL_MAX, RN(a*b) + c overflows, exact result finite
    (H("0x1.781f9c484ca0cp+564"), H("0x1.5c7b36b2fa92ep+459"), 2.0**970),
    (H("0x1.781f9c484ca0cp+564"), H("0x1.5c7b36b2fa92ep+459"), 1.5 * 2.0**970),
]


def test_regression_fma_intermediate_overflow():
    """Bug: when a*b (or RN(a*b) + c) overflows binary64 but a*b + c rounds to a
    finite double, exact_fma's error terms become inf/NaN; round_dd then treats
    the exact result as lying below hi: toward_zero/down/odd/SR are off by one
    ulp, e.g. fma(0x1p+1023, 2.0, -0x1.fffffffffffffp+1023) = 0x1p+971 exactly,
    but binary64 toward_zero gave 0x1.fffffffffffffp+970."""
    rows = FMA_OVERFLOWING_INTERMEDIATES + [(-a, b, -c) for a, b, c in FMA_OVERFLOWING_INTERMEDIATES]
    assert_all_match("fma", rows)


def test_fma_finite_result_raises_no_fp_flags():
    """Design: never leave spurious FP flags. A finite, exactly representable
    fma result must not make NumPy warn about overflow or invalid values."""
    a, b, c = (np.array([r[k] for r in FMA_OVERFLOWING_INTERMEDIATES[:5]]) for k in range(3))
    for mode in ("nearest", "toward_zero"):
        ctx = sr.Context(sr.binary64, mode)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            ctx.fma(a, b, c)


def test_regression_stochastic_overflow_beyond_dbl_max():
    """Bug: an exact result in (DBL_MAX + ulp/2, 2**1024) has hi = RN64 = inf, and
    round_exact sends every such value to inf in the stochastic modes. The spec
    asks for inf with probability (|x| - max) / s only, else max: binary64
    add(0x1.fffffffffffffp+1023, 0x1.8p+970) must give DBL_MAX for a quarter of
    the words (and stochastic_equal for half of them)."""
    sr_variants = [("stochastic", None), ("stochastic", 1), ("stochastic", 3),
                   ("stochastic", 9), ("stochastic_equal", None)]
    reps = 64
    for op, row in (("add", (DBL_MAX, 1.5 * 2.0**970)), ("add", (-DBL_MAX, -(1.25 * 2.0**970))),
                    ("subtract", (2.0**970, -DBL_MAX)),
                    ("multiply", (H("-0x1.43f48d4f3b89ep+954"), H("-0x1.94995b89f4a45p+69"))),
                    ("fma", (DBL_MAX, 1.0, 1.5 * 2.0**970))):
        assert_all_match(op, [row] * reps, names=["binary64", "p53_nosub"], variants=sr_variants)


def test_regression_fma_tiny_product_next_to_c_limited_bit_sr():
    """Bug: for |a*b| < 2**-960 <= 2**-900 <= |c| exact_fma uses lo = RN(a*b)
    and drops the product's error e (the comment's bound 2**-1075 is wrong: e
    reaches 2**-1014). fma(1 + 2**-52, (1 - 2**-52) 2**-961, 2**-900) is c plus
    2**-9 ulp minus 2**-113 ulp, so SR with 9 random bits must never round up;
    it rounds up when the top 9 bits are 0 (1 word in 512)."""
    a, b, c = 1 + 2**-52, math.ldexp(1 - 2**-52, -961), 2.0**-900
    rows = [(a, b, c)] * 2048 + [(-a, b, -c)] * 2048
    assert_all_match("fma", rows, names=["binary64"], variants=[("stochastic", 9)])


def test_sr_sqrt_binary64_threshold_accuracy():
    """Was a known limitation (sqrt's lo = r / (2 s) is off by ~2**-54 relative, so
    for p = 53 SR's fraction was ~2**-50 accurate): sqrt(0x1.cda9f03d9f7d3p-2) lies
    just below a 5-bit SR threshold. The core now settles such fractions exactly."""
    a = H("0x1.cda9f03d9f7d3p-2")
    bad = check("sqrt", [(a,)] * 2048, names=["binary64"], variants=[("stochastic", 5)])
    assert not bad, bad[:3]


def test_sr_divide_tiny_quotient_threshold():
    """Was a known limitation: the scaled path for quotients below 2**-960 dropped
    the remainder's tail sign."""
    a, b = H("0x1.8492f3086d85ap-990"), H("0x1.db775ebf56f65p+0")
    bad = check("divide", [(a, b)] * 512, names=["binary64"], variants=[("stochastic", 3)])
    assert not bad, bad[:3]


def test_sr_divide_same_ratio_ordinary_magnitude():
    a, b = H("0x1.8492f3086d85ap+0"), H("0x1.db775ebf56f65p+0")
    assert_all_match("divide", [(a, b)] * 512, names=["binary64"], variants=[("stochastic", 3)])


# ------------------------------------------------------------------ slow: wider enumerations

@pytest.mark.slow
def test_sqrt_near_midpoints_enumerated_wide():
    rows = sqrt_hard_cases(cs=range(8), ds=(-1, 0, 1, 2),
                           targets=(-1073, -1060, -1040, -1022, -1000, -961, -950, -901,
                                    -899, -1, 0, 1, 500, 1000, 1022))
    assert_all_match("sqrt", rows)


@pytest.mark.slow
def test_fma_near_ties_enumerated_wide():
    rows = fma_tie_cases(exps=(-1070, -1060, -1040, -1022, -1000, -980, -962, -930, -899, 0, 1000),
                         precisions=TIE_PRECISIONS)
    assert_all_match("fma", rows)


def _sqrt_mod_pow2(k, n):
    """The square roots of k (k = 1 mod 8) modulo 2**n, by Hensel lifting."""
    r = 1
    for j in range(3, n):
        if (r * r - k) % 2**(j + 1):
            r += 2**(j - 1)
    m = 2**n
    return {r % m, -r % m, (r + m // 2) % m, (-r + m // 2) % m}


def sqrt_threshold_cases(r, kmax=80):
    """a = A * 2**K with sqrt(A * 2**K) within k / (2 x) of x, an odd integer of
    53 + r bits: sqrt(a) hugs an r-bit SR threshold of binary64 (r = 1: midpoint)."""
    out = []
    for K in (2 * r + 52, 2 * r + 53):
        for k in range(1, kmax, 8):
            for s in (1, -1):
                for x in _sqrt_mod_pow2((s * k) % 2**K, K):
                    if not (2**(52 + r) <= x < 2**(53 + r)) or x % 2 == 0:
                        continue
                    S = x * x
                    if S.bit_length() - 53 != K:
                        continue
                    A = (S - s * k) >> K
                    if (A << K) == S - s * k:
                        out.append(math.ldexp(A, K - 2 * (53 + r)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("r", [2, 3, 4, 5, 6])
def test_sqrt_binary64_near_sr_thresholds(r):
    """sqrt(a) within ~2**-110 relative of an r-bit SR threshold, at ordinary and
    at tiny magnitudes, replayed many times with r-bit SR and in every
    deterministic mode."""
    base = sqrt_threshold_cases(r)
    rows = [(math.ldexp(a, 2 * e),) for a in base for e in (0, -440, -500) for _ in range(64)]
    variants = [("stochastic", r)] + [(m, None) for m in DETERMINISTIC]
    assert_all_match("sqrt", rows, names=["binary64", "p53_nosub"], variants=variants)


def quotient_threshold_cases(r, n, seed):
    """(A, B) with A / B within d / B units of N / 2**k, N odd with 53 + r bits:
    quotients hugging an r-bit SR threshold of binary64."""
    rnd = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        B = int(rnd.integers(2**52, 2**53)) | 1
        d = int(rnd.choice([-3, -2, -1, 1, 2, 3]))
        for k in (52 + r, 53 + r):
            N = (-d * pow(B, -1, 2**k)) % 2**k
            if N % 2 == 0 or N.bit_length() != 53 + r:
                continue
            P = N * B + d
            if (P >> k).bit_length() == 53:
                out.append((P >> k, B))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("r", [2, 3, 4])
def test_divide_binary64_near_sr_thresholds(r):
    """As above for quotients, at ordinary magnitude (must be exact: the
    remainder's tail sign fixes the threshold) and below 2**-960 (scaled path)."""
    cases = quotient_threshold_cases(r, 24, seed=r)
    variants = [("stochastic", r), ("stochastic", r + 1)] + [(m, None) for m in DETERMINISTIC]
    ordinary = [(f64(A, -52), f64(B, -52)) for A, B in cases for _ in range(48)]
    assert_all_match("divide", ordinary, names=["binary64"], variants=variants)
    tiny = [(f64(A, -52 + e), f64(B, -52)) for A, B in cases for e in (-990, -1010)
            for _ in range(48)]
    assert_all_match("divide", tiny, names=["binary64"], variants=variants)


# ------------------------------------------------------------------ binary32 narrow paths

NARROW = ["binary32", "bfloat16", "binary16", "e4m3"]   # p <= 24: the narrow sqrt applies


def narrow_quotient_rows(n, seed):
    """binary32 x, y whose quotient x / y is exactly Q 2^s for an integer Q of p + k
    bits (p = 4 .. 11, k = 0 .. 3): a value of the format, a midpoint, or a k-bit SR
    threshold, with y odd (so 1/y, and with it the binary32 first guess, is inexact);
    and the same x one binary32 ulp away: where a first guess of the quotient (binary64's,
    or a binary32 one plus a correction) cannot decide alone."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        qbits = int(rng.integers(4, 15))
        Q = int(rng.integers(2 ** (qbits - 1), 2 ** qbits))
        y = int(rng.integers(1, 2 ** (24 - qbits) // 2)) * 2 + 1
        x = Q * y                               # at most 24 bits: a binary32 value
        scale = float(2.0 ** int(rng.integers(-20, 20)))
        xf, yf = np.float32(x * scale), np.float32(y)
        if rng.integers(2):
            yf = -yf
        rows.append((xf, yf))
        rows.append((np.nextafter(xf, np.float32(np.inf)), yf))
        rows.append((np.nextafter(xf, np.float32(0)), yf))
    return rows


@pytest.mark.parametrize("seed", range(3))
def test_binary32_divide_on_thresholds(seed):
    rows = narrow_quotient_rows(60, seed)
    assert_all_match("divide", rows, names=NARROW, dtype=np.float32)


def test_binary32_sqrt_on_values_and_near_them():
    """Square roots that are exact (Q^2, Q of up to 12 bits) and those next to them:
    the narrow sqrt's remainder test and margin (arith_fast_body.h)."""
    rng = np.random.default_rng(5)
    Q = rng.integers(2 ** 3, 2 ** 12, 120).astype(np.float64)
    sq = (Q * Q * 4.0 ** rng.integers(-10, 10, Q.size)).astype(np.float32)
    rows = [(v,) for v in sq]
    rows += [(np.nextafter(v, np.float32(np.inf)),) for v in sq]
    rows += [(np.nextafter(v, np.float32(0)),) for v in sq]
    assert_all_match("sqrt", rows, names=NARROW, dtype=np.float32)


def test_binary32_divide_and_sqrt_beyond_the_narrow_bounds():
    """Extreme binary32 operands (huge or subnormal divisors and radicands, quotients
    beyond binary32's range, zeros, infinities, NaN): same results as the exact model."""
    big, tiny = np.float32(2.0 ** 127), np.float32(2.0 ** -140)
    rows = [(np.float32(1.5), big), (np.float32(3.0), tiny), (big, np.float32(0.25)),
            (tiny, np.float32(3.0)), (np.float32(0.0), np.float32(3.0)),
            (np.float32(-0.0), np.float32(3.0)), (np.float32(1.0), np.float32(0.0)),
            (np.float32(np.inf), np.float32(3.0)), (np.float32(np.nan), np.float32(3.0))]
    assert_all_match("divide", rows * 4, names=NARROW, dtype=np.float32)
    roots = [(np.float32(v),) for v in (0.0, -0.0, -1.0, 2.0 ** -149, 2.0 ** 127, np.inf, 3.0)]
    assert_all_match("sqrt", roots * 4, names=NARROW, dtype=np.float32)


@pytest.mark.parametrize("name", ["bfloat16", "binary16", "e4m3"])
def test_binary32_divide_next_to_the_words_thresholds(name):
    """Quotients of binary32 numbers as close as they come (about 2^-46) to the SR
    threshold that each element's own random word sets: the best rational
    approximations x / y, y < 2^23, of the threshold (continued fractions), for the
    grid point that brings them closest (often within 2^-52). A first guess within
    2^-46 (a binary32 quotient and one correction step) cannot decide these without a
    margin: with a margin of one unit, such a path failed here."""
    from fractions import Fraction
    n = 256
    words = twin(context(name, "stochastic", None)).random_words(n)
    p = {"bfloat16": 8, "binary16": 11, "e4m3": 4}[name]
    used = 53 - p                        # random bits that matter: binary64's d
    rows = []
    for w in words:
        top = int(w) >> (64 - used)       # carry iff the fraction reaches top + 1
        best = None
        for g in range(0, 2 ** (p - 1), max(1, 2 ** (p - 1) // 64)):
            threshold = 1 + Fraction(g, 2 ** (p - 1)) + Fraction(top + 1, 2 ** (used + p - 1))
            q = threshold.limit_denominator(2 ** 23 - 1)
            if best is None or abs(q - threshold) < best[0]:
                best = (abs(q - threshold), q)
        rows.append((np.float32(best[1].numerator), np.float32(best[1].denominator)))
    assert all(float(x) == int(float(x)) for x, _ in rows)
    assert_all_match("divide", rows, names=[name], variants=[("stochastic", None)],
                     dtype=np.float32)
