/*
 * The check pass of arith.c's two-pass Kahan sums (kahan_chain.h says why), compiled
 * per instruction set (round_impl.h includes it with SR_FN naming the binary64
 * functions): branch-free, so that its loop vectorizes. No include guard.
 */

/* (bits(v) + x) & clear: chain2_round's rounding of a binary64 result */
static inline double SR_FN(sr_kahan_round)(double v, uint64_t x, uint64_t mask)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    u = (u + x) & ~mask;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Is r = RN64(a + b) exact and in [2^emin, max], or zero: then chain2_round of r (the
   increment added, the discarded bits cleared) is the rounding of a + b, as in
   sr_chain_step_fine's exact case (which also passes inexact sums whose error cannot
   matter; this test is stricter, and cheaper). r - a == b and r - b == a both hold
   exactly when a + b is exact: the difference of r and the operand of larger
   magnitude is exact (Fast2Sum's lemma), so it equals the other operand only if
   r = a + b. */
static inline uint64_t SR_FN(sr_kahan_exact)(double a, double b, uint64_t lo, uint64_t span)
{
    double r = a + b;
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    uint64_t in_range = (uint64_t)(((u & 0x7fffffffffffffffu) - lo) < span);
    return (in_range & (uint64_t)(r - a == b) & (uint64_t)(r - b == a)) | (uint64_t)(r == 0);
}

/* The first of the m steps that fails its checks, or m. x[i]: step i's input; s[i],
   c[i]: the state before it (m + 1 of each: s[i + 1] is its t, c[i + 1] its c as the
   chain pass computed them); y[i]: its y; inc[j][i]: the increment of its j-th
   operation. A step passes when each of its four operations, taken as in the
   defining order (ts = fl(t - s), c = fl(ts - y)) with chain2_round, gives the
   rounding of its exact result (y = fl(x - c): sr_chain_step_fine; the other three,
   sums of values of the format, which the chain pass needs exact anyway:
   sr_kahan_exact), and that c is the chain pass's. */
static inline sr_intp SR_FN(sr_kahan_check)(const double *x, const double *s, const double *c,
                                            const double *y, const uint64_t (*inc)[SR_CHUNK],
                                            sr_intp m, const sr_type_consts *c64)
{
    const uint64_t mask = ((uint64_t)1 << c64->shift) - 1, lo = c64->normal_bits,
                   span = c64->max_bits + 1 - lo;
    uint64_t fine[SR_CHUNK], all = 1;
    if (m > SR_CHUNK) m = SR_CHUNK;   /* (never: the callers' chunks) */
    for (sr_intp i = 0; i < m; i++) {
        double ts = SR_FN(sr_kahan_round)(s[i + 1] - s[i], inc[2][i], mask);
        double c_next = SR_FN(sr_kahan_round)(ts - y[i], inc[3][i], mask);
        uint64_t want, got;
        memcpy(&want, &c_next, sizeof want);
        memcpy(&got, &c[i + 1], sizeof got);
        fine[i] = SR_FN(sr_chain_step_fine)(x[i], -c[i], inc[0][i], mask, lo, span) &
                  SR_FN(sr_kahan_exact)(s[i], y[i], lo, span) &
                  SR_FN(sr_kahan_exact)(s[i + 1], -s[i], lo, span) &
                  SR_FN(sr_kahan_exact)(ts, -y[i], lo, span) &
                  (uint64_t)(want == got);
        all &= fine[i];
    }
    if (all) return m;
    sr_intp i = 0;
    while (fine[i]) i++;
    return i;
}
