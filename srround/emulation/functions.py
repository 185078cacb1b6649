"""NumPy functions on EmulatedArrays (the ``__array_function__`` table).

Four kinds, as in srround/emulation/array.py's module docstring:

* exact rearranging and selecting functions (reshape, concatenate, where, sort, diag,
  max, argmax ...): NumPy's function on the stored values; values that come from
  constants (``np.where(c, a, 0.1)``, ``np.full_like(a, 3)``) are rounded to nearest
  into the format first, drawing no random words;
* predicates and queries (isclose, array_equal, nonzero, shape ...): plain results;
* reductions and products (sum, prod, mean, var, std, cumsum, cumprod, trace, diff,
  dot, inner, vdot, outer, matmul, linalg.norm): every step rounded, as
  srround.summation defines the sums and products;
* np.linalg.solve / inv / cholesky: srround.linalg, every operation rounded.

Every other NumPy function raises TypeError (not in FUNCTIONS).
"""
import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from srround import linalg, summation
from srround.emulation.array import (EmulatedArray, common_setting, not_emulated,
                                     result_dtype, values_of, wrap, F32, F64)

FUNCTIONS = {}
_NO_VALUE = np._NoValue


def _register(names, handler):
    """handler for each NumPy function named in names (those this NumPy has)."""
    for name in names.split():
        space = np
        for part in name.split("."):
            space = getattr(space, part, None)
        if space is not None:
            FUNCTIONS[space] = handler


def implements(names):
    def register(handler):
        _register(names, handler)
        return handler
    return register


# ---------------------------------------------------------------- helpers

def _unwrap(x):
    if isinstance(x, EmulatedArray):
        return x._values
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_unwrap(v) for v in x)
    return x


def _wrap_floats(result, setting):
    """Float arrays and scalars in result become EmulatedArrays; the rest stays."""
    if isinstance(result, np.ndarray):
        return wrap(result, setting) if result.dtype in (F32, F64) else result
    if isinstance(result, (np.float32, np.float64)):
        return wrap(np.asarray(result), setting)
    if isinstance(result, (list, tuple)):
        items = [_wrap_floats(r, setting) for r in result]
        return type(result)(*items) if hasattr(result, "_fields") else type(result)(items)
    return result


def _emulated(a, what):
    if not isinstance(a, EmulatedArray):
        raise TypeError(f"{what} on EmulatedArrays needs an EmulatedArray as its array "
                        f"argument, got {type(a).__name__}")
    return a


def _check_dtype(dtype, storage, what):
    if dtype is not None and np.dtype(dtype) != storage:
        raise TypeError(f"{what}(..., dtype={np.dtype(dtype)}) would change the storage "
                        f"dtype ({storage}) of an EmulatedArray")


def _deliver(result, out, setting):
    """result as an EmulatedArray, or copied into out= (returned, as NumPy does)."""
    if out is None:
        return wrap(np.asarray(result), setting)
    target = out._values if isinstance(out, EmulatedArray) else out
    if not isinstance(target, np.ndarray) or target.dtype not in (F32, F64):
        raise TypeError("out= must be an EmulatedArray or a float32/float64 ndarray")
    if target.dtype == F32 and not setting.format.fits_float32:
        raise ValueError(f"out= is float32, but {setting.format!r} has values that "
                         "float32 cannot hold")
    np.copyto(target, result)
    return out


def _axes(axis, ndim):
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def _keep(result, shape, axes, keepdims):
    if not keepdims:
        return result
    return np.reshape(result, [1 if i in axes else n for i, n in enumerate(shape)])


def _count(shape, axes):
    return math.prod(shape[i] for i in axes)


