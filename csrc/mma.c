/*
 * Matrix multiply-accumulate models (see mma.h for the arithmetic of every kind).
 *
 * The fused kinds work on integers: a term s * 2^e aligned to the largest exponent E
 * and truncated to F fraction bits is the integer trunc(s * 2^(e - E + F)), and the
 * step's exact sum is a 64-bit integer S standing for S * 2^(E - F), rounded once by
 * round_int. mma_dots runs every kind through one scalar step per group of L
 * products; mma_gemm runs the NVIDIA kind (MMA_FDPA_TRUNCATED) through a kernel that
 * takes 16 columns of B at a time, compiled for each instruction set (one body), and
 * the other kinds through the scalar steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mma.h"

/* ---- integer helpers ------------------------------------------------------ */

#if defined(__GNUC__)
static inline int bit_length(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }
#else
static inline int bit_length(uint64_t x)
{
    int n = 0;
    while (x) { n++; x >>= 1; }
    return n;
}
#endif

static inline uint64_t magnitude(int64_t x) { return x < 0 ? -(uint64_t)x : (uint64_t)x; }
static inline int64_t with_sign(uint64_t m, int negative)
{
    return negative ? -(int64_t)m : (int64_t)m;
}

/* trunc(x / 2^s), s >= 0: toward zero, as the truncating alignment shifts */
static inline int64_t trunc_shift(int64_t x, int s)
{
    uint64_t m = magnitude(x);
    return with_sign(s > 63 ? 0 : m >> s, x < 0);
}

/* floor(x / 2^s), s >= 0: toward minus infinity, two's complement truncation */
static inline int64_t floor_shift(int64_t x, int s)
{
    if (x >= 0) return s > 63 ? 0 : x >> s;
    uint64_t m = magnitude(x), q = s > 63 ? 0 : m >> s;
    if (s > 63 || (q << s) != m) q++;
    return -(int64_t)q;
}

/* x * 2^s for either sign of s: exact left shift, or floor */
static inline int64_t shift_floor(int64_t x, int s)
{
    return s >= 0 ? (int64_t)((uint64_t)x << s) : floor_shift(x, -s);
}

