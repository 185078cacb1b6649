/*
 * Low-precision arithmetic: each operation behaves as if its exact result were
 * rounded once into the format. The exact result is carried as an unevaluated
 * sum hi + lo with hi = RN64(exact) (error-free transformations: TwoSum, TwoProd
 * by fma, exact remainders for divide and sqrt), and rounding reads lo's sign
 * and size where hi alone cannot decide. binary32 inputs are widened to binary64
 * first, which is exact.
 */
#include <math.h>
#include "round_impl.h"
#if SR_USE_SSE2
#include <emmintrin.h>
#endif
#include "srround.h"

static inline uint64_t dbits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double dval(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

static inline void two_sum(double a, double b, double *s, double *t)
{
    *s = a + b;
    double bb = *s - a;
    *t = (a - (*s - bb)) + (b - bb);
}

static inline void two_prod(double a, double b, double *p, double *e)
{
    *p = a * b;
    *e = fma(a, b, -*p);
}

static inline int sign_of(double x) { return (x > 0) - (x < 0); }

/* The exact sign of t[0] + ... + t[n-1], n <= 16, barring overflow: the sum as a
   nonoverlapping expansion (Shewchuk's Grow-Expansion with zero elimination, which
   is exact), whose largest component carries the sign. Only for rare decisions. */
static int sign_of_sum(const double *t, int n)
{
    double e[16];
    int m = 0;
    for (int i = 0; i < n; i++) {
        double q = t[i];
        int k = 0;
        for (int j = 0; j < m; j++) {
            double sum, err;
            two_sum(q, e[j], &sum, &err);
            if (err != 0) e[k++] = err;
            q = sum;
        }
        if (q != 0) e[k++] = q;
        m = k;
    }
    return m ? sign_of(e[m - 1]) : 0;
}

/* An integer-valued double in (-2^64, 2^64) modulo 2^64 (no out-of-range casts). */
static inline uint64_t wrap_u64(double f)
{
    return f >= 0 ? (uint64_t)f : (uint64_t)0 - (uint64_t)(-f);
}

/* x 2^e, rounded as ldexp rounds it; a multiplication (no library call) where 2^e is
   a normal double. */
static inline double mul_pow2(double x, int e)
{
    if (e < -1022 || e > 1023) return ldexp(x, e);
    return x * dval((uint64_t)(e + 1023) << 52);
}

/* lo in units of 2^-64 of a gap of 2^ulp_exp, avoiding underflow: a nonzero lo too
   small to show up still makes the result inexact, so it maps to a tiny nonzero. */
static inline double scaled_lo(double lo, int ulp_exp)
{
    if (isinf(lo)) return 0x1p-900;
    int e = ilogb(lo);
    if (e + 64 - ulp_exp < -900) return 0x1p-900;
    return mul_pow2(lo, 64 - ulp_exp);
}

/*
 * What lies below hi. For sums and products lo is exact (LO_EXACT; a tail may add
 * the sign of a rest, less than a unit of the fraction). For fma, exact - hi is
 * often lo + tail exactly (LO_PAIR). Else, for quotients, square roots and fma, lo is
 * only about RN(exact - hi): then the operands are kept, so that a 64-bit fraction
 * that lo leaves in doubt can be settled exactly (residual_floor).
 */
typedef enum { LO_EXACT, LO_PAIR, LO_QUOTIENT, LO_ROOT, LO_FMA } lo_kind;
typedef struct {
    lo_kind kind;
    double a, b, c;   /* hi = RN(a / b) or RN(sqrt(a)), with c = a - b hi or a - hi^2
                         (exact); or hi = RN(a b + c) */
    double lost;      /* fma of halves: the exact result has a further lost / 2 (its sign) */
} residual;

/* An approximation of exact - hi - lo, to about 2^-45 of itself and 2^-100 of lo. */
static double residual_refine(const residual *res, double hi, double lo, double tail)
{
    switch (res->kind) {
    case LO_QUOTIENT:     /* remainders of a division are exact (no underflow here) */
        return fma(-lo, res->b, res->c) / res->b;
    case LO_ROOT:         /* sqrt(a) = hi + d with d (2 hi + d) = c, d ~ lo */
        return (fma(-2 * hi, lo, res->c) - lo * lo) / (2 * hi);
    case LO_FMA: case LO_PAIR: return tail;   /* the error of fma_residual's last sum */
    case LO_EXACT: return 0;
    default: SR_UNREACHABLE();
    }
}

/* sign(exact - hi - (m1 + m2) 2^-k), m1 and m2 integer-valued doubles, exactly.
   Each case scales its terms so that every product is exact (nothing underflows or
   overflows). */
static int residual_compare(const residual *res, double hi, double m1, double m2, int k)
{
    double t[16];
    switch (res->kind) {
    case LO_QUOTIENT: {   /* sign(a - b hi - b (m1 + m2) 2^-k) sign(b), over 2^ilogb(a) */
        int ea = ilogb(res->a), eb = ilogb(res->b);
        double b = ldexp(res->b, -eb);
        t[0] = ldexp(res->a, -ea);
        two_prod(-b, ldexp(hi, eb - ea), &t[1], &t[2]);
        two_prod(-b, ldexp(m1, eb - ea - k), &t[3], &t[4]);
        two_prod(-b, ldexp(m2, eb - ea - k), &t[5], &t[6]);
        return sign_of_sum(t, 7) * (res->b < 0 ? -1 : 1);
    }
    case LO_ROOT: {       /* sign(a - (hi + d1 + d2)^2), over 2^(2 ilogb(hi)) */
        int e = ilogb(hi);
        double h = ldexp(hi, -e), d1 = ldexp(m1, -e - k), d2 = ldexp(m2, -e - k);
        t[0] = ldexp(res->a, -2 * e);
        two_prod(-h, h, &t[1], &t[2]);
        two_prod(-2 * h, d1, &t[3], &t[4]);
        two_prod(-2 * h, d2, &t[5], &t[6]);
        two_prod(-d1, d1, &t[7], &t[8]);
        two_prod(-2 * d1, d2, &t[9], &t[10]);
        two_prod(-d2, d2, &t[11], &t[12]);
        return sign_of_sum(t, 13);
    }
    case LO_FMA: {        /* a b + c - hi - ... as p + e + c - ...; the terms of a tiny
                             result are multiples of 2^-110 of it at most, so scaling
                             them up toward it is exact */
        int up = k > 1000 ? k - 1000 : 0;
        double a = res->a, b = res->b;
        if (ilogb(a) <= ilogb(b)) a = ldexp(a, up);
        else b = ldexp(b, up);
        two_prod(a, b, &t[0], &t[1]);
        t[2] = ldexp(res->c, up);
        t[3] = -ldexp(hi, up);
        t[4] = -ldexp(m1, up - k);
        t[5] = -ldexp(m2, up - k);
        int sg = sign_of_sum(t, 6);
        return sg ? sg : sign_of(res->lost);
    }
    case LO_EXACT: case LO_PAIR: return -sign_of(m1 + m2);   /* not used: lo is exact */
    default: SR_UNREACHABLE();
    }
}

/* residual_floor where lo is not exact; L = sigma lo 2^k, fl = floor(L). */
static uint64_t residual_floor_inexact(double hi, double lo, double tail,
                                       const residual *res, int sigma, int k, int *inexact,
                                       double L, double fl)
{
    *inexact = 1;
    /* |v - L| <= |L| 2^-51: L's floor holds unless L is that close to an integer */
    if (fabs(L) < 0.5) return L > 0 ? 0 : wrap_u64(-1.0);
    double phi = L - fl, doubt = fabs(L) * 0x1p-50 + 0x1p-60;
    if (phi > doubt && 1 - phi > doubt) return wrap_u64(fl);
    /* Else a second term: D ~ v - M, M the integer nearest L (|D| can exceed 1 where
       L's own spacing does), to about 2^-40 of itself; and where even D lies that
       close to an integer J, the exact sign of v - (M + J) */
    double M = phi <= 0.5 ? fl : fl + 1;
    double L2 = sigma * mul_pow2(residual_refine(res, hi, lo, tail), k);
    double D = (L - M) + L2, Df = floor(D);
    if (res->kind == LO_PAIR) {   /* D is v - M exactly (L2 is below L's last bit) */
        *inexact = D != Df;
        return wrap_u64(M) + wrap_u64(Df);
    }
    double err = fabs(L2) * 0x1p-40 + fabs(L) * 0x1p-90 + fabs(D) * 0x1p-50;
    if (D - Df > err && Df + 1 - D > err) return wrap_u64(M) + wrap_u64(Df);
    double J = D - Df <= 0.5 ? Df : Df + 1;
    int side = sigma * residual_compare(res, hi, sigma * M, sigma * J, k);
    *inexact = side != 0;
    return wrap_u64(M) + wrap_u64(J) - (side < 0);
}

/*
 * floor(v) modulo 2^64, and whether v is not an integer, for v = sigma (exact - hi)
 * 2^k (|v| < 2^64): the fraction that exact - hi adds, in units of 2^-64 of the gap
 * 2^(64 - k); sigma = -1 measures it away from zero for negative hi. lo ~ exact - hi
 * has the right sign; for LO_EXACT lo is exact and tail gives the sign of a rest.
 */
static inline uint64_t residual_floor(double hi, double lo, double tail, const residual *res,
                                      int sigma, int k, int *inexact)
{
    double mag = scaled_lo(fabs(lo), 64 - k);
    double L = sigma * lo < 0 ? -mag : mag;
    double fl = floor(L);
    if (res->kind != LO_EXACT)
        return residual_floor_inexact(hi, lo, tail, res, sigma, k, inexact, L, fl);
    uint64_t F = wrap_u64(fl);
    int rest = sigma * sign_of(tail);
    *inexact = L != fl || rest != 0;
    /* only an exact integer L can be moved, by less than one unit, by the rest */
    return L == fl && rest < 0 ? F - 1 : F;
}

/*
 * Rounds the exact value x, where hi = RN64(x) is finite and lo ~ x - hi (see
 * residual; lo == 0 iff x == hi; lo == +-inf stands for a nonzero too small for
 * binary64, an infinitesimal).
 */
static uint64_t round_dd(double hi, double lo, double tail, const residual *res,
                         const sr_type_consts *c, sr_rounding mode, int rshift, uint64_t rnd)
{
    uint64_t bits = dbits(hi);
    if (lo == 0) return sr_round_bits_f64(bits, c, mode, rshift, rnd);
    uint64_t sign = bits & ((uint64_t)1 << 63), a = bits ^ sign;
    int sigma = sign ? -1 : 1, inexact;
    int below = sigma * lo < 0;   /* x lies below hi in magnitude */
    sr_split s = sr_split_f64(a, c);
    if (s.frac || s.sticky) {
        /* hi is strictly between two neighbours, and so is x: move frac by lo.
           (With sticky set, |x| is below 2^-64 of the gap: lo cannot matter.) */
        if (!s.sticky) {
            s.frac += residual_floor(hi, lo, tail, res, sigma, 64 - s.ulp_exp, &inexact);
            s.sticky = inexact;
        }
    } else {
        /* hi is a neighbour; x lies just above it, or just below it: then split the
           double below hi, and the fraction is 2^64 plus a negative one */
        if (below) s = sr_split_f64(a - 1, c);
        s.frac = residual_floor(hi, lo, tail, res, sigma, 64 - s.ulp_exp, &inexact);
        s.sticky = inexact;
    }
    return sr_finish_f64(s, sign, c, mode, rshift, rnd);
}

/* The exact result of an operation, as computed by the helpers below. */
typedef struct {
    double hi, lo;
    double tail;   /* LO_EXACT: the sign of exact - hi - lo; LO_FMA: about its value */
    int infinitesimal; /* +-1: lo is a nonzero too small for binary64; only its sign counts */
    int kind;      /* EXACT: hi + lo (+ tail); INFINITE: an exact infinity (x/0, inf
                      input); TINY: too small for unscaled error terms, see below */
    double hi_s, lo_s;  /* TINY: the exact result times 2^SR_TINY_SCALE, or both 0 ...
                           HUGE: half the exact result */
    double tail_s;      /* as tail, for hi_s + lo_s */
    int tiny_neg;       /* ... when even that underflows: then only the sign is kept */
} exact_result;   /* (what lo, or lo_s, stands for goes to a residual beside it: the
                     struct stays small, cheap to set up per element) */
enum { EXACT, INFINITE, TINY, HUGE };   /* HUGE: finite, beyond DBL_MAX; hi_s, lo_s
                                           hold half of it (hi_s inf: even that is) */

/* Below this, TwoProd errors may underflow: for |p| >= 2^-960 the error of a
   product of doubles is a multiple of 2^-1064. */
#define TINY_LIMIT 0x1p-960
/* Quotients and square roots keep two exact remainders (residual_refine), the
   second 2^-106 of the first: their operations are scaled below these. */
#define DIV_TINY_DIVIDEND 0x1p-850
#define DIV_TINY_LIMIT 0x1p-900
#define SQRT_TINY_LIMIT 0x1p-900

/* Error terms are computed only for finite results: with infinities they would be
   NaN and raise a spurious "invalid" flag. */
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

/* q = RN(a / b) and lo = RN(a/b - q), from the exact remainder. */
static inline void div_rem(double a, double b, double *q, double *lo, residual *res)
{
    *q = a / b;
    double r = fma(-*q, b, a);
    *lo = r / b;
    *res = (residual){LO_QUOTIENT, a, b, r, 0};
}

static inline exact_result exact_div(double a, double b, residual *res)
{
    exact_result x = {0};
    /* A tiny dividend's remainders underflow: scale both operands, same quotient. */
    if (fabs(a) < DIV_TINY_DIVIDEND && fabs(b) < 0x1p511) {
        a = ldexp(a, SR_TINY_SCALE);
        b = ldexp(b, SR_TINY_SCALE);
    }
    x.hi = a / b;
    if (isnan(x.hi)) return x;
    if (isinf(a) || b == 0) { x.kind = INFINITE; return x; }
    if (isinf(x.hi)) {
        x.kind = HUGE;
        x.hi_s = (a / 2) / b;
        if (isfinite(x.hi_s)) div_rem(a / 2, b, &x.hi_s, &x.lo_s, res);
        return x;
    }
    if (isinf(b) || a == 0) return x;   /* exact zero */
    if (fabs(x.hi) >= DIV_TINY_LIMIT) {
        div_rem(a, b, &x.hi, &x.lo, res);
        return x;
    }
    x.kind = TINY;
    x.tiny_neg = signbit(a) != signbit(b);
    div_rem(ldexp(a, SR_TINY_SCALE), b, &x.hi_s, &x.lo_s, res);
    if (fabs(x.hi_s) < DIV_TINY_LIMIT) x.hi_s = x.lo_s = 0;
    return x;
}

/* s = RN(sqrt(a)) and lo = RN(r / (2 s)) from the exact remainder r = a - s^2: about
   sqrt(a) - s = r / (sqrt(a) + s), to 2^-52 of itself (residual_floor settles the rest). */
static inline void sqrt_rem(double a, double *s, double *lo, residual *res)
{
    *s = sqrt(a);
    double r = fma(-*s, *s, a);
    *lo = r / (2 * *s);
    *res = (residual){LO_ROOT, a, 0, r, 0};
}

static inline exact_result exact_sqrt(double a, residual *res)
{
    exact_result x = {0};
    if (!(a > 0) || isinf(a)) { x.hi = sqrt(a); x.kind = isinf(a) ? INFINITE : EXACT; return x; }
    if (a < SQRT_TINY_LIMIT) {
        /* the remainders of a tiny square root underflow: scale by 2^(2 SR_TINY_SCALE) */
        x.kind = TINY;
        sqrt_rem(ldexp(a, 2 * SR_TINY_SCALE), &x.hi_s, &x.lo_s, res);
        x.hi = x.hi_s;  /* any nonzero finite value: only kind matters from here */
        return x;
    }
    sqrt_rem(a, &x.hi, &x.lo, res);
    return x;
}

/* a b + c - hi as lo + tail, for fma, from a b = p + e and p + c = s + t (exact):
   lo ~ the sum, tail ~ the rest, exactly so when the small terms add up exactly
   (LO_PAIR); else residual_floor settles what they leave open. */
static inline void fma_residual(double a, double b, double c, double hi, double *lo,
                                double *tail, residual *res)
{
    double p, e, s, t, u1, v1, u2, v2, u3, v3, w, ew, v, ev;
    two_prod(a, b, &p, &e);
    two_sum(p, c, &s, &t);
    two_sum(s, -hi, &u1, &v1);
    two_sum(u1, t, &u2, &v2);
    two_sum(u2, e, &u3, &v3);
    two_sum(v1, v2, &w, &ew);
    two_sum(w, v3, &v, &ev);
    two_sum(u3, v, lo, tail);
    *res = (residual){ew == 0 && ev == 0 ? LO_PAIR : LO_FMA, a, b, c, 0};
}

/* a*b + c where |a*b| < 2^-960 (its TwoProd error may underflow). */
static inline exact_result fma_tiny_product(double a, double b, double c, double p, double e,
                                            residual *res)
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
    double cs = ldexp(c, SR_TINY_SCALE);
    x.hi = fma(a, b, c);
    x.hi_s = fma(as, bs, cs);
    if (x.hi_s == 0) { x.hi = 0; return x; }   /* exactly zero */
    x.kind = TINY;
    x.tiny_neg = signbit(x.hi_s) != 0;
    fma_residual(as, bs, cs, x.hi_s, &x.lo_s, &x.tail_s, res);
    if (fabs(x.hi_s) < TINY_LIMIT) x.hi_s = x.lo_s = 0;
    return x;
}

