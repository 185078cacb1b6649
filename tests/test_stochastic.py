"""Stochastic rounding: exact replay of the random words, frequencies against
the exact probabilities of tests/reference.py, and reproducibility.

Replay: every element rounded stochastically consumes one word of the context's
stream, in NumPy's iteration order: a 64-bit word for float64 data, a 32-bit
half-word for float32 data; ctx.random_words(n, dtype) hands out the next n.
A pickled copy of a context continues its stream, so the words a rounding call
will use can be drawn in advance from a copy, and the call's output checked bit
for bit against the oracles given those words.
"""

import math
import pickle
import zlib
from fractions import Fraction

import numpy as np
import pytest
from conftest import formats, twin
from reference import neighbours, prob_up, ref_round
from vector_oracle import Split, grid_points, mismatch_report, ref_format, same_bits, sample

import srround as sr

TWO64 = 2**64

FORMATS = formats("binary16", "bfloat16", "tf32", "binary32", "e5m2", "e4m3", "e3m2", "e2m3",
                  "e2m1", "p5_e3_em20", "p1", "nosub", "fp16_nosub_sat", "bf16_nan",
                  "e4m3_inf", "p52", "p50_em1000", "p3_e100_em900")
CASES = [(name, dt) for name, f in FORMATS.items()
         for dt in (np.float32, np.float64) if dt is np.float64 or f.fits_float32]
CASE_IDS = [f"{name}-{np.dtype(dt).name}" for name, dt in CASES]

# (rounding, bits) variants: exact SR, limited-bit SR, equal-probability SR
VARIANTS = [("stochastic", None), ("stochastic", 64), ("stochastic", 63), ("stochastic", 53),
            ("stochastic", 24), ("stochastic", 11), ("stochastic", 5), ("stochastic", 2),
            ("stochastic", 1), ("stochastic_equal", None)]


def seed_of(*parts):
    return zlib.crc32(repr(parts).encode())


def word_dtype(dtype):
    """What rounding data of dtype draws per element: float32 data 32-bit words."""
    return np.uint32 if np.dtype(dtype) == np.float32 else np.uint64


def draw(ctx, n, dtype):
    """The next n words that rounding dtype data with ctx will use, as 64-bit words:
    a 32-bit word h acts as the 64-bit word h * 2**32 (taken from a copy of ctx)."""
    words = twin(ctx).random_words(n, word_dtype(dtype)).astype(np.uint64)
    return words << np.uint64(64 - 8 * np.dtype(word_dtype(dtype)).itemsize)


def word_bits(mode, bits, dtype):
    """The random bits in play: with 32-bit words, SR of float32 data is SR with
    min(bits, 32) random bits."""
    if mode != "stochastic" or np.dtype(dtype) != np.float32:
        return bits
    return 32 if bits is None else min(bits, 32)


