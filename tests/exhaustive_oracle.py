"""Checks of every float32 bit pattern, one binade at a time (tests/test_exhaustive.py).

A "binade" here is the 2**23 float32 patterns with one sign and one exponent field E
(E = 0: zero and the subnormals; E = 255: the infinity and the NaNs), so 512 binades
cover all 2**32 patterns. check_binade(E, sign) rounds the binade with srround and
compares:

* round to nearest into binary16 with NumPy's float16 cast, and into bfloat16, e5m2,
  e4m3, e3m2, e2m3, e2m1 with ml_dtypes' casts (independent implementations);
* the six deterministic modes into bfloat16 and e4m3 with expected_binade() below,
  an exact oracle that works on the binade's structure (cross-checked against
  tests/vector_oracle.py by the default test run).

expected_binade: inside one binade the magnitude is M * 2**e0 with M = M0 + i,
i = 0 .. 2**23 - 1 (M0 = 2**23, or 0 when E = 0) and a fixed e0, and the target's
grid spacing 2**k is fixed too. So the d = k - e0 discarded bits split the binade
into groups of 2**d consecutive patterns (one group when d >= 24) that share the
neighbour below, RD = lo * 2**k, and the neighbour above, (lo + 1) * 2**k. Within
a group the column (the discarded bits) alone says whether the input is exact,
below the midpoint, at it, or above it; the mode turns that, the sign and the
parity of lo into "RD or RU", and the overflow policy acts on the two neighbours.
The expectation is thus one value per group and column class, and checking a
binade costs a few passes over its patterns instead of a full exact model per
element.
"""
import time

import numpy as np

import srround as sr

PATTERNS = 1 << 23                       # patterns per binade
DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd")
MODE_FORMATS = ("bfloat16", "e4m3")      # every deterministic mode
NEAREST_FORMATS = ("binary16", "bfloat16", "e5m2", "e4m3", "e3m2", "e2m3", "e2m1")
QUIET_NAN = 0x7FC00000


def binade(E, sign):
    """The 2**23 float32 values of one binade, in pattern order."""
    start = (sign << 31) | (E << 23)
    return np.arange(start, start + PATTERNS, dtype=np.uint32).view(np.float32)


# ---------------------------------------------------------------- library oracles

def library_oracle(name):
    """float32 -> float32 through the independent cast for preset `name`."""
    if name == "binary16":
        return np.float16
    import ml_dtypes
    return {"bfloat16": ml_dtypes.bfloat16, "e5m2": ml_dtypes.float8_e5m2,
            "e4m3": ml_dtypes.float8_e4m3fn, "e3m2": ml_dtypes.float6_e3m2fn,
            "e2m3": ml_dtypes.float6_e2m3fn, "e2m1": ml_dtypes.float4_e2m1fn}[name]


def cast_through(x, storage):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return x.astype(storage).astype(np.float32)


def constant_binade_value(x, storage, rng):
    """The library casts are slow where they round to +-0, +-inf, +-max or NaN for a
    whole binade (NumPy's float16 cast raises a floating-point exception element by
    element there, ~30x slower). Where the cast gives the same such value at both
    ends of the binade it gives it in between too (the casts round correctly, so
    they are monotone, with overflow to NaN beyond every finite value), so one value
    stands for the cast of the whole binade; 4096 random patterns of the binade are
    cast as well, to check. Returns None where the binade is not constant."""
    ends = cast_through(x[[0, -1]], storage)
    a, b = ends.view(np.uint32)
    if a != b or not (ends[0] == 0 or not np.isfinite(ends[0])
                      or abs(float(ends[0])) == _storage_max(storage)):
        return None
    probe = cast_through(x[rng.integers(0, x.size, 4096)], storage)
    assert (probe.view(np.uint32) == a).all(), "the oracle is not constant on the binade"
    return ends[0]


def _storage_max(storage):
    import ml_dtypes
    return float(ml_dtypes.finfo(storage).max)


# ---------------------------------------------------------------- the binade oracle

