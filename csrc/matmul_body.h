/*
 * The matrix product kernel body (see matmul.c), included once per data type and
 * instruction set after round_impl.h. Expects SR_T (float or double), SR_FN (names
 * suffixed with the type and SR_ISA_TAG) and SR_ISA_TAG.
 *
 * One output row i and one step l, n columns, take two vectorized passes over
 * chunks of SR_CHUNK columns, each the normal-range kernel of arith_fast_body.h:
 *   products  p_j = fl_ctx(a_il * b_lj)      (the exact product is r = RN64(a b):
 *             exact for binary32 data; for binary64 its fma error says if inexact)
 *   sums      c_ij = fl_acc(c_ij +- p_j)     (TwoSum gives the error of r)
 * Each pass flags the elements it cannot decide (out of the format's normal range
 * and not an exact zero, or an error that could tip a boundary), which then take
 * the exact path (sr_exact_op) with the same random word. Binary32 data whose two
 * formats binary32 carries (one mode) first try one fused pass in binary32 lanes
 * (mm_fused32 below); a chunk it cannot decide entirely takes the two passes.
 */
#define SR_F64(x) SR_PASTE3(x, _f64, SR_ISA_TAG)
#define SR_ABS_BITS 0x7fffffffffffffffu

/* The constants of one of the two roundings (products in ctx, sums in acc). */
typedef struct {
    SR_F64(sr_normal_consts) k;
    uint64_t lo, span;   /* the fast range: magnitudes [lo, lo + span) */
    uint64_t keep;       /* 0 for binary64 itself (d = 0): round nothing, flag errors */
} SR_FN(mm_rounding);

static SR_FN(mm_rounding) SR_FN(mm_setup)(const sr_context *ctx, uint64_t min_lo)
{
    SR_FN(mm_rounding) q;
    const sr_type_consts *c = &ctx->fmt.f64;
    q.k = SR_F64(sr_normal_setup)(c, ctx->rounding, ctx->bits);
    q.lo = c->normal_bits > min_lo ? c->normal_bits : min_lo;
    q.span = c->max_bits + 1 - q.lo;
    q.keep = c->shift ? ~(uint64_t)0 : 0;
    return q;
}

/* !sr_normal_decided in 64-bit integer arithmetic throughout (no bool), which
   compilers vectorize along with the rest of the loop */
static inline uint64_t SR_FN(mm_undecided)(uint64_t u, uint64_t x, uint64_t mask)
{
    uint64_t rem = u & mask;
    return (uint64_t)(rem == 0) | (uint64_t)(rem + x - mask <= 1);
}

/* Rounds r (bits u, inexact: the exact result differs from r; zero: it is an
   exact zero) with q's constants: the result's bits; *flag set where the exact path
   must decide (out of the fast range, or an error that may tip a boundary). */
static SR_ALWAYS_INLINE uint64_t SR_FN(mm_round)(uint64_t u, uint64_t inexact, uint64_t zero,
                                                 const SR_F64(sr_normal_consts) *k,
                                                 uint64_t lo, uint64_t span, uint64_t keep,
                                                 sr_rounding mode, uint64_t w, uint64_t *flag)
{
    uint64_t special = (uint64_t)(((u & SR_ABS_BITS) - lo) >= span) & ~zero;
    uint64_t x = SR_F64(sr_normal_increment)(u, k, mode, w) & keep;
    *flag = special | (inexact & SR_FN(mm_undecided)(u, x, k->mask));
    return (u + x) & ~k->mask;
}

/* One product fl(a * y): its bits; *flag where the exact path must decide. */
static SR_ALWAYS_INLINE uint64_t SR_FN(mm_product)(double a, double y,
                                                   const SR_FN(mm_rounding) *q,
                                                   sr_rounding mode, uint64_t w,
                                                   uint64_t *flag)
{
    double r = a * y;    /* exact for binary32 data: their products fit in binary64 */
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    uint64_t inexact = sizeof(SR_T) == 4 ? 0 : (uint64_t)(fma(a, y, -r) != 0);
    /* a zero factor: an exact +-0, which every mode keeps */
    uint64_t zero = (uint64_t)((r == 0) & ((a == 0) | (y == 0)));
    return SR_FN(mm_round)(u, inexact, zero, &q->k, q->lo, q->span, q->keep, mode, w, flag);
}

