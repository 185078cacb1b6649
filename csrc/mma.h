/*
 * Matrix multiply-accumulate as GPU matrix units compute it: bit-exact models of
 * NVIDIA tensor cores (mma, wgmma, tcgen05.mma, Volta to Blackwell) and AMD matrix
 * cores (mfma, CDNA1-3), after the arithmetic that MMA-Sim derived and validated
 * against the hardware (Xie, Wang, Yang & Yang, "MMA-Sim: Bit-Accurate Reference
 * Model of Tensor Cores and Matrix Cores", arXiv 2511.10909).
 *
 * An instruction computes D = A B + C, each element of D a dot product of one row of
 * A and one column of B, added to one element of C. The matrix unit does not round
 * each product and each sum as IEEE arithmetic would; it takes the products in
 * groups of L and adds each group and the running value c in one fused step, whose
 * result (in the output type) becomes c for the next group. The kinds of step:
 *
 *   MMA_FDPA_TRUNCATED (NVIDIA, all but fp64): each term (L products a_i b_i and c)
 *     is written s * 2^e with e its exponent (products: e_a + e_b, the exponents of
 *     the factors with 1 <= |s_a|, |s_b| < 2 for normal values and e = emin of the
 *     type for subnormals, so |s| < 4). Zero terms get e = e_zero. With E the
 *     largest e, every term is truncated (toward zero) to a multiple of 2^(E - F):
 *     F fraction bits are kept after alignment. The truncated terms are added
 *     exactly and the sum is rounded once into the output type (out). Block-scaled
 *     instructions (mxf8f6f4) multiply each product by the scales of its block,
 *     powers of two whose exponents add to e.
 *   MMA_FDPA_SCALED_GROUPS (NVIDIA mxf4, mxf4nvf4): the products of each group of
 *     G consecutive elements are added exactly, the group sum is multiplied by the
 *     product of its two block scales (ue8m0 or ue4m3), and the group terms and c
 *     are aligned, truncated to F bits and rounded as above; a group whose products
 *     are all zero, or whose scale is zero, gets e = e_zero.
 *   MMA_FDPA_TWO_STAGE (CDNA3 f16, bf16, xf32): the products are aligned to their
 *     largest exponent E_p and truncated to F bits (zero products do not count);
 *     then the product sum and c are aligned to E = max(E_p, e_c): the sum is
 *     floored to a multiple of 2^(E - F2 - 1), c to a multiple of 2^(E - F); their
 *     sum is floored to F2 + 1 significant bits (binary32's exponent range) and
 *     rounded to nearest binary32. Floor is toward minus infinity (two's complement
 *     truncation): the rounding is asymmetric. Products of 2^128 and more are inf.
 *   MMA_FDPA_TWO_STAGE_SPLIT (CDNA3 fp8/bf8): as TWO_STAGE, but the products at
 *     even and at odd positions are aligned and truncated separately, each sum is
 *     floored to F bits below the larger of the two exponents, and c is dropped
 *     when its exponent is below E - F - 1 (a NaN or infinite c counts with
 *     exponent -1 there, as in MMA-Sim).
 *   MMA_FDPA_EXACT (CDNA1 f16, bf16): the exact sum of the L products and c, rounded
 *     to nearest binary32 (an exact zero is +0).
 *   MMA_FMA_CHAIN (fp64 on NVIDIA and AMD, f32 on AMD): c = fma(a_i, b_i, c) for
 *     i = 1, 2, ..., each rounded to nearest in the output type.
 *   MMA_FTZ_MUL_ADD (CDNA2 f16, bf16): binary32 products and additions that flush
 *     subnormals: inputs and c to +0, results to signed zero. Products are added in
 *     pairs (group 2: c + (p1 + p2)) or fours (group 4: c + ((p1 + p2) + (p3 + p4))).
 *
 * Output roundings (out): toward zero into binary32 (RZ; a result of 2^128 and more
 * is inf, as MMA-Sim models), to nearest even into binary32 or binary16 (overflow to
 * inf), toward zero into an e8m13 intermediate (binary32's range, 14 significant
 * bits: Hopper and Ada fp8 with f32 output; the result is stored as binary32).
 * The fused kinds (FDPA_*) return the canonical quiet NaN for NaN results, and +0 for
 * zero results, except the two-stage kinds, whose final rounding keeps the sign of a
 * tiny negative sum.
 *
 * Everything is exact integer arithmetic on the significands (no double rounding):
 * the terms of a fused step are integers of at most F + 2 bits, their sums fit in 64
 * bits, and MMA_FDPA_EXACT adds into a 704-bit fixed-point accumulator.
 */
