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
#define SR_W ((int)(8 * sizeof(SR_U)))
#define SR_SIGN_BIT ((SR_U)1 << (SR_W - 1))
#define SR_INF_BITS ((((SR_U)1 << (SR_W - SR_P)) - 1) << (SR_P - 1)) /* exponent all ones */
#define SR_FRAC_MASK (((SR_U)1 << (SR_P - 1)) - 1)

/* The two neighbours of the finite magnitude a (a bit pattern) in the format, and
   where a lies between them. */
static inline sr_split SR_FN(sr_split)(SR_U a, const sr_type_consts *c)
{
    sr_split s;
    int E = (int)(a >> (SR_P - 1));
    int e1 = E ? E : 1;                          /* subnormals share binade 1's quantum */
    int qe_in = e1 - SR_BIAS - (SR_P - 1);       /* a's value = m * 2^qe_in */
    if (a < c->gap_bits) {
        /* Below the format's smallest nonzero magnitude: neighbours 0 and the gap. */
        uint64_t m = E ? ((a & SR_FRAC_MASK) | ((SR_U)1 << (SR_P - 1))) : a;
        int dG = c->gap_exp - qe_in;             /* >= 1, since a < gap */
        s.trunc = 0;
        s.up = c->gap_bits;
        s.odd = 0;
        s.ulp_exp = c->gap_exp;
        if (dG <= 64) {                          /* m < 2^dG: all bits fit */
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

/* Rounds one value given as its bit pattern. mode is a constant at each call site. */
static inline SR_U SR_FN(sr_round_bits)(SR_U bits, const sr_type_consts *c, sr_rounding mode,
                                        int rshift, uint64_t rnd)
{
    SR_U sign = bits & SR_SIGN_BIT, a = bits ^ sign;
    int neg = sign != 0;
    if (a >= SR_INF_BITS) return a > SR_INF_BITS ? bits : (SR_U)(sign | c->inf_result);
    sr_split s = SR_FN(sr_split)(a, c);
    uint64_t r = sr_round_away(mode, s.frac, s.sticky, s.odd, neg, rnd, rshift) ? s.up : s.trunc;
    if (r > c->max_bits) r = sr_overflows_outward(mode, neg) ? c->inf_result : c->max_bits;
    return (SR_U)(sign | r);
}

/* Rounds n strided values; rnd holds n random words for the stochastic modes. */
static inline void SR_FN(sr_round_strided)(const char *in, sr_intp is, char *out, sr_intp os,
                                    sr_intp n, const sr_type_consts *c, sr_rounding mode,
                                    int rshift, const uint64_t *rnd)
{
#define SR_MODE_LOOP(MODE)                                                                  \
    for (sr_intp i = 0; i < n; i++) {                                                       \
        SR_U b;                                                                             \
        memcpy(&b, in + i * is, sizeof b);                                                  \
        b = SR_FN(sr_round_bits)(b, c, MODE, rshift, (MODE) >= SR_STOCHASTIC ? rnd[i] : 0); \
        memcpy(out + i * os, &b, sizeof b);                                                 \
    }                                                                                       \
    break;
    switch (mode) {
    case SR_NEAREST: SR_MODE_LOOP(SR_NEAREST)
    case SR_NEAREST_AWAY: SR_MODE_LOOP(SR_NEAREST_AWAY)
    case SR_TOWARD_ZERO: SR_MODE_LOOP(SR_TOWARD_ZERO)
    case SR_UP: SR_MODE_LOOP(SR_UP)
    case SR_DOWN: SR_MODE_LOOP(SR_DOWN)
    case SR_ODD: SR_MODE_LOOP(SR_ODD)
    case SR_STOCHASTIC: SR_MODE_LOOP(SR_STOCHASTIC)
    case SR_STOCHASTIC_EQUAL: SR_MODE_LOOP(SR_STOCHASTIC_EQUAL)
    default: break;
    }
#undef SR_MODE_LOOP
}

#undef SR_W
#undef SR_SIGN_BIT
#undef SR_INF_BITS
#undef SR_FRAC_MASK
