"""Kahan sums (sr.sum(method="kahan")) of 1e6 elements beside np.add on the float32
array, interleaved (best of 7 rounds), one thread: the cases of docs/performance.md's
"Kahan's sum: a shorter chain". To compare two builds in one sitting, run this script
alternately with PYTHONPATH pointing at each. Run: python3 bench/bench_kahan.py
"""
import one_thread  # noqa: F401  (before NumPy)

import os  # noqa: E402

import numpy as np  # noqa: E402
from timing import best_seconds_interleaved  # noqa: E402

import srround as sr  # noqa: E402

N = 10**6


def main():
    rng = np.random.default_rng(0)
    x32 = rng.uniform(0, 1, N).astype(np.float32)
    x64 = rng.uniform(0, 1, N)
    x32_small = x32 / np.float32(64)   # sums below binary16's max
    cases = {
        "float32, bfloat16, stochastic":
            lambda: sr.sum(x32, sr.Context("bf16", rng=1), method="kahan"),
        "float64, bfloat16, stochastic":
            lambda: sr.sum(x64, sr.Context("bf16", rng=1), method="kahan"),
        "float32 / 64, binary16, stochastic":
            lambda: sr.sum(x32_small, sr.Context("binary16", rng=1), method="kahan"),
        "float32, bfloat16, toward zero":
            lambda: sr.sum(x32, sr.Context("bf16", "toward_zero"), method="kahan"),
        "np.add (float32)": lambda: np.add(x32, x32),
    }
    seconds = best_seconds_interleaved(cases, 7)
    print(f"{sr.__file__} | isa {sr.isa()} | load average {os.getloadavg()[0]:.2f}")
    for name, s in seconds.items():
        print(f"{name}: {s / N * 1e9:.2f} ns per element")


if __name__ == "__main__":
    main()
