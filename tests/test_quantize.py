"""Quantizers (srround/quantize.py) and the quantization experiments.

Reference versions here are obviously right and slow-ish (Fraction / plain loops over
small arrays); statistical tests use explicit 5-sigma bounds.
"""
import math
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround import quantize as q

ALL_MODES = sr.ROUNDINGS


def _ref_round_int(v, mode):
    """Deterministic rounding of one float to an integer, with Fractions."""
    f = Fraction(v)
    lo = math.floor(f)
    hi = lo + 1
    if f == lo:
        return lo
    d = f - lo
    if mode == "nearest":
        return lo if d < Fraction(1, 2) or (d == Fraction(1, 2) and lo % 2 == 0) else hi
    if mode == "nearest_away":
        if d == Fraction(1, 2):
            return hi if f > 0 else lo
        return lo if d < Fraction(1, 2) else hi
    if mode == "toward_zero":
        return lo if f > 0 else hi
    if mode == "up":
        return hi
    if mode == "down":
        return lo
    if mode == "odd":
        return lo if lo % 2 else hi
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["nearest", "nearest_away", "toward_zero", "up", "down", "odd"])
def test_integer_rounding_matches_reference(mode):
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.uniform(-300, 300, 400), np.arange(-8, 8.5, 0.5),
                        [0.0, -0.0, 2 ** -40, -2 ** -40, 1000.5 - 2 ** -30, 65535.5]])
    got = q.round_to_integer(v, mode)
    want = [_ref_round_int(float(t), mode) for t in v]
    assert got.tolist() == want


def test_stochastic_integer_rounding_probability():
    """P(up) = fractional part, within 5 sigma, for a fraction far below 2**-8."""
    n = 200_000
    for v in (2.3, -7.75, 1000 + 2 ** -10):
        frac = v - math.floor(v)
        got = q.round_to_integer(np.full(n, v), "stochastic", rng=3)
        p = np.mean(got == math.floor(v) + 1)
        assert set(np.unique(got)) <= {math.floor(v), math.floor(v) + 1}
        assert abs(p - frac) <= 5 * math.sqrt(frac * (1 - frac) / n)


# ---------------------------------------------------------------- uniform

@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
@pytest.mark.parametrize("mode", ["nearest", "stochastic", "toward_zero", "up", "down"])
def test_uniform_roundtrip_exact_on_representable_data(bits, mode):
    rng = np.random.default_rng(bits)
    top = 2 ** (bits - 1) - 1
    codes = rng.integers(-top, top + 1, size=(7, 9))
    codes[0, 0] = top                         # the calibration max is hit exactly
    x = codes * 2.0 ** -5                     # power-of-two scale: every step exact
    t = q.uniform(x, bits=bits, rounding=mode, rng=0)
    assert np.array_equal(t.codes, codes)
    assert np.array_equal(t.dequantize(), x)
    assert t.scale == 2.0 ** -5 and np.all(t.zero_point == 0)


@pytest.mark.parametrize("signed,symmetric", [(True, False), (False, False), (False, True)])
def test_uniform_requantize_is_identity(signed, symmetric):
    x = np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32)
    t = q.uniform(x, bits=8, signed=signed, symmetric=symmetric, axis=1)
    again = q.uniform(t.dequantize(), bits=8, signed=signed, symmetric=symmetric, axis=1,
                      scale=t.scale, zero_point=t.zero_point)
    assert np.array_equal(again.codes, t.codes)
    assert t.dequantize().dtype == np.float32
    lo, hi = (-128, 127) if signed else (0, 255)
    assert t.codes.min() >= lo and t.codes.max() <= hi
    # 0 is exact
    z = q.uniform(np.array([0.0, -1.3, 2.9]), bits=8, signed=signed, symmetric=symmetric)
    assert z.dequantize()[0] == 0.0


def test_symmetric_scale_convention():
    x = np.array([-3.0, 1.0, 2.0, 0.5])
    t = q.uniform(x, bits=8)
    assert t.scale == 3.0 / 127 and t.codes.dtype == np.int8
    assert t.codes.tolist() == [-127, round(127 / 3), round(254 / 3), round(127 / 6)]
    tu = q.uniform(x, bits=8, signed=False)
    assert tu.codes.dtype == np.uint8 and tu.zero_point == 128
    assert t.nbytes == 4 + 4 and q.uniform(np.ones(10) * np.arange(10), bits=16).codes.dtype \
        == np.int16


