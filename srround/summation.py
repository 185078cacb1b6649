"""Sums, running sums, dot products and matrix products with every operation rounded.

These are the algorithms as the papers write them, one rounded operation per
arithmetic step, built on a Context's ufuncs (the loops run in C):

* ``sum(x, ctx, method=...)``: recursive, pairwise, blocked or Kahan-compensated
  summation, every addition (for Kahan every operation) rounded in ``ctx``.
* ``cumsum(x, ctx)``: the running sums of recursive summation, each one rounded.
* ``dot(x, y, ctx)`` and ``matmul(A, B, ctx)``: each product rounded in ``ctx``, then
  the products summed recursively along the inner dimension, each addition rounded
  in ``accumulate`` (another Context for mixed precision, ``ctx`` by default).

Input is taken as given: the values are not rounded into the format first (do that
with ``ctx.round(x)`` to model data stored in the format). Every partial sum is
rounded, so the result is always a value of the format.

How many random words a stochastic context draws, and in which order, is part of
the contract (it is what makes runs reproducible and lets tests replay them). The
summed axes are moved to the front and the data laid out as an (n, m) C-ordered
array: n terms for each of m lanes (m = 1 for a 1-D sum); "step-major" below means
step 1 of every lane (lanes in C order of the remaining axes), then step 2, and so on.
"""
import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from srround._core import _SPLIT_ARITH, MATMUL_ROWS, Context, _dot_kernel, _matmul_kernel
from srround.rounding import as_float_array
from srround.threads import get_num_threads

METHODS = ("recursive", "pairwise", "blocked", "kahan")
DEFAULT_BLOCK = 128


# ---------------------------------------------------------------- argument checks

def _check_context(ctx, what="ctx"):
    if not isinstance(ctx, Context):
        raise TypeError(f"{what} must be an srround Context, got {type(ctx).__name__}")


def _product_and_sum_contexts(ctx, accumulate):
    """Checks both; returns the context that rounds the sums (ctx by default)."""
    _check_context(ctx)
    acc = ctx if accumulate is None else accumulate
    _check_context(acc, "accumulate")
    return acc


def _check_dtype_fits(arr, contexts):
    if arr.dtype == np.float32:
        for c in contexts:
            if not c.format.fits_float32:
                raise ValueError(f"{c.format!r} has values that float32 cannot hold; "
                                 "pass float64 input")


def _lanes(arr, axis, what):
    """(X, rest): X the (n, m) C-ordered array of the terms, the summed axes first in
    C order; rest the shape of what remains. Raises ValueError when n == 0."""
    if axis is None:
        axes = tuple(range(arr.ndim))
    else:
        axes = normalize_axis_tuple(axis, arr.ndim)
    others = [a for a in range(arr.ndim) if a not in axes]
    n = int(np.prod([arr.shape[a] for a in axes], dtype=np.int64))
    rest = tuple(arr.shape[a] for a in others)
    if n == 0:
        raise ValueError(f"{what} of an empty sequence: the summed axes have no elements "
                         f"(shape {arr.shape}, axis={axis!r})")
    m = int(np.prod(rest, dtype=np.int64))
    moved = np.transpose(arr, list(axes) + others)
    return np.ascontiguousarray(moved).reshape(n, m), rest


def _finish(values, rest):
    """values (m,) -> the result of shape rest; a NumPy scalar when rest is ()."""
    out = values.reshape(rest)
    return out[()] if rest == () else out


def _zero(dtype):
    return np.zeros((), dtype)


# ---------------------------------------------------------------- summation

