/*
 * The GEMM kernel of MMA_FDPA_TRUNCATED (csrc/mma.c): MMA_LANES columns of B at a
 * time in GCC/Clang vector types of one register's width, so that each lane
 * operation is one vector instruction. mma.c includes this file once per
 * instruction set, under that set's target pragma, with MMA_LANES (the int32 lanes
 * of one register: 4 for SSE2, 8 for AVX2, 16 for AVX-512) and MMA_KERNEL (the
 * function's name) defined; B is laid out in panels of MMA_LANES columns to match.
 * The 64-bit work (binary64 values, their bits) runs on two halves of MMA_LANES / 2
 * lanes each, again one register each: wider vectors would be split lane by lane.
 */
#define MMA_CAT_(a, b) a##_##b
#define MMA_CAT(a, b) MMA_CAT_(a, b)
#define lanes32 MMA_CAT(lanes32, MMA_LANES)
#define half32 MMA_CAT(half32, MMA_LANES)
#define lanes64 MMA_CAT(lanes64, MMA_LANES)
#define lanesd MMA_CAT(lanesd, MMA_LANES)
#define splat32 MMA_CAT(splat32, MMA_LANES)
#define load32 MMA_CAT(load32, MMA_LANES)
#define max32 MMA_CAT(max32, MMA_LANES)
#define min32 MMA_CAT(min32, MMA_LANES)
#define trunc_shift32 MMA_CAT(trunc_shift32, MMA_LANES)

enum { MMA_CAT(HALF, MMA_LANES) = MMA_LANES / 2 };
#define HALF MMA_CAT(HALF, MMA_LANES)
typedef int32_t lanes32 __attribute__((vector_size(4 * MMA_LANES)));
typedef int32_t half32 __attribute__((vector_size(4 * HALF)));
typedef int64_t lanes64 __attribute__((vector_size(8 * HALF)));
typedef double lanesd __attribute__((vector_size(8 * HALF)));

/* x in every lane, as one broadcast (GCC compiles `vector + scalar` lane by lane;
   clang splats the scalar of `vector + scalar` into one broadcast itself) */
#if defined(__clang__)
#define BROADCAST(T, x) ((T){0} + (x))
#else
#define BROADCAST(T, x) __builtin_shuffle((T){x}, (T){0})
#endif
static inline lanes32 splat32(int32_t x) { return BROADCAST(lanes32, x); }
static inline lanes32 load32(const int32_t *p) { lanes32 v; memcpy(&v, p, sizeof v); return v; }
static inline lanes32 max32(lanes32 a, lanes32 b) { lanes32 m = a > b; return (a & m) | (b & ~m); }
static inline lanes32 min32(lanes32 a, lanes32 b) { lanes32 m = a < b; return (a & m) | (b & ~m); }

/* trunc(p / 2^s), 0 <= s: the magnitude shifted (at most 31 places), the sign kept */
static inline lanes32 trunc_shift32(lanes32 p, lanes32 s)
{
    lanes32 neg = p >> 31, mag = (p ^ neg) - neg;
    return ((mag >> min32(s, splat32(31))) ^ neg) - neg;
}

/* The 64-bit helpers are macros: GCC notes an ABI change for functions that take
   vectors wider than SSE registers, though every call here is inlined. */
#define splat64(x) BROADCAST(lanes64, (int64_t)(x))
#define select64(m, a, b) (((a) & (m)) | ((b) & ~(m)))
#define bits_of(x) ((lanes64)(x))
#define double_of(x) ((lanesd)(x))
/* the half h of an int32 vector, widened */
#define half_of(v, h) ({ half32 half_; memcpy(&half_, (const int32_t *)&(v) + (h) * HALF, \
                                               sizeof half_); half_; })
/* floor(log2 |x|) of nonzero finite doubles (-1023 for zero) */
#define exponent_of(x) (((bits_of(x) >> 52) & 0x7ff) - 1023)
/* 2^e, -1022 <= e <= 1023 */
#define pow2_lanes(e) double_of(((e) + 1023) << 52)
/* x truncated toward zero to a multiple of 2^q (x finite; a zero keeps x's sign) */
#define trunc_to_quantum(x, q) ({                                                        \
    lanes64 cleared_ = 52 - (exponent_of(x) - (q));   /* fraction bits below 2^q */      \
    lanes64 all_ = cleared_ > 52, none_ = cleared_ <= 0;                                  \
    lanes64 keep_ = splat64(-1) << select64(all_ | none_, splat64(0), cleared_);          \
    double_of(bits_of(x) & select64(all_, splat64(INT64_MIN), keep_));                    \
})

/*
 * Rows [0, m) of D over k in [k0, k1), MMA_LANES columns at a time; c0 (m x n, or
 * NULL for zeros) is C for the first step. Per step and lane: E, the largest
 * exponent; the products truncated to multiples of 2^(E - F) and added as integers
 * (in 32 bits, moved to binary64 every flush_every terms); c's term and the sum in
 * binary64, where they are exact (integers below 2^(F + 8) times 2^(E - F)); the
 * rounding into the output type by clearing bits (toward zero) or by adding and
 * removing 1.5 * 2^(q + 52) (to nearest even at quantum 2^q). Lanes with a NaN or
 * an infinity are redone by the scalar step.
 */
