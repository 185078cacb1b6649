"""A fast, exact, vectorized rounding oracle for the test suite.

Same semantics as tests/reference.py (which is the slow, obviously-right
version; the tests cross-check the two), but written with NumPy integer
arithmetic so that millions of values can be checked per format.

Method: every finite float64 |x| > 0 is M * 2**(e - 53) with M = frexp
mantissa * 2**53, an integer in [2**52, 2**53).  The grid spacing of the
target at |x| is 2**k (k from the binade of x, clamped at the subnormal
quantum, or at 2**emin for formats without subnormals), so the d = k - e + 53
low bits of M are discarded: RD(|x|) = (M >> d) * 2**k, and the discarded
bits give the fraction f = rem / 2**d of an ulp, compared with 1/2 exactly
and turned into the 64-bit SR threshold floor(f * 2**64) by integer shifts.
Float32 input is widened to float64 first, which is exact.
"""

import numpy as np

DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd")
STOCHASTIC = ("stochastic", "stochastic_equal")


def ref_format(fmt):
    """The tests/reference.py RefFormat with the parameters of a sr.Format."""
    from fractions import Fraction

    from reference import RefFormat
    return RefFormat(fmt.precision, fmt.emax, fmt.emin, subnormals=fmt.subnormals,
                     overflow=fmt.overflow, max=Fraction(fmt.max))


def gfloat_format_infos():
    """gfloat's FormatInfo for the presets it can describe, by srround preset name
    (gfloat is a test extra: imported here, when a test asks for it)."""
    import dataclasses

    import gfloat.formats as F
    return {
        "binary16": F.format_info_binary16,
        "bfloat16": F.format_info_bfloat16,
        # gfloat has no tf32 preset: bfloat16's layout with 10 trailing bits
        # (IEEE-style, so every code of the top exponent is inf or NaN).
        "tf32": dataclasses.replace(F.format_info_bfloat16, name="tf32", k=19,
                                    precision=11, num_high_nans=2**10 - 1),
        "e5m2": F.format_info_ocp_e5m2,
        "e4m3": F.format_info_ocp_e4m3,
        "e3m2": F.format_info_ocp_e3m2,
        "e2m3": F.format_info_ocp_e2m3,
        "e2m1": F.format_info_ocp_e2m1,
    }


def _params(fmt):
    """(p, emax, emin, subnormals, overflow, max as float) of a sr.Format or RefFormat."""
    return (int(fmt.precision), int(fmt.emax), int(fmt.emin), bool(fmt.subnormals),
            fmt.overflow, float(fmt.max))