def sum(x, ctx, method="recursive", *, axis=None, block=DEFAULT_BLOCK):
    """Sum of x with every addition rounded in ctx's format and rounding mode.

    x is taken as given, not rounded into the format first (use ``ctx.round(x)`` to
    model data stored in the format); every sum is rounded, so the result is a
    value of the format.

    Parameters
    ----------
    x : array_like
        float32 or float64 values (other real input becomes float64).
    ctx : Context
        The format and rounding of every operation.
    method : {"recursive", "pairwise", "blocked", "kahan"}, optional
        ``"recursive"`` (default): s = fl(s + x_i) for i = 1..n from s = 0, so the
        first step is fl(0 + x_1) (as ``ctx.add.reduce``); n rounded additions.

        ``"pairwise"``: level by level, adjacent pairs: level 1 forms
        fl(x_1 + x_2), fl(x_3 + x_4), ...; an odd element at the end moves up to
        the next level unchanged; repeat until one value is left (a tree of depth
        ceil(log2 n); for n a power of two the classic recursive halving). n - 1
        rounded additions; n = 1 gives fl(0 + x_1).

        ``"blocked"``: x is cut into blocks of ``block`` elements (the last one may
        be shorter, and is not padded); each block is summed recursively, then the
        block sums are summed recursively (both from 0). n + ceil(n / block)
        rounded additions.

        ``"kahan"``: Kahan's compensated summation, every operation rounded:
        y = fl(x_i - c), t = fl(s + y), c = fl(fl(t - s) - y), s = t, from
        s = c = 0. 4n rounded operations. (An infinite term makes the compensation
        inf - inf, so the Kahan sum is NaN, as in IEEE arithmetic.)
    axis : None, int or tuple of int, optional
        The summed axes (None: all elements).
    block : int, optional
        The block size of ``"blocked"`` (default 128).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The sums, of x's float dtype, shaped as x without the summed axes.

    Raises
    ------
    TypeError
        For a ctx that is not a Context, non-real x, or a method or block of the
        wrong type.
    ValueError
        For an unknown method, block < 1, an empty sum, or float32 x with a format
        that float32 cannot hold.

    Notes
    -----
    Random words (stochastic contexts), one per rounded operation. recursive:
    step-major (a 1-D sum: element order). pairwise: level by level; within a level
    pair by pair, each pair across the lanes. blocked: block by block, within a
    block step-major; then the last, shorter block step-major; then the block sums
    step-major (a 1-D sum: blocks in order, elements in order, then the block sums
    in order). kahan: lane by lane, 4 words per element in the order of the four
    operations. (The module docstring defines lanes and step-major order.)

    Examples
    --------
    4096 terms 0.1 (exact sum 409.6) in binary16 with round to nearest: the
    recursive sum stagnates where 0.1 falls below half the spacing.

    >>> x = np.full(4096, 0.1)
    >>> rn = sr.Context(sr.binary16, "nearest")
    >>> sr.sum(x, rn), sr.sum(x, rn, "pairwise"), sr.sum(x, rn, "kahan")
    (np.float64(256.0), np.float64(409.5), np.float64(409.5))
    >>> sr.sum(x, sr.Context(sr.binary16, "stochastic", rng=0))
    np.float64(405.75)
    >>> sr.sum(np.ones((3, 1000)), rn, axis=1)
    array([1000., 1000., 1000.])
    """
    _check_context(ctx)
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, one of {METHODS}, got {method!r}")
    if method not in METHODS:
        raise ValueError(f"unknown summation method {method!r}; choose one of {METHODS}")
    if method == "blocked":
        if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)):
            raise TypeError(f"block must be an integer, got {block!r}")
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
    arr = as_float_array(x)
    _check_dtype_fits(arr, [ctx])
    X, rest = _lanes(arr, axis, "sum")
    values = _SUMS[method](X, ctx, int(block) if method == "blocked" else None)
    return _finish(values, rest)


def _sum_recursive(X, ctx, _block=None):
    n, m = X.shape
    if m == 1:
        return np.asarray(ctx.add.reduce(X.reshape(n))).reshape(1)
    return ctx.add.reduce(X, axis=0)


def _sum_pairwise(X, ctx, _block=None):
    n, m = X.shape
    if n == 1:
        return ctx.add(_zero(X.dtype), X[0])
    level = X
    while level.shape[0] > 1:
        k = level.shape[0]
        h = k // 2
        nxt = np.empty((h + k % 2, m), X.dtype)
        # contiguous operands: the fast kernels, and C-order draws whatever the layout
        left = np.ascontiguousarray(level[0:2 * h:2])
        right = np.ascontiguousarray(level[1:2 * h:2])
        ctx.add(left, right, out=nxt[:h])
        if k % 2:
            nxt[h] = level[k - 1]      # the odd one out moves up unchanged
        level = nxt
    return level[0]


def _sum_blocked(X, ctx, block):
    n, m = X.shape
    full = n // block
    tail = n - full * block
    sums = np.empty((full + (tail > 0), m), X.dtype)
    if full:
        head = X[:full * block]
        if m == 1:
            sums[:full, 0] = ctx.add.reduce(head.reshape(full, block), axis=1)
        else:
            sums[:full] = ctx.add.reduce(head.reshape(full, block, m), axis=1)
    if tail:
        sums[full] = _sum_recursive(X[full * block:], ctx)
    return _sum_recursive(sums, ctx)