static inline exact_result exact_fma(double a, double b, double c, residual *res)
{
    exact_result x = {0};
    x.hi = fma(a, b, c);
    if (isnan(x.hi)) return x;
    if (isinf(a) || isinf(b) || isinf(c)) { x.kind = INFINITE; return x; }
    if (a != 0 && b != 0 && ilogb(a) + ilogb(b) < -958) {
        double p, e;
        two_prod(a, b, &p, &e);
        if (fabs(p) < TINY_LIMIT) return fma_tiny_product(a, b, c, p, e, res);
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
            fma_residual(a / 2, b, c2, x.hi_s, &x.lo_s, &x.tail_s, res);
            res->lost = lost;
            if (lost != 0) {
                if (x.lo_s == 0) x.lo_s = copysign(INFINITY, lost);   /* infinitesimal */
                else if (x.tail_s == 0) x.tail_s = lost;
            }
        }
        return x;
    }
    /* x.hi == 0 with these sizes: the exact result is zero (fix_zero_sum signs it) */
    fma_residual(a, b, c, x.hi, &x.lo, &x.tail, res);   /* exact = s + t + e */
    return x;
}

/* Rounds an exact result, res saying what its lo (or lo_s) stands for; returns the
   binary64 value of the rounded result. */
static inline double round_exact(exact_result x, const residual *res, const sr_format *f,
                                 sr_rounding mode, int rshift, uint64_t rnd)
{
    const sr_type_consts *c = &f->f64;
    if (isnan(x.hi)) return x.hi;
    if (x.kind == INFINITE) return dval((dbits(x.hi) & ((uint64_t)1 << 63)) | c->inf_result);
    if (x.kind == HUGE) {
        /* Beyond DBL_MAX. If half of it is a binary64 number, round that in the halved
           format (it can still come back to max, e.g. under stochastic rounding);
           else it is beyond every format's max + spacing: overflow. */
        if (isfinite(x.hi_s) && f->f64_half.usable)
            return ldexp(dval(round_dd(x.hi_s, x.lo_s, x.tail_s, res, &f->f64_half,
                                       mode, rshift, rnd)), 1);
        int neg = signbit(x.hi) != 0;
        uint64_t r = sr_overflows_outward(mode, neg) ? c->inf_result : c->max_bits;
        return dval(((uint64_t)neg << 63) | r);
    }
    if (x.kind == TINY) {
        if (x.hi_s != 0 && f->f64_scaled.usable)
            return ldexp(dval(round_dd(x.hi_s, x.lo_s, x.tail_s, res, &f->f64_scaled,
                                       mode, rshift, rnd)),
                         -SR_TINY_SCALE);
        /* |exact| is far below 2^-64 of the smallest gap: only its sign and the fact
           that it is nonzero matter. */
        int away = sr_round_away(mode, 0, 1, 0, x.tiny_neg, rnd, rshift);
        return dval(((uint64_t)x.tiny_neg << 63) | (away ? c->gap_bits : 0));
    }
    double lo = x.infinitesimal ? x.infinitesimal * (double)INFINITY : x.lo;
    return dval(round_dd(x.hi, lo, x.tail, res, c, mode, rshift, rnd));
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

/* The operations as the loops call them: res receives what lo stands for (left as
   LO_EXACT where lo is exact). */
static inline exact_result op_add(double a, double b, sr_rounding m, residual *res)
{
    (void)res;
    return fix_zero_sum(exact_add(a, b), a, b, m);
}
static inline exact_result op_subtract(double a, double b, sr_rounding m, residual *res)
{
    (void)res;
    return fix_zero_sum(exact_add(a, -b), a, -b, m);
}
static inline exact_result op_multiply(double a, double b, sr_rounding m, residual *res)
{
    (void)m;
    (void)res;
    return exact_mul(a, b);
}
static inline exact_result op_divide(double a, double b, sr_rounding m, residual *res)
{
    (void)m;
    return exact_div(a, b, res);
}
static inline exact_result op_fma(double a, double b, double c, sr_rounding m, residual *res)
{
    /* a*b is an exact +-0 when a or b is zero; its sign is the product's */
    double ab_zero_sign = (a == 0 || b == 0) ? a * b : 1.0;
    return fix_zero_sum(exact_fma(a, b, c, res), ab_zero_sign, c, m);
}
static inline exact_result op_sqrt(double a, sr_rounding m, residual *res)
{
    (void)m;
    return exact_sqrt(a, res);
}

/* One add, subtract or multiply of binary64 values on the exact path, for kernels
   outside this file (matmul.c's undecided elements); adds its flags to *raised. */
double sr_exact_op(sr_op op, double a, double b, const sr_format *f, sr_rounding mode,
                   int rshift, uint64_t rnd, unsigned *raised)
{
    residual res = {LO_EXACT, 0, 0, 0, 0};
    exact_result x;
    switch (op) {
    case SR_OP_ADD: x = op_add(a, b, mode, &res); break;
    case SR_OP_SUBTRACT: x = op_subtract(a, b, mode, &res); break;
    case SR_OP_MULTIPLY: x = op_multiply(a, b, mode, &res); break;
    case SR_OP_DIVIDE: case SR_OP_SQRT: case SR_OP_FMA:
    default: SR_UNREACHABLE();
    }
    double r = round_exact(x, &res, f, mode, rshift, rnd);
    *raised |= op_flags(x, r, a, b, a);
    return r;
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
    uint64_t clear;        /* ~k.mask: clears the discarded bits */
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
    ch.clear = ~ch.k.mask;
    ch.rshift = 64 - ctx->bits;
    return ch;
}

/* (bits(r) + x) & clear, as a double. With SSE2 (every x86-64) the integer steps run
   in the SSE register that holds r: moving r to a general register and back would
   put two slow transfers on the chain of a reduction's steps (it ran at about half
   the speed on the machine of bench/README.md). */
static inline double add_to_bits(double r, uint64_t x, uint64_t clear)
{
#if SR_USE_SSE2
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
#if SR_USE_SSE2
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

/* The exact path of a chain step: out of line, so that the fast one stays small
   enough to be inlined into every specialized loop. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static double chain_step_exact(const chain *ch, sr_op op, double a, double b,
                               sr_rounding mode, uint64_t rnd)
{
    residual res = {LO_EXACT, 0, 0, 0, 0};
    exact_result e = op == SR_OP_MULTIPLY ? op_multiply(a, b, mode, &res)
                                          : op_add(a, b, mode, &res);
    return round_exact(e, &res, &ch->ctx->fmt, mode, ch->rshift, rnd);
}

/* fl(a op b), op add or multiply; for binary32 data, a and b are binary32 values */
static inline double chain_step(const chain *ch, sr_op op, double a, double b,
                                          int f32, sr_rounding mode, uint64_t rnd)
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
            /* the increment does not depend on the value: the step stays in the
               floating-point register */
            if (sr_increment_is_fixed(mode)) return add_to_bits(r, x, ch->clear);
            if (mode == SR_NEAREST && ch->k.parity_offset == 0)
                return nearest_in_register(r, &ch->k);
            return dval(y);
        }
    }
    return chain_step_exact(ch, op, a, b, mode, rnd);
}

