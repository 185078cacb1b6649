"""srround: emulate low-precision floating-point arithmetic with stochastic rounding.

    import srround as sr
    y = sr.round(x, sr.bfloat16, "stochastic", rng=42)
    ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    s = ctx.add.reduce(x)        # every partial sum rounded to binary16
    res = sr.ode.solve_ivp(lambda t, y, c: c.multiply(-1.0, y), (0, 1), 1.0, ctx, n_steps=100)
"""
from srround._core import ISAS, OVERFLOWS, ROUNDINGS, Context, Format, isa
from srround.formats import (PRESETS, bfloat16, binary8p1, binary8p2, binary8p3, binary8p4,
                             binary8p5, binary8p6, binary8p7, binary16, binary32, binary64,
                             e2m1, e2m3, e3m2, e3m4, e4m3, e4m3b11fnuz, e4m3fnuz, e5m2,
                             e5m2fnuz, format, p3109, tf32)
from srround.encoding import decode, encode
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
           "e2m3", "e2m1", "e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz", "e3m4", "binary8p1",
           "binary8p2", "binary8p3", "binary8p4", "binary8p5", "binary8p6", "binary8p7",
           "p3109", "encode", "decode", "isa", "sum", "cumsum", "dot", "matmul", "ode",
           "quantize", "emulate", "emulated", "EmulatedArray", "linalg", "set_num_threads",
           "get_num_threads"]

