"""Large calls split across threads (csrc/threads.c): with a counter stream or a
deterministic mode the bits are those of one thread, for every thread count and
every kernel path, at odd sizes and on a waiting half-word; the stream ends where
one thread leaves it; sequential streams stay reproducible (one thread)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import kernel_paths, twin

import srround as sr


@pytest.fixture
def restore_threads():
    before = sr.get_num_threads()
    yield
    sr.set_num_threads(before)


def run_all(ctx, xf, xd):
    """Every split-capable loop, in a fixed order; the contexts' streams move on."""
    with np.errstate(all="ignore"):
        return [ctx.round(xf), ctx.round(xd), ctx.add(xd, xd[::-1].copy()),
                ctx.divide(xf, np.float32(3)), ctx.fma(xd, xd, xd), ctx.sqrt(np.abs(xf)),
                ctx.multiply(xd[:-1], 1.5), ctx.subtract(xf[1:], xf[:-1])]


@pytest.mark.parametrize("stream, mode", [("counter", "stochastic"),
                                          ("counter", "stochastic_equal"),
                                          ("sequential", "nearest"),
                                          ("sequential", "up"),
                                          ("sequential", "stochastic")])
def test_thread_counts_and_paths_agree(stream, mode, restore_threads):
    rng = np.random.default_rng(3)
    n = 2**17 + 37                                    # parts of odd sizes
    xd = rng.standard_normal(n) * 2.0 ** rng.integers(-20, 20, n)
    xf = xd.astype(np.float32)
    base = sr.Context("e4m3", mode, rng=5, stream=stream)
    if base.stochastic:
        base.random_words(1, np.uint32)               # every call starts on a waiting half
    sr.set_num_threads(1)
    one = twin(base)
    want = run_all(one, xf, xd)
    for path in kernel_paths():
        for threads in (2, 3, 5):
            sr.set_num_threads(threads)
            ctx = twin(base)._set_isa(path)
            got = run_all(ctx, xf, xd)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g.view(np.uint8), w.view(np.uint8))
            if base.stochastic:
                assert ctx.random_words(3, np.uint32).tolist() == \
                       twin(one).random_words(3, np.uint32).tolist()

def test_float32_half_word_parity_at_split_points(restore_threads):
    """Odd element counts put split points on high half-words."""
    x = np.random.default_rng(1).uniform(-3, 3, 3 * 2**15 + 1).astype(np.float32)
    ctx = sr.Context("bf16", rng=2, stream="counter")
    copy = twin(ctx)
    sr.set_num_threads(3)
    y = ctx.round(x)
    words = copy.random_words(x.size, np.uint32)       # the words, one by one
    sr.set_num_threads(1)
    ref = sr.Context("bf16", rng=2, stream="counter")
    z = np.concatenate([ref.round(x[i:i + 1]) for i in range(5000)] +
                       [ref.round(x[5000:])])
    np.testing.assert_array_equal(y, z)
    assert ctx.position == copy.position == x.size


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (257, ValueError), (1.5, TypeError),
                                      ("2", TypeError)])
def test_set_num_threads_checks(bad, exc):
    with pytest.raises(exc):
        sr.set_num_threads(bad)


def test_environment_and_default():
    code = "import srround as sr; print(sr.get_num_threads())"
    env = dict(os.environ, SRROUND_NUM_THREADS="3", PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "3", out.stderr
    env.pop("SRROUND_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert int(out.stdout) == len(os.sched_getaffinity(0))
    env["SRROUND_NUM_THREADS"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "SRROUND_NUM_THREADS" in out.stderr
