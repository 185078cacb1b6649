"""The contiguous rounding loop (csrc/round_body.h, sr_round_contiguous): one
branch-free pass per chunk of 256 values, with the few values it cannot round
(NaN, inf, beyond max, below the format's smallest magnitude) redone by the general
routine. Its results must be those of the general routine, which a strided view
takes element by element: wherever the specials sit in a chunk, whether the output
overlaps the input, on every kernel path, in every mode (the stochastic ones with
twin streams, which draw the same words on both routes)."""
import numpy as np
import pytest
from conftest import kernel_paths, twin

import srround as sr

FORMATS = [sr.bfloat16, sr.binary16, sr.e4m3, sr.e5m2, sr.PRESETS["tf32"],
           sr.Format(3, 15, -14, subnormals=False), sr.Format(1, 5, -4)]
PATHS = kernel_paths()
UNSIGNED = {np.float32: np.uint32, np.float64: np.uint64}
NAN_PATTERNS = {np.float32: [0x7F800001, 0xFFFFFFFF, 0x7FC00000, 0xFF800001],
                np.float64: [0x7FF0000000000001, 0xFFFFFFFFFFFFFFFF, 0x7FF8000000000000]}


def data_with_specials(fmt, dtype, n, seed):
    """Standard-normal values, scaled so that some fall in the format's subnormal range,
    with a few specials at random places: NaNs with payloads, infinities, values
    beyond max, values below the smallest subnormal, zeros of both signs."""
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        return _data_with_specials(fmt, dtype, n, rng)


