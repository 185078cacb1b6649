/*
 * C test driver for the core, no Python needed:  make -C csrc test
 * Compares against independent oracles the machine has: the hardware's own
 * conversions to binary32 and binary16 under each IEEE rounding direction
 * (fesetround), a textbook one-lane xoshiro256++, and hand-checked values.
 */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "srround.h"

static int passed, failed;
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (cond) passed++;                                              \
        else { failed++; if (failed < 20) { printf("FAIL %s:%d: ", __FILE__, __LINE__); \
               printf(__VA_ARGS__); printf("\n"); } }                    \
    } while (0)

static sr_context make_ctx(int p, int emax, int emin, int sub, sr_overflow ov, double max,
                           sr_rounding r, int bits)
{
    sr_format f;
    sr_context c;
    const char *err = NULL;
    uint64_t seed[4 * SR_RNG_LANES];
    for (int i = 0; i < 4 * SR_RNG_LANES; i++) seed[i] = 0x1234567u * (uint64_t)(i + 1);
    if (sr_format_init(&f, p, emax, emin, sub, ov, max, &err)) printf("format: %s\n", err);
    if (sr_context_init(&c, &f, r, bits, seed, &err)) printf("context: %s\n", err);
    return c;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t xoshiro_textbook(uint64_t s[4])
{
    uint64_t result = rotl(s[0] + s[3], 23) + s[0], t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

static void test_rng(void)
{
    uint64_t seed[4 * SR_RNG_LANES], ref[SR_RNG_LANES][4], out[1000];
    for (int i = 0; i < 4 * SR_RNG_LANES; i++) seed[i] = (uint64_t)i * 0x9E3779B97F4A7C15u + 1;
    for (int j = 0; j < SR_RNG_LANES; j++) memcpy(ref[j], seed + 4 * j, sizeof ref[j]);
    sr_rng r;
    sr_rng_seed(&r, seed);
    /* uneven pieces must still give word k = lane k % LANES, output k / LANES */
    size_t pieces[] = {1, 7, 3, 64, 5, 920}, k = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        sr_rng_fill(&r, out + k, pieces[i]);
        k += pieces[i];
    }
    int ok = 1;
    for (k = 0; k < 1000; k++) ok &= out[k] == xoshiro_textbook(ref[k % SR_RNG_LANES]);
    CHECK(ok, "interleaved stream differs from textbook xoshiro256++ lanes");
    uint64_t s[4] = {1, 2, 3, 4};
    CHECK(xoshiro_textbook(s) == 41943041u, "first output of state (1,2,3,4)");
    sr_rng a, b;
    sr_rng_seed(&a, seed);
    sr_rng_seed(&b, seed);
    sr_rng_jump(&b);
    uint64_t wa[16], wb[16];
    sr_rng_fill(&a, wa, 16);
    sr_rng_fill(&b, wb, 16);
    CHECK(memcmp(wa, wb, sizeof wa) != 0, "jumped stream equals the original");

    /* 32-bit draws: each word's low half, then its high half, in uneven pieces; a
       waiting high half goes to the next 32-bit draw, and a 64-bit draw drops it */
    uint64_t words[600];
    uint32_t halves[1001];
    sr_rng_seed(&a, seed);
    sr_rng_fill(&a, words, 600);
    sr_rng_seed(&b, seed);
    size_t pieces32[] = {1, 2, 5, 0, 64, 3, 926}, h = 0;
    for (size_t i = 0; i < sizeof pieces32 / sizeof *pieces32; i++) {
        sr_rng_fill32(&b, halves + h, pieces32[i]);
        h += pieces32[i];
    }
    ok = h == 1001;
    for (k = 0; k < 1001; k++) ok &= halves[k] == (uint32_t)(words[k / 2] >> (32 * (k % 2)));
    CHECK(ok, "32-bit draws are not the words' low then high halves");
    uint32_t next;
    sr_rng_fill32(&b, &next, 1);
    CHECK(next == (uint32_t)(words[500] >> 32), "the waiting high half was not drawn next");
    sr_rng_fill32(&b, &next, 1);                 /* word 501's low half; its high half waits */
    sr_rng_fill(&b, wb, 1);
    CHECK(wb[0] == words[502], "a 64-bit draw did not drop the waiting half");
}

/* Philox4x32-10 against Random123's known-answer vectors (kat_vectors, the three
   "philox4x32 10" lines: counter, key, expected output), and counter streams: word
   k is a pure function of the position, in any pieces, on every kernel path. */
static void test_counter_stream(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        sr_philox4x32_10(kat[v], kat[v] + 4, out);
        CHECK(memcmp(out, kat[v] + 6, sizeof out) == 0, "Philox4x32-10 known answer %d", v);
    }
    const uint64_t key[2] = {0x0123456789abcdefu, 0xfedcba9876543210u};
    static uint32_t ref[3000];
    for (int b = 0; b < 750; b++) {
        uint64_t blk = (uint64_t)b + ((uint64_t)1 << 32) - 300;   /* crosses 2^32 blocks */
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)key[1],
                           (uint32_t)(key[1] >> 32)};
        uint32_t k2[2] = {(uint32_t)key[0], (uint32_t)(key[0] >> 32)};
        sr_philox4x32_10(ctr, k2, ref + 4 * b);
    }
    const uint64_t start = 4 * (((uint64_t)1 << 32) - 300);   /* half-word of ref[0] */
    const char *isas[] = {"scalar", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        sr_context ctx = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, SR_STOCHASTIC, 64);
        if (sr_context_set_isa(&ctx, isas[k]) != 0) continue;   /* not on this CPU */
        sr_rng_seed_counter(&ctx.rng, key);
        sr_rng_set_half_position(&ctx.rng, start + 1);
        static uint32_t halves[2999];
        size_t pieces[] = {1, 2, 5, 0, 64, 3, 63, 1, 2860}, h = 0;
        for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
            sr_context_draw32(&ctx, halves + h, pieces[i]);
            h += pieces[i];
        }
        CHECK(memcmp(halves, ref + 1, sizeof halves) == 0, "%s: counter half-words", isas[k]);
        /* 64-bit draws: word k = half-words 2k, 2k + 1; a waiting half is dropped */
        sr_rng_set_half_position(&ctx.rng, start + 3);
        uint64_t words[700];
        sr_context_draw(&ctx, words, 1);
        sr_context_draw(&ctx, words + 1, 699);
        int ok = 1;
        for (int i = 0; i < 700; i++)
            ok &= words[i] == (ref[4 + 2 * i] | (uint64_t)ref[5 + 2 * i] << 32);
        CHECK(ok, "%s: counter words", isas[k]);
        sr_rng_set_half_position(&ctx.rng, start);
        sr_rng_advance(&ctx.rng, 10);
        uint32_t one;
        sr_context_draw32(&ctx, &one, 1);
        CHECK(one == ref[20], "%s: advance", isas[k]);
    }
}

