/*
 * The check pass of arith.c's two-pass Kahan sums (kahan_chain.h says why), compiled
 * per instruction set (round_impl.h includes it with SR_FN naming the binary64
 * functions): branch-free, so that its loop vectorizes. No include guard.
 */

#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__) && defined(VW256)
#pragma GCC push_options
#pragma GCC target("prefer-vector-width=256")
#define SR_KAHAN_POP
#endif
/* (bits(v) + x) & clear: chain2_round's rounding of a binary64 result */
static inline double SR_FN(sr_kahan_round)(double v, uint64_t x, uint64_t mask)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    u = (u + x) & ~mask;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Is r = RN64(a + b) exact and in [2^emin, max], or zero: then chain2_round of r (the
   increment added, the discarded bits cleared) is the rounding of a + b, as in
   sr_chain_step_fine's exact case (which also passes inexact sums whose error cannot
   matter; this test is stricter, and cheaper). r - a == b and r - b == a both hold
   exactly when a + b is exact: the difference of r and the operand of larger
   magnitude is exact (Fast2Sum's lemma), so it equals the other operand only if
   r = a + b. */
static inline uint64_t SR_FN(sr_kahan_exact)(double a, double b, uint64_t lo, uint64_t span)
{
    double r = a + b;
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    uint64_t in_range = (uint64_t)(((u & 0x7fffffffffffffffu) - lo) < span);
    return (in_range & (uint64_t)(r - a == b) & (uint64_t)(r - b == a)) | (uint64_t)(r == 0);
}

/* Does step i pass? x: its input; s0, c0: the state before it; s1, c1: the state
   after it as the chain computed it; y: its y; x0, x2, x3: the increments of its
   first, third and fourth operations. It passes when each of its four operations,
   taken as in the defining order (ts = fl(t - s), c = fl(ts - y)) with chain2_round,
   gives the rounding of its exact result (y = fl(x - c): sr_chain_step_fine; the
   other three, sums of values of the format, which the chain needs exact anyway:
   sr_kahan_exact), and c is the chain's. */
static SR_ALWAYS_INLINE uint64_t SR_FN(sr_kahan_step_ok)(double x, double s0, double s1,
                                                        double c0, double c1, double y,
                                                        uint64_t x0, uint64_t x2, uint64_t x3,
                                                        uint64_t mask, uint64_t lo,
                                                        uint64_t span)
{
    double ts = SR_FN(sr_kahan_round)(s1 - s0, x2, mask);
    double c_next = SR_FN(sr_kahan_round)(ts - y, x3, mask);
    uint64_t want, got;
    memcpy(&want, &c_next, sizeof want);
    memcpy(&got, &c1, sizeof got);
    return SR_FN(sr_chain_step_fine)(x, -c0, x0, mask, lo, span) &
           SR_FN(sr_kahan_exact)(s0, y, lo, span) & SR_FN(sr_kahan_exact)(s1, -s0, lo, span) &
           SR_FN(sr_kahan_exact)(ts, -y, lo, span) & (uint64_t)(want == got);
}

/* The chain's lane: a register's low lane (SSE2), so that the increments and the
   clearing of bits stay in the register that holds the value, off the general
   registers (kahan_chain.h) */
#if SR_USE_SSE2
#include <emmintrin.h>
#define SR_KAHAN_LANE __m128d
#define SR_KAHAN_LANE_OF(v) _mm_set_sd(v)
#define SR_KAHAN_VALUE(l) _mm_cvtsd_f64(l)
#define SR_KAHAN_ADD(a, b) _mm_add_sd(a, b)
#define SR_KAHAN_SUB(a, b) _mm_sub_sd(a, b)
#define SR_KAHAN_BITS_ROUND(l, x, clear)                                                   \
    _mm_castsi128_pd(_mm_and_si128(                                                        \
        _mm_add_epi64(_mm_castpd_si128(l), _mm_cvtsi64_si128((long long)(x))),             \
        _mm_set1_epi64x((long long)(clear))))
#define SR_KAHAN_DISCARDED(l, mask) ((uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(l)) & (mask))
#else
#define SR_KAHAN_LANE double
#define SR_KAHAN_LANE_OF(v) (v)
#define SR_KAHAN_VALUE(l) (l)
#define SR_KAHAN_ADD(a, b) ((a) + (b))
#define SR_KAHAN_SUB(a, b) ((a) - (b))
#define SR_KAHAN_BITS_ROUND(l, x, clear) SR_FN(sr_kahan_round)(l, x, ~(clear))
#define SR_KAHAN_DISCARDED(l, mask) (sr_kahan_bits_of(l) & (mask))
#endif
#ifndef SR_KAHAN_BITS_OF_DEFINED
#define SR_KAHAN_BITS_OF_DEFINED
static inline uint64_t sr_kahan_bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}
#endif