def test_uniform_matches_reference_rn():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(300)
    t = q.uniform(x, bits=6, symmetric=False, signed=False)
    s, zp = float(t.scale), int(t.zero_point)
    want = [min(max(_ref_round_int(float(v) / s + zp, "nearest"), 0), 63) for v in x]
    assert t.codes.tolist() == want


def test_sr_uniform_unbiased():
    """Mean of the dequantized values over many SR draws -> x, within 5 sigma per
    element (variance f(1-f) scale**2 per draw)."""
    x = np.random.default_rng(5).uniform(-1, 1, 50)
    x[0] = 1.0
    runs = 4000
    t = q.uniform(np.broadcast_to(x, (runs, x.size)), bits=4, rounding="stochastic",
                  rng=11, axis=None)
    y = t.dequantize()
    s = float(t.scale)
    f = x / s - np.floor(x / s)
    sigma = s * np.sqrt(f * (1 - f) / runs) + 1e-15
    assert np.all(np.abs(y.mean(axis=0) - x) <= 5 * sigma + 1e-12)
    # RN, by contrast, is biased on this data
    rn = q.uniform(x, bits=4).dequantize()
    assert np.max(np.abs(rn - x)) > 0.3 * s


def test_per_channel_beats_per_tensor():
    rng = np.random.default_rng(6)
    ranges = np.logspace(-2, 1, 16)
    w = rng.standard_normal((64, 16)) * ranges          # channel j along axis 1
    per_tensor = q.mse(w, q.uniform(w, bits=8))
    per_channel = q.mse(w, q.uniform(w, bits=8, axis=1))
    assert per_channel < 0.5 * per_tensor
    assert q.uniform(w, bits=8, axis=1).scale.shape == (1, 16)
    assert q.uniform(w, bits=8, axis=-1).axis == 1


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("size", [1, 7, 64])
def test_packed_roundtrip(bits, signed, size):
    rng = np.random.default_rng(bits * 100 + size)
    x = rng.standard_normal(size) + (0 if signed else 3)
    x[0] = 5.0 if size > 1 else x[0]
    t = q.uniform(x, bits=bits, signed=signed, symmetric=False) if size > 1 else \
        q.uniform(x, bits=bits, signed=signed, scale=0.5)
    assert t.packed and t.data.dtype == np.uint8 and t.data.size == (size + 1) // 2
    unpacked = t.codes
    assert unpacked.shape == x.shape
    # all codes survive packing: compare with an unpacked reference (bits=8 path)
    half = 2 ** (bits - 1)
    lo, hi = (-half, half - 1) if signed else (0, 2 * half - 1)
    assert unpacked.min() >= lo and unpacked.max() <= hi
    every = np.arange(lo, hi + 1)
    assert np.array_equal(q._unpack_nibbles(q._pack_nibbles(every), every.size, signed), every)


def test_nbytes_and_compression():
    w = np.random.default_rng(7).standard_normal((128, 64)).astype(np.float32)
    t8, t4 = q.uniform(w, bits=8), q.uniform(w, bits=4)
    assert t8.nbytes == w.size + 4 and t4.nbytes == w.size // 2 + 4
    assert abs(q.compression_ratio(w, t8) - 4) < 0.01
    assert q.nbytes(w) == 4 * w.size


# ---------------------------------------------------------------- fixed point

def test_fixed_point_grid_and_saturation():
    x = np.array([-5.0, -2.0, -0.3, 0.0, 0.007, 1.99, 3.0])
    t = q.fixed(x, 1, 6)                                     # Q1.6: 8-bit words
    y = t.dequantize()
    assert t.bits == 8 and t.codes.dtype == np.int8
    assert y[0] == -2.0 and y[-1] == 2 - 2 ** -6 and y[1] == -2.0
    assert np.all(np.ldexp(y, 6) == np.round(np.ldexp(y, 6)))
    assert y[2] == -19 / 64 and y[4] == 0.0
    u = q.fixed(x, 2, 2, signed=False).dequantize()
    assert u[0] == 0 and u[-1] == 3.0 and u[-2] == 2.0


