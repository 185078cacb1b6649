/*
 * Generic rounding kernel body, included once per input type by round_impl.h
 * ("define, then include"). Expects:
 *   SR_T     the floating type (float, double)
 *   SR_U     the unsigned integer type of the same width
 *   SR_P     significand bits of SR_T, implicit bit included (24, 53)
 *   SR_BIAS  exponent bias of SR_T (127, 1023)
 *   SR_FN(x) name mangling, e.g. x##_f32
 *
 * All work happens on the magnitude's bit pattern, which is monotone in the value:
 * truncating low bits rounds toward zero, and adding one unit of the target
 * spacing steps to the next value away from zero (a carry into the exponent
 * field lands on the next binade exactly).
 */
#ifndef SR_VEC_BYTES
#define SR_VEC_BYTES 16        /* vector registers: 16 bytes unless the ISA says more */
#endif
#ifndef SR_VARIABLE_SHIFTS
#define SR_VARIABLE_SHIFTS 0   /* no per-lane shift counts (SSE2) unless the ISA has them */
#endif
#define SR_W ((int)(8 * sizeof(SR_U)))
#define SR_SIGN_BIT ((SR_U)1 << (SR_W - 1))
#define SR_INF_BITS ((((SR_U)1 << (SR_W - SR_P)) - 1) << (SR_P - 1)) /* exponent all ones */
#define SR_FRAC_MASK (((SR_U)1 << (SR_P - 1)) - 1)

/* sr_split for a in the format's normal range [2^emin, inf), where a fixed number
   of bits (shift) is discarded: the common case, with no data-dependent branch. */
static inline sr_split SR_FN(sr_split_normal)(SR_U a, const sr_type_consts *c)
{
    sr_split s;
    int d = c->shift;
    SR_U rem = a & (((SR_U)1 << d) - 1);
    s.trunc = a - rem;
    s.up = (uint64_t)s.trunc + ((SR_U)1 << d);
    s.frac = ((uint64_t)rem << (63 - d)) << 1;   /* two shifts: d may be 0 */
    s.sticky = 0;
    s.odd = (int)(((s.trunc >> d) ^ (SR_U)c->parity_offset) & 1);
    s.ulp_exp = (int)(a >> (SR_P - 1)) - SR_BIAS - (SR_P - 1) + d;
    return s;
}

/* The two neighbours of the finite magnitude a (a bit pattern) in the format, and
   where a lies between them. */
/* (inlined also into the exact path's big rounding routine, where it is hot) */
static SR_ALWAYS_INLINE sr_split SR_FN(sr_split)(SR_U a, const sr_type_consts *c)
{
    sr_split s;
    if (a >= c->normal_bits) return SR_FN(sr_split_normal)(a, c);
    int E = (int)(a >> (SR_P - 1));
    int e1 = E ? E : 1;                          /* subnormals share binade 1's quantum */
    int qe_in = e1 - SR_BIAS - (SR_P - 1);       /* a's value = m * 2^qe_in */
    if (a < c->gap_bits) {
        /* Below the format's smallest nonzero magnitude: neighbours 0 and the gap. */
        uint64_t m = E ? ((a & SR_FRAC_MASK) | ((SR_U)1 << (SR_P - 1))) : a;
        int dG = c->gap_exp - qe_in;             /* >= 1 unless a == 0 */
        s.trunc = 0;
        s.up = c->gap_bits;
        s.odd = 0;
        s.ulp_exp = c->gap_exp;
        if (m == 0) {                            /* zero: exact (dG may be 0, when the gap
                                                    is the input type's own) */
            s.frac = 0;
            s.sticky = 0;
        } else if (dG <= 64) {                   /* m < 2^dG: all bits fit */
            s.frac = m << (64 - dG);
            s.sticky = 0;
        } else if (dG < 128) {
            s.frac = m >> (dG - 64);
            s.sticky = (m & (((uint64_t)1 << (dG - 64)) - 1)) != 0;
        } else {
            s.frac = 0;
            s.sticky = m != 0;
        }
    } else {
        /* Discard d low bits: P - p in the normal range, more in the subnormal range. */
        int below = c->emin_biased - e1;
        int d = (below > 0 ? below : 0) + c->shift;  /* 0 <= d <= P - 1 */
        SR_U ulp = (SR_U)1 << d;
        SR_U rem = a & (ulp - 1);
        s.trunc = a - rem;
        s.up = (uint64_t)s.trunc + ulp;
        s.frac = ((uint64_t)rem << (63 - d)) << 1;   /* two shifts: d may be 0 */
        s.sticky = 0;
        /* trunc's significand integer is trunc >> d, except where the format keeps a
           single bit (d == P - 1): there it is 1 (odd) in the subnormal range, and
           for p == 1 "odd" follows the biased exponent (parity_offset). */
        if (d == SR_P - 1 && c->shift != SR_P - 1) s.odd = 1;
        else s.odd = (int)(((s.trunc >> d) ^ (SR_U)c->parity_offset) & 1);
        s.ulp_exp = qe_in + d;
    }
    return s;
}

/* Whether rounding the finite pattern `in` gave +-inf or NaN, by the overflow policy
   (SR_RAISE_OVERFLOW's condition; infinite and NaN inputs raise nothing). */
static inline SR_U SR_FN(sr_overflowed)(SR_U in, SR_U out)
{
    return (SR_U)(((in & ~SR_SIGN_BIT) < SR_INF_BITS) & ((out & ~SR_SIGN_BIT) >= SR_INF_BITS));
}

/* Picks the neighbour, then applies the overflow policy, and puts the sign back. */
static inline SR_U SR_FN(sr_finish)(sr_split s, SR_U sign, const sr_type_consts *c,
                                    sr_rounding mode, int rshift, uint64_t rnd)
{
    int neg = sign != 0;
    uint64_t r = sr_choose(sr_round_away(mode, s.frac, s.sticky, s.odd, neg, rnd, rshift), s);
    /* selects written as masks, so that the loops calling this stay branch-free */
    uint64_t outward = (uint64_t)0 - (uint64_t)sr_overflows_outward(mode, neg);
    uint64_t overflow = (c->inf_result & outward) | (c->max_bits & ~outward);
    uint64_t beyond = (uint64_t)0 - (uint64_t)(r > c->max_bits);
    return (SR_U)(sign | (overflow & beyond) | (r & ~beyond));
}

/* Rounds one value given as its bit pattern. mode is a constant at each call site. */
static inline SR_U SR_FN(sr_round_bits)(SR_U bits, const sr_type_consts *c, sr_rounding mode,
                                        int rshift, uint64_t rnd)
{
    SR_U sign = bits & SR_SIGN_BIT, a = bits ^ sign;
    if (a >= SR_INF_BITS) return a > SR_INF_BITS ? bits : (SR_U)(sign | c->inf_result);
    return SR_FN(sr_finish)(SR_FN(sr_split)(a, c), sign, c, mode, rshift, rnd);
}


/*
 * The contiguous normal-range fast path: the same results as sr_finish(sr_split_
 * normal(...)), computed the way hardware rounds: add an increment X to the
 * magnitude, then clear the d discarded bits; a carry out of them is "away from
 * zero". X is chosen per mode so that the carry happens exactly when the mode
 * says away (rem = the discarded bits, half = 2^(d-1), mask = 2^d - 1):
 *   nearest: half - 1 + (last kept bit)    nearest_away: half     toward_zero: 0
 *   up/down: mask for the sign that moves away, else 0;  odd: mask unless odd already
 *   stochastic, r random bits, k = min(r, d): (2^k - 1 - top k random bits) << (d - k),
 *     which carries iff those bits are below the top k bits of rem (sr_away_stochastic)
 *   stochastic_equal: mask if the top random bit is set.
 * It works in the input type's width, so binary32 data needs no 64-bit lanes, and is
 * short and branch-free, so compilers vectorize it. Needs d >= 1.
 */
