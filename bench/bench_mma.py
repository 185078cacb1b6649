"""srround.hardware's Hopper fp8 wgmma model beside MMA-Sim, one thread:

    python bench/bench_mma.py                      # the table and the speed ratio
    python -m pytest bench/bench_mma.py --benchmark-only

The GEMM: A (256 x 256) times B (256 x 4096), e4m3 values of standard-normal data,
C = 0, through WGMMA("Hopper", "m64n256k32.f32.e4m3.e4m3") (F = 13, e8m13 results),
as a CUTLASS-style mainloop runs it: one instruction per k-tile of 32, each tile's D
the next tile's C. srround runs the whole GEMM (input checks included) in C;
MMA-Sim (which builds torch tensors of every product) runs the same mainloop on the
first ROWS rows of A, its time scaled by 256 / ROWS (its work is linear in the
rows), and the slice is checked bit for bit against srround's result. The ratio is
the medians' quotient, measured in one run.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import one_thread  # noqa: E402,F401  (before NumPy)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import srround as sr  # noqa: E402
from srround import hardware as hw  # noqa: E402

M, K, N = 256, 256, 4096
ROWS = 16            # MMA-Sim's slice of A
INSTRUCTION = ("Hopper", "m64n256k32.f32.e4m3.e4m3")


def operands(seed=0):
    rng = np.random.default_rng(seed)
    A = sr.round(rng.standard_normal((M, K)), sr.e4m3).astype(np.float32)
    B = sr.round(rng.standard_normal((K, N)), sr.e4m3).astype(np.float32)
    return A, B


def srround_gemm(A, B):
    return hw.matmul(A, B, hw.WGMMA(*INSTRUCTION))


def mmasim_mainloop(A, B):
    """MMA-Sim's wgmma, one call per k-tile (None without torch and mmasim)."""
    try:
        import torch
        from mmasim.nv_ptx import WGMMA
    except ImportError:
        return None
    torch.set_num_threads(1)
    op = WGMMA(*INSTRUCTION)
    At = torch.from_numpy(A).to(torch.float8_e4m3fn)
    Bt = torch.from_numpy(B).to(torch.float8_e4m3fn)

    def run():
        D = torch.zeros(At.shape[0], N)
        for t in range(0, K, 32):
            D = op(At[:, t:t + 32], Bt[t:t + 32], D)
        return D.numpy()
    return run


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def test_srround_wgmma_fp8(benchmark):
    A, B = operands()
    benchmark.pedantic(srround_gemm, args=(A, B), rounds=5, iterations=1, warmup_rounds=1)


def test_mmasim_wgmma_fp8_slice(benchmark):
    A, B = operands()
    run = mmasim_mainloop(A[:ROWS], B)
    if run is None:
        pytest.skip("MMA-Sim needs torch and mmasim (pip install -e '.[mma]')")
    benchmark.extra_info["rows"] = ROWS
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)


def main():
    A, B = operands()
    D = srround_gemm(A, B)
    ours = median_time(lambda: srround_gemm(A, B), 7)
    products = M * K * N
    print(f"GEMM {M}x{K} by {K}x{N} through WGMMA{INSTRUCTION}, one thread, "
          f"kernels: {sr.isa()}")
    print("| implementation | seconds (median) | ns per product |")
    print("|---|---|---|")
    print(f"| srround.hardware.matmul | {ours:.3f} | {ours / products * 1e9:.2f} |")
    run = mmasim_mainloop(A[:ROWS], B)
    if run is None:
        print("MMA-Sim is not installed (pip install -e '.[mma]'): no ratio")
        return
    same = np.array_equal(run().view(np.uint32), D[:ROWS].view(np.uint32))
    theirs = median_time(run, 3) * M / ROWS
    print(f"| MMA-Sim 2.1.1 (first {ROWS} rows, time x {M // ROWS}) | {theirs:.1f} | "
          f"{theirs / products * 1e9:.1f} |")
    print(f"srround is {theirs / ours:.0f}x faster; the {ROWS} rows are "
          f"{'bit-identical' if same else 'NOT bit-identical'}")


if __name__ == "__main__":
    main()
