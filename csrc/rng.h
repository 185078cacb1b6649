/*
 * The random-number step: xoshiro256++ (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 2021), written once. Internal header.
 * Every generator of the core steps through SR_XOSHIRO_STEP: the block generator of
 * each kernel path (kernels.c) and the rounding kernels that draw their words
 * straight from the lanes (round_body.h); rng.c buffers, seeds and jumps.
 */
#ifndef SRROUND_RNG_H
#define SRROUND_RNG_H
#include "srround.h"

static inline uint64_t sr_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Philox4x32-10 (Salmon et al., SC'11): multipliers and Weyl key increments. */
#define SR_PHILOX_M0 0xD2511F53u
#define SR_PHILOX_M1 0xCD9E8D57u
#define SR_PHILOX_W0 0x9E3779B9u
#define SR_PHILOX_W1 0xBB67AE85u
#define SR_PHILOX_BATCH 16   /* blocks per kernel step (kernels.c) */
/* One step of xoshiro256++ on state (s0, s1, s2, s3) of type VT: uint64_t for one
   lane, or a GCC/Clang vector of uint64_t for several lanes at once (shifts and xors
   act lane by lane). o gets the output. */
#define SR_XOSHIRO_STEP(VT, o, s0, s1, s2, s3)                                            \
    do {                                                                                  \
        VT t_ = (s0) + (s3);                                                              \
        (o) = ((t_ << 23) | (t_ >> 41)) + (s0);                                           \
        t_ = (s1) << 17;                                                                  \
        (s2) ^= (s0); (s3) ^= (s1); (s1) ^= (s2); (s0) ^= (s3);                           \
        (s2) ^= t_;                                                                       \
        (s3) = ((s3) << 45) | ((s3) >> 19);                                               \
    } while (0)
#endif
