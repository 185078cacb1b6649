/* The integer chain of arith.c's two-pass sums (sum_chain.h says why it holds), one
 * instantiation per instruction set (round_impl.h includes this with the binary64
 * names): the kernel table's sum_chain. No include guard. */

/* n steps V <- (V + q_i) & clear, q_i = +-P_i + inc[i] (neg: all ones for a negative
   sum, which negates P_i), P_i = xs[i] * scale: the steps whose term P_i is an
   integer of magnitude below 2^51 and whose pre-rounding sum V + -+P_i lies in
   [2^52, 2^53). Returns how many steps from the first hold (n if all), and leaves in
   *v the V after them. P_i is p_i * scale rounded to an integer by adding 1.5 * 2^52
   (exact for |p_i * scale| < 2^51: branch-free, and no integer conversion, which
   SSE2 and AVX2 lack for 64-bit lanes); it is exact when P_i * unscale gives p_i
   back, which also catches a product p_i * scale that underflowed. A term that is
   not exact gets q_i = 2^62, whose sum fails the range check. */
static inline sr_intp SR_FN(sr_sum_chain)(const double *xs, const uint64_t *inc, sr_intp n,
                                          double scale, double unscale, uint64_t neg,
                                          uint64_t clear, uint64_t *v)
{
    const uint64_t one = (uint64_t)1 << 52, far = (uint64_t)1 << 62;
    const double magic = 0x1.8p52;
    uint64_t magic_bits;
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    uint64_t q[SR_CHUNK], before[SR_CHUNK], any = 0;
    if (n > SR_CHUNK) n = SR_CHUNK;   /* (never: the callers' chunks) */
    for (sr_intp i = 0; i < n; i++) {
        double s = xs[i] * scale;
        double t = s + magic;
        uint64_t tb;
        memcpy(&tb, &t, sizeof tb);
        uint64_t p = (tb - magic_bits) ^ neg;
        uint64_t ok = (uint64_t)0 - (uint64_t)((fabs(s) < 0x1p51) & ((t - magic) * unscale == xs[i]));
        q[i] = (ok & (p - neg + inc[i])) | (~ok & far);
    }
    /* the chain: one add and one and a step, in a general register */
    uint64_t u = *v;
    for (sr_intp i = 0; i < n; i++) {
        before[i] = u;
        u = (u + q[i]) & clear;
    }
    for (sr_intp i = 0; i < n; i++) any |= (before[i] + q[i] - inc[i] - one) >> 52;
    if (!any) {
        *v = u;
        return n;
    }
    sr_intp i = 0;
    while (((before[i] + q[i] - inc[i] - one) >> 52) == 0) i++;
    *v = before[i];
    return i;
}