@pytest.mark.parametrize("mode", ["nearest", "toward_zero", "up", "down", "nearest_away",
                                  "odd"])
def test_fixed_modes_match_reference(mode):
    x = np.random.default_rng(8).uniform(-4, 4, 300)
    y = q.fixed(x, 3, 5, rounding=mode).dequantize()
    want = [min(max(_ref_round_int(v * 32, mode), -256), 255) / 32 for v in x]
    assert y.tolist() == want


def test_fixed_sr_unbiased():
    n = 100_000
    x = 0.1 + 2 ** -9
    y = q.fixed(np.full(n, x), 0, 4, rounding="stochastic", rng=9).dequantize()
    f = x * 16 - math.floor(x * 16)
    assert abs(y.mean() - x) <= 5 * math.sqrt(f * (1 - f) / n) / 16


# ---------------------------------------------------------------- levels

def test_levels_nearest_and_ties():
    lv = np.array([-1.0, 0.0, 0.5, 2.0])
    x = np.array([-3, -0.6, -0.5, 0.2, 0.25, 1.0, 1.25, 1.3, 9])
    y = q.levels(x, lv).dequantize()
    # -0.5: tie between index 0 and 1 -> even index 0; 0.25: tie 1/2 -> even 2;
    # 1.25: tie 2/3 -> index 2
    assert y.tolist() == [-1, -1, -1, 0, 0.5, 0.5, 0.5, 2.0, 2.0]
    assert q.levels(x, lv, "up").dequantize().tolist() == [-1, 0, 0, 0.5, 0.5, 2, 2, 2, 2]
    assert q.levels(x, lv, "down").dequantize().tolist() == [-1, -1, -1, 0, 0, 0.5, 0.5,
                                                             0.5, 2]
    assert q.levels(x, lv, "toward_zero").dequantize().tolist() == [-1, 0, 0, 0, 0, 0.5,
                                                                    0.5, 0.5, 2]


def test_levels_sr_unbiased_and_neighbours():
    lv = q.log2_levels(6)
    x = np.array([0.3, -0.7, 0.01, 0.0625, 0.9])
    runs = 20_000
    t = q.levels(np.broadcast_to(x, (runs, x.size)), lv, "stochastic", rng=12)
    y = t.dequantize()
    i = np.searchsorted(lv, x, side="right") - 1
    lo, hi = lv[i], lv[np.minimum(i + 1, lv.size - 1)]
    assert np.all((y == lo) | (y == hi))
    f = np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1), 0)
    sigma = (hi - lo) * np.sqrt(f * (1 - f) / runs)
    assert np.all(np.abs(y.mean(axis=0) - x) <= 5 * sigma + 1e-15)
    assert np.all(y[:, 3] == 0.0625)                  # levels are kept exactly


def test_level_builders():
    assert q.log2_levels(3).tolist() == [-1, -0.5, -0.25, 0, 0.25, 0.5, 1]
    assert q.log2_levels(2, top=4, signed=False).tolist() == [0, 2, 4]
    x = np.random.default_rng(13).standard_normal(20_000)
    qt = q.quantile_levels(x, 16)
    assert qt.size == 16 and np.all(np.diff(qt) > 0)
    counts = np.bincount(q.levels(x, qt).indices.ravel(), minlength=16)
    assert counts.min() > 0.5 * x.size / 16          # roughly equally used
    lm = q.lloyd_max_levels(x, 16)
    assert np.all(np.diff(lm) > 0)
    assert q.mse(x, q.levels(x, lm)) < q.mse(x, q.levels(x, qt))
    # Lloyd-Max for N(0,1) with 4 levels: +-0.4528, +-1.510 (Max 1960)
    lm4 = q.lloyd_max_levels(x, 4, iterations=200)
    assert np.allclose(lm4, [-1.510, -0.4528, 0.4528, 1.510], atol=0.05)


# ---------------------------------------------------------------- MX

