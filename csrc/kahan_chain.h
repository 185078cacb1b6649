/*
 * Kahan's compensated sum in two passes, for arith.c (included there, after the
 * helpers of "sum chains in two passes": chain, chain2_round, chain2_sum,
 * chain2_gather, lane). One step of SR_KAHAN_LOOP is four rounded operations,
 *     y = fl(x - c);  t = fl(s + y);  ts = fl(t - s);  c = fl(ts - y);  s = t,
 * and the chain through c runs through all four, each a binary64 operation, then
 * the word's increment and the cleared discarded bits (chain2_round), with two
 * transfers between the floating-point and integer domains. The chain pass here
 * takes a shorter road to the same values:
 *     y = fl(x - c);  q = s + y;  t = fl(q);  c = t - q;  s = t
 * (q and c plain binary64 operations). When s + y is exact in binary64 and t - s is
 * a value of the format (Fast2Sum's correction, a multiple of ulp(s): nearly always),
 * ts = t - s and t - q = ts - y exactly, so c is fl(ts - y) whenever that difference
 * is a value of the format already: a value whose discarded bits are clear is its
 * own chain2_round, whatever the increment (at most the mask, roundings.def). It is
 * not when t is the farther neighbour of s + y and y has bits below ulp(s) (a few
 * per cent of stochastic steps): a branch, predicted not taken, then adds the word's
 * increment and clears the bits. The chain through c is then one rounded operation,
 * an addition, the rounding of t and a subtraction (bench/latency_floor.c times it).
 * The check pass (the kernel table's kahan_check, kahan_check_body.h, vectorized)
 * recomputes ts and c the defining way from the stored states, checks each of the
 * four operations (y as the chains of arith.c do; the other three, which the chain
 * pass needs exact, for exactness) and that c came out the same: the first step that
 * fails is redone with the exact path, as are the chunk's remaining steps. Each step
 * still draws its four words, in order.
 */

#ifndef SR_UNLIKELY
#if defined(__GNUC__)
#define SR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SR_UNLIKELY(x) (x)
#endif
#endif

/* chain2_round of a value already computed: (bits(v) + x) & clear, in v's register */
static SR_ALWAYS_INLINE lane kahan_round_lane(const chain *ch, lane v, uint64_t x)
{
#if SR_USE_SSE2
    __m128i i = _mm_add_epi64(_mm_castpd_si128(v), _mm_cvtsi64_si128((long long)x));
    return _mm_castsi128_pd(_mm_and_si128(i, _mm_set1_epi64x((long long)ch->clear)));
#else
    return dval((dbits(v) + x) & ch->clear);
#endif
}

/* The discarded bits of v, in a general register (off the chain: only the branch
   reads them) */
static SR_ALWAYS_INLINE uint64_t kahan_discarded(const chain *ch, lane v)
{
#if SR_USE_SSE2
    return (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(v)) & ch->k.mask;
#else
    return dbits(v) & ch->k.mask;
#endif
}

static SR_ALWAYS_INLINE lane kahan_add(lane a, lane b)
{
#if SR_USE_SSE2
    return _mm_add_sd(a, b);
#else
    return a + b;
#endif
}

static SR_ALWAYS_INLINE lane kahan_sub(lane a, lane b)
{
#if SR_USE_SSE2
    return _mm_sub_sd(a, b);
#else
    return a - b;
#endif
}

/* m steps of Kahan's sum (SR_KAHAN_LOOP) in two passes; *s and *c carry the state.
   Returns the steps' flags (only the exact path's results can be infinite or NaN). */
static unsigned chain2_kahan_chunk(const chain *ch, double *s, double *c, const char *in,
                                   sr_intp stride, sr_intp m, int single, const uint64_t *rnd,
                                   sr_rounding mode)
{
    uint64_t inc[4][SR_CHUNK];
    /* sv[i], cv[i]: the state before step i (sv[i + 1] is step i's t) */
    double xs[SR_CHUNK], sv[SR_CHUNK + 1], cv[SR_CHUNK + 1], yv[SR_CHUNK];
    const uint64_t span = ch->k.max_bits + 1 - ch->lo;
    unsigned raised = 0;
    chain2_gather(xs, in, stride, m, single);
    lane sl = lane_of(*s), cl = lane_of(*c);
    const sr_normal_consts_f64 k = ch->k;
#define SR_KAHAN_STEPS(MODE)                                                               \
    for (sr_intp i = 0; i < m; i++) {                                                      \
        for (int j = 0; j < 4; j++)                                                        \
            inc[j][i] = sr_normal_increment_f64(0, &k, MODE, rnd[4 * i + j]);              \
        sv[i] = lane_value(sl);                                                            \
        cv[i] = lane_value(cl);                                                            \
        lane y = chain2_round(ch, lane_of(xs[i]), cl, 1, inc[0][i]);                       \
        lane q = kahan_add(sl, y);                                                         \
        lane t = kahan_round_lane(ch, q, inc[1][i]);                                       \
        cl = kahan_sub(t, q);                                                              \
        if (SR_UNLIKELY(kahan_discarded(ch, cl))) cl = kahan_round_lane(ch, cl, inc[3][i]); \
        sl = t;                                                                            \
        yv[i] = lane_value(y);                                                             \
    }
    SR_DISPATCH_MODE(mode, SR_KAHAN_STEPS)
#undef SR_KAHAN_STEPS
    sv[m] = lane_value(sl);
    cv[m] = lane_value(cl);
    sr_intp i = ch->ctx->kernels->kahan_check(xs, sv, cv, yv, inc, m, &ch->ctx->fmt.f64);
    if (SR_LIKELY(i == m)) {
        *s = sv[m];
        *c = cv[m];
        return 0;
    }
    sl = lane_of(sv[i]);
    cl = lane_of(cv[i]);
    for (; i < m; i++) {
        const uint64_t x[4] = {inc[0][i], inc[1][i], inc[2][i], inc[3][i]};
        const uint64_t *w = rnd + 4 * i;
        lane y = chain2_sum(ch, span, lane_of(xs[i]), cl, 1, x[0], mode, w[0]);
        lane t = chain2_sum(ch, span, sl, y, 0, x[1], mode, w[1]);
        lane ts = chain2_sum(ch, span, t, sl, 1, x[2], mode, w[2]);
        lane c_next = chain2_sum(ch, span, ts, y, 1, x[3], mode, w[3]);
        double fy = lane_value(y), ft = lane_value(t), fts = lane_value(ts),
               fc = lane_value(c_next), fs = lane_value(sl);
        if (!isfinite(fy) || !isfinite(ft) || !isfinite(fts) || !isfinite(fc))
            raised |= chain_flags(xs[i], -lane_value(cl), fy) | chain_flags(fs, fy, ft) |
                      chain_flags(ft, -fs, fts) | chain_flags(fts, -fy, fc);
        cl = c_next;
        sl = t;
    }
    *s = lane_value(sl);
    *c = lane_value(cl);
    return raised;
}
