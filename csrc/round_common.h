/* Shared by every instantiation of the kernel body. Internal header. */
#ifndef SRROUND_ROUND_COMMON_H
#define SRROUND_ROUND_COMMON_H
#include <string.h>

#include "modes.h"
#include "rng.h"

/* |x| lies in [trunc, up): the neighbour toward zero and the one away from it. */
typedef struct {
    uint64_t trunc, up;  /* bit patterns in the input type */
    uint64_t frac;       /* (|x| - trunc) / (up - trunc), as a 64-bit fraction, truncated */
    int sticky;          /* bits below frac's last were nonzero */
    int odd;             /* trunc's last significand bit (ties to even, round to odd) */
    int ulp_exp;         /* up - trunc == 2^ulp_exp */
} sr_split;

/* up if away, else trunc, computed with a mask: the choice is a data-dependent coin
   flip, and a branch here costs a misprediction on half the elements. */
static inline uint64_t sr_choose(int away, sr_split s)
{
    uint64_t mask = (uint64_t)0 - (uint64_t)away;
    return s.trunc ^ ((s.trunc ^ s.up) & mask);
}

#define SR_CHUNK 256  /* elements per random draw: the words stay in L1 */

/* SR_PORTABLE_ONLY: the portable C path alone, no per-ISA kernels and no SSE
   intrinsics: the code that other machines run, built and tested on x86-64 too. */
#if defined(__SSE2__) && !defined(SR_PORTABLE_ONLY)
#define SR_USE_SSE2 1
#else
#define SR_USE_SSE2 0
#endif

/* Hides a variable's value from the optimizer (an empty asm that may change it), at
   no cost: GCC 12 vectorizes `one << n` with per-lane counts n on 64-bit lanes only
   when it cannot see that one is the constant 1. */
#if defined(__GNUC__)
#define SR_OPAQUE(v) __asm__("" : "+r"(v))
#else
#define SR_OPAQUE(v) ((void)0)
#endif

#if defined(__GNUC__)
#define SR_ALWAYS_INLINE inline __attribute__((always_inline))
#define SR_NOINLINE __attribute__((noinline))
#else
#define SR_ALWAYS_INLINE inline
#define SR_NOINLINE
#endif

/*
 * The floating-point environment. The results must not depend on the caller's
 * rounding direction or on flush-to-zero / denormals-are-zero (which fast-math code
 * and some libraries switch on), and the flags the core's own binary64 arithmetic
 * raises (inexact everywhere, overflow or underflow in its error terms) mean nothing
 * to the caller. So every entry point that computes (the ufunc loops, the Kahan sums)
 * runs between sr_fpenv_enter, which saves the caller's state and sets IEEE 754's
 * default one (round to nearest, subnormals kept, exceptions masked, flags clear),
 * and sr_fpenv_leave, which restores the caller's state and then raises the flags of
 * the emulated operation, computed explicitly (SR_RAISE_*): once per loop call, not
 * per element. On x86-64 all of it is SSE arithmetic, whose state lives in MXCSR:
 * reading and writing that register takes a few cycles, where <fenv.h>'s functions
 * also save and reload the x87 environment.
 */