def _sum_kahan(X, ctx, _block=None):
    n, m = X.shape
    out = np.empty(m, X.dtype)
    for j in range(m):
        out[j] = ctx.kahan_sum(X[:, j])
    return out


_SUMS = {"recursive": _sum_recursive, "pairwise": _sum_pairwise,
         "blocked": _sum_blocked, "kahan": _sum_kahan}


def cumsum(x, ctx, *, axis=None):
    """Running sums of recursive summation, each rounded in ctx.

    out[0] = fl(0 + x_0), out[k] = fl(out[k-1] + x_k). Unlike
    ``ctx.add.accumulate`` (NumPy's rule copies x_0 unrounded), the first value is
    rounded too, so every entry is a value of the format, and for 1-D x out[-1]
    equals ``sum(x, ctx, "recursive")`` from the same stream state (same
    operations, same words).

    Parameters
    ----------
    x : array_like
        float32 or float64 values (other real input becomes float64).
    ctx : Context
        The format and rounding of every addition.
    axis : None or int, optional
        None flattens x (as ``np.cumsum``); an int sums along that axis.

    Returns
    -------
    numpy.ndarray
        The running sums: 1-D for axis=None, else of x's shape.

    Raises
    ------
    TypeError
        For a ctx that is not a Context or non-real x.
    ValueError
        For an empty axis, or float32 x with a format float32 cannot hold.

    Notes
    -----
    Random words, one per element: the first element of every lane (lanes in C
    order of the other axes), then lane by lane the rest in order (a 1-D cumsum:
    element order).

    Examples
    --------
    >>> sr.cumsum(np.full(5, 0.1), sr.Context(sr.binary16, "nearest"))
    array([0.09997559, 0.19995117, 0.30004883, 0.40014648, 0.5       ])
    """
    _check_context(ctx)
    arr = as_float_array(x)
    _check_dtype_fits(arr, [ctx])
    if axis is None:
        arr = arr.reshape(-1)
        axis = 0
    else:
        (axis,) = normalize_axis_tuple(axis, arr.ndim)
    if arr.shape[axis] == 0:
        raise ValueError(f"cumsum of an empty sequence (shape {arr.shape}, axis={axis})")
    # lanes as rows, each row contiguous; accumulate runs one lane after the other
    lanes = np.ascontiguousarray(np.moveaxis(arr, axis, -1))
    shape = lanes.shape
    rows = lanes.reshape(-1, shape[-1])
    start = rows.copy()
    start[:, 0] = ctx.add(_zero(rows.dtype), rows[:, 0])
    out = ctx.add.accumulate(start, axis=1)
    return np.moveaxis(out.reshape(shape), -1, axis)


# ---------------------------------------------------------------- dot and matmul

def _float_pair(a, b, contexts):
    a = as_float_array(a, "x")
    b = as_float_array(b, "y")
    dtype = np.float32 if a.dtype == b.dtype == np.float32 else np.float64
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    _check_dtype_fits(a, contexts)
    return a, b