static void
MMA_KERNEL(const truncated_job *job, size_t k0, size_t k1, const double *c0, double *d)
{
    const mma_model *md = job->md;
    const int L = md->L, F = md->F, e_zero = md->e_zero;
    const out_format *out = &OUT_FORMATS[md->out];
    const lanesd overflow_at = double_of(splat64((int64_t)(out->emax + 1 + 1023) << 52));
    const lanesd infinity = double_of(splat64(INT64_C(0x7ff) << 52));
    const size_t n = job->n, kp = job->kp, chunks = kp / L;
    /* terms are below 2^(F + 2) in magnitude: this many add up in 32 bits */
    const int flush_every = (int)(INT32_MAX / ((INT64_C(1) << (F + 2)) - 1));
    /* a panel of B (kp x MMA_LANES) stays in cache while every row of A goes by */
    for (size_t j0 = 0; j0 < n; j0 += MMA_LANES) {
        const int32_t *b_sig = job->B.sig + j0 * kp, *b_exp = job->B.exp + j0 * kp;
        const uint8_t *b_specials = job->B.special + j0 * chunks;
        for (size_t i = 0; i < job->m; i++) {
            const int32_t *a_sig = job->A.sig + i * kp, *a_exp = job->A.exp + i * kp;
            lanesd c[2] = {{0}, {0}};
            for (int w = 0; w < MMA_LANES; w++)
                c[w / HALF][w % HALF] = (c0 && j0 + w < n) ? c0[i * n + j0 + w] : 0.0;
            mma_type c_type = md->c;
            for (size_t base = k0; base < k1; base += L) {
                const size_t chunk = base / L;
                const uint8_t *b_special = b_specials + chunk * MMA_LANES;
                /* the largest exponent: c's first (e_zero when c is zero) ... */
                int32_t c_exp[MMA_LANES];
                for (int h = 0; h < 2; h++) {
                    lanes64 ce = exponent_of(c[h]);
                    ce = select64(ce > c_type.emin, ce, splat64(c_type.emin));
                    half32 e = __builtin_convertvector(select64(c[h] == 0, splat64(e_zero), ce),
                                                       half32);
                    memcpy(c_exp + h * HALF, &e, sizeof e);
                }
                lanes32 E = load32(c_exp);
                /* ... then the products'; zero operands carry ZERO_EXP, so a product
                   with a zero factor lands below ZERO_BELOW and stands for e_zero */
                lanes32 lowest = splat32(INT32_MAX);
                for (int t = 0; t < L; t++) {
                    lanes32 e = splat32(a_exp[base + t]) + load32(b_exp + (base + t) * MMA_LANES);
                    E = max32(E, e);
                    lowest = min32(lowest, e);
                }
                lanes32 zero_product = lowest < ZERO_BELOW;
                E = (max32(E, splat32(e_zero)) & zero_product) | (E & ~zero_product);
                /* every product truncated to a multiple of 2^(E - F), added exactly */
                lanes32 S32 = {0};
                lanesd S[2] = {{0}, {0}};
                for (int t = 0, pending = 0; t < L; t++) {
                    const size_t row = (base + t) * MMA_LANES;
                    lanes32 p = splat32(a_sig[base + t]) * load32(b_sig + row);
                    lanes32 e = splat32(a_exp[base + t]) + load32(b_exp + row);
                    S32 += trunc_shift32(p, E - e);
                    if (++pending == flush_every || t == L - 1) {
                        for (int h = 0; h < 2; h++)
                            S[h] += __builtin_convertvector(half_of(S32, h), lanesd);
                        S32 = (lanes32){0};
                        pending = 0;
                    }
                }
                int special = job->A.special[i * chunks + chunk];
                for (int w = 0; w < MMA_LANES; w++) special |= b_special[w];
                for (int h = 0; h < 2; h++) {
                    lanes64 q = __builtin_convertvector(half_of(E, h), lanes64) - F;
                    lanesd v = S[h] * pow2_lanes(q) + trunc_to_quantum(c[h], q);   /* exact */
                    /* rounded into the output type: the quantum 2^q of v's binade */
                    lanes64 ev = exponent_of(v);
                    q = select64(ev > out->emin, ev, splat64(out->emin)) - (out->precision - 1);
                    lanesd r;
                    if (out->mode == ROUND_TRUNC) {
                        r = trunc_to_quantum(v, q);
                    } else {
                        lanesd shifter = pow2_lanes(q + 52) * 1.5;
                        r = (v + shifter) - shifter;
                    }
                    lanes64 over = (r >= overflow_at) | (r <= -overflow_at);
                    r = double_of(select64(over, bits_of(infinity) | (bits_of(r) & INT64_MIN),
                                           bits_of(r)));
                    r += 0.0;   /* -0 becomes +0 */
                    /* a NaN or infinity (operand, scale or c): the scalar step decides */
                    lanes64 c_special = (c[h] != c[h]) | (c[h] == infinity) | (c[h] == -infinity);
                    for (int w = 0; w < HALF; w++) {
                        const int lane = h * HALF + w;
                        if ((special || c_special[w]) && j0 + lane < n &&
                            (job->A.special[i * chunks + chunk] | b_special[lane] | (int)c_special[w]))
                            r[w] = raw_step(job, i, j0 + lane, base, c[h][w], c_type);
                    }
                    c[h] = r;
                }
                c_type = OUT_TYPES[md->out];
            }
            for (int w = 0; w < MMA_LANES && j0 + w < n; w++) d[i * n + j0 + w] = c[w / HALF][w % HALF];
        }
    }
}

#undef lanes32
#undef half32
#undef lanes64
#undef lanesd
#undef HALF
#undef splat32
#undef load32
#undef max32
#undef min32
#undef trunc_shift32
#undef BROADCAST
#undef splat64
#undef select64
#undef bits_of
#undef double_of
#undef half_of
#undef exponent_of
#undef pow2_lanes
#undef trunc_to_quantum
#undef MMA_CAT
#undef MMA_CAT_
