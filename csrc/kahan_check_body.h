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

/* The first of the m steps that fails its checks, or m. x[i]: step i's input; s[i],
   c[i]: the state before it (m + 1 of each: s[i + 1] is its t, c[i + 1] its c as the
   chain pass computed them); y[i]: its y; inc[j][i]: the increment of its j-th
   operation. A step passes when each of its four operations, taken as in the
   defining order (ts = fl(t - s), c = fl(ts - y)) with chain2_round, passes
   sr_chain_step_fine, and that c is the chain pass's. */
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
                  SR_FN(sr_chain_step_fine)(s[i], y[i], inc[1][i], mask, lo, span) &
                  SR_FN(sr_chain_step_fine)(s[i + 1], -s[i], inc[2][i], mask, lo, span) &
                  SR_FN(sr_chain_step_fine)(ts, -y[i], inc[3][i], mask, lo, span) &
                  (uint64_t)(want == got);
        all &= fine[i];
    }
    if (all) return m;
    sr_intp i = 0;
    while (fine[i]) i++;
    return i;
}
