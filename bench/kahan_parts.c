/*
 * The parts of a two-pass Kahan sum besides its chain (csrc/kahan_chain.h), per step
 * of a 256-step chunk, on the default kernel path or the one named (scalar, avx2,
 * avx512): the check pass (the kernel table's kahan_check; and, for comparison, four
 * chain_check calls, the check pass before it), and drawing the four words of a step
 * from a bfloat16 stochastic context; and, for the sum of these parts, a whole
 * sr_sum_kahan_f32 of 2^20 float32 values in [0, 1) (best of 15, per element; its
 * chain is the rest). The chain's own floor is bench/latency_floor.c.
 * Build and run from the repository root:
 *   cc -O2 -Icsrc -o /tmp/kahan_parts bench/kahan_parts.c csrc/format.c csrc/rng.c \
 *      csrc/round.c csrc/arith.c csrc/kernels.c csrc/fpstate.c csrc/threads.c csrc/mma.c \
 *      csrc/matmul.c csrc/given_bits.c csrc/unsigned_zero.c -lm -pthread \
 *      $(sed -n 's/^SR_CFLAGS = //p' csrc/flags.mk) && /tmp/kahan_parts [path]
 * Prints ns per step: the best of 2000 runs (of 15 for the whole sum, timed by this
 * thread's CPU time, so that other processes on a shared machine do not count).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "round_common.h"
#include "srround.h"

static double clock_seconds(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
/* the parts (a chunk: well under a microsecond, best of many runs) */
static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }
/* the whole sum (milliseconds): this thread's CPU time */
static double cpu_now(void) { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

int main(int argc, char **argv)
{
    enum { M = SR_CHUNK, RUNS = 2000 };
    sr_format f;
    sr_context ctx;
    const char *err = NULL;
    uint64_t seed[4 * SR_RNG_LANES] = {1};
    if (sr_format_init(&f, 8, 127, -126, 1, SR_OVERFLOW_INF, 0, &err) ||
        sr_context_init(&ctx, &f, SR_STOCHASTIC, 64, seed, &err) ||
        (argc > 1 && sr_context_set_isa(&ctx, argv[1]))) {
        printf("setup failed: %s\n", err ? err : argv[1]);
        return 1;
    }
    /* zeros pass every check: each check runs over the whole chunk */
    static double x[M], s[M + 1], c[M + 1], y[M];
    static uint64_t inc[4][SR_CHUNK], words[4 * M];
    double best_kahan = 1e30, best_four = 1e30, best_draw = 1e30;
    long sink = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        sink += ctx.kernels->kahan_check(x, s, c, y, (const uint64_t(*)[SR_CHUNK])inc, M,
                                         &ctx.fmt.f64);
        double t1 = now();
        for (int j = 0; j < 4; j++)
            sink += ctx.kernels->chain_check(x, y, inc[j], M, j != 1, &ctx.fmt.f64);
        double t2 = now();
        sr_context_draw(&ctx, words, 4 * M);
        double t3 = now();
        best_kahan = t1 - t0 < best_kahan ? t1 - t0 : best_kahan;
        best_four = t2 - t1 < best_four ? t2 - t1 : best_four;
        best_draw = t3 - t2 < best_draw ? t3 - t2 : best_draw;
    }
    enum { WHOLE = 1 << 20 };
    static float xs[WHOLE];
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < WHOLE; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        xs[i] = (float)(state >> 40) * 0x1p-24f;   /* uniform in [0, 1) */
    }
    double best_sum = 1e30, total = 0;
    for (int r = 0; r < 15; r++) {
        double t0 = cpu_now();
        total += sr_sum_kahan_f32(&ctx, (const char *)xs, WHOLE, sizeof(float));
        double t = cpu_now() - t0;
        best_sum = t < best_sum ? t : best_sum;
    }
    printf("path %s, ns per step (checksum %ld, %g)\n", ctx.kernels->name, sink, total);
    printf("kahan_check          %.3f\n", best_kahan / M * 1e9);
    printf("4 x chain_check      %.3f\n", best_four / M * 1e9);
    printf("draw 4 words         %.3f\n", best_draw / M * 1e9);
    printf("whole Kahan sum      %.3f\n", best_sum / WHOLE * 1e9);
    return 0;
}
