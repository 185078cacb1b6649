/* The random stream: seeding, buffered filling and jumps. */
#include <string.h>

#include "rng.h"

void sr_rng_seed(sr_rng *r, const uint64_t *seed)
{
    for (int j = 0; j < SR_RNG_LANES; j++) {
        const uint64_t *w = seed + 4 * j;
        int all_zero = (w[0] | w[1] | w[2] | w[3]) == 0;
        for (int i = 0; i < 4; i++)
            /* xoshiro must not start from the all-zero state; any fixed non-zero
               replacement will do (it happens with probability 2^-256). */
            r->s[i][j] = all_zero ? 0x9E3779B97F4A7C15u * (uint64_t)(i + 1 + 4 * j) : w[i];
    }
    r->pos = SR_RNG_LANES;
}

/* nblocks blocks of SR_RNG_LANES words. All lanes step together: with GCC/Clang
   vector extensions one vector holds one state word of every lane, and the compiler
   emits whatever the target ISA has (one zmm register with AVX-512, two ymm with
   AVX2, four xmm with SSE2). Elsewhere a plain loop over lanes does the same. */
#if defined(__GNUC__)
typedef uint64_t sr_lanes __attribute__((vector_size(8 * SR_RNG_LANES)));
#define SR_RNG_BLOCKS_BODY                                                                \
    {                                                                                     \
        sr_lanes s0, s1, s2, s3, t, out_v;                                                \
        memcpy(&s0, r->s[0], sizeof s0); memcpy(&s1, r->s[1], sizeof s1);                 \
        memcpy(&s2, r->s[2], sizeof s2); memcpy(&s3, r->s[3], sizeof s3);                 \
        for (size_t b = 0; b < nblocks; b++) {                                            \
            t = s0 + s3;                                                                  \
            out_v = ((t << 23) | (t >> 41)) + s0;                                         \
            memcpy(out + b * SR_RNG_LANES, &out_v, sizeof out_v);                         \
            t = s1 << 17;                                                                 \
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;                              \
            s3 = (s3 << 45) | (s3 >> 19);                                                 \
        }                                                                                 \
        memcpy(r->s[0], &s0, sizeof s0); memcpy(r->s[1], &s1, sizeof s1);                 \
        memcpy(r->s[2], &s2, sizeof s2); memcpy(r->s[3], &s3, sizeof s3);                 \
    }
#else
#define SR_RNG_BLOCKS_BODY                                                                \
    {                                                                                     \
        for (size_t b = 0; b < nblocks; b++) {                                            \
            for (int j = 0; j < SR_RNG_LANES; j++) {                                      \
                uint64_t s0 = r->s[0][j], s1 = r->s[1][j], s2 = r->s[2][j], s3 = r->s[3][j]; \
                out[b * SR_RNG_LANES + j] = sr_rotl(s0 + s3, 23) + s0;                    \
                uint64_t t = s1 << 17;                                                    \
                s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = sr_rotl(s3, 45);    \
                r->s[0][j] = s0; r->s[1][j] = s1; r->s[2][j] = s2; r->s[3][j] = s3;       \
            }                                                                             \
        }                                                                                 \
    }
#endif

static void blocks_portable(sr_rng *r, uint64_t *out, size_t nblocks)
SR_RNG_BLOCKS_BODY

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* The same body compiled for wider vectors; chosen at run time by CPU features,
   never by -march=native, so one build runs on every x86-64. */
__attribute__((target("avx2"))) static void blocks_avx2(sr_rng *r, uint64_t *out,
                                                        size_t nblocks)
SR_RNG_BLOCKS_BODY
__attribute__((target("avx512f"))) static void blocks_avx512(sr_rng *r, uint64_t *out,
                                                             size_t nblocks)
SR_RNG_BLOCKS_BODY
#endif

typedef void (*blocks_fn)(sr_rng *, uint64_t *, size_t);

static blocks_fn choose_blocks(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return blocks_avx512;
    if (__builtin_cpu_supports("avx2")) return blocks_avx2;
#endif
    return blocks_portable;
}

static void rng_blocks(sr_rng *r, uint64_t *out, size_t nblocks)
{
    /* Every thread computes the same pointer, so a racy first call is harmless. */
    static _Atomic(blocks_fn) chosen = NULL;
    blocks_fn f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!f) {
        f = choose_blocks();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    f(r, out, nblocks);
}

void sr_rng_fill(sr_rng *r, uint64_t *out, size_t n)
{
    while (n > 0 && r->pos < SR_RNG_LANES) {
        *out++ = r->buf[r->pos++];
        n--;
    }
    if (n >= SR_RNG_LANES) {
        size_t nblocks = n / SR_RNG_LANES;
        rng_blocks(r, out, nblocks);
        out += nblocks * SR_RNG_LANES;
        n -= nblocks * SR_RNG_LANES;
    }
    if (n > 0) {
        rng_blocks(r, r->buf, 1);
        memcpy(out, r->buf, n * sizeof *out);
        r->pos = (int)n;
    }
}

/* The jump polynomial for 2^128 steps of xoshiro256, from the algorithm's paper. */
static const uint64_t JUMP[4] = {0x180ec6d33cfd0abau, 0xd5a61266f0c9392cu,
                                 0xa9582618e03fc9aau, 0x39abdc4529b1661cu};

void sr_rng_jump(sr_rng *r)
{
    uint64_t acc[4][SR_RNG_LANES] = {{0}};
    uint64_t scratch[SR_RNG_LANES];
    for (int w = 0; w < 4; w++) {
        for (int b = 0; b < 64; b++) {
            if (JUMP[w] & ((uint64_t)1 << b))
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < SR_RNG_LANES; j++) acc[i][j] ^= r->s[i][j];
            blocks_portable(r, scratch, 1);
        }
    }
    memcpy(r->s, acc, sizeof acc);
    r->pos = SR_RNG_LANES;
}