def replay(ctx, x):
    """Round x with ctx and return (got, words): the words come from a copy
    of ctx drawn beforehand, one per element in C order of x."""
    words = draw(ctx, x.size, x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        got = ctx.round(x)
    return got, words


# ---------------------------------------------------------------------------
# Bit-exact replay
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, dtype", CASES, ids=CASE_IDS)
def test_stochastic_replay_bit_exact(name, dtype):
    fmt = FORMATS[name]
    x = sample(fmt, dtype, 10**6, seed=seed_of(name, "replay"))
    split = Split(x, fmt)
    errors = []
    for mode, bits in VARIANTS:
        ctx = sr.Context(fmt, mode, bits=bits, rng=seed_of(name, dtype, bits))
        copy = twin(ctx)
        got, words = replay(ctx, x)
        want = split.result(mode, words, word_bits(mode, bits, dtype)).astype(dtype)
        report = mismatch_report(x, got, want)
        if report:
            errors.append(f"{name}/{mode}/bits={bits}: {report}")
        # the call used exactly x.size words: both streams are at the same point
        copy.random_words(x.size, word_dtype(dtype))
        assert (ctx.random_words(9) == copy.random_words(9)).all()
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e4m3", "e2m1", "nosub", "p1"])
def test_replay_matches_reference_word_by_word(name):
    """The same replay against the slow Fraction reference, on fewer values."""
    fmt = FORMATS[name]
    rf = ref_format(fmt)
    for dtype in (np.float32, np.float64):
        x = sample(fmt, dtype, 300, seed=seed_of(name, "ref"))
        for mode, bits in (("stochastic", None), ("stochastic", 3), ("stochastic", 30),
                           ("stochastic_equal", None)):
            ctx = sr.Context(fmt, mode, bits=bits, rng=seed_of(name, "ref", bits))
            got, words = replay(ctx, x)
            want = np.array([ref_round(float(v), rf, mode, u=Fraction(int(w), TWO64),
                                       bits=word_bits(mode, bits, dtype))
                             for v, w in zip(x, words)]).astype(dtype)
            assert not mismatch_report(x, got, want), mismatch_report(x, got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [None, 1, 4, 12])
@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e4m3", "e2m1"])
def test_fraction_equal_to_the_word_stays(name, bits, dtype):
    """Inputs built from the very words that will round them: if the first r
    discarded bits of x equal the first r bits of its word, x rounds toward
    zero (the comparison is strict); one more and it rounds away.  (With exact
    SR the word beyond the discarded bits is what makes the difference.)"""
    fmt = FORMATS[name]
    p, m = fmt.precision, {np.float32: 24, np.float64: 53}[dtype]
    d = m - p                  # discarded bits of a normal input
    r = d if bits is None else bits
    n = 50_000
    rng = np.random.default_rng(seed_of(name, bits, dtype, "edge"))
    ctx = sr.Context(fmt, "stochastic", bits=bits, rng=seed_of(name, bits, "edge"))
    words = draw(ctx, n, dtype)
    prefix = (words >> np.uint64(64 - r)).astype(np.int64)        # top r bits of each word
    low = rng.integers(0, 2**(d - r), n) if d > r else np.zeros(n, np.int64)
    delta = rng.integers(0, 2, n)                                   # 0: stay, 1: go away
    frac = np.minimum(prefix + delta, 2**r - 1)
    delta = frac - prefix                                           # no carry out of r bits
    sig = rng.integers(2**(p - 1), 2**p, n)                         # RD's integer significand
    e = rng.integers(fmt.emin, fmt.emax, n)                         # its binade
    M = (sig << d) | (frac << (d - r)) | low                        # < 2**m: exact in dtype
    x = np.ldexp(M.astype(np.float64), e - (m - 1)).astype(dtype)
    x = np.where(rng.random(n) < 0.5, -x, x)
    got = ctx.round(x)
    rd = np.ldexp(sig.astype(np.float64), e - (p - 1))
    ru = np.ldexp((sig + 1).astype(np.float64), e - (p - 1))
    want = np.where(delta == 1, ru, rd)
    with np.errstate(over="ignore"):
        want = np.where(want > fmt.max, np.inf if fmt.overflow == "inf" else
                        (np.nan if fmt.overflow == "nan" else fmt.max), want)
    want = np.copysign(want, x).astype(dtype)
    assert not mismatch_report(x, got, want), mismatch_report(x, got, want)
    assert (delta == 0).sum() > n // 3 and (delta == 1).sum() > n // 5


# ---------------------------------------------------------------------------
# Frequencies against the exact probabilities
# ---------------------------------------------------------------------------

def spread_of_values(fmt, dtype, k, seed):
    """Inexact values of dtype for fmt: normal, subnormal (or in the gap below
    2**emin), just above an exact grid point, ties, and in (max, max + s)
    where rounding up overflows; both signs."""
    rng = np.random.default_rng(seed)
    x = sample(fmt, dtype, 40000, seed=seed)
    with np.errstate(invalid="ignore", over="ignore"):
        split = Split(x, fmt)
        rd, ru = split.magnitudes()
        a = np.abs(x.astype(np.float64))
    ok = split.inexact & np.isfinite(x) & (ru <= fmt.max)
    picks = []
    for mask in (ok & (a >= fmt.tiny), ok & (a < fmt.tiny), ok & (split.cmp == 0),
                 ok & (split.thr < np.uint64(2**40)), ok & (split.thr > np.uint64(2**64 - 2**40))):
        idx = np.flatnonzero(mask)
        if idx.size:
            picks.append(x[rng.choice(idx, min(k, idx.size), replace=False)])
    s = 2.0**(fmt.emax - fmt.precision + 1)
    with np.errstate(over="ignore"):
        over = (fmt.max + s * np.array([2.0**-20, 0.125, 0.5, 0.75, 1 - 2.0**-8])).astype(dtype)
    over = over[np.isfinite(over) & (over > fmt.max)]
    picks.append(over)
    v = np.concatenate(picks)
    v = np.where(rng.random(v.size) < 0.5, -v, v)
    return np.concatenate([v, -over[:1]]).astype(dtype)


def check_frequencies(fmt, dtype, mode, bits, xs, n, seed):
    """Round each x n times; every result is one of the two neighbours (after
    the overflow policy), and the count of results away from zero is within 5
    sigma (+1, for tiny expected counts) of n * prob_up."""
    rf = ref_format(fmt)
    ctx = sr.Context(fmt, mode, bits=bits, rng=seed)
    with np.errstate(over="ignore", invalid="ignore"):
        got = ctx.round(np.repeat(xs, n)).reshape(xs.size, n)
    u_toward, u_away = ((Fraction(TWO64 - 1, TWO64), Fraction(0)) if mode == "stochastic"
                        else (Fraction(0), Fraction(1, 2)))
    problems = []
    for v, row in zip(xs, got):
        fv = float(v)
        toward = ref_round(fv, rf, mode, u=u_toward, bits=bits)
        away = ref_round(fv, rf, mode, u=u_away, bits=bits)
        is_away = same_bits(row, away)
        is_toward = same_bits(row, toward)
        if not (is_away | is_toward).all():
            bad = row[~(is_away | is_toward)][0]
            problems.append(f"x={fv!r}: got {bad!r}, not {toward!r} or {away!r}")
            continue
        if same_bits(away, toward):  # saturated at max: nothing to count
            continue
        k = int((is_away & ~is_toward).sum())
        p = float(prob_up(fv, rf, mode, bits=bits))
        sigma = math.sqrt(n * p * (1 - p))
        if abs(k - n * p) > 5 * sigma + 1:
            problems.append(f"x={fv!r}: {k} of {n} away, expected p={p!r}")
    assert not problems, f"{fmt!r} {mode} bits={bits}:\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("name, dtype", CASES, ids=CASE_IDS)
def test_frequencies_match_prob_up(name, dtype):
    fmt = FORMATS[name]
    xs = spread_of_values(fmt, dtype, 4, seed=seed_of(name, dtype, "freq"))
    for i, (mode, bits) in enumerate([("stochastic", None), ("stochastic", 1),
                                      ("stochastic", 3), ("stochastic", 10),
                                      ("stochastic_equal", None)]):
        check_frequencies(fmt, dtype, mode, bits, xs, 10**5, seed=seed_of(name, dtype, i))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e4m3", "e2m1", "nosub", "p3_e100_em900"])
def test_frequencies_high_precision(name):
    # 2e6 draws per value: 5 sigma is below 0.002 in probability.
    fmt = FORMATS[name]
    for dtype in (np.float32, np.float64):
        if dtype is np.float32 and not fmt.fits_float32:
            continue
        xs = spread_of_values(fmt, dtype, 3, seed=seed_of(name, dtype, "many"))
        for i, (mode, bits) in enumerate([("stochastic", None), ("stochastic", 2),
                                          ("stochastic", 6), ("stochastic_equal", None)]):
            check_frequencies(fmt, dtype, mode, bits, xs, 2 * 10**6, seed=seed_of(name, i, "many"))


def test_one_third_to_bfloat16():
    # float32(1/3) = 0x3EAAAAAB: bfloat16 keeps the top 16 bits and the
    # discarded 0xAAAB are the fraction, so P(up) = 0xAAAB / 2**16 exactly.
    # (StochasticRounding.jl documents the same ~2/3 for Float32(1/3).)
    x = np.float32(1 / 3)
    assert int(np.array([x]).view(np.uint32)[0]) == 0x3EAAAAAB
    p = prob_up(float(x), ref_format(sr.bfloat16), "stochastic")
    assert p == Fraction(0xAAAB, 2**16)
    lo, hi = neighbours(Fraction(float(x)), ref_format(sr.bfloat16))
    n = 10**6
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=2024)
    words = draw(ctx, n, np.float32)
    got = ctx.round(np.full(n, x))
    up = got == np.float32(hi)
    assert (up | (got == np.float32(lo))).all()
    # exact: up iff the word is below 0xAAAB * 2**48
    assert (up == (words < np.uint64(0xAAAB << 48))).all()
    k = int(up.sum())
    assert abs(k / n - float(p)) < 5 * math.sqrt(float(p * (1 - p)) / n)
    assert abs(k / n - 2 / 3) < 0.01
    # the negative value, with limited bits: bits=2 keeps floor(f * 4) / 4 = 1/2
    ctx = sr.Context(sr.bfloat16, "stochastic", bits=2, rng=7)
    got = ctx.round(np.full(n, -x))
    k = int((got == -np.float32(hi)).sum())
    assert abs(k / n - 0.5) < 5 * math.sqrt(0.25 / n)
    assert ((got == -np.float32(hi)) | (got == -np.float32(lo))).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflow_probability(dtype):
    n = 2 * 10**5
    cases = [  # (format, max, s, what overflow gives)
        (sr.binary16, 65504.0, 32.0, np.inf),
        (sr.e5m2, 57344.0, 8192.0, np.inf),
        (sr.e4m3, 448.0, 32.0, np.nan),          # "nan" policy, reserved codes
        (FORMATS["e4m3_inf"], 448.0, 32.0, np.inf),
        (sr.bfloat16, float(sr.bfloat16.max), 2.0**120, np.inf),
        (sr.e3m2, 28.0, 4.0, None),              # saturates: always max
        (FORMATS["fp16_nosub_sat"], 65504.0, 32.0, None),
    ]
    for fmt, fmax, s, big in cases:
        assert fmt.max == fmax
        for frac in (2.0**-12, 0.25, 0.5, 0.875):
            x = dtype(fmax + frac * s)
            if not np.isfinite(x):
                continue
            p = (float(x) - fmax) / s
            for sign in (1, -1):
                ctx = sr.Context(fmt, "stochastic", rng=seed_of(fmax, frac, sign))
                with np.errstate(over="ignore", invalid="ignore"):
                    got = ctx.round(np.full(n, sign * x, dtype))
                at_max = got == sign * fmax
                if big is None:
                    assert at_max.all(), (fmt, x)
                    continue
                over = np.isnan(got) if np.isnan(big) else got == sign * big
                assert (at_max | over).all(), (fmt, x)
                k = int(over.sum())
                assert abs(k - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, (fmt, x, k, p)
        # at and beyond max + s: always overflows (or saturates)
        with np.errstate(over="ignore"):
            xs = np.array([fmax + s, 4 * fmax], dtype)
        xs = xs[np.isfinite(xs)]
        ctx = sr.Context(fmt, "stochastic", rng=1)
        with np.errstate(over="ignore", invalid="ignore"):
            got = ctx.round(np.repeat(xs, 1000))
        want = fmax if big is None else big
        assert same_bits(got, want).all(), (fmt, got[:3])
    # float64 input next to the largest float64: RU would be 2**1024
    p52 = FORMATS["p52"]
    top = np.finfo(np.float64).max  # = p52.max + s / 2
    got = sr.Context(p52, "stochastic", rng=3).round(np.full(n, top))
    assert ((got == np.inf) | (got == p52.max)).all()
    assert abs((got == np.inf).sum() - n / 2) <= 5 * math.sqrt(n / 4)


# ---------------------------------------------------------------------------
# Representable values, signs, zeros
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FORMATS))
def test_representable_values_never_change(name):
    fmt = FORMATS[name]
    g = grid_points(fmt, 50000, np.random.default_rng(seed_of(name, "grid")))
    g = np.concatenate([g, [0.0, -0.0, fmt.max, -fmt.max, np.inf, -np.inf]])
    for dtype in (np.float32, np.float64):
        if dtype is np.float32 and not fmt.fits_float32:
            continue
        gd = g.astype(dtype)
        if fmt.overflow != "inf":  # +-inf saturate or become NaN
            gd = gd[np.isfinite(gd)]
        for mode, bits in VARIANTS[::3] + [("stochastic_equal", None)]:
            ctx = sr.Context(fmt, mode, bits=bits, rng=seed_of(name, bits))
            assert same_bits(ctx.round(gd), gd).all(), (name, mode, bits)


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e4m3", "e2m1", "nosub"])
def test_signs_and_zeros(name):
    fmt = FORMATS[name]
    q = fmt.smallest_subnormal
    for dtype in (np.float32, np.float64):
        x = sample(fmt, dtype, 10**5, seed=seed_of(name, "sign"), nan=False)
        x = np.concatenate([x, np.array([q / 4, q / 2, 3 * q / 4, 1e-30, 0.0], dtype)])
        x = np.concatenate([x, -x])
        for mode, bits in VARIANTS:
            ctx = sr.Context(fmt, mode, bits=bits, rng=seed_of(name, dtype, bits, "sign"))
            with np.errstate(over="ignore"):
                got = ctx.round(x)
            num = ~np.isnan(got)  # e4m3 overflows to NaN
            assert (np.signbit(got[num]) == np.signbit(x[num])).all(), (name, mode, bits)
            # zero stays zero and a value rounding to zero keeps its sign
            zero = x == 0
            assert same_bits(got[zero], x[zero]).all()
        # tiny negative values become -0 or -q, never +0
        tiny = np.full(10**4, -q / 3, dtype)
        got = sr.Context(fmt, "stochastic", rng=4).round(tiny)
        assert (same_bits(got, -0.0) | (got == -q)).all()
        assert (got == -q).any() and (got == 0).any()