#ifndef BRANCHLESS
#define BRANCHLESS 0
#endif
#ifndef SR_KAHAN_BLOCK
#define SR_KAHAN_BLOCK 8
#endif
#ifndef KLAG
#define KLAG 1
#endif
#ifndef INCMODE
#define INCMODE 2
#endif
#ifndef NOCHECK
#define NOCHECK 0
#endif
#ifndef SR_UNLIKELY
#if defined(__GNUC__)
#define SR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SR_UNLIKELY(x) (x)
#endif
#endif
#ifndef SR_LIKELY
#if defined(__GNUC__)
#define SR_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define SR_LIKELY(x) (x)
#endif
#endif

/* m steps of a two-pass Kahan chunk (kahan_chain.h says why the chain holds): the
   chain, then its checks (the kernel table's kahan_steps). x[i]: step i's input;
   rnd[4 i + j]: the word of its j-th operation; s[0], c[0]: the state before the
   chunk. Writes s[i], c[i] (the state before step i, up to s[m], c[m]) and y[i], and
   returns the first step that fails its checks (sr_kahan_step_ok), or m. The chain
   is a latency-bound dependency, and a step's words feed it through two increments
   (a third on its rare branch): it computes those alone, from the words, and
   stores nothing else, so that its loop issues few instructions besides the
   chain's; the vectorized check pass computes the increments it needs again. */
