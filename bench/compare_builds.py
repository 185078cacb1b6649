"""Counter against sequential stream, SR to bfloat16, for several built source trees
in one process: each tree's srround/_core extension is loaded under its own name, and
every (tree, stream) call is timed interleaved, best of several calls, by this thread's
CPU time, so that time a shared machine gives to other processes does not count.
For before/after comparisons of a kernel change in one sitting:

    python3 bench/compare_builds.py 1e7 before=/path/to/main after=.

With "arith" first, the six arithmetic ufuncs instead (1e6 float32 values in [1, 2),
bfloat16, stochastic rounding, the sequential stream), each against np.add on the same
arrays timed in the same rounds:

    python3 bench/compare_builds.py arith before=/path/to/main after=.
"""
import one_thread  # noqa: F401  (before NumPy)

import glob  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
from timing import standard_normal  # noqa: E402


def load_core(name, tree):
    """tree/srround/_core as module b_<name>._core (its own copy of the C core)."""
    so = glob.glob(f"{tree}/srround/_core.cpython-*.so")[0]
    package = types.ModuleType(f"b_{name}")
    package.__path__ = []
    sys.modules[package.__name__] = package
    spec = importlib.util.spec_from_file_location(f"b_{name}._core", so)
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    core._set_num_threads(1)
    return core


def best_cpu_seconds(fns, rounds):
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for key, fn in fns.items():
            start = time.thread_time_ns()
            fn()
            best[key] = min(best[key], (time.thread_time_ns() - start) * 1e-9)
    return best


def main(argv):
    n = int(float(argv[0]))
    cores = {name: load_core(name, tree) for name, tree in (a.split("=", 1) for a in argv[1:])}
    rounds = 25 if n >= 10**6 else 41
    for dtype in (np.float32, np.float64):
        x = standard_normal(n, dtype)
        out = np.empty_like(x)
        fns = {}
        for name, core in cores.items():
            bf16 = core.Format(8, 127, -126, name="bfloat16")
            for stream in ("sequential", "counter"):
                ctx = core.Context(bf16, rng=1, stream=stream)
                fns[name, stream] = lambda ctx=ctx: ctx.round(x, out=out)
        t = best_cpu_seconds(fns, rounds)
        line = f"{n:.0e} {np.dtype(dtype).name}:"
        for name in cores:
            seq, ctr = (t[name, s] / n * 1e9 for s in ("sequential", "counter"))
            line += f"  {name}: sequential {seq:.3f} ns, counter {ctr:.3f} ns ({ctr / seq:.2f}x)"
        print(line, flush=True)


def arith(argv, n=10**6, rounds=31):
    cores = {name: load_core(name, tree) for name, tree in (a.split("=", 1) for a in argv)}
    rng = np.random.default_rng(0)
    a, b, c = (rng.uniform(1, 2, n).astype(np.float32) for _ in range(3))
    out = np.empty_like(a)
    ops = ("add", "subtract", "multiply", "divide", "fma", "sqrt")
    fns = {("np", "add"): lambda: np.add(a, b, out=out)}
    for name, core in cores.items():
        ctx = core.Context(core.Format(8, 127, -126, name="bfloat16"), rng=1)
        for op in ops:
            args = {"fma": (a, b, c), "sqrt": (a,)}.get(op, (a, b))
            fns[name, op] = lambda f=getattr(ctx, op), args=args: f(*args, out=out)
    t = best_cpu_seconds(fns, rounds)
    base = t["np", "add"]
    print(f"np.add {base / n * 1e9:.3f} ns")
    for name in cores:
        cells = (f"{op} {t[name, op] / n * 1e9:.3f} ({t[name, op] / base:.2f}x)" for op in ops)
        print(f"{name}: " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["arith"]:
        arith(sys.argv[2:])
    else:
        main(sys.argv[1:])
