/* The integer chain of arith.c's two-pass sums (sum_chain.h says why it holds), one
 * instantiation per instruction set (round_impl.h includes this with the binary64
 * names): the kernel table's sum_chain. No include guard. */

#ifndef SR_SUM_CHAIN_BLOCK
#define SR_SUM_CHAIN_BLOCK 64   /* steps per block: a failure wastes at most this many */
#endif

/* Up to n steps V <- V + ((P_i + inc[i]) & clear) from V a multiple of 2^d (clear =
   ~(2^d - 1)), where (V + q) & clear = V + (q & clear): one add a step on the chain,
   P_i = +-RN(xs[i] * scale) (neg: all ones for a negative sum, which negates it).
   A step holds when |xs[i] * scale| < 2^51, the sum V + P_i lies in [2^52, 2^53),
   and P_i is exact or its error (below one unit) cannot change the rounding: the
   test sr_normal_decided makes of a binary64 sum (arith_fast_body.h's
   sr_chain_step_fine), on V + P_i, whose discarded bits are those of P_i. Returns
   how many steps from the first hold (n if all), and leaves in *v the V after them.
   RN(s) comes from adding 1.5 * 2^52 (exact for |s| < 2^51: branch-free, and no
   integer conversion, which SSE2 and AVX2 lack for 64-bit lanes); it is exact when
   RN(s) * unscale gives xs[i] back, which also catches an s that underflowed. A
   step that fails the term's tests gets 2^62, whose sum fails the range check. */
static inline sr_intp SR_FN(sr_sum_chain)(const double *xs, const uint64_t *inc, sr_intp n,
                                          double scale, double unscale, uint64_t neg,
                                          uint64_t clear, uint64_t *v)
{
    const uint64_t one = (uint64_t)1 << 52, far = (uint64_t)1 << 62, mask = ~clear;
    const double magic = 0x1.8p52;
    uint64_t magic_bits;
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    uint64_t q[SR_SUM_CHAIN_BLOCK], before[SR_SUM_CHAIN_BLOCK];
    uint64_t u = *v;
    for (sr_intp done = 0; done < n; done += SR_SUM_CHAIN_BLOCK) {
        const double *x = xs + done;
        const uint64_t *w = inc + done;
        sr_intp b = n - done < SR_SUM_CHAIN_BLOCK ? n - done : SR_SUM_CHAIN_BLOCK;
        for (sr_intp i = 0; i < b; i++) {
            double s = x[i] * scale;
            double t = s + magic;
            uint64_t tb;
            memcpy(&tb, &t, sizeof tb);
            uint64_t p = ((tb - magic_bits) ^ neg) - neg;
            uint64_t rem = p & mask;
            uint64_t fine = (uint64_t)((t - magic) * unscale == x[i]) |
                            ((uint64_t)(rem != 0) & (uint64_t)(rem + w[i] - mask > 1));
            uint64_t ok = (uint64_t)0 - ((uint64_t)(fabs(s) < 0x1p51) & fine);
            q[i] = (ok & (p + w[i])) | (~ok & far);
        }
        for (sr_intp i = 0; i < b; i++) {
            before[i] = u;
            u += q[i] & clear;
        }
        uint64_t any = 0;
        for (sr_intp i = 0; i < b; i++) any |= (before[i] + q[i] - w[i] - one) >> 52;
        if (any) {
            sr_intp i = 0;
            while (((before[i] + q[i] - w[i] - one) >> 52) == 0) i++;
            *v = before[i];
            return done + i;
        }
    }
    *v = u;
    return n;
}