class Split:
    """|x| placed on the grid of a format.

    neg      sign bit of x
    nan, inf masks of NaN and infinite inputs
    zero     x == 0
    lo       integer significand of RD(|x|): RD = lo * 2**k (int64, < 2**53)
    k        exponent of the grid spacing at |x| (int64)
    inexact  |x| is not on the grid
    cmp      sign of f - 1/2 (f = fraction of an ulp above RD), int8; 0 = tie
    thr      floor(f * 2**64) as uint64 (the exact-SR threshold)
    lo_odd   the encoding of RD(|x|) ends in a 1
    """

    def __init__(self, x, fmt):
        x = np.asarray(x)
        assert x.dtype in (np.float32, np.float64)
        with np.errstate(invalid="ignore"):  # signalling NaNs
            x = x.astype(np.float64).ravel()  # exact widening
        p, emax, emin, subn, _, _ = _params(fmt)
        self.fmt = fmt
        self.neg = np.signbit(x)
        self.nan = np.isnan(x)
        self.inf = np.isinf(x)
        self.zero = x == 0
        ok = ~(self.nan | self.inf | self.zero)
        a = np.where(ok, np.abs(x), 1.0)
        mant, e = np.frexp(a)
        e = e.astype(np.int64)
        M = np.ldexp(mant, 53).astype(np.int64)  # exact: mant has <= 53 bits
        M = np.where(ok, M, 0)
        binade = e - 1  # floor(log2 |x|)
        below = binade < emin
        if subn:
            k = np.where(below, emin, binade) - p + 1
        else:
            k = np.where(below, emin, binade - p + 1)
        d = k - (e - 53)  # number of discarded bits of M (>= 0 for p <= 53)
        assert (d[ok] >= 0).all()
        d = np.where(ok, d, 0)
        dc = np.minimum(d, 62)  # M < 2**53: shifting by 62 already gives lo = 0
        lo = M >> dc
        rem = M - (lo << dc)
        half = np.where(dc > 0, np.int64(1) << np.maximum(dc - 1, 0), 0)
        self.lo = lo
        self.k = np.where(ok, k, 0)
        self.inexact = rem != 0
        self.cmp = np.sign(rem - half).astype(np.int8)
        remu = rem.astype(np.uint64)
        left = np.clip(64 - d, 0, 63).astype(np.uint64)
        right = np.clip(d - 64, 0, 63).astype(np.uint64)
        thr = np.where(d <= 64, remu << left, remu >> right)
        self.thr = np.where(self.inexact, thr, np.uint64(0))
        if p > 1:
            self.lo_odd = (lo & 1) == 1
        else:
            # p = 1: no trailing significand bits; the encoding's last bit is
            # that of the biased exponent binade + 1 - emin (0 is even).
            self.lo_odd = (lo != 0) & (((binade + 1 - emin) & 1) == 1)
        self.lo_odd &= ok

    def magnitudes(self):
        """(RD(|x|), RU(|x|)) in the unbounded grid, as float64 (RU = RD if exact)."""
        with np.errstate(over="ignore"):
            rd = np.ldexp(self.lo.astype(np.float64), self.k)
            ru = np.ldexp((self.lo + self.inexact).astype(np.float64), self.k)
        return rd, ru

    def away(self, mode, words=None, bits=None):
        """Boolean mask: the inexact |x| rounds to RU(|x|)."""
        ix, neg = self.inexact, self.neg
        if mode == "nearest":
            a = (self.cmp > 0) | ((self.cmp == 0) & self.lo_odd)
        elif mode == "nearest_away":
            a = self.cmp >= 0
        elif mode == "toward_zero":
            a = np.zeros_like(ix)
        elif mode == "up":
            a = ~neg
        elif mode == "down":
            a = neg
        elif mode == "odd":
            a = ~self.lo_odd
        elif mode == "stochastic":
            w = np.asarray(words, np.uint64).ravel()
            sh = np.uint64(64 - (64 if bits is None else bits))
            a = (w >> sh) < (self.thr >> sh)
        elif mode == "stochastic_equal":
            w = np.asarray(words, np.uint64).ravel()
            a = (w >> np.uint64(63)) == 1
        else:
            raise ValueError(mode)
        return ix & a

    def result(self, mode, words=None, bits=None):
        """The rounded values as float64 (flat), overflow policy applied."""
        _, _, _, _, overflow, fmax = _params(self.fmt)
        away = self.away(mode, words, bits)
        with np.errstate(over="ignore"):  # RU can be 2**1024 for p = 52 .. 53
            mag = np.ldexp((self.lo + away).astype(np.float64), self.k)
        mag = np.where(self.zero, 0.0, mag)
        if mode in ("nearest", "nearest_away") + STOCHASTIC:
            outward = np.ones_like(self.neg)
        elif mode == "up":
            outward = ~self.neg
        elif mode == "down":
            outward = self.neg.copy()
        else:
            outward = np.zeros_like(self.neg)
        over = (mag > fmax) | self.inf
        outward |= self.inf  # an infinite input is never brought back to max
        if overflow == "saturate":
            mag = np.where(over, fmax, mag)
        else:
            big = np.inf if overflow == "inf" else np.nan
            mag = np.where(over & ~outward, fmax, mag)
            mag = np.where(over & outward, big, mag)
        mag = np.where(self.nan, np.nan, mag)
        return np.where(self.neg, -mag, mag)


