"""Builds the C core (csrc/) and the Cython bindings into srround._core."""
import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

CORE = ["csrc/format.c", "csrc/rng.c", "csrc/round.c", "csrc/arith.c", "csrc/kernels.c"]

# Exact IEEE semantics: no contraction into fma, no fast-math, no -march=native.
# -fno-math-errno only stops sqrt() from setting errno (nothing reads it), which lets
# compilers vectorize it; results and floating-point flags are unchanged.
FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno",
         "-fno-strict-aliasing"]

ext = Extension(
    "srround._core",
    sources=["srround/_core.pyx"] + CORE,
    depends=sorted(glob.glob("csrc/*.h")),   # rebuild when a kernel header changes
    include_dirs=[numpy.get_include(), "csrc"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    extra_compile_args=FLAGS,
)

# The matrix multiply-accumulate models (csrc/mma.c), with their own copy of the core.
mma_ext = Extension("srround._mma", sources=["srround/_mma.pyx", "csrc/mma.c"] + CORE,
                    depends=ext.depends, include_dirs=ext.include_dirs,
                    define_macros=ext.define_macros, extra_compile_args=FLAGS)

setup(ext_modules=cythonize([ext, mma_ext], language_level=3))