enum {
    SR_RAISE_OVERFLOW = 1,    /* a finite exact result became +-inf or NaN (overflow policy) */
    SR_RAISE_DIVBYZERO = 2,   /* an exact infinity from finite operands (x / 0) */
    SR_RAISE_INVALID = 4      /* NaN from operands that are not NaN (inf - inf, sqrt(-1) ...) */
};
#if SR_USE_SSE2
#include <xmmintrin.h>
typedef unsigned int sr_fpenv;
#define SR_MXCSR_DEFAULT 0x1f80u   /* all exceptions masked, nearest, no FTZ/DAZ, clear */
static inline sr_fpenv sr_fpenv_enter(void)
{
    sr_fpenv caller = _mm_getcsr();
    _mm_setcsr(SR_MXCSR_DEFAULT);
    return caller;
}
static inline void sr_fpenv_leave(sr_fpenv caller, unsigned raised)
{
    /* MXCSR's flag bits: invalid 0x01, divide-by-zero 0x04, overflow 0x08 */
    _mm_setcsr(caller | ((raised & SR_RAISE_INVALID) ? 0x01u : 0) |
               ((raised & SR_RAISE_DIVBYZERO) ? 0x04u : 0) |
               ((raised & SR_RAISE_OVERFLOW) ? 0x08u : 0));
}
#else
#include <fenv.h>
typedef fenv_t sr_fpenv;
static inline sr_fpenv sr_fpenv_enter(void)
{
    sr_fpenv caller;
    fegetenv(&caller);
    fesetenv(FE_DFL_ENV);
    return caller;
}
static inline void sr_fpenv_leave(sr_fpenv caller, unsigned raised)
{
    fesetenv(&caller);
    int flags = 0;
#ifdef FE_INVALID
    if (raised & SR_RAISE_INVALID) flags |= FE_INVALID;
#endif
#ifdef FE_DIVBYZERO
    if (raised & SR_RAISE_DIVBYZERO) flags |= FE_DIVBYZERO;
#endif
#ifdef FE_OVERFLOW
    if (raised & SR_RAISE_OVERFLOW) flags |= FE_OVERFLOW;
#endif
    if (flags) feraiseexcept(flags);
}
#endif

/* Kernels that take random words straight from the generator's registers need GCC
   vector types, and a little-endian machine (where a 64-bit word's low half is the
   first 32-bit word in memory, the order of sr_rng_fill32). */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ \
    && SR_RNG_LANES == 8
#define SR_HAVE_INLINE_RNG 1
#endif

#define SR_PASTE3_(a, b, c) a##b##c
#define SR_PASTE3(a, b, c) SR_PASTE3_(a, b, c)

/* The kernel table: one entry per instruction set, all computing the same bits. */
/* rounding n values: returns the flags to raise (SR_RAISE_*) */
typedef unsigned (*sr_round_chunk_fn)(const char *in, sr_intp is, char *out, sr_intp os,
                                      sr_intp n, const sr_type_consts *c, sr_rounding mode,
                                      int rshift, const void *rnd);
/* the operations of operations.def */
#define SR_ENUM_OP_(A, ID, NAME, NIN, IDENTITY, EXACT, FAST, DOC) SR_OP_##ID,
typedef enum { SR_OPERATIONS(SR_ENUM_OP_, ~) } sr_op;
#undef SR_ENUM_OP_
typedef int (*sr_arith_chunk_fn)(sr_op op, const char *const *in, const sr_intp *strides,
                                 char *out, sr_intp n, const sr_type_consts *c64,
                                 sr_rounding mode, int rshift, const uint64_t *rnd,
                                 uint64_t *undecided);
/* the checks of n sum steps fl(a[i] +- b[i]) rounded with increments inc[i] (arith.c's
   two-pass chains): the first step that fails them, or n */
typedef sr_intp (*sr_chain_check_fn)(const double *a, const double *b, const uint64_t *inc,
                                     sr_intp n, int negate, const sr_type_consts *c64);
/* the integer chain of those sums (sum_chain_body.h): the running sum's binade, and
   how many of n steps hold (writing the n increments of the words rnd to inc) */
typedef struct {
    uint64_t sign, neg, base;   /* neg: all ones for a negative sum */
    double scale, unscale;      /* 2^(52-E), 2^(E-52) */
} sr_sum_frame;
typedef sr_intp (*sr_sum_chain_fn)(const double *xs, const uint64_t *rnd, uint64_t *inc,
                                   sr_intp n, const sr_sum_frame *f, const sr_type_consts *c64,
                                   sr_rounding mode, int bits, uint64_t *v);
/* the checks of a two-pass Kahan chunk of n steps (kahan_check_body.h): the first step
   that fails them, or n */
