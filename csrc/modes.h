/*
 * The rounding modes. Every kernel reduces rounding to one question: given |x|
 * between two neighbours of the format, RZ(|x|) and the next value away from
 * zero, does |x| go away from zero? The answer depends only on
 *   frac    the distance from RZ(|x|), in units of 2^-64 of the gap (truncated),
 *   sticky  whether anything nonzero lies below those 64 bits,
 *   odd     whether RZ(|x|) has an odd last significand bit,
 *   neg     the sign of x,
 *   rnd     a uniform random 64-bit word (stochastic modes only),
 *   rshift  64 - r for stochastic rounding with r random bits (0 for exact SR).
 */
#ifndef SRROUND_MODES_H
#define SRROUND_MODES_H
#include <stdlib.h>

#include "srround.h"

/* Every switch over an enum of the core lists all its values (-Wswitch-enum checks
   the list). No other value can arrive: sr_format_init and sr_context_init reject
   them. Were one to arrive anyway, the default stops the program rather than pick
   a mode or an operation silently. */
#define SR_UNREACHABLE() abort()

#define SR_HALF ((uint64_t)1 << 63)

/* Bitwise & and | rather than && and ||: the decisions are data-dependent coin
   flips, and branch-free code does not pay for mispredictions. */
static inline int sr_away_nearest(uint64_t frac, int sticky, int odd)
{
    return (frac > SR_HALF) | ((frac == SR_HALF) & (sticky | odd));
}
static inline int sr_away_nearest_away(uint64_t frac) { return frac >= SR_HALF; }
static inline int sr_inexact(uint64_t frac, int sticky) { return (frac != 0) | sticky; }
static inline int sr_away_up(uint64_t frac, int sticky, int neg) { return sr_inexact(frac, sticky) & !neg; }
static inline int sr_away_down(uint64_t frac, int sticky, int neg) { return sr_inexact(frac, sticky) & neg; }
static inline int sr_away_odd(uint64_t frac, int sticky, int odd) { return sr_inexact(frac, sticky) & !odd; }
/* P(away) = floor(f * 2^r) / 2^r: compare r random bits with the top r bits of frac. */
static inline int sr_away_stochastic(uint64_t frac, uint64_t rnd, int rshift)
{
    return (rnd >> rshift) < (frac >> rshift);
}
static inline int sr_away_stochastic_equal(uint64_t frac, int sticky, uint64_t rnd)
{
    return sr_inexact(frac, sticky) & (int)(rnd >> 63);
}

/* mode is a compile-time constant at every call site, so the switch folds away. */
static inline int sr_round_away(sr_rounding mode, uint64_t frac, int sticky, int odd, int neg,
                                uint64_t rnd, int rshift)
{
    switch (mode) {
    case SR_NEAREST: return sr_away_nearest(frac, sticky, odd);
    case SR_NEAREST_AWAY: return sr_away_nearest_away(frac);
    case SR_TOWARD_ZERO: return 0;
    case SR_UP: return sr_away_up(frac, sticky, neg);
    case SR_DOWN: return sr_away_down(frac, sticky, neg);
    case SR_ODD: return sr_away_odd(frac, sticky, odd);
    case SR_STOCHASTIC: return sr_away_stochastic(frac, rnd, rshift);
    case SR_STOCHASTIC_EQUAL: return sr_away_stochastic_equal(frac, sticky, rnd);
    default: SR_UNREACHABLE();
    }
}

/* Runs LOOP(MODE) with MODE a compile-time constant, for the mode held in `mode`:
   each rounding mode gets its own specialized copy of a hot loop. */
#define SR_DISPATCH_MODE(mode, LOOP)                                                      \
    switch (mode) {                                                                       \
    case SR_NEAREST: LOOP(SR_NEAREST) break;                                              \
    case SR_NEAREST_AWAY: LOOP(SR_NEAREST_AWAY) break;                                    \
    case SR_TOWARD_ZERO: LOOP(SR_TOWARD_ZERO) break;                                      \
    case SR_UP: LOOP(SR_UP) break;                                                        \
    case SR_DOWN: LOOP(SR_DOWN) break;                                                    \
    case SR_ODD: LOOP(SR_ODD) break;                                                      \
    case SR_STOCHASTIC: LOOP(SR_STOCHASTIC) break;                                        \
    case SR_STOCHASTIC_EQUAL: LOOP(SR_STOCHASTIC_EQUAL) break;                            \
    default: SR_UNREACHABLE();                                                            \
    }

/* Does a result beyond max become the policy's "infinity" (else +-max)? IEEE 754:
   modes that round outward for this sign overflow; the others stop at max. */
static inline int sr_overflows_outward(sr_rounding mode, int neg)
{
    switch (mode) {
    case SR_TOWARD_ZERO: case SR_ODD: return 0;
    case SR_UP: return !neg;
    case SR_DOWN: return neg;
    case SR_NEAREST: case SR_NEAREST_AWAY: case SR_STOCHASTIC: case SR_STOCHASTIC_EQUAL:
        return 1;
    default: SR_UNREACHABLE();
    }
}
#endif
