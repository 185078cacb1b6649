"""srround.dask: with a counter stream, the values of the NumPy call with a twin
context for every chunking, scheduler (synchronous, threads, processes, a real
distributed.LocalCluster of two worker processes) and block order; the context's
counter moves once, at graph construction; sequential stochastic contexts refused;
stochastic ufuncs on Dask arrays routed, never silently replayed; sums, ensembles,
and pickling of the ufuncs."""
import pickle
import random

import numpy as np
import pytest
from conftest import twin

import srround as sr

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
srd = pytest.importorskip("srround.dask")

CHUNKINGS = [(7, 11), (40, 5), (13, 64), (40, 64), (1, 64)]


def data(shape=(40, 64), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2.0 ** rng.integers(-8, 8, shape)).astype(dtype)


def counter_ctx(seed=1, fmt="bf16", mode="stochastic", **kw):
    ctx = sr.Context(fmt, mode, rng=seed, stream="counter", **kw)
    ctx.random_words(1, np.uint32)            # start on a waiting half-word
    return ctx


def bits(a):
    a = np.asarray(a)
    return a.tobytes(), a.dtype, a.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_round_equals_numpy_for_every_chunking(dtype, chunks):
    x = data(dtype=dtype)
    ctx = counter_ctx()
    ref = twin(ctx)
    y = srd.round(da.from_array(x, chunks=chunks), ctx)
    want = ref.round(x)
    assert bits(y.compute(scheduler="synchronous")) == bits(want)
    assert ctx.position == ref.position                       # moved once, at build time
    assert bits(y.compute(scheduler="threads")) == bits(want)  # and again: same values


@pytest.mark.parametrize("op, nin", [("add", 2), ("subtract", 2), ("multiply", 2),
                                     ("divide", 2), ("fma", 3), ("sqrt", 1)])
@pytest.mark.parametrize("mode, bits_", [("stochastic", None), ("stochastic", 4),
                                         ("stochastic_equal", None), ("nearest", None)])
def test_arithmetic_broadcasting_equals_numpy(op, nin, mode, bits_):
    x = np.abs(data((30, 20), np.float32)) + 0.5
    operands = [x, x[0] * 1.5, np.float32(3.0)][:nin]     # (30, 20), (20,), scalar
    ctx = counter_ctx(mode=mode, bits=bits_)
    ref = twin(ctx)
    lazy = [da.from_array(a, chunks=(7, 6)[-np.ndim(a):] if np.ndim(a) else ()) for a in operands]
    got = getattr(srd, op)(*lazy, ctx).compute(scheduler="synchronous")
    with np.errstate(all="ignore"):
        want = getattr(ref, op)(*operands)
    assert bits(got) == bits(want)
    assert ctx.position == ref.position
    if ctx.stochastic:    # the next call draws fresh words, as it would after NumPy's
        assert ctx.random_words(2).tolist() == ref.random_words(2).tolist()


def test_any_block_order():
    """Blocks computed one by one, in a shuffled order, from the graph."""
    x = data()
    ctx = counter_ctx(5)
    want = twin(ctx).round(x)
    y = srd.round(da.from_array(x, chunks=(7, 11)), ctx)
    blocks = list(np.ndindex(*y.numblocks))
    random.Random(3).shuffle(blocks)
    out = np.empty_like(x)
    for b in blocks:
        sl = tuple(slice(sum(c[:i]), sum(c[:i + 1])) for c, i in zip(y.chunks, b))
        out[sl] = y.blocks[b].compute(scheduler="synchronous")
    assert bits(out) == bits(want)


def test_processes_scheduler_and_repeat():
    x = data(dtype=np.float32)
    ctx = counter_ctx(6)
    want = twin(ctx).divide(x, np.float32(3))
    y = srd.divide(da.from_array(x, chunks=(13, 17)), np.float32(3), ctx)
    assert bits(y.compute(scheduler="processes", num_workers=2)) == bits(want)
    assert bits(y.compute(scheduler="processes", num_workers=2)) == bits(want)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                       dashboard_address=None, death_timeout=60)
    c = distributed.Client(cluster, timeout=60)
    yield c
    c.close(timeout=30)
    cluster.close(timeout=30)