/* The fused counter-stream rounding (Philox words made in registers, round_body.h's
   sr_round_counter) against rounding each value alone at its word's position (the
   block generator, checked against sr_philox4x32_10 above): every kernel path, both
   stochastic modes, bits = 64 and 5, float32 and float64, starts on every half-word
   of a block, chunks with special values (inf, NaN, beyond max, subnormal). */
static void test_counter_fused(void)
{
    enum { N = 1000 };
    static float xf[N], yf[N];
    static double xd[N], yd[N];
    for (int i = 0; i < N; i++) {
        xf[i] = (float)((i * 0.7548776662466927) - (double)(i / 3)) * 3.0f;
        xd[i] = (double)xf[i] * 1.0000001;
    }
    xf[300] = INFINITY; xf[301] = NAN; xf[302] = 1e38f; xf[303] = 1e-40f;   /* one chunk */
    xd[600] = -INFINITY; xd[601] = 1e300; xd[602] = 1e-42;
    const uint64_t key[2] = {0x0123456789abcdefu, 0xfedcba9876543210u};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    sr_rounding modes[] = {SR_STOCHASTIC, SR_STOCHASTIC, SR_STOCHASTIC_EQUAL};
    int bits[] = {64, 5, 64};
    long bad = 0, checked = 0;
    for (int k = 0; k < 3; k++)
        for (int m = 0; m < 3; m++)
            for (uint64_t start = 0; start < 4; start++) {
                sr_context ctx = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, modes[m],
                                          bits[m]);
                sr_context one = ctx;
                if (sr_context_set_isa(&ctx, isas[k]) != 0) continue;   /* not on this CPU */
                sr_context_set_isa(&one, isas[k]);
                sr_rng_seed_counter(&ctx.rng, key);
                sr_rng_seed_counter(&one.rng, key);
                uint64_t h0 = 4 * (((uint64_t)1 << 32) - 5) + start;   /* crosses 2^32 blocks */
                sr_rng_set_half_position(&ctx.rng, h0);
                sr_intp n = N, s4[2] = {4, 4}, s8[2] = {8, 8};
                char *af[2] = {(char *)xf, (char *)yf}, *ad[2] = {(char *)xd, (char *)yd};
                sr_loop_round_f32(af, &n, s4, &ctx);
                sr_rng_set_half_position(&ctx.rng, h0);
                sr_loop_round_f64(ad, &n, s8, &ctx);
                for (int i = 0; i < N; i++) {
                    sr_rng_set_half_position(&one.rng, h0 + (uint64_t)i);
                    float f = sr_round_f32(xf[i], &one);
                    sr_rng_set_half_position(&one.rng, 2 * ((h0 + 1) / 2 + (uint64_t)i));
                    double d = sr_round_f64(xd[i], &one);
                    bad += memcmp(&f, &yf[i], sizeof f) != 0;
                    bad += memcmp(&d, &yd[i], sizeof d) != 0;
                    checked += 2;
                }
                uint64_t end = sr_rng_half_position(&ctx.rng);
                bad += end != 2 * ((h0 + 1) / 2 + N);   /* a float64 draw drops a waiting half */
            }
    CHECK(checked > 0 && bad == 0, "fused counter rounding differs in %ld of %ld values", bad,
          checked);
}

/* Threads: a counter stream or a deterministic mode gives the same bits for every
   thread count (odd sizes, a call starting on a waiting half-word), and the stream
   ends at the same position; a sequential stream stays on one thread. */
static void test_threads(void)
{
    enum { N = 100003 };
    static float xf[N], yf[2][N];
    static double xd[N], zd[N], yd[2][N];
    for (int i = 0; i < N; i++) {
        xf[i] = (float)((i * 0.7548776662466927) - (double)(i / 3)) * 3.0f;
        xd[i] = (double)xf[i] * 1.0000001;
        zd[i] = 1.0 + (double)(i % 97) / 7.0;
    }
    const uint64_t key[2] = {42, 43};
    sr_rounding modes[] = {SR_STOCHASTIC, SR_NEAREST, SR_STOCHASTIC_EQUAL};
    int counts[] = {2, 3, 7};
    long bad = 0;
    for (int m = 0; m < 3; m++)
        for (int counter = 0; counter < 2; counter++)
            for (int t = 0; t < 3; t++) {
                sr_context ctx[2];
                for (int k = 0; k < 2; k++) {
                    ctx[k] = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, modes[m], 64);
                    if (counter) sr_rng_seed_counter(&ctx[k].rng, key);
                    uint32_t one;
                    sr_rng_fill32(&ctx[k].rng, &one, 1);   /* start on a high half */
                    sr_set_num_threads(k ? counts[t] : 1);
                    sr_intp n = N, s4[2] = {4, 4}, s8[3] = {8, 8, 8};
                    char *af[2] = {(char *)xf, (char *)yf[k]};
                    char *ad[3] = {(char *)xd, (char *)zd, (char *)yd[k]};
                    sr_loop_round_f32(af, &n, s4, &ctx[k]);
                    n = N - 2;
                    sr_loop_divide_f64(ad, &n, s8, &ctx[k]);
                }
                bad += memcmp(yf[0], yf[1], sizeof yf[0]) != 0;
                bad += memcmp(yd[0], yd[1], (N - 2) * sizeof(double)) != 0;
                uint64_t w[2];
                sr_rng_fill(&ctx[0].rng, w, 1);
                sr_rng_fill(&ctx[1].rng, w + 1, 1);
                bad += w[0] != w[1];
            }
    sr_set_num_threads(1);
    CHECK(bad == 0, "thread counts disagree in %ld cases", bad);
}

static void test_formats(void)
{
    sr_format f;
    const char *err = NULL;
    CHECK(sr_format_init(&f, 0, 15, -14, 1, SR_OVERFLOW_INF, 0, &err) == -1, "precision 0");
    CHECK(sr_format_init(&f, 54, 15, -14, 1, SR_OVERFLOW_INF, 0, &err) == -1, "precision 54");
    CHECK(sr_format_init(&f, 11, 15, 16, 1, SR_OVERFLOW_INF, 0, &err) == -1, "emin > emax");
    /* one binade (IEEE P3109 binary8p7): allowed, and a new format has -0 */
    CHECK(sr_format_init(&f, 7, 0, 0, 1, SR_OVERFLOW_INF, 1.96875, &err) == 0 && f.signed_zero,
          "emin == emax");
    CHECK(sr_format_init(&f, 4, 8, -6, 1, SR_OVERFLOW_NAN, 450, &err) == -1, "max 450");
    CHECK(sr_format_init(&f, 4, 8, -6, 1, SR_OVERFLOW_NAN, 448, &err) == 0, "max 448");
    CHECK(f.f32.usable && f.f64.usable, "e4m3 usable from both types");
    CHECK(sr_format_init(&f, 11, 200, -14, 1, SR_OVERFLOW_INF, 0, &err) == 0 && !f.f32.usable,
          "emax 200 is not usable from binary32");
}