typedef struct {
    SR_U mask, half, max_bits, ovf_pos, ovf_neg;
    int d, parity_offset, rnd_shift, x_shift;
    SR_U rnd_mask;
    int rnd_bits, emin_biased;   /* for sr_round_lanes_unbounded */
    SR_U one;                    /* 1, hidden from the optimizer (see SR_OPAQUE) */
} SR_FN(sr_normal_consts);

static inline SR_FN(sr_normal_consts) SR_FN(sr_normal_setup)(const sr_type_consts *c,
                                                             sr_rounding mode, int bits)
{
    SR_FN(sr_normal_consts) k;
    k.d = c->shift;
    k.mask = ((SR_U)1 << k.d) - 1;
    /* d == 0 (the format is the input type itself, e.g. binary64 reductions): the
       constants are never used, but must be computed without shifting by -1 */
    k.half = k.d ? (SR_U)1 << (k.d - 1) : 0;
    k.max_bits = (SR_U)c->max_bits;
    k.ovf_pos = (SR_U)(sr_overflows_outward(mode, 0) ? c->inf_result : c->max_bits);
    k.ovf_neg = (SR_U)(sr_overflows_outward(mode, 1) ? c->inf_result : c->max_bits);
    k.parity_offset = c->parity_offset;
    int used = bits < k.d ? bits : k.d;   /* random bits that can matter, >= 1 if d is */
    used = used > 0 ? used : 1;
    k.rnd_shift = SR_W - used;            /* keep the top `used` bits of the word */
    k.rnd_mask = (SR_U)(((SR_U)1 << (used - 1) << 1) - 1);
    k.x_shift = k.d > used ? k.d - used : 0;
    k.rnd_bits = bits;
    k.emin_biased = c->emin_biased;
    k.one = 1;
    SR_OPAQUE(k.one);
    return k;
}

/* The increment X that the mode adds to the pattern before its d discarded bits
   (mask = 2^d - 1, half = 2^(d-1)) are cleared (see above); odd: the last kept bit;
   the stochastic modes keep the top SR_W - rnd_shift bits of the word, rnd_mask
   their mask, and shift them up by x_shift to the top of the discarded bits. */
static inline SR_U SR_FN(sr_increment)(SR_U bits, SR_U odd, SR_U mask, SR_U half,
                                       SR_U rnd_shift, SR_U rnd_mask, SR_U x_shift,
                                       sr_rounding mode, uint64_t rnd)
{
    /* The increment goes straight onto the signed pattern: |x| + X stays below the
       sign bit, so the sign rides along (fewer steps in a reduction's chain). */
    SR_U neg = bits >> (SR_W - 1), negmask = (SR_U)0 - neg;
    SR_U rtop = (SR_U)(rnd >> (64 - SR_W));      /* the top SR_W random bits */
    (void)half; (void)odd; (void)negmask; (void)rtop;
    (void)rnd_shift; (void)rnd_mask; (void)x_shift;
    switch (mode) {
#define SR_INCREMENT_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)        \
    case SR_##ID: return (SR_U)(INCREMENT);
    SR_ROUNDINGS(SR_INCREMENT_CASE_, ~)
#undef SR_INCREMENT_CASE_
    default: SR_UNREACHABLE();
    }
}

/* The increment for a value in the format's normal range: d fixed. */
static inline SR_U SR_FN(sr_normal_increment)(SR_U bits, const SR_FN(sr_normal_consts) *k,
                                              sr_rounding mode, uint64_t rnd)
{
    SR_U odd = ((bits >> k->d) ^ (SR_U)k->parity_offset) & 1;
    return SR_FN(sr_increment)(bits, odd, k->mask, k->half, k->rnd_shift, k->rnd_mask,
                               k->x_shift, mode, rnd);
}

/* The rounded pattern on an unbounded exponent range (no overflow handling yet). */
static inline SR_U SR_FN(sr_round_normal_unbounded)(SR_U bits,
                                                    const SR_FN(sr_normal_consts) *k,
                                                    sr_rounding mode, uint64_t rnd)
{
    return (bits + SR_FN(sr_normal_increment)(bits, k, mode, rnd)) & ~k->mask;
}

/*
 * For x = bits + delta, delta a nonzero error of less than half an input ulp (the
 * low part of an exact sum or product): does rounding x give the same as rounding
 * bits? Yes, unless rem + X lands on 2^d - 1 or 2^d (the carry could go either way)
 * or rem == 0 (x may lie just below a value of the format): those take the exact path.
 */
static inline int SR_FN(sr_normal_decided)(SR_U bits, SR_U x, const SR_FN(sr_normal_consts) *k)
{
    SR_U rem = bits & k->mask;
    return rem != 0 && (SR_U)(rem + x - k->mask) > 1;
}

/* Applies the overflow policy to a rounded pattern r (a no-op up to max). */
static inline SR_U SR_FN(sr_normal_overflow)(SR_U r, const SR_FN(sr_normal_consts) *k)
{
    SR_U negmask = (SR_U)0 - (r >> (SR_W - 1));
    SR_U overflow = (negmask & (SR_SIGN_BIT | k->ovf_neg)) | (~negmask & k->ovf_pos);
    SR_U beyond = (SR_U)0 - (SR_U)((r & ~SR_SIGN_BIT) > k->max_bits);
    return r ^ ((r ^ overflow) & beyond);
}

/* Does the contiguous fast path leave b to the general routine? Yes outside zero and
   the magnitudes [2^emin, max], where no rounding can underflow or overflow (one
   unsigned comparison: lo = 2^emin's pattern, span = max's pattern + 1 - lo). */
static inline int SR_FN(sr_is_special)(SR_U b, SR_U lo, SR_U span)
{
    SR_U a = b & ~SR_SIGN_BIT;
    return (SR_U)(a - lo) >= span && a != 0;
}

/* For the contiguous fast paths: does x[0 .. n) hold values outside zero and the
   magnitudes [lo, max] (lo a pattern: 2^emin's, or the gap's), which need the
   general routine? One vectorized pass; most chunks stop here. */
static inline int SR_FN(sr_any_special)(const SR_U *x, sr_intp n, const sr_type_consts *c,
                                        SR_U lo)
{
    SR_U span = (SR_U)c->max_bits + 1 - lo, outside = 0;
    for (sr_intp i = 0; i < n; i++) outside |= SR_FN(sr_is_special)(x[i], lo, span);
    return outside != 0;
}

/* Those values and where they are, for a chunk that sr_any_special has flagged (its
   groups are tested again, so no second full pass). Returns their count, or -1 if
   there are too many for patching to pay (more than 1 in 8, or n > SR_CHUNK). */
static inline int SR_FN(sr_collect_special)(const SR_U *x, sr_intp n, const sr_type_consts *c,
                                            SR_U lo, short *special_at, SR_U *special_bits)
{
    SR_U span = (SR_U)c->max_bits + 1 - lo;
    if (n > SR_CHUNK) return SR_FN(sr_any_special)(x, n, c, lo) ? -1 : 0;
    /* collect them 16 at a time: most groups have none, and the test of a group
       vectorizes; the rare groups with one are scanned branch-free */
    int n_special = 0;
    for (sr_intp g = 0; g < n; g += 16) {
        sr_intp end = g + 16 < n ? g + 16 : n;
        SR_U any = 0;
        for (sr_intp i = g; i < end; i++) any |= SR_FN(sr_is_special)(x[i], lo, span);
        if (!any) continue;
        for (sr_intp i = g; i < end; i++) {
            special_at[n_special] = (short)i;
            special_bits[n_special] = x[i];
            n_special += SR_FN(sr_is_special)(x[i], lo, span);
        }
    }
    return 8 * n_special <= n ? n_special : -1;
}

