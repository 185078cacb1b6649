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
    r->kind = SR_STREAM_SEQUENTIAL;
    r->key[0] = r->key[1] = r->stream_id[0] = r->stream_id[1] = 0;
    r->next = 0;
}

void sr_rng_seed_counter(sr_rng *r, const uint64_t *words)
{
    memset(r, 0, sizeof *r);
    r->pos = SR_RNG_LANES;
    r->kind = SR_STREAM_COUNTER;
    r->key[0] = (uint32_t)words[0]; r->key[1] = (uint32_t)(words[0] >> 32);
    r->stream_id[0] = (uint32_t)words[1]; r->stream_id[1] = (uint32_t)(words[1] >> 32);
}

void sr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x[4] = {ctr[0], ctr[1], ctr[2], ctr[3]}, k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)SR_PHILOX_M0 * x[0], p1 = (uint64_t)SR_PHILOX_M1 * x[2];
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x[1] ^ k0, y2 = (uint32_t)(p0 >> 32) ^ x[3] ^ k1;
        x[1] = (uint32_t)p1; x[3] = (uint32_t)p0; x[0] = y0; x[2] = y2;
        k0 += SR_PHILOX_W0; k1 += SR_PHILOX_W1;
    }
    memcpy(out, x, sizeof x);
}

uint64_t sr_rng_half_position(const sr_rng *r) { return 2 * r->next - (uint64_t)r->has_half; }

void sr_rng_set_half_position(sr_rng *r, uint64_t h)
{
    r->next = h / 2 + (h & 1);
    r->has_half = (int)(h & 1);
}

/* Half-words h .. h + n - 1 of a counter stream into out. */
static void counter_halves(const sr_kernels *k, const sr_rng *r, uint64_t h, uint32_t *out,
                           size_t n)
{
    k->philox_halves(r, h, out, n);
}

static void counter_fill(const sr_kernels *k, sr_rng *r, uint64_t *out, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    counter_halves(k, r, 2 * r->next, (uint32_t *)out, 2 * n);   /* low half first */
#else
    uint32_t halves[256];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < 128 ? n - done : 128;
        counter_halves(k, r, 2 * (r->next + done), halves, 2 * m);
        for (size_t i = 0; i < m; i++)
            out[done + i] = halves[2 * i] | (uint64_t)halves[2 * i + 1] << 32;
        done += m;
    }
#endif
    r->next += n;
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
    if (r->kind == SR_STREAM_COUNTER) {
        counter_fill(k, r, out, n);
        return;
    }
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
    if (r->kind == SR_STREAM_COUNTER) {
        uint64_t h = sr_rng_half_position(r);
        counter_halves(k, r, h, out, n);
        sr_rng_set_half_position(r, h + n);
        return;
    }
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

void sr_rng_advance(sr_rng *r, uint64_t n)
{
    if (r->kind == SR_STREAM_COUNTER) {
        r->next += n;
        return;
    }
    /* as 2n half-words, so that a waiting half moves on as it does in a counter stream */
    uint64_t scratch[256];
    while (n > 0) {
        size_t m = n < 256 ? (size_t)n : 256;
        if (r->has_half) sr_rng_fill32(r, (uint32_t *)scratch, 2 * m);
        else sr_rng_fill(r, scratch, m);
        n -= m;
    }
}