/* One sum fl(s + y), y = p with the sign bit flipped by flip (subtraction). */
static SR_ALWAYS_INLINE double SR_FN(mm_sum)(double s, double p, uint64_t flip,
                                             const SR_FN(mm_rounding) *q, sr_rounding mode,
                                             uint64_t w, uint64_t *flag)
{
    uint64_t u, yb;
    double y, r;
    memcpy(&yb, &p, sizeof yb);
    yb ^= flip;
    memcpy(&y, &yb, sizeof y);
    r = s + y;
    double bb = r - s;
    uint64_t inexact = (uint64_t)(((s - (r - bb)) + (y - bb)) != 0);
    /* a binary64 sum that is zero is exactly zero: IEEE 754 gives it the sign of this
       (round-to-nearest) sum, but -0 when rounding down unless both are +0 */
    uint64_t zero = (uint64_t)(r == 0);
    if (mode == SR_DOWN) {
        uint64_t sb;
        memcpy(&sb, &s, sizeof sb);
        r = zero & (uint64_t)((sb | yb) != 0) ? -0.0 : r;
    }
    memcpy(&u, &r, sizeof u);
    u = SR_FN(mm_round)(u, inexact, zero, &q->k, q->lo, q->span, q->keep, mode, w, flag);
    memcpy(&r, &u, sizeof u);
    return r;
}

#define SR_MM_WORD(MODE, w, j) ((MODE) >= SR_STOCHASTIC ? (w)[j] : 0)

/* flag ? s : r (flag 0 or 1), in integer operations: compilers vectorize it where a
   select of doubles before a conversion to float became a branch */
static SR_ALWAYS_INLINE SR_T SR_FN(mm_keep)(uint64_t flag, double s, double r)
{
    uint64_t sb, rb;
    memcpy(&sb, &s, sizeof sb);
    memcpy(&rb, &r, sizeof rb);
    rb ^= (rb ^ sb) & ((uint64_t)0 - flag);
    memcpy(&r, &rb, sizeof r);
    return (SR_T)r;      /* exact: a value of the format */
}

/* p[j] = fl(a * b[j]) for j < len; open[j] set where the exact path must decide.
   Returns whether any is. */
static uint64_t SR_FN(mm_products)(double a, const SR_T *b, double *p, uint64_t *open,
                                   sr_intp len, const SR_FN(mm_rounding) *q0,
                                   sr_rounding mode, const uint64_t *w)
{
    const SR_FN(mm_rounding) q = *q0;   /* local: no store in the loop can change it */
    uint64_t any = 0;
#define SR_MM_PRODUCTS(MODE)                                                               \
    for (sr_intp j = 0; j < len; j++) {                                                    \
        uint64_t flag, u = SR_FN(mm_product)(a, (double)b[j], &q, MODE,                    \
                                             SR_MM_WORD(MODE, w, j), &flag);               \
        open[j] = flag;                                                                    \
        any |= flag;                                                                       \
        memcpy(&p[j], &u, sizeof u);                                                       \
    }
    SR_DISPATCH_MODE(mode, SR_MM_PRODUCTS)
#undef SR_MM_PRODUCTS
    return any;
}

/* c[j] = fl(c[j] + sign p[j]) (flip: the sign bit, for subtraction), except where
   open[j] is set for the exact path: there c[j] keeps its value. Returns whether any
   is open. */