typedef sr_intp (*sr_kahan_check_fn)(const double *x, const double *s, const double *c,
                                     const double *y, const uint64_t (*inc)[SR_CHUNK],
                                     sr_intp n, const sr_type_consts *c64);
/* Stochastic rounding of n contiguous, aligned values, n a multiple of one generator
   step (64 bytes of words), drawing from r (at a block boundary). Returns 0, having
   drawn nothing, where the format is the input type itself (shift 0); adds the flags
   to raise to *raised. */
typedef int (*sr_round_inline_fn)(const char *in, char *out, sr_intp n,
                                  const sr_type_consts *c, sr_rounding mode, int rshift,
                                  sr_rng *r, unsigned *raised);
/* The same for a counter stream r, from its half-word h (h % 4 == 0; r unchanged:
   the caller moves its position on): rounds the values of in up to the first step
   (four vector registers of values) that needs the general routine, crosses 2^32
   Philox blocks or ends past n, and returns how many it rounded (0 for a mode that
   draws none). */
typedef sr_intp (*sr_round_counter_fn)(const char *in, char *out, sr_intp n,
                                       const sr_type_consts *c, sr_rounding mode, int rshift,
                                       const sr_rng *r, uint64_t h);
typedef struct sr_kernels {
    const char *name;
    sr_round_chunk_fn round_f32, round_f64;
    sr_round_inline_fn round_inline_f32, round_inline_f64;   /* NULL if unavailable */
    sr_arith_chunk_fn arith_f32, arith_f64;
    sr_chain_check_fn chain_check;
    sr_sum_chain_fn sum_chain;
    sr_kahan_check_fn kahan_check;
    void (*rng_blocks)(sr_rng *r, uint64_t *out, size_t nblocks);
    /* counter streams: half-words h .. h + n - 1 of r's stream */
    void (*philox_halves)(const sr_rng *r, uint64_t h, uint32_t *out, size_t n);
    sr_round_counter_fn round_counter_f32, round_counter_f64;   /* NULL if unavailable */
} sr_kernels;

/* The exact path of one add, subtract or multiply (arith.c), rounded in f. */
double sr_exact_op(sr_op op, double a, double b, const sr_format *f, sr_rounding mode,
                   int rshift, uint64_t rnd, unsigned *raised);

/* One loop's work on n elements (args advanced to the first), drawing from rng, a
   private stream already at the first element's position, or, if rng is NULL, from
   ctx's stream under its lock. Returns the flags to raise. */
typedef unsigned (*sr_piece_fn)(sr_context *ctx, sr_rng *rng, char **args,
                                const sr_intp *steps, sr_intp n);
/* Runs piece over n elements, split across the thread pool where the result cannot
   depend on it (csrc/threads.c): parts of at least min_part elements. word_bytes:
   4 if each element draws a 32-bit half-word, 8 for a 64-bit word. */
unsigned sr_run_split(sr_context *ctx, sr_piece_fn piece, char **args, int nargs,
                      const sr_intp *steps, sr_intp n, int word_bytes, sr_intp min_part);

/* The default entry (chosen once: SRROUND_ISA, else the best the CPU supports). */
const sr_kernels *sr_kernels_default(void);
/* The entry of that name, or NULL with *status -1 (unknown) or -2 (not on this CPU). */
const sr_kernels *sr_kernels_by_name(const char *isa, int *status);
/* sr_rng_fill, _fill32 and _jump with the block generator of kernel path k. */
void sr_rng_fill_k(const sr_kernels *k, sr_rng *r, uint64_t *out, size_t n);
void sr_rng_fill32_k(const sr_kernels *k, sr_rng *r, uint32_t *out, size_t n);
void sr_rng_jump_k(const sr_kernels *k, sr_rng *r);
/* Every lane of a sequential stream steps on (SR_RNG_LANES * steps words), in O(log
   steps); the buffered words and their position are untouched (rng.c) */
void sr_rng_jump_steps_k(const sr_kernels *k, sr_rng *r, uint64_t steps);
#endif
