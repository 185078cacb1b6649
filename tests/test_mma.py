"""srround.hardware's matrix-unit models against the exact references of
tests/mma_reference.py (fractions.Fraction, written from MMA-Sim's description),
hand-checked cases, the GEMM path against the scalar path on every kernel path,
promotion and the accumulator what-if, and argument checking. The comparison with
MMA-Sim itself is tests/test_mma_vs_mmasim.py."""
import os
import pickle
import sys
from fractions import Fraction

import numpy as np
import pytest

import srround as sr
from srround import _core
from srround import hardware as hw
from srround.hardware import mma as hw_mma
from srround.hardware import study

sys.path.insert(0, os.path.dirname(__file__))
from conftest import kernel_paths  # noqa: E402
from mma_reference import STRATEGIES, hard_inputs, reference_dot  # noqa: E402

# one instruction per kind of step, output rounding and kind of operand types
FAMILIES = [
    hw.MMA("Volta", "m8n8k4.f32.f16.f16.f16"),
    hw.MMA("Turing", "m16n8k8.f16.f16.f16.f16"),
    hw.MMA("Ampere", "m16n8k16.f32.bf16.bf16.f32"),
    hw.MMA("Ampere", "m16n8k8.f32.tf32.tf32.f32"),
    hw.MMA("Ada Lovelace", "m16n8k32.f32.e4m3.e5m2.f32"),
    hw.MMA("Ada Lovelace", "m16n8k16.f16.e5m2.e4m3.f16"),
    hw.MMA("Hopper", "m16n8k16.f16.f16.f16.f16"),
    hw.MMA("Hopper", "m16n8k8.f64.f64.f64.f64"),
    hw.MMA("RTX Blackwell", "m16n8k32.kind::f8f6f4.f32.e2m1.e3m2.f32"),
    hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3"),
    hw.WGMMA("Hopper", "m64n16k16.f32.bf16.bf16"),
    hw.TCGen05MMA("Blackwell", "m64n8k32.kind::f8f6f4.f16.e2m3.e5m2"),
    hw.MMABlockScale("RTX Blackwell", "m16n8k32.kind::mxf8f6f4.block32.f32.e4m3.e2m1.f32.ue8m0"),
    hw.MMABlockScale("RTX Blackwell", "m16n8k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.f32.ue4m3"),
    hw.TCGen05MMABlockScale("Blackwell", "m128n8k64.kind::mxf4.block32.f32.e2m1.e2m1.ue8m0"),
    hw.MFMA("CDNA1", "f32_32x32x8f16"),
    hw.MFMA("CDNA1", "f32_16x16x8bf16"),
    hw.MFMA("CDNA2", "f32_32x32x4bf16"),
    hw.MFMA("CDNA2", "f32_16x16x16bf16_1k"),
    hw.MFMA("CDNA2", "f64_16x16x4f64"),
    hw.MFMA("CDNA3", "f32_32x32x8_f16"),
    hw.MFMA("CDNA3", "f32_16x16x8_xf32"),
    hw.MFMA("CDNA3", "f32_16x16x32_fp8_bf8"),
    hw.MFMA("CDNA3", "f32_16x16x4_f32"),
]
IDS = [f"{op.arch}-{op._name}" for op in FAMILIES]
IEEE_KINDS = ("fma_chain", "ftz_mul_add", "fdpa_exact")   # NaN payloads: the host's


def same(got, want, op):
    """Bitwise equality; NaN results are NaN (canonical for the fused kinds)."""
    got, want = np.asarray(got), np.asarray(want).astype(got.dtype)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[got.dtype.itemsize]
    equal = got.view(uint) == want.view(uint)
    nan = np.isnan(got) & np.isnan(want)
    if op.arithmetic.kind not in IEEE_KINDS and got.dtype != np.float64:
        canonical = 0x7FFF if got.dtype == np.float16 else 0x7FFFFFFF
        nan &= got.view(uint) == canonical
    return equal | nan


def check_against_reference(op, count, seed):
    rng = np.random.default_rng(seed)
    args = hard_inputs(op, count, rng)
    got = op.dot(*args)
    want = [reference_dot(op, *(x[i].tolist() for x in args)) for i in range(count)]
    ok = same(got, want, op)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        pytest.fail(f"{op!r}: {(~ok).sum()} of {count} differ from the exact reference; "
                    f"first: row {i} ({STRATEGIES[i % len(STRATEGIES)]}) a={args[0][i].tolist()} "
                    f"b={args[1][i].tolist()} c={args[2][i]!r}: got {got[i]!r}, want {want[i]!r}")


