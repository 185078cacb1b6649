/*
 * Low-precision arithmetic: each operation behaves as if its exact result were
 * rounded once into the format. The exact result is carried as an unevaluated
 * sum hi + lo with hi = RN64(exact) (error-free transformations: TwoSum, TwoProd
 * by fma, exact remainders for divide and sqrt), and rounding reads lo's sign
 * and size where hi alone cannot decide. binary32 inputs are widened to binary64
 * first, which is exact.
 */
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "round_impl.h"
#include "srround.h"

static inline uint64_t dbits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double dval(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

static inline void two_sum(double a, double b, double *s, double *t)
{
    *s = a + b;
    double bb = *s - a;
    *t = (a - (*s - bb)) + (b - bb);
}

/* lo in units of 2^-64 of a gap of 2^ulp_exp, avoiding underflow: a nonzero lo too
   small to show up still makes the result inexact, so it maps to a tiny nonzero. */
static inline double scaled_lo(double lo, int ulp_exp)
{
    if (isinf(lo)) return 0x1p-900;
    int e = ilogb(lo);
    if (e + 64 - ulp_exp < -900) return 0x1p-900;
    return ldexp(lo, 64 - ulp_exp);
}

/* Moves F = floor(F) + (sticky part) by a tail whose sign alone is known: only an
   exact integer F (sticky clear) can change, by less than one unit. */
static inline void apply_tail(uint64_t *frac, int *sticky, int tail_away)
{
    if (*sticky || !tail_away) return;
    *sticky = 1;
    if (tail_away < 0) *frac -= 1;
}

/*
 * Rounds the exact value x = hi + lo + tail, where hi = RN64(x) is finite, lo is an
 * approximation of x - hi with the right sign (lo == 0 iff x == hi), and tail_away
 * is the sign of the rest, x - hi - lo, measured away from zero (0: lo is exact).
 */
static uint64_t round_dd(double hi, double lo, int tail_away, const sr_type_consts *c,
                         sr_rounding mode, int rshift, uint64_t rnd)
{
    /* lo == +-inf stands for a nonzero lo too small for binary64 (infinitesimal) */
    uint64_t bits = dbits(hi);
    if (lo == 0) return sr_round_bits_f64(bits, c, mode, rshift, rnd);
    uint64_t sign = bits & ((uint64_t)1 << 63), a = bits ^ sign;
    int neg = sign != 0;
    double lo_mag = neg ? -lo : lo;   /* lo measured away from zero */
    sr_split s = sr_split_f64(a, c);
    if (s.frac || s.sticky) {
        /* hi is strictly between two neighbours, and so is x: move frac by lo.
           (With sticky set, |x| is below 2^-64 of the gap: lo cannot matter.) */
        if (!s.sticky) {
            double L = scaled_lo(lo_mag < 0 ? -lo_mag : lo_mag, s.ulp_exp);
            if (lo_mag < 0) L = -L;
            double fl = floor(L);
            s.frac += (uint64_t)(int64_t)fl;
            s.sticky = L != fl;
            apply_tail(&s.frac, &s.sticky, tail_away);
        }
    } else if (lo_mag > 0) {
        /* hi is a neighbour; x lies just above it. */
        double L = scaled_lo(lo_mag, s.ulp_exp);
        double fl = floor(L);
        s.frac = (uint64_t)fl;
        s.sticky = L != fl;
        apply_tail(&s.frac, &s.sticky, tail_away);
    } else {
        /* hi is a neighbour; x lies just below it: split the double below hi. */
        s = sr_split_f64(a - 1, c);
        double L = scaled_lo(-lo_mag, s.ulp_exp);
        double ce = ceil(L);
        s.frac = (uint64_t)0 - (uint64_t)ce;
        s.sticky = L != ce;
        apply_tail(&s.frac, &s.sticky, tail_away);
    }
    return sr_finish_f64(s, sign, c, mode, rshift, rnd);
}

/* The exact result of an operation, as computed by the helpers below. */
typedef struct {
    double hi, lo;
    double tail;   /* sign of exact - hi - lo where lo is not exact (0: lo is exact) */
    int infinitesimal; /* +-1: lo is a nonzero too small for binary64; only its sign counts */
    int kind;      /* EXACT: hi + lo (+ tail); INFINITE: an exact infinity (x/0, inf
                      input); TINY: too small for unscaled error terms, see below */
    double hi_s, lo_s;  /* TINY: the exact result times 2^SR_TINY_SCALE, or both 0 ...
                           HUGE: half the exact result */
    double tail_s;      /* as tail, for hi_s + lo_s */
    int tiny_neg;       /* ... when even that underflows: then only the sign is kept */
} exact_result;
enum { EXACT, INFINITE, TINY, HUGE };   /* HUGE: finite, beyond DBL_MAX; hi_s, lo_s
                                           hold half of it (hi_s inf: even that is) */

/* Below this, TwoProd errors and division remainders may underflow: for |p| >=
   2^-960 the error of a product of doubles is a multiple of 2^-1064. */
#define TINY_LIMIT 0x1p-960

/* Error terms are computed only for finite results: with infinities they would be
   NaN and raise a spurious "invalid" flag, which NumPy reports as a warning. */
static inline exact_result exact_add(double a, double b)
{
    exact_result x = {0};
    x.hi = a + b;
    if (isnan(x.hi)) return x;
    if (isinf(a) || isinf(b)) { x.kind = INFINITE; return x; }
    if (isinf(x.hi)) { x.kind = HUGE; two_sum(a / 2, b / 2, &x.hi_s, &x.lo_s); return x; }
    two_sum(a, b, &x.hi, &x.lo);
    return x;
}

static inline void two_prod(double a, double b, double *p, double *e)
{
    *p = a * b;
    *e = fma(a, b, -*p);
}

static inline exact_result exact_mul(double a, double b)
{
    exact_result x = {0};
    x.hi = a * b;
    if (isnan(x.hi)) return x;
    if (isinf(a) || isinf(b)) { x.kind = INFINITE; return x; }
    if (isinf(x.hi)) {
        x.kind = HUGE;
        x.hi_s = (a / 2) * b;
        if (isfinite(x.hi_s)) two_prod(a / 2, b, &x.hi_s, &x.lo_s);
        return x;
    }
    two_prod(a, b, &x.hi, &x.lo);
    if (fabs(x.hi) < TINY_LIMIT && a != 0 && b != 0) {
        x.kind = TINY;
        x.tiny_neg = signbit(a) != signbit(b);
        double as = ldexp(a, SR_TINY_SCALE / 2), bs = ldexp(b, SR_TINY_SCALE / 2);
        two_prod(as, bs, &x.hi_s, &x.lo_s);
        if (fabs(x.hi_s) < TINY_LIMIT) x.hi_s = x.lo_s = 0;
    }
    return x;
}

/* q = RN(a / b) and lo ~ a/b - q from the exact remainder; *tail gets the sign of
   the rest (a/b is never exactly halfway between doubles, but lo's own rounding
   could make it look so). */
static inline void div_rem(double a, double b, double *q, double *lo, double *tail)
{
    *q = a / b;
    double r = fma(-*q, b, a);   /* exact remainder */
    *lo = r / b;
    *tail = fma(-*lo, b, r) * (signbit(b) ? -1.0 : 1.0);
}

static inline exact_result exact_div(double a, double b)
{
    exact_result x = {0};
    /* A tiny dividend's remainder underflows: scale both operands, same quotient. */
    if (fabs(a) < 0x1p-968 && fabs(b) < 0x1p511) {
        a = ldexp(a, SR_TINY_SCALE);
        b = ldexp(b, SR_TINY_SCALE);
    }
    x.hi = a / b;
    if (isnan(x.hi)) return x;
    if (isinf(a) || b == 0) { x.kind = INFINITE; return x; }
    if (isinf(x.hi)) {
        x.kind = HUGE;
        x.hi_s = (a / 2) / b;
        if (isfinite(x.hi_s)) div_rem(a / 2, b, &x.hi_s, &x.lo_s, &x.tail_s);
        return x;
    }
    if (isinf(b) || a == 0) return x;   /* exact zero */
    div_rem(a, b, &x.hi, &x.lo, &x.tail);
    if (fabs(x.hi) < TINY_LIMIT) {
        x.kind = TINY;
        x.tiny_neg = signbit(a) != signbit(b);
        div_rem(ldexp(a, SR_TINY_SCALE), b, &x.hi_s, &x.lo_s, &x.tail_s);
        if (fabs(x.hi_s) < TINY_LIMIT) x.hi_s = x.lo_s = 0;
    }
    return x;
}

static inline void sqrt_rem(double a, double *s, double *lo, double *tail)
{
    *s = sqrt(a);
    double r = fma(-*s, *s, a);  /* exact remainder */
    *lo = r / (2 * *s);          /* slightly off: the exact divisor is sqrt(a) + s */
    /* A square root is never exactly halfway between doubles, and s is the nearest:
       an estimate that reaches half an ulp is really just short of it. */
    double half = (*lo > 0 ? nextafter(*s, INFINITY) - *s : *s - nextafter(*s, 0)) / 2;
    *tail = fabs(*lo) >= half ? -*lo : 0;
}

static inline exact_result exact_sqrt(double a)
{
    exact_result x = {0};
    if (!(a > 0) || isinf(a)) { x.hi = sqrt(a); x.kind = isinf(a) ? INFINITE : EXACT; return x; }
    if (a < 0x1p-900) {
        /* the remainder of a tiny square root underflows: scale by 2^(2 SR_TINY_SCALE) */
        x.kind = TINY;
        sqrt_rem(ldexp(a, 2 * SR_TINY_SCALE), &x.hi_s, &x.lo_s, &x.tail_s);
        x.hi = x.hi_s;  /* any nonzero finite value: only kind matters from here */
        return x;
    }
    sqrt_rem(a, &x.hi, &x.lo, &x.tail);
    return x;
}

/* s + t + e - hi as lo + tail, for fma: lo ~ the sum, tail's sign that of the rest. */
static inline void fma_residual(double s, double t, double e, double hi, double *lo,
                                double *tail)
{
    double u1, v1, u2, v2, u3, v3;
    two_sum(s, -hi, &u1, &v1);
    two_sum(u1, t, &u2, &v2);
    two_sum(u2, e, &u3, &v3);
    two_sum(u3, v1 + v2 + v3, lo, tail);
}

/* a*b + c where |a*b| < 2^-960 (its TwoProd error may underflow). */
static inline exact_result fma_tiny_product(double a, double b, double c, double p, double e)
{
    exact_result x = {0};
    int ab_neg = signbit(a) != signbit(b);
    double as = ldexp(a, SR_TINY_SCALE / 2), bs = ldexp(b, SR_TINY_SCALE / 2);
    if (fabs(c) >= 0x1p-900) {
        /* a*b is below 2^-8 of c's ulp: hi == c and lo == a*b; the product's own
           error e (a few ulps of 2^-1074 at most) can only break a tie: its sign */
        x.hi = c;
        x.lo = p;
        x.tail = e;
        x.infinitesimal = p == 0 ? (ab_neg ? -1 : 1) : 0;
        return x;
    }
    if (fabs(as * bs) < TINY_LIMIT) {
        /* |a*b| < 2^-1472: below 2^-64 of every gap, so only its sign counts */
        if (c != 0) {
            x.hi = c;
            x.infinitesimal = ab_neg ? -1 : 1;
        } else {
            x.kind = TINY;
            x.tiny_neg = ab_neg;
            x.hi = 1;   /* any nonzero: the TINY branch reads tiny_neg only */
        }
        return x;
    }
    /* all of it tiny: redo it scaled by 2^SR_TINY_SCALE, exactly */
    double cs = ldexp(c, SR_TINY_SCALE), s, t;
    x.hi = fma(a, b, c);
    x.hi_s = fma(as, bs, cs);
    if (x.hi_s == 0) { x.hi = 0; return x; }   /* exactly zero */
    x.kind = TINY;
    x.tiny_neg = signbit(x.hi_s) != 0;
    two_prod(as, bs, &p, &e);
    two_sum(p, cs, &s, &t);
    fma_residual(s, t, e, x.hi_s, &x.lo_s, &x.tail_s);
    if (fabs(x.hi_s) < TINY_LIMIT) x.hi_s = x.lo_s = 0;
    return x;
}

static inline exact_result exact_fma(double a, double b, double c)
{
    exact_result x = {0};
    x.hi = fma(a, b, c);
    if (isnan(x.hi)) return x;
    if (isinf(a) || isinf(b) || isinf(c)) { x.kind = INFINITE; return x; }
    double p, e, s, t;
    if (a != 0 && b != 0 && ilogb(a) + ilogb(b) < -958) {
        two_prod(a, b, &p, &e);
        if (fabs(p) < TINY_LIMIT) return fma_tiny_product(a, b, c, p, e);
    }
    /* Near the top of the range a*b or RN(a*b) + c may overflow (raising flags and
       spoiling the error terms) even though the result is finite. */
    if (x.hi != 0 && (isinf(x.hi) || (a != 0 && b != 0 && ilogb(a) + ilogb(b) >= 1021) ||
                      fabs(c) >= 0x1p1022)) {
        /* Work with halves and round in the halved format. Halving is exact except
           for a subnormal c with its last bit set; that c is far below the result's
           last bit, so the lost half-bit (c - 2 (c/2)) only says which side. */
        double c2 = c / 2, lost = c - 2 * c2;
        x.kind = HUGE;
        x.hi_s = fma(a / 2, b, c2);
        if (isfinite(x.hi_s) && isfinite((a / 2) * b)) {
            two_prod(a / 2, b, &p, &e);
            two_sum(p, c2, &s, &t);
            fma_residual(s, t, e, x.hi_s, &x.lo_s, &x.tail_s);
            if (lost != 0) {
                if (x.lo_s == 0) x.lo_s = copysign(INFINITY, lost);   /* infinitesimal */
                else if (x.tail_s == 0) x.tail_s = lost;
            }
        }
        return x;
    }
    /* x.hi == 0 with these sizes: the exact result is zero (fix_zero_sum signs it) */
    two_prod(a, b, &p, &e);
    two_sum(p, c, &s, &t);
    fma_residual(s, t, e, x.hi, &x.lo, &x.tail);   /* exact = s + t + e */
    return x;
}

/* The sign of a tail, measured away from zero relative to hi. */
static inline int tail_away(double tail, double hi)
{
    int t = (tail > 0) - (tail < 0);
    return signbit(hi) ? -t : t;
}

/* Rounds an exact result; returns the binary64 value of the rounded result. */
static inline double round_exact(exact_result x, const sr_format *f, sr_rounding mode,
                                 int rshift, uint64_t rnd)
{
    const sr_type_consts *c = &f->f64;
    if (isnan(x.hi)) return x.hi;
    if (x.kind == INFINITE) return dval((dbits(x.hi) & ((uint64_t)1 << 63)) | c->inf_result);
    if (x.kind == HUGE) {
        /* Beyond DBL_MAX. If half of it is a binary64 number, round that in the halved
           format (it can still come back to max, e.g. under stochastic rounding);
           else it is beyond every format's max + spacing: overflow. */
        if (isfinite(x.hi_s) && f->f64_half.usable)
            return ldexp(dval(round_dd(x.hi_s, x.lo_s, tail_away(x.tail_s, x.hi_s),
                                       &f->f64_half, mode, rshift, rnd)), 1);
        int neg = signbit(x.hi) != 0;
        uint64_t r = sr_overflows_outward(mode, neg) ? c->inf_result : c->max_bits;
        return dval(((uint64_t)neg << 63) | r);
    }
    if (x.kind == TINY) {
        if (x.hi_s != 0 && f->f64_scaled.usable)
            return ldexp(dval(round_dd(x.hi_s, x.lo_s, tail_away(x.tail_s, x.hi_s),
                                       &f->f64_scaled, mode, rshift, rnd)),
                         -SR_TINY_SCALE);
        /* |exact| is far below 2^-64 of the smallest gap: only its sign and the fact
           that it is nonzero matter. */
        int away = sr_round_away(mode, 0, 1, 0, x.tiny_neg, rnd, rshift);
        return dval(((uint64_t)x.tiny_neg << 63) | (away ? c->gap_bits : 0));
    }
    double lo = x.infinitesimal ? x.infinitesimal * (double)INFINITY : x.lo;
    return dval(round_dd(x.hi, lo, tail_away(x.tail, x.hi), c, mode, rshift, rnd));
}

/* The flags an operation on a, b, c (unused operands repeat a) raises, from its exact
   result x and its rounded result r: as IEEE 754 arithmetic in the format would,
   except underflow and inexact, which NumPy ignores by default and which would cost
   a test on every element. */
static inline unsigned op_flags(exact_result x, double r, double a, double b, double c)
{
    if (isnan(x.hi)) return isnan(a) || isnan(b) || isnan(c) ? 0 : SR_RAISE_INVALID;
    if (x.kind == INFINITE) return isinf(a) || isinf(b) || isinf(c) ? 0 : SR_RAISE_DIVBYZERO;
    return isfinite(r) ? 0 : SR_RAISE_OVERFLOW;
}

/* The flags of a step r = fl(a op b) of a sum or product chain: only results that
   are not finite raise any. */
static inline unsigned chain_flags(double a, double b, double r)
{
    if (isfinite(r)) return 0;
    if (isnan(r)) return isnan(a) || isnan(b) ? 0 : SR_RAISE_INVALID;
    return isinf(a) || isinf(b) ? 0 : SR_RAISE_OVERFLOW;
}

/* IEEE 754: an exact zero sum is +0, but -0 when rounding down (unless both addends
   are +0). Hardware addition already gives the rounding-to-nearest sign. */
static inline exact_result fix_zero_sum(exact_result x, double a, double b, sr_rounding mode)
{
    if (x.hi == 0 && x.lo == 0 && mode == SR_DOWN && x.kind == EXACT &&
        !(a == 0 && !signbit(a) && b == 0 && !signbit(b)))
        x.hi = -0.0;
    return x;
}

static inline exact_result op_add(double a, double b, sr_rounding m)
{
    return fix_zero_sum(exact_add(a, b), a, b, m);
}
static inline exact_result op_subtract(double a, double b, sr_rounding m)
{
    return fix_zero_sum(exact_add(a, -b), a, -b, m);
}
static inline exact_result op_multiply(double a, double b, sr_rounding m)
{
    (void)m;
    return exact_mul(a, b);
}
static inline exact_result op_divide(double a, double b, sr_rounding m)
{
    (void)m;
    return exact_div(a, b);
}
static inline exact_result op_fma(double a, double b, double c, sr_rounding m)
{
    /* a*b is an exact +-0 when a or b is zero; its sign is the product's */
    double ab_zero_sign = (a == 0 || b == 0) ? a * b : 1.0;
    return fix_zero_sum(exact_fma(a, b, c), ab_zero_sign, c, m);
}
static inline exact_result op_sqrt(double a, sr_rounding m)
{
    (void)m;
    return exact_sqrt(a);
}

/* ---- sequential sums -----------------------------------------------------------
 * Reductions and compensated sums are chains s <- fl(s op x): one rounded
 * operation per step, each depending on the last, so they run one element at a
 * time with the running value in a register. A step takes the branch-free
 * normal-range kernel whenever the exact result is a binary64 number in the
 * format's normal range (the common case), else the general exact path. */
typedef struct {
    sr_context *ctx;
    sr_normal_consts_f64 k;
    uint64_t lo, span;     /* the fast kernel's range: [lo, lo + span) */
    int rshift;
} chain;

static inline chain chain_setup(sr_context *ctx)
{
    chain ch;
    const sr_type_consts *c = &ctx->fmt.f64;
    ch.ctx = ctx;
    ch.k = sr_normal_setup_f64(c, ctx->rounding, ctx->bits);
    ch.lo = c->normal_bits;
    /* no fast steps for binary64 itself: the normal-range kernel needs d >= 1 */
    ch.span = c->shift ? 0x7ff0000000000000u - ch.lo : 0;
    ch.rshift = 64 - ctx->bits;
    return ch;
}

/* (bits(r) + x) & clear, as a double. With SSE2 (every x86-64) the integer steps run
   in the SSE register that holds r: moving r to a general register and back would
   put two slow transfers on the chain of a reduction's steps (it ran at about half
   the speed on the machine of bench/README.md). */
static inline double add_to_bits(double r, uint64_t x, uint64_t clear)
{
#if defined(__SSE2__)
    __m128i v = _mm_castpd_si128(_mm_set_sd(r));
    v = _mm_and_si128(_mm_add_epi64(v, _mm_cvtsi64_si128((long long)x)),
                      _mm_cvtsi64_si128((long long)clear));
    return _mm_cvtsd_f64(_mm_castsi128_pd(v));
#else
    return dval((dbits(r) + x) & clear);
#endif
}

/* Round to nearest even the same way: the increment 2^(d-1) - 1 + (last kept bit)
   is computed in the SSE register too (for formats with p >= 2, parity_offset 0). */
static inline double nearest_in_register(double r, const sr_normal_consts_f64 *k)
{
#if defined(__SSE2__)
    __m128i v = _mm_castpd_si128(_mm_set_sd(r));
    __m128i last = _mm_and_si128(_mm_srl_epi64(v, _mm_cvtsi32_si128(k->d)),
                                 _mm_cvtsi64_si128(1));
    __m128i x = _mm_add_epi64(last, _mm_cvtsi64_si128((long long)(k->half - 1)));
    v = _mm_and_si128(_mm_add_epi64(v, x), _mm_cvtsi64_si128((long long)~k->mask));
    return _mm_cvtsd_f64(_mm_castsi128_pd(v));
#else
    uint64_t u = dbits(r);
    return dval((u + k->half - 1 + ((u >> k->d) & 1)) & ~k->mask);
#endif
}

/* Modes whose increment does not depend on the value being rounded: their steps can
   stay in the floating-point register (add_to_bits). */
static inline int increment_is_fixed(sr_rounding mode)
{
    return mode == SR_STOCHASTIC || mode == SR_STOCHASTIC_EQUAL || mode == SR_TOWARD_ZERO ||
           mode == SR_NEAREST_AWAY;
}

/* fl(a op b), op add or multiply; for binary32 data, a and b are binary32 values */
static inline double chain_step(const chain *ch, sr_op op, double a, double b, int f32,
                                sr_rounding mode, uint64_t rnd)
{
    double r = op == SR_OP_MULTIPLY ? a * b : a + b;
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    /* A binary64 sum that is zero is exactly zero, and IEEE 754's sign for it (+0,
       or -0 from two -0) is right in every mode but down: common in compensated
       sums (a correction term of 0), so it skips the exact path. */
    if (op != SR_OP_MULTIPLY && mode != SR_DOWN && r == 0) return r;
    if (((u & 0x7fffffffffffffffu) - ch->lo) < ch->span) {
        double err;
        if (op == SR_OP_MULTIPLY) {
            err = f32 ? 0 : fma(a, b, -r);   /* binary32 products are exact */
        } else {
            double bb = r - a;
            err = (a - (r - bb)) + (b - bb);
        }
        uint64_t x = sr_normal_increment_f64(u, &ch->k, mode, rnd);
        if (err == 0 || sr_normal_decided_f64(u, x, &ch->k)) {
            /* overflow is rare: a branch keeps its test off the chain of steps */
            uint64_t y = (u + x) & ~ch->k.mask;
            if ((y & 0x7fffffffffffffffu) > ch->k.max_bits) return dval(sr_normal_overflow_f64(y, &ch->k));
            if (increment_is_fixed(mode)) return add_to_bits(r, x, ~ch->k.mask);
            if (mode == SR_NEAREST && ch->k.parity_offset == 0)
                return nearest_in_register(r, &ch->k);
            return dval(y);
        }
    }
    exact_result e = op == SR_OP_MULTIPLY ? op_multiply(a, b, mode) : op_add(a, b, mode);
    return round_exact(e, &ch->ctx->fmt, mode, ch->rshift, rnd);
}

/* ctx.add.reduce / ctx.multiply.reduce: NumPy passes the accumulator as both first
   input and output (stride 0). The flags: a step raises one only when its result is
   not finite, and such a result persists to the end of the chunk (+-inf and NaN
   stay so; saturating formats never reach them from finite values). So only chunks
   that end that way are checked, by running them again (same words, same steps):
   no test on the chain of dependent steps. */
#define SR_REDUCE_LOOP(T, MODE, CHECK)                                                     \
    for (sr_intp i = 0; i < m; i++, in += stride) {                                        \
        T xi;                                                                              \
        memcpy(&xi, in, sizeof xi);                                                        \
        double before = acc;                                                               \
        acc = chain_step(&ch, op, acc, (double)xi, sizeof(T) == 4, MODE, rnd[i]);          \
        if (CHECK) raised |= chain_flags(before, (double)xi, acc);                         \
    }

#define SR_DEFINE_REDUCE(T)                                                                \
    static unsigned reduce_##T(sr_op op, char **args, sr_intp n, const sr_intp *steps,     \
                               sr_context *ctx)                                            \
    {                                                                                      \
        chain ch = chain_setup(ctx);                                                       \
        unsigned raised = 0;                                                               \
        uint64_t rnd[SR_CHUNK] = {0};                                                      \
        const char *in = args[1];                                                          \
        sr_intp stride = steps[1];                                                         \
        T acc0;                                                                            \
        memcpy(&acc0, args[0], sizeof acc0);                                               \
        double acc = acc0;                                                                 \
        for (sr_intp m; n > 0; n -= m) {                                                   \
            m = n < SR_CHUNK ? n : SR_CHUNK;                                               \
            if (sr_rounding_is_stochastic(ctx->rounding))                                  \
                sr_context_draw(ctx, rnd, (size_t)m);                                      \
            const char *chunk_in = in;                                                     \
            double chunk_acc = acc;                                                        \
            SR_DISPATCH_MODE(ctx->rounding, SR_REDUCE_STEP_##T)                            \
            if (!isfinite(acc) && !isnan(chunk_acc)) {   /* NaN + x raises nothing */      \
                in = chunk_in;                                                             \
                acc = chunk_acc;                                                           \
                SR_DISPATCH_MODE(ctx->rounding, SR_REDUCE_CHECK_##T)                       \
            }                                                                              \
        }                                                                                  \
        T out = (T)acc;                                                                    \
        memcpy(args[2], &out, sizeof out);                                                 \
        return raised;                                                                     \
    }

/* Kahan's compensated summation with every operation rounded into the format:
       y = fl(x_i - c);  t = fl(s + y);  c = fl(fl(t - s) - y);  s = t
   Four rounded operations, four random words per element, in that order. */
#define SR_KAHAN_LOOP(T, MODE)                                                             \
    for (sr_intp i = 0; i < m; i++, in += stride) {                                        \
        T xi;                                                                              \
        memcpy(&xi, in, sizeof xi);                                                        \
        const uint64_t *w = rnd + 4 * i;                                                   \
        double y = chain_step(&ch, SR_OP_ADD, (double)xi, -c, single, MODE, w[0]);         \
        double t = chain_step(&ch, SR_OP_ADD, s, y, single, MODE, w[1]);                   \
        double ts = chain_step(&ch, SR_OP_ADD, t, -s, single, MODE, w[2]);                 \
        double c_next = chain_step(&ch, SR_OP_ADD, ts, -y, single, MODE, w[3]);            \
        if (!isfinite(y) || !isfinite(t) || !isfinite(ts) || !isfinite(c_next))             \
            raised |= chain_flags((double)xi, -c, y) | chain_flags(s, y, t) |              \
                      chain_flags(t, -s, ts) | chain_flags(ts, -y, c_next);                \
        c = c_next;                                                                        \
        s = t;                                                                             \
    }

#define SR_DEFINE_KAHAN(T)                                                                 \
    double sr_sum_kahan_##T(sr_context *ctx, const char *in, sr_intp n, sr_intp stride)  \
    {                                                                                      \
        chain ch = chain_setup(ctx);                                                       \
        const int single = sizeof(T) == 4;                                                 \
        uint64_t rnd[4 * SR_CHUNK] = {0};                                                  \
        double s = 0, c = 0;                                                               \
        unsigned raised = 0;                                                               \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        for (sr_intp m; n > 0; n -= m) {                                                   \
            m = n < SR_CHUNK ? n : SR_CHUNK;                                               \
            if (sr_rounding_is_stochastic(ctx->rounding))                                  \
                sr_context_draw(ctx, rnd, (size_t)(4 * m));                                \
            SR_DISPATCH_MODE(ctx->rounding, SR_KAHAN_STEP_##T)                             \
        }                                                                                  \
        sr_fpenv_leave(caller, raised);                                                    \
        return s;                                                                          \
    }

typedef float f32;
typedef double f64;
#define SR_REDUCE_STEP_f32(MODE) SR_REDUCE_LOOP(f32, MODE, 0)
#define SR_REDUCE_STEP_f64(MODE) SR_REDUCE_LOOP(f64, MODE, 0)
#define SR_REDUCE_CHECK_f32(MODE) SR_REDUCE_LOOP(f32, MODE, 1)
#define SR_REDUCE_CHECK_f64(MODE) SR_REDUCE_LOOP(f64, MODE, 1)
#define SR_KAHAN_STEP_f32(MODE) SR_KAHAN_LOOP(f32, MODE)
#define SR_KAHAN_STEP_f64(MODE) SR_KAHAN_LOOP(f64, MODE)
SR_DEFINE_REDUCE(f32)
SR_DEFINE_REDUCE(f64)
SR_DEFINE_KAHAN(f32)
SR_DEFINE_KAHAN(f64)

/* Whether an input overlaps the output other than element for element: then each
   output may feed a later input (NumPy's accumulate does this on purpose), and the
   two-pass fast path, which reads every input first, must not run. */
static inline int shifted_overlap(char *const *p, int nargs, const char *out, sr_intp bytes)
{
    for (int k = 0; k < nargs; k++) {
        sr_intp d = p[k] - out;
        if (d != 0 && d > -bytes && d < bytes) return 1;
    }
    return 0;
}

/* One loop per (operation, input type): chunks of SR_CHUNK elements share one draw.
   Contiguous or broadcast operands try the vectorized fast path first (the
   kernel table's arith_*), and its undecided elements, or whole chunks it declines,
   take the exact path: EXACT, an exact_result computed from the loaded operands
   a, b, c (unused ones alias a). add and multiply also serve reductions. */
#define SR_DEFINE_LOOP(NAME, T, NARGS, OP, EXACT)                                          \
    void sr_loop_##NAME##_##T(char **args, const sr_intp *dims, const sr_intp *steps,     \
                              void *data)                                                  \
    {                                                                                      \
        sr_context *ctx = data;                                                            \
        sr_rounding mode = ctx->rounding;                                                  \
        int rshift = 64 - ctx->bits, stochastic = sr_rounding_is_stochastic(mode);         \
        sr_op op = OP;                                                                     \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        unsigned raised = 0;                                                               \
        if ((op == SR_OP_ADD || op == SR_OP_MULTIPLY) && args[0] == args[2] &&             \
            steps[0] == 0 && steps[2] == 0) {                                              \
            raised = reduce_##T(op, args, dims[0], steps, ctx);                            \
            sr_fpenv_leave(caller, raised);                                                \
            return;                                                                        \
        }                                                                                  \
        sr_arith_chunk_fn fast = sr_kernels_active()->arith_##T;                           \
        if (steps[NARGS] != sizeof(T)) fast = NULL;                                        \
        for (int k = 0; k < NARGS; k++)                                                    \
            if (steps[k] != 0 && steps[k] != sizeof(T)) fast = NULL;                       \
        uint64_t rnd[SR_CHUNK] = {0};                                                      \
        uint64_t undecided[SR_CHUNK];                                                      \
        char *p[4];                                                                        \
        sr_intp st[3];                                                                     \
        for (int k = 0; k < 3; k++) {   /* operands beyond NARGS alias the first */        \
            p[k] = args[k < NARGS ? k : 0];                                                \
            st[k] = steps[k < NARGS ? k : 0];                                              \
        }                                                                                  \
        p[3] = args[NARGS];                                                                \
        for (sr_intp n = dims[0]; n > 0;) {                                                \
            sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;                                       \
            if (stochastic) sr_context_draw(ctx, rnd, (size_t)m);                          \
            n -= m;                                                                        \
            int done = fast && !shifted_overlap(p, NARGS, p[3], m * (sr_intp)sizeof(T)) ?  \
                fast(op, (const char *const *)p, st, p[3], m, &ctx->fmt.f64, mode, rshift, \
                     rnd, undecided, &raised) : 0;                                         \
            for (sr_intp i = 0; done != 1 && i < m; i++) {                                 \
                if (done == 2 && !undecided[i]) continue;                                  \
                T a, b, c;                                                                 \
                memcpy(&a, p[0] + i * st[0], sizeof a);                                    \
                memcpy(&b, p[1] + i * st[1], sizeof b);                                    \
                memcpy(&c, p[2] + i * st[2], sizeof c);                                    \
                (void)b; (void)c;                                                          \
                exact_result x = EXACT;                                                    \
                double r = round_exact(x, &ctx->fmt, mode, rshift, rnd[i]);                \
                raised |= op_flags(x, r, a, b, c);                                         \
                T rt = (T)r;        /* exact: a value of the format */                     \
                memcpy(p[3] + i * steps[NARGS], &rt, sizeof rt);                           \
            }                                                                              \
            for (int k = 0; k < 3; k++) p[k] += m * st[k];                                 \
            p[3] += m * steps[NARGS];                                                      \
        }                                                                                  \
        sr_fpenv_leave(caller, raised);                                                    \
    }

#define SR_ALL_OPS(T)                                                                      \
    SR_DEFINE_LOOP(add, T, 2, SR_OP_ADD, op_add(a, b, mode))                               \
    SR_DEFINE_LOOP(subtract, T, 2, SR_OP_SUBTRACT, op_subtract(a, b, mode))                \
    SR_DEFINE_LOOP(multiply, T, 2, SR_OP_MULTIPLY, op_multiply(a, b, mode))                \
    SR_DEFINE_LOOP(divide, T, 2, SR_OP_DIVIDE, op_divide(a, b, mode))                      \
    SR_DEFINE_LOOP(fma, T, 3, SR_OP_FMA, op_fma(a, b, c, mode))                            \
    SR_DEFINE_LOOP(sqrt, T, 1, SR_OP_SQRT, op_sqrt(a, mode))

SR_ALL_OPS(f32)
SR_ALL_OPS(f64)
