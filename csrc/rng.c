/* The random stream: seeding, buffered filling and jumps. */
#include <string.h>

#include "rng.h"
#include "round_common.h"

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
    r->has_half = 0;
}

void sr_rng_fill(sr_rng *r, uint64_t *out, size_t n)
{
    sr_rng_fill_k(sr_kernels_default(), r, out, n);
}

void sr_rng_fill32(sr_rng *r, uint32_t *out, size_t n)
{
    sr_rng_fill32_k(sr_kernels_default(), r, out, n);
}

void sr_rng_jump(sr_rng *r)
{
    sr_rng_jump_k(sr_kernels_default(), r);
}

void sr_rng_fill_k(const sr_kernels *k, sr_rng *r, uint64_t *out, size_t n)
{
    r->has_half = 0;
    while (n > 0 && r->pos < SR_RNG_LANES) {
        *out++ = r->buf[r->pos++];
        n--;
    }
    if (n >= SR_RNG_LANES) {
        size_t nblocks = n / SR_RNG_LANES;
        k->rng_blocks(r, out, nblocks);
        out += nblocks * SR_RNG_LANES;
        n -= nblocks * SR_RNG_LANES;
    }
    if (n > 0) {
        k->rng_blocks(r, r->buf, 1);
        memcpy(out, r->buf, n * sizeof *out);
        r->pos = (int)n;
    }
}

void sr_rng_fill32_k(const sr_kernels *k, sr_rng *r, uint32_t *out, size_t n)
{
    if (n > 0 && r->has_half) {
        *out++ = r->half;
        n--;
        r->has_half = 0;
    }
    uint64_t words[128];
    while (n > 0) {
        size_t pairs = (n + 1) / 2, m = pairs < 128 ? pairs : 128;
        sr_rng_fill_k(k, r, words, m);
        size_t take = 2 * m <= n ? 2 * m : n;   /* n odd: the last high half waits */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(out, words, take * sizeof *out);   /* the same order, in one copy */
#else
        for (size_t i = 0; i < take; i++)
            out[i] = (uint32_t)(words[i / 2] >> (32 * (i % 2)));
#endif
        if (take < 2 * m) {
            r->half = (uint32_t)(words[m - 1] >> 32);
            r->has_half = 1;
        }
        out += take;
        n -= take;
    }
}

/* The jump polynomial for 2^128 steps of xoshiro256, from the algorithm's paper. */
static const uint64_t JUMP[4] = {0x180ec6d33cfd0abau, 0xd5a61266f0c9392cu,
                                 0xa9582618e03fc9aau, 0x39abdc4529b1661cu};

void sr_rng_jump_k(const sr_kernels *k, sr_rng *r)
{
    uint64_t acc[4][SR_RNG_LANES] = {{0}};
    uint64_t scratch[SR_RNG_LANES];
    for (int w = 0; w < 4; w++) {
        for (int b = 0; b < 64; b++) {
            if (JUMP[w] & ((uint64_t)1 << b))
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < SR_RNG_LANES; j++) acc[i][j] ^= r->s[i][j];
            k->rng_blocks(r, scratch, 1);
        }
    }
    memcpy(r->s, acc, sizeof acc);
    r->pos = SR_RNG_LANES;
    r->has_half = 0;
}