/* ---- sum chains in two passes ---------------------------------------------------
 * Under a mode whose increment depends only on the word (sr_increment_is_fixed: the
 * stochastic modes, toward zero, nearest away), a sum step is r = RN64(a + b), then
 * the word's increment (computed from the word alone, off the chain) and the cleared
 * discarded bits, all in r's SSE register: the chain of dependent steps is one add
 * and two integer operations (the floor that bench/latency_floor.c times). The test
 * that this gives the rounding of the exact a + b (r in [2^emin, max], and a + b
 * exact (TwoSum) or sr_normal_decided, the test of chain_step: sr_chain_step_fine in
 * arith_fast_body.h) does not depend on the step's result, so a chunk runs its steps first, keeping their operands, then checks
 * them all at once, vectorized. The first step that fails is redone with the exact
 * path, and the chunk's rest with checked steps. A zero sum is exact, with IEEE
 * 754's sign (no mode here rounds down), and the increment (at most the mask) leaves
 * it as it is. Nothing in [2^emin, max] rounds beyond max (max is a value of the
 * format): no overflow test. */
#if defined(__GNUC__)
#define SR_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define SR_LIKELY(x) (x)
#endif

static inline int chain2_usable(const sr_context *ctx)
{
    return ctx->fmt.f64.shift > 0 && sr_increment_is_fixed(ctx->rounding);
}

