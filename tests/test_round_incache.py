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