static void test_known_values(void)
{
    sr_context c = make_ctx(4, 8, -6, 1, SR_OVERFLOW_NAN, 448, SR_NEAREST, 64);
    CHECK(sr_round_f32(464.0f, &c) == 448.0f, "e4m3 tie at max + s/2 goes to even 448");
    CHECK(isnan(sr_round_f32(464.5f, &c)), "e4m3 above the tie overflows to NaN");
    CHECK(isnan(sr_round_f32(INFINITY, &c)), "e4m3 inf becomes NaN");
    CHECK(sr_round_f32(0x1p-10f, &c) == 0.0f, "e4m3: 2^-10 is a tie between 0 and 2^-9: even 0");
    CHECK(sr_round_f32(0x1.8p-9f, &c) == 0x1p-8f, "e4m3: 1.5 * 2^-9 ties to even 2^-8");
    float nan_low; uint32_t nb = 0x7f800001u; memcpy(&nan_low, &nb, 4);
    CHECK(isnan(sr_round_f32(nan_low, &c)), "NaN with a low payload stays NaN");
    CHECK(signbit(sr_round_f32(-0x1p-30f, &c)) && sr_round_f32(-0x1p-30f, &c) == 0,
          "tiny negative rounds to -0");
    sr_context z = make_ctx(4, 8, -6, 1, SR_OVERFLOW_INF, 0, SR_TOWARD_ZERO, 64);
    CHECK(sr_round_f64(1e10, &z) == 480.0, "toward_zero never overflows");
    sr_context sat = make_ctx(2, 2, 0, 1, SR_OVERFLOW_SATURATE, 0, SR_UP, 64);
    CHECK(sr_round_f32(-INFINITY, &sat) == -6.0f, "saturate: -inf becomes -max");
    CHECK(sr_round_f64(2.2, &sat) == 3.0, "e2m1 up");
    sr_context odd = make_ctx(3, 4, -2, 1, SR_OVERFLOW_SATURATE, 0, SR_ODD, 64);
    CHECK(sr_round_f64(1.1, &odd) == 1.25, "odd: 1.1 -> 1.25 in e3m2");
    CHECK(sr_round_f64(1.3, &odd) == 1.25, "odd: 1.3 -> 1.25");
    CHECK(sr_round_f64(1.5, &odd) == 1.5, "odd: exact stays");
}

/* Hardware conversions in each IEEE direction are the oracle for binary32 from
   binary64 and for binary16 (_Float16) from binary32 and binary64. */
#if defined(__FLT16_MANT_DIG__)
#define HAVE_FLOAT16 1   /* the compiler has _Float16 (GCC 12; clang from 15 on x86) */
#else
#define HAVE_FLOAT16 0
#endif
static void test_against_hardware(void)
{
    if (!HAVE_FLOAT16) printf("skip: no _Float16, so no binary16 oracle\n");
    const int dirs[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD};
    const sr_rounding modes[4] = {SR_NEAREST, SR_TOWARD_ZERO, SR_UP, SR_DOWN};
    for (int k = 0; k < 4; k++) {
        sr_context b32 = make_ctx(24, 127, -126, 1, SR_OVERFLOW_INF, 0, modes[k], 64);
        sr_context b16 = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, modes[k], 64);
        long bad32 = 0, bad16 = 0, bad16d = 0;
        uint64_t state = 88172645463325252u;
        for (uint64_t i = 0; i < (1u << 22); i++) {
            /* xorshift64 bit patterns cover every binade, sign, NaN and inf */
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            uint64_t u = state;
            if (i % 4 == 1) u = (u & 0x800fffffffffffffu) | ((uint64_t)(896 + (u >> 52) % 264) << 52);
            double x; memcpy(&x, &u, 8);
            uint32_t u32 = (uint32_t)(state >> 11);
            if (i % 4 == 2) u32 = (u32 & 0x807fffffu) | ((uint32_t)(98 + (u32 >> 23) % 50) << 23);
            float y; memcpy(&y, &u32, 4);
            double xs = (i % 4 == 3) ? ldexp((double)(state >> 40), -30 - (int)(state % 10)) : x;
            fesetround(dirs[k]);
            volatile float h32 = (float)x;
#if HAVE_FLOAT16
            volatile _Float16 h16 = (_Float16)y;
            volatile _Float16 h16d = (_Float16)xs;
#endif
            fesetround(FE_TONEAREST);
            float r32 = sr_round_f64(x, &b32) , e32 = h32;
#if HAVE_FLOAT16
            float r16 = sr_round_f32(y, &b16), e16 = (float)h16;
            float r16d = (float)sr_round_f64(xs, &b16), e16d = (float)h16d;
#else
            float r16 = 0, e16 = 0, r16d = 0, e16d = 0;   /* no binary16 oracle */
            (void)xs; (void)b16;
#endif
            if (!(r32 == e32 || (isnan(r32) && isnan(e32))) || signbit(r32) != signbit(e32)) bad32++;
            if (!(r16 == e16 || (isnan(r16) && isnan(e16))) || signbit(r16) != signbit(e16)) bad16++;
            if (!(r16d == e16d || (isnan(r16d) && isnan(e16d))) || signbit(r16d) != signbit(e16d)) bad16d++;
        }
        CHECK(bad32 == 0, "mode %d: %ld binary64->binary32 mismatches", k, bad32);
        CHECK(bad16 == 0, "mode %d: %ld binary32->binary16 mismatches", k, bad16);
        CHECK(bad16d == 0, "mode %d: %ld binary64->binary16 mismatches", k, bad16d);
    }
}

static void test_stochastic(void)
{
    /* 1 + 2^-10 + 2^-12 between 1 and 1 + 2^-7 in bfloat16: P(up) = 5/32 */
    sr_context c = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, SR_STOCHASTIC, 64);
    float x = 1.0f + 0x1p-10f + 0x1p-12f;
    long up = 0, n = 200000, other = 0;
    for (long i = 0; i < n; i++) {
        float r = sr_round_f32(x, &c);
        up += r == 1.0f + 0x1p-7f;
        other += r != 1.0f && r != 1.0f + 0x1p-7f;
    }
    double p = 5.0 / 32, sigma = sqrt(p * (1 - p) / n);
    CHECK(other == 0, "SR gave a value other than the two neighbours");
    CHECK(fabs((double)up / n - p) < 5 * sigma, "P(up) %g, expected %g", (double)up / n, p);
}