/*
 * Below the format's smallest nonzero magnitude (the gap) the neighbours are 0 and
 * the gap, and every mode but stochastic chooses the gap exactly when the magnitude a
 * exceeds a threshold: half the gap for nearest (a tie goes to 0, the even one), just
 * below it for nearest_away, 0 where any inexact value goes away (odd, up for
 * positive and down for negative values, stochastic_equal with its top random bit
 * set), and never for the rest. Never is gap - 1, so that the threshold is below
 * every magnitude from the gap up. half_gap is the pattern of gap / 2.
 */
static inline SR_U SR_FN(sr_below_gap_threshold)(SR_U bits, SR_U gap_bits, SR_U half_gap,
                                                 sr_rounding mode, uint64_t rnd)
{
    SR_U negmask = (SR_U)0 - (bits >> (SR_W - 1)), never = gap_bits - 1;
    switch (mode) {
    case SR_NEAREST: return half_gap;
    case SR_NEAREST_AWAY: return half_gap - 1;
    case SR_TOWARD_ZERO: return never;
    case SR_UP: return never & negmask;
    case SR_DOWN: return never & ~negmask;
    case SR_ODD: return 0;
    case SR_STOCHASTIC_EQUAL: return never & (SR_U)((rnd >> 63) - 1);
    case SR_STOCHASTIC: return 0;   /* (not a threshold: unused, sr_round_contiguous) */
    default: SR_UNREACHABLE();
    }
}

/*
 * The same rounding with d chosen per element, for formats with subnormals whose gap
 * is a normal input value and p >= 2: exact for zero and the magnitudes [gap, max],
 * and for every mode but stochastic below the gap too. There the magnitude is
 * rounded, clamped up to the gap (which is exact), and the sign put back after; a
 * magnitude at or under sr_below_gap_threshold gives the signed zero instead.
 * (Stochastic rounds the pattern itself, its sign riding along, with d clamped
 * likewise, which is exact for zero too.) Clamping the magnitude to at most 2^emin
 * before taking its exponent gives d = shift + max(0, emin - E) within
 * [shift, P - 1] with no branch; OR-ing in the implicit bit makes the last kept bit of
 * the gap binade (d = P - 1) its odd significand 1. All in SR_U, the lanes' own
 * width, so that compilers vectorize it.
 */
static inline SR_U SR_FN(sr_round_lanes_unbounded)(SR_U bits, const SR_FN(sr_normal_consts) *k,
                                                   SR_U gap_bits, SR_U normal_bits,
                                                   int all_bits, int by_fp, SR_U half_gap,
                                                   sr_rounding mode, uint64_t rnd)
{
    SR_U sign = bits & SR_SIGN_BIT, magnitude = bits ^ sign;
    SR_U a = magnitude > gap_bits ? magnitude : gap_bits;
    SR_U e = (a < normal_bits ? a : normal_bits) >> (SR_P - 1);
    SR_U d = (SR_U)(k->d + k->emin_biased) - e;
    SR_U clear = ~(SR_U)0 << d, mask = ~clear;
    SR_U odd = ((a | ((SR_U)1 << (SR_P - 1))) >> d) & 1;
    /* the stochastic modes: the top min(bits, d) random bits, at the top of the d
       (all_bits, a constant at each call: bits >= P - 1 >= d, fewer steps) */
    SR_U used = all_bits || d < (SR_U)k->rnd_bits ? d : (SR_U)k->rnd_bits;
    SR_U x = SR_FN(sr_increment)(bits, odd, mask, (mask >> 1) + 1, SR_W - used,
                                 mask >> (d - used), d - used, mode, rnd);
    if (mode == SR_STOCHASTIC) return (bits + x) & clear;
    SR_U rounded = (a + x) & clear;
    if (mode == SR_NEAREST && by_fp) {
        /* The same in the hardware's arithmetic (round to nearest, ties to even, the
           entry points' environment: round_common.h): adding C = 2^(max(E, emin) +
           shift), whose ulp is a's quantum, rounds a to it exactly, as a < C; and
           subtracting C again is exact. Fewer steps than the integer form above. by_fp
           (a constant at each call): C is finite for every magnitude up to max. */
        SR_U c_bits = ((magnitude > normal_bits ? magnitude : normal_bits) & SR_INF_BITS) +
                      ((SR_U)k->d << (SR_P - 1));
        SR_T af, cf, rf;
        memcpy(&af, &a, sizeof af);
        memcpy(&cf, &c_bits, sizeof cf);
        rf = (af + cf) - cf;
        memcpy(&rounded, &rf, sizeof rounded);
    }
    SR_U threshold = SR_FN(sr_below_gap_threshold)(bits, gap_bits, half_gap, mode, rnd);
    return magnitude > threshold ? rounded | sign : sign;
}

/* Rounds the specials of a contiguous chunk (the values outside zero and [lo, max],
   which the branch-free loops do not round exactly) with the general routine, from
   x, the chunk's input. They are found a vector register of values at a time, with
   one lane test each (SR_ANY_LANE, kernels.c): most registers hold none. Returns the
   overflow flags. */
static SR_NOINLINE unsigned SR_FN(sr_patch_special)(const SR_U *x, SR_U *y, sr_intp n,
                                                    const sr_type_consts *c, SR_U lo,
                                                    sr_rounding mode, int rshift,
                                                    const SR_U *rnd)
{
    typedef SR_U vec __attribute__((vector_size(SR_VEC_BYTES)));
    enum { LANES = SR_VEC_BYTES / sizeof(SR_U) };
#ifdef SR_ANY_LANE
#define SR_PATCH_ANY(v) SR_ANY_LANE(v)
#else   /* (builds without kernels.c's per-ISA macros) */
#define SR_PATCH_ANY(v) (memcmp(&(v), &(vec){0}, sizeof(vec)) != 0)
#endif
    SR_U span = (SR_U)c->max_bits + 1 - lo, overflowed = 0;
#define SR_RND(MODE, i) ((MODE) >= SR_STOCHASTIC ? (uint64_t)rnd[i] << (64 - SR_W) : 0)
#define SR_PATCH_RANGE(MODE, from, to)                                                      \
    for (sr_intp i = (from); i < (to); i++)                                                 \
        if (SR_FN(sr_is_special)(x[i], lo, span)) {                                         \
            y[i] = SR_FN(sr_round_bits)(x[i], c, MODE, rshift, SR_RND(MODE, i));            \
            overflowed |= SR_FN(sr_overflowed)(x[i], y[i]);                                 \
        }
#define SR_PATCH_LOOP(MODE)                                                                 \
    {                                                                                       \
        sr_intp i0 = 0;                                                                     \
        for (; i0 + LANES <= n; i0 += LANES) {                                              \
            vec b, a;                                                                       \
            memcpy(&b, x + i0, sizeof b);                                                   \
            a = b & ~SR_SIGN_BIT;                                                           \
            vec special = (vec)((a - lo) >= span) & (vec)(a != 0);                          \
            if (SR_PATCH_ANY(special)) SR_PATCH_RANGE(MODE, i0, i0 + LANES)                  \
        }                                                                                   \
        SR_PATCH_RANGE(MODE, i0, n)                                                         \
    }
    SR_DISPATCH_MODE(mode, SR_PATCH_LOOP)
#undef SR_PATCH_LOOP
#undef SR_PATCH_RANGE
#undef SR_PATCH_ANY
#undef SR_RND
    return overflowed ? SR_RAISE_OVERFLOW : 0;
}

/* Does a contiguous chunk of this format take sr_round_lanes_unbounded? Only float32
   data: for binary64 lanes the per-lane shifts cost twice the fixed-d loop on data
   that stays in the normal range (f64 -> bfloat16 went from 1.3 to 2.6 ns per
   element at 1e7), which is binary64 data's common case. */
