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

/* Every lane's state T^J s, for c(x) = x^J mod P (P below): the xor of the states
   T^i s at the set bits of c (256 steps); the buffered words and their position are
   untouched */
static void apply_jump_poly(const sr_kernels *k, sr_rng *r, const uint64_t c[4])
{
    uint64_t acc[4][SR_RNG_LANES] = {{0}};
    uint64_t scratch[SR_RNG_LANES];
    for (int i = 0; i < 256; i++) {
        if ((c[i / 64] >> (i % 64)) & 1)
            for (int w = 0; w < 4; w++)
                for (int j = 0; j < SR_RNG_LANES; j++) acc[w][j] ^= r->s[w][j];
        k->rng_blocks(r, scratch, 1);
    }
    memcpy(r->s, acc, sizeof acc);
}

void sr_rng_jump_k(const sr_kernels *k, sr_rng *r)
{
    apply_jump_poly(k, r, JUMP);
    r->pos = SR_RNG_LANES;
    r->has_half = 0;
}

/* ---- moving a sequential stream far ahead in O(log n) -------------------------
 * xoshiro256's step is a linear map T on 256-bit states over GF(2), with
 * characteristic polynomial P(x) = x^256 + XOSHIRO_POLY (bit i: the coefficient
 * of x^i; P is primitive, found by Berlekamp-Massey from the output, and x^(2^128)
 * mod P is JUMP, the jump polynomial above). Since P(T) = 0, T^J = sum c_i T^i where
 * c(x) = x^J mod P(x): J steps of every lane take 256 steps and the xor of the states
 * at the set bits of c, as xoshiro's own jump does (Blackman & Vigna, TOMS 2021;
 * Haramoto et al., "Efficient jump ahead for F2-linear random number generators",
 * INFORMS J. Computing 2008). */
static const uint64_t XOSHIRO_POLY[4] = {0x9d116f2bb0f0f001u, 0x0280002bcefd1a5eu,
                                         0x04b4edcf26259f85u, 0x0003c03c3f3ecb19u};

/* tab[b] = b(x) * P_low(x) for the polynomials b of degree < 8 (P_low =
   XOSHIRO_POLY, degree 241: the products have degree < 250, 4 words) */
static void poly_byte_table(uint64_t tab[256][4])
{
    memset(tab[0], 0, sizeof tab[0]);
    for (unsigned b = 1; b < 256; b++) {
        unsigned t = 0;   /* b = (b & (b - 1)) + x^t */
        while (!((b >> t) & 1)) t++;
        for (int k = 0; k < 4; k++) {
            uint64_t shifted = XOSHIRO_POLY[k] << t;
            if (t && k) shifted |= XOSHIRO_POLY[k - 1] >> (64 - t);
            tab[b][k] = tab[b & (b - 1)][k] ^ shifted;
        }
    }
}

/* c <- c^2 mod P (squaring in GF(2)[x] spreads the bits: bit i -> bit 2i) */
static void poly_square(uint64_t *c, const uint64_t tab[256][4])
{
    uint64_t r[9] = {0};
    for (int k = 0; k < 8; k++) {   /* 32 bits of c to 64 of r: the zeros in between */
        uint64_t v = (c[k / 2] >> (32 * (k % 2))) & 0xffffffffu;
        v = (v | v << 16) & 0x0000ffff0000ffffu;
        v = (v | v << 8) & 0x00ff00ff00ff00ffu;
        v = (v | v << 4) & 0x0f0f0f0f0f0f0f0fu;
        v = (v | v << 2) & 0x3333333333333333u;
        v = (v | v << 1) & 0x5555555555555555u;
        r[k] = v;
    }
    /* x^(256 + 8j) b(x) = x^(8j) b(x) P_low mod P, byte by byte from the top: each
       xor changes only bits below the byte it clears */
    for (int j = 31; j >= 0; j--) {
        unsigned pos = 256 + 8 * (unsigned)j, q = 8 * (unsigned)j / 64, s = 8 * (unsigned)j % 64;
        const uint64_t *t = tab[(r[pos / 64] >> (pos % 64)) & 0xff];
        r[pos / 64] &= ~((uint64_t)0xff << (pos % 64));
        for (int k = 0; k < 4; k++) {
            r[q + k] ^= t[k] << s;
            if (s) r[q + k + 1] ^= t[k] >> (64 - s);
        }
    }
    memcpy(c, r, 4 * sizeof *c);
}

/* c <- c * x mod P */
static void poly_times_x(uint64_t *c)
{
    uint64_t top = c[3] >> 63;
    for (int k = 3; k > 0; k--) c[k] = c[k] << 1 | c[k - 1] >> 63;
    c[0] <<= 1;
    for (int k = 0; k < 4; k++) c[k] ^= XOSHIRO_POLY[k] & ((uint64_t)0 - top);
}

void sr_rng_jump_steps_k(const sr_kernels *k, sr_rng *r, uint64_t steps)
{
    uint64_t tab[256][4], c[4] = {1, 0, 0, 0};   /* x^J mod P, J's bits from the top */
    poly_byte_table(tab);
    int top = 63;
    while (top > 0 && !((steps >> top) & 1)) top--;
    for (int b = top; b >= 0; b--) {
        poly_square(c, tab);
        if ((steps >> b) & 1) poly_times_x(c);
    }
    apply_jump_poly(k, r, c);
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