/* The chain value: with SSE2, a register's low lane, used as such throughout */
#if SR_USE_SSE2
typedef __m128d lane;
static inline lane lane_of(double x) { return _mm_set_sd(x); }
static inline double lane_value(lane v) { return _mm_cvtsd_f64(v); }
#else
typedef double lane;
static inline lane lane_of(double x) { return x; }
static inline double lane_value(lane v) { return v; }
#endif

/* The step without its check: the chain's own work, in the register */
static SR_ALWAYS_INLINE lane chain2_round(const chain *ch, lane va, lane vb, int negate,
                                          uint64_t x)
{
#if SR_USE_SSE2
    lane vr = negate ? _mm_sub_sd(va, vb) : _mm_add_sd(va, vb);
    __m128i v = _mm_add_epi64(_mm_castpd_si128(vr), _mm_cvtsi64_si128((long long)x));
    return _mm_castsi128_pd(_mm_and_si128(v, _mm_set1_epi64x((long long)ch->clear)));
#else
    return dval((dbits(negate ? va - vb : va + vb) + x) & ch->clear);
#endif
}

/* The step with its check: where it fails, the exact path; rnd is the word itself */
static SR_ALWAYS_INLINE lane chain2_sum(const chain *ch, uint64_t span, lane va, lane vb,
                                        int negate, uint64_t x, sr_rounding mode, uint64_t rnd)
{
    lane y = chain2_round(ch, va, vb, negate, x);
    double a = lane_value(va), b = lane_value(vb);
    double bn = negate ? -b : b;   /* a - b rounds as a + (-b) */
    if (SR_LIKELY(sr_chain_step_fine_f64(a, bn, x, ch->k.mask, ch->lo, span))) return y;
    return lane_of(chain_step_exact(ch, SR_OP_ADD, a, bn, mode, rnd));
}