static uint64_t SR_FN(mm_sums)(SR_T *c, const double *p, uint64_t *open, sr_intp len,
                               uint64_t flip, const SR_FN(mm_rounding) *q0,
                               sr_rounding mode, const uint64_t *w)
{
    const SR_FN(mm_rounding) q = *q0;
    uint64_t any = 0;
#define SR_MM_SUMS(MODE)                                                                   \
    for (sr_intp j = 0; j < len; j++) {                                                    \
        uint64_t flag;                                                                     \
        double s = (double)c[j];                                                           \
        double r = SR_FN(mm_sum)(s, p[j], flip, &q, MODE, SR_MM_WORD(MODE, w, j), &flag);  \
        open[j] = flag;                                                                    \
        any |= flag;                                                                       \
        c[j] = SR_FN(mm_keep)(flag, s, r);                                                 \
    }
    SR_DISPATCH_MODE(mode, SR_MM_SUMS)
#undef SR_MM_SUMS
    return any;
}

#undef SR_MM_WORD

#ifdef SR_MM_FLOAT_LANES
/*
 * The binary32 fast path (binary32 data, both formats carried by binary32 with at
 * least one bit to discard, one mode): a product and the sum it feeds in one pass of
 * 32-bit lanes, twice as many per vector as the binary64 passes above. A product
 * r = RN32(a b) of small-precision values is exact (the fma error says if not); a
 * sum's error comes from TwoSum; then the same increment rule in binary32 patterns,
 * with sr_normal_decided deciding inexact results (round_body.h). An exact binary32
 * pattern rounds with the same carry whichever width rounds it (its discarded bits
 * are those of the binary64 pattern, shifted), so the results are the binary64
 * passes' bits. Products under 2^-96 (their fma error could underflow), results
 * outside the normal range (zeros apart), NaN, inf, undecided lanes: the whole chunk
 * takes the passes above instead.
 */
#define SR_F32(x) SR_PASTE3(x, _f32, SR_ISA_TAG)
#define SR_ABS32 0x7fffffffu
#define SR_MM_MIN_PRODUCT32 0x0f800000u   /* 2^-96 */

typedef struct {
    SR_F32(sr_normal_consts) k;
    uint32_t lo, span;   /* the fast range: magnitudes [lo, lo + span) */
} SR_FN(mm_rounding32);

/* Fills *q for ctx; 0 if the format needs the binary64 passes. */
static int SR_FN(mm_setup32)(const sr_context *ctx, uint32_t min_lo, SR_FN(mm_rounding32) *q)
{
    const sr_type_consts *c = &ctx->fmt.f32;
    if (!c->usable || c->shift < 1) return 0;
    q->k = SR_F32(sr_normal_setup)(c, ctx->rounding, ctx->bits);
    q->lo = (uint32_t)c->normal_bits > min_lo ? (uint32_t)c->normal_bits : min_lo;
    q->span = (uint32_t)c->max_bits + 1 - q->lo;
    return 1;
}

/* mm_round in binary32 patterns */
static SR_ALWAYS_INLINE uint32_t SR_FN(mm_round32)(uint32_t u, uint32_t inexact, uint32_t zero,
                                                   const SR_F32(sr_normal_consts) *k,
                                                   uint32_t lo, uint32_t span,
                                                   sr_rounding mode, uint64_t w, uint32_t *flag)
{
    uint32_t special = (uint32_t)(((u & SR_ABS32) - lo) >= span) & ~zero;
    uint32_t x = SR_F32(sr_normal_increment)(u, k, mode, w);
    uint32_t rem = u & k->mask;
    uint32_t undecided = (uint32_t)(rem == 0) | (uint32_t)(rem + x - k->mask <= 1);
    *flag = special | (inexact & undecided);
    return (u + x) & ~k->mask;
}

/* c[j] = fl_acc(c[j] +- fl_ctx(a b[j])) for j < len (flip: the sign bit, for
   subtraction), the former c[j] kept in old[j]. Returns whether any element needs
   the exact path: then the new c[j] are meaningless, and the caller puts old back
   and runs the binary64 passes. */