static inline int SR_FN(sr_takes_lanes)(const sr_type_consts *c)
{
    return SR_VARIABLE_SHIFTS && SR_P == 24 && c->gap_bits < c->normal_bits &&
           c->emin_biased > 1 && c->gap_bits >= (uint64_t)1 << (SR_P - 1) &&
           c->shift < SR_P - 1;
}

/*
 * Contiguous, aligned data: one branch-free pass per chunk of SR_CHUNK values that
 * rounds every value and tracks the largest magnitude (and where needed the smallest
 * nonzero one); only a chunk whose extremes leave [lo, max] (NaN, inf, beyond max, or
 * below lo) has those values redone by the general routine, from the chunk's input
 * (copied first where the output overlaps it). (Passes of 2048 values measured no
 * faster for e4m3, and slower for bfloat16, whose loop of at most SR_CHUNK values
 * the compiler unrolls.) The loop's formula, and lo, by format:
 *   emin that of the input type, with subnormals (bfloat16): d fixed, exact down to 0;
 *   other formats with subnormals, on ISAs with per-lane shifts: d per element
 *     (sr_round_lanes_unbounded), exact down to 0 but for stochastic (down to the gap);
 *   else: d fixed, exact down to 2^emin.
 */
static inline unsigned SR_FN(sr_round_contiguous)(const SR_U *x, SR_U *y, sr_intp n,
                                                  const sr_type_consts *c, sr_rounding mode,
                                                  int rshift, const SR_U *rnd)
{
    SR_FN(sr_normal_consts) k = SR_FN(sr_normal_setup)(c, mode, 64 - rshift);
    SR_U gap_bits = (SR_U)c->gap_bits, normal_bits = (SR_U)c->normal_bits;
    int subnormals = gap_bits < normal_bits, lanes = SR_FN(sr_takes_lanes)(c);
    int below = lanes && mode != SR_STOCHASTIC;   /* the lanes round below the gap too */
    /* gap / 2: the gap is a power of two, normal in SR_T (sr_takes_lanes) */
    SR_U half_gap = gap_bits >> (SR_P - 1) > 1 ? gap_bits - ((SR_U)1 << (SR_P - 1))
                                                : gap_bits >> 1;
    SR_U lo = below ? 0 : lanes ? gap_bits : subnormals && c->emin_biased == 1 ? 0 : normal_bits;
    SR_U lo_below = lo > 0 ? lo - 1 : 0;   /* a - 1 < lo_below: a nonzero a below lo */
    int all_bits = k.rnd_bits >= SR_P - 1;
    SR_U max_bits = k.max_bits;
    /* sr_round_lanes_unbounded's nearest by the hardware: C's biased exponent, at most
       max's plus shift, below the all-ones one */
    int by_fp = (int)(max_bits >> (SR_P - 1)) + k.d < (int)(SR_INF_BITS >> (SR_P - 1));
    unsigned raised = 0;
    SR_U copy[SR_CHUNK];
    for (sr_intp i0 = 0; i0 < n; i0 += SR_CHUNK) {
        sr_intp m = n - i0 < SR_CHUNK ? n - i0 : SR_CHUNK;
        const SR_U *xc = x + i0;
        SR_U *yc = y + i0;
        const SR_U *rc = rnd ? rnd + i0 : NULL;
        if ((uintptr_t)yc < (uintptr_t)(xc + m) && (uintptr_t)xc < (uintptr_t)(yc + m)) {
            memcpy(copy, xc, (size_t)m * sizeof(SR_U));   /* in place: keep the input */
            xc = copy;
        }
        SR_U top = 0, bottom = ~(SR_U)0;   /* max of a, min of a - 1 (0 wraps to the top) */
#define SR_RND(MODE, i) ((MODE) >= SR_STOCHASTIC ? (uint64_t)rc[i] << (64 - SR_W) : 0)
/* one loop per formula; BOTTOM (a constant): also track the smallest magnitude */
#define SR_TRACKED_LOOP(BOTTOM, ROUNDED)                                                    \
            for (sr_intp i = 0; i < m; i++) {                                               \
                SR_U b = xc[i], a = b & ~SR_SIGN_BIT;                                       \
                top = top > a ? top : a;                                                    \
                if (BOTTOM) bottom = bottom < a - 1 ? bottom : a - 1;                       \
                yc[i] = (ROUNDED);                                                          \
            }
#define SR_LANES(ALL_BITS, BY_FP, MODE)                                                     \
    SR_FN(sr_round_lanes_unbounded)(b, &k, gap_bits, normal_bits, ALL_BITS, BY_FP, half_gap, \
                                    MODE, SR_RND(MODE, i))
#define SR_CONTIGUOUS_LOOP(MODE)                                                            \
        if (lanes && (MODE) == SR_NEAREST && by_fp)                                         \
            SR_TRACKED_LOOP(0, SR_LANES(1, 1, MODE))                                        \
        else if (lanes && (MODE) != SR_STOCHASTIC)                                          \
            SR_TRACKED_LOOP(0, SR_LANES(1, 0, MODE))                                        \
        else if (lanes && all_bits)                                                         \
            SR_TRACKED_LOOP(1, SR_LANES(1, 0, MODE))                                        \
        else if (lanes)                                                                     \
            SR_TRACKED_LOOP(1, SR_LANES(0, 0, MODE))                                        \
        else if (lo_below)                                                                  \
            SR_TRACKED_LOOP(1, SR_FN(sr_round_normal_unbounded)(b, &k, MODE, SR_RND(MODE, i))) \
        else   /* exact down to zero: only the top needs watching */                        \
            SR_TRACKED_LOOP(0, SR_FN(sr_round_normal_unbounded)(b, &k, MODE, SR_RND(MODE, i)))
        SR_DISPATCH_MODE(mode, SR_CONTIGUOUS_LOOP)
#undef SR_CONTIGUOUS_LOOP
#undef SR_LANES
#undef SR_TRACKED_LOOP
#undef SR_RND
        if (top > max_bits || bottom < lo_below)
            raised |= SR_FN(sr_patch_special)(xc, yc, m, c, lo, mode, rshift, rc);
    }
    return raised;
}

/* Rounds n strided values; for the stochastic modes rnd holds n random words as wide
   as SR_T (rshift >= 64 - SR_W), which enter the 64-bit decisions as their top bits.
   Returns the flags to raise (SR_RAISE_OVERFLOW or 0). */
static inline unsigned SR_FN(sr_round_strided)(const char *in, sr_intp is, char *out, sr_intp os,
                                           sr_intp n, const sr_type_consts *c,
                                           sr_rounding mode, int rshift, const void *rnd_words)
{
    const SR_U *rnd = rnd_words;
    /* only the general routine can overflow: the fast loops see magnitudes <= max */
    if (c->shift > 0 && is == sizeof(SR_U) && os == sizeof(SR_U) &&
        (uintptr_t)in % sizeof(SR_U) == 0 && (uintptr_t)out % sizeof(SR_U) == 0)
        return SR_FN(sr_round_contiguous)((const SR_U *)(const void *)in,
                                          (SR_U *)(void *)out, n, c, mode, rshift, rnd);
    SR_U overflowed = 0;
#define SR_RND(MODE, i) ((MODE) >= SR_STOCHASTIC ? (uint64_t)rnd[i] << (64 - SR_W) : 0)
#define SR_MODE_LOOP(MODE)                                                                  \
    for (sr_intp i = 0; i < n; i++) {                                                       \
        SR_U b, r;                                                                          \
        memcpy(&b, in + i * is, sizeof b);                                                  \
        r = SR_FN(sr_round_bits)(b, c, MODE, rshift, SR_RND(MODE, i));                      \
        overflowed |= SR_FN(sr_overflowed)(b, r);                                           \
        memcpy(out + i * os, &r, sizeof r);                                                 \
    }
    SR_DISPATCH_MODE(mode, SR_MODE_LOOP)
#undef SR_MODE_LOOP
#undef SR_RND
    return overflowed ? SR_RAISE_OVERFLOW : 0;
}