def oracle_round(x, fmt, mode, words=None, bits=None):
    """Round array x (float32 or float64) into fmt; result has x's dtype and shape."""
    x = np.asarray(x)
    r = Split(x, fmt).result(mode, words, bits)
    with np.errstate(over="ignore", invalid="ignore"):
        return r.astype(x.dtype).reshape(x.shape)


def same_bits(a, b):
    """Elementwise: equal values with equal signs, or both NaN."""
    with np.errstate(invalid="ignore"):  # signalling NaNs
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    return both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))


def mismatch_report(x, got, want, limit=8):
    """A readable description of the first few mismatches (empty string if none)."""
    x, got, want = (np.asarray(v).ravel() for v in (x, got, want))
    bad = np.flatnonzero(~same_bits(got, want))
    if bad.size == 0:
        return ""
    itype = {4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    lines = [f"{bad.size} of {x.size} differ; first:"]
    for i in bad[:limit]:
        bits = int(x[i:i + 1].view(itype)[0])
        lines.append(f"  x={x[i]!r} (0x{bits:0{2 * x.dtype.itemsize}x}) got={got[i]!r} "
                     f"want={want[i]!r}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Test inputs
# ---------------------------------------------------------------------------

_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
_MANT = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def _exponent_window(fmt, dtype):
    """Binades of the input dtype from a little below the format's subnormal
    range to a little above its max."""
    p, emax, emin, _, _, _ = _params(fmt)
    fi = np.finfo(dtype)
    lowest = int(fi.minexp) - int(fi.nmant)  # exponent of the smallest subnormal
    return max(emin - p - 3, lowest), min(emax + 2, int(fi.maxexp) - 1)


def random_in_binades(fmt, dtype, n, rng):
    """Values with uniformly random binade in the window and random significand bits."""
    dtype = np.dtype(dtype)
    lo_e, hi_e = _exponent_window(fmt, dtype)
    e = rng.integers(lo_e, hi_e + 1, n)
    m = _MANT[dtype]
    sig = (rng.integers(0, 2**62, n, dtype=np.int64) >> (62 - m + 1)) | (1 << (m - 1))
    with np.errstate(over="ignore", under="ignore"):
        x = np.ldexp(sig.astype(np.float64), e - m + 1).astype(dtype)
    return np.where(rng.random(n) < 0.5, -x, x)


def grid_points(fmt, n, rng):
    """Random exact values of fmt (float64), spread over all binades, both signs."""
    p, emax, emin, subn, _, fmax = _params(fmt)
    e = rng.integers(emin - 1, emax + 1, n)  # emin - 1 stands for the subnormal range
    top = 1 << (p - 1)
    sig = top + (rng.integers(0, 2**62, n, dtype=np.int64) % top if p > 1 else 0)
    sub = e < emin
    if subn:
        sig = np.where(sub, sig - top, sig)   # subnormal significands 0 .. 2**(p-1) - 1
    else:
        sig = np.where(sub, 0, sig)
    k = np.where(sub, emin, e) - p + 1
    x = np.ldexp(sig.astype(np.float64), k)
    x = np.where(x > fmax, fmax, x)
    return np.where(rng.random(n) < 0.5, -x, x)


def ties(fmt, n, rng):
    """Exact midpoints between neighbours of fmt (float64), including the
    midpoints just above max and the one between 0 and the smallest value."""
    p, emax, emin, subn, _, _ = _params(fmt)
    e = rng.integers(emin - 1, emax + 2, n)
    top = 1 << (p - 1)
    sig = top + (rng.integers(0, 2**62, n, dtype=np.int64) % top if p > 1 else 0)
    sub = e < emin
    if subn:
        sig = np.where(sub, sig - top, sig)
        k = np.where(sub, emin, e) - p + 1
    else:
        sig = np.where(sub, 0, sig)
        k = np.where(sub, emin, e - p + 1)
    x = np.ldexp((2 * sig + 1).astype(np.float64), k - 1)
    return np.where(rng.random(n) < 0.5, -x, x)


def special_values(fmt, dtype):
    """Hand-picked edge cases in dtype: zeros, NaNs, infinities, max and the
    overflow thresholds, the subnormal range, the input type's extremes, and
    one input ulp either side of each."""
    dtype = np.dtype(dtype)
    p, emax, emin, subn, _, fmax = _params(fmt)
    s = 2.0**(emax - p + 1)  # top-binade spacing
    q = 2.0**(emin - p + 1) if subn else 2.0**emin
    tiny = 2.0**emin
    fi = np.finfo(dtype)
    base = [fmax, fmax + s / 4, fmax + s / 2, fmax + 3 * s / 4, fmax + s, fmax + 1.5 * s,
            2 * fmax, 4 * fmax, q, q / 2, q / 4, 3 * q / 2, 5 * q / 2, tiny, tiny / 2,
            tiny - q / 2, tiny + q / 2, tiny * (1 + 2.0**(1 - p)) if p > 1 else 2 * tiny,
            1.0, 1.5, 1 + 2.0**-p, 1 + 3 * 2.0**-p, 3.0, 1 / 3, 0.1,
            float(fi.max), float(fi.smallest_subnormal), float(fi.smallest_normal)]
    with np.errstate(over="ignore", under="ignore"):
        v = np.array([b for b in base if np.isfinite(b)], np.float64).astype(dtype)
        v = v[np.isfinite(v) & (v != 0)]
        v = np.concatenate([v, np.nextafter(v, dtype.type(np.inf)),
                            np.nextafter(v, dtype.type(0))])
    v = np.concatenate([v, -v, np.array([0.0, -0.0, np.inf, -np.inf], dtype)])
    u = _UINT[dtype]
    nans = np.array([0x7f800001, 0xff800001, 0x7fc00000, 0x7fffffff] if dtype.itemsize == 4
                    else [0x7ff0000000000001, 0xfff0000000000001, 0x7ff8000000000000,
                          0x7fffffffffffffff], u).view(dtype)
    return np.concatenate([v, nans])


def sample(fmt, dtype, n, seed, nan=True):
    """About n inputs of dtype for fmt: random values in every binade (~70%),
    exact ties and the input values one ulp either side of them (~15%), grid
    points (~5%), random bit patterns of dtype (~10%: every binade of the
    input type, NaN payloads, infinities), and the special values."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    n_t = n // 20
    parts = [random_in_binades(fmt, dtype, n - 6 * n_t - n // 10, rng)]
    with np.errstate(over="ignore", under="ignore"):
        t = ties(fmt, n_t, rng).astype(dtype)
        t = t[np.isfinite(t)]
        parts += [t, np.nextafter(t, dtype.type(np.inf)), np.nextafter(t, dtype.type(-np.inf))]
        parts.append(grid_points(fmt, 3 * n_t, rng).astype(dtype))
    u = _UINT[dtype]
    bits = rng.integers(0, np.iinfo(np.int64).max, n // 10, dtype=np.int64, endpoint=True)
    bits = bits.astype(np.uint64) << np.uint64(1) | rng.integers(0, 2, n // 10).astype(np.uint64)
    parts.append(bits.astype(u).view(dtype))
    parts.append(special_values(fmt, dtype))
    short = n - sum(p.size for p in parts)
    if short > 0:  # ties beyond the input type's range were dropped
        parts.append(random_in_binades(fmt, dtype, short, rng))
    x = np.concatenate(parts).astype(dtype)
    if not nan:
        x = x[~np.isnan(x)]
    return rng.permutation(x)
