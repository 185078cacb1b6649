"""Builds the C core (csrc/) and the Cython bindings into srround._core.

The C compiler flags come from csrc/flags.mk, which the C tests' Makefile reads
too. Variants go through the usual environment variables, e.g.
    CC=clang python3 setup.py build_ext --inplace
    CFLAGS=-DSR_PORTABLE_ONLY python3 setup.py build_ext --inplace   (no per-ISA kernels)
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = ["csrc/format.c", "csrc/rng.c", "csrc/round.c", "csrc/arith.c", "csrc/kernels.c",
        "csrc/fpstate.c", "csrc/threads.c", "csrc/matmul.c", "csrc/given_bits.c",
        "csrc/unsigned_zero.c"]


def core_flags(path=os.path.join(HERE, "csrc", "flags.mk")):
    """The SR_CFLAGS list of csrc/flags.mk."""
    with open(path) as f:
        for line in f:
            name, sep, value = line.partition("=")
            if sep and name.strip() == "SR_CFLAGS":
                return value.split()
    raise RuntimeError(f"{path} defines no SR_CFLAGS")


ext = Extension(
    "srround._core",
    sources=["srround/_core.pyx"] + CORE,
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/*.def")) + ["csrc/flags.mk"],  # rebuild when these change
    include_dirs=[numpy.get_include(), "csrc"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    extra_compile_args=core_flags() + ["-pthread"],
    extra_link_args=["-pthread"],   # csrc/threads.c's pool
)

# The matrix multiply-accumulate models (csrc/mma.c), with their own copy of the core.
mma_ext = Extension("srround._mma", sources=["srround/_mma.pyx", "csrc/mma.c"] + CORE,
                    depends=ext.depends, include_dirs=ext.include_dirs,
                    define_macros=ext.define_macros, extra_compile_args=ext.extra_compile_args,
                   extra_link_args=ext.extra_link_args)

setup(ext_modules=cythonize([ext, mma_ext], language_level=3))