static uint32_t SR_FN(mm_fused32)(float a, const float *b, float *c, float *old,
                                  sr_intp len, uint32_t flip,
                                  const SR_FN(mm_rounding32) *qp0,
                                  const SR_FN(mm_rounding32) *qs0, sr_rounding mode,
                                  const uint64_t *wp, const uint64_t *ws)
{
    const SR_FN(mm_rounding32) qp = *qp0, qs = *qs0;   /* local: unaliased */
    uint32_t any = 0;
#define SR_MM_FUSED(MODE)                                                                  \
    for (sr_intp j = 0; j < len; j++) {                                                    \
        float bj = b[j], r = a * bj, s = c[j], y, t;                                       \
        uint32_t u, yb, sb, f1, f2;                                                        \
        uint32_t inexact = (uint32_t)(fmaf(a, bj, -r) != 0);                               \
        uint32_t zero = (uint32_t)((r == 0) & ((a == 0) | (bj == 0)));                     \
        memcpy(&u, &r, sizeof u);                                                          \
        yb = SR_FN(mm_round32)(u, inexact, zero, &qp.k, qp.lo, qp.span, MODE,              \
                               (MODE) >= SR_STOCHASTIC ? wp[j] : 0, &f1) ^ flip;           \
        memcpy(&y, &yb, sizeof y);                                                         \
        t = s + y;                                                                         \
        float bb = t - s;                                                                  \
        inexact = (uint32_t)(((s - (t - bb)) + (y - bb)) != 0);                            \
        zero = (uint32_t)(t == 0);                                                         \
        memcpy(&sb, &s, sizeof sb);                                                        \
        /* an exact zero sum: -0 when rounding down unless both are +0 (mm_sum) */         \
        if ((MODE) == SR_DOWN) t = zero & (uint32_t)((sb | yb) != 0) ? -0.0f : t;          \
        memcpy(&u, &t, sizeof u);                                                          \
        u = SR_FN(mm_round32)(u, inexact, zero, &qs.k, qs.lo, qs.span, MODE,               \
                              (MODE) >= SR_STOCHASTIC ? ws[j] : 0, &f2);                   \
        any |= f1 | f2;                                                                    \
        old[j] = s;                                                                        \
        memcpy(&c[j], &u, sizeof u);                                                       \
    }
    SR_DISPATCH_MODE(mode, SR_MM_FUSED)
#undef SR_MM_FUSED
    return any;
}

/* mm_products in binary32 lanes (for sums that need the binary64 pass): the same
   values wherever neither flags the element, and the flagged ones take the exact
   path alike. */
static uint64_t SR_FN(mm_products32)(float a, const float *b, double *p, uint64_t *open,
                                     sr_intp len, const SR_FN(mm_rounding32) *q0,
                                     sr_rounding mode, const uint64_t *w)
{
    const SR_FN(mm_rounding32) q = *q0;
    uint32_t any = 0;
#define SR_MM_PRODUCTS32(MODE)                                                             \
    for (sr_intp j = 0; j < len; j++) {                                                    \
        float bj = b[j], r = a * bj;                                                       \
        uint32_t u, flag;                                                                  \
        uint32_t inexact = (uint32_t)(fmaf(a, bj, -r) != 0);                               \
        uint32_t zero = (uint32_t)((r == 0) & ((a == 0) | (bj == 0)));                     \
        memcpy(&u, &r, sizeof u);                                                          \
        u = SR_FN(mm_round32)(u, inexact, zero, &q.k, q.lo, q.span, MODE,                  \
                              (MODE) >= SR_STOCHASTIC ? w[j] : 0, &flag);                  \
        memcpy(&r, &u, sizeof r);                                                          \
        open[j] = flag;                                                                    \
        any |= flag;                                                                       \
        p[j] = r;                                                                          \
    }
    SR_DISPATCH_MODE(mode, SR_MM_PRODUCTS32)
#undef SR_MM_PRODUCTS32
    return any;
}
#undef SR_ABS32
#endif


/* n words of stream r into w (only for a stochastic context), with the block
   generator of the context's kernel path k (every path gives the same words). */
