# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
"""Thin bindings over the matrix multiply-accumulate models (csrc/mma.h).

`Model` holds one instruction's arithmetic as a C struct; `gemm` and `dots` hand
contiguous float64 arrays to the C core and release the GIL while it runs. Argument
checking and reading inputs as the instruction's types happen in srround.hardware.
"""
import numpy as np

cimport numpy as cnp
from libc.string cimport memset

cnp.import_array()
cnp.import_ufunc()

cdef extern from "srround.h" nogil:
    ctypedef struct sr_context:
        pass

cdef extern from "mma.h" nogil:
    ctypedef struct mma_type:
        int precision
        int emin
    ctypedef struct mma_model:
        int kind
        mma_type a, b, c
        int out, k, L, F, F2, e_zero, group, block
        mma_type scale
    ctypedef struct mma_gemm_args:
        size_t m, n, k
        const double *a
        const double *b
        const double *c
        const double *scale_a
        const double *scale_b
        size_t promote_every
        sr_context *accumulate
        double *d
        const char *isa
    int mma_model_check(const mma_model *model, const char **err)
    int mma_gemm(const mma_model *model, const mma_gemm_args *args, const char **err)
    int mma_dots(const mma_model *model, size_t count, size_t k, const double *a,
                 const double *b, const double *c, const double *scale_a,
                 const double *scale_b, double *d, const char **err)

# the order of mma_kind and mma_output in csrc/mma.h
KINDS = ("fdpa_truncated", "fdpa_scaled_groups", "fdpa_two_stage", "fdpa_two_stage_split",
         "fdpa_exact", "fma_chain", "ftz_mul_add")
OUTPUTS = ("rz_binary32", "rn_binary32", "rn_binary16", "rz_e8m13", "binary64")


cdef const double *_data(a):
    return <const double *>cnp.PyArray_DATA(a) if a is not None else NULL


def _contiguous(x):
    return None if x is None else np.ascontiguousarray(x, dtype=np.float64)


cdef sr_context *_context_of(ufunc):
    # srround/_core.pyx gives every ufunc of a Context the context's C struct as its
    # loop data; the ufunc keeps the struct alive (it holds the Context's core).
    return <sr_context *>(<cnp.ufunc>ufunc).data[0]


cdef class Model:
    """One instruction's arithmetic (the parameters of csrc/mma.h's mma_model)."""
    cdef mma_model c

    def __init__(self, kind, a, b, c, out, *, k, L, F=0, F2=0, e_zero=0, group=0,
                 block=0, scale=(1, 0)):
        memset(&self.c, 0, sizeof(self.c))
        self.c.kind = KINDS.index(kind)
        self.c.a.precision, self.c.a.emin = a
        self.c.b.precision, self.c.b.emin = b
        self.c.c.precision, self.c.c.emin = c
        self.c.out = OUTPUTS.index(out)
        self.c.k, self.c.L, self.c.F, self.c.F2 = k, L, F, F2
        self.c.e_zero, self.c.group, self.c.block = e_zero, group, block
        self.c.scale.precision, self.c.scale.emin = scale
        cdef const char *err = NULL
        if mma_model_check(&self.c, &err) != 0:
            raise ValueError(err.decode())

    def gemm(self, a, b, c=None, scale_a=None, scale_b=None, *, promote_every=0,
             accumulate_add=None, isa="scalar"):
        """D (m x n, float64 values) of the (m x k) by (k x n) product; accumulate_add
        is the add ufunc of the promotion accumulator's Context, or None."""
        a, b, c = _contiguous(a), _contiguous(b), _contiguous(c)
        scale_a, scale_b = _contiguous(scale_a), _contiguous(scale_b)
        cdef mma_gemm_args g
        g.m, g.k = a.shape[0], a.shape[1]
        g.n = b.shape[1]
        d = np.empty((g.m, g.n), np.float64)
        g.a, g.b, g.c = _data(a), _data(b), _data(c)
        g.scale_a, g.scale_b = _data(scale_a), _data(scale_b)
        g.promote_every = promote_every
        g.accumulate = _context_of(accumulate_add) if accumulate_add is not None else NULL
        g.d = <double *>cnp.PyArray_DATA(d)
        cdef const char *err = NULL
        cdef int status
        isa_name = isa.encode()    # srround's kernel path (sr.isa()), or a test's choice
        g.isa = isa_name
        with nogil:
            status = mma_gemm(&self.c, &g, &err)
        if status != 0:
            message = err.decode()
            raise (MemoryError if message == "out of memory" else ValueError)(message)
        return d

    def dots(self, a, b, c=None, scale_a=None, scale_b=None):
        """count independent dot products of the rows of a and b (count x k) added to
        c (count,), the scalar path; float64 values."""
        a, b, c = _contiguous(a), _contiguous(b), _contiguous(c)
        scale_a, scale_b = _contiguous(scale_a), _contiguous(scale_b)
        cdef size_t count = a.shape[0], k = a.shape[1]
        d = np.empty(count, np.float64)
        cdef const char *err = NULL
        cdef int status
        cdef const double *pa = _data(a)
        cdef const double *pb = _data(b)
        cdef const double *pc = _data(c)
        cdef const double *psa = _data(scale_a)
        cdef const double *psb = _data(scale_b)
        cdef double *pd = <double *>cnp.PyArray_DATA(d)
        with nogil:
            status = mma_dots(&self.c, count, k, pa, pb, pc, psa, psb, pd, &err)
        if status != 0:
            raise ValueError(err.decode())
        return d
