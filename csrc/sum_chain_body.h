/* The integer chain of arith.c's two-pass sums (sum_chain.h says why it holds), one
 * instantiation per instruction set (round_impl.h includes this with the binary64
 * names): the kernel table's sum_chain. No include guard. */

#ifndef SR_SUM_CHAIN_BLOCK
#define SR_SUM_CHAIN_BLOCK 64   /* steps per block: a failure wastes at most this many */
#endif

/* The scan of a vector S of SR_VEC_BYTES / 8 lanes: each step adds S shifted up by
   k lanes (1, 2, 4, ...), filled with lanes of Z (zero) */
#if SR_VEC_BYTES == 64
#define SR_SCAN_STEPS(S, Z)                                                                \
    S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 8, 9, 10, 11, 12, 13, 14});             \
    S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 1, 8, 9, 10, 11, 12, 13});              \
    S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 1, 2, 3, 8, 9, 10, 11});
#elif SR_VEC_BYTES == 32
#define SR_SCAN_STEPS(S, Z)                                                                \
    S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 4, 5, 6});                              \
    S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 1, 4, 5});
#else
#define SR_SCAN_STEPS(S, Z) S += __builtin_shuffle(Z, S, (sr_scan_vec){0, 2});
#endif

/* The chain V <- V + (q[i] & clear) over n steps, before[i] the V before step i:
   vector by vector, a scan of the lanes (log2 lanes shifts and adds, off the
   chain) plus the running V in every lane, which one add moves on by the vector's
   total (integer sums: the order does not change them). Returns the V after. */
static inline uint64_t SR_FN(sr_sum_chain_scan)(uint64_t u, const uint64_t *q, uint64_t *before,
                                                sr_intp n, uint64_t clear)
{
#if defined(__GNUC__) && !defined(__clang__)
    typedef uint64_t sr_scan_vec __attribute__((vector_size(SR_VEC_BYTES)));
    enum { L = SR_VEC_BYTES / 8 };
    const sr_scan_vec zero = {0}, last = zero + (L - 1);
    sr_scan_vec run = zero + u;
    sr_intp i = 0;
    for (; i + L <= n; i += L) {
        sr_scan_vec t, s;
        memcpy(&t, q + i, sizeof t);
        t &= clear;
        s = t;
        SR_SCAN_STEPS(s, zero)
        sr_scan_vec b = run + (s - t);
        memcpy(before + i, &b, sizeof b);
        run += __builtin_shuffle(s, last);
    }
    u = run[0];
#else
    sr_intp i = 0;
#endif
    for (; i < n; i++) {
        before[i] = u;
        u += q[i] & clear;
    }
    return u;
}
#undef SR_SCAN_STEPS

/* Writes the n increments inc[i] of the words rnd[i] under mode, then runs up to n
   steps V <- V + ((P_i + inc[i]) & clear) from V a multiple of 2^d (clear =
   ~(2^d - 1)), where (V + q) & clear = V + (q & clear): one add a step on the chain,
   P_i = +-RN(xs[i] * f->scale) (f->neg negates it for a negative sum). A step holds
   when |xs[i] * scale| < 2^51, the sum V + P_i lies in [2^52, 2^53), and P_i is
   exact or its error (below one unit) cannot change the rounding: the test
   sr_normal_decided makes of a binary64 sum (arith_fast_body.h's
   sr_chain_step_fine), on V + P_i, whose discarded bits are those of P_i. Returns
   how many steps from the first hold (n if all), and leaves in *v the V after them.
   RN(s) comes from adding 1.5 * 2^52 (exact for |s| < 2^51: branch-free, and no
   integer conversion, which SSE2 and AVX2 lack for 64-bit lanes); it is exact when
   RN(s) * f->unscale gives xs[i] back, which also catches an s that underflowed. A
   step that fails the term's tests gets 2^62, whose sum fails the range check. */
static inline sr_intp SR_FN(sr_sum_chain)(const double *xs, const uint64_t *rnd, uint64_t *inc,
                                          sr_intp n, const sr_sum_frame *f,
                                          const sr_type_consts *c64, sr_rounding mode,
                                          int bits, uint64_t *v)
{
    const SR_FN(sr_normal_consts) k = SR_FN(sr_normal_setup)(c64, mode, bits);
    const uint64_t one = (uint64_t)1 << 52, far = (uint64_t)1 << 62, mask = k.mask,
                   clear = ~mask, neg = f->neg;
    const double magic = 0x1.8p52, scale = f->scale, unscale = f->unscale;
    uint64_t magic_bits;
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    uint64_t q[SR_SUM_CHAIN_BLOCK], before[SR_SUM_CHAIN_BLOCK];
    uint64_t u = *v;
    if (n > SR_CHUNK) n = SR_CHUNK;   /* (never: the callers' chunks) */
#define SR_SUM_INCREMENTS(MODE)                                                            \
    for (sr_intp i = 0; i < n; i++) inc[i] = SR_FN(sr_normal_increment)(0, &k, MODE, rnd[i]);
    SR_DISPATCH_MODE(mode, SR_SUM_INCREMENTS)
#undef SR_SUM_INCREMENTS
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
        u = SR_FN(sr_sum_chain_scan)(u, q, before, b, clear);
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