/* The chunk's m inputs (binary32 or binary64) as doubles */
static inline void chain2_gather(double *xs, const char *in, sr_intp stride, sr_intp m, int single)
{
    if (single && stride == sizeof(float)) {   /* contiguous: a vectorized conversion */
        for (sr_intp i = 0; i < m; i++) {
            float v;
            memcpy(&v, in + i * sizeof v, sizeof v);
            xs[i] = v;
        }
    } else if (single) {
        for (sr_intp i = 0; i < m; i++) {
            float v;
            memcpy(&v, in + i * stride, sizeof v);
            xs[i] = v;
        }
    } else {
        for (sr_intp i = 0; i < m; i++) memcpy(&xs[i], in + i * stride, sizeof xs[i]);
    }
}

/* m steps acc = fl(acc + xs[i]) with the increments inc[i], in two passes: the
   float chain, then its checks, then checked steps from the first that fails. With
   fill, the chain computes inc[i] from the words rnd[i] on the way, in its idle
   slots. */
static double chain2_float_steps(const chain *ch, double acc, const double *xs, uint64_t *inc,
                                 const uint64_t *rnd, sr_intp m, sr_rounding mode, int fill)
{
    double before[SR_CHUNK];
    const uint64_t span = ch->k.max_bits + 1 - ch->lo;
    lane a = lane_of(acc);
    if (fill) {
        const sr_normal_consts_f64 k = ch->k;
#define SR_REDUCE_STEPS(MODE)                                                              \
        for (sr_intp i = 0; i < m; i++) {                                                  \
            uint64_t x = sr_normal_increment_f64(0, &k, MODE, rnd[i]);                    \
            inc[i] = x;                                                                    \
            before[i] = lane_value(a);                                                     \
            a = chain2_round(ch, a, lane_of(xs[i]), 0, x);                                 \
        }
        SR_DISPATCH_MODE(mode, SR_REDUCE_STEPS)
#undef SR_REDUCE_STEPS
    } else {
        for (sr_intp i = 0; i < m; i++) {
            before[i] = lane_value(a);
            a = chain2_round(ch, a, lane_of(xs[i]), 0, inc[i]);
        }
    }
    sr_intp i = ch->ctx->kernels->chain_check(before, xs, inc, m, 0, &ch->ctx->fmt.f64);
    if (SR_LIKELY(i == m)) return lane_value(a);
    a = lane_of(before[i]);
    for (; i < m; i++) a = chain2_sum(ch, span, a, lane_of(xs[i]), 0, inc[i], mode, rnd[i]);
    return lane_value(a);
}

