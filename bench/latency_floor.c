/*
 * The latency floor of a recursive SR sum: s = SR(s + x_i) is a chain of dependent
 * steps, so no loop can beat the latency of one step. This times, on dependent
 * chains in xmm registers (SSE2 intrinsics, no branches):
 *   add        s = s + x_i (binary32 add alone)
 *   add+sr     s = bits(s + x_i) + X_i, then the d discarded bits cleared: the add
 *              and the SR bit rounding of arith.c's reduction steps, binary32 lanes
 *   add+sr f64 the same in binary64 lanes (the chain value kept as a double)
 *   kahan      the four dependent rounded operations of one Kahan step (arith.c's
 *              sr_sum_kahan), each an add+sr
 *   kahan f64  the same in binary64 lanes (the chain of arith.c before
 *              csrc/kahan_chain.h)
 *   kahan short  csrc/kahan_chain.h's chain, binary64 lanes: y = fl(x - c),
 *              q = s + y, t = fl(q), c = t - q (its branch predicted: c not rounded)
 *   short+branch  the same with kahan_chain.h's branch: c rounded when its
 *              discarded bits are not clear (mispredictions included)
 *   short+always  the same with c always rounded (no branch, two more operations
 *              on the chain)
 * Build and run (bench/README.md): cc -O2 -o /tmp/latency_floor bench/latency_floor.c
 * && /tmp/latency_floor. Prints ns per step: the best of several runs.
 */
#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 1 << 16, RUNS = 200 };

static float xs[N];
static double branch_rate;
static uint32_t incs32[N];
static uint64_t incs64[N];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* bfloat16 in binary32 lanes: 16 discarded bits; in binary64 lanes: 45 */
#define MASK32 0xffffu
#define MASK64 0x1fffffffffffull

static float chain_add(void)
{
    __m128 s = _mm_setzero_ps();
    for (int i = 0; i < N; i++) s = _mm_add_ss(s, _mm_load_ss(&xs[i]));
    return _mm_cvtss_f32(s);
}

static float chain_add_sr(void)
{
    __m128 s = _mm_setzero_ps();
    const __m128i clear = _mm_cvtsi32_si128((int)~MASK32);
    for (int i = 0; i < N; i++) {
        __m128i v = _mm_castps_si128(_mm_add_ss(s, _mm_load_ss(&xs[i])));
        v = _mm_add_epi32(v, _mm_cvtsi32_si128((int)incs32[i]));
        s = _mm_castsi128_ps(_mm_and_si128(v, clear));
    }
    return _mm_cvtss_f32(s);
}

static double chain_add_sr64(void)
{
    __m128d s = _mm_setzero_pd();
    const __m128i clear = _mm_cvtsi64_si128((long long)~MASK64);
    for (int i = 0; i < N; i++) {
        __m128d x = _mm_set_sd((double)xs[i]);
        __m128i v = _mm_castpd_si128(_mm_add_sd(s, x));
        v = _mm_add_epi64(v, _mm_cvtsi64_si128((long long)incs64[i]));
        s = _mm_castsi128_pd(_mm_and_si128(v, clear));
    }
    return _mm_cvtsd_f64(s);
}

static inline __m128 add_sr(__m128 a, __m128 b, uint32_t inc, __m128i clear)
{
    __m128i v = _mm_castps_si128(_mm_add_ss(a, b));
    v = _mm_add_epi32(v, _mm_cvtsi32_si128((int)inc));
    return _mm_castsi128_ps(_mm_and_si128(v, clear));
}

static float chain_kahan(void)
{
    __m128 s = _mm_setzero_ps(), c = _mm_setzero_ps();
    const __m128i clear = _mm_cvtsi32_si128((int)~MASK32);
    const __m128 neg = _mm_set_ss(-0.0f);
    for (int i = 0; i < N / 4; i++) {
        const uint32_t *w = incs32 + 4 * i;
        __m128 y = add_sr(_mm_load_ss(&xs[i]), _mm_xor_ps(c, neg), w[0], clear);
        __m128 t = add_sr(s, y, w[1], clear);
        __m128 ts = add_sr(t, _mm_xor_ps(s, neg), w[2], clear);
        c = add_sr(ts, _mm_xor_ps(y, neg), w[3], clear);
        s = t;
    }
    return _mm_cvtss_f32(s) + _mm_cvtss_f32(c);
}

