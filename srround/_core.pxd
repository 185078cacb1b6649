# The C core's API (csrc/srround.h), as the bindings in _core.pyx see it. Cython
# reads this file when it compiles _core.pyx.
cimport numpy as cnp
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "srround.h" nogil:
    ctypedef struct sr_type_consts:
        int usable
    ctypedef struct sr_format:
        int precision, emax, emin, subnormals
        int overflow
        double max
        int signed_zero
        sr_type_consts f32, f64
    int sr_format_init(sr_format *fmt, int precision, int emax, int emin, int subnormals,
                       int overflow, double max, const char **err)

    enum: SR_RNG_LANES
    enum: SR_NUM_ROUNDINGS
    const char *const sr_rounding_names[]
    int sr_rounding_is_stochastic(int rounding)

    ctypedef struct sr_rng:      # the counter-stream fields (the rest: sr_rng_state)
        int kind
        uint32_t key[2]
        uint32_t stream_id[2]
        uint64_t next
    ctypedef struct sr_context:
        sr_format fmt
        int rounding
        int bits
        sr_rng rng
    ctypedef struct sr_rng_state:
        uint64_t s[4][SR_RNG_LANES]
        uint64_t buf[SR_RNG_LANES]
        int pos
        int64_t half
    int sr_context_init(sr_context *ctx, const sr_format *fmt, int rounding, int bits,
                        const uint64_t *seed, const char **err)
    void sr_context_draw(sr_context *ctx, uint64_t *out, size_t n)
    void sr_context_draw32(sr_context *ctx, uint32_t *out, size_t n)
    void sr_context_get_state(sr_context *ctx, sr_rng_state *state)
    int sr_context_set_state(sr_context *ctx, const sr_rng_state *state, const char **err)
    void sr_context_spawn(sr_context *parent, sr_context *child)
    void sr_context_lock(sr_context *ctx)
    void sr_context_unlock(sr_context *ctx)

    # counter streams (Philox4x32-10)
    void sr_rng_seed_counter(sr_rng *rng, const uint64_t *words)
    uint64_t sr_rng_half_position(const sr_rng *rng)
    void sr_rng_set_half_position(sr_rng *rng, uint64_t h)
    void sr_rng_advance(sr_rng *rng, uint64_t n)
    void sr_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out)

    # threads (csrc/threads.c)
    int sr_set_num_threads(int n)
    int sr_get_num_threads()

    const char *sr_isa()
    int sr_isa_check(const char *isa)
    int sr_context_set_isa(sr_context *ctx, const char *isa)
    const char *sr_context_isa(const sr_context *ctx)

    ctypedef void (*sr_loop)(char **, const cnp.npy_intp *, const cnp.npy_intp *, void *)
    ctypedef enum sr_identity:
        SR_IDENTITY_NONE, SR_IDENTITY_ZERO, SR_IDENTITY_ONE
    ctypedef enum sr_dtype:
        SR_DTYPE_F16, SR_DTYPE_F32, SR_DTYPE_F64, SR_DTYPE_I64, SR_DTYPE_U64
    ctypedef struct sr_ufunc_loop:
        sr_loop loop
        sr_dtype in_ "in"
        sr_dtype out
        int needs_f32
    enum: SR_MAX_UFUNC_LOOPS
    enum: SR_NUM_UFUNCS
    ctypedef struct sr_ufunc_spec:
        const char *name
        int nin
        sr_identity identity
        const char *doc
        int nloops
        sr_ufunc_loop loops[SR_MAX_UFUNC_LOOPS]
    const sr_ufunc_spec sr_ufuncs[]

    void sr_loop_round_given_f32(char **, const cnp.npy_intp *, const cnp.npy_intp *, void *)
    void sr_loop_round_given_f64(char **, const cnp.npy_intp *, const cnp.npy_intp *, void *)
    ctypedef struct sr_unsigned_zero_loop:
        sr_loop inner
        void *inner_data
        int nin
    void sr_loop_unsigned_zero_f32(char **, const cnp.npy_intp *, const cnp.npy_intp *, void *)
    void sr_loop_unsigned_zero_f64(char **, const cnp.npy_intp *, const cnp.npy_intp *, void *)

    double sr_sum_kahan_f32(sr_context *ctx, const char *x, cnp.npy_intp n, cnp.npy_intp stride)
    double sr_sum_kahan_f64(sr_context *ctx, const char *x, cnp.npy_intp n, cnp.npy_intp stride)
    unsigned sr_dot_f32(sr_context *prod, sr_context *sum, const char *x, cnp.npy_intp xs,
                        const char *y, cnp.npy_intp ys, cnp.npy_intp n, double *result)
    unsigned sr_dot_f64(sr_context *prod, sr_context *sum, const char *x, cnp.npy_intp xs,
                        const char *y, cnp.npy_intp ys, cnp.npy_intp n, double *result)

    enum: SR_MATMUL_ROWS
    enum: SR_SPLIT_ARITH
    ctypedef struct sr_matmul_args:
        cnp.npy_intp m, k, n, batches
        const char *a
        cnp.npy_intp a_rs, a_cs
        const cnp.npy_intp *a_offsets
        const char *b
        cnp.npy_intp b_rs, b_cs
        const cnp.npy_intp *b_offsets
        char *c
        cnp.npy_intp c_rs
        const cnp.npy_intp *c_offsets
        int subtract, zero_start
    int sr_matmul_f32(sr_context *prod, sr_context *sum, const sr_matmul_args *args,
                      unsigned *raised)
    int sr_matmul_f64(sr_context *prod, sr_context *sum, const sr_matmul_args *args,
                      unsigned *raised)
    int sr_test_set_fp_state(int direction, int ftz, int daz)
    long sr_test_fp_state()
