/*
 * C tests of the matrix multiply-accumulate models (mma.h), no Python needed:
 * make -C csrc test. Hand-checked dot products for each kind of step, and the GEMM
 * fast path against the scalar steps on every instruction set the CPU has.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mma.h"

static int passed, failed;
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (cond) passed++;                                              \
        else { failed++; if (failed < 20) { printf("FAIL %s:%d: ", __FILE__, __LINE__); \
               printf(__VA_ARGS__); printf("\n"); } }                    \
    } while (0)

static const mma_type F16 = {11, -14}, BF16 = {8, -126}, F32 = {24, -126}, F64 = {53, -1022},
                      E4M3 = {4, -6}, E5M2 = {3, -14}, FNUZ_E4M3 = {4, -7};

/* one dot product of length n (a multiple of md->L) */
static double dot(const mma_model *md, int n, const double *a, const double *b, double c)
{
    double d = NAN;
    const char *err = NULL;
    if (mma_dots(md, 1, (size_t)n, a, b, &c, NULL, NULL, &d, &err))
        printf("mma_dots: %s\n", err);
    return d;
}

static mma_model truncated(int F, int L, int e_zero, mma_type ab, mma_type c, mma_output out)
{
    mma_model md = {MMA_FDPA_TRUNCATED, ab, ab, c, out, L, L, F, 0, e_zero, 0, 0, {1, 0}};
    return md;
}

static void test_truncated(void)
{
    /* Hopper bf16 -> f32: F = 25 keeps two products of 2^-24 beside 1 ... */
    mma_model hopper = truncated(25, 16, -133, BF16, F32, MMA_OUT_RZ_BINARY32);
    double a[16] = {1, 0x1p-24, 0x1p-24}, b[16] = {1, 1, 1};
    CHECK(dot(&hopper, 16, a, b, 0.0) == 1 + 0x1p-23, "F = 25: 1 + 2^-24 + 2^-24");
    /* ... Volta's F = 23 truncates both to zero */
    mma_model volta = truncated(23, 4, -131, F16, F32, MMA_OUT_RZ_BINARY32);
    CHECK(dot(&volta, 4, a, b, 0.0) == 1.0, "F = 23 drops 2^-24 terms");
    /* the sum is rounded toward zero into binary32: 1 + 2^-24 becomes 1 */
    double a1[16] = {1, 0x1p-24}, b1[16] = {1, 1};
    CHECK(dot(&hopper, 16, a1, b1, 0.0) == 1.0, "RZ: 1 + 2^-24 -> 1");
    CHECK(dot(&hopper, 16, a1, b1, -0.0) == 1.0, "c = -0");
    /* ... and to minus what it would be for negative sums */
    double an[16] = {-1, -0x1p-24}, bn[16] = {1, 1};
    CHECK(dot(&hopper, 16, an, bn, 0.0) == -1.0, "RZ: -1 - 2^-24 -> -1");
    /* zero terms join the alignment at e_zero = -133: a product of 2^-160 is lost
       beside c = 0, kept beside c = 2^-149 */
    double at[16] = {0x1p-80}, bt[16] = {0x1p-80};
    double d0 = dot(&hopper, 16, at, bt, 0.0);
    CHECK(d0 == 0 && !signbit(d0), "e_zero truncates 2^-160 to +0 (got %g)", d0);
    CHECK(dot(&hopper, 16, at, bt, 0x1p-149) == 0x1p-149, "c = 2^-149 aligns lower");
    /* an exact cancellation is +0, whatever the signs */
    double ac[16] = {-3, 3}, bc[16] = {1, 1};
    double dc = dot(&hopper, 16, ac, bc, -0.0);
    CHECK(dc == 0 && !signbit(dc), "cancellation gives +0");
    /* overflow of the rounded sum: inf even toward zero (as MMA-Sim models it) */
    double ao[16] = {0x1p64}, bo[16] = {0x1p63};
    CHECK(dot(&hopper, 16, ao, bo, 0x1.fffffep127) == INFINITY, "RZ overflow is inf");
    /* specials: inf * 0 and inf - inf are NaN, inf + finite is inf */
    double as[16] = {INFINITY, 1}, bs[16] = {0, 1};
    CHECK(isnan(dot(&hopper, 16, as, bs, 1.0)), "inf * 0");
    double ai[16] = {INFINITY, 1}, bi[16] = {2, 1};
    CHECK(dot(&hopper, 16, ai, bi, 1.0) == INFINITY, "inf + 1");
    CHECK(isnan(dot(&hopper, 16, ai, bi, -INFINITY)), "inf - inf");
}