static inline __m128d sr64(__m128d r, uint64_t inc, __m128i clear)
{
    __m128i v = _mm_add_epi64(_mm_castpd_si128(r), _mm_cvtsi64_si128((long long)inc));
    return _mm_castsi128_pd(_mm_and_si128(v, clear));
}

static double chain_kahan64(void)
{
    __m128d s = _mm_setzero_pd(), c = _mm_setzero_pd();
    const __m128i clear = _mm_cvtsi64_si128((long long)~MASK64);
    for (int i = 0; i < N / 4; i++) {
        const uint64_t *w = incs64 + 4 * i;
        __m128d y = sr64(_mm_sub_sd(_mm_set_sd((double)xs[i]), c), w[0], clear);
        __m128d t = sr64(_mm_add_sd(s, y), w[1], clear);
        __m128d ts = sr64(_mm_sub_sd(t, s), w[2], clear);
        c = sr64(_mm_sub_sd(ts, y), w[3], clear);
        s = t;
    }
    return _mm_cvtsd_f64(s) + _mm_cvtsd_f64(c);
}

static double chain_kahan_short(void)
{
    __m128d s = _mm_setzero_pd(), c = _mm_setzero_pd();
    const __m128i clear = _mm_cvtsi64_si128((long long)~MASK64);
    for (int i = 0; i < N / 4; i++) {
        const uint64_t *w = incs64 + 4 * i;
        __m128d y = sr64(_mm_sub_sd(_mm_set_sd((double)xs[i]), c), w[0], clear);
        __m128d q = _mm_add_sd(s, y);
        __m128d t = sr64(q, w[1], clear);
        c = _mm_sub_sd(t, q);
        s = t;
    }
    return _mm_cvtsd_f64(s) + _mm_cvtsd_f64(c);
}

/* kahan short with c rounded as csrc/kahan_chain.h does it: a branch on c's discarded
   bits (taken when t is the farther neighbour of s + y and y has bits below ulp(s):
   a data-dependent branch, mispredicted about as often as it is taken), or always
   (no branch: the increment and the clearing on the chain, an identity when c's
   discarded bits are clear) */
static double chain_kahan_short_c(int always)
{
    __m128d s = _mm_setzero_pd(), c = _mm_setzero_pd();
    const __m128i clear = _mm_cvtsi64_si128((long long)~MASK64);
    long taken = 0;
    for (int i = 0; i < N / 4; i++) {
        const uint64_t *w = incs64 + 4 * i;
        __m128d y = sr64(_mm_sub_sd(_mm_set_sd((double)xs[i]), c), w[0], clear);
        __m128d q = _mm_add_sd(s, y);
        __m128d t = sr64(q, w[1], clear);
        c = _mm_sub_sd(t, q);
        if (always) {
            c = sr64(c, w[3], clear);
        } else if ((uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(c)) & MASK64) {
            c = sr64(c, w[3], clear);
            taken++;
        }
        s = t;
    }
    if (!always) branch_rate = (double)taken / (N / 4);
    return _mm_cvtsd_f64(s) + _mm_cvtsd_f64(c);
}

#define TIME(NAME, CALL, STEPS)                                                 \
    {                                                                           \
        double best = 1e30, sink = 0;                                           \
        for (int r = 0; r < RUNS; r++) {                                        \
            double t0 = now();                                                  \
            sink += CALL;                                                       \
            double t = now() - t0;                                              \
            best = t < best ? t : best;                                         \
        }                                                                       \
        printf("%-12s %.3f ns per step (checksum %g)\n", NAME, best / (STEPS) * 1e9, sink); \
    }

int main(void)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        xs[i] = (float)(state >> 40) * 0x1p-24f;   /* uniform in [0, 1) */
        incs32[i] = (uint32_t)(state >> 48);       /* 16 random bits: below 2^d */
        incs64[i] = state >> 19;                   /* 45 random bits */
    }
    TIME("add", chain_add(), N)
    TIME("add+sr", chain_add_sr(), N)
    TIME("add+sr f64", chain_add_sr64(), N)
    TIME("kahan", chain_kahan(), N / 4)
    TIME("kahan f64", chain_kahan64(), N / 4)
    TIME("kahan short", chain_kahan_short(), N / 4)
    TIME("short+branch", chain_kahan_short_c(0), N / 4)
    printf("             (branch taken in %.1f%% of steps)\n", 100 * branch_rate);
    TIME("short+always", chain_kahan_short_c(1), N / 4)
    return 0;
}