def _rest(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


# ---------------------------------------------------------------- exact functions

def _pure(func):
    """func on the stored values; its float results are values of the format."""
    def handler(*args, **kwargs):
        setting = common_setting(list(args) + list(kwargs.values()))
        result = func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
        out = kwargs.get("out")
        if isinstance(out, EmulatedArray):
            return out
        return _wrap_floats(result, setting)
    return handler


_PURE = """reshape transpose permute_dims swapaxes moveaxis rollaxis squeeze expand_dims
    ravel broadcast_to diagonal diag diagflat triu tril
    flip fliplr flipud rot90 roll tile repeat resize split array_split hsplit vsplit
    dsplit unstack take take_along_axis compress extract delete sort partition copy fix
    real imag unique unique_values nanmax nanmin argmax argmin nanargmax nanargmin
    argsort argpartition nonzero flatnonzero argwhere count_nonzero searchsorted any
    all isclose allclose array_equal array_equiv shape ndim size iscomplexobj isrealobj
    isreal iscomplex may_share_memory shares_memory matrix_transpose linalg.diagonal
    linalg.matrix_transpose"""
for _name in _PURE.split():
    _func = np
    for _part in _name.split("."):
        _func = getattr(_func, _part, None)
    if _func is not None:
        FUNCTIONS[_func] = _pure(_func)


def exact_reduction(reduce, a, boolean=False, out=None, initial=_NO_VALUE, **kwargs):
    """max/min (and maximum.reduce ...) on the stored values; initial= is a constant."""
    a = _emulated(a, "a reduction")
    setting = a._setting
    if initial is not _NO_VALUE:
        kwargs["initial"] = setting.constant(initial, a._values.dtype)[()]
    if boolean:
        return reduce(a._values, out=out, **kwargs)
    if out is not None:
        return _deliver(reduce(a._values, **kwargs), out, setting)
    return wrap(np.asarray(reduce(a._values, **kwargs)), setting)


def _extreme(func):
    def handler(a, axis=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        kwargs = {"axis": axis, "keepdims": keepdims}
        if where is not True:
            kwargs["where"] = where
        return exact_reduction(func, a, out=out, initial=initial, **kwargs)
    return handler


for _names, _func in (("max amax", np.max), ("min amin", np.min)):
    _register(_names, _extreme(_func))


@implements("round around")
def _round(a, decimals=0, out=None):
    if decimals != 0:
        raise not_emulated(f"np.round with decimals={decimals!r}",
                           " (only decimals=0, rounding to integers, is exact)")
    a = _emulated(a, "np.round")
    return _deliver(np.rint(a._values), out, a._setting)


# ---------------------------------------------------------------- exact, with constants

def _data(items, setting, dtype):
    return [values_of(x, setting, dtype) for x in items]


def _sequence(func):
    """concatenate, stack ...: every item a value of the format (constants rounded)."""
    def handler(arrays, *args, dtype=None, out=None, **kwargs):
        arrays = list(arrays)
        setting = common_setting(arrays)
        storage = result_dtype(arrays)
        _check_dtype(dtype, storage, f"np.{func.__name__}")
        result = func(_data(arrays, setting, storage), *args, **kwargs)
        return _deliver(result, out, setting)
    return handler


for _name in "concatenate stack vstack hstack dstack column_stack".split():
    _register(_name, _sequence(getattr(np, _name)))


@implements("block")
def _block(arrays):
    setting = common_setting([arrays])
    storage = result_dtype([arrays])

    def convert(x):
        if isinstance(x, list):
            return [convert(v) for v in x]
        return values_of(x, setting, storage)
    return wrap(np.block(convert(arrays)), setting)


@implements("append")
def _append(arr, values, axis=None):
    setting = common_setting((arr, values))
    storage = result_dtype((arr, values))
    return wrap(np.append(*_data((arr, values), setting, storage), axis=axis), setting)


@implements("insert")
def _insert(arr, obj, values, axis=None):
    setting = common_setting((arr, values))
    storage = result_dtype((arr, values))
    a, v = _data((arr, values), setting, storage)
    return wrap(np.insert(a, _unwrap(obj), v, axis=axis), setting)


@implements("where")
def _where(condition, x=_NO_VALUE, y=_NO_VALUE):
    condition = _unwrap(condition)
    if x is _NO_VALUE and y is _NO_VALUE:
        return np.where(condition)
    setting = common_setting((x, y))
    storage = result_dtype((x, y))
    return wrap(np.where(condition, *_data((x, y), setting, storage)), setting)


@implements("clip")
def _clip(a, a_min=_NO_VALUE, a_max=_NO_VALUE, out=None, *, min=_NO_VALUE, max=_NO_VALUE,
          **kwargs):
    if kwargs:
        raise TypeError(f"np.clip(..., {', '.join(kwargs)}=) is not supported on "
                        "EmulatedArrays")
    lo = a_min if a_min is not _NO_VALUE else min
    hi = a_max if a_max is not _NO_VALUE else max
    bounds = [None if b is _NO_VALUE or b is None else b for b in (lo, hi)]
    setting = common_setting([a] + bounds)
    storage = result_dtype([a] + bounds)
    av = values_of(a, setting, storage)
    lo, hi = (None if b is None else values_of(b, setting, storage) for b in bounds)
    return _deliver(np.clip(av, lo, hi), out, setting)


def _filled(a, value, dtype, order, shape, what):
    a = _emulated(a, what)
    setting, storage = a._setting, a._values.dtype
    _check_dtype(dtype, storage, what)
    value = values_of(value, common_setting((a, value)), storage)
    return wrap(np.full_like(a._values, value, order=order, shape=shape), setting)


@implements("zeros_like empty_like")
def _zeros_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """zeros (also for empty_like: never uninitialized memory, which would not hold
    values of the format)."""
    return _filled(a, 0.0, dtype, order, shape, "np.zeros_like")


@implements("ones_like")
def _ones_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    return _filled(a, 1.0, dtype, order, shape, "np.ones_like")


@implements("full_like")
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *,
               device=None):
    return _filled(a, fill_value, dtype, order, shape, "np.full_like")


_EXACT_PAD_MODES = ("constant", "edge", "wrap", "reflect", "symmetric", "maximum",
                    "minimum")


@implements("pad")
def _pad(array, pad_width, mode="constant", **kwargs):
    if mode not in _EXACT_PAD_MODES or kwargs.get("reflect_type", "even") != "even":
        raise not_emulated(f"np.pad with mode={mode!r}",
                           f" (exact modes: {', '.join(_EXACT_PAD_MODES)})")
    a = _emulated(array, "np.pad")
    setting = a._setting
    for key in ("constant_values", "end_values"):
        if key in kwargs:
            kwargs[key] = setting.constant(_unwrap(kwargs[key]), a._values.dtype)
    return wrap(np.pad(a._values, _unwrap(pad_width), mode=mode, **kwargs), setting)


def _in_place(func):
    """put, place, putmask, fill_diagonal: the new values rounded to nearest."""
    def handler(a, where, values, *args, **kwargs):
        a = _emulated(a, f"np.{func.__name__}")
        setting = common_setting((a, values))
        func(a._values, _unwrap(where), values_of(values, setting, a._values.dtype),
             *args, **kwargs)
    return handler


for _name in "put place putmask".split():
    _register(_name, _in_place(getattr(np, _name)))


@implements("fill_diagonal")
def _fill_diagonal(a, val, wrap=False):
    a = _emulated(a, "np.fill_diagonal")
    np.fill_diagonal(a._values, values_of(val, a._setting, a._values.dtype), wrap=wrap)


@implements("copyto")
def _copyto(dst, src, casting="same_kind", where=True):
    where = _unwrap(where)
    if isinstance(dst, EmulatedArray):
        setting = common_setting((dst, src))
        np.copyto(dst._values, values_of(src, setting, dst._values.dtype),
                  casting=casting, where=where)
    else:                    # a plain destination: the stored values, copied
        np.copyto(dst, _unwrap(src), casting=casting, where=where)


@implements("select")
def _select(condlist, choicelist, default=0):
    setting = common_setting([choicelist, default])
    storage = result_dtype([choicelist, default])
    choices = _data(choicelist, setting, storage)
    return wrap(np.select(_unwrap(condlist), choices,
                          values_of(default, setting, storage)), setting)


def _each(func):
    """meshgrid, broadcast_arrays, atleast_1d ...: every argument an array of values."""
    def handler(*arrays, **kwargs):
        kwargs.pop("subok", None)
        setting = common_setting(arrays)
        storage = result_dtype(arrays)
        return _wrap_floats(func(*_data(arrays, setting, storage), **kwargs), setting)
    return handler


for _name in "meshgrid broadcast_arrays atleast_1d atleast_2d atleast_3d".split():
    _register(_name, _each(getattr(np, _name)))


# ---------------------------------------------------------------- sums and products

def _whole_sum(setting, values):
    """What sr.sum(values, ctx, "recursive") does for a whole non-empty array (n terms,
    one lane: ctx.add.reduce of the values in C order), without its setup."""
    return np.asarray(setting.add.reduce(values.reshape(-1)))


def _sum_values(setting, values, axes, where=True):
    """The sums of values over axes, as sr.sum(values, ctx, method, axis=axes) gives
    them (an empty sum is 0); where= (recursive sums only) as ctx.add.reduce's."""
    rest = _rest(values.shape, axes)
    if _count(values.shape, axes) == 0:
        return np.zeros(rest, values.dtype)
    if where is True and setting.sum == "recursive" and len(axes) == values.ndim:
        return _whole_sum(setting, values)
    if where is True:
        return np.asarray(summation.sum(values, setting.ctx, setting.sum, axis=axes))
    if setting.sum != "recursive":
        raise TypeError(f"where= in an emulated sum needs sum='recursive' "
                        f"(this array sums with {setting.sum!r})")
    X, _ = summation._lanes(values, axes, "sum")
    W, _ = summation._lanes(np.broadcast_to(where, values.shape), axes, "sum")
    return setting.add.reduce(X, axis=0, where=W).reshape(rest)


def _reduction_args(a, axis, dtype, initial, what):
    a = _emulated(a, what)
    _check_dtype(dtype, a._values.dtype, what)
    if initial is not _NO_VALUE:
        raise not_emulated(f"{what}(..., initial=)")
    return a, a._setting, a._values, _axes(axis, a._values.ndim)


@implements("sum")
def sum_(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NO_VALUE,
         where=True):
    """np.sum / np.add.reduce / a.sum(): sr.sum(a.values, ctx, method=sum, axis=axis)."""
    if axis is None and out is None and dtype is None and not keepdims and where is True \
            and initial is _NO_VALUE and type(a) is EmulatedArray and a._values.size \
            and a._setting.sum == "recursive":
        return wrap(_whole_sum(a._setting, a._values), a._setting)     # the common call
    a, setting, values, axes = _reduction_args(a, axis, dtype, initial, "np.sum")
    result = _sum_values(setting, values, axes, where)
    return _deliver(_keep(result, values.shape, axes, keepdims), out, setting)


@implements("prod")
def prod_(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NO_VALUE,
          where=True):
    """np.prod / np.multiply.reduce: p = fl(p * x_i) from p = 1 (ctx.multiply.reduce),
    the reduced axes laid out as sr.sum lays them out (step-major)."""
    a, setting, values, axes = _reduction_args(a, axis, dtype, initial, "np.prod")
    rest = _rest(values.shape, axes)
    if _count(values.shape, axes) == 0:
        result = np.ones(rest, values.dtype)
    else:
        X, _ = summation._lanes(values, axes, "prod")
        kwargs = {}
        if where is not True:
            kwargs["where"], _ = summation._lanes(np.broadcast_to(where, values.shape),
                                                  axes, "prod")
        if X.shape[1] == 1 and not kwargs:
            result = np.asarray(setting.multiply.reduce(X[:, 0])).reshape(rest)
        else:
            result = setting.multiply.reduce(X, axis=0, **kwargs).reshape(rest)
    return _deliver(_keep(result, values.shape, axes, keepdims), out, setting)


def _mean_values(setting, values, axes):
    """fl(sum / n), n a constant rounded to nearest into the format."""
    total = _sum_values(setting, values, axes)
    n = _count(values.shape, axes)
    return setting.divide(total, setting.constant(float(n), values.dtype))


def _no_where(where, what):
    if where is not True:
        raise not_emulated(f"{what}(..., where=)")


@implements("mean")
def mean_(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """np.mean: the sum (as np.sum), then one rounded division by n."""
    a, setting, values, axes = _reduction_args(a, axis, dtype, _NO_VALUE, "np.mean")
    _no_where(where, "np.mean")
    result = np.asarray(_mean_values(setting, values, axes))
    return _deliver(_keep(result, values.shape, axes, keepdims), out, setting)


def _variance(a, axis, dtype, ddof, where, mean, correction, what):
    a, setting, values, axes = _reduction_args(a, axis, dtype, _NO_VALUE, what)
    _no_where(where, what)
    if correction is not _NO_VALUE:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    if mean is _NO_VALUE:
        m = _keep(np.asarray(_mean_values(setting, values, axes)), values.shape, axes, True)
    else:
        m = values_of(mean, common_setting((a, mean)), values.dtype)
    deviations = setting.subtract(values, m)
    squares = setting.multiply(deviations, deviations)
    total = _sum_values(setting, squares, axes)
    n = _count(values.shape, axes)
    divisor = setting.constant(float(max(n - ddof, 0)), values.dtype)
    return setting, values.shape, axes, np.asarray(setting.divide(total, divisor))


@implements("var")
def var_(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
         mean=_NO_VALUE, correction=_NO_VALUE):
    """Two-pass variance: m = mean(x); d = fl(x - m); fl(sum(fl(d * d)) / (n - ddof))."""
    setting, shape, axes, result = _variance(a, axis, dtype, ddof, where, mean,
                                             correction, "np.var")
    return _deliver(_keep(result, shape, axes, keepdims), out, setting)


@implements("std")
def std_(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
         mean=_NO_VALUE, correction=_NO_VALUE):
    """fl(sqrt(var)), the variance as np.var computes it."""
    setting, shape, axes, result = _variance(a, axis, dtype, ddof, where, mean,
                                             correction, "np.std")
    result = np.asarray(setting.sqrt(result))
    return _deliver(_keep(result, shape, axes, keepdims), out, setting)


def running(ufunc, a, axis=None, dtype=None, out=None):
    """cumsum / cumprod / add.accumulate / multiply.accumulate: the Context ufunc's
    accumulate (NumPy's rule: the first element copied, then every step rounded)."""
    a = _emulated(a, f"np.{ufunc.__name__}.accumulate")
    setting = a._setting
    values = a._values
    _check_dtype(dtype, values.dtype, "a running sum or product")
    if axis is None:
        values, axis = values.ravel(), 0
    method = setting.add if ufunc is np.add else setting.multiply
    result = method.accumulate(values, axis=axis)
    return _deliver(result, out, setting)


_register("cumsum", lambda a, axis=None, dtype=None, out=None:
          running(np.add, a, axis, dtype, out))
_register("cumprod", lambda a, axis=None, dtype=None, out=None:
          running(np.multiply, a, axis, dtype, out))


@implements("trace")
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """The sum (as np.sum) of the diagonal."""
    a = _emulated(a, "np.trace")
    _check_dtype(dtype, a._values.dtype, "np.trace")
    diagonal = np.diagonal(a._values, offset, axis1, axis2)
    result = _sum_values(a._setting, diagonal, (diagonal.ndim - 1,))
    return _deliver(result, out, a._setting)


@implements("linalg.trace")
def _linalg_trace(x, *, offset=0, dtype=None):
    return _trace(x, offset, -2, -1, dtype)


@implements("diff")
def _diff(a, n=1, axis=-1, prepend=_NO_VALUE, append=_NO_VALUE):
    """n times fl(x[i+1] - x[i]) along axis; prepend/append are constants."""
    setting = common_setting((a, prepend, append))
    values = _emulated(a, "np.diff")._values
    (axis,) = normalize_axis_tuple(axis, values.ndim)
    parts = []
    for extra in (prepend, values, append):
        if extra is values:
            parts.append(values)
        elif extra is not _NO_VALUE:
            v = np.asarray(values_of(extra, setting, values.dtype))
            if v.ndim == 0:
                shape = list(values.shape)
                shape[axis] = 1
                v = np.broadcast_to(v, shape)
            parts.append(v)
    if len(parts) > 1:
        values = np.concatenate(parts, axis=axis)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    upper = [slice(None)] * values.ndim
    lower = [slice(None)] * values.ndim
    upper[axis], lower[axis] = slice(1, None), slice(None, -1)
    for _ in range(n):
        values = setting.subtract(values[tuple(upper)], values[tuple(lower)])
    return wrap(values, setting)


# ---------------------------------------------------------------- dot products

def _matmul(setting, a, b):
    """sr.matmul(a, b, ctx, accumulate=...), an empty inner dimension giving zeros."""
    if a.shape[-1] == 0:
        return np.matmul(np.zeros_like(a), np.zeros_like(b))
    return np.asarray(summation.matmul(a, b, setting.ctx, accumulate=setting.accumulate))


def _pair(a, b):
    setting = common_setting((a, b))
    storage = result_dtype((a, b))
    av, bv = (np.asarray(v) for v in _data((a, b), setting, storage))
    return setting, av, bv


@implements("dot")
def _dot(a, b, out=None):
    """np.dot: a product rounded in ctx for scalars; otherwise sr.matmul of a, as an
    (m, k) matrix, with b (k,) or b's k axis moved first, as a (k, n) matrix."""
    setting, av, bv = _pair(a, b)
    if av.ndim == 0 or bv.ndim == 0:
        result = setting.multiply(av, bv)
    elif bv.ndim == 1:
        result = _matmul(setting, av, bv)
    else:
        k = av.shape[-1]
        a2 = av.reshape(-1, k)
        b2 = np.moveaxis(bv, -2, 0).reshape(k, -1) if bv.shape[-2] == k else None
        if b2 is None:
            raise ValueError(f"shapes {av.shape} and {bv.shape} not aligned")
        result = _matmul(setting, a2, b2).reshape(av.shape[:-1] + bv.shape[:-2]
                                                  + bv.shape[-1:])
    return _deliver(result, out, setting)


@implements("inner")
def _inner(a, b):
    """np.inner: sr.matmul of a (m, k) with b (n, k) transposed."""
    setting, av, bv = _pair(a, b)
    if av.ndim == 0 or bv.ndim == 0:
        return wrap(np.asarray(setting.multiply(av, bv)), setting)
    k = av.shape[-1]
    if bv.shape[-1] != k:
        raise ValueError(f"shapes {av.shape} and {bv.shape} not aligned")
    result = _matmul(setting, av.reshape(-1, k), bv.reshape(-1, k).T)
    return wrap(result.reshape(av.shape[:-1] + bv.shape[:-1]), setting)


@implements("vdot")
def _vdot(a, b):
    """np.vdot: the dot product of the flattened arrays (sr.matmul of two vectors)."""
    setting, av, bv = _pair(a, b)
    if av.size != bv.size:
        raise ValueError("cannot reshape array: vdot needs arrays of one size")
    return wrap(_matmul(setting, av.ravel(), bv.ravel()), setting)


@implements("outer linalg.outer")
def _outer(a, b, out=None):
    """Every product fl(a_i * b_j), in C order."""
    setting, av, bv = _pair(a, b)
    return _deliver(setting.multiply(av.ravel()[:, None], bv.ravel()[None, :]), out,
                    setting)


def product_ufunc(setting, ufunc, inputs, axis=-1):
    """np.matmul (and @), np.vecdot, np.matvec, np.vecmat on EmulatedArrays."""
    storage = result_dtype(inputs)
    av, bv = (np.asarray(v) for v in _data(inputs, setting, storage))
    if ufunc is np.matmul:
        return _matmul(setting, av, bv)
    if ufunc is np.vecdot:
        if av.shape[axis] == 0:
            return np.zeros(np.broadcast_shapes(np.delete(av.shape, axis),
                                                np.delete(bv.shape, axis)), storage)
        return np.asarray(summation.dot(av, bv, setting.ctx, axis=axis,
                                        accumulate=setting.accumulate))
    if ufunc is np.matvec:
        return _matmul(setting, av, bv[..., None])[..., 0]
    return _matmul(setting, av[..., None, :], bv)[..., 0, :]        # vecmat


def _product_function(ufunc):
    def handler(x1, x2, **kwargs):
        setting = common_setting((x1, x2))
        axis = kwargs.pop("axis", -1)
        if kwargs:
            raise TypeError(f"np.linalg.{ufunc.__name__}(..., {', '.join(kwargs)}=) is "
                            "not supported on EmulatedArrays")
        return wrap(product_ufunc(setting, ufunc, (x1, x2), axis), setting)
    return handler


_register("linalg.matmul", _product_function(np.matmul))
_register("linalg.vecdot", _product_function(np.vecdot))


# ---------------------------------------------------------------- norms

def _two_norm(x, axes, keepdims):
    """fl(sqrt(s)), s the sum of fl(x_i * x_i) over axes as sr.dot computes it."""
    x = _emulated(x, "np.linalg.norm")
    setting, values = x._setting, x._values
    rest = _rest(values.shape, axes)
    n = _count(values.shape, axes)
    if n == 0:
        squares = np.zeros(rest, values.dtype)
    else:
        others = [i for i in range(values.ndim) if i not in axes]
        lanes = np.transpose(values, others + list(axes)).reshape(rest + (n,))
        squares = np.asarray(summation.dot(lanes, lanes, setting.ctx, axis=-1,
                                           accumulate=setting.accumulate))
    result = np.asarray(setting.sqrt(squares))
    return wrap(_keep(result, values.shape, axes, keepdims), setting)


@implements("linalg.norm")
def _norm(x, ord=None, axis=None, keepdims=False):
    ndim = np.ndim(x)
    axes = _axes(axis, ndim)
    if ord not in (None, 2, "fro") or (ord == 2 and len(axes) == 2) \
            or (ord == 2 and axis is None and ndim == 2):
        raise not_emulated(f"np.linalg.norm with ord={ord!r}",
                           " (emulated: the vector 2-norm and the Frobenius norm)")
    if ord == "fro" and len(axes) != 2:
        raise ValueError("Invalid norm order 'fro' for vectors")
    if axis is not None and len(axes) > 2:
        raise ValueError("Improper number of dimensions to norm.")
    return _two_norm(x, axes, keepdims)


@implements("linalg.vector_norm")
def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    if ord != 2:
        raise not_emulated(f"np.linalg.vector_norm with ord={ord!r}",
                           " (emulated: ord=2)")
    return _two_norm(x, _axes(axis, np.ndim(x)), keepdims)


@implements("linalg.matrix_norm")
def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    if ord != "fro":
        raise not_emulated(f"np.linalg.matrix_norm with ord={ord!r}",
                           " (emulated: ord='fro')")
    return _two_norm(x, _axes((-2, -1), np.ndim(x)), keepdims)


# ---------------------------------------------------------------- linear algebra

_register("linalg.solve", lambda a, b: linalg.solve(a, b))
_register("linalg.inv", lambda a: linalg.inv(a))
_register("linalg.cholesky", lambda a, /, *, upper=False: linalg.cholesky(a, lower=not upper))
