"""The caller's floating-point environment changes nothing: whatever rounding
direction, flush-to-zero (FTZ) or denormals-are-zero (DAZ) the calling thread has
set (fast-math code and some libraries set them), every loop gives the same bits as
in IEEE 754's default state, raises the same NumPy warnings, and leaves the
caller's state as it found it (csrc/round_common.h, sr_fpenv_enter).

The state is set through a test-only hook of the C core (srround._core.
_set_fp_state), and only around the call under test.
"""
import math

import numpy as np
import pytest
from conftest import kernel_paths

import srround as sr
from srround import _core

STATES = [("toward_zero", False, False), ("up", False, False), ("down", False, False),
          ("nearest", True, False), ("nearest", False, True), ("nearest", True, True),
          ("down", True, True)]
STATE_IDS = [f"{d}{'-ftz' if f else ''}{'-daz' if z else ''}" for d, f, z in STATES]
MODES = sr.ROUNDINGS
FORMATS = [sr.binary64, sr.binary32, sr.binary16, sr.bfloat16, sr.e4m3,
           sr.Format(5, 3, -20, subnormals=False)]


def _settable(state):
    saved = _core._fp_state()
    try:
        _core._set_fp_state(*state)
    except ValueError:
        return False
    finally:
        _core._set_fp_state(*saved[:3])
    return True


def edge_values(dtype):
    """Zeros, subnormals of both types, ties of the formats above, values near their
    max and beyond, the largest finite values, infinities and NaN, with both signs."""
    t = 2.0 ** -1074 if dtype == np.float64 else 2.0 ** -149
    big = np.finfo(dtype).max
    v = [0.0, t, 3 * t, 2.0 ** -1022, 2.0 ** -126, 2.0 ** -126 - 2.0 ** -149, 2.0 ** -24,
         3 * 2.0 ** -26, 2.0 ** -133, 1e-300, 1e-320, 2.0 ** -9, 2.0 ** -10,
         1.0, 1 + 2.0 ** -52, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8,
         1 + 2.0 ** -24, 1.5, 3.0, 448.0, 464.0, 480.0, 65504.0, 65520.0, 65536.0,
         2.0 ** 127, 3.4e38, 1e300, big, math.inf, math.nan]
    with np.errstate(over="ignore"):
        x = np.array(v, dtype=np.float64).astype(dtype)
    return np.concatenate([x, -x])


def operands(dtype, n=3, size=1500, seed=0):
    """n arrays of edge values in random combinations."""
    rng = np.random.default_rng(seed)
    x = edge_values(dtype)
    return [x[rng.integers(0, len(x), size)] for _ in range(n)]


def workload_data(dtype):
    """The inputs of workload, made beforehand: Python's and NumPy's own arithmetic
    would feel the state under test."""
    a, b, c = operands(dtype)
    x = edge_values(dtype)
    finite = x[np.isfinite(x)]
    return dict(a=a, b=b, c=c, x=x, b_rev=b[::-1].copy(), abs_a=np.abs(a[::2]),
                x_col=x[:, None], x_row=x[None, :], x_row1=x[None, 1:], finite=finite,
                nonzero=x[x != 0][::2], finite_prod=finite[1:12],
                finite_abs=np.abs(finite[:25]), finite_sparse=finite[finite != 0][::2])


def workload(ctx, d):
    """Every loop of a Context on edge data: rounding, the six operations (contiguous,
    broadcast and strided), reductions, accumulate and Kahan sums."""
    out = [ctx.round(d["x"]), ctx.round(d["a"][::3]), ctx.add(d["a"], d["b"]),
           ctx.subtract(d["a"], d["b_rev"]), ctx.multiply(d["a"], d["b"]),
           ctx.divide(d["a"], d["b"]), ctx.fma(d["a"], d["b"], d["c"]), ctx.sqrt(d["a"]),
           ctx.sqrt(d["abs_a"]), ctx.add(d["x_col"], d["x_row"]),
           ctx.multiply(d["x_col"], d["x_row"]), ctx.divide(d["x_col"], d["x_row1"]),
           ctx.add.reduce(d["finite"]), ctx.add.reduce(d["nonzero"]),
           ctx.multiply.reduce(d["finite_prod"]), ctx.add.accumulate(d["a"]),
           ctx.add.reduce(ctx.round(d["finite_abs"])),
           np.asarray(ctx.kahan_sum(d["finite"])),
           np.asarray(ctx.kahan_sum(d["finite_sparse"]))]
    return [np.asarray(r) for r in out]


