/*
 * Fast path for the elementwise operations, included by round_impl.h once per input
 * type and instruction set (like round_body.h). Expects SR_T, SR_FN and SR_ISA_TAG.
 * For each element, one pass computes r = RN64(exact result) and whether the exact
 * result differs from r: the TwoSum error (add, subtract; fma of binary32 data), the
 * fma-computed error of a product, the fma-computed remainder of a quotient or square
 * root (exact above 2^-960), or for binary64 fma, whether any of the terms of
 * a + b + c's error-free split is nonzero. Where r is in the format's normal range,
 * up to max, rounding r gives the right answer whatever the (less than half a
 * binary64 ulp) error, unless the error can tip a boundary (sr_normal_decided): the
 * same pass rounds r with the branch-free normal-range kernel, r kept in registers
 * (a loop per operation and mode, which compilers vectorize), and the rare undecided
 * elements, like those outside the range, go to the caller's exact per-element path
 * (arith.c). Nothing here overflows (r == max with an error is undecided), so no
 * floating-point flag is due. An exact zero result (x - x, 0 * y, ...) stays fast
 * too: rounding leaves +-0 as it is (its discarded bits are 0 and every increment is
 * at most their mask), and the operation gives it IEEE 754's sign, which for sums is
 * the round-to-nearest one but -0 when rounding down (unless both addends are +0), as
 * arith.c's exact path does.
 */
#define SR_F64(x) SR_PASTE3(x, _f64, SR_ISA_TAG)
#ifndef SR_NARROW_MARGIN
#define SR_NARROW_MARGIN 256   /* above the narrow path's 2^6 units of error (pass 1) */
#endif

#ifndef SR_SELECT_BITS_DEFINED
#define SR_SELECT_BITS_DEFINED
static inline double sr_select_bits_(uint64_t flag, double a, double b)
{
    uint64_t ab, bb, keep = (uint64_t)0 - flag;
    memcpy(&ab, &a, sizeof ab);
    memcpy(&bb, &b, sizeof bb);
    bb = (ab & keep) | (bb & ~keep);
    memcpy(&b, &bb, sizeof b);
    return b;
}

#endif

/* Returns 0 (nothing written) if the chunk does not qualify; else writes out[0..n)
   and returns 1, or 2 when some elements still need the exact path (undecided[i]
   set, out[i] left as it was: an operand that out aliases stays intact for it).
   Operands: in[k] with stride st[k], 0 (a broadcast scalar) or sizeof(SR_T); out is
   contiguous. The flags this pass raises itself (inexact, invalid from infinities
   ...) are the caller's to discard (sr_fpenv_leave).
   Elements outside the range, or undecided, only set `any` in the vectorized loops;
   a chunk with any of them is passed once more (SR_OPEN_LOOP, not vectorized: rare)
   to mark them. */
