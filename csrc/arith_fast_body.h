/*
 * Fast path for elementwise add, subtract and multiply, included by round_impl.h
 * once per input type and instruction set (like round_body.h). Expects SR_T, SR_FN
 * and SR_ISA_TAG. Most exact sums and products of binary32/binary64 operands are
 * themselves binary64 numbers (the TwoSum error is zero), and where they are not, the
 * error rarely changes the outcome (sr_normal_decided). When every result of a chunk is
 * in the format's normal range, rounding is the branch-free normal-range kernel applied
 * to binary64 bit patterns, which compilers vectorize; the rare undecided elements are
 * flagged, with their exact hi + lo, for the caller's exact path. Otherwise the whole
 * chunk goes to the general per-element path (arith.c).
 */
#define SR_F64(x) SR_PASTE3(x, _f64, SR_ISA_TAG)

/* Returns 0 (nothing written) if the chunk does not qualify; else writes out[0..n)
   and returns 1, or 2 when some elements still need the exact path: those have
   undecided[i] set, and their exact result is hi[i] + lo[i].
   Input strides are 0 (a broadcast scalar) or sizeof(SR_T); out is contiguous. */
static inline int SR_FN(sr_arith_fast)(int op, const char *pa, sr_intp sa, const char *pb,
                                       sr_intp sb, char *out, sr_intp n,
                                       const sr_type_consts *c, sr_rounding mode, int rshift,
                                       const uint64_t *rnd, double *hi, double *lo,
                                       uint64_t *undecided)
{
    double s[SR_CHUNK], err_of[SR_CHUNK];   /* local: provably unaliased, so vectorized */
    uint64_t inexact[SR_CHUNK];              /* integer flags keep pass 2 all-integer */
    uint64_t bad = 0;
    /* binary64 products: their fma-computed error is exact only above 2^-960 */
    const uint64_t min_product = 0x03f0000000000000u;   /* 2^-960 */
    const uint64_t range_lo = op == SR_OP_MULTIPLY && sizeof(SR_T) == 8 &&
                                      c->normal_bits < min_product ? min_product
                                                                   : c->normal_bits,
                   span = 0x7ff0000000000000u - range_lo;
    /* the normal-range kernel needs d >= 1 discarded bits (not binary64 itself) */
    if (n > SR_CHUNK || c->shift == 0) return 0;
    /* This pass may raise flags (inexact, or invalid from infinities) that the
       result does not: keep the caller's flags as they were. */
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
#define SR_PASS1(A, B)                                                                     \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        double x = (double)(A), y = (double)(B), r, err;                                   \
        if (op == SR_OP_MULTIPLY) {                                                        \
            r = x * y;       /* exact for binary32: their products fit in binary64 */      \
            err = sizeof(SR_T) == 4 ? 0 : fma(x, y, -r);                                   \
        } else {                                                                           \
            if (op == SR_OP_SUBTRACT) y = -y;                                              \
            r = x + y;                                                                     \
            double bb = r - x;                                                             \
            err = (x - (r - bb)) + (y - bb);                                               \
        }                                                                                  \
        uint64_t u;                                                                        \
        memcpy(&u, &r, sizeof u);                                                          \
        s[i] = r;                                                                          \
        err_of[i] = err;                                                                   \
        inexact[i] = (uint64_t)(err != 0);                                                 \
        bad |= (uint64_t)(((u & 0x7fffffffffffffffu) - range_lo) >= span);                \
    }
    const SR_T *a = (const SR_T *)(const void *)pa, *b = (const SR_T *)(const void *)pb;
    if (sa && sb) SR_PASS1(a[i], b[i])
    else if (sa) SR_PASS1(a[i], b[0])
    else if (sb) SR_PASS1(a[0], b[i])
    else SR_PASS1(a[0], b[0])
#undef SR_PASS1
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    if (bad) return 0;
    SR_F64(sr_normal_consts) k = SR_F64(sr_normal_setup)(c, mode, 64 - rshift);
    SR_T *y = (SR_T *)(void *)out;
    uint64_t any = 0;
#define SR_PASS2(MODE)                                                                     \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        uint64_t u;                                                                        \
        memcpy(&u, &s[i], sizeof u);                                                       \
        uint64_t x = SR_F64(sr_normal_increment)(u, &k, MODE,                              \
                                                 (MODE) >= SR_STOCHASTIC ? rnd[i] : 0);    \
        uint64_t open = inexact[i] & (uint64_t)!SR_F64(sr_normal_decided)(u, x, &k);      \
        undecided[i] = open;                                                               \
        any |= open;                                                                       \
        u = SR_F64(sr_normal_overflow)((u + x) & ~k.mask, &k);                             \
        double r;                                                                          \
        memcpy(&r, &u, sizeof r);                                                          \
        y[i] = (SR_T)r;      /* exact: the result is a value of the format */              \
    }
    SR_DISPATCH_MODE(mode, SR_PASS2)
#undef SR_PASS2
    if (!any) return 1;
    memcpy(hi, s, (size_t)n * sizeof *hi);
    memcpy(lo, err_of, (size_t)n * sizeof *lo);
    return 2;
}
#undef SR_F64