def test_local_cluster(client):
    x = data((64, 48))
    ctx = counter_ctx(7)
    ref = twin(ctx)
    y = srd.round(da.from_array(x, chunks=(9, 13)), ctx)
    s = srd.sum(da.from_array(x.ravel(), chunks=256), ctx)
    want_y = ref.round(x)
    want_s = sr.sum(x.ravel(), ref, "blocked", block=256)
    assert bits(client.compute(y).result(timeout=120)) == bits(want_y)
    assert bits(client.compute(y).result(timeout=120)) == bits(want_y)   # computed again
    assert bits(client.compute(s).result(timeout=120)) == bits(want_s)
    # an ensemble over the cluster equals the serial loop
    parent = sr.Context("e4m3", rng=4)                    # sequential streams too
    serial = np.stack([_run(c) for c in twin(parent).spawn(5)])
    assert bits(srd.ensemble(_run, parent, 5)) == bits(serial)


def _run(ctx):
    return ctx.round(np.linspace(0, 1, 50))


@pytest.mark.parametrize("n, c", [(1000, 100), (1000, 128), (999, 1000), (64, 1)])
def test_sum_is_blocked_sum(n, c):
    """1-D chunks of c (the last may be shorter): sr.sum(method="blocked", block=c)."""
    x = np.random.default_rng(n).uniform(0, 1, n)
    ctx = counter_ctx(8)
    ref = twin(ctx)
    got = srd.sum(da.from_array(x, chunks=c), ctx).compute()
    want = sr.sum(x, ref, "blocked", block=c)
    assert bits(got) == bits(want)
    assert ctx.position == ref.position


def test_sum_deterministic_and_2d():
    x = data((20, 30))
    rn = sr.Context("bf16", "nearest")
    got = srd.sum(da.from_array(x, chunks=(20, 30)), rn).compute()
    assert got == sr.sum(x.ravel(), rn, "blocked", block=600)
    with pytest.raises(ValueError, match="axis"):
        srd.sum(da.from_array(x), rn, axis=0)


def test_ensemble_equals_serial_loop_threads():
    parent = sr.Context("bf16", rng=9, stream="counter")
    serial = np.stack([_run(c) for c in twin(parent).spawn(6)])
    assert bits(srd.ensemble(_run, parent, 6, scheduler="threads")) == bits(serial)
    with pytest.raises(TypeError):
        srd.ensemble(3, parent, 2)


def test_sequential_stochastic_refused_with_advice():
    ctx = sr.Context("bf16", rng=1)
    x = da.ones(10, chunks=5)
    for call in (lambda: srd.round(x, ctx), lambda: srd.add(x, x, ctx),
                 lambda: srd.sum(x, ctx)):
        with pytest.raises(ValueError, match="stream='counter'"):
            call()
    with pytest.raises(TypeError):
        srd.round(x, "bf16")
    # deterministic modes work with either stream
    rn = sr.Context("bf16", "nearest")
    assert bits(srd.round(x * 0.1, rn).compute()) == bits(rn.round(np.ones(10) * 0.1))


def test_ufunc_on_dask_array_is_routed_or_refused():
    x = data((12, 10))
    ctx = counter_ctx(10)
    ref = twin(ctx)
    y = ctx.round(da.from_array(x, chunks=(5, 5)))        # Dask's __array_ufunc__ path
    assert isinstance(y, da.Array)
    assert bits(y.compute()) == bits(ref.round(x)) == bits(y.compute())
    seq = sr.Context("bf16", rng=1)
    with pytest.raises(ValueError, match="stream='counter'"):
        seq.round(da.from_array(x, chunks=5))
    with pytest.raises(ValueError, match="srround.dask"):
        ctx.add.reduce(da.from_array(x, chunks=5))
    rn = sr.Context("bf16", "nearest")                    # deterministic: Dask maps it
    assert bits(rn.round(da.from_array(x, chunks=5)).compute(scheduler="processes")) == \
        bits(rn.round(x))


def test_ufunc_pickling():
    rn = sr.Context("e4m3", "up")
    u = pickle.loads(pickle.dumps(rn.multiply))
    x = data((50,))
    assert bits(u(x, 1.1)) == bits(rn.multiply(x, 1.1))
    assert pickle.loads(pickle.dumps(np.add)) is np.add     # NumPy's own still pickle
    for stream in ("sequential", "counter"):
        with pytest.raises(pickle.PicklingError, match="pickle the Context"):
            pickle.dumps(sr.Context("bf16", rng=1, stream=stream).round)