static inline int SR_FN(sr_arith_fast)(sr_op op, const char *const *in, const sr_intp *st,
                                       char *out, sr_intp n, const sr_type_consts *c,
                                       sr_rounding mode, int rshift, const uint64_t *rnd,
                                       uint64_t *undecided)
{
    const int single = sizeof(SR_T) == 4;
    /* binary64 operands: errors computed by fma are exact only above 2^-960 */
    const double tiny = 0x1p-960;
    const uint64_t min_product = 0x03f0000000000000u;   /* 2^-960 */
    const int down = mode == SR_DOWN;
    const uint64_t range_lo = op == SR_OP_MULTIPLY && !single &&
                                      c->normal_bits < min_product ? min_product
                                                                   : c->normal_bits,
                   span = c->max_bits + 1 - range_lo;
    /* the normal-range kernel needs d >= 1 discarded bits (not binary64 itself) */
    if (n > SR_CHUNK || c->shift == 0) return 0;
    /* the operations; each sets r, flag (exact result != r), zero (the exact result
       is +-0, r with its sign), maybe out_of_range */
#define SR_ZERO_SUM_SIGN(P, Q)   /* an exact zero sum P + Q when rounding down */           \
    {                                                                                      \
        uint64_t pb;     /* (one name per declaration: this text is a macro argument) */  \
        uint64_t qb;                                                                       \
        memcpy(&pb, &(P), sizeof pb);                                                      \
        memcpy(&qb, &(Q), sizeof qb);                                                      \
        r = zero & (uint64_t)down & (uint64_t)((pb | qb) != 0) ? -0.0 : r;                 \
    }
    /* SR_EXACT_SUM32(P, Q): whether r = RN64(P + Q) is inexact, for P and Q with at most
       48 significant bits (binary32 values and their products): r is exact iff r - P
       == Q and r - Q == P (computed in binary64). Exact makes both differences exact;
       else r - (P + Q) is a nonzero multiple of the smaller quantum of the two (the
       weight of its last significant bit), at least 2^5 of its binary64 ulps, which
       r - P computed (or r - Q) cannot round away. Two operations fewer than TwoSum.
       (Finite results; the others lie outside the range.) */
#define SR_EXACT_SUM32(P, Q) ((uint64_t)((r - (P)) != (Q)) | (uint64_t)((r - (Q)) != (P)))
#define SR_COMPUTE_SUM(Y)                                                                   \
    {                                                                                      \
        double yy = (Y);                                                                   \
        r = x + yy;                                                                        \
        if (single) {    /* see SR_EXACT_SUM32 */                                          \
            flag = SR_EXACT_SUM32(x, yy);                                                  \
        } else {                                                                           \
            double bb = r - x;                                                             \
            flag = ((x - (r - bb)) + (yy - bb)) != 0;                                      \
        }                                                                                  \
        zero = (uint64_t)(r == 0);    /* a zero binary64 sum is exact */                   \
        SR_ZERO_SUM_SIGN(x, yy)                                                            \
    }
#define SR_COMPUTE_PRODUCT                                                                  \
    {                                                                                      \
        r = x * y;       /* exact for binary32: their products fit in binary64 */          \
        flag = !single && fma(x, y, -r) != 0;                                              \
        zero = (uint64_t)((r == 0) & ((x == 0) | (y == 0)));                               \
    }
#define SR_COMPUTE_QUOTIENT SR_COMPUTE_QUOTIENT_OF(x / y)
#define SR_COMPUTE_QUOTIENT_OF(Q)   /* Q: x / y correctly rounded (binary64 or binary32) */ \
    {                                                                                      \
        r = (Q);                                                                           \
        flag = fma(-r, y, x) != 0;                                                         \
        zero = (uint64_t)((r == 0) & (x == 0) & (flag == 0));                              \
        out_of_range = !single && !(fabs(x) >= tiny) && x != 0;                            \
    }
#define SR_COMPUTE_ROOT                                                                     \
    {                                                                                      \
        r = sqrt(x);                                                                       \
        flag = fma(-r, r, x) != 0;                                                         \
        zero = (uint64_t)(r == 0);    /* sqrt(+-0) */                                      \
        out_of_range = !single && !(x >= tiny) && x != 0;                                  \
    }
    /* binary32 data rounded to at most 24 bits (narrow): the square root from binary32's
       (several times the throughput of binary64's) and one correction step with the
       exact remainder x - s0^2 (it fits in 53 bits for binary32 x and s0 close to
       sqrt(x)): r lies within 2^-47 sqrt(x) of it, about 2^6 binary64 ulps, so the
       rounding decides with a margin of SR_NARROW_MARGIN units (see there). */
    /* Divide, binary32 data rounded to at most 22 bits: binary32's correctly rounded
       quotient (vdivps has several times the throughput of vdivpd) lies within half a
       binary32 ulp, 2^28 binary64 units, of the exact one (strictly: a quotient of
       binary32 values is never a binary32 midpoint), and its remainder x - q y is
       exact in binary64; the rounding decides with that margin (2^28 < 2^(d - 2) for
       the d >= 31 discarded binary64 bits of such formats). Quotients outside
       binary32's normal range fail the range test: the chunk takes the binary64 pass. */
#define SR_DIVIDE_NARROW_MARGIN ((uint64_t)1 << 28)
#define SR_COMPUTE_QUOTIENT_NARROW SR_COMPUTE_QUOTIENT_OF((double)(xt / yt))
    /* flag ? A : B for doubles, in bits: a ?: on a result computed from a division
       keeps a branch (division may trap), which stops vectorization */
#define SR_SELECT(FLAG, A, B) sr_select_bits_(FLAG, A, B)
#define SR_COMPUTE_ROOT_NARROW                                                              \
    {                                                                                      \
        float s32 = sqrtf((float)xt);   /* within 2^-24 of sqrt(x) */                      \
        double s0 = s32;                                                                   \
        double rem = fma(-s0, s0, x);   /* x - s0^2, exactly */                            \
        double half_rcp = 0.5f / s32;   /* (1 + e) / (2 s0) */                             \
        flag = rem != 0;                                                                   \
        r = SR_SELECT(flag, s0 + rem * half_rcp, s0);                                      \
        zero = (uint64_t)(r == 0);      /* sqrt(+-0) */                                    \
    }
#define SR_COMPUTE_FMA                                                                      \
    {                                                                                      \
        double p = x * y;                                                                  \
        if (single) {    /* p is exact (48 bits) */                                        \
            r = p + z;                                                                     \
            flag = SR_EXACT_SUM32(p, z);                                                   \
        } else {         /* x*y = p + pe and p + z = s1 + t1, exactly */                   \
            double pe = fma(x, y, -p);                                                     \
            double s1 = p + z;                                                             \
            double bb = s1 - p;                                                            \
            double t1 = (p - (s1 - bb)) + (z - bb);                                        \
            r = fma(x, y, z);                                                              \
            flag = (pe != 0) | (t1 != 0) | (s1 != r);                                      \
            out_of_range = !(fabs(p) >= tiny) & (x != 0) & (y != 0);                       \
        }                                                                                  \
        /* r == 0 without error: exactly zero (pe is exact in range) */                    \
        zero = (uint64_t)((r == 0) & (flag == 0));                                         \
        SR_ZERO_SUM_SIGN(p, z)                                                             \
    }
    /* an operation without a fast path: every element takes the exact path */
#define SR_NO_FAST_PATH                                                                     \
    {                                                                                      \
        r = 0;                                                                             \
        flag = 0;                                                                          \
        out_of_range = 1;                                                                  \
    }
    /* strides: 0 or one element; a broadcast operand is copied out n times, so that
       one loop, which compilers vectorize, serves every combination. An operand that
       out is (in place) is copied too: the loop reads the copy, and the undecided
       elements get their operand back in out afterwards, for the exact path. */
    SR_T copies[3][SR_CHUNK];
    const SR_T *arg[3], *in_place = NULL;
    for (int j = 0; j < 3; j++) {
        arg[j] = (const SR_T *)(const void *)in[j];
        if (in[j] == out) {
            if (st[j] == 0) return 0;   /* (not from NumPy, which copies such operands) */
            memcpy(copies[j], arg[j], (size_t)n * sizeof(SR_T));
            arg[j] = in_place = copies[j];
        } else if (st[j] == 0) {
            for (sr_intp i = 0; i < n; i++) copies[j][i] = arg[j][0];
            arg[j] = copies[j];
        }
    }
    const SR_T *a = arg[0], *b = arg[1], *cc = arg[2];
    SR_T *dst = (SR_T *)(void *)out;
    SR_F64(sr_normal_consts) k = SR_F64(sr_normal_setup)(c, mode, 64 - rshift);
    /* With a margin E: the exact result lies within E units of r's last bit of r (one
       gap of the format: r's discarded bits rem in (E, 2^d - E)), where the increment
       is the same; its carry is decided unless rem + inc lies within E of 2^d. */
    uint64_t near_lo = 1, near_span = 0, carry_lo = 0, carry_span = 0;
#define SR_SET_MARGIN(E)                                                                    \
    {                                                                                      \
        near_lo = (E) + 1;                                                                 \
        near_span = k.mask - 2 * (E) - 1;                                                  \
        carry_lo = k.mask + 1 - (E);                                                       \
        carry_span = 2 * (E);                                                              \
    }
    /* one element i: the operation (r's bits u, flag) and the range test (outside) */
#define SR_OPERATE(COMPUTE)                                                                \
    SR_T xt = a[i], yt = b[i];                                                             \
    double x = (double)xt, y = (double)yt, z = (double)cc[i], r;                           \
    uint64_t u, flag, out_of_range = 0, zero;                                              \
    (void)y; (void)z; (void)xt; (void)yt;                                                  \
    COMPUTE                                                                                \
    memcpy(&u, &r, sizeof u);                                                              \
    uint64_t outside = out_of_range |                                                      \
        ((uint64_t)(((u & 0x7fffffffffffffffu) - range_lo) >= span) & (zero ^ 1));
    /* then, from u, flag, outside (the state) and the mode's increment inc: whether
       the element is left open (outside, or an error that can tip the rounding:
       !sr_normal_decided, or the margin's test), in 64-bit integers (a bool there
       stops vectorization). !sr_normal_decided: rem == 0, or rem + inc in {mask,
       mask + 1}, which (as rem + inc <= 2 mask) is (u + inc + 1)'s discarded bits
       being 0 or 1 (rem + inc == 0 has rem == 0). */
#define SR_DECIDE(MODE, MARGIN)                                                            \
    uint64_t rem = u & k.mask;                                                             \
    uint64_t open = outside | (flag &                                                      \
        (MARGIN ? (uint64_t)((rem - near_lo) > near_span) |                                \
                      (uint64_t)((rem + inc - carry_lo) <= carry_span)                     \
                : (uint64_t)(rem == 0) | (uint64_t)(((u + inc + 1) & (k.mask - 1)) == 0)));
    /* the mode's increment; for SR_STOCHASTIC that of roundings.def in one shift fewer
       (as round_body.h's SR_WORDS_LOOPS: rnd_shift >= x_shift) */
    const uint64_t rnd_top = k.rnd_mask << k.rnd_shift;
    const int rnd_down = k.rnd_shift - k.x_shift;
#define SR_INC(MODE)                                                                       \
    ((MODE) == SR_STOCHASTIC ? (~rnd[i] & rnd_top) >> rnd_down                             \
                             : SR_F64(sr_normal_increment)(u, &k, MODE,                    \
                                   sr_mode_is_stochastic(MODE) ? rnd[i] : 0))
    /* Two loops: the operation into u_of and inexact (flag), per operation; then the
       rounding, per mode. (One loop per operation and mode, r in registers, keeps too
       much alive at once: spilled registers made it slower.) Where no element of the
       chunk has an error (any_inexact == 0: the usual case for binary32 sums and
       products, whose results are mostly exact in binary64), the rounding skips the
       tests. A chunk with an element outside the range takes SR_SCALAR_LOOP instead
       (not vectorized: rare). */
    uint64_t u_of[SR_CHUNK], inexact[SR_CHUNK], any_inexact = 0, any_outside = 0;
#define SR_OPERATE_LOOP(COMPUTE)                                                           \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        SR_OPERATE(COMPUTE)                                                                \
        u_of[i] = u;                                                                       \
        inexact[i] = flag;                                                                 \
        any_inexact |= flag;                                                               \
        any_outside |= outside;                                                            \
    }