def test_mx_scale_and_roundtrip():
    rng = np.random.default_rng(14)
    e = rng.choice(np.array([0.5, 1, 1.5, 2, 3, 4, 6, -0.5, -6, 0]), size=(4, 64))
    exps = np.repeat(rng.integers(-20, 20, size=(4, 2)), 32, axis=1)
    e[:, 0] = 6.0
    e[:, 32] = -6.0
    x = np.ldexp(e, exps)                     # representable in MXFP4 blocks
    m = q.mx(x, "mxfp4")
    assert np.array_equal(m.dequantize(), x)
    assert m.exponents.shape == (4, 2) and np.array_equal(m.exponents, exps[:, ::32])
    assert m.nbytes == 4 * 64 // 2 + 8
    m2 = q.mx(x.T, "mxfp4", axis=0, rounding="stochastic", rng=1)
    assert np.array_equal(m2.dequantize(), x.T)


@pytest.mark.parametrize("fmt", list(q.MX_FORMATS))
def test_mx_formats(fmt):
    x = np.random.default_rng(15).standard_normal((8, 64)) * np.logspace(-3, 3, 8)[:, None]
    m = q.mx(x, fmt)
    elem = q.MX_FORMATS[fmt][0]
    scale = np.ldexp(1.0, np.repeat(m.exponents.astype(int), 32, axis=1))
    el = x / scale
    amax = np.max(np.abs(el.reshape(8, 2, 32)), axis=-1)
    emax = q.MX_FORMATS[fmt][2]
    assert np.all((amax >= 2.0 ** emax) & (amax < 2.0 ** (emax + 1)))
    if elem != "int8":
        f = sr.format(elem)
        assert np.all(np.abs(m.elements) <= f.max)
        assert np.array_equal(sr.round(m.elements, f), m.elements)
    else:
        assert np.all(np.abs(np.ldexp(m.elements, 6)) <= 127)
    assert q.sqnr_db(x, m) > {"mxfp4": 12, "mxint8": 35}.get(fmt, 20)


def test_mx_sr_unbiased():
    runs = 4000
    x = np.random.default_rng(16).uniform(-1, 1, 32)
    x[0] = 1.0
    y = q.mx(np.broadcast_to(x, (runs, 32)), "mxfp4", rounding="stochastic",
             rng=2).dequantize()
    spread = y.max(axis=0) - y.min(axis=0)             # the gap between neighbours
    f = np.where(spread > 0, (x - y.min(axis=0)) / np.where(spread > 0, spread, 1), 0)
    sigma = spread * np.sqrt(f * (1 - f) / runs)
    assert np.all(np.abs(y.mean(axis=0) - x) <= 5 * sigma + 1e-15)


# ---------------------------------------------------------------- metrics

def test_metrics():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 2.5, 3.0, 3.0])
    assert q.mse(x, y) == (0.25 + 1) / 4
    assert q.max_error(x, y) == 1.0
    assert q.bias(x, y) == -0.5 / 4
    assert q.sqnr_db(x, y) == pytest.approx(10 * math.log10(30 / 1.25))
    assert q.sqnr_db(x, x) == math.inf


# ---------------------------------------------------------------- errors

def test_bad_input():
    x = np.random.default_rng(17).standard_normal((4, 64))
    for bits in (0, 1, 17, 32):
        with pytest.raises(ValueError, match="bits"):
            q.uniform(x, bits=bits)
    with pytest.raises(TypeError):
        q.uniform(x, bits=8.0)
    with pytest.raises(ValueError, match="empty"):
        q.uniform(np.array([]))
    # constant and all-zero data calibrate (tests/test_hardening.py)
    bad = x.copy()
    bad[1, 3] = np.nan
    for fn in (q.uniform, lambda a: q.fixed(a, 1, 6), lambda a: q.mx(a, "mxfp4"),
               lambda a: q.levels(a, [0, 1]), lambda a: q.quantile_levels(a, 4)):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad)
    with pytest.raises(TypeError):
        q.uniform(x + 1j)
    with pytest.raises(TypeError):
        q.uniform(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="calibration"):
        q.uniform(x, calibration="mse")
    with pytest.raises(ValueError, match="percentile"):
        q.uniform(x, calibration="percentile", percentile=120)
    with pytest.raises(ValueError, match="rounding"):
        q.uniform(x, rounding="banker")
    with pytest.raises(ValueError, match="axis"):
        q.uniform(x, axis=2)
    for lv in ([0, 0, 1], [1, 0], [0], [[0, 1], [2, 3]], [0, np.nan]):
        with pytest.raises(ValueError, match="levels"):
            q.levels(x, lv)
    with pytest.raises(ValueError, match="rounding"):
        q.levels(x, [0, 1], "odd")
    with pytest.raises(ValueError, match="divide"):
        q.mx(x, "mxfp8", block=48)
    with pytest.raises(ValueError, match="divide"):
        q.mx(x, "mxfp8", axis=0)
    with pytest.raises(ValueError, match="MX format"):
        q.mx(x, "mxfp3")
    with pytest.raises(ValueError, match="word length"):
        q.fixed(x, 20, 20)
    with pytest.raises(ValueError, match="constant"):
        q.quantile_levels(np.ones(10), 4)