#ifdef SR_HAVE_INLINE_RNG
/*
 * Stochastic rounding with the generator inlined: the random words are made in
 * registers, exactly the words the values would draw through sr_rng_fill /
 * sr_rng_fill32, and used there: the arithmetic of sr_round_normal_unbounded on
 * vectors of SR_VEC_BYTES (the ISA's register width, so that a generator's state
 * stays in registers). Two generators: the sequential stream's lanes
 * (sr_round_inline) and a counter stream's Philox blocks (sr_round_counter).
 */

typedef uint64_t SR_FN(sr_lanes) __attribute__((vector_size(SR_VEC_BYTES)));
typedef SR_U SR_FN(sr_vec) __attribute__((vector_size(SR_VEC_BYTES)));

/* The values of in[0 .. n) that the vector loops leave to the general routine, as
   sr_collect_special returns them; -1 (give up) if there are too many, or if some
   lie in the subnormal range and the ISA has sr_round_strided's per-element loop
   for them. */
static inline int SR_FN(sr_inline_specials)(const char *in, sr_intp n, const sr_type_consts *c,
                                            short *special_at, SR_U *special_bits)
{
    const SR_U *x = (const SR_U *)(const void *)in;
    if (!SR_FN(sr_any_special)(x, n, c, (SR_U)c->normal_bits)) return 0;
    if (SR_VARIABLE_SHIFTS && c->gap_bits < c->normal_bits) return -1;
    return SR_FN(sr_collect_special)(x, n, c, (SR_U)c->normal_bits, special_at, special_bits);
}

/* Redoes those values with the general routine and their own words. */
static inline void SR_FN(sr_inline_patch)(char *out, int n_special, const short *special_at,
                                          const SR_U *special_bits, const SR_U *words,
                                          const sr_type_consts *c, sr_rounding mode,
                                          int rshift, unsigned *raised)
{
    SR_U overflowed = 0;
    for (int j = 0; j < n_special; j++) {
        SR_U y = SR_FN(sr_round_bits)(special_bits[j], c, mode, rshift,
                                      (uint64_t)words[special_at[j]] << (64 - SR_W));
        overflowed |= SR_FN(sr_overflowed)(special_bits[j], y);
        memcpy(out + special_at[j] * sizeof(SR_U), &y, sizeof y);
    }
    if (overflowed) *raised |= SR_RAISE_OVERFLOW;
}

/* The rounding loop over in[0 .. n) (n a multiple of STEP_BYTES / sizeof(SR_U)):
   GENERATE(wv) makes the next STEP_BYTES of words in the vectors wv[], which round
   the values under INCREMENT (a function of the word vector w). KEEP: also keep the
   words, for the special values patched afterwards. STOP(i): leave the loop before
   the step at value i (done = i), nothing of it drawn or written. */
#define SR_WORDS_LOOP(STEP_BYTES, GENERATE, STOP, INCREMENT, KEEP)                          \
    for (sr_intp i = 0; i < n; i += (STEP_BYTES) / sizeof(SR_U)) {                          \
        if (STOP(i)) {                                                                      \
            done = i;                                                                       \
            break;                                                                          \
        }                                                                                   \
        SR_FN(sr_vec) wv[(STEP_BYTES) / SR_VEC_BYTES];                                      \
        GENERATE(wv);                                                                       \
        for (int h = 0; h < (STEP_BYTES) / SR_VEC_BYTES; h++) {                             \
            SR_FN(sr_vec) w = wv[h], b, y;                                                  \
            size_t at = i * sizeof(SR_U) + h * SR_VEC_BYTES;                                \
            if (KEEP) memcpy((char *)words + at, &w, sizeof w);                             \
            memcpy(&b, in + at, sizeof b);                                                  \
            y = (b + (INCREMENT)) & clear;                                                  \
            memcpy(out + at, &y, sizeof y);                                                 \
        }                                                                                   \
    }
/* The two stochastic modes' increments (roundings.def) on vectors of words w; for
   another mode the function returns 0 (the general path). done: the values rounded. */
#define SR_WORDS_LOOPS(STEP_BYTES, GENERATE, STOP)                                          \
    SR_U clear = ~k.mask;                                                                   \
    sr_intp done = n;                                                                       \
    if (mode == SR_STOCHASTIC) {                                                            \
        /* (~(w >> rnd_shift) & rnd_mask) << x_shift, in two steps: rnd_shift >= x_shift */ \
        SR_U rnd_top = k.rnd_mask << k.rnd_shift;                                           \
        __typeof__(SR_LANE_COUNT(0)) rnd_down = SR_LANE_COUNT(k.rnd_shift - k.x_shift);     \
        if (n_special) {                                                                    \
            SR_WORDS_LOOP(STEP_BYTES, GENERATE, STOP, (~w & rnd_top) >> rnd_down, 1)        \
        } else {                                                                            \
            SR_WORDS_LOOP(STEP_BYTES, GENERATE, STOP, (~w & rnd_top) >> rnd_down, 0)        \
        }                                                                                   \
    } else if (mode == SR_STOCHASTIC_EQUAL) {                                               \
        SR_U mask = k.mask;                                                                 \
        if (n_special) {                                                                    \
            SR_WORDS_LOOP(STEP_BYTES, GENERATE, STOP, mask & ((SR_U)0 - (w >> (SR_W - 1))), 1) \
        } else {                                                                            \
            SR_WORDS_LOOP(STEP_BYTES, GENERATE, STOP, mask & ((SR_U)0 - (w >> (SR_W - 1))), 0) \
        }                                                                                   \
    } else {                                                                                \
        return 0;                                                                           \
    }
#define SR_NEVER_STOP(i) 0
/* A shift count for every lane alike: a vector where the ISA shifts lanes by their own
   counts (one instruction, where a count in a register costs two on AVX-512), hidden
   from the compiler, which would otherwise see that the lanes agree; else an int. */
#if SR_VARIABLE_SHIFTS
static inline SR_FN(sr_vec) SR_FN(sr_lane_counts)(int s)
{
    SR_FN(sr_vec) counts = {0};
    counts += (SR_U)s;
    __asm__("" : "+v"(counts));
    return counts;
}
#define SR_LANE_COUNT(s) SR_FN(sr_lane_counts)(s)
#else
#define SR_LANE_COUNT(s) (s)
#endif

/* The sequential stream (see sr_round_inline_fn): one step of the 8 lanes yields 64
   bytes of words, 64 / SR_VEC_BYTES vectors. In chunks of SR_CHUNK values, the lanes'
   state in registers throughout: a chunk whose words the general routine needs (for
   too many values, or for the formats that take the per-lane loop) draws them first
   and rounds with sr_round_contiguous, which gives what the fallback of drawing them
   through the buffer would. */
#define SR_XOSHIRO_WORDS(wv)                                                                \
    for (int h = 0; h < NV; h++) {                                                          \
        SR_FN(sr_lanes) o;                                                                  \
        SR_XOSHIRO_STEP(SR_FN(sr_lanes), o, s0[h], s1[h], s2[h], s3[h]);                    \
        memcpy(&(wv)[h], &o, sizeof o);                                                     \
    }
#ifdef SR_ANY_LANE
/* Lane-wise unsigned max and min of vectors (kernels.c's SR_MAX_U32 etc. where the
   ISA has them), and whether some lane of a is above limit. */
