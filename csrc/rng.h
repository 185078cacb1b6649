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
/* One Philox round on vectors VT of 64-bit lanes, one block per lane: each state
   word in a lane's low half (the high half may hold garbage: MUL, the 32 x 32 ->
   64-bit product of the lanes' low halves, ignores it, and HI, which moves a lane's
   high half into its low half, may leave anything above), k0 and k1 the round's
   keys. The kernels' block generator (kernels.c) and the fused counter-stream
   rounding (round_body.h) both step through it. */
#define SR_PHILOX_ROUND(VT, MUL, HI, x0, x1, x2, x3, k0, k1, m0, m1)                      \
    do {                                                                                  \
        VT p0_ = MUL(x0, m0), p1_ = MUL(x2, m1);                                          \
        (x0) = HI(p1_) ^ (x1) ^ (k0); (x1) = p1_;                                         \
        (x2) = HI(p0_) ^ (x3) ^ (k1); (x3) = p0_;                                         \
    } while (0)
/* The last round, straight into the output words: w0 = x0 | x1 << 32 and w1 = x2 |
   x3 << 32 in each 64-bit lane, clean. PACK(p, x, k) makes the lane whose low half is
   hi(p) ^ x ^ k and whose high half is lo(p) (kernels.c: a dword swap and a masked
   xor per ISA, so the packing costs no more than the round's xors). */
#define SR_PHILOX_LAST_ROUND(VT, MUL, PACK, x0, x1, x2, x3, k0, k1, m0, m1, w0, w1)        \
    do {                                                                                  \
        VT p0_ = MUL(x0, m0), p1_ = MUL(x2, m1);                                          \
        (w0) = PACK(p1_, x1, k0); (w1) = PACK(p0_, x3, k1);                               \
    } while (0)
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