#define SR_ROUND_LOOP(MODE, CHECKED, MARGIN)                                               \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        uint64_t u = u_of[i], inc = SR_INC(MODE);                                          \
        if (CHECKED) {                                                                     \
            uint64_t flag = inexact[i], outside = 0;                                       \
            SR_DECIDE(MODE, MARGIN)                                                        \
            any |= open;                                                                   \
        }                                                                                  \
        u = (u + inc) & ~k.mask;                                                           \
        double r;                                                                          \
        memcpy(&r, &u, sizeof r);                                                          \
        dst[i] = (SR_T)r;   /* exact: the result is a value of the format */               \
    }
#define SR_OPEN_LOOP(MARGIN)   /* the chunk's open elements, marked (rare) */              \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        uint64_t u = u_of[i], inc = SR_INC(mode), flag = inexact[i], outside = 0;          \
        SR_DECIDE(mode, MARGIN)                                                            \
        undecided[i] = open;                                                               \
    }
#define SR_SCALAR_LOOP(COMPUTE)   /* everything, element by element (rare) */             \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        SR_OPERATE(COMPUTE)                                                                \
        uint64_t inc = SR_INC(mode);                                                       \
        SR_DECIDE(mode, 0)                                                                 \
        undecided[i] = open;                                                               \
        any |= open;                                                                       \
        u = (u + inc) & ~k.mask;                                                           \
        memcpy(&r, &u, sizeof r);                                                          \
        if (!open) dst[i] = (SR_T)r;                                                       \
    }
    /* `down` a constant in each loop: the other modes drop that work */