static void test_binary16_ties(void)
{
    /* Ampere f16 -> f16: to nearest even; 1 + 2^-11 is a tie, goes to 1 ... */
    mma_model ampere = truncated(24, 8, -20, F16, F16, MMA_OUT_RN_BINARY16);
    double a[8] = {0x1p-11}, b[8] = {1};
    CHECK(dot(&ampere, 8, a, b, 1.0) == 1.0, "tie to even (down)");
    /* ... 1 + 3 * 2^-11 goes up to 1 + 2^-9 */
    double a3[8] = {0x1.8p-10}, b3[8] = {1};
    CHECK(dot(&ampere, 8, a3, b3, 1.0) == 1 + 0x1p-9, "tie to even (up)");
    /* 65504 + 16 is the tie at the top: overflows to inf */
    double ab[8] = {16}, bb[8] = {1};
    CHECK(dot(&ampere, 8, ab, bb, 65504.0) == INFINITY, "fp16 overflow");
}

static void test_e8m13(void)
{
    /* Hopper / Ada fp8 with f32 output: F = 13, results toward zero to 14 bits */
    mma_model fp8 = truncated(13, 32, -133, E4M3, F32, MMA_OUT_RZ_E8M13);
    fp8.b = E5M2;
    double a[32] = {1, 0x1p-6}, b[32] = {1, 0x1p-8};
    CHECK(dot(&fp8, 32, a, b, 0.0) == 1.0, "2^-14 is beyond F = 13");
    double a2[32] = {1}, b2[32] = {1};
    /* c = -(1 - 2^-14) is truncated to -(1 - 2^-13) beside the product 1: the sum is
       2^-13, not 2^-14 */
    CHECK(dot(&fp8, 32, a2, b2, -0x1.fff8p-1) == 0x1p-13, "c truncated to 13 bits below E");
    /* 14 significant bits: 2 + 2^-12 survives (quantum 2^-12), 2 + 2^-13 does not */
    CHECK(dot(&fp8, 32, a2, b2, 1 + 0x1p-12) == 2 + 0x1p-12, "e8m13 keeps 2^-12 at 2");
    CHECK(dot(&fp8, 32, a2, b2, 1 + 0x1p-13) == 2.0, "e8m13 drops 2^-13 at 2");
}