def test_nan_and_inf_inputs():
    nan_low = np.array([0x7f800001, 0xffc00001], np.uint32).view(np.float32)
    nan64 = np.array([0x7ff0000000000001], np.uint64).view(np.float64)
    for fmt in (sr.binary16, sr.e4m3, sr.e2m1, FORMATS["nosub"]):
        for mode, bits in VARIANTS:
            ctx = sr.Context(fmt, mode, bits=bits, rng=0)
            with np.errstate(invalid="ignore"):
                assert np.isnan(ctx.round(nan_low)).all() and np.isnan(ctx.round(nan64)).all()
                r = ctx.round(np.array([np.inf, -np.inf]))
            want = {"inf": np.inf, "nan": np.nan, "saturate": fmt.max}[fmt.overflow]
            assert same_bits(r, [want, -want]).all(), (fmt, mode, r)


# ---------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------

def test_same_seed_same_output():
    x = sample(sr.bfloat16, np.float64, 10**5, seed=8)
    for mode, bits in VARIANTS[:1] + VARIANTS[-3:]:
        a = sr.round(x, sr.bfloat16, mode, bits=bits, rng=42)
        b = sr.round(x, sr.bfloat16, mode, bits=bits, rng=42)
        c = sr.round(x, sr.bfloat16, mode, bits=bits, rng=np.random.SeedSequence(42))
        assert same_bits(a, b).all() and same_bits(a, c).all()
        d = sr.round(x, sr.bfloat16, mode, bits=bits, rng=43)
        assert not same_bits(a, d).all()
        g1 = sr.round(x, sr.bfloat16, mode, bits=bits, rng=np.random.default_rng(5))
        g2 = sr.round(x, sr.bfloat16, mode, bits=bits, rng=np.random.default_rng(5))
        assert same_bits(g1, g2).all()
        # sr.round and a Context with the same seed agree
        e = sr.Context(sr.bfloat16, mode, bits=bits, rng=42).round(x)
        assert same_bits(a, e).all()