#ifndef SRROUND_MMA_H
#define SRROUND_MMA_H

#include <stddef.h>
#include <stdint.h>

#include "srround.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MMA_FDPA_TRUNCATED = 0,
    MMA_FDPA_SCALED_GROUPS,
    MMA_FDPA_TWO_STAGE,
    MMA_FDPA_TWO_STAGE_SPLIT,
    MMA_FDPA_EXACT,
    MMA_FMA_CHAIN,
    MMA_FTZ_MUL_ADD,
    MMA_NUM_KINDS
} mma_kind;

typedef enum {
    MMA_OUT_RZ_BINARY32 = 0,   /* toward zero; >= 2^128 gives inf */
    MMA_OUT_RN_BINARY32,       /* to nearest, ties to even */
    MMA_OUT_RN_BINARY16,       /* to nearest, ties to even */
    MMA_OUT_RZ_E8M13,          /* toward zero to 14 significant bits, binary32 range */
    MMA_OUT_BINARY64,          /* FMA chains in binary64 */
    MMA_NUM_OUTS
} mma_output;

/* An element type, as the matrix unit reads it: precision p (significand bits, the
   implicit bit included) and the exponent of its smallest normal number, emin.
   Values are x = s * 2^e with e >= emin, |s| < 2 (subnormals: e = emin, |s| < 1). */
typedef struct {
    int precision;
    int emin;
} mma_type;

typedef struct {
    mma_kind kind;
    mma_type a, b;       /* operand element types */
    mma_type c;          /* the type of C as the first step reads it (later steps
                            read the previous step's output) */
    mma_output out;      /* D's type and the rounding into it */
    int k;               /* the instruction's k; a GEMM is zero-padded to a multiple */
    int L;               /* products per fused step; k is a multiple of L */
    int F;               /* fraction bits kept after alignment (FDPA kinds) */
    int F2;              /* two-stage kinds: the second alignment keeps F2 + 1 bits */
    int e_zero;          /* exponent of zero terms (truncated and scaled-group kinds) */
    int group;           /* G of MMA_FDPA_SCALED_GROUPS; 2 or 4 for MMA_FTZ_MUL_ADD */
    int block;           /* products per scale factor, 0 for unscaled instructions */
    mma_type scale;      /* the scales' type: ue8m0 is {1, -127}, ue4m3 {4, -6} */
} mma_model;

/* Checks the parameters; returns 0, or -1 with *err set to a static message. */
int mma_model_check(const mma_model *model, const char **err);

/*
 * D (m x n) = A (m x k) B (k x n) + C, as a GEMM built from the instruction: k is
 * zero-padded to a multiple of model->k, and every element of D is the chain of
 * fused steps over its row of A and column of B in increasing k (the CUTLASS-style
 * mainloop: each k-tile's instruction takes the previous tile's D as its C).
 * All arrays are row-major doubles holding values of their types (the caller
 * checks representability): a, b the operands, c (NULL for zeros) of type
 * model->c; scale_a (m x nb) and scale_b (nb x n), nb = ceil(k / block), the block
 * scales of scaled instructions (NULL otherwise). d receives D's values.
 *
 * promote_every = N > 0 (a multiple of model->k): the matrix unit starts from C = 0
 * for every N values of k and its result is added into an accumulator that starts
 * at c (then a value of the accumulator's format): binary32, round to nearest (as DeepSeek-V3 promotes partial sums to CUDA
 * cores), or, when accumulate is not NULL, rounded in that context (a what-if
 * study, not hardware; its random words are drawn for block 0's m x n sums in
 * row-major order, then block 1's, ...).
 */
typedef struct {
    size_t m, n, k;
    const double *a, *b, *c;
    const double *scale_a, *scale_b;
    size_t promote_every;
    sr_context *accumulate;
    double *d;
    const char *isa;     /* kernel path ("scalar", "avx2", "avx512"); NULL: sr_isa() */
} mma_gemm_args;

/* Returns 0, or -1 with *err set (bad parameters, out of memory). */
int mma_gemm(const mma_model *model, const mma_gemm_args *args, const char **err);

/*
 * count independent dot products: d[t] = the chain of fused steps over the rows
 * a[t, :] and b[t, :] (each of length k, a multiple of model->L; no padding) and
 * c[t] (NULL for zeros). scale_a, scale_b: count x ceil(k / block), or NULL.
 * The portable scalar path of every kind (mma_gemm's fast path is tested against it).
 */
int mma_dots(const mma_model *model, size_t count, size_t k, const double *a,
             const double *b, const double *c, const double *scale_a,
             const double *scale_b, double *d, const char **err);

#ifdef __cplusplus
}
#endif
#endif
