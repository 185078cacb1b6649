"""srround.hardware bit for bit against MMA-Sim (PyPI ``mmasim``, Xie et al., arXiv
2511.10909), the matrix-unit models validated on the hardware: the same instruction
lists, every instruction type of every architecture on a few hard inputs, at least
10^5 dot products per family (one class, architecture and kind of arithmetic), and
whole GEMMs. Needs torch and mmasim (``pip install -e ".[mma]"``); skipped without.

Inputs come from tests/mma_reference.py's ``hard_inputs``: wide exponent spreads,
exact cancellations, subnormal products, ties of the output rounding, zeros of both
signs, overflow, infinities and NaN. NaN results of the fused kinds are the canonical
NaN in both; the FMA, flush-to-zero and exact kinds keep the host's NaN payloads
(MMA-Sim's come from torch on the CPU), so there only NaN-ness is compared.
"""
import os
import re
import sys
import time
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="MMA-Sim needs torch (pip install -e '.[mma]')")
mmasim = pytest.importorskip("mmasim", reason="MMA-Sim is not installed (pip install -e '.[mma]')")
from mmasim import amd as mmasim_amd  # noqa: E402
from mmasim import nv_ptx as mmasim_nv  # noqa: E402
from mmasim.amd import isa_mfma  # noqa: E402
from mmasim.nv_ptx import isa_mma, isa_tcgen05mma, isa_wgmma  # noqa: E402

from srround import hardware as hw  # noqa: E402
from srround.hardware import mma as hw_mma  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from mma_reference import STRATEGIES, hard_inputs, reference_dot  # noqa: E402
from test_mma import same  # noqa: E402

torch.set_num_threads(1)

# ours, MMA-Sim's class, and both lists of instruction strings per architecture
CLASSES = [
    (hw.MMA, mmasim_nv.MMA, hw_mma.MMA_SHAPES, isa_mma.mma_shape_and_type),
    (hw.MMABlockScale, mmasim_nv.MMABlockScale, hw_mma.MMA_BLOCK_SCALE_SHAPES,
     isa_mma.mma_block_scale_shape_and_type),
    (hw.WGMMA, mmasim_nv.WGMMA, hw_mma.WGMMA_SHAPES, isa_wgmma.wgmma_shape_and_type),
    (hw.TCGen05MMA, mmasim_nv.TCGen05MMA, hw_mma.TCGEN05_SHAPES,
     isa_tcgen05mma.tcgen05mma_shape_and_type),
    (hw.TCGen05MMABlockScale, mmasim_nv.TCGen05MMABlockScale, hw_mma.TCGEN05_BLOCK_SCALE_SHAPES,
     isa_tcgen05mma.tcgen05mma_block_scale_shape_and_type),
    (hw.MFMA, mmasim_amd.MFMA, hw_mma.MFMA_SUFFIXES, isa_mfma.arch_mfma_suffix),
]
THEIRS = {ours: theirs for ours, theirs, _, _ in CLASSES}


def instruction_types():
    """One instruction per class, architecture and string up to the tile's m and n
    (which do not change the arithmetic): (ours, MMA-Sim's)."""
    out, seen = [], set()
    for ours, theirs, our_lists, _ in CLASSES:
        for arch, names in our_lists.items():
            for name in names:
                key = (ours, arch, re.sub(r"^m\d+n\d+", "", name))
                if key not in seen:
                    seen.add(key)
                    out.append((ours(arch, name), theirs(arch, name)))
    return out


TYPES_ = instruction_types()


def families():
    """(class, arch, kind of arithmetic) -> the instruction types in it"""
    groups = {}
    for op, theirs in TYPES_:
        groups.setdefault((type(op).__name__, op.arch, op.arithmetic.kind), []).append((op, theirs))
    return groups


FAMILIES = families()

TORCH_TYPES = {"f64": torch.float64, "f32": torch.float32, "tf32": torch.float32,
               "xf32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
               "e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2,
               "fp8": torch.float8_e4m3fnuz, "bf8": torch.float8_e5m2fnuz,
               "ue4m3": torch.float8_e4m3fn,
               # MMA-Sim reads fp6 and fp4 values from float16 tensors
               "e3m2": torch.float16, "e2m3": torch.float16, "e2m1": torch.float16}


def to_torch(x, tname):
    x = np.ascontiguousarray(x)
    if tname == "ue8m0":   # the power of two 2^e is the code e + 127; NaN is 0xFF
        codes = np.where(np.isnan(x), 255, np.log2(np.where(np.isnan(x), 1, x)) + 127)
        return torch.from_numpy(codes.astype(np.uint8)).view(torch.float8_e8m0fnu)
    dtype = TORCH_TYPES[tname]
    if dtype in (torch.float64, torch.float32, torch.float16):
        return torch.from_numpy(x.astype(torch.empty(0, dtype=dtype).numpy().dtype))
    return torch.from_numpy(x.astype(np.float32)).to(dtype)   # exact: values of the type


def their_dot(theirs, op, args):
    a, b, c = to_torch(args[0], op.a_type), to_torch(args[1], op.b_type), to_torch(args[2], op.c_type)
    if op.scaled:
        d = theirs.dpa(a, b, c, to_torch(args[3], op.s_type), to_torch(args[4], op.s_type))
    else:
        d = theirs.dpa(a, b, c)
    return d.numpy()


