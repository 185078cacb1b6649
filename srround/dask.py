"""srround on Dask arrays: lazy, chunked, and reproducible from the seed alone.

    import dask.array as da
    import srround as sr, srround.dask as srd
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=0, stream="counter")
    y = srd.round(da.random.random((10**4, 10**4), chunks=2000), ctx)
    s = srd.sum(y, ctx)

Each function builds a graph and moves the context's counter past the draws the
same call on the NumPy array would make, once, when the graph is built; each block
then draws the words of its own elements' positions in that NumPy call (element k
of the C-ordered result gets word, or 32-bit half-word, k). So with a counter
stream (``stream="counter"``) the values equal the NumPy call's with a twin
context, whatever the chunking, the scheduler, the order blocks run in, or how
often the graph is computed. A sequential stream cannot give a block its words
without drawing every word before them, so stochastic contexts with
``stream="sequential"`` are refused (ValueError); deterministic modes work with
either stream. docs/reproducibility.md has the whole story.

Needs the ``dask`` extra (``dask[array]``, and ``distributed`` for clusters).
"""
import builtins
import itertools
import math

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as e:   # pragma: no cover - the extra is missing
    raise ImportError("srround.dask needs Dask: pip install 'srround[dask]'") from e

from srround._core import Context, _restore_counter_context

__all__ = ["round", "add", "subtract", "multiply", "divide", "fma", "sqrt", "sum",
           "ensemble"]

_NIN = {"round": 1, "add": 2, "subtract": 2, "multiply": 2, "divide": 2, "fma": 3,
        "sqrt": 1}


def _check_context(ctx):
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a Context (the last argument), got {type(ctx).__name__}")
    if ctx.stochastic and ctx.stream != "counter":
        raise ValueError(
            "srround.dask needs a counter stream for stochastic rounding: create the "
            "context with stream='counter' (e.g. sr.Context(fmt, 'stochastic', rng=seed, "
            "stream='counter')); a sequential stream cannot give each block its own "
            "words, and results would depend on the chunking and the scheduler")


def _spec(ctx):
    """What a block needs to rebuild ctx at any position (picklable)."""
    if ctx.stream == "counter":
        key, _, _ = ctx._counter_state()
        return (ctx.format, ctx.rounding, ctx.bits, key)
    return (ctx.format, ctx.rounding, ctx.bits, None)


def _context_at(spec, position):
    fmt, rounding, bits, key = spec
    if key is None:
        return Context(fmt, rounding, bits=bits)
    return _restore_counter_context(fmt, rounding, bits, key, position)


def _result_dtype(op, ctx, dtypes):
    """The dtype NumPy's loop selection gives the same call (zero-size probe)."""
    probe = Context(ctx.format, "nearest")
    return getattr(probe, op)(*[np.empty(0, d) for d in dtypes]).dtype


def _runs(location, shape):
    """The C-order runs of one block of an array of `shape`: (index of the block's
    leading dimensions, global flat offset of the run). The block's trailing
    dimensions that span the whole array join its innermost partial one, so each
    run is contiguous in the array's C order."""
    ndim = len(shape)
    k = ndim - 1
    while k > 0 and location[k] == (0, shape[k]):
        k -= 1
    strides = [math.prod(shape[i + 1:]) for i in range(ndim)]
    lead = [range(start, stop) for start, stop in location[:k]]
    for index in itertools.product(*lead):
        offset = builtins.sum(i * s for i, s in zip(index, strides))
        offset += location[k][0] * strides[k] if ndim else 0
        yield tuple(i - location[d][0] for d, i in enumerate(index)), offset


def _block(*blocks, op, spec, first, per_element, out_dtype, full_shape, block_info=None):
    """One output block: each run drawn at its own position (words or half-words
    from `first`, per_element per element)."""
    location = block_info[None]["array-location"]
    out = np.empty(blocks[0].shape, out_dtype)
    for index, offset in _runs(location, full_shape):
        ctx = _context_at(spec, (first + offset) * per_element)
        parts = [np.ascontiguousarray(b[index]) for b in blocks]
        with np.errstate(all="ignore"):
            getattr(ctx, op)(*parts, out=out[index])
    return out


def _common_chunks(arrays):
    """The coarsest chunking that refines every array's (same shapes)."""
    chunks = []
    for d in range(arrays[0].ndim):
        bounds = sorted(set().union(*[np.cumsum((0,) + a.chunks[d]).tolist() for a in arrays]))
        chunks.append(tuple(int(b - a) for a, b in zip(bounds, bounds[1:])))
    return tuple(chunks)


def _elementwise(op, arrays, ctx):
    _check_context(ctx)
    arrays = [da.asarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"srround.dask.{op} needs real numbers, got {a.dtype}")
    dtype = _result_dtype(op, ctx, [a.dtype for a in arrays])
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    n = math.prod(shape)
    word_bytes = 4 if op == "round" and dtype == np.float32 else 8
    first = ctx._reserve(n, word_bytes) if ctx.stochastic else 0
    work_shape = shape if shape else (1,)     # a 0-d call as one element
    arrays = [da.broadcast_to(a.reshape(a.shape if shape else (1,) * a.ndim), work_shape)
              for a in arrays]
    arrays = [a.rechunk(_common_chunks(arrays)) for a in arrays]
    result = da.map_blocks(_block, *arrays, dtype=dtype, meta=np.empty((0,) * len(work_shape), dtype),
                           op=op, spec=_spec(ctx), first=first, out_dtype=dtype,
                           per_element=1 if word_bytes == 4 else 2, full_shape=work_shape)
    return result if shape else result.reshape(())


def round(x, ctx):
    return _elementwise("round", (x,), ctx)