@pytest.fixture
def restore_bufsize():
    old = np.getbufsize()
    yield
    np.setbufsize(old)


@pytest.mark.parametrize("mode, bits", [("stochastic", None), ("stochastic", 7),
                                        ("stochastic_equal", None)])
def test_independent_of_buffering(restore_bufsize, mode, bits):
    fmt = sr.e5m2
    n = 100_003
    rng = np.random.default_rng(9)
    x16 = (rng.standard_normal(n) * 100).astype(np.float16)
    xi = rng.integers(-2**20, 2**20, n).astype(np.int32)
    x64 = sample(fmt, np.float64, n, seed=10)[:n]
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = x64.astype(np.float32)
    cases = [  # (input needing a cast or a copy, the same values as the loop's dtype)
        (x16, x16.astype(np.float64)),              # float16: its own loop, float64 out
        (xi, xi.astype(np.float64)),                # int32 through the int64 loop
        (x64.astype(">f8"), x64),                   # byte-swapped input
        (x32.astype(">f4"), x32),
    ]
    for i, (xin, xloop) in enumerate(cases):
        ctx = sr.Context(fmt, mode, bits=bits, rng=seed_of(i, mode, bits))
        want = twin(ctx).round(xloop)
        for size in (16, 8192, 64 * 1024, 2**20):
            np.setbufsize(size)
            c = twin(ctx)
            got = c.round(xin)
            assert got.dtype == want.dtype
            assert same_bits(got, want).all(), (i, size, mismatch_report(xloop, got, want))
        # and bit-exact against the replay
        got, words = replay(twin(ctx), xloop)
        want2 = Split(xloop, fmt).result(mode, words, word_bits(mode, bits, xloop.dtype))
        want2 = want2.astype(xloop.dtype)
        assert same_bits(got, want2).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, bits", [("stochastic", None), ("stochastic", 5),
                                        ("stochastic_equal", None)])