static void test_arith(void)
{
    sr_context c = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, SR_NEAREST, 64);
    float a = 1.0f, b = 0x1p-11f, r;
    char *args[3] = {(char *)&a, (char *)&b, (char *)&r};
    sr_intp one = 1, steps[3] = {0, 0, 0};
    sr_loop_add_f32(args, &one, steps, &c);
    CHECK(r == 1.0f, "1 + 2^-11 ties to even 1 in binary16");
    b = 0x1p-11f + 0x1p-30f;
    sr_loop_add_f32(args, &one, steps, &c);
    CHECK(r == 1.0f + 0x1p-10f, "just above the tie rounds up");
    double da = 1.0, db = 0x1p-11, dr;
    double dd = -0x1p-80;
    char *dargs[3] = {(char *)&da, (char *)&db, (char *)&dr};
    db = 0x1p-11 + dd;   /* not exact in binary64 sum with 1: the exact sum is below the tie */
    sr_loop_add_f64(dargs, &one, steps, &c);
    CHECK(dr == 1.0, "binary64 sum below the tie rounds down");
    sr_context up = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, SR_UP, 64);
    da = 1e-200; db = 1e-200;
    sr_loop_multiply_f64(dargs, &one, steps, &up);
    CHECK(dr == 0x1p-24, "up: a product that underflows binary64 still rounds up");
    sr_context down = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, SR_DOWN, 64);
    da = 1.0; db = 1.0;
    sr_loop_subtract_f64(dargs, &one, steps, &down);
    CHECK(dr == 0 && signbit(dr), "down: x - x is -0");
}

/* 64-bit integers are rounded from their exact value, float16 from its own. */
static void test_other_inputs(void)
{
    sr_context p52 = make_ctx(52, 1023, -1022, 1, SR_OVERFLOW_INF, 0, SR_NEAREST, 64);
    sr_context down = make_ctx(53, 1023, -1022, 1, SR_OVERFLOW_INF, 0, SR_DOWN, 64);
    sr_context b16 = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, SR_NEAREST, 64);
    int64_t iv[3] = {((int64_t)1 << 62) + 1025, -(((int64_t)1 << 62) + 1025), INT64_MIN};
    uint64_t uv[2] = {UINT64_MAX, ((uint64_t)1 << 53) + 1};
    uint16_t hv[4] = {0x0001, 0x8000, 0x7bff, 0x7e01};   /* 2^-24, -0, 65504, a NaN */
    double r[4];
    sr_intp n3 = 3, n2 = 2, n4 = 4, s8[2] = {8, 8}, s2[2] = {2, 8};
    char *ai[2] = {(char *)iv, (char *)r}, *au[2] = {(char *)uv, (char *)r},
         *ah[2] = {(char *)hv, (char *)r};
    sr_loop_round_i64(ai, &n3, s8, &p52);
    CHECK(r[0] == 0x1p62 + 2048 && r[1] == -0x1p62 - 2048 && r[2] == -0x1p63,
          "int64 in a 52-bit format: %a %a %a", r[0], r[1], r[2]);
    sr_loop_round_u64(au, &n2, s8, &down);
    CHECK(r[0] == 0x1p64 - 2048 && r[1] == 0x1p53, "uint64 down: %a %a", r[0], r[1]);
    sr_loop_round_f16(ah, &n4, s2, &b16);
    CHECK(r[0] == 0x1p-24 && r[1] == 0 && signbit(r[1]) && r[2] == 65504 && isnan(r[3]),
          "float16 in binary16: %a %a %a %a", r[0], r[1], r[2], r[3]);
}

/* A format as wide as the input type rounds nothing away: every value, zeros and
   subnormals included, comes back unchanged, from the contiguous loops, single
   values, sums and reductions. (These once shifted by -1 and by 64, which
   `make sanitize` reports.) */
