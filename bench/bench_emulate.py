"""EmulatedArray overhead over the direct Context ufunc calls, srround.linalg solve
times, and sr.matmul's C kernel beside the former chunked ufunc algorithm:

    python bench/bench_emulate.py                          # tables (one thread)
    python bench/bench_emulate.py --matmul [--large]       # matmul (and n = 1024), solve
    python -m pytest bench/bench_emulate.py --benchmark-only

Targets (issue 12): overhead at most 2 microseconds per operation on 100 elements and
at most 5% on 1e6 elements; sr.linalg.solve of a 512x512 bfloat16 system with
stochastic rounding in under 0.5 s. Timings are medians of interleaved samples, so
load from elsewhere hits the compared calls alike; the ratios are the result. The
process's CPU time is reported beside (or instead of) the wall clock: on a shared
machine it leaves out the time other processes take.
"""
import statistics
import time

import one_thread  # noqa: E402,F401  (before NumPy)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import srround as sr  # noqa: E402


def operations(n, dtype=np.float32, fmt=sr.bfloat16, mode="stochastic"):
    """(name, emulated call, the same computation as direct ctx calls)."""
    ctx = sr.Context(fmt, mode, rng=0)
    rng = np.random.default_rng(0)
    x = ctx.round(rng.uniform(0.5, 2.0, n).astype(dtype))
    y = ctx.round(rng.uniform(0.5, 2.0, n).astype(dtype))
    a, b = sr.emulate(x, ctx), sr.emulate(y, ctx)
    two = sr.round(np.float64(2.0), fmt).astype(dtype)[()]
    xa, ya = a.values, b.values
    # the running sums have arrays of their own (positive values: no exact zeros)
    c, z = a.copy(), xa.copy()

    def in_place_emulated():
        nonlocal c
        c += b

    def in_place_direct():
        ctx.add(z, ya, out=z)
    return [
        ("a + b", lambda: a + b, lambda: ctx.add(xa, ya)),
        ("a * 2.0", lambda: a * 2.0, lambda: ctx.multiply(xa, two)),
        ("np.add(a, b)", lambda: np.add(a, b), lambda: ctx.add(xa, ya)),
        ("a += b", in_place_emulated, in_place_direct),
        ("np.sqrt(a)", lambda: np.sqrt(a), lambda: ctx.sqrt(xa)),
        ("a.sum()", lambda: a.sum(), lambda: ctx.add.reduce(xa)),
        ("a @ b", lambda: a @ b, lambda: sr.matmul(xa, ya, ctx)),
    ]


def median_times(calls, samples, number, clock=time.perf_counter):
    """Median seconds per call of each callable, samples interleaved."""
    times = [[] for _ in calls]
    for _ in range(samples):
        for i, f in enumerate(calls):
            t = clock()
            for _ in range(number):
                f()
            times[i].append((clock() - t) / number)
    return [statistics.median(t) for t in times]


def overhead_table():
    print("EmulatedArray vs the same ctx calls (bfloat16, stochastic, float32 storage); "
          "medians of interleaved samples of this process's CPU time (on a shared "
          "machine, wall-clock medians of millisecond calls mostly measure the others)")
    print("| operation | n | direct | emulated | overhead | ratio |")
    print("|---|---|---|---|---|---|")
    worst = {}
    for n, samples, number in ((100, 41, 400), (10**6, 41, 1)):
        for name, emulated, direct in operations(n):
            d, e = median_times([direct, emulated], samples, number, time.process_time)
            worst[n] = max(worst.get(n, 0), (e - d) if n == 100 else e / d - 1)
            print(f"| {name} | {n:.0e} | {d * 1e6:.2f} us | {e * 1e6:.2f} us | "
                  f"{(e - d) * 1e6:+.2f} us | {e / d:.3f} |")
    print(f"worst overhead: {worst[100] * 1e6:.2f} us at n = 100 (target 2 us), "
          f"{worst[10**6] * 100:.1f}% at n = 1e6 (target 5%)")


def solve_inputs(n, fmt=sr.bfloat16, dtype=np.float32):
    rng = np.random.default_rng(1)
    A = sr.round(rng.standard_normal((n, n)).astype(dtype), fmt)
    b = sr.round(rng.standard_normal(n).astype(dtype), fmt)
    return A, b


def linalg_table():
    print("\nsr.linalg (bfloat16, float32 storage), every operation rounded: median "
          "seconds of 5, wall clock and this process's CPU time (what other processes "
          "on a loaded machine do not add)")
    print("| call | n | mode | wall | CPU | x np.linalg.solve (LAPACK, binary64), CPU |")
    print("|---|---|---|---|---|---|")
    for n in (256, 512):
        A, b = solve_inputs(n)
        A64, b64 = A.astype(np.float64), b.astype(np.float64)
        for mode in ("stochastic", "nearest"):
            ctx = sr.Context(sr.bfloat16, mode, rng=2)
            calls = [lambda: sr.linalg.solve(A, b, ctx), lambda: sr.linalg.lu_factor(A, ctx),
                     lambda: np.linalg.solve(A64, b64)]
            wall = median_times(calls, 5, 1)
            cpu = median_times(calls, 5, 1, time.process_time)
            for i, name in enumerate(("solve", "lu_factor")):
                print(f"| {name} | {n} | {mode} | {wall[i]:.3f} | {cpu[i]:.3f} | "
                      f"{cpu[i] / max(cpu[2], 1e-4):.0f} |")