static inline SR_FN(sr_vec) SR_FN(sr_lanes_max)(SR_FN(sr_vec) a, SR_FN(sr_vec) b)
{
#if SR_P == 24 && defined(SR_MAX_U32)
    return (SR_FN(sr_vec))SR_MAX_U32(a, b);
#elif SR_P == 53 && defined(SR_MAX_U64)
    return (SR_FN(sr_vec))SR_MAX_U64(a, b);
#else
    SR_FN(sr_vec) greater = (SR_FN(sr_vec))(a > b);
    return (a & greater) | (b & ~greater);
#endif
}
static inline SR_FN(sr_vec) SR_FN(sr_lanes_min)(SR_FN(sr_vec) a, SR_FN(sr_vec) b)
{
#if SR_P == 24 && defined(SR_MIN_U32)
    return (SR_FN(sr_vec))SR_MIN_U32(a, b);
#elif SR_P == 53 && defined(SR_MIN_U64)
    return (SR_FN(sr_vec))SR_MIN_U64(a, b);
#else
    SR_FN(sr_vec) less = (SR_FN(sr_vec))(a < b);
    return (a & less) | (b & ~less);
#endif
}
/* Is some lane of a above limit (unsigned)? A compare into a mask register where the
   ISA has one (SR_ANY_GREATER_U32 etc.), else a compare and a lane test. */
static inline int SR_FN(sr_any_greater)(SR_FN(sr_vec) a, SR_U limit)
{
#if SR_P == 24 && defined(SR_ANY_GREATER_U32)
    return SR_ANY_GREATER_U32(a, limit);
#elif SR_P == 53 && defined(SR_ANY_GREATER_U64)
    return SR_ANY_GREATER_U64(a, limit);
#else
    return SR_ANY_LANE((SR_FN(sr_vec))(a > limit));
#endif
}

/* Each lane's entry of a table of 32 values of SR_U (s_table's first 32), indexed by
   the low 5 bits of its lane of idx: one permute of two registers where kernels.c
   has SR_LOOKUP32_U32 (AVX-512, float32 lanes); elsewhere unused. */
static inline int SR_FN(sr_has_lookup32)(void)
{
#if defined(SR_LOOKUP32_U32) && SR_P == 24 && SR_VEC_BYTES == 64
    return 1;
#else
    return 0;
#endif
}
static inline SR_FN(sr_vec) SR_FN(sr_lookup32)(const SR_FN(sr_vec) *table, SR_FN(sr_vec) idx)
{
#if defined(SR_LOOKUP32_U32) && SR_P == 24 && SR_VEC_BYTES == 64
    return (SR_FN(sr_vec))SR_LOOKUP32_U32(table[0], table[1], idx);
#else
    (void)idx;
    return table[0];
#endif
}

/*
 * Stochastic rounding of the chunk's nonzero values below the gap (the neighbours 0
 * and the gap), in vectors, for a chunk whose only specials they are: the general
 * routine's decision (sr_split, sr_away_stochastic) compares the word's top r bits
 * (r = 64 - rshift <= SR_W) with floor(a / gap * 2^r), the top r bits of the exact
 * fraction a / gap; a * 2^(r - gap_exp) in SR_T is exact (a power of two, >= 1, and
 * below 2^r), so its conversion, which truncates, is that floor. scale = 2^(r -
 * gap_exp). n: a multiple of the lanes of a vector.
 */
static SR_NOINLINE void SR_FN(sr_patch_below_gap_stochastic)(const char *x, char *y, sr_intp n,
                                                             const SR_U *words, SR_U gap_bits,
                                                             SR_T scale, int r)
{
    typedef SR_FN(sr_vec) vec;
    typedef SR_T vec_t __attribute__((vector_size(SR_VEC_BYTES)));
    for (size_t at = 0; at < (size_t)n * sizeof(SR_U); at += SR_VEC_BYTES) {
        vec b, a, below, w, rounded, fraction, away;
        vec_t magnitude;
        memcpy(&b, x + at, sizeof b);
        a = b & ~SR_SIGN_BIT;
        below = (vec)(a - 1 < gap_bits - 1);
        if (!SR_ANY_LANE(below)) continue;
        memcpy(&magnitude, &a, sizeof magnitude);
        fraction = __builtin_convertvector(magnitude * scale, vec);
        memcpy(&w, (const char *)words + at, sizeof w);
        away = (vec)(w >> (SR_W - r) < fraction);
        memcpy(&rounded, y + at, sizeof rounded);
        rounded = (rounded & ~below) | (below & ((b & SR_SIGN_BIT) | (away & gap_bits)));
        memcpy(y + at, &rounded, sizeof rounded);
    }
}

/*
 * Stochastic rounding by the per-lane formula (sr_round_lanes_unbounded, mode
 * stochastic, all random bits used: rnd_bits >= P - 1 >= d), each step's words made
 * in the loop that rounds with them, for the whole call: no words buffer read back,
 * no call and set-up per chunk, and the extremes that decide a chunk's patch kept in
 * vector registers (one lane test per chunk instead of two reductions). The same
 * results as sr_round_contiguous on words drawn first: the words are still kept, for
 * the chunk's values that sr_patch_special redoes (those below the gap, and beyond
 * max, inf, NaN). x = (~w >> (SR_W - d)) is the increment (~(w >> rnd_shift) &
 * rnd_mask) << x_shift with used = d: the top d bits of the word, complemented.
 */
static inline void SR_FN(sr_round_lanes_inline)(const char *in, char *out, sr_intp n,
                                                const sr_type_consts *c, int rshift,
                                                SR_FN(sr_lanes) *s0, SR_FN(sr_lanes) *s1,
                                                SR_FN(sr_lanes) *s2, SR_FN(sr_lanes) *s3,
                                                unsigned *raised)
{
    enum { NV = 64 / SR_VEC_BYTES, STEP = 64 / sizeof(SR_U) };
    typedef SR_FN(sr_vec) vec;
    SR_U words[SR_CHUNK], copy[SR_CHUNK];
    const SR_U gap_bits = (SR_U)c->gap_bits, normal_bits = (SR_U)c->normal_bits;
    const SR_U max_bits = (SR_U)c->max_bits;
    /* d = d_of_e - e and the word's shift SR_W - d = e + s_of_e, e the clamped
       magnitude's biased exponent (sr_round_lanes_unbounded) */
    const SR_U d_of_e = (SR_U)(c->shift + c->emin_biased), s_of_e = (SR_U)SR_W - d_of_e;
    const vec ones = ~(vec){0}, gap_v = (vec){0} + gap_bits, normal_v = (vec){0} + normal_bits;
    /* s by the biased exponent e, for the e of [gap, max] (32 at most: the table's
       index is e's low 5 bits); any other e gives a value that is redone, or zero,
       which every shift of 1 to SR_W - 1 rounds to itself */
    vec s_table[32 / (SR_VEC_BYTES / sizeof(SR_U)) + 1];
    int gap_e = (int)(gap_bits >> (SR_P - 1)), normal_e = (int)(normal_bits >> (SR_P - 1));
    int by_table = SR_FN(sr_has_lookup32)() && (int)(max_bits >> (SR_P - 1)) - gap_e < 32;
    /* values below the gap by sr_patch_below_gap_stochastic: where 2^(r - gap_exp)
       is >= 1 and a finite SR_T */
    int scale_exp = 64 - rshift - c->gap_exp;
    int below_in_vectors = scale_exp >= 0 && scale_exp < SR_BIAS;
    SR_T below_scale = below_in_vectors ? (SR_T)ldexp(1.0, scale_exp) : 0;
    for (int e = gap_e; by_table && e < gap_e + 32; e++) {
        SR_U s = s_of_e + (SR_U)(e < normal_e ? e : normal_e);
        memcpy((char *)s_table + (size_t)(e % 32) * sizeof(SR_U), &s, sizeof s);
    }
    for (sr_intp i0 = 0; i0 < n; i0 += SR_CHUNK) {
        sr_intp m = n - i0 < SR_CHUNK ? n - i0 : SR_CHUNK;
        const char *xc = in + i0 * sizeof(SR_U);
        char *yc = out + i0 * sizeof(SR_U);
        size_t bytes = (size_t)m * sizeof(SR_U);
        if ((uintptr_t)yc < (uintptr_t)xc + bytes && (uintptr_t)xc < (uintptr_t)yc + bytes) {
            memcpy(copy, xc, bytes);   /* in place: keep the input for the patch */
            xc = (const char *)copy;
        }
        vec top = {0}, bottom = ones;   /* max of a, min of a - 1 (0 wraps to the top) */
        /* the word's shift s = SR_W - d, from the magnitude clamped to [gap, 2^emin]
           or (BY_TABLE, a constant) looked up by the exponent's low 5 bits */
#define SR_LANES_INLINE_LOOP(BY_TABLE)                                                      \
        for (sr_intp i = 0; i < m; i += STEP) {                                             \
            vec wv[NV];                                                                     \
            SR_XOSHIRO_WORDS(wv)                                                            \
            memcpy((char *)words + i * sizeof(SR_U), wv, sizeof wv);                        \
            for (int h = 0; h < NV; h++) {                                                  \
                size_t at = i * sizeof(SR_U) + h * SR_VEC_BYTES;                            \
                vec b, a, s, y;                                                             \
                memcpy(&b, xc + at, sizeof b);                                              \
                a = b & ~SR_SIGN_BIT;                                                       \
                top = SR_FN(sr_lanes_max)(top, a);                                          \
                bottom = SR_FN(sr_lanes_min)(bottom, a - 1);                                \
                if (BY_TABLE)                                                               \
                    s = SR_FN(sr_lookup32)(s_table, b >> (SR_P - 1));                       \
                else                                                                        \
                    s = (SR_FN(sr_lanes_min)(SR_FN(sr_lanes_max)(a, gap_v), normal_v) >>    \
                         (SR_P - 1)) + s_of_e;                                              \
                /* (b + x) & clear, clear = ~(all ones >> s): one and-not */                \
                y = (b + (~wv[h] >> s)) & ~(ones >> s);                                     \
                memcpy(yc + at, &y, sizeof y);                                              \
            }                                                                               \
        }
        if (by_table) {
            SR_LANES_INLINE_LOOP(1)
        } else {
            SR_LANES_INLINE_LOOP(0)
        }
#undef SR_LANES_INLINE_LOOP
        if (SR_FN(sr_any_greater)(top, max_bits) ||
            (!below_in_vectors && SR_ANY_LANE((vec)(bottom < gap_bits - 1))))
            *raised |= SR_FN(sr_patch_special)((const SR_U *)(const void *)xc,
                                               (SR_U *)(void *)yc, m, c, gap_bits,
                                               SR_STOCHASTIC, rshift, words);
        else if (below_in_vectors && SR_ANY_LANE((vec)(bottom < gap_bits - 1)))
            SR_FN(sr_patch_below_gap_stochastic)(xc, yc, m, words, gap_bits, below_scale,
                                                 64 - rshift);
    }
}
#define SR_HAVE_LANES_INLINE 1
#endif