static void test_format_as_wide_as_input(void)
{
    enum { N = 64 };
    float xf[N], yf[N];
    double xd[N], yd[N];
    for (int i = 0; i < N; i++) {
        xf[i] = i % 4 == 0 ? 0.0f : ldexpf(1.0f + (float)i / 64, (i % 9) * 30 - 150);
        xd[i] = i % 4 == 0 ? -0.0 : ldexp(1.0 + (double)i / 64, (i % 9) * 260 - 1080);
    }
    for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
        sr_context b32 = make_ctx(24, 127, -126, 1, SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
        sr_context b64 = make_ctx(53, 1023, -1022, 1, SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
        sr_intp n = N, s4[2] = {4, 4}, s8[2] = {8, 8};
        char *af[2] = {(char *)xf, (char *)yf}, *ad[2] = {(char *)xd, (char *)yd};
        sr_loop_round_f32(af, &n, s4, &b32);
        sr_loop_round_f64(ad, &n, s8, &b64);
        CHECK(memcmp(xf, yf, sizeof xf) == 0, "mode %d: binary32 changed float32 data", m);
        CHECK(memcmp(xd, yd, sizeof xd) == 0, "mode %d: binary64 changed float64 data", m);
        double zero = 0.0, sum;
        char *args[3] = {(char *)&zero, (char *)&zero, (char *)&sum};
        sr_intp one = 1, steps[3] = {0, 0, 0};
        sr_loop_add_f64(args, &one, steps, &b64);
        CHECK(sum == 0 && !signbit(sum), "mode %d: binary64 0 + 0", m);
        /* a reduction: NumPy passes the accumulator as first input and output */
        double acc = 0.0, parts[3] = {1.0, 0x1p-60, -1.0};
        char *racc[3] = {(char *)&acc, (char *)parts, (char *)&acc};
        sr_intp three = 3, rsteps[3] = {0, 8, 0};
        sr_loop_add_f64(racc, &three, rsteps, &b64);
        double want = m == SR_UP || m == SR_ODD ? 0x1p-52 : 0.0;
        if (m == SR_STOCHASTIC || m == SR_STOCHASTIC_EQUAL) want = acc;  /* 0 or 2^-52 */
        CHECK(acc == want && (acc == 0 || acc == 0x1p-52), "mode %d: reduction gave %a", m, acc);
    }
}

/* Rounding and the six operations under every caller state (four directions,
   flush-to-zero, denormals-are-zero) give the default state's bits, leave the
   state as it was, and raise exactly the flags of the emulated operation. */
static void run_all_loops(double *out, const double *x, int n, sr_context *ctx)
{
    sr_intp len = n, s1[2] = {8, 8}, s2[3] = {8, 8, 8}, s3[4] = {8, 8, 8, 8};
    sr_intp sred[3] = {0, 8, 0};
    char *r[2] = {(char *)x, (char *)out};
    char *b[3] = {(char *)x, (char *)(x + 1), (char *)(out + n)};
    char *t[4] = {(char *)x, (char *)(x + 1), (char *)(x + 2), (char *)(out + 2 * n)};
    sr_loop_round_f64(r, &len, s1, ctx);
    len = n - 2;
    sr_loop_add_f64(b, &len, s2, ctx);
    b[2] = (char *)(out + 3 * n); sr_loop_multiply_f64(b, &len, s2, ctx);
    b[2] = (char *)(out + 4 * n); sr_loop_divide_f64(b, &len, s2, ctx);
    r[1] = (char *)(out + 5 * n); sr_loop_sqrt_f64(r, &len, s1, ctx);
    sr_loop_fma_f64(t, &len, s3, ctx);
    double *acc = out + 6 * n;
    *acc = 0;
    char *red[3] = {(char *)acc, (char *)x, (char *)acc};
    len = n;
    sr_loop_add_f64(red, &len, sred, ctx);
    acc[1] = sr_sum_kahan_f64(ctx, (const char *)x, n, 8);
}

static void test_fp_environment(void)
{
    enum { N = 40 };
    double x[N], want[7 * N + 2], got[7 * N + 2];
    const double edges[] = {0x1p-1074, 3 * 0x1p-1074, 0x1p-1022, 1.0, 1 + 0x1p-11, 65504,
                            65520, 1e300, -0x1p-1074, 0x1p-24, 3 * 0x1p-26, 0.1, -2.5};
    for (int i = 0; i < N; i++) x[i] = edges[i % 13] * (i / 13 % 2 ? -1 : 1);
    const int states[][3] = {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {0, 1, 0}, {0, 0, 1},
                             {0, 1, 1}, {3, 1, 1}};
    const int formats[][3] = {{53, 1023, -1022}, {11, 15, -14}, {8, 127, -126}};
    for (int f = 0; f < 3; f++) {
        for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
            sr_context base = make_ctx(formats[f][0], formats[f][1], formats[f][2], 1,
                                       SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
            sr_context c = base;
            memset(want, 0, sizeof want);
            memset(got, 0, sizeof got);
            feclearexcept(FE_ALL_EXCEPT);
            run_all_loops(want, x, N, &c);
            int want_flags = fetestexcept(FE_ALL_EXCEPT);
            for (int k = 0; k < 7; k++) {
                if (sr_test_set_fp_state(states[k][0], states[k][1], states[k][2]) != 0) {
                    printf("skip: cannot set state %d\n", k);
                    continue;
                }
                long before = sr_test_fp_state();
                feclearexcept(FE_ALL_EXCEPT);
                c = base;
                run_all_loops(got, x, N, &c);
                int flags = fetestexcept(FE_ALL_EXCEPT);
                long after = sr_test_fp_state();
                sr_test_set_fp_state(0, 0, 0);
                CHECK(memcmp(got, want, sizeof got) == 0, "format %d mode %d state %d: bits "
                      "differ from the default state's", f, m, k);
                CHECK(after == before, "format %d mode %d state %d: state changed", f, m, k);
                CHECK(flags == want_flags, "format %d mode %d state %d: flags %#x, default %#x",
                      f, m, k, flags, want_flags);
            }
            /* square roots of negative numbers are invalid; 65520 and 1e300 overflow
               binary16, and 1e300 / 2^-1074 every format */
            if (m == SR_NEAREST)
                CHECK(want_flags == (FE_OVERFLOW | FE_INVALID), "format %d nearest: flags %#x",
                      f, want_flags);
        }
    }
}

/* The contiguous fast path and the general strided path must agree bit for bit,
   in every mode, with the same random words (two contexts with one seed). */
static void test_fast_path_matches_general(void)
{
    enum { N = 4096 };
    static float xf[N], yf[N];
    static double xd[N], yd[N];
    uint64_t state = 12345;
    for (int i = 0; i < N; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        /* mostly normal-range values (fast path), a few chunks with specials */
        xf[i] = ldexpf((float)(state % 100000) / 7.0f, (int)(state >> 50) % 20 - 10);
        xd[i] = ldexp((double)(state >> 11) / 3.0, (int)(state >> 58) % 40 - 60);
        if (i % 2 == 1) xf[i] = -xf[i];
        if (i >= 3000 && i % 97 == 0) { xf[i] = 1e-30f; xd[i] = INFINITY; }
    }
    const int formats[][3] = {{8, 127, -126}, {11, 15, -14}, {4, 8, -6}, {2, 2, 0}, {1, 5, -4}};
    for (int f = 0; f < 5; f++) {
        for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
            int bits = (m == SR_STOCHASTIC && f % 2) ? 5 : 64;
            sr_context bulk = make_ctx(formats[f][0], formats[f][1], formats[f][2], 1,
                                       SR_OVERFLOW_INF, 0, (sr_rounding)m, bits);
            sr_context one = bulk;
            /* bulk calls in uneven pieces, so that calls start and end between the
               generator's steps (buffered words, then inlined steps, then a tail) */
            sr_intp pieces[] = {37, 1000, 3, 2048, N - 37 - 1000 - 3 - 2048}, at = 0;
            for (int t = 0; t < 2; t++) {
                at = 0;
                for (size_t q = 0; q < sizeof pieces / sizeof *pieces; q++) {
                    sr_intp stf[2] = {4, 4}, std_[2] = {8, 8};
                    char *af[2] = {(char *)(xf + at), (char *)(yf + at)};
                    char *ad[2] = {(char *)(xd + at), (char *)(yd + at)};
                    if (t == 0) sr_loop_round_f32(af, &pieces[q], stf, &bulk);
                    else sr_loop_round_f64(ad, &pieces[q], std_, &bulk);
                    at += pieces[q];
                }
            }
            long bad = 0;
            for (int i = 0; i < N; i++) {
                float rf = sr_round_f32(xf[i], &one);
                uint32_t a, b;
                memcpy(&a, &rf, 4); memcpy(&b, &yf[i], 4);
                bad += a != b;
            }
            for (int i = 0; i < N; i++) {
                double rd = sr_round_f64(xd[i], &one);
                uint64_t a, b;
                memcpy(&a, &rd, 8); memcpy(&b, &yd[i], 8);
                bad += a != b;
            }
            CHECK(bad == 0, "format %d mode %d: %ld fast/general mismatches", f, m, bad);
        }
    }
}

/* Every kernel path must give the same bits as the portable one, in every mode,
   for both input types, random words included. */
/* Reductions (arith.c's integer sum chain, sum_chain.h, where it holds) give the
   bits of the same sum done one rounded addition per call, on every path, with
   inputs that make the chain hand over: binade crossings, sign changes, zero sums,
   overflow, underflow, NaN and infinities, terms that are not integers at the
   sum's scale. */
