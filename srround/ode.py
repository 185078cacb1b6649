"""Fixed-step ODE solvers whose every operation is rounded in a Context.

``solve_ivp(fun, t_span, y0, ctx, method, n_steps=N)`` integrates y' = f(t, y) with a
classical explicit Runge-Kutta method, written as the papers write it: one rounded
operation per arithmetic step (Croci et al., R. Soc. Open Sci. 2022). Explicit Euler is

    y <- fl(y + fl(h * f(t, y)))

with ``fl`` the context's rounding (ctx.multiply, then ctx.add), not a fused
multiply-add unless ``fused=True`` (then y <- fl(y + h * f), one ctx.fma).

What is rounded, and how:

- the initial state y0 and the step h are rounded to nearest into ctx's format once
  (they are data, stored in the format); so are the method's constants h/2 and h/6;
- every addition and multiplication of the method is one ctx ufunc call (rounded in
  ctx's mode: nearest, stochastic, ...);
- the right-hand side computes in the format too: ``fun(t, y, ctx)`` receives the
  context and should do its own arithmetic with ctx's ufuncs;
- time is not part of the state: t_k = t0 + k * h (h the rounded step) is computed in
  binary64 and handed to fun as a Python float.

Writing a right-hand side::

    import numpy as np
    import srround as sr

    def decay(t, y, ctx):                 # y' = -y
        return ctx.multiply(-1.0, y)

    def oscillator(t, y, ctx):            # u' = v, v' = -u   (y[..., 0] = u, y[..., 1] = v)
        u, v = y[..., 0], y[..., 1]
        return np.stack([v, np.negative(u)], axis=-1)   # negation is exact

    ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    res = sr.ode.solve_ivp(decay, (0.0, 1.0), 2.0**-6, ctx, n_steps=1024, n_runs=100)
    res.y[..., -1]                        # 100 final values, one per independent run

Index the components of y with ``y[..., i]`` and build the result with
``np.stack(..., axis=-1)``: with ``n_runs=R`` the state has a leading batch dimension
(shape ``(R, *y0.shape)``) and the same function then serves every run at once, one ufunc
call per operation for the whole ensemble. Exact operations (negation, scaling by a
power of two that neither overflows nor underflows) need no rounding.

Ensembles: the R runs share ctx's random stream, drawn in NumPy's iteration order,
so the whole ensemble is reproducible from ctx's seed, and the runs are independent
(each rounding of each element draws its own random word). Run r of an ensemble is
not the same trajectory as a single run from the same seed.
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from srround._core import Context
from srround.rounding import round as _round

__all__ = ["solve_ivp", "OdeResult", "METHODS", "ORDERS", "reference_solution"]

METHODS = ("euler", "heun", "midpoint", "rk4")
ORDERS = {"euler": 1, "heun": 2, "midpoint": 2, "rk4": 4}
ON_NAN = ("raise", "propagate")
MAX_STEPS = 2**53


@dataclass
class OdeResult:
    """What `solve_ivp` returns.

    Parameters
    ----------
    t : numpy.ndarray
        Times of the saved states, shape (n_saved,), in binary64 (t0 + k h).
    y : numpy.ndarray
        States, shape ``(*y0.shape, n_saved)``, or ``(n_runs, *y0.shape, n_saved)`` for an
        ensemble; time on the last axis as in scipy.integrate.solve_ivp, so
        ``y[..., -1]`` is the state at the end.
    h : float
        The step actually taken (rounded to nearest into the format).
    n_steps : int
        Steps taken.
    method : str
        The Runge-Kutta method.
    n_runs : int or None
        Runs of the ensemble (None: one trajectory, no run axis).
    fused : bool
        Whether the updates were fused multiply-adds.
    nfev : int
        Calls of fun (each serves all runs of an ensemble).

    Examples
    --------
    >>> res = sr.ode.solve_ivp(lambda t, y, c: c.multiply(-1.0, y), (0.0, 1.0), 1.0,
    ...                        sr.Context("bf16", "nearest"), n_steps=8)
    >>> res.t.shape, res.y.shape, res.h, res.nfev
    ((9,), (9,), 0.125, 8)
    """
    t: np.ndarray
    y: np.ndarray
    h: float
    n_steps: int
    method: str
    n_runs: int = None
    fused: bool = False
    nfev: int = 0          # calls of fun (each serves all runs of an ensemble)

    @property
    def y_end(self):
        """The final state (all runs): ``y[..., -1]``."""
        return self.y[..., -1]


def _check_fun_output(k, shape, t, y, nan_is_error):
    """fun's output as an array of the state's shape, or a clear ValueError."""
    k = np.asarray(k)
    if k.shape != shape:
        raise ValueError(f"fun returned an array of shape {k.shape} at t = {t!r}; the state "
                         f"has shape {shape} (with n_runs the state has a leading run "
                         "dimension: index components as y[..., i] and return "
                         "np.stack([...], axis=-1))")
    if k.dtype.kind not in "fiub":
        raise ValueError(f"fun returned a {k.dtype} array at t = {t!r}; expected real values")
    if nan_is_error and np.isnan(k).any() and not np.isnan(y).any():
        raise ValueError(f"fun returned NaN at t = {t!r} for a state without NaN "
                         "(on_nan='propagate' lets NaN through)")
    return k


def _default_on_nan(fmt):
    """"propagate" for formats whose overflow policy turns finite values into NaN
    (overflow="nan", as E4M3), where NaN is an ordinary result of the arithmetic;
    "raise" for the others, where NaN means the problem or the step went wrong."""
    return "propagate" if fmt.overflow == "nan" else "raise"


def _integer_option(value, name, lowest):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < lowest:
        raise ValueError(f"{name} must be at least {lowest}, got {value}")
    return int(value)


def _choice(value, name, choices):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {choices}")
    return value


def _validate(fun, t_span, y0, ctx, method, n_steps, h, n_runs, save_every, fused, on_nan):
    if not callable(fun):
        raise TypeError(f"fun must be callable as fun(t, y, ctx), got {type(fun).__name__}")
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be an sr.Context, got {type(ctx).__name__}")
    _choice(method, "method", METHODS)
    on_nan = _default_on_nan(ctx.format) if on_nan is None else _choice(on_nan, "on_nan", ON_NAN)
    if not isinstance(fused, (bool, np.bool_)):
        raise TypeError(f"fused must be True or False, got {fused!r}")
    try:
        t0, t1 = t_span
    except TypeError:
        raise TypeError(f"t_span must be a pair of real numbers (t0, t1), got {t_span!r}") \
            from None
    except ValueError:
        raise ValueError(f"t_span must be a pair of real numbers (t0, t1), got {t_span!r}") \
            from None
    for v in (t0, t1):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"t_span must hold real numbers, got {t_span!r}")
    t0, t1 = float(t0), float(t1)
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise ValueError(f"t_span must be finite, got {(t0, t1)}")
    if not t1 > t0:
        raise ValueError(f"t_span must satisfy t0 < t1 (integration runs forward), "
                         f"got {(t0, t1)}")
    y0 = np.asarray(y0)
    if y0.dtype.kind == "c":
        raise TypeError("y0 must be real; complex states are not supported")
    if y0.dtype.kind not in "fiub":
        raise TypeError(f"y0 must be a real number or a 1-d array of them, got {y0.dtype}")
    if y0.ndim > 1 or y0.size == 0:
        raise ValueError(f"y0 must be a scalar or a non-empty 1-d array, got shape {y0.shape}")
    y0 = y0.astype(np.float64)
    if not np.isfinite(y0).all():
        raise ValueError("y0 must be finite")
    if (n_steps is None) == (h is None):
        raise ValueError("give exactly one of n_steps and h")
    if n_steps is not None:
        n_steps = _integer_option(n_steps, "n_steps", 1)
        h = (t1 - t0) / n_steps
    else:
        if isinstance(h, (bool, np.bool_)) or not isinstance(h, numbers.Real):
            raise TypeError(f"h must be a real number, got {h!r}")
        h = float(h)
        if not (math.isfinite(h) and h > 0):
            raise ValueError(f"h must be positive and finite, got {h}")
        ratio = (t1 - t0) / h
        if not ratio <= MAX_STEPS:                 # inf when the span overflows too
            raise ValueError(f"h = {h} makes {ratio:.3g} steps over {(t0, t1)}: at most "
                             "2**53 (time t0 + k h is kept in binary64)")
        n_steps = max(1, round(ratio))
        if abs(n_steps * h - (t1 - t0)) > 1e-9 * (t1 - t0):
            raise ValueError(f"h = {h} does not divide t_span {(t0, t1)} into whole steps; "
                             "pass n_steps instead")
    if n_steps > MAX_STEPS:
        raise ValueError(f"{n_steps} steps: at most 2**53 (time t0 + k h is kept in "
                         "binary64, where larger k cannot be told apart)")
    if n_runs is not None:
        n_runs = _integer_option(n_runs, "n_runs", 1)
    save_every = n_steps if save_every is None else _integer_option(save_every, "save_every", 1)
    return t0, t1, y0, n_steps, h, n_runs, save_every, on_nan


def solve_ivp(fun, t_span, y0, ctx, method="euler", *, n_steps=None, h=None, n_runs=None,
              fused=False, save_every=1, on_nan=None):
    """Integrate y' = fun(t, y, ctx) with a fixed step, every operation rounded in ctx.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, ctx) -> dy/dt`` with y's shape; t a float, y a float64 array of
        values in ctx's format (shape y0.shape, or ``(n_runs, *y0.shape)`` for an
        ensemble). Or SciPy's ``fun(t, y)`` (when fun takes two positional
        arguments): y is then an `srround.EmulatedArray` of ctx, so plain NumPy
        code in fun is rounded in the format.
    t_span : tuple of float
        (t0, t1), finite, t0 < t1.
    y0 : float or array_like
        Scalar or 1-d initial state; rounded to nearest into the format.
    ctx : Context
        The format and rounding of every operation.
    method : {"euler", "heun", "midpoint", "rk4"}, optional
        Explicit Euler (order 1), Heun's explicit trapezoid (2), the midpoint
        method (2) or classical Runge-Kutta (4).
    n_steps : int, optional
        The number of steps (give n_steps or h).
    h : float, optional
        The step, which must divide t1 - t0. The step is rounded to nearest into
        the format; time advances by the rounded step.
    n_runs : int, optional
        None for one trajectory; R for R independent trajectories computed together
        (a leading batch dimension; meaningful with stochastic rounding).
    fused : bool, optional
        Use ctx.fma for the updates y + c * k (one rounding instead of two).
    save_every : int or None, optional
        Keep every k-th state (and always the first and the last); None keeps only
        the first and the last. Saves memory for long ensembles.
    on_nan : {"raise", "propagate"}, optional
        "raise": ValueError as soon as fun returns NaN, or NaN is seen in a saved
        state. "propagate": NaN is data; it stays in the runs it reaches, the
        others go on. None (default): "propagate" for formats whose overflow policy
        makes NaN from finite values (overflow="nan", as E4M3: every overflow is NaN
        by design), "raise" for the others.

    Returns
    -------
    OdeResult
        t (n_saved,) and y (..., n_saved), time on the last axis.

    Raises
    ------
    TypeError
        For options of the wrong type (a ctx that is not a Context, a non-integer
        n_steps, ...).
    ValueError
        For bad values: an empty or infinite t_span, neither or both of n_steps
        and h, an h that does not divide the span or rounds to 0, a y0 that
        overflows the format, fun's output of the wrong shape, NaN with
        on_nan="raise".

    Notes
    -----
    The stages, with fl one rounded ctx operation and h2 = fl(h/2), h6 = fl(h/6)::

        euler     y+ = fl(y + fl(h k1))
        heun      k2 = f(t + h, fl(y + fl(h k1)));   y+ = fl(y + fl(h2 fl(k1 + k2)))
        midpoint  k2 = f(t + h/2, fl(y + fl(h2 k1))); y+ = fl(y + fl(h k2))
        rk4       k2 = f(t + h/2, fl(y + fl(h2 k1))), k3 = f(t + h/2, fl(y + fl(h2 k2))),
                  k4 = f(t + h, fl(y + fl(h k3)));
                  y+ = fl(y + fl(h6 fl(fl(fl(k1 + fl(2 k2)) + fl(2 k3)) + k4)))

    With fused=True each fl(y + fl(c k)) is one fl(y + c k). The module docstring
    says how to write fun for ensembles.

    Examples
    --------
    y' = -y, y(0) = 2**-6 in binary16: round to nearest drifts away from
    y(1) = 2**-6 / e = 0.0057481; stochastic rounding is right on average.

    >>> def decay(t, y, ctx):
    ...     return ctx.multiply(-1.0, y)
    >>> rn = sr.Context(sr.binary16, "nearest")
    >>> sr.ode.solve_ivp(decay, (0.0, 1.0), 2.0**-6, rn, n_steps=1024).y_end
    array(0.00583649)
    >>> sr_ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    >>> res = sr.ode.solve_ivp(decay, (0.0, 1.0), 2.0**-6, sr_ctx, n_steps=1024, n_runs=100)
    >>> res.y.shape, round(float(res.y_end.mean()), 5)
    ((100, 1025), 0.00574)
    """
    t0, t1, y0, n_steps, h_exact, n_runs, save_every, on_nan = _validate(
        fun, t_span, y0, ctx, method, n_steps, h, n_runs, save_every, fused, on_nan)
    nan_is_error = on_nan == "raise"
    from srround.emulation.array import ode_right_hand_side
    fun = ode_right_hand_side(fun, ctx)     # SciPy's fun(t, y): y an EmulatedArray
    fmt = ctx.format

    def stored(value):
        return float(_round(np.float64(value), fmt, "nearest"))

    h = stored(h_exact)
    if h == 0.0 or not math.isfinite(h):
        raise ValueError(f"the step {h_exact} is {h} in {fmt.name or fmt}; it must be a "
                         "positive finite number of the format")
    h2, h6 = stored(h / 2), stored(h / 6)
    y = np.asarray(_round(y0, fmt, "nearest"), dtype=np.float64)
    if not np.isfinite(y).all():
        raise ValueError(f"y0 overflows the format {fmt.name or fmt}")
    if n_runs is not None:
        y = np.ascontiguousarray(np.broadcast_to(y, (n_runs,) + y.shape))
    shape = y.shape

    add, mul, fma = ctx.add, ctx.multiply, ctx.fma
    nfev = 0

    def f(t, state):
        nonlocal nfev
        nfev += 1
        return _check_fun_output(fun(t, state, ctx), shape, t, state, nan_is_error)

    if fused:
        def axpy(state, c, k):          # fl(state + c k), one rounding
            return fma(c, k, state)
    else:
        def axpy(state, c, k):          # fl(state + fl(c k))
            return add(state, mul(c, k))

    if method == "euler":
        def step(t, y):
            return axpy(y, h, f(t, y))
    elif method == "heun":
        def step(t, y):
            k1 = f(t, y)
            k2 = f(t + h, axpy(y, h, k1))
            return axpy(y, h2, add(k1, k2))
    elif method == "midpoint":
        def step(t, y):
            k1 = f(t, y)
            k2 = f(t + h / 2, axpy(y, h2, k1))
            return axpy(y, h, k2)
    else:
        def step(t, y):
            k1 = f(t, y)
            k2 = f(t + h / 2, axpy(y, h2, k1))
            k3 = f(t + h / 2, axpy(y, h2, k2))
            k4 = f(t + h, axpy(y, h, k3))
            total = add(add(add(k1, mul(2.0, k2)), mul(2.0, k3)), k4)
            return axpy(y, h6, total)

    # saved: steps 0, save_every, 2 save_every, ... and always the last one
    n_saved = -(-n_steps // save_every) + 1
    try:
        Y = np.empty((n_saved,) + shape)
    except (MemoryError, ValueError):
        raise ValueError(f"keeping {n_saved} states of shape {shape} does not fit in memory; "
                         "pass save_every=k (or None: only the first and the last)") from None
    Y[0] = y
    slot = 1
    for k in range(n_steps):
        y = step(t0 + k * h, y)
        if (k + 1) % save_every == 0 or k + 1 == n_steps:
            # NaN in the state stays NaN (every update is fl(y + ...)), so looking at
            # the saved states finds it, at the step where it appeared when save_every=1
            if nan_is_error and np.isnan(y).any():
                raise ValueError(f"NaN appeared in the state between t = "
                                 f"{t0 + h * ((slot - 1) * save_every)!r} and "
                                 f"t = {t0 + h * (k + 1)!r} (on_nan='propagate' lets it "
                                 "through)")
            Y[slot] = y
            slot += 1
    t = t0 + h * np.minimum(np.arange(n_saved, dtype=np.int64) * save_every, n_steps)
    return OdeResult(t=t, y=np.ascontiguousarray(np.moveaxis(Y, 0, -1)), h=h,
                     n_steps=n_steps, method=method, n_runs=n_runs, fused=bool(fused),
                     nfev=nfev)


def reference_solution(fun64, t_span, y0, t_eval, rtol=1e-12, atol=1e-14):
    """The binary64 reference: scipy.integrate.solve_ivp (DOP853) with tight tolerances.

    Needs SciPy (the ``ode`` extra).

    Parameters
    ----------
    fun64 : callable
        ``fun64(t, y)`` on 1-d float64 arrays (no rounding).
    t_span : tuple of float
        (t0, t1).
    y0 : float or array_like
        The initial state.
    t_eval : array_like
        The times at which the solution is wanted.
    rtol, atol : float, optional
        SciPy's tolerances.

    Returns
    -------
    numpy.ndarray
        Shape (len(y0), len(t_eval)).

    Raises
    ------
    ImportError
        Without SciPy.
    RuntimeError
        If SciPy's solver fails.

    Examples
    --------
    >>> sr.ode.reference_solution(lambda t, y: -y, (0.0, 1.0), 2.0**-6, [1.0])
    array([[0.00574812]])
    """
    try:
        from scipy.integrate import solve_ivp as scipy_solve_ivp
    except ImportError:
        raise ImportError("srround.ode.reference_solution needs SciPy: "
                          "pip install 'srround[ode]'") from None
    sol = scipy_solve_ivp(fun64, t_span, np.atleast_1d(np.asarray(y0, float)),
                          method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"reference solution failed: {sol.message}")
    return sol.y