#define SR_OPERATE_ANY(COMPUTE)                                                            \
    if (down) {                                                                            \
        SR_OPERATE_LOOP(COMPUTE)                                                           \
    } else {                                                                               \
        const int down = 0;   /* shadows the variable */                                  \
        (void)down;                                                                        \
        SR_OPERATE_LOOP(COMPUTE)                                                           \
    }
#define SR_ROUND_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)            \
    case SR_##ID: SR_ROUND_LOOP(SR_##ID, 0, 0) break;
#define SR_CHECKED_CASE_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)          \
    case SR_##ID: SR_ROUND_LOOP(SR_##ID, 1, 0) break;
#define SR_CHECKED_CASE_MARGIN_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC)   \
    case SR_##ID: SR_ROUND_LOOP(SR_##ID, 1, 1) break;
#define SR_ROUND_ANY(CASE)                                                                 \
    switch (mode) {                                                                        \
        SR_ROUNDINGS(CASE, ~)                                                              \
    default: SR_UNREACHABLE();                                                             \
    }
#define SR_FAST_CHUNK(COMPUTE, MARGIN)                                                          \
    any_inexact = any_outside = 0;                                                         \
    SR_OPERATE_ANY(COMPUTE)                                                                \
    if (any_outside) {                                                                     \
        any = 1;   /* (the narrow path's: the binary64 one's is SR_SCALAR_LOOP) */         \
    } else if (!any_inexact) {                                                             \
        SR_ROUND_ANY(SR_ROUND_CASE_)                                                       \
    } else if (MARGIN) {                                                                   \
        SR_ROUND_ANY(SR_CHECKED_CASE_MARGIN_)                                              \
    } else {                                                                               \
        SR_ROUND_ANY(SR_CHECKED_CASE_)                                                     \
    }
    uint64_t any = 1;
    /* the caller points unused operands at the first one, with its stride */
    if (single && c->shift >= 29 && op == SR_OP_SQRT) {
        SR_SET_MARGIN(SR_NARROW_MARGIN)
        any = 0;
        SR_FAST_CHUNK(SR_COMPUTE_ROOT_NARROW, 1)
    } else if (single && c->shift >= 31 && op == SR_OP_DIVIDE) {
        SR_SET_MARGIN(SR_DIVIDE_NARROW_MARGIN)
        any = 0;
        SR_FAST_CHUNK(SR_COMPUTE_QUOTIENT_NARROW, 1)
    }
    if (any) {   /* operands outside the narrow path's bounds: the binary64 one */
        any = 0;
        switch (op) {   /* each operation's FAST column (operations.def) */
#define SR_FAST_CASE_(A, ID, NAME, NIN, IDENTITY, EXACT, FAST, DOC)                         \
        case SR_OP_##ID:                                                                   \
            SR_FAST_CHUNK(FAST, 0)                                                         \
            if (any_outside) {                                                             \
                any = 0;                                                                   \
                SR_SCALAR_LOOP(FAST)                                                       \
            } else if (any) {                                                              \
                SR_OPEN_LOOP(0)                                                            \
            }                                                                              \
            break;
        SR_OPERATIONS(SR_FAST_CASE_, ~)
#undef SR_FAST_CASE_
        default: SR_UNREACHABLE();
        }
    }
