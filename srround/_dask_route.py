"""Routes stochastic Context ufuncs applied to Dask arrays to srround.dask.

``ctx.round(dask_array)`` reaches Dask's ``Array.__array_ufunc__``, which would map
the ufunc over the blocks: every block (or every process's copy of the context)
would then draw from wherever the stream happens to be, which changes from one
compute to the next. This module wraps that method so that a stochastic srround
ufunc goes to srround.dask instead (counter streams: the values of the NumPy
call), which raises ValueError with the advice to use stream="counter" for a
sequential stream. It patches Dask when dask.array.core is imported, or at once if
it already is; it imports nothing from Dask itself.
"""
import importlib.abc
import importlib.util
import sys

_TARGET = "dask.array.core"


def _route(ufunc, method, inputs, kwargs):
    ctx = ufunc._srround_context()
    if ctx is None:
        raise ValueError(
            f"{ufunc.__name__} on a Dask array: a stochastic Context's ufunc cannot map "
            "over blocks reproducibly; keep the Context and use srround.dask's functions "
            "with stream='counter' (sr.Context(fmt, 'stochastic', rng=seed, stream='counter'))")
    if method != "__call__" or kwargs:
        raise ValueError(
            f"{ufunc.__name__}.{method} with {sorted(kwargs)} on a Dask array: a stochastic "
            "Context's ufunc cannot map over blocks reproducibly; use the functions of "
            "srround.dask with a stream='counter' context")
    from srround import dask as srd
    return srd._elementwise(ufunc._srround_spec[2], inputs, ctx)


def patch(core):
    """Wraps core.Array.__array_ufunc__ (once)."""
    original = core.Array.__array_ufunc__
    if getattr(original, "_srround_route", False):
        return

    def __array_ufunc__(self, numpy_ufunc, method, *inputs, **kwargs):
        spec = getattr(numpy_ufunc, "_srround_spec", None)
        if spec is not None and spec[1] in ("stochastic", "stochastic_equal"):
            return _route(numpy_ufunc, method, inputs, kwargs)
        return original(self, numpy_ufunc, method, *inputs, **kwargs)

    __array_ufunc__._srround_route = True
    __array_ufunc__.__doc__ = original.__doc__
    core.Array.__array_ufunc__ = __array_ufunc__


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds dask.array.core through the other finders and patches it once loaded."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)      # once: the other finders locate the module
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


def install():
    if _TARGET in sys.modules:
        patch(sys.modules[_TARGET])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