def test_independent_of_chunking(dtype, mode, bits):
    fmt = sr.binary16
    x = sample(fmt, dtype, 200_000, seed=11)
    ctx = sr.Context(fmt, mode, bits=bits, rng=12)
    c1, c2 = twin(ctx), twin(ctx)
    whole = c1.round(x)
    sizes = [1, 7, 300, 1, 2, 3, 4093, 1, 65537, 13, 8191, 8193]
    pieces, start = [], 0
    for s in sizes + [x.size]:
        pieces.append(c2.round(x[start:start + s]))
        start += s
    assert start >= x.size
    assert same_bits(np.concatenate(pieces), whole).all()
    # both contexts end at the same point of the stream
    assert (c1.random_words(5) == c2.random_words(5)).all()
    # drawing words between calls skips exactly those words (for float32 data,
    # 3 half-words: the next call starts with the high half of a word)
    c3 = twin(ctx)
    words = draw(ctx, x.size + 3, dtype)
    a = c3.round(x[:1000])
    skipped = c3.random_words(3, word_dtype(dtype))
    shift = np.uint64(64 - 8 * skipped.dtype.itemsize)
    assert (skipped.astype(np.uint64) << shift == words[1000:1003]).all()
    b = c3.round(x[1000:1017])
    rest = c3.round(x[1017:])
    split = Split(x, fmt)
    w = np.concatenate([words[:1000], words[1003:]])
    want = split.result(mode, w, word_bits(mode, bits, dtype)).astype(dtype)
    assert same_bits(np.concatenate([a, b, rest]), want).all()