@pytest.mark.parametrize("op", FAMILIES, ids=IDS)
def test_matches_exact_reference(op):
    check_against_reference(op, 8 * 30, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("op", FAMILIES, ids=IDS)
def test_matches_exact_reference_many(op):
    check_against_reference(op, 8 * 500, seed=2)


# ---- hand-checked cases through the public API

def test_hopper_bf16_keeps_25_bits_and_truncates():
    op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    a = np.zeros((1, 16))
    a[0, :3] = [1, 2.0**-24, 2.0**-24]
    b = np.ones((16, 1))
    assert op(a, b, np.zeros((1, 1)))[0, 0] == 1 + 2.0**-23   # both 2^-24 kept
    volta = hw.MMA("Volta", "m8n8k4.f32.f16.f16.f32")
    assert volta(a[:, :4], b[:4], np.zeros((1, 1)))[0, 0] == 1.0  # F = 23 drops them
    a[0, 2] = 0   # 1 + 2^-24 rounds toward zero
    assert op(a, b, np.zeros((1, 1)))[0, 0] == 1.0


def test_fp16_output_ties_to_even():
    op = hw.MMA("Ampere", "m16n8k16.f16.f16.f16.f16")
    a = np.zeros((2, 16))
    a[0, 0], a[1, 0] = 2.0**-11, 3 * 2.0**-11
    d = op(a, np.ones((16, 1)), np.ones((2, 1)))
    assert d.dtype == np.float16
    assert d[0, 0] == 1.0 and d[1, 0] == 1 + 2.0**-9


def test_hopper_fp8_e8m13_result():
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    a = np.zeros((1, 32))
    a[0, 0] = 1.0
    b = np.zeros((32, 1))
    b[0, 0] = 1.0
    # C = 2^-13 + 2^-14: F = 13 bits below 2^0 keep 2^-13 and drop 2^-14 ...
    d = op(a, b, np.array([[2.0**-13 + 2.0**-14]]))
    assert d.dtype == np.float32 and d[0, 0] == 1 + 2.0**-13
    # ... and the e8m13 result has 14 significant bits: at 2, 2^-12 is the last
    d = op(a, b, np.array([[1 + 2.0**-12 + 2.0**-13]]))
    assert d[0, 0] == 2 + 2.0**-12
    assert op.arithmetic == hw.Arithmetic("fdpa_truncated", 32, "rz_e8m13", F=13, e_zero=-133)


def test_zero_terms_align_at_e_zero():
    op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    a = np.zeros((1, 16))
    a[0, 0] = 2.0**-80
    b = np.full((16, 1), 2.0**-80)
    d = op(a, b, np.zeros((1, 1)))   # e_zero = -133: 2^-160 < 2^(-133 - 25)
    assert d[0, 0] == 0 and not np.signbit(d[0, 0])
    assert op(a, b, np.full((1, 1), 2.0**-149))[0, 0] == 2.0**-149


def test_tf32_reads_19_bits_of_float32():
    op = hw.MMA("Ampere", "m16n8k8.f32.tf32.tf32.f32")
    a = np.zeros((1, 8), np.float32)
    a[0, 0] = np.float32(1 + 2.0**-10 + 2.0**-11)   # 2^-11 is below tf32's 10 bits
    b = np.zeros((8, 1), np.float32)
    b[0, 0] = 1
    assert op(a, b, np.zeros((1, 1)))[0, 0] == 1 + 2.0**-10


def test_cdna3_rounding_is_asymmetric():
    op = hw.MFMA("CDNA3", "f32_16x16x32_fp8_fp8")
    a = np.zeros((2, 32))
    a[:, 0] = 1.0
    b = np.zeros((32, 1))
    b[0, 0] = 1.0
    c = np.array([[2.0**-25], [-(2.0**-25)]])
    d = op(a, b, np.hstack([c, c])[:, :1])
    # 1 + 2^-25 is a tie and goes to even 1; 1 - 2^-25 is floored first: 1 - 2^-24
    assert d[0, 0] == 1.0 and d[1, 0] == 1 - 2.0**-24


def test_fnuz_operands_have_no_negative_zero():
    op = hw.MFMA("CDNA3", "f32_16x16x32_fp8_fp8")
    assert np.array_equal(hw.read_values([-0.0, 240.0, np.nan], "fp8")[:2], [0.0, 240.0])
    assert not np.signbit(hw.read_values([-0.0], "fp8")[0])
    with pytest.raises(ValueError, match="256.0 is not a value of type fp8"):
        op(np.full((1, 32), 256.0), np.ones((32, 1)))
    with pytest.raises(ValueError, match="inf"):
        hw.read_values([np.inf], "bf8")


def test_output_types_and_canonical_nan():
    cases = [(hw.MMA("Hopper", "m16n8k16.f16.f16.f16.f16"), np.float16, 0x7FFF),
             (hw.MMA("Hopper", "m16n8k16.f32.f16.f16.f32"), np.float32, 0x7FFFFFFF),
             (hw.MMA("Hopper", "m16n8k8.f64.f64.f64.f64"), np.float64, None),
             (hw.MFMA("CDNA2", "f32_32x32x8f16"), np.float32, 0x7FFFFFFF)]
    for op, dtype, canonical in cases:
        a = np.ones((2, op.k))
        a[0, 0] = np.nan
        d = op(a, np.ones((op.k, 3)), np.zeros((2, 3)))
        assert d.dtype == dtype and d.shape == (2, 3)
        assert np.isnan(d[0]).all() and not np.isnan(d[1]).any()
        if canonical is not None:
            assert (d[0].view({2: np.uint16, 4: np.uint32}[d.itemsize]) == canonical).all()


def test_ml_dtypes_inputs():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 32)).astype(ml_dtypes.float8_e4m3fn)
    b = rng.standard_normal((32, 6)).astype(ml_dtypes.float8_e5m2)
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e5m2")
    assert np.array_equal(op(a, b), op(a.astype(np.float32), b.astype(np.float64)))