static inline uint64_t dbits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double dval(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* 2^e as a double, -1022 <= e <= 1023 */
static inline double pow2(int e) { return dval((uint64_t)(e + 1023) << 52); }

/* A finite nonzero double as m * 2^(ex - 52), 2^52 <= m < 2^53 (doubles here are
   values of types at most as wide as binary32, never binary64 subnormals). */
static inline void split_double(double x, int64_t *m, int *ex)
{
    uint64_t u = dbits(x);
    *ex = (int)((u >> 52) & 0x7ff) - 1023;
    *m = with_sign((u & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52), (u >> 63) != 0);
}

/*
 * A finite value x of type t (p bits, smallest normal 2^emin) as sig * 2^(e - p + 1):
 * e = max(floor(log2 |x|), emin), |sig| < 2^p. Zero gives sig = 0, e = emin.
 */
static inline void decode(double x, mma_type t, int32_t *sig, int32_t *e)
{
    if (x == 0) { *sig = 0; *e = t.emin; return; }
    int64_t m;
    int ex;
    split_double(x, &m, &ex);
    int E = ex < t.emin ? t.emin : ex;
    *sig = (int32_t)trunc_shift(m, 52 - (t.precision - 1) + (E - ex));
    *e = E;
}

/* ---- the output roundings ------------------------------------------------- */

typedef enum { ROUND_TRUNC, ROUND_NEAREST, ROUND_FLOOR } round_mode;
typedef struct { int precision, emin, emax; round_mode mode; } out_format;

static const out_format OUT_FORMATS[MMA_NUM_OUTS] = {
    [MMA_OUT_RZ_BINARY32] = {24, -126, 127, ROUND_TRUNC},
    [MMA_OUT_RN_BINARY32] = {24, -126, 127, ROUND_NEAREST},
    [MMA_OUT_RN_BINARY16] = {11, -14, 15, ROUND_NEAREST},
    [MMA_OUT_RZ_E8M13] = {14, -126, 127, ROUND_TRUNC},
    [MMA_OUT_BINARY64] = {53, -1022, 1023, ROUND_NEAREST},
};

/*
 * Rounds the value S * 2^q in place to `precision` significant bits (fewer below
 * 2^emin: subnormals) in the given mode. |S| < 2^62. Returns 1 when the rounded value
 * reaches 2^(emax + 1) (overflow), else 0. A value that rounds to zero leaves S = 0.
 */
static int round_int(int64_t *S, int *q, int precision, int emin, int emax, round_mode mode)
{
    if (*S == 0) return 0;
    int negative = *S < 0;
    uint64_t mag = magnitude(*S);
    int top = bit_length(mag) - 1 + *q;                  /* exponent of the leading bit */
    int quantum = (top < emin ? emin : top) - (precision - 1);
    if (quantum > *q) {
        int s = quantum - *q;
        uint64_t kept = s > 62 ? 0 : mag >> s;
        uint64_t rest = s > 62 ? mag : mag - (kept << s);
        if (mode == ROUND_NEAREST && s <= 62) {
            uint64_t half = UINT64_C(1) << (s - 1);
            if (rest > half || (rest == half && (kept & 1))) kept++;
        } else if (mode == ROUND_FLOOR && negative && rest) {
            kept++;
        }
        mag = kept;
        *q = quantum;
    }
    *S = with_sign(mag, negative);
    return mag && bit_length(mag) - 1 + *q > emax;
}

/* S * 2^q rounded into the output format, as a double (+-inf on overflow). */
static double round_out(int64_t S, int q, const out_format *f)
{
    int negative = S < 0;
    if (round_int(&S, &q, f->precision, f->emin, f->emax, f->mode))
        return negative ? -INFINITY : INFINITY;
    if (S == 0) return negative ? -0.0 : 0.0;
    return (double)S * pow2(q);   /* exact: |S| < 2^precision, q >= emin - 52 */
}

/* ---- specials ------------------------------------------------------------- */

/* What a step's non-finite terms make of its result: NaN beats everything, +inf and
   -inf together give NaN, else the infinity. */
typedef struct { int nan, pos_inf, neg_inf; } specials;

static inline void note_value(specials *sp, double x)
{
    if (isnan(x)) sp->nan = 1;
    else if (x == INFINITY) sp->pos_inf = 1;
    else if (x == -INFINITY) sp->neg_inf = 1;
}

/* the IEEE product's kind: NaN operand or inf * 0 is NaN, inf * x is a signed inf */
static inline void note_product(specials *sp, double a, double b)
{
    if (isnan(a) || isnan(b)) { sp->nan = 1; return; }
    if (isinf(a) || isinf(b)) {
        if (a == 0 || b == 0) sp->nan = 1;
        else if (signbit(a) != signbit(b)) sp->neg_inf = 1;
        else sp->pos_inf = 1;
    }
}

static inline int any_special(const specials *sp) { return sp->nan | sp->pos_inf | sp->neg_inf; }

static inline double special_result(const specials *sp)
{
    if (sp->nan || (sp->pos_inf && sp->neg_inf)) return NAN;
    return sp->pos_inf ? INFINITY : -INFINITY;
}

/* ---- one fused step, scalar ----------------------------------------------- */

/*
 * The inputs of one step: n products a[i] * b[i] and the running value c. For
 * scaled instructions, scale_a[i] and scale_b[i] are the scales of product i's
 * block (NULL otherwise). c_type: the type c is read as (C's type for the first
 * step, the output type after).
 */
typedef struct {
    const double *a, *b, *scale_a, *scale_b;
    int n;
    double c;
    mma_type c_type;
} step_in;

/* The addend's term for alignment to E with F bits: c = m * 2^(ex - 52). */
static inline int64_t addend_trunc(double c, int E, int F)
{
    int64_t m;
    int ex;
    split_double(c, &m, &ex);
    return trunc_shift(m, E - F - ex + 52);
}

static inline int addend_exponent(double c, int emin)
{
    int64_t m;
    int ex;
    split_double(c, &m, &ex);
    return ex < emin ? emin : ex;
}

/* The products a[i] b[i] for i = first, first + stride, ... < n: P[i] = s_a s_b in
   units of 2^(e[i] - F) (exact: F keeps every bit of a product), e[i] = e_a + e_b.
   Non-finite operands give meaningless values (their steps are decided before). */
static void products(const mma_model *md, const step_in *in, int first, int stride,
                     int64_t *P, int *e)
{
    const int pre_shift = md->F - (md->a.precision - 1) - (md->b.precision - 1);
    for (int i = first; i < in->n; i += stride) {
        int32_t sa, sb, ea, eb;
        decode(in->a[i], md->a, &sa, &ea);
        decode(in->b[i], md->b, &sb, &eb);
        P[i] = (int64_t)sa * sb * ((int64_t)1 << pre_shift);
        e[i] = ea + eb;
    }
}

/* MMA_FDPA_TRUNCATED (block scales, if any, are powers of two: ue8m0) */
static double step_truncated(const mma_model *md, const step_in *in)
{
    specials sp = {0, 0, 0};
    note_value(&sp, in->c);
    for (int i = 0; i < in->n; i++) {
        note_product(&sp, in->a[i], in->b[i]);
        if (in->scale_a) { note_value(&sp, in->scale_a[i]); note_value(&sp, in->scale_b[i]); }
    }
    if (any_special(&sp)) return special_result(&sp);

    int64_t P[64];
    int e[64];
    int E = in->c != 0 ? addend_exponent(in->c, in->c_type.emin) : md->e_zero;
    products(md, in, 0, 1, P, e);
    for (int i = 0; i < in->n; i++) {
        if (in->scale_a) e[i] += ilogb(in->scale_a[i]) + ilogb(in->scale_b[i]);
        if (P[i] == 0) e[i] = md->e_zero;
        if (e[i] > E) E = e[i];
    }
    int64_t S = in->c != 0 ? addend_trunc(in->c, E, md->F) : 0;
    for (int i = 0; i < in->n; i++) S += trunc_shift(P[i], E - e[i]);
    return round_out(S, E - md->F, &OUT_FORMATS[md->out]) + 0.0;   /* -0 becomes +0 */
}

/* MMA_FDPA_SCALED_GROUPS: exact group sums times (ue8m0 or ue4m3) block scales */
static double step_scaled_groups(const mma_model *md, const step_in *in)
{
    specials sp = {0, 0, 0};
    note_value(&sp, in->c);
    for (int i = 0; i < in->n; i++) {
        note_product(&sp, in->a[i], in->b[i]);
        note_value(&sp, in->scale_a[i]);
        note_value(&sp, in->scale_b[i]);
    }
    if (any_special(&sp)) return special_result(&sp);

    enum { MAX_GROUPS = 64 };
    double term[MAX_GROUPS];   /* group sum times the scales' significands: exact */
    int e[MAX_GROUPS];
    int groups = in->n / md->group;
    int E = in->c != 0 ? addend_exponent(in->c, in->c_type.emin) : md->e_zero;
    for (int g = 0; g < groups; g++) {
        const int first = g * md->group;
        double sum = 0;
        int all_zero = 1;
        for (int i = first; i < first + md->group; i++) {
            double p = in->a[i] * in->b[i];   /* exact: few-bit operands */
            sum += p;                          /* exact: small integers times 2^-2 */
            all_zero &= p == 0;
        }
        int32_t sa, sb, ea, eb;
        decode(in->scale_a[first], md->scale, &sa, &ea);
        decode(in->scale_b[first], md->scale, &sb, &eb);
        /* scale significands sa, sb in units of 2^-(p_s - 1) */
        term[g] = sum * (double)sa * (double)sb * pow2(-2 * (md->scale.precision - 1));
        e[g] = (all_zero || sa == 0 || sb == 0) ? md->e_zero : ea + eb;
        if (e[g] > E) E = e[g];
    }
    int64_t S = in->c != 0 ? addend_trunc(in->c, E, md->F) : 0;
    for (int g = 0; g < groups; g++)   /* |term| < 2^12: the scaled value is exact */
        S += (int64_t)trunc(ldexp(term[g], e[g] - E + md->F));
    return round_out(S, E - md->F, &OUT_FORMATS[md->out]) + 0.0;
}

/* Sum of the products at positions first, first + stride, ... aligned to their own
   largest exponent *E and truncated to F bits, in units of 2^(*E - F); *E = NO_TERMS
   when every product is zero (zero products take no part: MMA-Sim's e = -999). */
enum { NO_TERMS = -100000 };

static int64_t truncated_products(const mma_model *md, const step_in *in, int first,
                                  int stride, int *E)
{
    int64_t P[64];
    int e[64];
    products(md, in, first, stride, P, e);
    *E = NO_TERMS;
    for (int i = first; i < in->n; i += stride)
        if (P[i] != 0 && e[i] > *E) *E = e[i];
    int64_t S = 0;
    for (int i = first; i < in->n; i += stride)
        if (P[i] != 0) S += trunc_shift(P[i], *E - e[i]);
    return S;
}

/* MMA_FDPA_TWO_STAGE and MMA_FDPA_TWO_STAGE_SPLIT (CDNA3) */
static double step_two_stage(const mma_model *md, const step_in *in_)
{
    step_in copy = *in_, *in = &copy;
    if (md->kind == MMA_FDPA_TWO_STAGE_SPLIT && !isfinite(in->c)) {
        /* The split kind drops c below 2^(E - F - 1), and MMA-Sim (fdpa.py, gtr_fdpa)
           reads a NaN or infinite c with frexp's exponent, -1: beside a product of
           2^(F + 1) or more, such a c is dropped too. */
        int64_t P[64];
        int e[64], E_dot = NO_TERMS;
        products(md, in, 0, 1, P, e);
        for (int i = 0; i < in->n; i++)
            if (isfinite(in->a[i]) && isfinite(in->b[i]) && P[i] != 0 && e[i] > E_dot) E_dot = e[i];
        if (E_dot > md->F) copy.c = 0.0;
    }
    specials sp = {0, 0, 0};
    note_value(&sp, in->c);
    for (int i = 0; i < in->n; i++) {
        note_product(&sp, in->a[i], in->b[i]);
        double p = in->a[i] * in->b[i];   /* exact: at most 24 significant bits */
        if (isfinite(in->a[i]) && isfinite(in->b[i]) && fabs(p) >= 0x1p128)
            note_value(&sp, p > 0 ? INFINITY : -INFINITY);   /* products overflow to inf */
    }
    if (any_special(&sp)) return special_result(&sp);

    const int F = md->F, F2 = md->F2;
    int64_t S_dot;   /* units of 2^(E_dot - F) */
    int E_dot;
    if (md->kind == MMA_FDPA_TWO_STAGE) {
        S_dot = truncated_products(md, in, 0, 1, &E_dot);
    } else {   /* even and odd positions apart, then floored to the larger exponent */
        int E_even, E_odd;
        int64_t S_even = truncated_products(md, in, 0, 2, &E_even);
        int64_t S_odd = truncated_products(md, in, 1, 2, &E_odd);
        E_dot = E_even > E_odd ? E_even : E_odd;
        S_dot = (S_even ? floor_shift(S_even, E_dot - E_even) : 0) +
                (S_odd ? floor_shift(S_odd, E_dot - E_odd) : 0);
    }

    /* c: binary32, exponent normalized as frexp does, zero at emin */
    const int E_c = in->c != 0 ? addend_exponent(in->c, -126) : -126;
    const int E = E_dot > E_c ? E_dot : E_c;
    /* both in units of 2^(E - F2 - 1): the product sum floored there, c floored to
       units of 2^(E - F) (or dropped, split kind, when far below E) */
    int64_t V = S_dot ? shift_floor(S_dot, (E_dot - F) - (E - F2 - 1)) : 0;
    if (in->c != 0 && !(md->kind == MMA_FDPA_TWO_STAGE_SPLIT && E_c < E - F - 1)) {
        int64_t m;
        int ex;
        split_double(in->c, &m, &ex);
        V += floor_shift(m, (E - F) - (ex - 52)) * ((int64_t)1 << (F2 + 1 - F));
    }
    /* floored to F2 + 1 significant bits (binary32's exponent range), then to nearest */
    int q = E - F2 - 1;
    round_int(&V, &q, F2 + 1, -126, 1 << 20, ROUND_FLOOR);
    if (V == 0) return 0.0;
    return round_out(V, q, &OUT_FORMATS[md->out]);
}

/* ---- exact sums (MMA_FDPA_EXACT) ------------------------------------------ */

/* Two's complement fixed point with unit 2^WIDE_LSB: holds every product of two
   binary16/bfloat16 values (2^-266 .. 2^256) and every binary32 addend, summed. */
enum { WIDE_WORDS = 11, WIDE_LSB = -320 };
typedef struct { uint64_t w[WIDE_WORDS]; } wide;

static void wide_add(wide *acc, double x)
{
    if (x == 0) return;
    int64_t m;
    int ex;
    split_double(x, &m, &ex);
    int negative = m < 0;
    uint64_t mag = magnitude(m);
    int pos = ex - 52 - WIDE_LSB;
    while (pos < 0) { mag >>= 1; pos++; }   /* only zero bits: x is a multiple of 2^WIDE_LSB */
    int word = pos / 64, bit = pos % 64;
    uint64_t part[2] = {mag << bit, bit ? mag >> (64 - bit) : 0};
    unsigned carry = 0;   /* carry (add) or borrow (subtract) */
    for (int i = word; i < WIDE_WORDS; i++) {
        uint64_t v = i - word < 2 ? part[i - word] : 0, old = acc->w[i];
        if (!negative) {
            uint64_t s = old + v, t = s + carry;
            carry = (s < old) | (t < s);
            acc->w[i] = t;
        } else {
            uint64_t s = old - v, t = s - carry;
            carry = (old < v) | (s < carry);
            acc->w[i] = t;
        }
    }
}

/* 64 bits of |acc| starting at bit `from` (bits below 0 read as zero) */
static uint64_t wide_bits(const wide *a, int from)
{
    uint64_t r = 0;
    for (int b = 0; b < 64; b++) {
        int i = from + b;
        if (i >= 0 && i < 64 * WIDE_WORDS && ((a->w[i / 64] >> (i % 64)) & 1)) r |= UINT64_C(1) << b;
    }
    return r;
}

static double wide_round(wide *acc, const out_format *f)
{
    int negative = (acc->w[WIDE_WORDS - 1] >> 63) != 0;
    if (negative) {   /* two's complement negation */
        unsigned carry = 1;
        for (int i = 0; i < WIDE_WORDS; i++) {
            uint64_t v = ~acc->w[i] + carry;
            carry = carry && v == 0;
            acc->w[i] = v;
        }
    }
    int top = -1;
    for (int i = WIDE_WORDS - 1; i >= 0 && top < 0; i--)
        if (acc->w[i]) top = 64 * i + bit_length(acc->w[i]) - 1;
    if (top < 0) return 0.0;   /* an exact zero sum is +0 */
    /* a 62-bit window from the top, with a sticky bit for everything below it */
    int from = top - 61;
    uint64_t window = wide_bits(acc, from);
    for (int i = 0; i < from && !(window & 1); i++)
        if ((acc->w[i / 64] >> (i % 64)) & 1) window |= 1;
    return round_out(with_sign(window, negative), from + WIDE_LSB, f);
}

static double step_exact(const mma_model *md, const step_in *in)
{
    specials sp = {0, 0, 0};
    note_value(&sp, in->c);
    for (int i = 0; i < in->n; i++) note_product(&sp, in->a[i], in->b[i]);
    if (any_special(&sp)) return special_result(&sp);
    wide acc;
    memset(&acc, 0, sizeof acc);
    for (int i = 0; i < in->n; i++) wide_add(&acc, in->a[i] * in->b[i]);  /* exact */
    wide_add(&acc, in->c);
    return wide_round(&acc, &OUT_FORMATS[md->out]);
}

/* ---- IEEE kinds ------------------------------------------------------------ */

static double step_fma(const mma_model *md, const step_in *in)
{
    if (md->out == MMA_OUT_BINARY64) {
        double c = in->c;
        for (int i = 0; i < in->n; i++) c = fma(in->a[i], in->b[i], c);
        return c;
    }
    float c = (float)in->c;
    for (int i = 0; i < in->n; i++) c = fmaf((float)in->a[i], (float)in->b[i], c);
    return c;
}

/* subnormal inputs flush to +0 ... */
static inline float flush_input(float x, int emin)
{
    return fabsf(x) < ldexpf(1.0f, emin) ? 0.0f : x;
}
/* ... subnormal results to a zero of their sign */
static inline float flush_result(float x)
{
    return fabsf(x) < 0x1p-126f ? x * 0.0f : x;
}

static double step_ftz(const mma_model *md, const step_in *in)
{
    float p[64];
    for (int i = 0; i < in->n; i++)
        p[i] = flush_result(flush_input((float)in->a[i], md->a.emin) *
                            flush_input((float)in->b[i], md->b.emin));
    float c = flush_input((float)in->c, -126);   /* once per instruction */
    for (int i = 0; i < in->n; i += md->group) {
        float s = flush_result(p[i] + p[i + 1]);
        if (md->group == 4) s = flush_result(s + flush_result(p[i + 2] + p[i + 3]));
        c = flush_result(c + s);
    }
    return c;
}

static double step(const mma_model *md, const step_in *in)
{
    switch (md->kind) {
    case MMA_FDPA_TRUNCATED: return step_truncated(md, in);
    case MMA_FDPA_SCALED_GROUPS: return step_scaled_groups(md, in);
    case MMA_FDPA_TWO_STAGE:
    case MMA_FDPA_TWO_STAGE_SPLIT: return step_two_stage(md, in);
    case MMA_FDPA_EXACT: return step_exact(md, in);
    case MMA_FMA_CHAIN: return step_fma(md, in);
    case MMA_FTZ_MUL_ADD: return step_ftz(md, in);
    case MMA_NUM_KINDS: break;   /* not a kind: models are validated when made */
    }
    abort();
}

/* ---- parameters ------------------------------------------------------------ */

static const mma_type OUT_TYPES[MMA_NUM_OUTS] = {
    [MMA_OUT_RZ_BINARY32] = {24, -126}, [MMA_OUT_RN_BINARY32] = {24, -126},
    [MMA_OUT_RN_BINARY16] = {11, -14}, [MMA_OUT_RZ_E8M13] = {24, -126},   /* held in binary32 */
    [MMA_OUT_BINARY64] = {53, -1022},
};

int mma_model_check(const mma_model *md, const char **err)
{
    *err = NULL;
    if (md->kind < 0 || md->kind >= MMA_NUM_KINDS) *err = "unknown arithmetic kind";
    else if (md->out < 0 || md->out >= MMA_NUM_OUTS) *err = "unknown output rounding";
    else if (md->L < 1 || md->L > 64) *err = "L must be in 1..64";
    else if (md->k < md->L || md->k % md->L) *err = "k must be a positive multiple of L";
    else if ((md->out == MMA_OUT_BINARY64) != (md->kind == MMA_FMA_CHAIN &&
                                                md->out == MMA_OUT_BINARY64))
        *err = "binary64 output is for FMA chains";
    else if (md->kind <= MMA_FDPA_TWO_STAGE_SPLIT) {
        if (md->F < 1 || md->F > 35) *err = "F must be in 1..35";
        else if (md->kind != MMA_FDPA_SCALED_GROUPS &&
                 md->F < md->a.precision + md->b.precision - 2)
            *err = "F must keep every bit of a product";
        else if (md->kind == MMA_FDPA_TRUNCATED && md->F > 29)
            *err = "MMA_FDPA_TRUNCATED needs F <= 29 (terms are 32-bit)";
        else if (md->kind >= MMA_FDPA_TWO_STAGE && (md->F2 < md->F || md->F2 > 40))
            *err = "F2 must be in F..40";
        else if (md->kind == MMA_FDPA_SCALED_GROUPS &&
                 (md->group < 1 || md->L % md->group || md->block < md->group ||
                  md->block % md->group))
            *err = "groups must divide L and the scale block";
        else if (md->kind == MMA_FDPA_SCALED_GROUPS && md->scale.precision > 4)
            *err = "scale significands have at most 4 bits";
        else if (md->kind == MMA_FDPA_TRUNCATED && md->block && md->scale.precision != 1)
            *err = "MMA_FDPA_TRUNCATED takes power-of-two scales only";
    } else if (md->kind == MMA_FTZ_MUL_ADD && ((md->group != 2 && md->group != 4) ||
                                               md->L % md->group))
        *err = "FTZ groups are 2 or 4 and divide L";
    if (!*err && md->block && md->kind != MMA_FDPA_TRUNCATED &&
        md->kind != MMA_FDPA_SCALED_GROUPS)
        *err = "block scales are for the truncated and scaled-group kinds";
    if (!*err && md->block < 0) *err = "block must be >= 0";
    if (!*err && (md->a.precision < 1 || md->a.precision > 53 || md->b.precision < 1 ||
                  md->b.precision > 53 ||
                  (md->kind != MMA_FMA_CHAIN && (md->a.precision > 24 || md->b.precision > 24))))
        *err = "operand precision must be in 1..24 (1..53 for FMA chains)";
    return *err ? -1 : 0;
}

/* ---- chains of steps -------------------------------------------------------- */

/*
 * One element's chain over k values [k0, k1) (multiples of L): a row a[i * a_step],
 * a column b[i * b_step], read as zero from i >= k (padding); block scales likewise
 * (padding blocks read 1), starting from c.
 */
typedef struct {
    const double *a, *b, *scale_a, *scale_b;
    size_t a_step, b_step, scale_a_step, scale_b_step, k;
} chain_in;

static double chain(const mma_model *md, const chain_in *ci, size_t k0, size_t k1,
                    double c, mma_type c_type)
{
    double a[64], b[64], sa[64], sb[64];
    step_in in = {a, b, md->block ? sa : NULL, md->block ? sb : NULL, md->L, c, c_type};
    for (size_t base = k0; base < k1; base += md->L) {
        for (int i = 0; i < md->L; i++) {
            size_t kk = base + i;
            int inside = kk < ci->k;
            a[i] = inside ? ci->a[kk * ci->a_step] : 0.0;
            b[i] = inside ? ci->b[kk * ci->b_step] : 0.0;
            if (md->block) {
                size_t blk = kk / md->block;
                sa[i] = inside ? ci->scale_a[blk * ci->scale_a_step] : 1.0;
                sb[i] = inside ? ci->scale_b[blk * ci->scale_b_step] : 1.0;
            }
        }
        in.c = step(md, &in);
        in.c_type = OUT_TYPES[md->out];
    }
    return in.c;
}

int mma_dots(const mma_model *md, size_t count, size_t k, const double *a, const double *b,
             const double *c, const double *scale_a, const double *scale_b, double *d,
             const char **err)
{
    if (mma_model_check(md, err)) return -1;
    if (k % md->L) { *err = "k must be a multiple of L"; return -1; }
    if (md->block && (!scale_a || !scale_b)) { *err = "scaled instruction without scales"; return -1; }
    size_t nb = md->block ? (k + md->block - 1) / md->block : 0;
    for (size_t t = 0; t < count; t++) {
        chain_in ci = {a + t * k, b + t * k, md->block ? scale_a + t * nb : NULL,
                       md->block ? scale_b + t * nb : NULL, 1, 1, 1, 1, k};
        d[t] = chain(md, &ci, 0, k, c ? c[t] : 0.0, md->c);
    }
    return 0;
}

/* ---- the GEMM fast path (MMA_FDPA_TRUNCATED) -------------------------------- */

/* The exponent of zero operands (and of padding and of NaN/inf, whose steps are
   redone by the scalar path): a product with a zero factor has an exponent below
   ZERO_BELOW, every other product one above it (scale exponents included). */
enum { ZERO_EXP = -(1 << 20), ZERO_BELOW = -(1 << 19) };

/*
 * Operands decoded once: x = sig * 2^(e - p + 1), A's significands pre-shifted so
 * that sig_a * sig_b is the product in units of 2^(e_a + e_b - F), block scale
 * exponents added into e. special[chunk]: a NaN or infinity (operand or scale) in
 * that group of L values.
 */
typedef struct {
    int32_t *sig, *exp;
    uint8_t *special;
} decoded;

typedef struct {
    const mma_model *md;
    size_t m, n, np, kp;        /* np: n rounded up to lanes; kp: padded k */
    int lanes;                  /* the kernel's columns per panel */
    decoded A, B;               /* A: m x kp, specials m x kp/L; B: in panels of `lanes`
                                   columns, each kp x lanes (specials kp/L x lanes) */
    chain_in raw;               /* for the rare steps with specials */
} truncated_job;

static int decode_operands(const mma_model *md, const mma_gemm_args *g, truncated_job *job)
{
    const size_t m = g->m, n = g->n, k = g->k, kp = job->kp, np = job->np;
    const size_t chunks = kp / md->L;
    const int pre_shift = md->F - (md->a.precision - 1) - (md->b.precision - 1);
    const size_t nb = md->block ? (k + md->block - 1) / md->block : 0;
    job->A.sig = calloc(m * kp, sizeof(int32_t));
    job->A.exp = calloc(m * kp, sizeof(int32_t));
    job->A.special = calloc(m * chunks, 1);
    job->B.sig = calloc(kp * np, sizeof(int32_t));
    job->B.exp = calloc(kp * np, sizeof(int32_t));
    job->B.special = calloc(chunks * np, 1);
    if (!job->A.sig || !job->A.exp || !job->A.special || !job->B.sig || !job->B.exp ||
        !job->B.special)
        return -1;
    for (size_t t = 0; t < m * kp; t++) job->A.exp[t] = ZERO_EXP;
    for (size_t t = 0; t < kp * np; t++) job->B.exp[t] = ZERO_EXP;
    for (size_t i = 0; i < m; i++)
        for (size_t kk = 0; kk < k; kk++) {
            double x = g->a[i * k + kk];
            double s = md->block ? g->scale_a[i * nb + kk / md->block] : 1.0;
            if (!isfinite(x) || !isfinite(s)) { job->A.special[i * chunks + kk / md->L] = 1; continue; }
            int32_t sig, e;
            decode(x, md->a, &sig, &e);
            job->A.sig[i * kp + kk] = sig * (1 << pre_shift);
            job->A.exp[i * kp + kk] = sig ? e + (md->block ? ilogb(s) : 0) : ZERO_EXP;
        }
    for (size_t kk = 0; kk < k; kk++)
        for (size_t j = 0; j < n; j++) {
            double x = g->b[kk * n + j];
            double s = md->block ? g->scale_b[(kk / md->block) * n + j] : 1.0;
            const size_t lanes = job->lanes, panel = j / lanes, lane = j % lanes;
            if (!isfinite(x) || !isfinite(s)) {
                job->B.special[(panel * chunks + kk / md->L) * lanes + lane] = 1;
                continue;
            }
            int32_t sig, e;
            decode(x, md->b, &sig, &e);
            job->B.sig[(panel * kp + kk) * lanes + lane] = sig;
            job->B.exp[(panel * kp + kk) * lanes + lane] = sig ? e + (md->block ? ilogb(s) : 0)
                                                                 : ZERO_EXP;
        }
    return 0;
}

/* One step of element (i, j) from the raw values (steps with NaN or infinity). */
static double raw_step(const truncated_job *job, size_t i, size_t j, size_t base, double c,
                       mma_type c_type)
{
    const mma_model *md = job->md;
    const chain_in *r = &job->raw;
    const size_t nb = md->block ? (r->k + md->block - 1) / md->block : 0;
    chain_in ci = {r->a + i * r->k, r->b + j, md->block ? r->scale_a + i * nb : NULL,
                   md->block ? r->scale_b + j : NULL, 1, job->n, 1, job->n, r->k};
    return chain(md, &ci, base, base + md->L, c, c_type);
}

#if defined(__GNUC__)
#define MMA_HAVE_FAST_PATH 1
#define MMA_LANES 4
#define MMA_KERNEL truncated_rows_portable
#include "mma_kernel.h"
#undef MMA_LANES
#undef MMA_KERNEL

/* the per-ISA kernels as in kernels.c: clang ignores `#pragma GCC target` */
#if defined(__x86_64__) && !defined(SR_PORTABLE_ONLY)
#define MMA_HAVE_X86_PATHS 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#define MMA_LANES 8
#define MMA_KERNEL truncated_rows_avx2
#include "mma_kernel.h"
#undef MMA_LANES
#undef MMA_KERNEL
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), \
                             apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")
