"""srround: emulate low-precision floating-point arithmetic with stochastic rounding.

    import srround as sr
    y = sr.round(x, sr.bfloat16, "stochastic", rng=42)
    ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    s = ctx.add.reduce(x)        # every partial sum rounded to binary16
    res = sr.ode.solve_ivp(lambda t, y, c: c.multiply(-1.0, y), (0, 1), 1.0, ctx, n_steps=100)
"""
from srround._core import ISAS, OVERFLOWS, ROUNDINGS, Context, Format, isa
from srround.formats import (PRESETS, bfloat16, binary16, binary32, binary64, e2m1, e2m3,
                             e3m2, e4m3, e5m2, format, tf32)
from srround.rounding import round
from srround.summation import cumsum, dot, matmul, sum
from srround import ode
from srround import quantize
from srround.emulation import EmulatedArray, emulate, emulated
from srround import linalg
from srround.threads import get_num_threads, set_num_threads
from srround import _dask_route

_dask_route.install()   # stochastic ufuncs on Dask arrays go to srround.dask

from srround._version import __version__

__all__ = ["Format", "Context", "round", "format", "ROUNDINGS", "OVERFLOWS", "PRESETS",
           "binary16", "bfloat16", "tf32", "binary32", "binary64", "e5m2", "e4m3", "e3m2",
           "e2m3", "e2m1", "isa", "sum", "cumsum", "dot", "matmul", "ode", "quantize",
           "emulate", "emulated", "EmulatedArray", "linalg", "set_num_threads", "get_num_threads"]

