/* xoshiro256++ (Blackman & Vigna), SR_RNG_LANES lanes stepped together.
   Internal header: the inline step is shared by rng.c and the tests. */
#ifndef SRROUND_RNG_H
#define SRROUND_RNG_H
#include "srround.h"

static inline uint64_t sr_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* One output of every lane: out[j] is lane j's next word. Written as a loop over
   lanes so that compilers vectorize it; the SIMD paths compute the same thing. */
static inline void sr_rng_block(sr_rng *r, uint64_t *out)
{
    for (int j = 0; j < SR_RNG_LANES; j++) {
        uint64_t s0 = r->s[0][j], s1 = r->s[1][j], s2 = r->s[2][j], s3 = r->s[3][j];
        out[j] = sr_rotl(s0 + s3, 23) + s0;
        uint64_t t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = sr_rotl(s3, 45);
        r->s[0][j] = s0; r->s[1][j] = s1; r->s[2][j] = s2; r->s[3][j] = s3;
    }
}
#endif