#endif
#define MMA_LANES 16
#define MMA_KERNEL truncated_rows_avx512
#include "mma_kernel.h"
#undef MMA_LANES
#undef MMA_KERNEL
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#endif /* __GNUC__ */

typedef void (*rows_fn)(const truncated_job *, size_t, size_t, const double *, double *);

/* The kernel for path isa (NULL: srround's default, sr_isa(): the widest the CPU has,
   or SRROUND_ISA), and its lanes; NULL without vector extensions (the scalar steps
   then do everything). Every path gives the same bits. */
static rows_fn truncated_kernel(const char *isa, int *lanes)
{
    (void)isa;
#ifdef MMA_HAVE_X86_PATHS
    if (!isa || sr_isa_check(isa) != 0) isa = sr_isa();
    if (strcmp(isa, "avx512") == 0) { *lanes = 16; return truncated_rows_avx512; }
    if (strcmp(isa, "avx2") == 0) { *lanes = 8; return truncated_rows_avx2; }
#endif
#ifdef MMA_HAVE_FAST_PATH
    *lanes = 4;
    return truncated_rows_portable;
#else
    *lanes = 0;
    return NULL;
#endif
}

/* ---- the GEMM ---------------------------------------------------------------- */

typedef struct {
    const mma_model *md;
    const mma_gemm_args *g;
    truncated_job job;   /* MMA_FDPA_TRUNCATED only */
    rows_fn rows;
} gemm_plan;