def dot(x, y, ctx, *, axis=-1, accumulate=None):
    """Inner products along ``axis`` with every operation rounded.

    Like ``np.vecdot`` for real input: each product fl(x_i * y_i) is rounded in
    ctx, then the products are summed recursively, s = fl(s + p_i) from s = 0, each
    addition rounded in ``accumulate`` (binary16 products accumulated in binary32,
    for instance, as tensor cores do).

    Parameters
    ----------
    x, y : array_like
        Real values; the axes other than ``axis`` broadcast against each other and
        the summed axis has the same length in both.
    ctx : Context
        Rounds the products.
    axis : int, optional
        The summed axis (default the last).
    accumulate : Context, optional
        Rounds the additions (default ctx).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The float dtype of x and y (float32 only when both are float32).

    Raises
    ------
    TypeError
        For contexts that are not Contexts, or non-real input.
    ValueError
        For scalars, summed axes of different lengths, shapes that do not
        broadcast, or float32 input with a format float32 cannot hold.

    Notes
    -----
    Random words: all products step-major, then all additions step-major (from
    accumulate's stream, which may be ctx's).

    A single inner product (1-D x and y, or one lane) runs in one pass
    (csrc/dot_fused.h): products and sums chunk by chunk in cache, the same bits and
    the same words as the two passes, products then sums.

    Examples
    --------
    >>> x = np.ones(3000)
    >>> fp16 = sr.Context(sr.binary16, "nearest")
    >>> sr.dot(x, x, fp16)           # 2048 + 1 rounds back to 2048 in binary16
    np.float64(2048.0)
    >>> sr.dot(x, x, fp16, accumulate=sr.Context(sr.binary32, "nearest"))
    np.float64(3000.0)
    """
    acc = _product_and_sum_contexts(ctx, accumulate)
    a, b = _float_pair(x, y, [ctx, acc])
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("dot needs at least 1-D inputs, got a scalar")
    (ax_a,) = normalize_axis_tuple(axis, a.ndim)
    (ax_b,) = normalize_axis_tuple(axis, b.ndim)
    if a.shape[ax_a] != b.shape[ax_b]:
        raise ValueError(f"dot: the summed axis has length {a.shape[ax_a]} in x and "
                         f"{b.shape[ax_b]} in y")
    fused = _fused_dot_applies(ctx, acc, a.shape[ax_a])
    if fused and a.ndim == b.ndim == 1 and a.size:   # one vector pair: no reshaping
        value, raised = _dot_kernel(ctx, acc, np.ascontiguousarray(a), np.ascontiguousarray(b))
        report_flags(raised)
        return a.dtype.type(value)
    a = np.moveaxis(a, ax_a, -1)
    b = np.moveaxis(b, ax_b, -1)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(f"dot: shapes {np.shape(x)} and {np.shape(y)} do not broadcast "
                         f"(summing over axis {axis})") from None
    X, rest = _lanes(a, -1, "dot")
    Y, _ = _lanes(b, -1, "dot")
    if X.shape[1] == 1 and fused:
        value, raised = _dot_kernel(ctx, acc, X[:, 0], Y[:, 0])
        report_flags(raised)
        return _finish(np.asarray(value, X.dtype).reshape(1), rest)
    return _finish(_dot_two_pass(X, Y, ctx, acc), rest)


def _dot_two_pass(X, Y, ctx, acc):
    """dot's inner products of the (n, m) lanes X, Y in two passes: the products into
    an array, then their recursive sums. The one-pass kernel (csrc/dot_fused.h) gives
    the same bits and stream positions for one lane; tests compare the two."""
    return _sum_recursive(ctx.multiply(X, Y), acc)


# the smallest multiply that threads split (csrc/threads.c: two parts of SR_SPLIT_ARITH)
_THREADED_PRODUCTS = 2 * _SPLIT_ARITH


def _fused_dot_applies(ctx, acc, n):
    """Whether one lane's inner product of length n may take the one-pass kernel
    (one thread): not for formats without -0 (their ufuncs clear -0 after each call:
    csrc/unsigned_zero.c); not when np.errstate makes a flag raise, where the two
    passes stop after the products, with the stream after their words alone; and not
    where ctx.multiply would split the products across threads (a deterministic mode
    or a counter stream, several threads, a long vector)."""
    if not (ctx.format.signed_zero and acc.format.signed_zero):
        return False
    if ((not ctx.stochastic or ctx.stream == "counter") and n >= _THREADED_PRODUCTS
            and get_num_threads() > 1):
        return False
    err = np.geterr()
    return "raise" not in (err["over"], err["invalid"], err["divide"])


