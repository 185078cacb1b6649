/* xoshiro256++ (Blackman & Vigna) helpers. Internal header. */
#ifndef SRROUND_RNG_H
#define SRROUND_RNG_H
#include "srround.h"

static inline uint64_t sr_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
#endif