def test_pickle_mid_stream_continues():
    fmt = sr.bfloat16
    x = sample(fmt, np.float32, 10**4, seed=13)
    for bits in (None, 9):
        ctx = sr.Context(fmt, "stochastic", bits=bits, rng=14)
        ctx.round(x[:3])                     # leave words buffered
        ctx.random_words(5)
        ctx.round(x[:5])                     # and a 32-bit half-word waiting
        assert ctx._state()[3] >= 0
        copy = pickle.loads(pickle.dumps(ctx))
        assert same_bits(ctx.round(x), copy.round(x)).all()
        assert (ctx.random_words(11) == copy.random_words(11)).all()


def test_2d_and_strided_inputs_replay():
    """Draws follow NumPy's iteration order: C order for C-contiguous and
    positively strided inputs; for other layouts the output is still the
    replay in one consistent order (memory order or C order)."""
    fmt = sr.e4m3
    base = sample(fmt, np.float64, 12000, seed=15)[:12000]
    split = Split(base, fmt)
    ctx = sr.Context(fmt, "stochastic", rng=16)
    # C order
    for view in (base.reshape(120, 100), base.reshape(120, 100)[::2, ::3], base[::7]):
        c = twin(ctx)
        got, words = replay(c, view)
        want = Split(view, fmt).result("stochastic", words).reshape(view.shape)
        assert same_bits(got, want).all()
    # transposed / reversed: C order of the view, or memory order of the base
    for view, mem_order in ((base.reshape(120, 100).T, lambda w: w.reshape(120, 100).T),
                            (base[::-1], lambda w: w[::-1])):
        c = twin(ctx)
        got, words = replay(c, view)
        in_c_order = Split(view, fmt).result("stochastic", words).reshape(view.shape)
        in_memory = mem_order(split.result("stochastic", words))
        assert same_bits(got, in_c_order).all() or same_bits(got, in_memory).all()