# ---------------------------------------------------------------- the examples

def test_signal_experiment_claims():
    """RN: a dead zone (A = 0.3 steps gives all zeros) and harmonics; SR: unbiased
    (gain 1 within 5 sigma), far lower THD, and better after low-pass / averaging."""
    from srround.experiments import run
    res = run("signal", n=4096, runs=10)
    r = res.data["results"]
    assert r["A=0.3 RN"]["output_levels"] == [0.0] and r["A=0.3 RN"]["gain"] == 0
    for A in (0.3, 0.7, 1.5, 3.0):
        rn, st = r[f"A={A} RN"], r[f"A={A} SR"]
        assert abs(st["gain"] - 1) <= 5 * st["gain_std"] / math.sqrt(st["runs"])
        assert st["lowpass_snr_db"] > rn["lowpass_snr_db"] + 5
        assert st["averaged_snr_db"] > st["lowpass_snr_db"] + 5
        if A > 0.5:
            assert st["thd_db"] < rn["thd_db"] - 10
    assert abs(r["A=0.7 RN"]["gain"] - 1) > 0.2 and abs(r["A=1.5 RN"]["gain"] - 1) > 0.1


def test_lowprec_training_claims():
    """Gupta et al. 2015: RN-updated bfloat16 weights learn much less than float32, the
    8-bit fixed-point ones not at all; SR gets close to float32 in both."""
    pytest.importorskip("sklearn")
    from srround.experiments import run
    res = run("lowprec_training", n=12, runs=1)
    final = res.data["final"]
    curves = res.data["curves"]
    f32 = final["float32"]
    assert f32 > 0.7
    assert final["bfloat16 RN"] < f32 - 0.1
    assert final["fixed Q1.6 RN"] < 0.2
    assert len(set(curves["fixed Q1.6 RN"]["mean"])) == 1     # never moves
    assert final["bfloat16 SR"] > f32 - 0.03
    assert final["fixed Q1.6 SR"] > f32 - 0.06


def test_compress_claims():
    pytest.importorskip("sklearn")
    from srround.experiments import run
    res = run("compress", runs=2)
    r = res.data["results"]
    base = r["float32"]
    assert base["accuracy"] > 0.93
    assert abs(r["int8 per-tensor"]["bytes"] / base["bytes"] - 0.25) < 0.005   # -75%
    for label in ("int8 per-tensor", "int8 per-channel", "e4m3 (cast)", "MXFP8"):
        assert abs(r[label]["accuracy"] - base["accuracy"]) <= 0.01
        assert r[label]["bytes"] < 0.27 * base["bytes"]
    for label in ("int4 per-tensor", "int4 per-channel", "MXFP4"):
        assert abs(r[label]["accuracy"] - base["accuracy"]) <= 0.03
        assert r[label]["bytes"] < 0.15 * base["bytes"]
    assert r["int8 per-channel"]["sqnr_db"] > r["int8 per-tensor"]["sqnr_db"]


def test_examples_skip_without_sklearn(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    from srround.experiments import run
    for name in ("compress", "lowprec_training"):
        res = run(name, n=1, runs=1)
        assert res.rows == [] and "skipped" in res.notes[0] and res.plot is None