/* (returns 1; SR_WORDS_LOOPS returns 0 for a mode that draws no words) */
static SR_ALWAYS_INLINE int SR_FN(sr_round_inline_chunk)(const char *in, char *out, sr_intp n,
                                                         const sr_type_consts *c,
                                                         sr_rounding mode, int rshift,
                                                         int lanes, SR_FN(sr_lanes) *s0,
                                                         SR_FN(sr_lanes) *s1,
                                                         SR_FN(sr_lanes) *s2,
                                                         SR_FN(sr_lanes) *s3,
                                                         unsigned *raised)
{
    enum { NV = 64 / SR_VEC_BYTES, STEP = 64 / sizeof(SR_U) };
    short special_at[SR_CHUNK];
    SR_U special_bits[SR_CHUNK], words[SR_CHUNK];
    int n_special = lanes ? -1 : SR_FN(sr_inline_specials)(in, n, c, special_at, special_bits);
    if (n_special < 0) {
        for (sr_intp i = 0; i < n; i += STEP) {
            SR_FN(sr_vec) wv[NV];
            SR_XOSHIRO_WORDS(wv)
            memcpy((char *)words + i * sizeof(SR_U), wv, sizeof wv);
        }
        *raised |= SR_FN(sr_round_contiguous)((const SR_U *)(const void *)in,
                                              (SR_U *)(void *)out, n, c, mode, rshift, words);
        return 1;
    }
    SR_FN(sr_normal_consts) k = SR_FN(sr_normal_setup)(c, mode, 64 - rshift);
    SR_WORDS_LOOPS(64, SR_XOSHIRO_WORDS, SR_NEVER_STOP)
    (void)done;
    SR_FN(sr_inline_patch)(out, n_special, special_at, special_bits, words, c, mode, rshift,
                           raised);
    return 1;
}

static inline int SR_FN(sr_round_inline)(const char *in, char *out, sr_intp n,
                                         const sr_type_consts *c, sr_rounding mode,
                                         int rshift, sr_rng *r, unsigned *raised)
{
    enum { NV = 64 / SR_VEC_BYTES, STEP = 64 / sizeof(SR_U) };
    if (c->shift == 0 || n % STEP != 0 || !sr_mode_is_stochastic(mode)) return 0;
    int lanes = SR_FN(sr_takes_lanes)(c);
    SR_FN(sr_lanes) s0[NV], s1[NV], s2[NV], s3[NV];
    memcpy(s0, r->s[0], sizeof s0); memcpy(s1, r->s[1], sizeof s1);
    memcpy(s2, r->s[2], sizeof s2); memcpy(s3, r->s[3], sizeof s3);
#ifdef SR_HAVE_LANES_INLINE
    if (lanes && mode == SR_STOCHASTIC && 64 - rshift >= SR_P - 1)
        SR_FN(sr_round_lanes_inline)(in, out, n, c, rshift, s0, s1, s2, s3, raised);
    else
#endif
    for (sr_intp i = 0; i < n; i += SR_CHUNK)   /* SR_CHUNK: a multiple of STEP */
        SR_FN(sr_round_inline_chunk)(in + i * sizeof(SR_U), out + i * sizeof(SR_U),
                                     n - i < SR_CHUNK ? n - i : SR_CHUNK, c, mode, rshift,
                                     lanes, s0, s1, s2, s3, raised);
    memcpy(r->s[0], s0, sizeof s0); memcpy(r->s[1], s1, sizeof s1);
    memcpy(r->s[2], s2, sizeof s2); memcpy(r->s[3], s3, sizeof s3);
    return 1;
}
#undef SR_XOSHIRO_WORDS
#undef SR_HAVE_LANES_INLINE

/* kernels.c defines the lane product, high half, zips and lane test per ISA */
#if defined(SR_MUL32) && defined(SR_HI32) && defined(SR_PACK32) && defined(SR_ZIP_LOW) && \
    defined(SR_ANY_LANE)
/* Does the step of `vectors` vectors at p hold a value that needs the general routine
   (sr_is_special: a nonzero magnitude a outside [lo, max])? As sr_round_contiguous
   tracks it: the largest a, and the smallest a - 1 (zero wraps to the top), lane by
   lane (an unsigned max and min each: kernels.c's SR_MAX_U32 etc. where the ISA has
   them), then one lane test; only for steps that fail a cheaper test first. */