static inline sr_intp SR_FN(sr_kahan_steps)(const double *x, const uint64_t *rnd, double *s,
                                            double *c, double *y, sr_intp m,
                                            const sr_type_consts *c64, sr_rounding mode,
                                            int bits)
{
    const SR_FN(sr_normal_consts) k = SR_FN(sr_normal_setup)(c64, mode, bits);
    const uint64_t mask = k.mask, clear = ~mask, lo = c64->normal_bits,
                   span = c64->max_bits + 1 - lo;
    uint64_t fine[SR_CHUNK], all = 1;
    if (m > SR_CHUNK) m = SR_CHUNK;   /* (never: the callers' chunks) */
    SR_KAHAN_LANE sl = SR_KAHAN_LANE_OF(s[0]), cl = SR_KAHAN_LANE_OF(c[0]);
    uint64_t inc[4][SR_CHUNK];
    (void)inc;
#define SR_KAHAN_INC(MODE, w) SR_FN(sr_normal_increment)(0, &k, MODE, w)
#if INCMODE == 1
#define SR_I0(MODE) inc[0][i]
#define SR_I1(MODE) inc[1][i]
#define SR_I2(MODE) inc[2][i]
#define SR_I3(MODE) inc[3][i]
#define SR_PRE(MODE) for (sr_intp i = 0; i < m; i++) for (int j = 0; j < 4; j++) inc[j][i] = SR_KAHAN_INC(MODE, rnd[4 * i + j]);
#define SR_STORE(MODE)
#elif INCMODE == 2
#define SR_I0(MODE) inc[0][i]
#define SR_I1(MODE) inc[1][i]
#define SR_I2(MODE) inc[2][i]
#define SR_I3(MODE) inc[3][i]
#define SR_PRE(MODE)
#define SR_STORE(MODE) for (int j = 0; j < 4; j++) inc[j][i] = SR_KAHAN_INC(MODE, w[j]);
#else
#define SR_I0(MODE) SR_KAHAN_INC(MODE, w[0])
#define SR_I1(MODE) SR_KAHAN_INC(MODE, w[1])
#define SR_I2(MODE) SR_KAHAN_INC(MODE, w[2])
#define SR_I3(MODE) SR_KAHAN_INC(MODE, w[3])
#define SR_PRE(MODE)
#define SR_STORE(MODE)
#endif
#define SR_KAHAN_CHAIN_STEP(MODE, i)                                                       \
    {                                                                                      \
        const uint64_t *w = rnd + 4 * (i);                                                 \
        (void)w;                                                                           \
        SR_STORE(MODE)                                                                     \
        SR_KAHAN_LANE yl = SR_KAHAN_BITS_ROUND(SR_KAHAN_SUB(SR_KAHAN_LANE_OF(x[i]), cl),    \
                                               SR_I0(MODE), clear);                        \
        SR_KAHAN_LANE q = SR_KAHAN_ADD(sl, yl);                                            \
        SR_KAHAN_LANE t = SR_KAHAN_BITS_ROUND(q, SR_I1(MODE), clear);                      \
        cl = SR_KAHAN_SUB(t, q);                                                           \
        if (BRANCHLESS || SR_UNLIKELY(SR_KAHAN_DISCARDED(cl, mask)))                       \
            cl = SR_KAHAN_BITS_ROUND(cl, SR_I3(MODE), clear);                              \
        sl = t;                                                                            \
        y[i] = SR_KAHAN_VALUE(yl);                                                         \
        s[(i) + 1] = SR_KAHAN_VALUE(sl);                                                   \
        c[(i) + 1] = SR_KAHAN_VALUE(cl);                                                   \
    }
#define SR_KAHAN_CHECK_STEP(MODE, i)                                                       \
    {                                                                                      \
        const uint64_t *w = rnd + 4 * (i);                                                 \
        (void)w;                                                                           \
        fine[i] = SR_FN(sr_kahan_step_ok)(x[i], s[i], s[(i) + 1], c[i], c[(i) + 1], y[i],  \
                                          SR_I0(MODE), SR_I2(MODE), SR_I3(MODE), mask, lo, \
                                          span);                                           \
        all &= fine[i];                                                                    \
    }
/* KLAG > 0: the checks of block b - KLAG (blocks of SR_KAHAN_BLOCK steps) run in the
   loop body that does block b of the chain (software pipelining); 0: a separate pass */
#define SR_KAHAN_PASSES(MODE)                                                              \
    {                                                                                      \
    SR_PRE(MODE)                                                                           \
    sr_intp checked = 0;                                                                   \
    if (KLAG > 0) {                                                                        \
        enum { B = SR_KAHAN_BLOCK };                                                       \
        const sr_intp full = m / B * B;                                                    \
        for (sr_intp b = 0; b < full; b += B) {                                            \
            for (sr_intp i = b; i < b + B; i++) SR_KAHAN_CHAIN_STEP(MODE, i)               \
            if (b >= KLAG * B) {                                                           \
                for (sr_intp i = b - KLAG * B; i < b - KLAG * B + B; i++)                  \
                    SR_KAHAN_CHECK_STEP(MODE, i)                                           \
                checked = b - KLAG * B + B;                                                \
            }                                                                              \
        }                                                                                  \
        for (sr_intp i = full; i < m; i++) SR_KAHAN_CHAIN_STEP(MODE, i)                    \
    } else {                                                                               \
        for (sr_intp i = 0; i < m; i++) SR_KAHAN_CHAIN_STEP(MODE, i)                       \
    }                                                                                      \
    if (!NOCHECK)                                                                          \
        for (sr_intp i = checked; i < m; i++) SR_KAHAN_CHECK_STEP(MODE, i)                \
    }
    SR_DISPATCH_MODE(mode, SR_KAHAN_PASSES)
#undef SR_KAHAN_PASSES
#undef SR_KAHAN_CHAIN_STEP
#undef SR_KAHAN_CHECK_STEP
#undef SR_KAHAN_INC
#undef SR_I0
#undef SR_I1
#undef SR_I2
#undef SR_I3
#undef SR_PRE
#undef SR_STORE
    if (SR_LIKELY(all)) return m;
    sr_intp i = 0;
    while (fine[i]) i++;
    return i;
}
#ifdef SR_KAHAN_POP
#pragma GCC pop_options
#undef SR_KAHAN_POP
#endif
