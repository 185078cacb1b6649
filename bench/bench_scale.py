"""The speed targets of reproducibility at scale, as ratios within one run:

1. counter streams against the sequential stream: SR f32->bf16 and f64->bf16 on 1e7
   elements, one thread;
2. threads: 2 threads against 1 on compute-bound calls (1e7-element ctx.divide and
   ctx.fma with a counter stream, e4m3 rounding of 1e6 float64 values) and a
   memory-bound one (bf16 round-to-nearest of 1e7 float64 values);
3. in-cache speed: the six SR arithmetic ufuncs on 1e6 float32 values against np.add
   on the same arrays; RN f32->bf16 and RN/SR f32->e4m3 on 1e5 values, beside the floor
   of one pass over the same arrays (bench/incache_floor.c: a copy loop, CPFloat-style
   add-and-mask); kahan sums, dots and the dot's recursive sum (ctx.add.reduce) of 1e6
   float32 values in bfloat16.

Each pair is timed interleaved (best of several rounds), so load from elsewhere on a
shared machine hits both sides alike. Run: python3 bench/bench_scale.py
"""
import one_thread  # noqa: F401  (before NumPy; srround's own threads are set below)

import os  # noqa: E402

import numpy as np  # noqa: E402
from timing import best_seconds_interleaved, machine_line, standard_normal  # noqa: E402

import srround as sr  # noqa: E402

ROUNDS = 7


def ns(seconds, n):
    return seconds / n * 1e9


def counter_vs_sequential():
    print("## counter stream against sequential, SR to bfloat16, 1e7 elements, one thread")
    sr.set_num_threads(1)
    for dtype in (np.float32, np.float64):
        x = standard_normal(10**7, dtype)
        out = np.empty_like(x)
        seq = sr.Context("bf16", rng=1)
        ctr = sr.Context("bf16", rng=1, stream="counter")
        t = best_seconds_interleaved({"seq": lambda: seq.round(x, out=out),
                                      "ctr": lambda: ctr.round(x, out=out)}, ROUNDS)
        print(f"{np.dtype(dtype).name}: sequential {ns(t['seq'], x.size):.3f} ns, counter "
              f"{ns(t['ctr'], x.size):.3f} ns: {t['ctr'] / t['seq']:.2f}x (target <= 1.3x)")


def threads():
    print("## 2 threads against 1")
    rng = np.random.default_rng(0)
    a, b, c = (rng.uniform(1, 2, 10**7) for _ in range(3))
    o = np.empty_like(a)
    x6 = standard_normal(10**6, np.float64)
    o6 = np.empty_like(x6)
    counter = sr.Context("bf16", rng=1, stream="counter")
    cases = {
        "divide 1e7 f64, SR counter": lambda: counter.divide(a, b, out=o),
        "fma 1e7 f64, SR counter": lambda: counter.fma(a, b, c, out=o),
        "e4m3 RN round 1e6 f64 (in cache)": lambda: sr.Context("e4m3", "nearest").round(x6, out=o6),
        "bf16 RN round 1e7 f64 (memory)": lambda: sr.Context("bf16", "nearest").round(a, out=o),
    }
    for name, fn in cases.items():
        def with_threads(k, fn=fn):
            def run():
                sr.set_num_threads(k)
                fn()
            return run
        t = best_seconds_interleaved({1: with_threads(1), 2: with_threads(2)}, ROUNDS)
        print(f"{name}: 1 thread {t[1] * 1e3:.2f} ms, 2 threads {t[2] * 1e3:.2f} ms: "
              f"{t[1] / t[2]:.2f}x")


def in_cache_floor():
    """floor_run(which, x, y, n) of bench/incache_floor.c, compiled here with the C
    core's flags, or None without a C compiler."""
    import ctypes
    import pathlib
    import subprocess
    import sysconfig
    import tempfile
    here = pathlib.Path(__file__).resolve().parent
    flags = (here.parent / "csrc" / "flags.mk").read_text().split("SR_CFLAGS =")[1].split()
    lib = pathlib.Path(tempfile.mkdtemp()) / "incache_floor.so"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    try:
        subprocess.run([cc, *flags, "-fno-tree-loop-distribute-patterns", "-shared", "-fPIC",
                        str(here / "incache_floor.c"), "-o", str(lib)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    run = ctypes.CDLL(str(lib)).floor_run
    run.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return run


def in_cache():
    print("## in-cache speed, one thread")
    sr.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 10**6
    a, b, c = (rng.uniform(1, 2, n).astype(np.float32) for _ in range(3))
    o = np.empty_like(a)
    ctx = sr.Context("bf16", rng=1)
    fns = {"np.add": lambda: np.add(a, b, out=o)}
    for op in ("add", "subtract", "multiply", "divide", "fma", "sqrt"):
        args = {"fma": (a, b, c), "sqrt": (a,)}.get(op, (a, b))
        fns[op] = lambda op=op, args=args: getattr(ctx, op)(*args, out=o)
    t = best_seconds_interleaved(fns, ROUNDS)
    for op in fns:
        if op != "np.add":
            print(f"SR {op} 1e6 f32: {ns(t[op], n):.3f} ns = {t[op] / t['np.add']:.2f}x np.add "
                  f"({ns(t['np.add'], n):.3f} ns; target <= 3x)")
    x = standard_normal(10**5, np.float32)
    y = np.empty_like(x)
    cases = {}
    for fmt, mode, target in (("bf16", "nearest", 0.05), ("e4m3", "nearest", 0.2),
                              ("e4m3", "stochastic", 0.3)):
        cx = sr.Context(fmt, mode, rng=1)
        cases[f"{fmt} {mode} 1e5 f32: {{:.3f}} ns (target <= {target})"] = (
            lambda cx=cx: cx.round(x, out=y))
    floor_run = in_cache_floor()
    if floor_run:   # one pass over the same arrays: what no kernel can beat
        for which, name in enumerate(("copy loop", "add-and-mask to bf16 (CPFloat-style, "
                                      "not NaN-safe)", "add-and-mask, ties to even")):
            cases[f"floor, {name} 1e5 f32: {{:.3f}} ns"] = (
                lambda which=which: floor_run(which, x.ctypes.data, y.ctypes.data, x.size))
    t = best_seconds_interleaved(cases, 200)
    for line, seconds in t.items():
        print(line.format(ns(seconds, x.size)))
    xs = rng.uniform(0, 1, n).astype(np.float32)
    cb = sr.Context("bf16", rng=1)
    products = cb.multiply(xs, xs)   # sr.dot's sum pass alone
    t = best_seconds_interleaved({"kahan": lambda: sr.sum(xs, cb, method="kahan"),
                                  "dot": lambda: sr.dot(xs, xs, cb),
                                  "reduce": lambda: cb.add.reduce(products)}, 3)
    print(f"sr.sum kahan 1e6 f32 bf16: {ns(t['kahan'], n):.2f} ns (target <= 4)")
    print(f"sr.dot 1e6 f32 bf16: {ns(t['dot'], n):.2f} ns (target <= 1.5)")
    print(f"ctx.add.reduce of sr.dot's 1e6 bf16 products (f32): {ns(t['reduce'], n):.2f} ns")


if __name__ == "__main__":
    print(machine_line(), f"| load average {os.getloadavg()[0]:.2f} | isa {sr.isa()}")
    counter_vs_sequential()
    threads()
    in_cache()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
