/* Format descriptors: validate the parameters once and precompute, for each input
   type, the bit patterns the kernels compare against (CPFloat's habit). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "srround.h"

static uint64_t bits_of_double(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static uint32_t bits_of_float(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }

/* Bit pattern of 2^e in a type with P significand bits and exponent bias BIAS
   (2^e must be representable, subnormal or normal). */
static uint64_t pow2_bits(int e, int P, int bias)
{
    if (e >= 1 - bias) return (uint64_t)(e + bias) << (P - 1);
    return (uint64_t)1 << (e + bias + P - 2);
}

static int mod2(int x) { return ((x % 2) + 2) % 2; }

/* The constants for a type with P = 24 (binary32) or 53 (binary64) significand bits;
   max is the largest finite value, as a double. */
static void type_consts(sr_type_consts *c, const sr_format *f, int emax, int emin, int P,
                        int bias, double max, uint64_t inf_bits, uint64_t nan_bits)
{
    c->usable = f->precision <= P && emax <= bias && emin >= 1 - bias;
    if (!c->usable) return;   /* (float)max would be out of range: undefined in C */
    uint64_t max_bits = P == 24 ? bits_of_float((float)max) : bits_of_double(max);
    c->shift = P - f->precision;
    c->emin_biased = emin + bias;
    c->parity_offset = f->precision == 1 ? mod2(1 - emin - bias) : 0;
    c->gap_exp = f->subnormals ? emin - f->precision + 1 : emin;
    c->gap_bits = pow2_bits(c->gap_exp, P, bias);
    c->normal_bits = pow2_bits(emin, P, bias);
    c->max_bits = max_bits;
    switch (f->overflow) {   /* sr_format_init has checked the value */
    case SR_OVERFLOW_INF: c->inf_result = inf_bits; break;
    case SR_OVERFLOW_SATURATE: c->inf_result = max_bits; break;
    case SR_OVERFLOW_NAN: c->inf_result = nan_bits; break;
    }
}

int sr_format_init(sr_format *f, int precision, int emax, int emin, int subnormals,
                   sr_overflow overflow, double max, const char **err)
{
    memset(f, 0, sizeof *f);
    if (precision < 1) { *err = "precision must be at least 1"; return -1; }
    if (precision > 53) { *err = "precision must be at most 53 (binary64 inputs carry 53 bits)"; return -1; }
    if (emax > 1023) { *err = "emax must be at most 1023 (the binary64 range)"; return -1; }
    if (emin < -1022) { *err = "emin must be at least -1022 (the binary64 range)"; return -1; }
    if (emin > emax) { *err = "emin must not exceed emax"; return -1; }
    if (overflow != SR_OVERFLOW_INF && overflow != SR_OVERFLOW_SATURATE &&
        overflow != SR_OVERFLOW_NAN) {
        *err = "overflow must be 'inf', 'saturate' or 'nan'"; return -1;
    }
    double full_max = ldexp(2.0 - ldexp(1.0, 1 - precision), emax);
    if (max == 0.0) {
        max = full_max;
    } else {
        if (!(max > 0.0) || isinf(max)) { *err = "max must be a positive finite number"; return -1; }
        if (max < ldexp(1.0, emax) || max > full_max) {
            *err = "max must lie in the top binade [2**emax, 2**(emax+1)) of the format"; return -1;
        }
        double units = ldexp(max, precision - 1 - emax);  /* max in top-binade ulps */
        if (units != floor(units)) { *err = "max is not representable in the format"; return -1; }
    }
    f->precision = precision;
    f->emax = emax;
    f->emin = emin;
    f->subnormals = subnormals != 0;
    f->overflow = overflow;
    f->max = max;
    f->signed_zero = 1;
    type_consts(&f->f32, f, emax, emin, 24, 127, max, 0x7f800000u,
                0x7fc00000u);
    type_consts(&f->f64, f, emax, emin, 53, 1023, max, 0x7ff0000000000000u,
                0x7ff8000000000000u);
    /* Tiny arithmetic results are rounded after scaling by 2^SR_TINY_SCALE: the same
       grid, shifted. They never overflow, so max is the largest double. Formats whose
       shifted range leaves binary64 have no use for it (tiny results sit far below
       their smallest value) and keep usable = 0. */
    int scaled_emin = emin + SR_TINY_SCALE;
    type_consts(&f->f64_scaled, f, scaled_emin + 1, scaled_emin, 53, 1023,
                DBL_MAX, 0x7ff0000000000000u, 0x7ff8000000000000u);
    if (scaled_emin > 1000) f->f64_scaled.usable = 0;
    /* Halved: only huge values are rounded with it, so emin may be clamped. */
    type_consts(&f->f64_half, f, emax - 1, emin - 1 < -1022 ? -1022 : emin - 1, 53, 1023,
                max / 2, 0x7ff0000000000000u, 0x7ff8000000000000u);
    return 0;
}
