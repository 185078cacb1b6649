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