# ---- the GEMM path against the scalar path, on every kernel path

@pytest.mark.parametrize("op", FAMILIES, ids=IDS)
def test_gemm_equals_dot_products(op, monkeypatch):
    """Every element of matmul(A, B) (K = 2.5 k: zero-padded) is the dot product of
    its zero-padded row and column; every kernel path gives the same bits."""
    rng = np.random.default_rng(4)
    chains = op.c_type == op.d_type   # else one tile only
    M, N, K = 9, 21, (op.k * 2 + op.k // 2 if chains else op.k)
    rows = hard_inputs(op, M, rng)
    cols = hard_inputs(op, N, rng)
    A = np.concatenate([rows[0], rows[0], rows[0]], axis=1)[:, :K]
    B = np.concatenate([cols[1], cols[1], cols[1]], axis=1)[:, :K].T.copy()
    C = rng.choice(hard_inputs(op, M * N, rng)[2], (M, N))
    kw = {}
    Kp = 3 * op.k if chains else op.k
    if op.scaled:
        nb = -(-K // op.block)
        kw = {"scale_a": np.tile(rows[3], 3)[:, :nb], "scale_b": np.tile(cols[4], 3)[:, :nb].T.copy()}
    results = {}
    for path in kernel_paths():
        # matmul runs the default path, sr.isa(), as srround.hardware.mma reads it
        monkeypatch.setattr(hw_mma, "isa", lambda: path)
        results[path] = hw.matmul(A, B, op, C=C, **kw)
    a_pad = np.zeros((M, Kp))
    a_pad[:, :K] = A
    b_pad = np.zeros((N, Kp))
    b_pad[:, :K] = B.T
    dots_kw = {}
    if op.scaled:
        nbp = Kp // op.block
        sa = np.ones((M, nbp))
        sa[:, :nb] = kw["scale_a"]
        sb = np.ones((N, nbp))
        sb[:, :nb] = kw["scale_b"].T
        dots_kw = {"scale_a": np.repeat(sa[:, None], N, 1), "scale_b": np.repeat(sb[None], M, 0)}
    want = op.dot(np.repeat(a_pad[:, None], N, 1), np.repeat(b_pad[None], M, 0), C, **dots_kw)
    for path, got in results.items():
        ok = same(got, want, op)
        assert ok.all(), f"{path}: {(~ok).sum()} of {M * N} differ"


def test_call_is_one_tile_of_matmul():
    op = hw.MMA("Ampere", "m16n8k16.f32.bf16.bf16.f32")
    rng = np.random.default_rng(5)
    A = sr.round(rng.standard_normal((40, 64)), sr.bfloat16)
    B = sr.round(rng.standard_normal((64, 24)), sr.bfloat16)
    C = sr.round(rng.standard_normal((40, 24)), sr.binary32)
    D = C
    for t in range(0, 64, 16):   # the CUTLASS-style mainloop, one instruction per k-tile
        D = op(A[:, t:t + 16], B[t:t + 16], D)
    assert np.array_equal(hw.matmul(A, B, op, C=C), D)


# ---- promotion and the accumulator what-if

def fp8_problem(M=6, N=10, K=512, seed=6):
    rng = np.random.default_rng(seed)
    A = sr.round(rng.standard_normal((M, K)), sr.e4m3)
    B = sr.round(rng.standard_normal((K, N)), sr.e4m3)
    return A, B


def test_promotion_adds_partial_sums_in_binary32():
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    A, B = fp8_problem()
    C = sr.round(np.random.default_rng(7).standard_normal((6, 10)), sr.binary32)
    got = hw.matmul(A, B, op, C=C, promote_every=128)
    acc = C.astype(np.float32)
    for t in range(0, 512, 128):
        acc = acc + hw.matmul(A[:, t:t + 128], B[t:t + 128], op)   # float32 adds, RN
    assert got.dtype == np.float32 and np.array_equal(got, acc)
    # more accurate than keeping the 13-bit accumulator for all 512 terms
    exact = A @ B + C
    err_promoted = np.abs(got - exact).max()
    err_plain = np.abs(hw.matmul(A, B, op, C=C) - exact).max()
    assert err_promoted < err_plain


def test_accumulate_context_replays():
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    A, B = fp8_problem()
    # a binary32 round-to-nearest context is the default accumulator
    nearest = sr.Context(sr.binary32, "nearest")
    assert np.array_equal(hw.matmul(A, B, op, promote_every=64, accumulate=nearest),
                          hw.matmul(A, B, op, promote_every=64))
    # stochastic rounding in bfloat16: block after block, each block's M x N sums
    # rounded in row-major order, one word each
    got = hw.matmul(A, B, op, promote_every=128, accumulate=sr.Context(sr.bfloat16, rng=11))
    replay = sr.Context(sr.bfloat16, rng=11)
    acc = np.zeros((6, 10))
    for t in range(0, 512, 128):
        acc = replay.add(acc, hw.matmul(A[:, t:t + 128], B[t:t + 128], op).astype(np.float64))
    assert got.dtype == np.float32 and np.array_equal(got, acc)
    again = hw.matmul(A, B, op, promote_every=128, accumulate=sr.Context(sr.bfloat16, rng=11))
    assert np.array_equal(got, again)
    # without promote_every, every instruction's result is promoted
    every_tile = hw.matmul(A, B, op, accumulate=sr.Context(sr.bfloat16, rng=3))
    assert np.array_equal(every_tile, hw.matmul(A, B, op, promote_every=32,
                                                accumulate=sr.Context(sr.bfloat16, rng=3)))


# ---- instructions and argument checking

def test_instruction_identity():
    op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    assert repr(op) == "MMA('Hopper', 'm16n8k16.f32.bf16.bf16.f32')"
    assert pickle.loads(pickle.dumps(op)) == op and hash(op) == hash(eval("hw." + repr(op)))
    assert (op.m, op.n, op.k) == (16, 8, 16)
    assert (op.a_type, op.b_type, op.c_type, op.d_type) == ("bf16", "bf16", "f32", "f32")
    assert hw.MFMA("CDNA3", "f32_32x32x1_2b_f32").k == 1
    assert hw.MFMA("CDNA2", "f32_32x32x8bf16_1k").arithmetic.group == 4
    assert hw.MFMA("CDNA2", "f32_32x32x4bf16").arithmetic.group == 2
    mx = hw.TCGen05MMABlockScale("Blackwell", "m128n256k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1.ue4m3")
    assert (mx.block, mx.s_type, mx.n) == (16, "ue4m3", 256)


@pytest.mark.parametrize("make, message", [
    (lambda: hw.MMA("Pascal", "m16n8k16.f32.bf16.bf16.f32"), "unsupported architecture 'Pascal'"),
    (lambda: hw.MMA("Volta", "m16n8k16.f32.bf16.bf16.f32"), "unsupported shape_and_type"),
    (lambda: hw.MMA("Hopper", "m16n8k32.f32.e4m3.e4m3.f32"), "unsupported shape_and_type"),
    (lambda: hw.WGMMA("Hopper", "m64n12k16.f32.f16.f16"), "unsupported shape_and_type"),
    (lambda: hw.MFMA("CDNA3", "f32_32x32x8f16"), "unsupported suffix"),
    (lambda: hw.MMABlockScale("Blackwell", "m16n8k64.kind::mxf4.block32.f32.e2m1.e2m1.f32.ue8m0"),
     "unsupported architecture"),
])
def test_unknown_instructions(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_arguments():
    op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    ones = np.ones((2, 16))
    with pytest.raises(ValueError, match=r"A\[1, 3\] = 1.00390625 is not a value of type bf16"):
        bad = ones.copy()
        bad[1, 3] = 1 + 2.0**-8
        op(bad, ones.T)
    with pytest.raises(ValueError, match=r"C\[0, 1\] = 0.1 is not a value of type f32"):
        op(ones, ones.T, np.array([[0.0, 0.1], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="multiplies A"):
        op(np.ones((2, 8)), np.ones((8, 2)))
    with pytest.raises(ValueError, match="C must have shape"):
        op(ones, ones.T, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        op(ones.astype(complex), ones.T)
    with pytest.raises(TypeError, match="real numbers"):
        hw.matmul([["a"] * 16], ones.T, op)
    with pytest.raises(TypeError, match="instruction must be"):
        hw.matmul(ones, ones.T, "mma")
    with pytest.raises(ValueError, match="matching K"):
        hw.matmul(ones, np.ones((15, 2)), op)
    with pytest.raises(ValueError, match="positive multiple of the instruction's k = 16"):
        hw.matmul(ones, ones.T, op, promote_every=24)
    with pytest.raises(TypeError, match="promote_every must be an int"):
        hw.matmul(ones, ones.T, op, promote_every=16.0)
    with pytest.raises(TypeError, match="accumulate must be an srround Context"):
        hw.matmul(ones, ones.T, op, promote_every=16, accumulate=sr.binary32)
    with pytest.raises(TypeError, match="takes no scales"):
        hw.matmul(ones, ones.T, op, scale_a=np.ones((2, 1)))
    mx = hw.MMABlockScale("RTX Blackwell", "m16n8k32.kind::mxf8f6f4.block32.f32.e4m3.e4m3.f32.ue8m0")
    with pytest.raises(TypeError, match="block-scaled"):
        mx(np.ones((2, 32)), np.ones((32, 2)))
    with pytest.raises(ValueError, match="scale_a must have shape"):
        mx(np.ones((2, 32)), np.ones((32, 2)), None, np.ones((2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="is not a value of type ue8m0"):
        mx(np.ones((2, 32)), np.ones((32, 2)), None, np.full((2, 1), 3.0), np.ones((1, 2)))
    volta = hw.MMA("Volta", "m8n8k4.f32.f16.f16.f16")
    with pytest.raises(ValueError, match="tiles cannot chain"):
        hw.matmul(np.ones((2, 8)), np.ones((8, 2)), volta, C=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="positive multiple of 16"):
        op.dot(np.ones((3, 8)), np.ones((3, 8)))


def test_docs_examples_run():
    """docs/hardware-arithmetic.md's examples run as written, in order."""
    import re
    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "hardware-arithmetic.md")
    with open(path, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    namespace = {}
    exec(compile("\n".join(blocks), "docs/hardware-arithmetic.md", "exec"), namespace)
    assert namespace["D"].dtype == np.float32 and namespace["D"].shape == (16, 8)
    exact, promoted, plain = namespace["exact"], namespace["promoted"], namespace["plain"]
    assert np.abs(promoted - exact).max() < np.abs(plain - exact).max()
    res = namespace["res"]
    assert res["max_relative"][1] < 1e-3   # promoted every 128


def test_gemm_error_study():
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    plain = hw.gemm_error_study(op, [256, 2048], M=8, N=8, distribution="uniform")
    promoted = hw.gemm_error_study(op, [256, 2048], M=8, N=8, distribution="uniform",
                                   promote_every=128)
    ieee = hw.gemm_error_study("binary32", [256, 2048], M=8, N=8, distribution="uniform")
    assert list(plain["K"]) == [256, 2048]
    assert plain["max_relative"][1] > plain["max_relative"][0]   # grows with K
    assert (promoted["max_relative"] < plain["max_relative"]).all()
    assert (ieee["max_relative"] < 1e-5).all()
    assert (plain["median_relative"] <= plain["max_relative"]).all()
    with pytest.raises(ValueError, match="distribution"):
        hw.gemm_error_study(op, [256], distribution="cauchy")
    with pytest.raises(TypeError, match="instruction"):
        hw.gemm_error_study(3, [256])


def test_gemm_error_study_checks_its_sizes():
    """K, M and N are positive integers: 2.5 or True are not silently truncated, and 0
    is a clear error, not NumPy's empty-reduction message."""
    op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    for bad in ([2.5], [True], [0], [-32], ["64"]):
        with pytest.raises(ValueError, match="every K must be a positive integer"):
            hw.gemm_error_study(op, bad, M=2, N=2)
    with pytest.raises(TypeError, match="K_values must be a sequence"):
        hw.gemm_error_study(op, 64)
    for kw in (dict(M=0), dict(N=2.5), dict(M=True)):
        with pytest.raises(ValueError, match="must be a positive integer"):
            hw.gemm_error_study(op, [64], **kw)
    res = hw.gemm_error_study(op, [np.int64(64)], M=1, N=1)
    assert list(res["K"]) == [64]


def _exact_products(A, B):
    """Each element of A @ B from exact rational arithmetic, rounded once to float64."""
    return np.array([[float(sum(Fraction(x) * Fraction(y) for x, y in zip(row, col)))
                      for col in B.T] for row in A])


def test_exact_matmul_is_the_correctly_rounded_product():
    """study.exact_matmul (the reference of gemm_error_study and of the tensorcore
    experiment) against exact rational arithmetic: bfloat16 values spread over
    2^-60 .. 2^60 with cancellations, where float64 A @ B is wrong (the sliced fast
    path), and float64 values of 53 bits (the TwoProduct path)."""
    rng = np.random.default_rng(7)
    A = sr.round(rng.standard_normal((4, 200)) * 2.0 ** rng.integers(-60, 60, (4, 200)),
                 sr.bfloat16)
    B = sr.round(rng.standard_normal((200, 3)) * 2.0 ** rng.integers(-60, 60, (200, 3)),
                 sr.bfloat16)
    A[0, :3], B[:3, 0] = [2.0**60, 2.0**-60, -(2.0**60)], [1.0, 1.0, 1.0]
    exact = _exact_products(A, B)
    assert np.array_equal(study.exact_matmul(A, B, 8), exact)
    assert np.array_equal(study.exact_matmul(A, B), exact)          # the general path
    assert not np.array_equal(A @ B, exact)
    X = rng.standard_normal((3, 50)) * 2.0 ** rng.integers(-200, 200, (3, 50))
    Y = rng.standard_normal((50, 2)) * 2.0 ** rng.integers(-200, 200, (50, 2))
    X[1, :3], Y[:3, 1] = [2.0**500 / 3, 1 / 3, -(2.0**500) / 3], [3.0, 3.0, 3.0]
    assert np.array_equal(study.exact_matmul(X, Y), _exact_products(X, Y))
    e4m3 = sr.round(rng.standard_normal((3, 64)), sr.e4m3)
    assert np.array_equal(study.exact_matmul(e4m3, e4m3.T, 4), e4m3 @ e4m3.T)   # exact here
    assert np.array_equal(study.exact_matmul(np.zeros((2, 5)), np.ones((5, 2)), 8),
                          np.zeros((2, 2)))
    with pytest.raises(ValueError, match="more than 4 significant bits"):
        study.exact_matmul(A, B, 4)
    with pytest.raises(ValueError, match="not finite"):
        study.exact_matmul(np.array([[np.inf]]), np.ones((1, 1)), 8)
    with pytest.raises(ValueError, match="leave float64's range"):
        study.exact_matmul(np.array([[2.0**-600]]), np.array([[2.0**-600]]))
    with pytest.raises(ValueError, match="precision must be an integer"):
        study.exact_matmul(A, B, 0)
    with pytest.raises(ValueError, match="matrices"):
        study.exact_matmul(A, A)


def test_alignment_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from srround.hardware import figures
    figures.alignment_figure(tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_empty_shapes():
    op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    C = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(hw.matmul(np.zeros((3, 0)), np.zeros((0, 4)), op, C=C), C)
    assert hw.matmul(np.zeros((0, 16)), np.zeros((16, 4)), op).shape == (0, 4)
    assert hw.matmul(np.zeros((2, 40)), np.zeros((40, 0)), op, promote_every=16).shape == (2, 0)
    assert op.dot(np.zeros((0, 16)), np.zeros((0, 16))).shape == (0,)
