"""EmulatedArray: NumPy code run in a low-precision format, every operation rounded.

``sr.emulate(x, ctx)`` stores x rounded into ctx's format and returns an array that
implements NumPy's protocols (``__array_ufunc__``, ``__array_function__``), so plain
NumPy code runs on it unchanged. What each operation does (docs/emulate.md has the
user's view):

* the rounded arithmetic ufuncs (add, subtract, multiply, divide, sqrt, square,
  reciprocal, integral powers) are exactly the Context ufunc calls on the stored
  values, so a stochastic run equals, bit for bit, the same explicit ctx calls;
* operands that are not EmulatedArrays are constants: rounded to nearest into the
  format first, drawing no random words (as a compiler storing a constant would);
* exact operations (negation, abs, max/min, floor, comparisons, rearranging) stay
  exact and draw nothing;
* the elementary functions are NumPy's binary64 result rounded once in ctx's mode;
* reductions and products round every step (srround.summation), linear algebra
  every operation (srround.linalg);
* everything else raises TypeError, never computing silently in higher precision.

The storage dtype (float32 or float64) never changes through operations.
"""
import math
import numbers

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from srround._core import Context
from srround.rounding import as_float_array
from srround.summation import METHODS as SUM_METHODS

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)

# Deterministic contexts carry no stream, so one per format rounds every constant.
_NEAREST = {}


def nearest_context(fmt):
    ctx = _NEAREST.get(fmt)
    if ctx is None:
        ctx = _NEAREST[fmt] = Context(fmt, "nearest")
    return ctx


def not_emulated(what, detail=""):
    """The TypeError for anything that would compute outside the format."""
    return TypeError(f"{what} is not emulated by srround{detail}: it would compute in "
                     "binary32/binary64 without rounding into the format. Leave emulation "
                     "explicitly with np.asarray(a) (the stored values) and re-enter with "
                     "sr.emulate(result, ctx).")


class Setting:
    """What an EmulatedArray computes with: the Context, the summation method and the
    Context that rounds the sums of dot products. Arrays made by one ``emulate`` call
    and everything computed from them share one Setting; arrays of different calls
    combine when their context objects and options are the same."""

    __slots__ = ("ctx", "sum", "accumulate", "format", "round_nearest", "add",
                 "subtract", "multiply", "divide", "sqrt", "_constants", "_own_ufuncs")

    def __init__(self, ctx, sum="recursive", accumulate=None):
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be an srround Context, got {type(ctx).__name__}")
        if not isinstance(sum, str) or sum not in SUM_METHODS:
            raise ValueError(f"unknown summation method {sum!r}; choose one of {SUM_METHODS}")
        if accumulate is None:
            accumulate = ctx
        elif not isinstance(accumulate, Context):
            raise TypeError("accumulate must be None or an srround Context, got "
                            f"{type(accumulate).__name__}")
        self.ctx, self.sum, self.accumulate = ctx, sum, accumulate
        self.format = ctx.format
        self.round_nearest = nearest_context(ctx.format).round
        self.add, self.subtract = ctx.add, ctx.subtract
        self.multiply, self.divide, self.sqrt = ctx.multiply, ctx.divide, ctx.sqrt
        self._constants = {}
        self._own_ufuncs = None

    def same_as(self, other):
        return self is other or (self.ctx is other.ctx and self.sum == other.sum
                                 and self.accumulate is other.accumulate)

    def __reduce__(self):
        return (Setting, (self.ctx, self.sum, self.accumulate))

    def own_ufunc(self, ufunc):
        """The name of ufunc if it is one of this setting's context's ufuncs."""
        if self._own_ufuncs is None:
            c = self.ctx
            self._own_ufuncs = {c.round: "round", c.add: "add", c.subtract: "subtract",
                                c.multiply: "multiply", c.divide: "divide", c.fma: "fma",
                                c.sqrt: "sqrt"}
        return self._own_ufuncs.get(ufunc)

    def constant(self, x, dtype):
        """x, which is not an EmulatedArray, rounded to nearest into the format (no
        random words), as an array or scalar of dtype (float32 or float64)."""
        if type(x) in _SCALARS:
            # Numbers recur in loops (x * 2.0): remember their rounded values. Equal
            # numbers round alike whatever their type; the sign tells -0.0 from 0.0.
            try:
                key = (x, math.copysign(1.0, x), dtype is F32)
            except OverflowError:                   # an int beyond binary64
                return self._round_constant(x, dtype)
            value = self._constants.get(key)
            if value is None:
                value = self._round_constant(x, dtype)
                if len(self._constants) > 256:
                    self._constants.clear()
                self._constants[key] = value
            return value
        if isinstance(x, EmulatedArray):
            raise AssertionError("an EmulatedArray is not a constant")
        if hasattr(x, "__array_function__") and not isinstance(x, (np.ndarray, np.generic)):
            raise TypeError(f"cannot combine an EmulatedArray with {type(x).__name__}")
        return self._round_constant(x, dtype)

    def _round_constant(self, x, dtype):
        try:
            arr = as_float_array(x, "an operand")
        except TypeError as e:
            raise TypeError(f"{e} (operands of an EmulatedArray must be real numbers)") \
                from None
        if arr.dtype != dtype and dtype == F64:
            arr = arr.astype(F64)           # exact; then rounded once, in float64
        value = self.round_nearest(arr)
        if value.dtype != dtype:            # float64 -> float32: exact, the format fits
            value = value.astype(dtype)
        return value


