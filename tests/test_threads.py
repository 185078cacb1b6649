"""One Context shared by many threads: no crash, no random word handed out twice,
no word lost; spawned contexts give reproducible per-thread results."""
import threading
import time

import numpy as np

import srround as sr

N_THREADS = 8


def _run_threads(target, n=N_THREADS):
    barrier = threading.Barrier(n)
    errors = []
    results = [None] * n

    def wrap(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_random_words_disjoint_across_threads():
    seed = 2718
    ctx = sr.Context(sr.binary16, "stochastic", rng=seed)

    def work(i):
        rng = np.random.default_rng(i)
        got = []
        for _ in range(1500):
            got.append(ctx.random_words(int(rng.integers(1, 40))))
        return np.concatenate(got)

    parts = _run_threads(work)
    words = np.concatenate(parts)
    n = words.size
    assert len(set(words.tolist())) == n            # nobody got a word twice
    fresh = sr.Context(sr.binary16, "stochastic", rng=seed).random_words(n)
    assert set(words.tolist()) == set(fresh.tolist())  # and no word was skipped
    # each thread's own words appear in stream order
    pos = {w: k for k, w in enumerate(fresh.tolist())}
    for part in parts:
        idx = [pos[w] for w in part.tolist()]
        assert idx == sorted(idx)
    # the shared stream continues right after the N words handed out
    np.testing.assert_array_equal(ctx.random_words(16),
                                  sr.Context(sr.binary16, "stochastic", rng=seed).random_words(n + 16)[n:])


def test_ufuncs_and_draws_shared_by_threads():
    """Threads round, add and fma arrays through one stochastic context while also
    drawing words directly; every word drawn directly is distinct, and the stream
    advanced by exactly the number of elements rounded plus words drawn."""
    seed = 99
    fmt = sr.bfloat16
    ctx = sr.Context(fmt, "stochastic", rng=seed)
    sizes = [1, 7, 255, 256, 257, 1000, 4099]

    def work(i):
        rng = np.random.default_rng(100 + i)
        consumed = 0
        drawn = []
        for it in range(60):
            n = sizes[(i + it) % len(sizes)]
            x = rng.uniform(-10, 10, n)
            kind = it % 4
            if kind == 0:
                r = ctx.round(x)
                lo, hi = sr.round(x, fmt, "down"), sr.round(x, fmt, "up")
                assert ((r == lo) | (r == hi)).all()
            elif kind == 1:
                r = ctx.add(x, 0.001)
                assert np.isfinite(r).all()
            elif kind == 2:
                r = ctx.fma(x, x, x.astype(np.float32).astype(np.float64))
                assert np.isfinite(r).all()
            else:
                drawn.append(ctx.random_words(n))
            consumed += n
        return consumed, drawn

    results = _run_threads(work)
    total = sum(c for c, _ in results)
    drawn = np.concatenate([w for _, d in results for w in d])
    assert len(set(drawn.tolist())) == drawn.size
    fresh = sr.Context(fmt, "stochastic", rng=seed).random_words(total + 8)
    assert set(drawn.tolist()) <= set(fresh[:total].tolist())
    np.testing.assert_array_equal(ctx.random_words(8), fresh[total:])


def test_deterministic_context_shared_by_threads():
    ctx = sr.Context(sr.binary16, "nearest")
    x = np.random.default_rng(0).uniform(-1e4, 1e4, 50_000)
    want = ctx.add(x, 0.5)

    def work(i):
        for _ in range(10):
            np.testing.assert_array_equal(ctx.add(x, 0.5), want)
        return True

    assert all(_run_threads(work))


def test_spawned_contexts_per_thread_are_reproducible():
    x = np.random.default_rng(3).uniform(-5, 5, 20_000)

    def run():
        kids = sr.Context(sr.binary16, "stochastic", rng=7).spawn(N_THREADS)
        return _run_threads(lambda i: np.stack([kids[i].round(x) for _ in range(3)]))

    a, b = run(), run()
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra, rb)
    assert not np.array_equal(a[0], a[1])


def test_ufunc_loops_release_the_gil(record_property):
    """Informational, no timing assertion: while one thread runs a long ufunc call,
    count how often the main thread gets to run Python code."""
    ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    x = np.random.default_rng(0).uniform(-1, 1, 4_000_000)
    box = {}

    def work():
        t0 = time.perf_counter()
        box["r"] = ctx.round(x)
        box["t"] = time.perf_counter() - t0

    t = threading.Thread(target=work)
    spins = 0
    t.start()
    while t.is_alive():
        spins += 1
    t.join()
    record_property("main_thread_spins_during_ufunc", spins)
    record_property("ufunc_seconds", box["t"])
    assert box["r"].shape == x.shape
