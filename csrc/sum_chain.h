/* The integer chain of two-pass sums (included by arith.c, after chain2_sum).
 *
 * While the running sum a and every sum a + p of a stretch of steps stay in one
 * binade [2^E, 2^(E+1)) of binary64, with one sign, inside the format's normal range,
 * binary64's pattern of a + p is sign | (E + 1022) << 52 plus the integer
 * V + P in [2^52, 2^53), where V = |a| / 2^(E-52) and P = +-RN(p / 2^(E-52)) (the
 * sign of a: the increment acts on the magnitude, sign-magnitude, so a negative sum
 * mirrors a positive one). The step of chain2_round, (bits(RN64(a + p)) + x) & clear,
 * then is V <- (V + P + x) & clear on integers, and a carry to V = 2^53 is binary64's
 * own carry into the next binade. The running sum is a value of the format, so V is
 * a multiple of 2^d (d = the discarded bits, clear = ~(2^d - 1)), and the step is
 * V <- V + ((P + x) & clear): the chain of dependent steps is one integer add (1
 * cycle, against about 5 for chain2_round's floating-point add, the bypass and two
 * integer operations: bench/latency_floor.c), and the rest runs vectorized. Where
 * p / 2^(E-52) is not an integer, the step is right when the error cannot change
 * the rounding, the test chain2_sum makes (sr_chain_step_fine).
 *
 * The per-ISA kernel (sum_chain_body.h, the kernel table's sum_chain) runs blocks
 * of steps: the terms (P + x) & clear and their tests (vectorized), the chain,
 * which keeps each step's V, and the range check of every V + P (vectorized); it
 * stops at the first step that fails, which is redone with chain2_sum, and the
 * chain goes on from its result, in its binade. Sums at zero, in a binade the
 * format does not cover whole, and chunks that keep failing (a sum oscillating
 * around zero or a binade boundary) take the two-pass float chain, for a number of
 * chunks that doubles while retries keep failing. */

enum {
    SUM_CHAIN_FAILS = 4,       /* checked steps per chunk before the float chain takes over */
    SUM_CHAIN_BACKOFF = 1024,  /* the most chunks that then skip the integer chain */
};

/* A reduction's backoff: chunks that skip the integer chain, and how many the next
   give-up makes skip */
typedef struct {
    int skip, wait;
} sum_chain_backoff;

#define SUM_CHAIN_ONE ((uint64_t)1 << 52)   /* V's range: [ONE, 2 * ONE) */

/* The frame of a and its V, or 0 if a's binade does not suit: zero, subnormal,
   infinite or NaN, [2^E, 2^(E+1)] not inside [2^emin, max] of the format, or
   E < -970 (2^(52-E) would overflow binary64); or if a is not a value of the
   format (only a reduction's first accumulator can be other). */
static inline int sum_chain_frame_of(const chain *ch, double a, sr_sum_frame *f,
                                      uint64_t *v)
{
    uint64_t u = dbits(a), mag = u & 0x7fffffffffffffffu, e = mag >> 52;
    if (e < 53 || (e << 52) < ch->lo || ((e + 1) << 52) > ch->k.max_bits ||
        (u & ~ch->clear) != 0)   /* (a value of the format: all but the first acc) */
        return 0;
    f->sign = u & ~0x7fffffffffffffffu;
    f->neg = f->sign ? ~(uint64_t)0 : 0;
    f->base = (e - 1) << 52;
    f->scale = dval((2098 - e) << 52);
    f->unscale = dval((e - 52) << 52);
    *v = (mag & (SUM_CHAIN_ONE - 1)) | SUM_CHAIN_ONE;
    return 1;
}

static inline double sum_chain_value(const sr_sum_frame *f, uint64_t v)
{
    return dval(f->sign | (f->base + v));
}

/* The increments of steps [i, m) if inc does not hold them yet (*from: the first
   step from which it does) */
static inline void sum_chain_increments(const chain *ch, const uint64_t *rnd, uint64_t *inc,
                                        sr_intp i, sr_intp m, sr_intp *from, sr_rounding mode)
{
    if (i >= *from) return;
    const sr_normal_consts_f64 k = ch->k;
#define SR_INCREMENTS(MODE)                                                                \
    for (sr_intp j = i; j < m; j++) inc[j] = sr_normal_increment_f64(0, &k, MODE, rnd[j]);
    SR_DISPATCH_MODE(mode, SR_INCREMENTS)
#undef SR_INCREMENTS
    *from = i;
}

/* m steps acc = fl(acc + xs[i]) (rnd[i] the words): the integer chain where it
   holds, checked steps where it fails, and the two-pass float chain
   (chain2_float_steps) for the rest of the chunk after SUM_CHAIN_FAILS checked
   steps, which sets *gave_up. */
static double sum_chain_steps(const chain *ch, double acc, const double *xs,
                              const uint64_t *rnd, sr_intp m, sr_rounding mode, int *gave_up)
{
    uint64_t inc[SR_CHUNK];
    sr_intp from = m;   /* inc holds the increments of steps [from, m) */
    const sr_sum_chain_fn sum_chain = ch->ctx->kernels->sum_chain;
    const sr_type_consts *c64 = &ch->ctx->fmt.f64;
    const uint64_t span = ch->k.max_bits + 1 - ch->lo;
    lane a = lane_of(acc);
    int fails = 0;
    for (sr_intp i = 0; i < m; i++) {
        sr_sum_frame f;
        uint64_t v;
        if (sum_chain_frame_of(ch, lane_value(a), &f, &v)) {
            sr_intp n = m - i;
            sr_intp fine = sum_chain(xs + i, rnd + i, inc + i, n, &f, c64, mode, ch->ctx->bits, &v);
            from = i;
            i += fine;
            a = lane_of(sum_chain_value(&f, v));
            if (i == m) break;
        }
        if (++fails > SUM_CHAIN_FAILS) {
            *gave_up = 1;
            return chain2_float_steps(ch, lane_value(a), xs + i, inc + i, rnd + i, m - i, mode,
                                      i < from);
        }
        sum_chain_increments(ch, rnd, inc, i, m, &from, mode);
        a = chain2_sum(ch, span, a, lane_of(xs[i]), 0, inc[i], mode, rnd[i]);
    }
    return lane_value(a);
}