#undef SR_FAST_CHUNK
#undef SR_ROUND_ANY
#undef SR_ROUND_CASE_
#undef SR_CHECKED_CASE_
#undef SR_CHECKED_CASE_MARGIN_
#undef SR_INC
#undef SR_OPEN_LOOP
#undef SR_SCALAR_LOOP
#undef SR_OPERATE_ANY
#undef SR_OPERATE_LOOP
#undef SR_ROUND_LOOP
#undef SR_OPERATE
#undef SR_DECIDE
#undef SR_SET_MARGIN
#undef SR_NO_FAST_PATH
#undef SR_COMPUTE_SUM
#undef SR_COMPUTE_PRODUCT
#undef SR_COMPUTE_QUOTIENT
#undef SR_COMPUTE_QUOTIENT_OF
#undef SR_COMPUTE_ROOT
#undef SR_COMPUTE_FMA
#undef SR_COMPUTE_ROOT_NARROW
#undef SR_COMPUTE_QUOTIENT_NARROW
#undef SR_DIVIDE_NARROW_MARGIN
#undef SR_SELECT
#undef SR_ZERO_SUM_SIGN
#undef SR_EXACT_SUM32
    if (any && in_place)
        for (sr_intp i = 0; i < n; i++)
            if (undecided[i]) dst[i] = in_place[i];
    return any ? 2 : 1;
}