_SCALARS = frozenset({float, int, np.float64, np.float32, np.int64, np.int32})


def storage_dtype(x, fmt):
    """The storage dtype of x rounded into fmt: float32 stays float32 where the format
    fits in it; everything else becomes float64 (as sr.round converts input)."""
    if isinstance(x, EmulatedArray):
        dtype = x._values.dtype
    else:
        dtype = np.asarray(x).dtype
    return F32 if dtype == F32 and fmt.fits_float32 else F64


def wrap(values, setting):
    """An EmulatedArray around values (already in the format); no copy, no rounding."""
    obj = object.__new__(EmulatedArray)
    obj._values = values if type(values) is np.ndarray else np.asarray(values)
    obj._setting = setting
    return obj


def common_setting(objects):
    """The Setting shared by the EmulatedArrays among objects (searched one level into
    lists and tuples); ValueError when they differ; None when there are none."""
    found = None
    for x in objects:
        if isinstance(x, EmulatedArray):
            s = x._setting
        elif isinstance(x, (list, tuple)):
            s = common_setting(x)
            if s is None:
                continue
        else:
            continue
        if found is None:
            found = s
        elif not found.same_as(s):
            raise ValueError(_mixed_message(found, s))
    return found


def _mixed_message(a, b):
    if a.ctx is not b.ctx:
        return ("EmulatedArrays of different contexts in one operation (each emulate() "
                "context is its own random stream): use one Context object, or convert "
                "with sr.emulate(b, a.context)")
    return ("EmulatedArrays with different summation options in one operation "
            f"(sum={a.sum!r}/{b.sum!r}, accumulate contexts differ: "
            f"{a.accumulate is not b.accumulate})")


def result_dtype(objects):
    """float64 if any EmulatedArray among objects stores float64, else float32."""
    for x in objects:
        if isinstance(x, EmulatedArray):
            if x._values.dtype == F64:
                return F64
        elif isinstance(x, (list, tuple)) and result_dtype(x) == F64:
            return F64
    return F32


def values_of(x, setting, dtype):
    """x's values for an operation of setting: an EmulatedArray's stored values, or a
    constant rounded to nearest into the format in dtype."""
    if isinstance(x, EmulatedArray):
        return x._values
    return setting.constant(x, dtype)


def _is_foreign(x):
    """Another duck array (dask, cupy ...): let it decide (NotImplemented)."""
    kind = type(x)
    return (kind is not EmulatedArray and kind is not float and kind is not int
            and hasattr(kind, "__array_ufunc__")
            and not isinstance(x, (np.ndarray, np.generic, EmulatedArray)))