static void test_sum_chain_matches_single_steps(void)
{
    enum { N = 1500, FAMILIES = 6 };
    static double x[FAMILIES][N];
    uint64_t state = 123456789;
    for (int i = 0; i < N; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        double u = (double)(state >> 11) * 0x1p-53;
        x[0][i] = u;                                              /* a growing sum */
        x[1][i] = (i / 40 % 2 ? -1 : 1) * (0.5 + 2 * u);          /* runs of each sign */
        x[2][i] = (state & 1 ? 1.0 : -1.0) * ldexp(1.0, (int)(state >> 60) % 4);   /* zeros */
        x[3][i] = i % 3 ? u : ldexp(1 + u, -20 - (int)(state >> 58));   /* tiny terms */
        x[4][i] = (u - 0.45) * ldexp(1.0, (int)(state >> 57) - 64);      /* wide range */
        x[5][i] = i == 700 ? NAN : i == 1200 ? INFINITY : -u;             /* specials */
    }
    const char *isas[] = {"scalar", "avx2", "avx512"};
    const int formats[][3] = {{8, 127, -126}, {11, 15, -14}, {4, 8, -6}, {20, 100, -100}};
    long bad = 0, cases = 0;
    for (int k = 0; k < 3; k++) {
        if (sr_isa_check(isas[k]) != 0) continue;
        for (int f = 0; f < 4; f++) {
            for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
                sr_context ctx = make_ctx(formats[f][0], formats[f][1], formats[f][2], 1,
                                          SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
                CHECK(sr_context_set_isa(&ctx, isas[k]) == 0, "cannot set path %s", isas[k]);
                for (int g = 0; g < FAMILIES; g++) {
                    sr_context twin = ctx;
                    double acc = 0, step = 0;
                    char *red[3] = {(char *)&acc, (char *)x[g], (char *)&acc};
                    sr_intp n = N, one = 1, sred[3] = {0, 8, 0}, s1[3] = {0, 0, 0};
                    sr_loop_add_f64(red, &n, sred, &ctx);
                    for (int i = 0; i < N; i++) {
                        char *args[3] = {(char *)&step, (char *)&x[g][i], (char *)&step};
                        sr_loop_add_f64(args, &one, s1, &twin);
                    }
                    bad += memcmp(&acc, &step, sizeof acc) != 0;
                    cases++;
                }
            }
        }
    }
    CHECK(bad == 0, "reductions differ from single steps in %ld of %ld cases", bad, cases);
}

static void test_isa_paths_agree(void)
{
    enum { N = 3000 };
    static float xf[N], yf[2][N];
    static double xd[N], yd[2][N];
    uint64_t state = 987654321;
    for (int i = 0; i < N; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        uint32_t u32 = (uint32_t)(state >> 32);
        uint64_t u64 = state * 0x9E3779B97F4A7C15u;
        if (i % 3 == 0) u32 = (u32 & 0x807fffffu) | (((u32 >> 23) % 40 + 100) << 23);
        memcpy(&xf[i], &u32, 4);
        memcpy(&xd[i], &u64, 8);
    }
    const char *isas[] = {"avx2", "avx512"};
    const int formats[][3] = {{8, 127, -126}, {11, 15, -14}, {4, 8, -6}, {3, 4, -2}, {1, 5, -4},
                              {24, 127, -126}, {53, 1023, -1022}};
    for (int k = 0; k < 2; k++) {
        if (sr_isa_check(isas[k]) != 0) { printf("skip: no %s on this CPU\n", isas[k]); continue; }
        long bad = 0;
        for (int f = 0; f < 7; f++) {
            for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
                int bits = (m == SR_STOCHASTIC && f % 2) ? 7 : 64;
                sr_context ctx = make_ctx(formats[f][0], formats[f][1], formats[f][2], 1,
                                          SR_OVERFLOW_INF, 0, (sr_rounding)m, bits);
                for (int path = 0; path < 2; path++) {
                    sr_context c = ctx;
                    CHECK(sr_context_set_isa(&c, path ? isas[k] : "scalar") == 0,
                          "cannot set path %s", path ? isas[k] : "scalar");
                    sr_intp n = N, s4[2] = {4, 4}, s8[2] = {8, 8};
                    char *af[2] = {(char *)xf, (char *)yf[path]};
                    char *ad[2] = {(char *)xd, (char *)yd[path]};
                    if (formats[f][0] <= 24) sr_loop_round_f32(af, &n, s4, &c);
                    sr_loop_round_f64(ad, &n, s8, &c);
                }
                bad += memcmp(yf[0], yf[1], sizeof yf[0]) != 0;
                bad += memcmp(yd[0], yd[1], sizeof yd[0]) != 0;
            }
        }
        CHECK(bad == 0, "%s path differs from scalar in %ld cases", isas[k], bad);
    }
    sr_context c = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, SR_NEAREST, 64);
    CHECK(sr_context_set_isa(&c, "sse9") == -1 && sr_isa_check("sse9") == -1 &&
          strcmp(sr_context_isa(&c), sr_isa()) == 0, "an unknown path is refused");
}

/* Caller-supplied random bits: x = 1 + 2^-9 is a quarter of a bfloat16 ulp above 1,
   so with r bits F = 2^(r-2), and x rounds up exactly when F + (R mod 2^r) >= 2^r.
   Checked for every R below 2^r (and R with bits above r set), float32 and float64
   data, r <= 32 and r > 32 (float32 data widened). */
static void test_given_bits(void)
{
    int rs[] = {2, 3, 8, 32, 33, 64};
    for (size_t k = 0; k < sizeof rs / sizeof *rs; k++) {
        int r = rs[k];
        sr_context c = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, SR_STOCHASTIC, r);
        uint64_t F = (uint64_t)1 << (r - 2), top = r == 64 ? ~(uint64_t)0 : ((uint64_t)1 << r) - 1;
        uint64_t Rs[] = {0, 1, top - F, top - F + 1, top, top - F + 1 + (r < 64 ? top + 1 : 0)};
        int ok = 1;
        for (size_t j = 0; j < sizeof Rs / sizeof *Rs; j++) {
            uint64_t R = Rs[j];
            int up = (R & top) >= top - F + 1;   /* F + R' >= 2^r, without overflow */
            double xd = -(1 + ldexp(1, -9)), yd;
            float xf = (float)xd, yf;
            char *ad[3] = {(char *)&xd, (char *)&R, (char *)&yd};
            char *af[3] = {(char *)&xf, (char *)&R, (char *)&yf};
            sr_intp one = 1, s0[3] = {0, 0, 0};
            sr_loop_round_given_f64(ad, &one, s0, &c);
            sr_loop_round_given_f32(af, &one, s0, &c);
            double want = up ? -(1 + ldexp(1, -7)) : -1.0;
            ok &= yd == want && yf == (float)want;
        }
        CHECK(ok, "caller-supplied random bits, r = %d", r);
    }
}

/* A loop wrapped for a format without -0 turns every -0 it writes into +0. */
static void test_unsigned_zero(void)
{
    sr_context c = make_ctx(4, 7, -7, 1, SR_OVERFLOW_NAN, 0, SR_UP, 64);
    c.fmt.signed_zero = 0;
    sr_unsigned_zero_loop w = {sr_loop_round_f64, &c, 1};
    double x[4] = {-0.0, -1e-9, -1.0, 1e-9}, y[4];
    char *args[2] = {(char *)x, (char *)y};
    sr_intp n = 4, steps[2] = {8, 8};
    sr_loop_unsigned_zero_f64(args, &n, steps, &w);
    CHECK(y[0] == 0 && !signbit(y[0]) && y[1] == 0 && !signbit(y[1]) && y[2] == -1.0 &&
          y[3] == ldexp(1, -10), "-0 results become +0");
}

/* sr_matmul (matmul.c) against its definition: the ufunc loops of arith.c on a twin
   context, one row and step at a time in the documented order (rows in blocks of
   SR_MATMUL_ROWS; per step l and row i: n products, then n additions), every mode,
   one stream and two, and C = C - A B; values and stream positions alike. */