/* The check of one step of arith.c's two-pass sum chains ("sum chains in two
   passes" there says why): r = RN64(a + b) (the caller passes -b for a - b, which
   rounds alike), rounded with the increment x, gives the rounding of the exact sum
   when r lies in [2^emin, max] (pattern lo, span) and the sum is exact (TwoSum) or
   sr_normal_decided says its error cannot matter, or r is zero. Branch-free, so that
   loops of it vectorize. */
static inline uint64_t SR_FN(sr_chain_step_fine)(double a, double b, uint64_t x, uint64_t mask,
                                                 uint64_t lo, uint64_t span)
{
    double r = a + b;
    double bb = r - a;
    double err = (a - (r - bb)) + (b - bb);
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    uint64_t rem = u & mask;
    uint64_t in_range = (uint64_t)(((u & 0x7fffffffffffffffu) - lo) < span);
    uint64_t decided = (uint64_t)(rem != 0) & (uint64_t)((rem + x - mask) > 1);
    return (in_range & ((uint64_t)(err == 0) | decided)) | (uint64_t)(r == 0);
}

/* The checks of n steps fl(a[i] + b[i]), or fl(a[i] - b[i]) with negate, rounded with
   the increments inc[i] (the kernel table's chain_check): the first step that fails
   them, or n. Only the binary64 instantiation is used. */
static inline sr_intp SR_FN(sr_chain_check)(const double *a, const double *b,
                                            const uint64_t *inc, sr_intp n, int negate,
                                            const sr_type_consts *c)
{
    const uint64_t mask = ((uint64_t)1 << c->shift) - 1, lo = c->normal_bits,
                   span = c->max_bits + 1 - lo;
    uint64_t fine[SR_CHUNK], all = 1;
    if (n > SR_CHUNK) n = SR_CHUNK;   /* (never: the callers' chunks) */
#define SR_CHECK_LOOP(NEGATE)                                                              \
    for (sr_intp i = 0; i < n; i++) {                                                      \
        fine[i] = SR_FN(sr_chain_step_fine)(a[i], NEGATE ? -b[i] : b[i], inc[i], mask, lo, \
                                            span);                                         \
        all &= fine[i];                                                                    \
    }
    if (negate) SR_CHECK_LOOP(1) else SR_CHECK_LOOP(0)
#undef SR_CHECK_LOOP
    if (all) return n;
    sr_intp i = 0;
    while (fine[i]) i++;
    return i;
}
#undef SR_F64
