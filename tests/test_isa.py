"""Every kernel path (portable C, AVX2, AVX-512) gives the same bits as the portable
one: every mode, every preset and several custom formats, both input types, random
words included. Paths the CPU lacks are skipped."""
import numpy as np
import pytest
from conftest import formats, kernel_paths

import srround as sr
from srround import _core

FORMATS = list(sr.PRESETS.values()) + list(formats(
    "p1_e5", "p5_e3_em20_nosub", "p7_e10_nan", "p52_e1000").values())
CASES = [(f, m) for f in FORMATS for m in sr.ROUNDINGS]


PATHS = kernel_paths()


def mixed_data(dtype, n=5000, seed=0):
    """Random bit patterns (every binade, NaN, inf, subnormals) mixed with runs of
    ordinary values, so both the general and the contiguous fast loops run."""
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    else:
        bits = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    x = bits.view(dtype).copy()
    x[: n // 2] = rng.standard_normal(n // 2).astype(dtype) * 10.0 ** rng.integers(-3, 4, n // 2)
    return x


def on_path(path, ctx):
    """ctx, running kernel path `path` (a context holds its path)."""
    assert ctx._set_isa(path) is ctx and ctx._isa == path
    return ctx


@pytest.mark.parametrize("path", [p for p in PATHS if p != "scalar"] or
                         [pytest.param("none", marks=pytest.mark.skip("only the portable path"))])
@pytest.mark.parametrize("fmt,mode", CASES, ids=[f"{f.label}-{m}" for f, m in CASES])
def test_rounding_paths_agree(path, fmt, mode):
    for dtype in (np.float32, np.float64):
        if dtype == np.float32 and not fmt.fits_float32:
            continue
        x = mixed_data(dtype)
        bits = 9 if mode == "stochastic" and fmt.precision < 20 else None
        results = []
        for p in ("scalar", path):
            ctx = on_path(p, sr.Context(fmt, mode, bits=bits, rng=7))
            results.append((ctx.round(x), ctx.round(x[::-3]), ctx.random_words(5)))
        for a, b in zip(*results):
            np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@pytest.mark.parametrize("path", [p for p in PATHS if p != "scalar"] or
                         [pytest.param("none", marks=pytest.mark.skip("only the portable path"))])
def test_arithmetic_and_reductions_agree(path):
    x = mixed_data(np.float32, 3000, seed=1)
    y = mixed_data(np.float32, 3000, seed=2)
    for fmt in (sr.bfloat16, sr.binary16, sr.e4m3):
        for mode in ("nearest", "stochastic", "down"):
            outs = []
            for p in ("scalar", path):
                ctx = on_path(p, sr.Context(fmt, mode, rng=3))
                with np.errstate(all="ignore"):
                    outs.append((ctx.add(x, y), ctx.multiply(x, y), ctx.fma(x, y, x),
                                 ctx.add.reduce(y[:500]), ctx.add.accumulate(y),
                                 ctx.kahan_sum(y)))
            for a, b in zip(*outs):
                np.testing.assert_array_equal(np.asarray(a).view(np.uint32),
                                              np.asarray(b).view(np.uint32))


def test_isa_reports_a_known_path():
    assert sr.isa() in _core.ISAS
    assert "scalar" in PATHS


def test_bad_isa_name_is_rejected():
    ctx = sr.Context("bf16", rng=0)
    with pytest.raises(ValueError, match="unknown kernel path"):
        ctx._set_isa("sse9")
    assert ctx._isa == sr.isa()


def test_the_path_belongs_to_the_context():
    """No process-wide switch: a context's path leaves other contexts, new ones and
    the default alone, and its children (spawn) inherit it."""
    default = sr.isa()
    ctx = sr.Context("bf16", rng=0)._set_isa("scalar")
    assert sr.Context("bf16", rng=0)._isa == default and sr.isa() == default
    assert [c._isa for c in ctx.spawn(2)] == ["scalar", "scalar"]


def test_environment_variable_forces_a_path():
    import subprocess
    import sys
    for path in PATHS:
        out = subprocess.run([sys.executable, "-c", "import srround; print(srround.isa())"],
                             env={"SRROUND_ISA": path, "PATH": ""}, capture_output=True, text=True)
        assert out.stdout.strip() == path, out.stderr
    bad = subprocess.run([sys.executable, "-c", "import srround"], env={"SRROUND_ISA": "nope"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "SRROUND_ISA" in bad.stderr