static void test_matmul(void)
{
    enum { M = 6, K = 5, N = 9 };
    double A[M][K], B[K][N], C[M][N], want[M][N], p[N];
    uint64_t state = 42;
    for (int i = 0; i < M * K + K * N; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        /* multiples of 2^-6 in [-8, 8), a few zeros: sums and products stay exact-ish */
        double v = (double)((int64_t)(state % 1024) - 512) / 64.0;
        if (state % 11 == 0) v = 0;
        if (i < M * K) A[i / K][i % K] = v;
        else B[(i - M * K) / N][(i - M * K) % N] = v;
    }
    sr_intp zero = 0, n = N, st_bcast[3] = {0, 8, 8}, st_row[3] = {8, 8, 8};
    long bad = 0;
    for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
        for (int variant = 0; variant < 3; variant++) {   /* one stream, two, subtract */
            sr_context prod = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
            sr_context sum = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
            sr_context tprod = prod, tsum = sum;
            sr_context *ps = variant == 1 ? &sum : &prod, *tps = variant == 1 ? &tsum : &tprod;
            int subtract = variant == 2;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) C[i][j] = want[i][j] = subtract ? B[i % K][j] : 0;
            sr_matmul_args g = {M, K, N, 1, (const char *)A, K * 8, 8, &zero,
                                (const char *)B, N * 8, 8, &zero, (char *)C, N * 8, &zero,
                                subtract, !subtract};
            unsigned raised = 0;
            sr_matmul_f64(&prod, ps, &g, &raised);
            for (int i0 = 0; i0 < M; i0 += SR_MATMUL_ROWS)
                for (int l = 0; l < K; l++)
                    for (int i = i0; i < M && i < i0 + SR_MATMUL_ROWS; i++) {
                        char *mul[3] = {(char *)&A[i][l], (char *)B[l], (char *)p};
                        char *add[3] = {(char *)want[i], (char *)p, (char *)want[i]};
                        sr_loop_multiply_f64(mul, &n, st_bcast, &tprod);
                        if (subtract) sr_loop_subtract_f64(add, &n, st_row, tps);
                        else sr_loop_add_f64(add, &n, st_row, tps);
                    }
            bad += memcmp(C, want, sizeof C) != 0 || raised != 0;
            uint64_t w1, w2;
            sr_context_draw(&prod, &w1, 1);
            sr_context_draw(&tprod, &w2, 1);
            bad += w1 != w2;
            sr_context_draw(ps, &w1, 1);
            sr_context_draw(tps, &w2, 1);
            bad += w1 != w2;
        }
    }
    CHECK(bad == 0, "sr_matmul differs from its ufunc definition in %ld cases", bad);
}

/* The binary32 lanes of sr_matmul_f32 (small formats, one mode; matmul_body.h) and
   their fallbacks against the ufunc loops, on every kernel path: format values (the
   fast path), data that is not (inexact products), both zeros, overflow, subnormal
   and tiny products, NaN and inf, a row length not a multiple of 16, and binary32
   sums (the binary64 passes). */
static void test_matmul_f32(void)
{
    enum { M = 5, K = 7, N = 37 };
    static float A[M][K], B[K][N], C[M][N], want[M][N], p[N];
    static const char *isas[3] = {"scalar", "avx2", "avx512"};
    long bad = 0, runs = 0;
    for (int data = 0; data < 3; data++) {
        uint64_t state = 7 + (uint64_t)data;
        for (int i = 0; i < M * K + K * N; i++) {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            float v = (float)((int64_t)(state % 4096) - 2048) / 256.0f;   /* 8 bits */
            if (data == 1) v = v * 1.00390625f + (float)ldexp(1, -20) * (float)(state % 5);
            if (data == 2) {
                static const float odd[] = {0.0f, -0.0f, 3e38f, -3e38f, 1e-39f, 1e-30f,
                                            INFINITY, -INFINITY, NAN, 1.0f, 1.0f, 1.0f};
                if (state % 3 == 0) v = odd[(state / 3) % 12];
            }
            if (state % 13 == 0) v = state % 2 ? 0.0f : -0.0f;
            if (i < M * K) A[i / K][i % K] = v;
            else B[(i - M * K) / N][(i - M * K) % N] = v;
        }
        for (int m = 0; m < SR_NUM_ROUNDINGS; m++)
            for (int variant = 0; variant < 4; variant++)   /* one stream, two, subtract, b32 sums */
                for (int k = 0; k < 3; k++) {
                    sr_context prod = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0,
                                               (sr_rounding)m, 64);
                    sr_context sum = variant == 3
                                     ? make_ctx(24, 127, -126, 1, SR_OVERFLOW_INF, 0, (sr_rounding)m, 32)
                                     : make_ctx(11, 15, -14, 1, SR_OVERFLOW_SATURATE, 0, (sr_rounding)m, 13);
                    if (sr_context_set_isa(&prod, isas[k]) != 0) continue;   /* not on this CPU */
                    sr_context tprod = prod, tsum = sum;
                    int two = variant == 1 || variant == 3, subtract = variant == 2;
                    sr_context *ps = two ? &sum : &prod, *tps = two ? &tsum : &tprod;
                    sr_intp zero = 0, n = N, st_bcast[3] = {0, 4, 4}, st_row[3] = {4, 4, 4};
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) C[i][j] = want[i][j] = subtract ? B[i % K][j] : 0;
                    sr_matmul_args g = {M, K, N, 1, (const char *)A, K * 4, 4, &zero,
                                        (const char *)B, N * 4, 4, &zero, (char *)C, N * 4, &zero,
                                        subtract, !subtract};
                    sr_matmul_f32(&prod, ps, &g, NULL);
                    for (int i0 = 0; i0 < M; i0 += SR_MATMUL_ROWS)
                        for (int l = 0; l < K; l++)
                            for (int i = i0; i < M && i < i0 + SR_MATMUL_ROWS; i++) {
                                char *mul[3] = {(char *)&A[i][l], (char *)B[l], (char *)p};
                                char *add[3] = {(char *)want[i], (char *)p, (char *)want[i]};
                                sr_loop_multiply_f32(mul, &n, st_bcast, &tprod);
                                if (subtract) sr_loop_subtract_f32(add, &n, st_row, tps);
                                else sr_loop_add_f32(add, &n, st_row, tps);
                            }
                    runs++;
                    /* bit for bit, except a NaN's sign (x86's default NaN is negative,
                       so it depends on the order of the operations) */
                    for (int q = 0; q < M * N; q++) {
                        float x = (&C[0][0])[q], y = (&want[0][0])[q];
                        bad += isnan(x) ? !isnan(y) : memcmp(&x, &y, sizeof x) != 0;
                    }
                    uint64_t w1, w2;
                    sr_context_draw(ps, &w1, 1);
                    sr_context_draw(tps, &w2, 1);
                    bad += w1 != w2;
                }
    }
    CHECK(bad == 0 && runs > 0, "sr_matmul_f32 differs from its ufunc definition in %ld values (%ld runs)",
          bad, runs);
}