def test_scalars_empty_and_out():
    fmt = sr.bfloat16
    x = sample(fmt, np.float64, 5000, seed=17)[:5000]
    ctx = sr.Context(fmt, "stochastic", bits=12, rng=18)
    copy = twin(ctx)
    words = twin(ctx).random_words(x.size)
    want = Split(x, fmt).result("stochastic", words, 12)
    # one element at a time: 0-d arrays, NumPy scalars, Python floats, and
    # empty arrays (which draw nothing) in between
    got = []
    for i, v in enumerate(x):
        arg = (v, float(v), np.array(v))[i % 3]
        got.append(ctx.round(arg))
        if i % 97 == 0:
            assert ctx.round(np.empty((0, 3))).shape == (0, 3)
    assert same_bits(np.array(got), want).all()
    # out=, contiguous and strided
    out = np.zeros(2 * x.size)
    r = copy.round(x, out=out[::2])
    assert same_bits(out[::2], want).all() and (out[1::2] == 0).all()
    assert r.base is out or r is out or np.shares_memory(r, out)
    # sr.round with a seed draws from the same stream as a Context with that seed
    one = sr.round(float(x[1]), fmt, "stochastic", bits=12, rng=18)
    first = sr.Context(fmt, "stochastic", bits=12, rng=18).round(np.array([x[1], x[0]]))
    assert same_bits(one, first[0])