static void test_cdna(void)
{
    mma_model tr = {MMA_FDPA_TWO_STAGE, BF16, BF16, F32, MMA_OUT_RN_BINARY32, 8, 8, 24, 31,
                    0, 0, 0, {1, 0}};
    /* -2^-60 is truncated away beside -2^-25 (first stage, toward zero), so
       1 - 2^-25 is a tie and goes to even 1.0 (IEEE: 1 - 2^-24) */
    double a[8] = {-0x1p-13, -0x1p-30}, b[8] = {0x1p-12, 0x1p-30};
    CHECK(dot(&tr, 8, a, b, 1.0) == 1.0, "two-stage: truncate then tie");
    /* the second stage floors: -2^-40 beside 1 becomes -2^-32, and 1 - 2^-32 rounds
       to 1; a product of 2^128 is inf */
    double a2[8] = {0x1p64}, b2[8] = {0x1p64};
    CHECK(dot(&tr, 8, a2, b2, 0.0) == INFINITY, "product overflow");
    /* split kind (fp8): c far below the products is dropped */
    mma_model gtr = tr;
    gtr.kind = MMA_FDPA_TWO_STAGE_SPLIT;
    gtr.a = gtr.b = FNUZ_E4M3;
    gtr.L = 16;
    gtr.k = 16;
    double a3[16] = {1}, b3[16] = {1};
    CHECK(dot(&gtr, 16, a3, b3, -0x1p-30) == 1.0, "c below E - F - 1 dropped");
    CHECK(dot(&gtr, 16, a3, b3, -0x1p-25) == 1 - 0x1p-24, "c at E - F - 1 kept, floored");
    /* CDNA1: exact sums, rounded once to nearest */
    mma_model exact = {MMA_FDPA_EXACT, BF16, BF16, F32, MMA_OUT_RN_BINARY32, 2, 2, 0, 0, 0, 0,
                       0, {1, 0}};
    double a4[2] = {0x1p100, -0x1p100}, b4[2] = {1, 1};
    CHECK(dot(&exact, 2, a4, b4, 0x1p-100) == 0x1p-100, "exact cancellation keeps 2^-100");
    double d4 = dot(&exact, 2, (double[]){-0.0, -0.0}, (double[]){1, 1}, -0.0);
    CHECK(d4 == 0 && !signbit(d4), "exact zero is +0");
    /* CDNA2: subnormal inputs flush to +0 */
    mma_model ftz = {MMA_FTZ_MUL_ADD, F16, F16, F32, MMA_OUT_RN_BINARY32, 4, 4, 0, 0, 0, 4, 0,
                     {1, 0}};
    double a5[4] = {0x1p-20, 1, 1, 1}, b5[4] = {1, 0, 0, 0};
    CHECK(dot(&ftz, 4, a5, b5, 1.0) == 1.0, "subnormal fp16 flushed");
    /* fp64 FMA chain */
    mma_model fma64 = {MMA_FMA_CHAIN, F64, F64, F64, MMA_OUT_BINARY64, 4, 1, 0, 0, 0, 0, 0, {1, 0}};
    double a6[4] = {1, 2, 0x1p-60, 0}, b6[4] = {3, 4, 1, 0};
    CHECK(dot(&fma64, 4, a6, b6, 1.0) == 12.0, "fma chain rounds each step");
}

static unsigned long long state = 88172645463325252ull;
static double random_value(mma_type t, int special)
{
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    int e = (int)(state % 17) - 8, m = (int)((state >> 8) % (1u << (t.precision - 1)));
    double x = ldexp(1 + ldexp(m, 1 - t.precision), e) * ((state >> 40) & 1 ? -1 : 1);
    if ((state >> 20) % 9 == 0) x = 0;
    if (special && (state >> 30) % 97 == 0) x = (state >> 45) & 1 ? NAN : -INFINITY;
    return x;
}

