/*
 * Matrix products with every operation rounded: C = A B (or C -+ A B), each
 * product a_il b_lj rounded in one context, each addition in another (or the
 * same), each operation the exact result rounded once, as the ufunc loops of
 * arith.c give it.
 *
 * The order of operations and of random words does not depend on the instruction
 * set or on how the kernel is blocked: output rows in blocks of SR_MATMUL_ROWS; in
 * a block, for l = 0 .. k-1, for each row i of the block: the n products
 * a_il b_lj (j in order, words from the product context), then the n additions
 * c_ij = c_ij + p_j (j in order, words from the sum context). With one context for
 * both, that is one stream: a row's n product words, then its n sum words.
 * Batches one after the other. Deterministic contexts draw nothing.
 *
 * The kernel body (matmul_body.h, via matmul_impl.h) is compiled once per
 * instruction set, like kernels.c's, and runs on the product context's path
 * (sr_context_isa); all give the same bits.
 */
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "round_common.h"
#include "srround.h"

/* Rows wider than this draw their words a chunk at a time (bounded memory). */
#define SR_MATMUL_WIDE 4096
/* Words drawn at once for narrower rows (several rows and steps), at most twice
   this: few enough to stay in L1 between the draw and their use. */
#define SR_MATMUL_FILL 1024

#define SR_ISA_TAG _scalar
#define SR_VEC_BYTES 16
#include "matmul_impl.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(SR_PORTABLE_ONLY)
#define SR_MM_HAVE_X86 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define SR_ISA_TAG _avx2
#define SR_VEC_BYTES 32
#define SR_VARIABLE_SHIFTS 1
#include "matmul_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), \
                             apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
#endif
#define SR_ISA_TAG _avx512
#define SR_VEC_BYTES 64
#define SR_VARIABLE_SHIFTS 1
#include "matmul_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

typedef int (*mm_fn)(sr_context *, sr_context *, const sr_matmul_args *, unsigned *);

/* Both streams are held for the whole product, locked in address order (two
   threads locking the same pair cannot deadlock). */
static int mm_locked(mm_fn f, sr_context *prod, sr_context *sum, const sr_matmul_args *g,
                     unsigned *flags)
{
    if (flags) *flags = 0;
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || g->batches <= 0) return 0;
    sr_context *first = prod < sum ? prod : sum, *second = prod < sum ? sum : prod;
    sr_context_lock(first);
    if (second != first) sr_context_lock(second);
    unsigned raised = 0;
    sr_fpenv caller = sr_fpenv_enter();
    int rc = f(prod, sum, g, &raised);
    sr_fpenv_leave(caller, raised);
    if (flags) *flags = raised;
    if (second != first) sr_context_unlock(second);
    sr_context_unlock(first);
    return rc;
}

#define SR_MM_ENTRY(T)                                                                    \
    int sr_matmul_##T(sr_context *prod, sr_context *sum, const sr_matmul_args *g,         \
                      unsigned *raised)                                                   \
    {                                                                                     \
        mm_fn f = mm_run_##T##_scalar;                                                    \
        SR_MM_X86_CHOICE(T)                                                               \
        return mm_locked(f, prod, sum, g, raised);                                          \
    }
#ifdef SR_MM_HAVE_X86
#define SR_MM_X86_CHOICE(T)                                                               \
    const char *isa = sr_context_isa(prod);                                               \
    if (strcmp(isa, "avx512") == 0) f = mm_run_##T##_avx512;                              \
    else if (strcmp(isa, "avx2") == 0) f = mm_run_##T##_avx2;
#else
#define SR_MM_X86_CHOICE(T)
#endif
SR_MM_ENTRY(f32)
SR_MM_ENTRY(f64)