def _data_with_specials(fmt, dtype, n, rng):
    x = (rng.standard_normal(n) * fmt.max / 4).astype(dtype)
    x[rng.integers(0, n, n // 4)] *= 2.0 ** (fmt.emin - 1)   # the subnormal range
    specials = np.array([np.inf, -np.inf, fmt.max * 1.5, -fmt.max * 1.01, 0.0, -0.0,
                         2.0 ** (fmt.emin - fmt.precision - 2),
                         -(2.0 ** (fmt.emin - fmt.precision - 1))], dtype)
    nans = np.array(NAN_PATTERNS[dtype], UNSIGNED[dtype]).view(dtype)
    pool = np.concatenate([specials, nans])
    at = rng.integers(0, n, 6)
    x[at] = pool[rng.integers(0, pool.size, at.size)]
    return x


def strided_copy(x):
    """x as a view with a stride of two elements: the general, per-element routine."""
    wide = np.zeros(2 * x.size, x.dtype)
    wide[::2] = x
    return wide[::2]


def same_bits(a, b):
    u = UNSIGNED[a.dtype.type]
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(u), np.ascontiguousarray(b).view(u))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", sr.ROUNDINGS)
def test_contiguous_equals_general_routine(path, mode):
    for fmt in FORMATS:
        for dtype in (np.float32, np.float64):
            for n in (1, 17, 255, 256, 257, 1000):   # chunk boundaries
                x = data_with_specials(fmt, dtype, n, seed=n)
                # random words of every width, and of fewer bits than are discarded
                for bits in (None, 5) if mode == "stochastic" else (None,):
                    ctx = sr.Context(fmt, mode, bits=bits, rng=3)._set_isa(path)
                    other = twin(ctx)._set_isa(path)
                    with np.errstate(over="ignore"):
                        got = ctx.round(x)
                        want = other.round(strided_copy(x))
                    same_bits(got, want)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", ["nearest", "toward_zero", "stochastic"])
def test_in_place_equals_out_of_place(path, mode):
    """out=x: the loop keeps a copy of each chunk's input for the values it redoes."""
    for fmt in (sr.bfloat16, sr.e4m3, sr.binary16):
        for dtype in (np.float32, np.float64):
            x = data_with_specials(fmt, dtype, 777, seed=5)
            ctx = sr.Context(fmt, mode, rng=11)._set_isa(path)
            other = twin(ctx)._set_isa(path)
            with np.errstate(over="ignore"):
                want = other.round(x)
                y = x.copy()
                ctx.round(y, out=y)
            same_bits(y, want)


@pytest.mark.parametrize("path", PATHS)
def test_nan_payloads_survive(path):
    """A NaN keeps its bit pattern: adding a rounding increment and masking, as the fast
    loop does, would turn 0x7F800001 into inf; the loop must hand it to the general
    routine whatever else the chunk holds."""
    for dtype in (np.float32, np.float64):
        nans = np.array(NAN_PATTERNS[dtype], UNSIGNED[dtype])
        for fmt in (sr.bfloat16, sr.e4m3, sr.binary16):
            for mode in ("nearest", "up", "stochastic"):
                x = np.linspace(-3, 3, 300).astype(dtype)
                x[[0, 100, 255, 299][: nans.size]] = nans[:4].view(dtype)
                y = sr.Context(fmt, mode, rng=1)._set_isa(path).round(x)
                got = y.view(UNSIGNED[dtype])[[0, 100, 255, 299][: nans.size]]
                np.testing.assert_array_equal(got, nans[:4])


# Formats with a subnormal range (which the per-lane loop rounds down to the gap and,
# in every mode but stochastic, below it), and some without.
BELOW_GAP_FORMATS = [sr.e4m3, sr.e5m2, sr.PRESETS["e3m2"], sr.PRESETS["e2m3"],
                     sr.PRESETS["e2m1"], sr.binary16, sr.PRESETS["e4m3fnuz"],
                     sr.PRESETS["binary8p1"], sr.Format(5, 10, -9),
                     sr.Format(4, 8, -6, subnormals=False),
                     # one discarded bit; a top binade so high that the loop's nearest
                     # cannot use the hardware's addition (2^(emax + shift) overflows)
                     sr.Format(23, 20, -100), sr.Format(8, 127, -100)]


def near_and_below_gap(fmt, dtype, n, seed):
    """Values concentrated in the format's subnormal range and below its smallest
    magnitude (the gap): the multiples of gap / 2 up to 2^emin (ties at the odd ones,
    gap / 2 the tie between 0 and the gap), their neighbours in dtype, values spread
    log-uniformly from far below the gap to above 2^emin, the input type's own
    subnormals, and zeros; random signs."""
    rng = np.random.default_rng(seed)
    gap = fmt.smallest_subnormal if fmt.subnormals else 2.0 ** fmt.emin
    count = int(2 * 2.0 ** fmt.emin / gap) + 1   # (the first and last few hundred)
    steps = np.unique(np.concatenate([np.arange(min(count, 400)),
                                      np.arange(max(count - 200, 0), count)]))
    halves = (gap / 2 * steps).astype(dtype)
    neighbours = np.concatenate([np.nextafter(halves, dtype(0)),
                                 np.nextafter(halves, dtype(np.inf))])
    spread = (gap * 2.0 ** rng.uniform(-40, np.log2(4 * 2.0 ** fmt.emin / gap), n)).astype(dtype)
    under = (gap * rng.uniform(0, 1, n)).astype(dtype)
    own = np.finfo(dtype).smallest_subnormal * rng.integers(1, 1000, 8).astype(dtype)
    x = np.concatenate([halves, neighbours, spread, under, own, np.zeros(4, dtype)])
    x = rng.permutation(x)
    return np.where(rng.integers(0, 2, x.size) == 1, -x, x).astype(dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", sr.ROUNDINGS)
def test_subnormal_and_below_gap_equal_general_routine(path, mode):
    """The loop's rounding of values in the subnormal range and below the gap (to 0 or
    the gap, signed zero kept, ties to the even 0), whole chunks of them, equals the
    general routine's."""
    for fmt in BELOW_GAP_FORMATS:
        for dtype in (np.float32, np.float64):
            x = near_and_below_gap(fmt, dtype, 600, seed=len(fmt.name or "") + 7)
            for bits in (None, 5, 30) if mode == "stochastic" else (None,):
                ctx = sr.Context(fmt, mode, bits=bits, rng=9)._set_isa(path)
                other, in_place = twin(ctx)._set_isa(path), twin(ctx)._set_isa(path)
                got = ctx.round(x)
                want = other.round(strided_copy(x))
                same_bits(got, want)
                y = x.copy()   # in place: the chunks keep a copy of their input
                in_place.round(y, out=y)
                same_bits(y, want)


@pytest.mark.parametrize("path", PATHS)
def test_below_gap_ties_and_signs(path):
    """The exact answers at gap / 2 and around it, from the definition: nearest sends the
    tie to 0 (even) and anything above it to the gap; nearest_away sends the tie to the
    gap; toward_zero gives zero; up and down round outward for their sign only; odd
    gives the gap for any nonzero value. Zeros keep their sign."""
    for fmt in (sr.e4m3, sr.e5m2, sr.PRESETS["e2m1"], sr.binary16):
        gap = fmt.smallest_subnormal
        for dtype in (np.float32, np.float64):
            half = dtype(gap / 2)
            above = np.nextafter(half, dtype(1))
            below = np.nextafter(half, dtype(0))
            x = np.tile(np.array([half, above, below, -half, -above, 0.0, -0.0], dtype), 40)
            expect = {
                "nearest": [0, gap, 0, -0.0, -gap, 0, -0.0],
                "nearest_away": [gap, gap, 0, -gap, -gap, 0, -0.0],
                "toward_zero": [0, 0, 0, -0.0, -0.0, 0, -0.0],
                "up": [gap, gap, gap, -0.0, -0.0, 0, -0.0],
                "down": [0, 0, 0, -gap, -gap, 0, -0.0],
                "odd": [gap, gap, gap, -gap, -gap, 0, -0.0],
            }
            for mode, want in expect.items():
                got = sr.Context(fmt, mode)._set_isa(path).round(x)
                same_bits(got, np.tile(np.array(want, dtype), 40))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", ["nearest", "up", "stochastic", "stochastic_equal"])
def test_long_calls_with_late_specials(path, mode):
    """Calls of many chunks of 256 (the stochastic kernels take them all in one call,
    their generator's state kept between chunks), with the specials only in some
    chunks: at their first and last values, and none at all in others."""
    for fmt in (sr.e4m3, sr.bfloat16, sr.PRESETS["e2m1"]):
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(1)
            x = (rng.standard_normal(9000) * 2.0 ** (fmt.emin + 2)).astype(dtype)
            x[np.abs(x) < 2.0 ** fmt.emin] = dtype(1.5 * 2.0 ** fmt.emin)
            nans = np.array(NAN_PATTERNS[dtype], UNSIGNED[dtype]).view(dtype)
            for at, value in ((2047, nans[0]), (2048, np.inf), (4095, fmt.max * 3),
                              (6200, fmt.smallest_subnormal / 3), (8999, -0.0),
                              (8998, nans[-1])):
                with np.errstate(over="ignore"):
                    x[at] = value
            ctx = sr.Context(fmt, mode, rng=4)._set_isa(path)
            other = twin(ctx)._set_isa(path)
            with np.errstate(over="ignore"):
                got = ctx.round(x)
                want = other.round(strided_copy(x))
            same_bits(got, want)


# Formats for the stochastic per-lane loop of float32 data (csrc/round_body.h,
# sr_round_lanes_inline): its exponents from the gap to max fit the 32-entry shift
# table (e4m3, e5m2 just), or not (binary16: the clamp); the gap's scale 2^(r - gap_exp)
# is a float32 power of two >= 1 (values below the gap patched in vectors), or not
# (gap_exp above r: emin 40; or below -95: emin -100), which the general routine patches.
LANES_SR_FORMATS = [sr.e4m3, sr.e5m2, sr.PRESETS["e2m1"], sr.binary16,
                    sr.Format(3, 60, 40), sr.Format(3, 60, 20), sr.Format(8, 127, -100)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("bits", [None, 23, 24, 31])
def test_stochastic_lanes_chunks_equal_general_routine(path, bits):
    """Stochastic rounding of float32 data over many chunks of 256, each holding only
    values the loop rounds, or also values below the gap (redone in vectors), or also
    NaN, inf or beyond max (redone by the general routine), or both; in place and
    not: the same bits as the general routine with the same words."""
    for fmt in LANES_SR_FORMATS:
        gap = fmt.smallest_subnormal
        rng = np.random.default_rng(len(fmt.name or "") + (bits or 0))
        x = (rng.standard_normal(256 * 12) * 2.0 ** (fmt.emin + 1)).astype(np.float32)
        x[np.abs(x) < gap] = np.float32(gap)
        below = (gap * rng.uniform(-1, 1, 40) * 2.0 ** -rng.integers(0, 40, 40)).astype(np.float32)
        x[256 * 1 + rng.integers(0, 256, 20)] = below[:20]      # below the gap only
        x[256 * 3 + 255] = below[20]                             # at a chunk's end
        x[256 * 5 + rng.integers(0, 256, 19)] = below[21:]      # and an inf, a NaN
        x[256 * 5 + 7], x[256 * 5 + 100] = np.inf, np.nan
        x[256 * 8 + 3] = fmt.max * 2                             # beyond max only
        x[256 * 10 + rng.integers(0, 256, 30)] = 0.0             # zeros of both signs
        x[256 * 10 + rng.integers(0, 256, 30)] = -0.0
        x[256 * 11 + rng.integers(0, 256, 5)] = np.finfo(np.float32).smallest_subnormal
        ctx = sr.Context(fmt, "stochastic", bits=bits, rng=21)._set_isa(path)
        other, in_place = twin(ctx)._set_isa(path), twin(ctx)._set_isa(path)
        with np.errstate(over="ignore"):
            got = ctx.round(x)
            want = other.round(strided_copy(x))
            y = x.copy()
            in_place.round(y, out=y)
        same_bits(got, want)
        same_bits(y, want)