/* D's elements over k in [k0, k1), starting from c0 (NULL: zeros) */
static void gemm_range(const gemm_plan *plan, size_t k0, size_t k1, const double *c0,
                       double *d)
{
    const mma_model *md = plan->md;
    const mma_gemm_args *g = plan->g;
    if (plan->rows) {
        plan->rows(&plan->job, k0, k1, c0, d);
        return;
    }
    const size_t nb = md->block ? (g->k + md->block - 1) / md->block : 0;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            chain_in ci = {g->a + i * g->k, g->b + j, md->block ? g->scale_a + i * nb : NULL,
                           md->block ? g->scale_b + j : NULL, 1, g->n, 1, g->n, g->k};
            d[i * g->n + j] = chain(md, &ci, k0, k1, c0 ? c0[i * g->n + j] : 0.0, md->c);
        }
}

int mma_gemm(const mma_model *md, const mma_gemm_args *g, const char **err)
{
    if (mma_model_check(md, err)) return -1;
    if (md->block && g->k && (!g->scale_a || !g->scale_b)) {
        *err = "a scaled instruction needs scale_a and scale_b";
        return -1;
    }
    if (g->promote_every % md->k) {
        *err = "promote_every must be a multiple of the instruction's k";
        return -1;
    }
    const size_t kp = (g->k + md->k - 1) / md->k * md->k, mn = g->m * g->n;
    if (mn == 0 || kp == 0) {   /* nothing to multiply: D = C */
        for (size_t t = 0; t < mn; t++) g->d[t] = g->c ? g->c[t] : 0.0;
        return 0;
    }
    gemm_plan plan = {md, g, {0}, NULL};   /* rows == NULL: the scalar steps */
    int status = 0;
    double *partial = NULL;
    int lanes = 0;
    rows_fn fast = md->kind == MMA_FDPA_TRUNCATED ? truncated_kernel(g->isa, &lanes) : NULL;
    if (fast) {
        truncated_job *job = &plan.job;
        job->md = md;
        job->m = g->m;
        job->n = g->n;
        job->lanes = lanes;
        job->np = (g->n + lanes - 1) / lanes * lanes;
        job->kp = kp;
        job->raw = (chain_in){g->a, g->b, g->scale_a, g->scale_b, 1, g->n, 1, g->n, g->k};
        plan.rows = fast;
        if (decode_operands(md, g, job)) goto out_of_memory;
    }
    if (!g->promote_every) {
        gemm_range(&plan, 0, kp, g->c, g->d);
    } else {
        partial = malloc(mn * sizeof(double));
        if (!partial) goto out_of_memory;
        for (size_t t = 0; t < mn; t++) g->d[t] = g->c ? g->c[t] : 0.0;
        for (size_t k0 = 0; k0 < kp; k0 += g->promote_every) {
            size_t k1 = k0 + g->promote_every < kp ? k0 + g->promote_every : kp;
            gemm_range(&plan, k0, k1, NULL, partial);
            if (g->accumulate) {   /* d = d + partial, rounded in the context */
                char *args[3] = {(char *)g->d, (char *)partial, (char *)g->d};
                sr_intp dims[1] = {(sr_intp)mn}, steps[3] = {8, 8, 8};
                if (mn) sr_loop_add_f64(args, dims, steps, g->accumulate);
            } else {                /* binary32, round to nearest */
                for (size_t t = 0; t < mn; t++) g->d[t] = (float)g->d[t] + (float)partial[t];
            }
        }
    }
    goto done;
out_of_memory:
    *err = "out of memory";
    status = -1;
done:
    free(partial);
    free(plan.job.A.sig); free(plan.job.A.exp); free(plan.job.A.special);
    free(plan.job.B.sig); free(plan.job.B.exp); free(plan.job.B.special);
    return status;
}