/* the fast path for every instruction set against the scalar steps (mma_dots) */
static void test_gemm_paths(void)
{
    enum { M = 7, N = 37, K = 40 };   /* K: zero-padded to 48 for k = 16 */
    mma_model md = truncated(25, 16, -133, BF16, F32, MMA_OUT_RZ_BINARY32);
    mma_model e8m13 = truncated(13, 32, -133, E4M3, F32, MMA_OUT_RZ_E8M13);
    mma_model half = truncated(24, 8, -20, F16, F16, MMA_OUT_RN_BINARY16);
    half.k = 16;
    const mma_model *models[] = {&md, &e8m13, &half};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    for (int mi = 0; mi < 3; mi++) {
        const mma_model *m = models[mi];
        const int kp = (K + m->k - 1) / m->k * m->k;
        double A[M * K], B[K * N], C[M * N], D[M * N], rowa[M * 64], colb[N * 64], ref[M * N],
            cc[M * N];
        for (int i = 0; i < M * K; i++) A[i] = random_value(m->a, 1);
        for (int i = 0; i < K * N; i++) B[i] = random_value(m->b, 1);
        for (int i = 0; i < M * N; i++) C[i] = m->out == MMA_OUT_RN_BINARY16 ? 1.5 : random_value(F16, 0);
        const char *err = NULL;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                for (int t = 0; t < kp; t++) {
                    rowa[t] = t < K ? A[i * K + t] : 0;
                    colb[t] = t < K ? B[t * N + j] : 0;
                }
                cc[i * N + j] = C[i * N + j];
                mma_dots(m, 1, (size_t)kp, rowa, colb, &cc[i * N + j], NULL, NULL, &ref[i * N + j], &err);
            }
        for (int s = 0; s < 3; s++) {
            if (sr_isa_check(isas[s]) != 0) continue;
            mma_gemm_args g = {M, N, K, A, B, C, NULL, NULL, 0, NULL, D, isas[s]};
            int rc = mma_gemm(m, &g, &err);
            long bad = 0;
            for (int t = 0; t < M * N; t++)
                bad += !(D[t] == ref[t] || (isnan(D[t]) && isnan(ref[t]))) ||
                       signbit(D[t]) != signbit(ref[t]);
            CHECK(rc == 0 && bad == 0, "model %d, %s: %ld of %d differ from the scalar steps",
                  mi, isas[s], bad, M * N);
        }
        /* promotion every k: each block's result from C = 0, summed in binary32 */
        const int P = m->k;
        mma_gemm_args g = {M, N, K, A, B, NULL, NULL, NULL, (size_t)P, NULL, D, NULL};
        mma_gemm(m, &g, &err);
        long bad = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float acc = 0;
                for (int k0 = 0; k0 < kp; k0 += P) {
                    double part, zero = 0;
                    for (int t = 0; t < P; t++) {
                        rowa[t] = k0 + t < K ? A[i * K + k0 + t] : 0;
                        colb[t] = k0 + t < K ? B[(k0 + t) * N + j] : 0;
                    }
                    mma_dots(m, 1, (size_t)P, rowa, colb, &zero, NULL, NULL, &part, &err);
                    acc = acc + (float)part;
                }
                double want = acc, got = D[i * N + j];
                bad += !(got == want || (isnan(got) && isnan(want)));
            }
        CHECK(bad == 0, "model %d: promote_every = k differs in %ld elements", mi, bad);
    }
}

static void test_bad_models(void)
{
    const char *err = NULL;
    mma_model md = truncated(25, 16, -133, BF16, F32, MMA_OUT_RZ_BINARY32);
    md.k = 12;
    CHECK(mma_model_check(&md, &err) == -1 && err, "k not a multiple of L");
    md = truncated(40, 16, -133, BF16, F32, MMA_OUT_RZ_BINARY32);
    CHECK(mma_model_check(&md, &err) == -1, "F = 40");
    md = truncated(25, 16, -133, BF16, F32, MMA_OUT_BINARY64);
    CHECK(mma_model_check(&md, &err) == -1, "binary64 output of a fused kind");
    md = truncated(25, 16, -133, BF16, F32, MMA_OUT_RZ_BINARY32);
    double a[8] = {0}, d;
    CHECK(mma_dots(&md, 1, 8, a, a, NULL, NULL, NULL, &d, &err) == -1, "k = 8 < L");
    mma_gemm_args g = {1, 1, 16, a, a, NULL, NULL, NULL, 8, NULL, &d, NULL};
    CHECK(mma_gemm(&md, &g, &err) == -1, "promote_every not a multiple of k");
}

int main(void)
{
    test_truncated();
    test_binary16_ties();
    test_e8m13();
    test_cdna();
    test_gemm_paths();
    test_bad_models();
    printf("mma: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