#include "sum_chain.h"

/* m steps acc = fl(acc + x_i) of a reduction (SR_REDUCE_LOOP): the integer chain of
   sum_chain.h, or the two-pass float chain while the backoff skips chunks */
static double chain2_reduce_chunk(const chain *ch, double acc, const char *in, sr_intp stride,
                                  sr_intp m, int single, const uint64_t *rnd, sr_rounding mode,
                                  sum_chain_backoff *backoff)
{
    double xs[SR_CHUNK];
    chain2_gather(xs, in, stride, m, single);
    if (backoff->skip > 0) {
        uint64_t inc[SR_CHUNK];
        backoff->skip--;
        return chain2_float_steps(ch, acc, xs, inc, rnd, m, mode, 1);
    }
    int gave_up = 0;
    acc = sum_chain_steps(ch, acc, xs, rnd, m, mode, &gave_up);
    if (gave_up) {
        backoff->wait = backoff->wait ? 2 * backoff->wait : 1;
        if (backoff->wait > SUM_CHAIN_BACKOFF) backoff->wait = SUM_CHAIN_BACKOFF;
        backoff->skip = backoff->wait;
    } else {
        backoff->wait = 0;
    }
    return acc;
}

#include "kahan_chain.h"

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
        acc = chain_step(ch, op, acc, (double)xi, sizeof(T) == 4, MODE, rnd[i]);           \
        if (CHECK) raised |= chain_flags(before, (double)xi, acc);                         \
    }

/* m <= SR_CHUNK steps acc = fl(acc op x_i) of a reduction, rnd[i] their words (the
   reduction's and sr_dot_*'s chunk, dot_fused.h); ORs their flags into *flags.
   two_pass: sums under a fixed mode (chain2_usable), which take chain2_reduce_chunk
   (integer chain, or two passes). */