static inline int SR_FN(sr_step_special)(const char *p, int vectors, SR_U lo, SR_U max)
{
    SR_FN(sr_vec) b, top, bottom;
    /* first the cheaper test of a magnitude outside [lo, max], zero included: does
       the largest a - lo (unsigned) pass max - lo? */
    memcpy(&b, p, sizeof b);
    top = (b & ~SR_SIGN_BIT) - lo;
    for (int h = 1; h < vectors; h++) {
        memcpy(&b, p + h * SR_VEC_BYTES, sizeof b);
        top = SR_FN(sr_lanes_max)(top, (b & ~SR_SIGN_BIT) - lo);
    }
    if (!SR_FN(sr_any_greater)(top, max - lo)) return 0;
    top = (SR_FN(sr_vec)){0};
    bottom = top - 1;
    for (int h = 0; h < vectors; h++) {
        SR_FN(sr_vec) a;
        memcpy(&b, p + h * SR_VEC_BYTES, sizeof b);
        a = b & ~SR_SIGN_BIT;
        top = SR_FN(sr_lanes_max)(top, a);
        bottom = SR_FN(sr_lanes_min)(bottom, a - 1);
    }
    return SR_ANY_LANE((SR_FN(sr_vec))(top > max) | (SR_FN(sr_vec))(bottom < lo - 1));
}

#ifndef SR_COUNTER_AHEAD
#define SR_COUNTER_AHEAD 4096
#endif
#ifndef SR_COUNTER_SETS
#define SR_COUNTER_SETS 4   /* sets of blocks per step: independent chains of products */
#endif
/* A counter stream (see sr_round_counter_fn), from half-word h, h % 4 == 0: the
   Philox blocks of V = SR_VEC_BYTES / 8 counters at once, one per 64-bit lane (as
   kernels.c's block generator does), give 2 * SR_VEC_BYTES bytes of words: block j's
   four half-words in order, low half first, as sr_rng_fill / sr_rng_fill32 see them;
   two such sets per step, whose rounds interleave. The round keys are made once. The
   blocks of a call share their counter's high half (it stops where that changes) and
   the stream id, so that part of the first two rounds is the same for all: made once
   too; and the counters' low halves never wrap, so round 1's products step by V * M0
   from set to set (an add, not a multiply). The last round packs the words itself
   (SR_PHILOX_LAST_ROUND). Each step checks its own values (no pass over the input
   before: the loads overlap the arithmetic) and stops before one that needs the
   general routine. */
/* the cache lines of a step's values and results, ahead of time */
static inline void SR_FN(sr_counter_prefetch)(const char *in, char *out, size_t at)
{
    for (int line = 0; line < 2 * SR_COUNTER_SETS * SR_VEC_BYTES / 64; line++) {
        __builtin_prefetch(in + at + 64 * line, 0);
        __builtin_prefetch(out + at + 64 * line, 1);
    }
}
static inline sr_intp SR_FN(sr_round_counter)(const char *in, char *out, sr_intp n,
                                              const sr_type_consts *c, sr_rounding mode,
                                              int rshift, const sr_rng *r, uint64_t h)
{
    enum { V = SR_VEC_BYTES / 8, SETS = SR_COUNTER_SETS,
           STEP = 2 * SETS * SR_VEC_BYTES / sizeof(SR_U) };
    uint64_t b0 = h / 4, blocks_left = ((uint64_t)1 << 32) - (b0 & 0xFFFFFFFFu);
    if (blocks_left < (uint64_t)n * sizeof(SR_U) / 16)
        n = (sr_intp)(blocks_left * 16 / sizeof(SR_U));
    n -= n % STEP;
    if (c->shift == 0 || n <= 0 || h % 4 != 0) return 0;
    const int n_special = 0;
    SR_U *words = NULL;
    SR_U lo = (SR_U)c->normal_bits, max = (SR_U)c->max_bits;
    SR_FN(sr_normal_consts) k = SR_FN(sr_normal_setup)(c, mode, 64 - rshift);
    typedef SR_FN(sr_lanes) lanes;
    uint32_t rk0[10], rk1[10];   /* the round keys: the Weyl sequence, modulo 2^32 */
    rk0[0] = r->key[0]; rk1[0] = r->key[1];
    for (int round = 1; round < 10; round++) {
        rk0[round] = rk0[round - 1] + SR_PHILOX_W0;
        rk1[round] = rk1[round - 1] + SR_PHILOX_W1;
    }
    lanes lane, key0[10], key1[10];
    for (int l = 0; l < V; l++) lane[l] = (uint64_t)l;
    for (int round = 0; round < 10; round++) {
        key0[round] = lane * 0 + rk0[round];
        key1[round] = lane * 0 + rk1[round];
    }
    /* Round 1 on x1 = the counter's high half, x2, x3 = the stream id: x0 and x1 come
       out the same for every block; round 2 then makes x3 the same for all. */
    uint64_t id_product = (uint64_t)SR_PHILOX_M1 * r->stream_id[0];
    uint32_t x0_1 = (uint32_t)(id_product >> 32) ^ (uint32_t)(b0 >> 32) ^ rk0[0];
    uint64_t x3_2 = (uint64_t)SR_PHILOX_M0 * x0_1;
    const lanes m0 = lane * 0 + SR_PHILOX_M0, m1 = lane * 0 + SR_PHILOX_M1,
                x2_1_xor = lane * 0 + (r->stream_id[1] ^ rk1[0]),
                x0_2_xor = lane * 0 + ((uint32_t)id_product ^ rk0[1]),
                x2_2_xor = lane * 0 + ((uint32_t)(x3_2 >> 32) ^ rk1[1]),
                x3_2_all = lane * 0 + x3_2,
                p0_1_step = lane * 0 + (uint64_t)V * SR_PHILOX_M0;
    lanes p0_1 = SR_MUL32(lane + b0, m0);   /* round 1's products of the next set */
#define SR_PHILOX_WORDS(wv)                                                                 \
    {   /* SETS sets of V blocks, round by round: their 4 x 32 bits as lanes (w0, w1) */    \
        lanes x0[SETS], x1[SETS], x2[SETS], x3[SETS], w0, w1, zipped[2 * SETS];             \
        for (int s = 0; s < SETS; s++) {                                                    \
            x2[s] = SR_HI32(p0_1) ^ x2_1_xor;                                               \
            x1[s] = SR_MUL32(x2[s], m1);                                                    \
            x0[s] = SR_HI32(x1[s]) ^ x0_2_xor;                                              \
            x2[s] = p0_1 ^ x2_2_xor;                                                        \
            x3[s] = x3_2_all;                                                               \
            p0_1 += p0_1_step;                                                              \
        }                                                                                   \
        for (int round = 2; round < 9; round++)                                             \
            for (int s = 0; s < SETS; s++)                                                  \
                SR_PHILOX_ROUND(lanes, SR_MUL32, SR_HI32, x0[s], x1[s], x2[s], x3[s],       \
                                key0[round], key1[round], m0, m1);                          \
        for (int s = 0; s < SETS; s++) {                                                    \
            SR_PHILOX_LAST_ROUND(lanes, SR_MUL32, SR_PACK32, x0[s], x1[s], x2[s], x3[s],    \
                                 key0[9], key1[9], m0, m1, w0, w1);                         \
            zipped[2 * s] = SR_ZIP_LOW(w0, w1);                                             \
            zipped[2 * s + 1] = SR_ZIP_HIGH(w0, w1);                                        \
        }                                                                                   \
        memcpy((wv), zipped, sizeof zipped);                                                \
    }
    /* a value of the step outside zero and the magnitudes [2^emin, max] */
#define SR_STEP_SPECIAL(i)                                                                  \
    (SR_FN(sr_counter_prefetch)(in, out, (i) * sizeof(SR_U) + SR_COUNTER_AHEAD),             \
     SR_FN(sr_step_special)(in + (i) * sizeof(SR_U), 2 * SETS, lo, max))
    SR_WORDS_LOOPS(2 * SETS * SR_VEC_BYTES, SR_PHILOX_WORDS, SR_STEP_SPECIAL)
#undef SR_STEP_SPECIAL
#undef SR_PHILOX_WORDS
    (void)words;
    return done;
}
#endif
#undef SR_WORDS_LOOPS
#undef SR_LANE_COUNT
#undef SR_WORDS_LOOP
#endif

#undef SR_W
#undef SR_SIGN_BIT
#undef SR_INF_BITS
#undef SR_FRAC_MASK