static void SR_FN(mm_fill)(const sr_kernels *k, sr_rng *r, int stochastic, uint64_t *w,
                           sr_intp n)
{
    if (stochastic && n > 0) sr_rng_fill_k(k, r, w, (size_t)n);
}

/* The whole product (matmul.c describes the order). Returns 0, or -1 when out of
   memory (then nothing was computed or drawn). */
static int SR_FN(mm_run)(sr_context *pc, sr_context *ac, const sr_matmul_args *g,
                         unsigned *raised)
{
    const sr_intp m = g->m, kk = g->k, n = g->n;
    const int ps = sr_rounding_is_stochastic(pc->rounding);
    const int as = sr_rounding_is_stochastic(ac->rounding);
    const int one_stream = pc == ac, wide = n > SR_MATMUL_WIDE;
    const sr_kernels *pk = pc->kernels, *sk = ac->kernels;
    /* binary64 data: products below 2^-960 may have an fma error that underflows */
    const uint64_t min_product = sizeof(SR_T) == 4 ? 0 : 0x03f0000000000000u;
    const SR_FN(mm_rounding) qp = SR_FN(mm_setup)(pc, min_product), qs = SR_FN(mm_setup)(ac, 0);
    const int prs = 64 - pc->bits, ars = 64 - ac->bits;
    const uint64_t flip = g->subtract ? (uint64_t)1 << 63 : 0;
    const sr_op sum_op = g->subtract ? SR_OP_SUBTRACT : SR_OP_ADD;
#ifdef SR_MM_FLOAT_LANES
    SR_FN(mm_rounding32) qp32, qs32;
    const int products32 = SR_FN(mm_setup32)(pc, SR_MM_MIN_PRODUCT32, &qp32);
    const int lanes32 = products32 && pc->rounding == ac->rounding
                        && SR_FN(mm_setup32)(ac, 0, &qs32);
    float cold[SR_CHUNK];
#endif
    /* The words of several rows and steps ("units", in the order they are used) at
       once, up to 2 SR_MATMUL_FILL words: with one stream, unit u's n product words
       then its n sum words; with two, the units' product words, then their sum words.
       Wide rows take a chunk's two halves at a time. */
    const sr_intp per_fill = wide ? 1 : (SR_MATMUL_FILL / n > 0 ? SR_MATMUL_FILL / n : 1);
    sr_intp units_left = g->batches * m * kk, unit = 0, filled = 0;
    sr_intp nw = wide ? 2 * SR_CHUNK : 2 * n * per_fill;
    uint64_t *words = calloc((size_t)(nw > 0 ? nw : 1), sizeof *words);
    if (!words) return -1;
    double prod[SR_CHUNK];
    uint64_t open[SR_CHUNK];
    SR_T bcopy[SR_CHUNK];
    for (sr_intp t = 0; t < g->batches; t++) {
        const char *A = g->a + g->a_offsets[t], *B = g->b + g->b_offsets[t];
        char *C = g->c + g->c_offsets[t];
        if (g->zero_start)
            for (sr_intp i = 0; i < m; i++) memset(C + i * g->c_rs, 0, (size_t)n * sizeof(SR_T));
        for (sr_intp i0 = 0; i0 < m; i0 += SR_MATMUL_ROWS) {
            sr_intp i1 = m - i0 < SR_MATMUL_ROWS ? m : i0 + SR_MATMUL_ROWS;
            for (sr_intp l = 0; l < kk; l++) {
                for (sr_intp i = i0; i < i1; i++) {
                    SR_T at;
                    memcpy(&at, A + i * g->a_rs + l * g->a_cs, sizeof at);
                    const double a = (double)at;
                    SR_T *crow = (SR_T *)(void *)(C + i * g->c_rs);
                    const char *brow = B + l * g->b_rs;
                    /* one stream, wide rows: the products' words come from a copy of
                       the stream, while the stream itself skips them for the sums */
                    sr_rng pcopy, *pr = &pc->rng, *sumr = &ac->rng;
                    const uint64_t *wrow = words, *wsum = words + n;
                    if (!wide) {
                        if (unit == filled) {
                            filled = units_left < per_fill ? units_left : per_fill;
                            units_left -= filled;
                            unit = 0;
                            if (one_stream) {
                                SR_FN(mm_fill)(pk, pr, ps, words, 2 * n * filled);
                            } else {
                                SR_FN(mm_fill)(pk, pr, ps, words, n * filled);
                                SR_FN(mm_fill)(sk, sumr, as, words + n * per_fill, n * filled);
                            }
                        }
                        wrow = words + (one_stream ? 2 * n * unit : n * unit);
                        wsum = one_stream ? wrow + n : words + n * (per_fill + unit);
                        unit++;
                    } else if (one_stream && ps) {
                        pcopy = pc->rng;
                        pr = &pcopy;
                        /* 64-bit draws, as the products' (a waiting half-word dropped) */
                        for (sr_intp j0 = 0; j0 < n; j0 += SR_CHUNK)
                            SR_FN(mm_fill)(sk, sumr, 1, words, n - j0 < SR_CHUNK ? n - j0 : SR_CHUNK);
                    }
                    for (sr_intp j0 = 0; j0 < n; j0 += SR_CHUNK) {
                        sr_intp len = n - j0 < SR_CHUNK ? n - j0 : SR_CHUNK;
                        const uint64_t *wp = wrow + j0, *ws = wsum + j0;
                        if (wide) {
                            SR_FN(mm_fill)(pk, pr, ps, words, len);
                            SR_FN(mm_fill)(sk, sumr, as, words + SR_CHUNK, len);
                            wp = words;
                            ws = words + SR_CHUNK;
                        }
                        const SR_T *b = (const SR_T *)(const void *)(brow + j0 * g->b_cs);
                        if (g->b_cs != (sr_intp)sizeof(SR_T)) {   /* gather a strided row */
                            for (sr_intp j = 0; j < len; j++)
                                memcpy(&bcopy[j], brow + (j0 + j) * g->b_cs, sizeof(SR_T));
                            b = bcopy;
                        }
                        SR_T *c = crow + j0;
#ifdef SR_MM_FLOAT_LANES
                        if (lanes32) {
                            if (!SR_FN(mm_fused32)(at, b, c, cold, len, (uint32_t)(flip >> 32),
                                                   &qp32, &qs32, pc->rounding, wp, ws))
                                continue;
                            memcpy(c, cold, (size_t)len * sizeof *c);
                        }
#endif
#ifdef SR_MM_FLOAT_LANES
                        uint64_t any_open = products32
                            ? SR_FN(mm_products32)(at, b, prod, open, len, &qp32, pc->rounding, wp)
                            : SR_FN(mm_products)(a, b, prod, open, len, &qp, pc->rounding, wp);
#else
                        uint64_t any_open = SR_FN(mm_products)(a, b, prod, open, len, &qp,
                                                               pc->rounding, wp);
#endif
                        if (any_open)
                            for (sr_intp j = 0; j < len; j++)
                                if (open[j])
                                    prod[j] = sr_exact_op(SR_OP_MULTIPLY, a, (double)b[j],
                                                          &pc->fmt, pc->rounding, prs, wp[j],
                                                          raised);
                        if (SR_FN(mm_sums)(c, prod, open, len, flip, &qs, ac->rounding, ws))
                            for (sr_intp j = 0; j < len; j++)
                                if (open[j])
                                    c[j] = (SR_T)sr_exact_op(sum_op, (double)c[j], prod[j],
                                                             &ac->fmt, ac->rounding, ars,
                                                             ws[j], raised);
                    }
                }
            }
        }
    }
    free(words);
    return 0;
}
#undef SR_ABS_BITS
#undef SR_F64
#ifdef SR_MM_FLOAT_LANES
#undef SR_F32
#undef SR_MM_MIN_PRODUCT32
#endif
