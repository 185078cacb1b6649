# Compiler flags of the C core: read by this directory's Makefile and by setup.py,
# so the C tests build the code exactly as the Python extension does.
# Exact IEEE semantics: no contraction into fma, no fast-math, no -march=native.
# -fno-math-errno only stops sqrt() from setting errno (nothing reads it), which
# lets compilers vectorize it. -fno-strict-aliasing: the kernels read float data
# through integer pointers.
SR_CFLAGS = -O3 -ffp-contract=off -fno-fast-math -fno-math-errno -fno-strict-aliasing