def add(x, y, ctx):
    return _elementwise("add", (x, y), ctx)


def subtract(x, y, ctx):
    return _elementwise("subtract", (x, y), ctx)


def multiply(x, y, ctx):
    return _elementwise("multiply", (x, y), ctx)


def divide(x, y, ctx):
    return _elementwise("divide", (x, y), ctx)


def fma(x, y, z, ctx):
    return _elementwise("fma", (x, y, z), ctx)


def sqrt(x, ctx):
    return _elementwise("sqrt", (x,), ctx)


_DOC = """``ctx.{name}({args})`` on Dask arrays, lazily{broadcast}.

The values are those of the same call on the computed NumPy arrays with a twin of
ctx (same seed and position), for any chunking and scheduler; ctx's counter moves
past the call's words now, once.

Parameters
----------
{params}
ctx : Context
    Deterministic, or stochastic with ``stream="counter"``.

Returns
-------
dask.array.Array
    The result's graph, of the dtype NumPy's call would give.

Raises
------
TypeError
    For a ctx that is not a Context, or non-real data.
ValueError
    For a stochastic ctx with a sequential stream (use ``stream="counter"``).

Examples
--------
>>> import dask.array as da
>>> import srround.dask as srd
>>> ctx = sr.Context("bf16", rng=0, stream="counter")
>>> srd.{example}
"""
_EXAMPLES = {
    "round": ("round(da.ones(4, chunks=2) / 3, ctx).compute()",
              "array([0.33398438, 0.33398438, 0.33398438, 0.33398438])"),
    "add": ("add(da.ones(4, chunks=2), 1e-3, ctx).compute()",
            "array([1.       , 1.       , 1.0078125, 1.       ])"),
}
for _fn in (round, add, subtract, multiply, divide, fma, sqrt):
    _args = _fn.__code__.co_varnames[:_fn.__code__.co_argcount - 1]
    _call, _out = _EXAMPLES.get(_fn.__name__, _EXAMPLES["add"])
    if _fn.__name__ not in _EXAMPLES:
        _call, _out = f"{_fn.__name__}({', '.join(['da.ones(2)'] * len(_args))}, ctx).dtype", \
            "dtype('float64')"
    _fn.__doc__ = _DOC.format(
        name=_fn.__name__, args=", ".join(_args),
        broadcast=", with broadcasting" if len(_args) > 1 else "",
        params="\n".join(f"{a} : dask.array.Array or array_like" for a in _args),
        example=f"{_call}\n{_out}")
del _fn, _args, _call, _out


def _chunk_sum(block, spec, first, offset):
    ctx = _context_at(spec, 2 * (first + offset))
    return np.asarray(ctx.add.reduce(block.reshape(-1))).reshape(1)


def _final_sum(partials, spec, position):
    return _context_at(spec, 2 * position).add.reduce(partials.reshape(-1))


def sum(x, ctx, axis=None):
    """The sum of all elements of a Dask array, every addition rounded in ctx.

    x is taken in C order (``x.ravel()``); each of its chunks is summed
    recursively from 0, then the chunk sums, in chunk order, recursively from 0.
    That is ``sr.sum(x.ravel(), ctx, method="blocked", block=c)`` on the NumPy
    array when the raveled chunks all have c elements (the last may be shorter),
    bit for bit with a counter stream; in general, the chunk sums draw the words of
    their elements' positions, and the final sum the n next.

    Parameters
    ----------
    x : dask.array.Array
    ctx : Context
    axis : None
        Only None (the whole array) for now.

    Returns
    -------
    dask.array.Array
        A 0-d array; ``.compute()`` gives the NumPy scalar.
    """
    _check_context(ctx)
    if axis is not None:
        raise ValueError("srround.dask.sum sums the whole array: axis must be None")
    x = da.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"srround.dask.sum needs real numbers, got {x.dtype}")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    x = x.ravel()
    n = x.shape[0]
    if n == 0:
        raise ValueError("sum of an empty sequence")
    nchunks = len(x.chunks[0])
    first = ctx._reserve(n + nchunks, 8) if ctx.stochastic else 0
    spec = _spec(ctx)
    offsets = np.cumsum((0,) + x.chunks[0][:-1])
    partial = [da.from_delayed(dask.delayed(_chunk_sum)(b, spec, first, int(o)), (1,), x.dtype)
               for b, o in zip(x.to_delayed().ravel(), offsets)]
    partials = da.concatenate(partial).rechunk(-1)
    return da.from_delayed(dask.delayed(_final_sum)(partials, spec, first + n), (), x.dtype)


def ensemble(fn, ctx, n_runs, *, scheduler=None):
    """``np.stack([fn(c) for c in ctx.spawn(n_runs)])``, the runs as Dask tasks.

    Any stochastic context (either stream: spawned streams are independent) or
    deterministic one. The results are those of the serial loop over the same
    spawned contexts, bit for bit, on any scheduler (each task gets its own pickled
    context). fn must be picklable for process-based schedulers.

    Parameters
    ----------
    fn : callable
        fn(ctx_i) -> array-like, the same shape for every run.
    ctx : Context
        The parent; it moves past the spawned streams, as spawn does.
    n_runs : int
    scheduler : str, optional
        Passed to ``dask.compute`` (default: Dask's, or the active
        ``distributed.Client``).

    Returns
    -------
    numpy.ndarray
        Shape (n_runs, ...).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a Context, got {type(ctx).__name__}")
    tasks = [dask.delayed(fn, pure=False)(child) for child in ctx.spawn(n_runs)]
    results = dask.compute(*tasks, scheduler=scheduler) if tasks else ()
    return np.stack([np.asarray(r) for r in results]) if results else np.empty((0,))