def former_matmul(A, B, ctx, acc):
    """sr.matmul as it was before its C kernel (the baseline of the kernel's speed):
    chunks of output rows, ctx.multiply of all their products, then acc.add.reduce
    over l. Same operations, another word order."""
    m, k = A.shape
    n = B.shape[1]
    rows = max(1, (1 << 21) // (k * n))
    out = np.empty((m, n), A.dtype)
    for i0 in range(0, m, rows):
        at = np.ascontiguousarray(A[i0:i0 + rows].T)[:, :, None]
        out[i0:i0 + rows] = acc.add.reduce(ctx.multiply(at, B[:, None, :]), axis=0)
    return out


def former_lu(A, ctx):
    """srround.linalg's LU before the kernel did its trailing updates: per step, the
    rank-1 update as ctx.multiply into a temporary, then ctx.subtract."""
    A = np.array(A)
    n = A.shape[0]
    for k in range(n - 1):
        p = k + int(np.argmax(np.abs(A[k:, k])))
        A[[k, p]] = A[[p, k]]
        column = A[k + 1:, k]
        ctx.divide(column, A[k, k], out=column)
        trailing = A[k + 1:, k + 1:]
        ctx.subtract(trailing, ctx.multiply(column[:, None], A[k, None, k + 1:]), out=trailing)
    return A


MATMUL_CASES = [("bfloat16 SR", sr.bfloat16, "stochastic", None),
                ("bfloat16 RN", sr.bfloat16, "nearest", None),
                ("binary16 SR, binary32 SR sums", sr.binary16, "stochastic", sr.binary32)]


def matmul_table(sizes=(256, 512), former_sizes=(256, 512), samples=5):
    print("\nsr.matmul, every product and sum rounded, float32 data: ns per multiply-add "
          "(this process's CPU time, median of %d), the C kernel beside the former "
          "chunked ufunc algorithm in the same run; the kernel's target is 0.5 ns "
          "(issue 12)" % samples)
    print("| case | n | kernel | former | speed-up |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(3)
    for n in sizes:
        A = sr.round(rng.standard_normal((n, n)).astype(np.float32), sr.bfloat16)
        for name, fmt, mode, acc_fmt in MATMUL_CASES:
            ctx = sr.Context(fmt, mode, rng=4)
            acc = sr.Context(acc_fmt, mode, rng=5) if acc_fmt else None
            calls = [lambda: sr.matmul(A, A, ctx, accumulate=acc)]
            if n in former_sizes:
                calls.append(lambda: former_matmul(A, A, ctx, acc or ctx))
            t = median_times(calls, samples, 1, time.process_time)
            kernel = t[0] / n**3 * 1e9
            if len(t) > 1:
                former = t[1] / n**3 * 1e9
                print(f"| {name} | {n} | {kernel:.2f} | {former:.2f} | {former / kernel:.1f}x |")
            else:
                print(f"| {name} | {n} | {kernel:.2f} | | |")


def solve_table(n=512, samples=5):
    print(f"\nsr.linalg.solve, {n} x {n}, bfloat16, float32 storage: seconds (median of "
          f"{samples}, wall clock and this process's CPU time), and the LU factorization "
          "beside the former one (ufunc rank-1 updates); target: solve under 0.5 s")
    print("| mode | solve, wall | solve, CPU | lu_factor, CPU | former LU, CPU | speed-up |")
    print("|---|---|---|---|---|---|")
    A, b = solve_inputs(n)
    for mode in ("stochastic", "nearest"):
        ctx = sr.Context(sr.bfloat16, mode, rng=2)
        calls = [lambda: sr.linalg.solve(A, b, ctx), lambda: sr.linalg.lu_factor(A, ctx),
                 lambda: former_lu(A, ctx)]
        wall = median_times(calls[:1], samples, 1)
        cpu = median_times(calls, samples, 1, time.process_time)
        print(f"| {mode} | {wall[0]:.3f} | {cpu[0]:.3f} | {cpu[1]:.3f} | {cpu[2]:.3f} | "
              f"{cpu[2] / cpu[1]:.1f}x |")


# ---------------------------------------------------------------- pytest-benchmark

@pytest.mark.parametrize("n", [100, 10**6])
@pytest.mark.parametrize("kind", ["direct", "emulated"])
def test_add(benchmark, kind, n):
    name, emulated, direct = operations(n)[0]
    benchmark(emulated if kind == "emulated" else direct)


@pytest.mark.parametrize("mode", ["stochastic", "nearest"])
def test_solve_512_bfloat16(benchmark, mode):
    A, b = solve_inputs(512)
    ctx = sr.Context(sr.bfloat16, mode, rng=2)
    benchmark.pedantic(lambda: sr.linalg.solve(A, b, ctx), rounds=3, iterations=1)


if __name__ == "__main__":
    import sys
    if "--matmul" in sys.argv:          # only the kernel's tables (issue 12's targets)
        matmul_table(sizes=(256, 512, 1024) if "--large" in sys.argv else (256, 512))
        solve_table()
    else:
        overhead_table()
        linalg_table()
        matmul_table()
        solve_table()
