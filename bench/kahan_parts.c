/*
 * The parts of a two-pass Kahan sum besides its chain (csrc/kahan_chain.h), per step
 * of a 256-step chunk, on the default kernel path or the one named (scalar, avx2,
 * avx512): the check pass (the kernel table's kahan_check; and, for comparison, four
 * chain_check calls, the check pass before it), and drawing the four words of a step
 * from a bfloat16 stochastic context. The chain's own floor is bench/latency_floor.c.
 * Build and run from the repository root:
 *   cc -O2 -Icsrc -o /tmp/kahan_parts bench/kahan_parts.c csrc/format.c csrc/rng.c \
 *      csrc/round.c csrc/arith.c csrc/kernels.c csrc/fpstate.c csrc/threads.c csrc/mma.c \
 *      csrc/matmul.c csrc/given_bits.c csrc/unsigned_zero.c -lm -pthread \
 *      $(sed -n 's/^SR_CFLAGS = //p' csrc/flags.mk) && /tmp/kahan_parts [path]
 * Prints ns per step: the best of 2000 runs.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "round_common.h"
#include "srround.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

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
    printf("path %s, ns per step (checksum %ld)\n", ctx.kernels->name, sink);
    printf("kahan_check          %.3f\n", best_kahan / M * 1e9);
    printf("4 x chain_check      %.3f\n", best_four / M * 1e9);
    printf("draw 4 words         %.3f\n", best_draw / M * 1e9);
    return 0;
}