class Binade:
    """The structure of one binade with respect to one format (see module doc)."""

    def __init__(self, E, sign, fmt):
        p, emin = fmt.precision, fmt.emin
        assert fmt.subnormals and p > 1 and fmt.fits_float32 and 0 <= E < 255
        self.fmt, self.sign, self.E = fmt, sign, E
        m0 = PATTERNS if E else 0
        e0 = max(E, 1) - 150                   # value = M * 2**e0
        binade_exp = E - 127 if E else -127    # any value below 2**-126 < 2**emin
        self.k = max(binade_exp, emin) - p + 1
        d = self.k - e0
        assert d >= 0
        if d <= 23:                            # groups of 2**d patterns, rem = column
            size = 1 << d
            self.groups = PATTERNS >> d
            self.lo = (m0 >> d) + np.arange(self.groups, dtype=np.int64)
            half = size >> 1
            if d == 0:
                classes = {"exact": slice(0, 1)}
            else:
                classes = {"exact": slice(0, 1), "below": slice(1, half),
                           "tie": slice(half, half + 1), "above": slice(half + 1, size)}
        else:                                  # one group: lo = 0, rem = M0 + i < 2**24
            size = PATTERNS
            self.groups = 1
            self.lo = np.zeros(1, np.int64)
            if m0 == 0:                        # zero, then below the midpoint 2**(d-1)
                classes = {"exact": slice(0, 1), "below": slice(1, size)}
            elif d == 24:                      # M0 = 2**23 is the midpoint itself
                classes = {"tie": slice(0, 1), "above": slice(1, size)}
            else:
                classes = {"below": slice(0, size)}
        self.size = size
        self.classes = {c: s for c, s in classes.items() if s.stop > s.start}

    def _finish(self, lo, mode):
        """float32 bit patterns of the signed magnitudes lo * 2**k, overflow applied."""
        fmt, neg = self.fmt, bool(self.sign)
        mag = np.ldexp(lo.astype(np.float64), self.k)
        outward = {"nearest": True, "nearest_away": True, "toward_zero": False,
                   "odd": False, "up": not neg, "down": neg}[mode]
        over = mag > fmt.max
        if fmt.overflow == "saturate" or not outward:
            mag = np.where(over, fmt.max, mag)
        else:
            mag = np.where(over, np.inf if fmt.overflow == "inf" else np.nan, mag)
        bits = mag.astype(np.float32).view(np.uint32)
        bits = np.where(np.isnan(mag), QUIET_NAN, bits)
        return bits | np.uint32(self.sign << 31)

    def expectations(self, mode):
        """{column class: float32 bits per group (groups,)} for a deterministic mode."""
        neg = bool(self.sign)
        down = self._finish(self.lo, mode)
        up = self._finish(self.lo + 1, mode)
        odd = (self.lo & 1) == 1
        rules = {   # column class -> rounds away from zero? (bool or per group)
            "nearest": {"below": False, "tie": odd, "above": True},
            "nearest_away": {"below": False, "tie": True, "above": True},
            "toward_zero": {"below": False, "tie": False, "above": False},
            "up": dict.fromkeys(("below", "tie", "above"), not neg),
            "down": dict.fromkeys(("below", "tie", "above"), neg),
            "odd": dict.fromkeys(("below", "tie", "above"), ~odd),
        }[mode]
        out = {}
        for c in self.classes:
            away = False if c == "exact" else rules[c]
            out[c] = np.where(away, up, down)
        return out

    def mismatches(self, got, mode):
        """Indices (into the binade) where got (float32, the binade rounded in mode)
        differs from the expectation; NaN matches any NaN."""
        g = got.view(np.uint32).reshape(self.groups, self.size)
        bad = []
        for c, want in self.expectations(mode).items():
            cols = self.classes[c]
            part = g[:, cols]
            diff = part != want[:, None]
            if diff.any():
                rows, offs = np.nonzero(diff)
                nan_ok = _is_nan_bits(part[rows, offs]) & _is_nan_bits(want[rows])
                rows, offs = rows[~nan_ok], offs[~nan_ok]
                bad.append(rows * self.size + cols.start + offs)
        return np.concatenate(bad) if bad else np.zeros(0, np.int64)

    def expected_at(self, mode, index):
        """The expected float32 results at pattern indices `index` of the binade."""
        index = np.asarray(index, np.int64)
        group, col = index // self.size, index % self.size
        out = np.zeros(index.shape, np.uint32)
        for c, want in self.expectations(mode).items():
            cols = self.classes[c]
            here = (cols.start <= col) & (col < cols.stop)
            out[here] = want[group[here]]
        return out.view(np.float32)

    def expected_values(self, mode):
        """The full expected binade as float32."""
        return self.expected_at(mode, np.arange(PATTERNS))

    def boundaries(self):
        """Pattern indices at the edges of every column class, in the first, a middle
        and the last group: where an off-by-one would show."""
        cols = sorted({v for s in self.classes.values()
                       for v in (s.start, s.stop - 1, min(s.start + 1, s.stop - 1))})
        groups = sorted({0, self.groups // 2, self.groups - 1})
        return np.array([g * self.size + c for g in groups for c in cols], np.int64)


def _is_nan_bits(bits):
    return (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)


def special_binade_expected(sign, fmt):
    """E = 255: pattern 0 is +-inf, the rest NaN. The result for +-inf, in every mode
    (an infinite input is never brought back to max, except by "saturate")."""
    neg = bool(sign)
    if fmt.overflow == "saturate":
        return -fmt.max if neg else fmt.max
    if fmt.overflow == "nan":
        return np.nan
    return -np.inf if neg else np.inf


# ---------------------------------------------------------------- one binade, every check

def _nan_tolerant_mismatch(got, want):
    g, w = got.view(np.uint32), want.view(np.uint32)
    bad = np.flatnonzero(g != w)
    if bad.size:
        bad = bad[~(np.isnan(got[bad]) & np.isnan(want[bad]))]
    return bad


def _report(x, got, want, bad, limit=3):
    lines = []
    for i in bad[:limit]:
        lines.append(f"x=0x{int(x[i:i + 1].view(np.uint32)[0]):08x} ({x[i]!r}) "
                     f"got={got[i]!r} want={want[i]!r}")
    return lines


class _Buffers:
    """Arrays of one binade's size, reused from binade to binade: fresh 32 MiB arrays
    for every check cost more in page faults than the checks themselves."""

    def __init__(self):
        self.offsets = np.arange(PATTERNS, dtype=np.uint32)
        self.x = np.empty(PATTERNS, np.uint32)
        self.got = np.empty(PATTERNS, np.float32)
        self.want = np.empty(PATTERNS, np.float32)
        self.storage = {}

    def binade(self, E, sign):
        np.add(self.offsets, np.uint32((sign << 31) | (E << 23)), out=self.x)
        return self.x.view(np.float32)

    def cast_through(self, x, storage):
        """Like cast_through, into the reused arrays."""
        if x.size != PATTERNS:
            return cast_through(x, storage)
        small = self.storage.get(storage)
        if small is None:
            small = self.storage[storage] = np.empty(PATTERNS, storage)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            np.copyto(small, x, casting="unsafe")
            np.copyto(self.want, small, casting="unsafe")
        return self.want


_buffers = None


def _nearest_check(name, fmt, E, x, got, rng, buffers):
    """Round to nearest against the library cast; a list of result rows."""
    rows = []
    storage = library_oracle(name)
    keep = slice(None)
    if E == 255 and fmt.overflow == "saturate":
        # fp6/fp4 storage has no NaN (ml_dtypes casts NaN to -0); srround keeps NaN:
        # checked here, the infinity against the cast below
        kept = np.isnan(got[1:])
        rows.append((f"{name} nearest: NaN stays NaN", PATTERNS - 1,
                     int(kept.size - np.count_nonzero(kept)), []))
        keep = slice(0, 1)
    value = constant_binade_value(x[keep], storage, rng)
    if value is not None:
        want = np.array([value], np.float32)
        if np.isnan(value):
            bad = np.flatnonzero(~np.isnan(got[keep]))
        else:
            bad = np.flatnonzero(got[keep].view(np.uint32) != want.view(np.uint32))
        want = np.broadcast_to(want, got[keep].shape)
    else:
        want = buffers.cast_through(x[keep], storage)
        bad = _nan_tolerant_mismatch(got[keep], want)
    oracle = "NumPy float16 cast" if name == "binary16" else "ml_dtypes cast"
    rows.append((f"{name} nearest vs {oracle}", want.size, int(bad.size),
                 _report(x[keep], got[keep], want, bad)))
    return rows


def _mode_check(name, fmt, mode, E, sign, x, got):
    """A deterministic mode against the binade oracle; one result row."""
    if E == 255:
        want = np.full(PATTERNS, np.nan, np.float32)
        want[0] = special_binade_expected(sign, fmt)
        bad = _nan_tolerant_mismatch(got, want)
    else:
        structure = Binade(E, sign, fmt)
        bad = structure.mismatches(got, mode)
        want = structure.expected_values(mode) if bad.size else None
    return (f"{name} {mode} vs binade oracle", PATTERNS, int(bad.size),
            _report(x, got, want, bad) if bad.size else [])


def check_binade(E, sign, nearest=NEAREST_FORMATS, mode_formats=MODE_FORMATS,
                 modes=DETERMINISTIC):
    """Every check on binade (E, sign). Returns (results, seconds) with results a
    list of (check name, patterns compared, mismatches, examples)."""
    global _buffers
    if _buffers is None:
        _buffers = _Buffers()
    t0 = time.perf_counter()
    x = _buffers.binade(E, sign)
    got = _buffers.got
    results = []
    rng = np.random.default_rng(E * 2 + sign)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for name in dict.fromkeys(nearest + mode_formats):
            fmt = sr.format(name)
            for mode in ("nearest",) + tuple(m for m in modes if m != "nearest"):
                if mode != "nearest" and name not in mode_formats:
                    break
                sr.round(x, fmt, mode, out=got)
                if mode == "nearest" and name in nearest:
                    results += _nearest_check(name, fmt, E, x, got, rng, _buffers)
                if name in mode_formats and mode in modes:
                    results.append(_mode_check(name, fmt, mode, E, sign, x, got))
    return results, time.perf_counter() - t0


def all_binades():
    """(E, sign) of the 512 binades, the slow ones (most rounding work) spread out."""
    return [(E, sign) for E in range(256) for sign in (0, 1)]
