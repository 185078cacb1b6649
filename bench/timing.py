"""Timing and reporting shared by the bench scripts (table.py, compare_peers.py,
bench_summation.py): standard-normal data, ns per element as the median of repeated
calls, ratios to np.copyto timed in the same run, markdown tables, and a line naming
the machine. Every script here runs on one thread (one_thread.py, imported first)."""
import one_thread  # noqa: F401  (before NumPy)

import math  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def standard_normal(n, dtype, seed=0):
    """n standard-normal values of dtype: the data of every speed table here."""
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def ns_per_element(fn, n, repeats, slow_s=math.inf, slow_repeats=3):
    """(median ns per element over repeated calls of fn on n elements, calls timed).
    One untimed warm-up call first (it pages in the output and builds the ufunc); a
    call slower than slow_s seconds gets only slow_repeats timed calls."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    calls = slow_repeats if warm > slow_s else repeats
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / n * 1e9, calls


def best_seconds_interleaved(fns, rounds):
    """name -> fastest of `rounds` calls, the functions called in turn each round, so
    load from elsewhere on a shared machine hits all of them alike."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def with_ratio(ns, base_ns, mark=""):
    """'0.12 (1.8x)': ns per element and its ratio to the baseline (np.copyto of the
    same array in the same run); the bare number when there is no baseline."""
    if not base_ns:
        return f"{ns:.2f}{mark}"
    return f"{ns:.2f} ({ns / base_ns:.1f}x){mark}"


def markdown_table(header, rows):
    """Lines of a markdown table: the header, the rule, a line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def machine_line():
    """lscpu's 'Model name: ...' line (the CPU the numbers were measured on)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return " ".join(line.split())
    except Exception:  # noqa: BLE001
        pass
    return "Model name: (lscpu unavailable)"
