"""Scale: an ensemble of stochastic-rounding runs as Dask tasks on a local cluster of
worker processes (srround.dask.ensemble), against the same runs in one process:
the same numbers bit for bit, and the speedup. See docs/reproducibility.md."""
import functools
import importlib
import math
import time

import numpy as np

from srround import Context
from srround.experiments.common import float_list, floats, format_panels, seed_for
from srround.experiments.registry import Result, experiment
from srround.summation import sum as rounded_sum
from srround.threads import get_num_threads, set_num_threads

WORKERS = 2


def harmonic_run(ctx, n):
    """One run: the harmonic sum of n terms, each term and each partial sum rounded
    in ctx (what the harmonic experiment's stochastic lanes compute)."""
    terms = ctx.round(1.0 / np.arange(1, n + 1, dtype=np.float64))
    return float(rounded_sum(terms, ctx))


def plot_ensemble(fig, data):
    """The final sums of the runs, one histogram per format, and the exact sum."""
    for ax, name in format_panels(fig, data):
        finals = floats(data["finals"][name])
        ax.hist(finals, bins=max(5, int(math.sqrt(len(finals)))), color="tab:blue")
        ax.axvline(data["exact"], color="black", lw=1.5, label="exact")
        ax.set_xlabel("harmonic sum of n terms, SR")
        ax.set_ylabel("runs")
        ax.set_title(f"ensemble in {name}")
        ax.legend(fontsize=8)


def _cluster():
    """A distributed.Client on a LocalCluster of WORKERS processes, or None if the
    dask extra is missing."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


@experiment("ensemble", "an SR ensemble of harmonic sums as Dask tasks on a local "
            "cluster: identical to one process, and faster", n=1_000_000, runs=16,
            formats=("bfloat16",), plot=plot_ensemble)
def ensemble(s):
    """The harmonic sum's runs: serially in this process, then with
    srround.dask.ensemble on a LocalCluster of two worker processes."""
    from srround import dask as srd
    fn = functools.partial(harmonic_run, n=s.n)
    exact = math.fsum(1.0 / np.arange(1, s.n + 1, dtype=np.float64))
    client = _cluster()
    rows, finals, timing = [], {}, {}
    threads = get_num_threads()
    set_num_threads(1)      # one process against worker processes of one thread each
    try:
        for fi, fmt in enumerate(s.formats):
            parent = Context(fmt, s.rounding, rng=seed_for(s, 1, fi), stream="counter")
            twin = Context(fmt, s.rounding, rng=seed_for(s, 1, fi), stream="counter")
            start = time.perf_counter()
            serial = np.array([fn(c) for c in twin.spawn(s.runs)])
            t_serial = time.perf_counter() - start
            if client is not None:
                client.run(importlib.import_module, __name__)   # imports out of the timing
                client.run(set_num_threads, 1)
                start = time.perf_counter()
                parallel = srd.ensemble(fn, parent, s.runs)
                t_cluster = time.perf_counter() - start
            else:
                parallel, t_cluster = srd.ensemble(fn, parent, s.runs), math.nan
            same = bool(np.array_equal(serial.view(np.uint64), parallel.view(np.uint64)))
            finals[fmt.label] = float_list(parallel)
            timing[fmt.label] = {"one_process_s": t_serial, "cluster_s": t_cluster,
                                 "speedup": t_serial / t_cluster, "identical": same}
            rows.append([fmt.label, s.n, s.runs, exact, float(parallel.mean()),
                         float(parallel.std(ddof=1)) if s.runs > 1 else 0.0,
                         t_serial, t_cluster, t_serial / t_cluster, "yes" if same else "NO"])
    finally:
        set_num_threads(threads)
        if client is not None:
            cluster = client.cluster
            client.close()
            cluster.close()
    columns = ["format", "n", "runs", "exact", "SR mean", "SR std", "1 process s",
               f"{WORKERS} workers s", "speedup", "identical"]
    specs = ["s", "d", "d", ".6f", ".6f", ".4f", ".3f", ".3f", ".2f", "s"]
    notes = [f"{WORKERS} worker processes of a distributed.LocalCluster, one thread each, "
             "against one process of one thread; "
             "the runs are ctx.spawn(runs) of a counter-stream context, one Dask task each"]
    if client is None:
        notes.append("distributed is not installed (pip install 'srround[dask]'): "
                     "Dask's default scheduler ran the tasks")
    return Result("ensemble", f"SR ensemble of harmonic sums on a local cluster "
                  f"({s.runs} runs)", columns, specs, rows, notes,
                  {"exact": exact, "finals": finals, "timing": timing})
