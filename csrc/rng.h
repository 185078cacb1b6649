/* xoshiro256++ (Blackman & Vigna) helpers. Internal header. */
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
#endif
