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

/* The decision functions, one per mode of roundings.def, all with one signature
   (the arguments a mode does not need are ignored). Bitwise & and | rather than &&
   and ||: the decisions are data-dependent coin flips, and branch-free code does not
   pay for mispredictions. */
#define SR_AWAY_ARGS uint64_t frac, int sticky, int odd, int neg, uint64_t rnd, int rshift
static inline int sr_inexact(uint64_t frac, int sticky) { return (frac != 0) | sticky; }
static inline int sr_away_nearest(SR_AWAY_ARGS)
{
    (void)neg; (void)rnd; (void)rshift;
    return (frac > SR_HALF) | ((frac == SR_HALF) & (sticky | odd));
}
static inline int sr_away_nearest_away(SR_AWAY_ARGS)
{
    (void)sticky; (void)odd; (void)neg; (void)rnd; (void)rshift;
    return frac >= SR_HALF;
}
static inline int sr_away_toward_zero(SR_AWAY_ARGS)
{
    (void)frac; (void)sticky; (void)odd; (void)neg; (void)rnd; (void)rshift;
    return 0;
}
static inline int sr_away_up(SR_AWAY_ARGS)
{
    (void)odd; (void)rnd; (void)rshift;
    return sr_inexact(frac, sticky) & !neg;
}
static inline int sr_away_down(SR_AWAY_ARGS)
{
    (void)odd; (void)rnd; (void)rshift;
    return sr_inexact(frac, sticky) & neg;
}
static inline int sr_away_odd(SR_AWAY_ARGS)
{
    (void)neg; (void)rnd; (void)rshift;
    return sr_inexact(frac, sticky) & !odd;
}
/* P(away) = floor(f * 2^r) / 2^r: compare r random bits with the top r bits of frac. */
static inline int sr_away_stochastic(SR_AWAY_ARGS)
{
    (void)sticky; (void)odd; (void)neg;
    return (rnd >> rshift) < (frac >> rshift);
}
static inline int sr_away_stochastic_equal(SR_AWAY_ARGS)
{
    (void)odd; (void)neg; (void)rshift;
    return sr_inexact(frac, sticky) & (int)(rnd >> 63);
}
#undef SR_AWAY_ARGS

/* mode is a compile-time constant at every call site, so the switch folds away. */
static inline int sr_round_away(sr_rounding mode, uint64_t frac, int sticky, int odd, int neg,
                                uint64_t rnd, int rshift)
{
    switch (mode) {
#define SR_AWAY_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)            \
    case SR_##ID: return sr_away_##NAME(frac, sticky, odd, neg, rnd, rshift);
    SR_ROUNDINGS(SR_AWAY_CASE_, ~)
#undef SR_AWAY_CASE_
    default: SR_UNREACHABLE();
    }
}

/* Runs LOOP(MODE) with MODE a compile-time constant, for the mode held in `mode`:
   each rounding mode gets its own specialized copy of a hot loop. */
#define SR_DISPATCH_MODE(mode, LOOP)                                                      \
    switch (mode) {                                                                       \
        SR_ROUNDINGS(SR_DISPATCH_CASE_, LOOP)                                             \
    default: SR_UNREACHABLE();                                                            \
    }
#define SR_DISPATCH_CASE_(LOOP, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)      \
    case SR_##ID: LOOP(SR_##ID) break;

/* Does a result beyond max become the policy's "infinity" (else +-max)? IEEE 754:
   modes that round outward for this sign overflow; the others stop at max. */
static inline int sr_overflows_outward(sr_rounding mode, int neg)
{
    switch (mode) {
#define SR_OUTWARD_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)         \
    case SR_##ID: return (OUTWARD);
    SR_ROUNDINGS(SR_OUTWARD_CASE_, ~)
#undef SR_OUTWARD_CASE_
    default: SR_UNREACHABLE();
    }
}

/* Whether the mode draws random words (roundings.def); inline, so that it folds
   away in the specialized loops (sr_rounding_is_stochastic is the API's copy). */
static inline int sr_mode_is_stochastic(sr_rounding mode)
{
    switch (mode) {
#define SR_STOCHASTIC_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)       \
    case SR_##ID: return STOCHASTIC;
    SR_ROUNDINGS(SR_STOCHASTIC_CASE_, ~)
#undef SR_STOCHASTIC_CASE_
    default: return 0;
    }
}

/* Whether the mode's increment (roundings.def) depends only on the random word. */
static inline int sr_increment_is_fixed(sr_rounding mode)
{
    switch (mode) {
#define SR_FIXED_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)           \
    case SR_##ID: return FIXED;
    SR_ROUNDINGS(SR_FIXED_CASE_, ~)
#undef SR_FIXED_CASE_
    default: SR_UNREACHABLE();
    }
}
#endif