def matmul(A, B, ctx, *, accumulate=None):
    """Matrix product with rounded arithmetic, shaped like ``np.matmul``.

    C[..., i, j] = sum over l of fl(A[..., i, l] * B[..., l, j]), each product
    rounded in ctx, the sum recursive (s = fl(s + p_l) from s = +0, l in order), each
    addition rounded in ``accumulate``. Batch dimensions broadcast; 1-D operands
    are promoted and the added axis removed, as in np.matmul. Each product and
    each addition is its exact result rounded once, as ``ctx.multiply`` and
    ``accumulate.add`` give it; a blocked C kernel (csrc/matmul.c) does the work.

    Parameters
    ----------
    A, B : array_like
        Real matrices (or stacks of them, or vectors) whose inner dimensions agree.
    ctx : Context
        Rounds the products.
    accumulate : Context, optional
        Rounds the additions (default ctx): mixed precision.

    Returns
    -------
    numpy.ndarray or numpy scalar
        The float dtype of A and B (float32 only when both are float32).

    Raises
    ------
    TypeError
        For contexts that are not Contexts, or non-real input.
    ValueError
        For scalars, inner dimensions that differ or are empty, batch dimensions
        that do not broadcast, or float32 input with a format float32 cannot hold.

    Notes
    -----
    Memory: besides the inputs and the result, at most 2 * min(n, 4096) random
    words and a few small buffers, whatever the shapes: broadcast batches are
    never copied. Overflow, division by zero and invalid operations are reported
    as NumPy's own operations report them (``np.errstate``).

    Random words (stochastic contexts). Batches in C order of the batch shape; in a
    batch, the output rows in blocks of ``MATMUL_ROWS`` (4) rows, the last block
    shorter; in a block, for l = 0, ..., k-1, for each row i of the block in order:

        the n products fl(A[i, l] * B[l, j]), j in order   (n words from ctx)
        the n additions C[i, j] = fl(C[i, j] + p_j)        (n words from accumulate)

    With ``accumulate`` omitted that is one stream: row i's n product words, then
    its n addition words. A context with a deterministic mode draws nothing. The
    order does not depend on the machine or the kernel's instruction set.

    Examples
    --------
    binary16 products accumulated in binary32, as a tensor core's mixed precision:

    >>> A, B = np.ones((2, 3000)), np.ones((3000, 2))
    >>> sr.matmul(A, B, sr.Context("fp16", "nearest"))
    array([[2048., 2048.],
           [2048., 2048.]])
    >>> sr.matmul(A, B, sr.Context("fp16", "nearest"), accumulate=sr.Context("fp32", "nearest"))
    array([[3000., 3000.],
           [3000., 3000.]])
    """
    acc = _product_and_sum_contexts(ctx, accumulate)
    a, b = _float_pair(A, B, [ctx, acc])
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have at least one dimension")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = a[None, :]
    if b_vec:
        b = b[:, None]
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: inner dimensions differ: {np.shape(A)} @ {np.shape(B)}")
    if k == 0:
        raise ValueError(f"matmul: the inner dimension is empty: {np.shape(A)} @ {np.shape(B)}")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions do not broadcast: {np.shape(A)} @ "
                         f"{np.shape(B)}") from None
    nb = math.prod(batch)
    out = np.empty((nb, m, n), a.dtype)
    if out.size:
        # broadcast views, never materialized: the kernel reads each batch in place
        a_all = np.broadcast_to(a, batch + (m, k))
        b_all = np.broadcast_to(b, batch + (k, n))
        first = (0,) * len(batch)
        offsets = np.arange(nb, dtype=np.intp) * out.strides[0]
        raised = _matmul_kernel(ctx, acc, a_all[first], b_all[first], out[0],
                                _batch_offsets(a_all, batch), _batch_offsets(b_all, batch),
                                offsets, False, True)
        report_flags(raised)
        if not acc.format.signed_zero:     # the kernel works as for a format with -0
            out[out == 0] = 0
    out = out.reshape(batch + (m, n))
    if a_vec and b_vec:
        return out[..., 0, 0][()]
    if a_vec:
        return out[..., 0, :]
    if b_vec:
        return out[..., 0]
    return out


def _batch_offsets(x, batch):
    """The byte offset of each batch of x (C order of batch) from its first."""
    offsets = np.zeros(batch, np.intp)
    for d, (size, stride) in enumerate(zip(batch, x.strides[:len(batch)])):
        shape = [1] * len(batch)
        shape[d] = size
        offsets = offsets + (np.arange(size, dtype=np.intp) * stride).reshape(shape)
    return np.ascontiguousarray(offsets.reshape(-1))


def report_flags(raised):
    """Reports the floating-point flags a C kernel returns (1 overflow, 2 divide by
    zero, 4 invalid) the way NumPy reports its own: an operation that raises the
    same flag, so np.errstate (ignore, warn, raise, call, log) applies."""
    if not raised:
        return
    big, zero = np.float64(np.finfo(np.float64).max), np.float64(0.0)
    if raised & 1:
        np.multiply(big, np.float64(2.0))
    if raised & 2:
        np.divide(np.float64(1.0), zero)
    if raised & 4:
        np.subtract(np.float64(np.inf), np.float64(np.inf))