#define SR_DEFINE_REDUCE_CHUNK(T)                                                          \
    static double reduce_chunk_##T(const chain *ch, sr_op op, double acc, const char *in,  \
                                   sr_intp stride, sr_intp m, const uint64_t *rnd,         \
                                   int two_pass, sum_chain_backoff *backoff,               \
                                   unsigned *flags)                                        \
    {                                                                                      \
        unsigned raised = 0;                                                               \
        sr_rounding mode = ch->ctx->rounding;                                              \
        const char *chunk_in = in;                                                         \
        double chunk_acc = acc;                                                            \
        if (two_pass) {                                                                    \
            acc = chain2_reduce_chunk(ch, acc, in, stride, m, sizeof(T) == 4, rnd, mode,   \
                                      backoff);                                            \
        } else {                                                                           \
            SR_DISPATCH_MODE(mode, SR_REDUCE_STEP_##T)                                     \
        }                                                                                  \
        if (!isfinite(acc) && !isnan(chunk_acc)) {   /* NaN + x raises nothing */          \
            in = chunk_in;                                                                 \
            acc = chunk_acc;                                                               \
            SR_DISPATCH_MODE(mode, SR_REDUCE_CHECK_##T)                                    \
        }                                                                                  \
        *flags |= raised;                                                                  \
        return acc;                                                                        \
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
        int two_pass = op == SR_OP_ADD && chain2_usable(ctx);                              \
        sum_chain_backoff backoff = {0, 0};                                                \
        for (sr_intp m; n > 0; n -= m) {                                                   \
            m = n < SR_CHUNK ? n : SR_CHUNK;                                               \
            if (sr_rounding_is_stochastic(ctx->rounding))                                  \
                sr_context_draw(ctx, rnd, (size_t)m);                                      \
            acc = reduce_chunk_##T(&ch, op, acc, in, stride, m, rnd, two_pass, &backoff,   \
                                   &raised);                                               \
            in += m * stride;                                                              \
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
        int two_pass = chain2_usable(ctx);                                                 \
        for (sr_intp m; n > 0; n -= m) {                                                   \
            m = n < SR_CHUNK ? n : SR_CHUNK;                                               \
            if (sr_rounding_is_stochastic(ctx->rounding))                                  \
                sr_context_draw(ctx, rnd, (size_t)(4 * m));                                \
            if (two_pass) {                                                                \
                raised |= chain2_kahan_chunk(&ch, &s, &c, in, stride, m, single, rnd,      \
                                             ctx->rounding);                               \
                in += m * stride;                                                          \
            } else {                                                                       \
                SR_DISPATCH_MODE(ctx->rounding, SR_KAHAN_STEP_##T)                         \
            }                                                                              \
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
SR_DEFINE_REDUCE_CHUNK(f32)
SR_DEFINE_REDUCE_CHUNK(f64)
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
    static unsigned piece_##NAME##_##T(sr_context *ctx, sr_rng *rng, char **args,         \
                                       const sr_intp *steps, sr_intp n)                    \
    {                                                                                      \
        sr_rounding mode = ctx->rounding;                                                  \
        int rshift = 64 - ctx->bits, stochastic = sr_rounding_is_stochastic(mode);         \
        sr_op op = OP;                                                                     \
        unsigned raised = 0;                                                               \
        sr_arith_chunk_fn fast = ctx->kernels->arith_##T;                                 \
        if (steps[NARGS] != sizeof(T)) fast = NULL;                                        \
        for (int k = 0; k < NARGS; k++)                                                    \
            if (steps[k] != 0 && steps[k] != sizeof(T)) fast = NULL;                       \
        uint64_t rnd[SR_CHUNK] = {0};                                                      \
        uint64_t undecided[SR_CHUNK];                                                      \
        residual res = {LO_EXACT, 0, 0, 0, 0};   /* set where an operation needs one */     \
        char *p[4];                                                                        \
        sr_intp st[3];                                                                     \
        for (int k = 0; k < 3; k++) {   /* operands beyond NARGS alias the first */        \
            p[k] = args[k < NARGS ? k : 0];                                                \
            st[k] = steps[k < NARGS ? k : 0];                                              \
        }                                                                                  \
        p[3] = args[NARGS];                                                                \
        /* the context's own stream: locked once for the call, which draws its words in   \
           order as chunk by chunk would (as round.c's loops do) */                        \
        sr_rng *src = rng ? rng : &ctx->rng;                                               \
        int locked = stochastic && !rng;                                                   \
        if (locked) sr_context_lock(ctx);                                                  \
        for (; n > 0;) {                                                                   \
            sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;                                       \
            if (stochastic) sr_rng_fill_k(ctx->kernels, src, rnd, (size_t)m);              \
            n -= m;                                                                        \
            int done = fast && !shifted_overlap(p, NARGS, p[3], m * (sr_intp)sizeof(T)) ?  \
                fast(op, (const char *const *)p, st, p[3], m, &ctx->fmt.f64, mode, rshift, \
                     rnd, undecided) : 0;                                                  \
            for (sr_intp i = 0; done != 1 && i < m; i++) {                                 \
                if (done == 2 && !undecided[i]) continue;                                  \
                T a, b, c;                                                                 \
                memcpy(&a, p[0] + i * st[0], sizeof a);                                    \
                memcpy(&b, p[1] + i * st[1], sizeof b);                                    \
                memcpy(&c, p[2] + i * st[2], sizeof c);                                    \
                (void)b; (void)c;                                                          \
                res.kind = LO_EXACT;                                                       \
                exact_result x = EXACT;                                                    \
                double r = round_exact(x, &res, &ctx->fmt, mode, rshift, rnd[i]);          \
                raised |= op_flags(x, r, a, b, c);                                         \
                T rt = (T)r;        /* exact: a value of the format */                     \
                memcpy(p[3] + i * steps[NARGS], &rt, sizeof rt);                           \
            }                                                                              \
            for (int k = 0; k < 3; k++) p[k] += m * st[k];                                 \
            p[3] += m * steps[NARGS];                                                      \
        }                                                                                  \
        if (locked) sr_context_unlock(ctx);                                                \
        return raised;                                                                     \
    }                                                                                      \
    void sr_loop_##NAME##_##T(char **args, const sr_intp *dims, const sr_intp *steps,     \
                              void *data)                                                  \
    {                                                                                      \
        sr_context *ctx = data;                                                            \
        sr_op op = OP;                                                                     \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        unsigned raised;                                                                   \
        if ((op == SR_OP_ADD || op == SR_OP_MULTIPLY) && args[0] == args[2] &&             \
            steps[0] == 0 && steps[2] == 0)   /* a reduction: one chain, one thread */     \
            raised = reduce_##T(op, args, dims[0], steps, ctx);                            \
        else if (shifted_overlap(args, NARGS, args[NARGS], dims[0] * (sr_intp)sizeof(T))) \
            raised = piece_##NAME##_##T(ctx, NULL, args, steps, dims[0]);   /* in order */ \
        else                                                                               \
            raised = sr_run_split(ctx, piece_##NAME##_##T, args, NARGS + 1, steps, dims[0], \
                                  8, SR_SPLIT_ARITH);                                      \
        sr_fpenv_leave(caller, raised);                                                    \
    }

#define SR_DEFINE_OP_LOOPS_(A, ID, NAME, NIN, IDENTITY, EXACT, FAST, DOC)                  \
    SR_DEFINE_LOOP(NAME, f32, NIN, SR_OP_##ID, EXACT)                                      \
    SR_DEFINE_LOOP(NAME, f64, NIN, SR_OP_##ID, EXACT)
SR_OPERATIONS(SR_DEFINE_OP_LOOPS_, ~)
#undef SR_DEFINE_OP_LOOPS_

#include "dot_fused.h"

/* ---- rounding other input types ----------------------------------------------
 * 64-bit integers and float16, rounded into binary64 output from their exact value:
 * an integer beyond 2^53 becomes hi + lo (hi = RN64(v), both exact), so that it is
 * rounded once, not first to binary64 (2^62 + 1025 is closer to 2^62 + 2048 than
 * to 2^62 in a format with 52 bits, though RN64 gives 2^62 + 1024, a tie). Each
 * element draws one 64-bit word, as a binary64 element does; the chunk goes through
 * the binary64 kernels, and only elements with lo != 0 are redone exactly. */

/* m as hi + lo: its top 53 bits and its low 11 bits are each a double */
static inline void split_u64(uint64_t m, double *hi, double *lo)
{
    two_sum((double)(m & ~(uint64_t)0x7ff), (double)(m & 0x7ff), hi, lo);
}

static inline void split_i64(int64_t v, double *hi, double *lo)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    split_u64(m, hi, lo);
    if (v < 0) { *hi = -*hi; *lo = -*lo; }
}

/* float16 bit pattern to its (exact) binary64 value; NaN keeps sign and payload */
static inline void split_f16(uint16_t h, double *hi, double *lo)
{
    uint64_t sign = (uint64_t)(h >> 15) << 63, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) *hi = dval(sign | 0x7ff0000000000000u | m << 42);
    else if (e == 0) *hi = dval(sign) + (sign ? -1.0 : 1.0) * (double)m * 0x1p-24;
    else *hi = dval(sign | (e - 15 + 1023) << 52 | m << 42);
    *lo = 0;
}

#define SR_DEFINE_ROUND_OTHER(NAME, T, SPLIT)                                              \
    void sr_loop_round_##NAME(char **args, const sr_intp *dims, const sr_intp *steps,     \
                              void *data)                                                  \
    {                                                                                      \
        sr_context *ctx = data;                                                            \
        const sr_type_consts *c = &ctx->fmt.f64;                                           \
        const sr_kernels *kernels = ctx->kernels;                                          \
        sr_rounding mode = ctx->rounding;                                                  \
        int rshift = 64 - ctx->bits;                                                       \
        double hi[SR_CHUNK], lo[SR_CHUNK];                                                 \
        uint64_t rnd[SR_CHUNK] = {0};                                                      \
        const residual exact_lo = {LO_EXACT, 0, 0, 0, 0};                                  \
        const char *in = args[0];                                                          \
        char *out = args[1];                                                               \
        unsigned raised = 0;                                                               \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        for (sr_intp n = dims[0]; n > 0;) {                                                \
            sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;                                       \
            int any_lo = 0;                                                                \
            for (sr_intp i = 0; i < m; i++) {                                              \
                T v;                                                                       \
                memcpy(&v, in + i * steps[0], sizeof v);                                   \
                SPLIT(v, &hi[i], &lo[i]);                                                  \
                any_lo |= lo[i] != 0;                                                      \
            }                                                                              \
            if (sr_rounding_is_stochastic(mode)) sr_context_draw(ctx, rnd, (size_t)m);     \
            raised |= kernels->round_f64((const char *)hi, sizeof(double), out, steps[1], \
                                         m, c, mode, rshift, rnd);                         \
            for (sr_intp i = 0; any_lo && i < m; i++) {                                    \
                if (lo[i] == 0) continue;                                                  \
                double r = dval(round_dd(hi[i], lo[i], 0, &exact_lo, c, mode, rshift,     \
                                         rnd[i]));                                         \
                raised |= isfinite(r) ? 0 : SR_RAISE_OVERFLOW;                             \
                memcpy(out + i * steps[1], &r, sizeof r);                                  \
            }                                                                              \
            in += m * steps[0];                                                            \
            out += m * steps[1];                                                           \
            n -= m;                                                                        \
        }                                                                                  \
        sr_fpenv_leave(caller, raised);                                                    \
    }

SR_DEFINE_ROUND_OTHER(i64, int64_t, split_i64)
SR_DEFINE_ROUND_OTHER(u64, uint64_t, split_u64)
SR_DEFINE_ROUND_OTHER(f16, uint16_t, split_f16)

/* ---- the ufunc table (srround.h): round, then operations.def's operations ---- */

/* NumPy takes the first loop that the inputs cast to safely: integers and bool
   reach the int64 loop (uint64 its own), float16 its loop, all ahead of float32's,
   so they give float64 as sr.round does. */
#define SR_UFUNC_ENTRY_(A, ID, NAME, NIN, IDENTITY, EXACT, FAST, DOC)                       \
    {#NAME, NIN, IDENTITY, DOC, 2,                                                         \
     {{sr_loop_##NAME##_f32, SR_DTYPE_F32, SR_DTYPE_F32, 1},                               \
      {sr_loop_##NAME##_f64, SR_DTYPE_F64, SR_DTYPE_F64, 0}}},
const sr_ufunc_spec sr_ufuncs[SR_NUM_UFUNCS] = {
    {"round", 1, SR_IDENTITY_NONE, "x", 5,
     {{sr_loop_round_i64, SR_DTYPE_I64, SR_DTYPE_F64, 0},
      {sr_loop_round_u64, SR_DTYPE_U64, SR_DTYPE_F64, 0},
      {sr_loop_round_f16, SR_DTYPE_F16, SR_DTYPE_F64, 0},
      {sr_loop_round_f32, SR_DTYPE_F32, SR_DTYPE_F32, 1},
      {sr_loop_round_f64, SR_DTYPE_F64, SR_DTYPE_F64, 0}}},
    SR_OPERATIONS(SR_UFUNC_ENTRY_, ~)
};
#undef SR_UFUNC_ENTRY_