/* Kahan's sum (sr_sum_kahan_f64, the two-pass chain of kahan_chain.h under the modes
   that take it) against its definition, one elementwise operation per call, on terms
   that break the chain's assumptions: t - s not a value of the format (|y| > |s|),
   s + y inexact in binary64, c = fl(ts - y) with bits to round, subnormal
   corrections, NaN, infinities and overflow; every mode, three formats, every path. */
static double kahan_one_op(sr_context *ctx, int subtract, double a, double b)
{
    double r = 0;
    sr_intp one = 1, steps[3] = {8, 8, 8};
    char *args[3] = {(char *)&a, (char *)&b, (char *)&r};
    if (subtract) sr_loop_subtract_f64(args, &one, steps, ctx);
    else sr_loop_add_f64(args, &one, steps, ctx);
    return r;
}

static void test_kahan_against_definition(void)
{
    enum { N = 700 };
    static double x[N];
    const int formats[][3] = {{8, 127, -126}, {11, 15, -14}, {20, 100, -100}};
    const char *isas[] = {"scalar", "avx2", "avx512"};
    uint64_t state = 12345;
    for (int f = 0; f < 3; f++) {
        int e_hi = formats[f][1] < 62 ? formats[f][1] - 2 : 60, e_lo = e_hi < 8 ? e_hi : 8;
        double big = ldexp(1, e_hi), tiny = ldexp(1, formats[f][2] - 3), last_big = 0;
        for (int i = 0; i < N; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            double u = (double)(state >> 11) * 0x1p-53;   /* uniform in [0, 1) */
            int part = i / 140;
            /* part 0: +-big terms of several binades among small ones, each cancelled
               three steps later */
            if (part == 0 && i % 7 == 0)
                last_big = ldexp(u + 0.5, e_lo + (int)((state >> 32) % (unsigned)(e_hi - e_lo + 1)));
            x[i] = part == 0 ? (i % 7 == 0 ? last_big : i % 7 == 3 ? -last_big : u - 0.5)
                 : part == 1 ? (i % 50 == 0 ? big : u)
                 : part == 2 ? tiny * (u * 40 - 10)
                 : part == 3 ? ldexp(u + 1, (int)(state >> 60) - 4) * (i > 500 ? -1.3 : 1)
                 : u;
        }
        x[300] = INFINITY;
        x[420] = NAN;
        for (int m = 0; m < SR_NUM_ROUNDINGS; m++) {
            for (int k = 0; k < 3; k++) {
                if (sr_isa_check(isas[k]) != 0) continue;   /* not on this CPU */
                for (int len = 250; len <= N; len += 450) {   /* before and after x[300] */
                    sr_context ctx = make_ctx(formats[f][0], formats[f][1], formats[f][2], 1,
                                              SR_OVERFLOW_INF, 0, (sr_rounding)m, 64);
                    sr_context_set_isa(&ctx, isas[k]);
                    sr_context def = ctx;
                    double got = sr_sum_kahan_f64(&ctx, (const char *)x, len, 8);
                    double s = 0, c = 0;
                    for (int i = 0; i < len; i++) {
                        double y = kahan_one_op(&def, 1, x[i], c);
                        double t = kahan_one_op(&def, 0, s, y);
                        double ts = kahan_one_op(&def, 1, t, s);
                        c = kahan_one_op(&def, 1, ts, y);
                        s = t;
                    }
                    CHECK(memcmp(&got, &s, sizeof s) == 0 || (isnan(got) && isnan(s)),
                          "kahan p=%d mode %d %s n=%d: %a, definition %a", formats[f][0], m,
                          isas[k], len, got, s);
                }
            }
        }
    }
    feclearexcept(FE_ALL_EXCEPT);
}

/* sr_dot_f32 (dot_fused.h, one pass) against the two passes it replaces: the multiply
   loop into an array, then the add loop as a reduction (NumPy's: the accumulator,
   from +0, as first input and output, stride 0); the same sum and the same next
   words, on every path, for the sums in the products' context (a skip past the
   products' words, drawn or jumped) or another, from a waiting half-word */
static void test_dot_fused(void)
{
    enum { N = 70001 };
    static float x[N], y[N], prod[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(((long long)i * 7919 % 1000) / 1000.0 + 0.001);
        y[i] = (float)((((long long)i * 104729) % 977) / 977.0 - 0.2);
    }
    const char *isas[] = {"scalar", "avx2", "avx512"};
    const sr_intp lengths[] = {1, 7, 300, 40000, N};
    long bad = 0, runs = 0;
    for (int k = 0; k < 3; k++)
        for (int l = 0; l < 5; l++)
            for (int other = 0; other < 2; other++) {
                sr_intp n = lengths[l];
                sr_context a = make_ctx(8, 127, -126, 1, SR_OVERFLOW_INF, 0, SR_STOCHASTIC, 64);
                sr_context s = make_ctx(11, 15, -14, 1, SR_OVERFLOW_INF, 0, SR_STOCHASTIC, 64);
                if (sr_context_set_isa(&a, isas[k]) != 0) continue;   /* not on this CPU */
                uint32_t half;
                sr_context_draw32(&a, &half, 1);   /* a high half-word waits */
                sr_context a2 = a, s2 = s;
                sr_context *sum = other ? &s : &a, *sum2 = other ? &s2 : &a2;
                double got;
                sr_dot_f32(&a, sum, (const char *)x, 4, (const char *)y, 4, n, &got);
                char *margs[3] = {(char *)x, (char *)y, (char *)prod};
                sr_intp dims[1] = {n}, msteps[3] = {4, 4, 4}, rsteps[3] = {0, 4, 0};
                sr_loop_multiply_f32(margs, dims, msteps, &a2);
                float acc = 0;
                char *rargs[3] = {(char *)&acc, (char *)prod, (char *)&acc};
                sr_loop_add_f32(rargs, dims, rsteps, sum2);
                uint64_t w[2][4];
                sr_context_draw(&a, w[0], 2);
                sr_context_draw(&a2, w[1], 2);
                sr_context_draw(sum, w[0] + 2, 2);
                sr_context_draw(sum2, w[1] + 2, 2);
                runs++;
                bad += (float)got != acc || memcmp(w[0], w[1], sizeof w[0]) != 0;
            }
    CHECK(runs > 0 && bad == 0, "one-pass dot differs from the two passes in %ld of %ld runs",
          bad, runs);
}

int main(void)
{
    printf("kernel path: %s\n", sr_isa());
    test_rng();
    test_counter_stream();
    test_counter_fused();
    test_threads();
    test_formats();
    test_known_values();
    test_against_hardware();
    test_stochastic();
    test_arith();
    test_format_as_wide_as_input();
    test_other_inputs();
    test_fp_environment();
    test_fast_path_matches_general();
    test_isa_paths_agree();
    test_sum_chain_matches_single_steps();
    test_given_bits();
    test_unsigned_zero();
    test_matmul();
    test_matmul_f32();
    test_kahan_against_definition();
    test_dot_fused();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