def compare(op, theirs, count, seed, batch=20000):
    """count hard rows through both; returns the number of rows compared."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < count:
        n = min(batch, count - done)
        args = hard_inputs(op, n, rng)
        got, want = op.dot(*args), their_dot(theirs, op, args)
        assert got.dtype == want.dtype and got.shape == want.shape
        ok = same(got, want, op)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            pytest.fail(f"{op!r}: {(~ok).sum()} of {n} differ from MMA-Sim; first: row {i} "
                        f"({STRATEGIES[i % len(STRATEGIES)]}) a={args[0][i].tolist()} "
                        f"b={args[1][i].tolist()} c={args[2][i]!r}"
                        + (f" scales={args[3][i].tolist()}, {args[4][i].tolist()}" if op.scaled else "")
                        + f": ours {got[i]!r}, MMA-Sim {want[i]!r}")
        done += n
    return done


@pytest.mark.parametrize("ours, theirs, our_lists, their_lists", CLASSES,
                         ids=[c[0].__name__ for c in CLASSES])
def test_same_instructions(ours, theirs, our_lists, their_lists):
    assert set(our_lists) == set(their_lists)
    for arch in their_lists:
        assert set(our_lists[arch]) == set(their_lists[arch]), arch


def test_every_instruction_type():
    """Every class, architecture and instruction type (about 400): 64 hard rows each."""
    for op, theirs in TYPES_:
        compare(op, theirs, 64, seed=zlib.crc32(repr(op).encode()))


FAMILY_ROWS = 100_000


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES), ids=["-".join(f) for f in sorted(FAMILIES)])
def test_family_bit_identical(family):
    """At least 10^5 dot products per family, spread over its instruction types."""
    members = FAMILIES[family]
    per_type = -(-FAMILY_ROWS // len(members))
    start = time.perf_counter()
    total = sum(compare(op, theirs, per_type, seed=i) for i, (op, theirs) in enumerate(members))
    assert total >= FAMILY_ROWS
    print(f"{family}: {total} dot products over {len(members)} instruction types, "
          f"{time.perf_counter() - start:.1f} s")


GEMM_CASES = [members[0] for members in FAMILIES.values()]


@pytest.mark.parametrize("op, theirs", GEMM_CASES, ids=[repr(c[0]) for c in GEMM_CASES])
def test_exact_reference_agrees_with_mmasim(op, theirs):
    """tests/mma_reference.py (Fraction arithmetic) against MMA-Sim directly, 48 hard
    rows per family (test_mma.py checks srround against the same reference)."""
    args = hard_inputs(op, 48, np.random.default_rng(9))
    want = their_dot(theirs, op, args)
    ref = [reference_dot(op, *(x[i].tolist() for x in args)) for i in range(48)]
    ref = np.array(ref).astype(want.dtype)
    nan = np.isnan(ref) & np.isnan(want)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[want.dtype.itemsize]
    ok = nan | (ref.view(uint) == want.view(uint))
    assert ok.all(), f"{(~ok).sum()} of 48 differ, first row {int(np.flatnonzero(~ok)[0])}"


@pytest.mark.parametrize("op, theirs", GEMM_CASES, ids=[repr(c[0]) for c in GEMM_CASES])
def test_gemm(op, theirs):
    """D = op(A, B, C) for a 24 x 40 tile, and matmul over K = 4 k against MMA-Sim
    called once per k-tile, each tile's D its next C (the CUTLASS-style mainloop)."""
    rng = np.random.default_rng(8)
    M, N = 24, 40
    tiles = 4 if op.c_type == op.d_type else 1
    rows, cols = hard_inputs(op, M, rng), hard_inputs(op, N, rng)
    A = np.concatenate([rows[0]] * tiles, axis=1)
    B = np.concatenate([cols[1]] * tiles, axis=1).T.copy()
    B[:, ::3] = np.roll(B[:, ::3], 1, axis=0)   # not just the same k-tile four times
    C = rng.choice(hard_inputs(op, M * N, rng)[2], (M, N))
    kw, sa, sb = {}, None, None
    if op.scaled:
        sa = np.concatenate([rows[3]] * tiles, axis=1)
        sb = np.concatenate([cols[4]] * tiles, axis=1).T.copy()
        kw = {"scale_a": sa, "scale_b": sb}
    got = hw.matmul(A, B, op, C=C, **kw)
    D = to_torch(C, op.c_type)
    nb = op.k // op.block if op.scaled else 0
    for t in range(tiles):
        At = to_torch(A[:, t * op.k:(t + 1) * op.k], op.a_type)
        Bt = to_torch(B[t * op.k:(t + 1) * op.k], op.b_type)
        if op.scaled:
            D = theirs(At, Bt, D, to_torch(sa[:, t * nb:(t + 1) * nb], op.s_type),
                       to_torch(sb[t * nb:(t + 1) * nb], op.s_type))
        else:
            D = theirs(At, Bt, D)
    ok = same(got, D.numpy(), op)
    assert ok.all(), f"{(~ok).sum()} of {M * N} elements differ"
    if tiles == 1:
        assert same(op(A, B, C, *(kw.values())), D.numpy(), op).all()