class EmulatedArray(NDArrayOperatorsMixin):
    """An array whose every operation is rounded into a format.

    Made by `srround.emulate` (or by `srround.emulated` for a function's
    arguments), not constructed directly. NumPy's operators, ufuncs, reductions, ``@`` and ``np.linalg.solve/inv/cholesky``
    run on it with every operation rounded, and anything not emulated raises
    TypeError. ``np.asarray(a)`` gives ``a.values``: that is how to leave emulation
    explicitly. docs/emulate.md has the rules.

    Attributes
    ----------
    shape, ndim, size, dtype, nbytes, itemsize, strides, T, mT, real
        As ndarray's, of the stored values (T and mT are EmulatedArrays).

    Examples
    --------
    >>> a = sr.emulate([1.0, 2.0, 3.0], sr.Context(sr.bfloat16, "nearest"))
    >>> a / 3
    EmulatedArray([0.33398438, 0.66796875, 1.        ], dtype=float64, format=bfloat16, rounding='nearest')
    >>> np.sum(a / 3), np.asarray(a / 3)
    (EmulatedArray(2., dtype=float64, format=bfloat16, rounding='nearest'), array([0.33398438, 0.66796875, 1.        ]))
    """

    __slots__ = ("_values", "_setting", "__weakref__")
    __hash__ = None

    # ------------------------------------------------------------ attributes
    @property
    def values(self):
        """The stored values: a plain ndarray (float32 or float64) of the format."""
        return self._values

    @property
    def context(self):
        """The Context that rounds every operation."""
        return self._setting.ctx

    @property
    def format(self):
        """The Format of the context."""
        return self._setting.format

    @property
    def sum_method(self):
        """How sums are computed ("recursive", "pairwise", "blocked", "kahan")."""
        return self._setting.sum

    @property
    def accumulate(self):
        """The Context that rounds the sums of dot products and matrix products."""
        return self._setting.accumulate

    shape = property(lambda self: self._values.shape)
    ndim = property(lambda self: self._values.ndim)
    size = property(lambda self: self._values.size)
    dtype = property(lambda self: self._values.dtype)
    nbytes = property(lambda self: self._values.nbytes)
    itemsize = property(lambda self: self._values.itemsize)
    strides = property(lambda self: self._values.strides)
    T = property(lambda self: wrap(self._values.T, self._setting))
    mT = property(lambda self: wrap(self._values.mT, self._setting))
    real = property(lambda self: self)

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._values, dtype=dtype, copy=True)
        if dtype is None or np.dtype(dtype) == self._values.dtype:
            return self._values
        if copy is False:
            raise ValueError(f"converting {self._values.dtype} to {np.dtype(dtype)} "
                             "needs a copy")
        return self._values.astype(dtype)

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        if self._values.ndim == 0:
            raise TypeError("iteration over a 0-d EmulatedArray")
        return (self[i] for i in range(len(self._values)))

    def __getitem__(self, index):
        if isinstance(index, EmulatedArray):
            raise TypeError("an EmulatedArray cannot index: indices are integers or "
                            "booleans")
        return wrap(self._values[index], self._setting)

    def __setitem__(self, index, value):
        """a[i] = v stores v rounded to nearest into the format (no random words)."""
        if isinstance(index, EmulatedArray):
            raise TypeError("an EmulatedArray cannot index: indices are integers or "
                            "booleans")
        if isinstance(value, EmulatedArray):
            common_setting((self, value))
            self._values[index] = value._values
        else:
            self._values[index] = self._setting.constant(value, self._values.dtype)

    def __float__(self):
        return float(self._values)

    def __int__(self):
        return int(self._values)

    def __bool__(self):
        return bool(self._values)

    def __format__(self, spec):
        v = self._values
        return format(v[()] if v.ndim == 0 else v, spec)

    def __repr__(self):
        prefix = "EmulatedArray("
        body = np.array2string(self._values, separator=", ", prefix=prefix)
        s = self._setting
        return (f"{prefix}{body}, dtype={self._values.dtype}, format={s.format.label}, "
                f"rounding={s.ctx.rounding!r})")

    def __str__(self):
        return str(self._values)

    # ------------------------------------------------------------ copying, pickling
    def copy(self, order="K"):
        return wrap(self._values.copy(order=order), self._setting)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()        # new values; the same context (a stream, not data)

    def __reduce__(self):
        return (wrap, (self._values, self._setting))

    # ------------------------------------------------------------ leaving emulation
    def item(self, *args):
        return self._values.item(*args)

    def tolist(self):
        return self._values.tolist()

    def astype(self, dtype, *args, **kwargs):
        raise not_emulated("EmulatedArray.astype",
                           " (the storage dtype never changes)")

    def view(self, *args, **kwargs):
        raise not_emulated("EmulatedArray.view")

    # ------------------------------------------------------------ in place, exact
    def fill(self, value):
        self._values.fill(self._setting.constant(value, self._values.dtype))

    def sort(self, axis=-1, kind=None, order=None):
        self._values.sort(axis=axis, kind=kind)

    # ------------------------------------------------------------ arithmetic fast path
    # The operators below skip NumPy's dispatch for the common case (two operands,
    # no out=); they compute exactly what __array_ufunc__ computes.
    def __add__(self, other):
        return _binary("add", self, other)

    def __radd__(self, other):
        return _binary("add", other, self)

    def __sub__(self, other):
        return _binary("subtract", self, other)

    def __rsub__(self, other):
        return _binary("subtract", other, self)

    def __mul__(self, other):
        return _binary("multiply", self, other)

    def __rmul__(self, other):
        return _binary("multiply", other, self)

    def __truediv__(self, other):
        return _binary("divide", self, other)

    def __rtruediv__(self, other):
        return _binary("divide", other, self)

    def __matmul__(self, other):
        return _product(self, other)

    def __rmatmul__(self, other):
        return _product(other, self)

    def __neg__(self):
        return wrap(np.negative(self._values), self._setting)

    def __iadd__(self, other):
        return _in_place("add", self, other)

    def __isub__(self, other):
        return _in_place("subtract", self, other)

    def __imul__(self, other):
        return _in_place("multiply", self, other)

    def __itruediv__(self, other):
        return _in_place("divide", self, other)

    # ------------------------------------------------------------ NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not kwargs and method == "__call__":
            # The common calls, computed as _call computes them, with less to check.
            kind = KINDS.get(ufunc)
            if len(inputs) == 2 and kind in ("rounded", "exact", "predicate") \
                    and ufunc.nin == 2:
                operands = _pair(*inputs)
                if operands is NotImplemented:
                    return operands
                setting, x, y = operands
                if kind == "rounded":
                    return wrap(getattr(setting, ROUNDED[ufunc])(x, y), setting)
                return wrap(ufunc(x, y), setting) if kind == "exact" else ufunc(x, y)
            if len(inputs) == 1 and inputs[0] is self:
                if kind == "exact":
                    return wrap(ufunc(self._values), self._setting)
                if kind == "predicate":
                    return ufunc(self._values)
                if ufunc is np.sqrt:
                    return wrap(self._setting.sqrt(self._values), self._setting)
        out = kwargs.get("out", ())
        for x in inputs + out:
            if _is_foreign(x):
                return NotImplemented
        setting = common_setting(inputs + out)
        if setting.own_ufunc(ufunc) is not None:
            return _context_ufunc(setting, ufunc, method, inputs, kwargs)
        if ufunc not in KINDS:
            raise not_emulated(f"np.{ufunc.__name__}")
        handler = UFUNC_METHODS.get(method)
        if handler is None:
            raise not_emulated(f"np.{ufunc.__name__}.{method}")
        return handler(setting, ufunc, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        handler = FUNCTIONS.get(func)
        if handler is None:
            raise not_emulated(function_name(func))
        for t in types:
            if not issubclass(t, (EmulatedArray, np.ndarray)):
                return NotImplemented
        return handler(*args, **kwargs)

    # ------------------------------------------------------------ NumPy's methods
    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return wrap(self._values.reshape(shape, order=order), self._setting)

    def transpose(self, *axes):
        return wrap(self._values.transpose(*axes), self._setting)

    def swapaxes(self, a, b):
        return wrap(self._values.swapaxes(a, b), self._setting)

    def ravel(self, order="C"):
        return wrap(self._values.ravel(order), self._setting)

    def flatten(self, order="C"):
        return wrap(self._values.flatten(order), self._setting)

    def squeeze(self, axis=None):
        return wrap(self._values.squeeze(axis), self._setting)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return wrap(self._values.diagonal(offset, axis1, axis2), self._setting)

    def conj(self):
        return self

    conjugate = conj

    def nonzero(self):
        return self._values.nonzero()

    def argsort(self, *args, **kwargs):
        return self._values.argsort(*args, **kwargs)

    def argmax(self, *args, **kwargs):
        return self._values.argmax(*args, **kwargs)

    def argmin(self, *args, **kwargs):
        return self._values.argmin(*args, **kwargs)

    def all(self, *args, **kwargs):
        return self._values.all(*args, **kwargs)

    def any(self, *args, **kwargs):
        return self._values.any(*args, **kwargs)

    def max(self, *args, **kwargs):
        return FUNCTIONS[np.max](self, *args, **kwargs)

    def min(self, *args, **kwargs):
        return FUNCTIONS[np.min](self, *args, **kwargs)

    def sum(self, *args, **kwargs):
        return FUNCTIONS[np.sum](self, *args, **kwargs)

    def prod(self, *args, **kwargs):
        return FUNCTIONS[np.prod](self, *args, **kwargs)

    def mean(self, *args, **kwargs):
        return FUNCTIONS[np.mean](self, *args, **kwargs)

    def var(self, *args, **kwargs):
        return FUNCTIONS[np.var](self, *args, **kwargs)

    def std(self, *args, **kwargs):
        return FUNCTIONS[np.std](self, *args, **kwargs)

    def cumsum(self, *args, **kwargs):
        return FUNCTIONS[np.cumsum](self, *args, **kwargs)

    def cumprod(self, *args, **kwargs):
        return FUNCTIONS[np.cumprod](self, *args, **kwargs)

    def dot(self, b, out=None):
        return np.dot(self, b, out=out)

    def clip(self, *args, **kwargs):
        return np.clip(self, *args, **kwargs)

    def round(self, decimals=0, out=None):
        return np.round(self, decimals, out=out)

    def trace(self, *args, **kwargs):
        return np.trace(self, *args, **kwargs)

    def take(self, *args, **kwargs):
        return np.take(self, *args, **kwargs)

    def repeat(self, *args, **kwargs):
        return np.repeat(self, *args, **kwargs)


def function_name(func):
    module = getattr(func, "__module__", None) or "numpy"
    module = "np" + module[len("numpy"):] if module.startswith("numpy") else module
    return f"{module}.{getattr(func, '__name__', repr(func))}"


# ---------------------------------------------------------------- elementwise ufuncs

def _pair(x, y):
    """(setting, x values, y values) of a two-operand operation, constants rounded;
    NotImplemented for another kind of duck array."""
    if type(x) is EmulatedArray:
        setting = x._setting
        if type(y) is EmulatedArray:
            if y._setting is not setting and not setting.same_as(y._setting):
                raise ValueError(_mixed_message(setting, y._setting))
            return setting, x._values, y._values
        if _is_foreign(y):
            return NotImplemented
        return setting, x._values, setting.constant(y, x._values.dtype)
    if _is_foreign(x):
        return NotImplemented
    setting = y._setting
    return setting, setting.constant(x, y._values.dtype), y._values


def _binary(name, x, y):
    """The operators' fast path: getattr(ctx, name)(x, y) on the stored values."""
    operands = _pair(x, y)
    if operands is NotImplemented:
        return operands
    setting, xv, yv = operands
    return wrap(getattr(setting, name)(xv, yv), setting)


def _product(x, y):
    """x @ y without NumPy's dispatch: what np.matmul(x, y) computes."""
    if _is_foreign(x) or _is_foreign(y):
        return NotImplemented
    setting = common_setting((x, y))
    return wrap(product_ufunc(setting, np.matmul, (x, y)), setting)


def _in_place(name, x, y):
    """x op= y: getattr(ctx, name)(x, y, out=x) on the stored values."""
    setting = x._setting
    if isinstance(y, EmulatedArray):
        if y._setting is not setting and not setting.same_as(y._setting):
            raise ValueError(_mixed_message(setting, y._setting))
        yv = y._values
    elif _is_foreign(y):
        return NotImplemented
    else:
        yv = setting.constant(y, x._values.dtype)
    getattr(setting, name)(x._values, yv, out=x._values)
    return x


# The classification of NumPy's ufuncs (docs/emulate.md lists them).
ROUNDED = {np.add: "add", np.subtract: "subtract", np.multiply: "multiply",
           np.divide: "divide", np.sqrt: "sqrt"}
EXACT = (np.negative, np.positive, np.absolute, np.fabs, np.sign, np.copysign,
         np.maximum, np.minimum, np.fmax, np.fmin, np.floor, np.ceil, np.trunc,
         np.rint, np.conjugate)
PREDICATES = (np.equal, np.not_equal, np.less, np.less_equal, np.greater,
              np.greater_equal, np.isfinite, np.isinf, np.isnan, np.signbit,
              np.logical_and, np.logical_or, np.logical_xor, np.logical_not)
ELEMENTARY = (np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin,
              np.cos, np.tan, np.arcsin, np.arccos, np.arctan, np.arctan2, np.sinh,
              np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh, np.hypot, np.cbrt,
              np.logaddexp, np.logaddexp2, np.deg2rad, np.rad2deg, np.degrees,
              np.radians, np.fmod, np.remainder, np.floor_divide, np.divmod, np.modf,
              np.heaviside)
POWERS = (np.power, np.float_power)
PRODUCTS = (np.matmul, np.vecdot, np.matvec, np.vecmat)
MAX_INTEGRAL_POWER = 16
ROUNDED[np.square] = "multiply"        # fl(x * x)
ROUNDED[np.reciprocal] = "divide"      # fl(1 / x)
KINDS = {**dict.fromkeys(ROUNDED, "rounded"), **dict.fromkeys(EXACT, "exact"),
         **dict.fromkeys(PREDICATES, "predicate"), **dict.fromkeys(ELEMENTARY, "elementary"),
         **dict.fromkeys(POWERS, "power"), **dict.fromkeys(PRODUCTS, "product")}


def _integral_exponent(k):
    """k as an int when it is a Python or NumPy number with an integral value and
    1 <= |k| <= 16 (computed by repeated multiplication), else None."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (numbers.Real, np.generic)):
        return None
    if isinstance(k, np.generic) and k.dtype.kind not in "iuf":
        return None
    k = float(k)
    if not (math.isfinite(k) and k.is_integer() and 1 <= abs(k) <= MAX_INTEGRAL_POWER):
        return None
    return int(k)


def _out_values(setting, ufunc, out, predicate):
    """out (a tuple) as arrays to write into, checked."""
    values = []
    for o in out:
        if o is None:
            values.append(None)
        elif isinstance(o, EmulatedArray):
            if predicate:
                raise TypeError(f"np.{ufunc.__name__} gives booleans: out= cannot be an "
                                "EmulatedArray")
            values.append(o._values)
        elif isinstance(o, np.ndarray):
            if not predicate:
                if o.dtype not in (F32, F64):
                    raise TypeError(f"out= must hold float32 or float64 for an emulated "
                                    f"np.{ufunc.__name__}, got {o.dtype}")
                if o.dtype == F32 and not setting.format.fits_float32:
                    raise ValueError(f"out= is float32, but {setting.format!r} has values "
                                     "that float32 cannot hold")
            values.append(o)
        else:
            raise TypeError(f"out= must be an EmulatedArray or an ndarray, got "
                            f"{type(o).__name__}")
    return values


_CALL_KEYWORDS = ("out", "where", "dtype", "axis")


def _call(setting, ufunc, inputs, kwargs):
    """ufunc(*inputs, out=..., where=...) on EmulatedArrays."""
    kind = KINDS.get(ufunc)
    if kind is None:
        raise not_emulated(f"np.{ufunc.__name__}")
    for key in kwargs:
        if key not in _CALL_KEYWORDS or (key == "axis" and ufunc is not np.vecdot):
            raise TypeError(f"np.{ufunc.__name__}(..., {key}=) is not supported on "
                            "EmulatedArrays")
    predicate = kind == "predicate"
    out = kwargs.get("out")
    outs = _out_values(setting, ufunc, out, predicate) if out else [None] * ufunc.nout
    where = kwargs.get("where", True)
    if isinstance(where, EmulatedArray):
        raise TypeError("where= must be a boolean array, not an EmulatedArray")
    dtype = result_dtype(inputs) if any(isinstance(x, EmulatedArray) for x in inputs) \
        else result_dtype(out or ())
    requested = kwargs.get("dtype")
    if requested is not None and np.dtype(requested) != (np.bool_ if predicate else dtype):
        raise TypeError(f"dtype={np.dtype(requested)} would change the storage dtype "
                        f"({dtype}) of an emulated np.{ufunc.__name__}")
    if kind == "product":
        if where is not True:
            raise TypeError(f"np.{ufunc.__name__}(..., where=) is not supported")
        result = product_ufunc(setting, ufunc, inputs, kwargs.get("axis", -1))
        if out:
            np.copyto(outs[0], result)
            return out[0]
        return wrap(result, setting)
    vals = [values_of(x, setting, dtype) for x in inputs]
    if predicate:
        return ufunc(*vals, out=tuple(outs), where=where)
    fresh = _fresh(outs, vals, dtype, where)
    if kind == "exact":
        results = ufunc(*vals, out=tuple(fresh), where=where)
    elif kind == "rounded":
        if ufunc is np.square:
            vals = [vals[0], vals[0]]
        elif ufunc is np.reciprocal:
            vals = [setting.constant(1.0, dtype), vals[0]]
        op = getattr(setting, ROUNDED[ufunc])
        results = op(*vals) if where is True and fresh[0] is None \
            else op(*vals, out=fresh[0], where=where)
    elif kind == "power" and isinstance(inputs[0], EmulatedArray) \
            and _integral_exponent(inputs[1]) is not None:
        results = _integral_power(setting, vals[0], _integral_exponent(inputs[1]),
                                  fresh[0], where, dtype)
    else:       # elementary, and powers with other exponents
        wide = [v.astype(F64, copy=False) for v in map(np.asarray, vals)]
        if where is True:
            exact = ufunc(*wide)
        else:             # masked places are not computed (nor rounded, nor drawn for)
            shape = np.broadcast_shapes(*(w.shape for w in wide), np.shape(where))
            exact = ufunc(*wide, out=tuple(np.empty(shape) for _ in range(ufunc.nout)),
                          where=where)
        if ufunc.nout == 1:
            exact = (exact,)
        # one rounding in ctx's mode, into the storage dtype (float64 -> float32 exact)
        results = tuple(setting.ctx.round(e, out=np.empty(np.shape(e), dtype) if f is None
                                          else f, where=where)
                        for e, f in zip(exact, fresh))
        if ufunc.nout == 1:
            results = results[0]
    return _wrap_results(setting, results, out)


def _fresh(outs, vals, dtype, where):
    """Output arrays: the given ones, or, under a where= mask, zeros (so masked
    places hold a value of the format, not uninitialized memory); None otherwise."""
    if where is True:
        return outs
    shape = np.broadcast_shapes(*(np.shape(v) for v in vals), np.shape(where))
    return [np.zeros(shape, dtype) if o is None else o for o in outs]


def _integral_power(setting, x, k, out, where, dtype):
    """x ** k, 1 <= |k| <= 16: p = x, then k - 1 times p = fl(p * x) left to right;
    for k < 0 then fl(1 / p)."""
    mul = setting.multiply
    steps = abs(k) - 1
    if steps == 0 and k > 0:
        if out is None:
            return x.copy()
        np.copyto(out, x, where=where)
        return out
    p = x
    for i in range(steps):
        last = i == steps - 1 and k > 0
        p = mul(p, x, out=out if last else None, where=where)
    if k < 0:
        p = setting.divide(setting.constant(1.0, dtype), p, out=out, where=where)
    return p


def _wrap_results(setting, results, out):
    """Wrap fresh results; with out= return the out objects, as NumPy does."""
    if out:
        return out[0] if len(out) == 1 else out
    if isinstance(results, tuple):
        return tuple(wrap(r, setting) for r in results)
    return wrap(results, setting)


def _context_ufunc(setting, ufunc, method, inputs, kwargs):
    """A ufunc of the array's own Context (ctx.fma(a, b, c), ctx.add.reduce(a) ...):
    the same call on the stored values, constants rounded to nearest first."""
    dtype = result_dtype(inputs)
    vals = [values_of(x, setting, dtype) for x in inputs]
    out = kwargs.get("out")
    if out:
        kwargs = dict(kwargs, out=tuple(_out_values(setting, ufunc, out, False)))
    result = getattr(ufunc, method)(*vals, **kwargs) if method != "__call__" \
        else ufunc(*vals, **kwargs)
    if out:
        return out[0]
    return wrap(result, setting)


def _reduce(setting, ufunc, inputs, kwargs):
    (a,) = inputs
    kwargs = dict(kwargs)
    kwargs.setdefault("axis", 0)
    if ufunc is np.add:
        return sum_(a, **kwargs)
    if ufunc is np.multiply:
        return prod_(a, **kwargs)
    if ufunc in (np.maximum, np.minimum, np.fmax, np.fmin, np.logical_and, np.logical_or):
        return exact_reduction(ufunc.reduce, a, boolean=ufunc in PREDICATES, **kwargs)
    raise not_emulated(f"np.{ufunc.__name__}.reduce")


def _accumulate(setting, ufunc, inputs, kwargs):
    (a,) = inputs
    kwargs = dict(kwargs)
    kwargs.setdefault("axis", 0)
    if ufunc is np.add or ufunc is np.multiply:
        return running(ufunc, a, **kwargs)
    if ufunc in (np.maximum, np.minimum, np.fmax, np.fmin):
        return exact_reduction(ufunc.accumulate, a, **kwargs)
    raise not_emulated(f"np.{ufunc.__name__}.accumulate")


def _outer(setting, ufunc, inputs, kwargs):
    """ufunc.outer(a, b) = ufunc(a[..., None, ...], b): the same elementwise rule."""
    if ufunc.nin != 2 or ufunc in PRODUCTS:
        raise not_emulated(f"np.{ufunc.__name__}.outer")
    a, b = inputs
    ones = (1,) * np.ndim(b)
    a = a.reshape(a.shape + ones) if isinstance(a, EmulatedArray) \
        else np.reshape(a, np.shape(a) + ones)
    return _call(setting, ufunc, (a, b), kwargs)


def _at(setting, ufunc, inputs, kwargs):
    """ufunc.at(a, indices, b): unbuffered in place on a's stored values."""
    a = inputs[0]
    if not isinstance(a, EmulatedArray):
        raise TypeError(f"np.{ufunc.__name__}.at on EmulatedArrays needs an EmulatedArray "
                        "as its first argument")
    rest = [values_of(x, setting, a._values.dtype) for x in inputs[2:]]
    name = ROUNDED.get(ufunc)
    if name is not None:
        getattr(setting, name).at(a._values, inputs[1], *rest)
    elif ufunc in EXACT:
        ufunc.at(a._values, inputs[1], *rest)
    else:
        raise not_emulated(f"np.{ufunc.__name__}.at")
    return None


def _no_method(method):
    def handler(setting, ufunc, inputs, kwargs):
        raise not_emulated(f"np.{ufunc.__name__}.{method}")
    return handler


UFUNC_METHODS = {"__call__": _call, "reduce": _reduce, "accumulate": _accumulate,
                 "outer": _outer, "at": _at, "reduceat": _no_method("reduceat")}


# ---------------------------------------------------------------- entry points

def emulate(x, ctx, *, sum="recursive", accumulate=None):
    """x rounded into ctx's format, as an array whose every operation is rounded.

    Parameters
    ----------
    x : array_like
        Real numbers (an EmulatedArray gives its stored values). The storage dtype
        follows `srround.round`: float32 stays float32 where the format fits in it;
        everything else becomes float64. x is rounded by ``ctx.round`` (in ctx's
        mode; a stochastic context draws one word per element: a 32-bit half-word
        for float32 storage).
    ctx : Context
        Rounds every operation.
    sum : {"recursive", "pairwise", "blocked", "kahan"}, optional
        How sums are computed (see `srround.sum`).
    accumulate : Context, optional
        Rounds the sums of dot and matrix products (default ctx), as in
        `srround.dot` / `srround.matmul`.

    Returns
    -------
    EmulatedArray
        Plain NumPy code runs on it unchanged, every operation rounded in the
        format (docs/emulate.md).

    Raises
    ------
    TypeError
        For a ctx that is not a Context, non-real x, options of the wrong type.
    ValueError
        For an unknown sum method.

    Examples
    --------
    >>> x = sr.emulate(np.full(1000, 0.01), sr.Context(sr.bfloat16, "nearest"))
    >>> x.sum()                           # every partial sum rounded to bfloat16
    EmulatedArray(4., dtype=float64, format=bfloat16, rounding='nearest')
    """
    setting = Setting(ctx, sum, accumulate)
    arr = x._values if isinstance(x, EmulatedArray) else as_float_array(x)
    dtype = storage_dtype(arr, setting.format)
    if not setting.accumulate.format.fits_float32:
        dtype = F64                 # dot products' sums are values of that format
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return wrap(ctx.round(arr), setting)


def emulated(ctx, **options):
    """Decorator: run a NumPy function in ctx's format.

    ``f_bf16 = sr.emulated(ctx)(f)``: every floating-point ndarray argument
    (positional or keyword) reaches f as ``sr.emulate(arg, ctx, **options)``, so
    every operation in f is rounded; EmulatedArrays in f's result (also inside
    tuples, lists and dicts) come back as plain ndarrays of the stored values (a
    NumPy scalar for 0-d). Other arguments (numbers, integer and boolean arrays)
    pass unchanged; numbers become constants of the format when f combines them
    with an EmulatedArray.

    Parameters
    ----------
    ctx : Context
        Rounds every operation.
    **options
        ``sum=``, ``accumulate=`` as for `emulate`.

    Returns
    -------
    callable
        A decorator: it takes f and returns the emulated f.

    Raises
    ------
    TypeError
        For a ctx that is not a Context or unknown options (at once, not at the
        first call).

    Examples
    --------
    >>> @sr.emulated(sr.Context("fp16", "nearest"))
    ... def norm(v):
    ...     return np.sqrt(v @ v)
    >>> norm(np.ones(3000))             # v @ v stagnates at 2048 in binary16
    np.float64(45.25)
    >>> sr.emulated(sr.Context("bf16", "nearest"))(np.cumsum)(np.full(3, 0.1))
    array([0.10009766, 0.20019531, 0.30078125])
    """
    Setting(ctx, **options)          # check ctx and options now, not at the first call

    def decorate(f):
        import functools

        def enter(x):
            if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                return emulate(x, ctx, **options)
            return x

        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            result = f(*[enter(a) for a in args], **{k: enter(v) for k, v in kwargs.items()})
            return _leave(result)
        return wrapper
    return decorate


def _leave(result):
    if isinstance(result, EmulatedArray):
        v = result._values
        return v[()] if v.ndim == 0 else v
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        return type(result)(*[_leave(r) for r in result])
    if isinstance(result, (tuple, list)):
        return type(result)(_leave(r) for r in result)
    if isinstance(result, dict):
        return {k: _leave(v) for k, v in result.items()}
    return result


def ode_right_hand_side(fun, ctx):
    """fun as sr.ode.solve_ivp calls it, fun(t, y, ctx). fun(t, y, ctx) is kept when
    fun accepts three positional arguments; otherwise fun is SciPy's fun(t, y) and
    gets y as an EmulatedArray of ctx (the state, not rounded again); its result
    leaves as the stored values, a constant result rounded to nearest."""
    import inspect
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):
        return fun
    try:
        signature.bind(0.0, None, None)
        return fun
    except TypeError:
        pass
    try:
        signature.bind(0.0, None)
    except TypeError:
        return fun                     # neither form: let the call report it
    setting = Setting(ctx)

    def three_arguments(t, y, _ctx):
        k = fun(t, wrap(y, setting))
        if isinstance(k, EmulatedArray):
            common_setting((k, wrap(y, setting)))
            return k._values
        if isinstance(k, (numbers.Real, np.ndarray, list, tuple)):
            try:
                return setting.constant(k, F64)
            except (TypeError, ValueError):
                return k              # the solver's check reports what is wrong
        return k
    return three_arguments


# the NumPy functions' table needs the class above
from srround.emulation.functions import (FUNCTIONS, exact_reduction,  # noqa: E402
                                         product_ufunc, prod_, running, sum_)