def run_recorded(fn):
    """fn's result, and the NumPy floating-point warnings each ufunc call raised."""
    seen = []
    with np.errstate(all="call", call=lambda kind, flag: seen.append(kind)):
        result = fn()
    return result, sorted(set(seen))


def run_in_state(state, fn):
    """fn() with the calling thread in `state`; returns its result and the state found
    right after it, and puts the thread back into the default state."""
    saved = _core._fp_state()
    _core._set_fp_state(*state)
    try:
        result = fn()
        after = _core._fp_state()
    finally:
        _core._set_fp_state(*saved[:3])
    return result, after


def assert_same_bits(got, want, what):
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape
        gb, wb = g.view(f"u{g.itemsize}"), w.view(f"u{w.itemsize}")
        if not np.array_equal(gb, wb):
            i = np.flatnonzero((gb != wb).ravel())[0]
            raise AssertionError(f"{what}: result {k} differs from the default state's at "
                                 f"{i}: {g.ravel()[i]!r} vs {w.ravel()[i]!r}")


def check_states(fmt, dtype, modes=MODES, path=None):
    default = _core._fp_state()
    data = workload_data(dtype)
    for mode in modes:
        want, want_flags = run_recorded(lambda: workload(sr.Context(fmt, mode, rng=11), data))
        for state in STATES:
            ctx = sr.Context(fmt, mode, rng=11)._set_isa(path or sr.isa())
            (got, flags), after = run_in_state(
                state, lambda: run_recorded(lambda: workload(ctx, data)))
            what = f"{fmt.label} {mode} {np.dtype(dtype).name} in state {state}"
            assert after[:3] == state and after[3] == default[3], \
                f"{what}: the loops changed the caller's state to {after}"
            assert_same_bits(got, want, what)
            assert flags == want_flags, f"{what}: warnings {flags}, default {want_flags}"


pytestmark = pytest.mark.skipif(not all(_settable(s) for s in STATES),
                                reason="this machine cannot set FTZ/DAZ")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.label for f in FORMATS])
def test_results_and_warnings_independent_of_caller_state(fmt, dtype):
    if dtype == np.float32 and not fmt.fits_float32:
        pytest.skip("float64 only")
    check_states(fmt, dtype)


@pytest.mark.parametrize("path", _core.ISAS)
def test_every_kernel_path(path):
    if path not in kernel_paths():
        pytest.skip(f"no {path} on this CPU")
    for fmt in (sr.bfloat16, sr.binary16, sr.binary64):
        for dtype in (np.float32, np.float64)[not fmt.fits_float32:]:
            check_states(fmt, dtype, modes=("nearest", "stochastic", "up"), path=path)


def test_subnormal_sum_under_ftz_daz():
    """The case that once failed: binary64 2**-1074 + 2**-1074 is 2**-1073, not 0."""
    tiny = np.array([2.0 ** -1074])
    ctx = sr.Context(sr.binary64, "nearest")
    got, after = run_in_state(("nearest", True, True), lambda: ctx.add(tiny, tiny))
    assert got[0] == 2.0 ** -1073
    assert after[1:3] == (True, True)


def test_caller_state_is_not_left_changed_by_errors():
    """A loop that raises a NumPy error (errstate 'raise') still restores the state."""
    ctx = sr.Context(sr.binary16, "nearest")

    def overflow():
        with np.errstate(over="raise"):
            try:
                ctx.round(np.array([1e10]))
            except FloatingPointError:
                return True
        return False

    raised, after = run_in_state(("up", True, True), overflow)
    assert raised and after[:3] == ("up", True, True)
