/*
 * srround C core: rounding of binary32/binary64 data to arbitrary low-precision
 * formats in every rounding mode, with a seedable, jumpable random stream.
 *
 * This header is the whole public C API. It depends on nothing but C11; the
 * Python bindings (srround/_core.pyx) are a thin layer over it.
 *
 * Where things live:
 *   roundings.def   THE list of rounding modes (X-macro table): the enum below,
 *                   every switch over modes and the names Python sees come from it
 *   modes.h         each mode's decision function sr_away_<name>, and the switches
 *   operations.def  THE list of operations: loops, ufunc table, fast-path switch
 *   format.c        format descriptors and their precomputed per-type constants
 *   round_body.h    the generic rounding kernels, instantiated per input type by
 *                   round_impl.h and per instruction set by kernels.c
 *   arith_fast_body.h  the vectorized path of the operations (same scheme)
 *   round.c         contexts, stream state and spawning, the rounding loops
 *   arith.c         the operations' exact kernels, their loops, the ufunc table
 *   rng.h, rng.c    the xoshiro256++ step (rng.h, its only copy); the stream of
 *                   SR_RNG_LANES interleaved lanes: seeding, buffering, jumps; the
 *                   counter stream (Philox4x32-10, its lanes in kernels.c)
 *   threads.c       the thread pool that splits large loop calls
 *   matmul.c        matrix products with every operation rounded (sr_matmul_*):
 *                   matmul_body.h, instantiated per type by matmul_impl.h and per
 *                   instruction set in matmul.c
 *   given_bits.c    stochastic rounding with caller-supplied random bits
 *   unsigned_zero.c the loops of formats without -0 (the others', wrapped)
 * Adding a mode or an operation: docs/contributing.md.
 */
#ifndef SRROUND_H
#define SRROUND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "operations.def"
#include "roundings.def"

#ifdef __cplusplus
extern "C" {
#endif

/* The rounding modes, SR_<ID> in the order of roundings.def (their only list). */
#define SR_ENUM_ROUNDING_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC) SR_##ID,
typedef enum { SR_ROUNDINGS(SR_ENUM_ROUNDING_, ~) } sr_rounding;
/* The number of modes, outside the enum so that switches over modes need no case
   for it. */
#define SR_COUNT_(A, ...) +1
enum { SR_NUM_ROUNDINGS = 0 SR_ROUNDINGS(SR_COUNT_, ~) };

typedef enum {
    SR_OVERFLOW_INF = 0,   /* IEEE 754: overflow gives +-inf */
    SR_OVERFLOW_SATURATE,  /* clamp to +-max, infinities included */
    SR_OVERFLOW_NAN        /* NaN wherever "inf" would give +-inf */
} sr_overflow;

/*
 * Constants of one format as seen from one input type (binary32 or binary64).
 * All bit patterns are magnitudes (sign bit clear) in the input type's encoding.
 * Patterns are kept in uint64_t for both types so that one struct serves both.
 */
typedef struct {
    int usable;          /* every value of the format is representable in this type */
    int shift;           /* P - p: bits discarded from a normal input in the normal range */
    int emin_biased;     /* target emin, biased with the input type's bias */
    int parity_offset;   /* p == 1 only: makes "odd" follow the target's biased exponent */
    uint64_t normal_bits;/* 2^emin: from here up, exactly `shift` bits are discarded */
    uint64_t gap_bits;   /* below this, the neighbours are 0 and the gap value itself:   */
    int gap_exp;         /*   2^gap_exp = smallest subnormal, or 2^emin without subnormals */
    uint64_t max_bits;   /* largest finite value of the format */
    uint64_t inf_result; /* what an infinite result becomes under the overflow policy */
} sr_type_consts;

typedef struct {
    int precision;       /* p: significand bits, implicit bit included */
    int emax, emin;
    int subnormals;
    sr_overflow overflow;
    double max;          /* largest finite value */
    int signed_zero;     /* 1 (sr_format_init's default): -0 exists; 0: FNUZ and P3109
                            formats, whose loops are wrapped (sr_loop_unsigned_zero_*) */
    sr_type_consts f32, f64;
    /* Binary64 constants for the format scaled by 2^SR_TINY_SCALE: used to round
       tiny arithmetic results whose error terms would underflow. */
    sr_type_consts f64_scaled;
    /* ... and for the format scaled by 1/2: exact results just beyond DBL_MAX, whose
       halves are binary64 numbers, are rounded that way (they may still round to
       max: stochastic rounding, or a value of the format above DBL_MAX/2 + ...). */
    sr_type_consts f64_half;
} sr_format;

#define SR_TINY_SCALE 512

/* Fills *fmt; returns 0, or -1 with *err set to a static message naming the problem. */
int sr_format_init(sr_format *fmt, int precision, int emax, int emin, int subnormals,
                   sr_overflow overflow, double max, const char **err);

/* ---- random stream ---------------------------------------------------- */

#define SR_RNG_LANES 8

/*
 * The stream is SR_RNG_LANES xoshiro256++ generators interleaved: word k of the
 * stream is the (k / LANES)-th output of lane k % LANES. Words generated but not
 * yet used stay in buf, so a stream does not depend on how callers split it up.
 * 32-bit draws (rounding float32 data) split each word into its low half, then its
 * high half; an unused high half waits in `half` for the next 32-bit draw, and a
 * 64-bit draw discards it.
 */
typedef enum { SR_STREAM_SEQUENTIAL = 0, SR_STREAM_COUNTER = 1 } sr_stream_kind;

/*
 * The counter stream (kind SR_STREAM_COUNTER) is Philox4x32-10 (Salmon, Moraes,
 * Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11): 32-bit
 * half-word h of the stream is output word h % 4 of the block with counter
 * (b, b >> 32, stream_id[0], stream_id[1]), b = h / 4, under key `key`. So 64-bit
 * word k is half-words 2k (low) and 2k + 1 (high), the order of the sequential
 * stream, and every word is a pure function of (key, stream_id, position): any
 * position is reached in O(1), and pieces of one call can draw in parallel.
 * `next` is the index of the next unused 64-bit word; has_half says that word
 * next - 1's high half still waits for a 32-bit draw (s, buf, pos, half unused).
 */
typedef struct {
    uint64_t s[4][SR_RNG_LANES]; /* s[i][lane]: structure of arrays, for SIMD */
    uint64_t buf[SR_RNG_LANES];
    int pos;                     /* next unused word of buf; LANES when empty */
    int has_half;                /* half holds an unused high half-word */
    uint32_t half;
    sr_stream_kind kind;
    uint32_t key[2], stream_id[2];   /* counter streams only */
    uint64_t next;
} sr_rng;

/* seed: 4 * SR_RNG_LANES words; lane j takes seed[4j .. 4j+3] as (s0, s1, s2, s3).
   An all-zero lane (invalid for xoshiro) is replaced by a fixed non-zero state. */
void sr_rng_seed(sr_rng *rng, const uint64_t *seed);
void sr_rng_fill(sr_rng *rng, uint64_t *out, size_t n);
void sr_rng_fill32(sr_rng *rng, uint32_t *out, size_t n);
/* Advance every lane by 2^128 steps and drop buffered words. */
void sr_rng_jump(sr_rng *rng);
/* A counter stream at position 0: key = words[0] (low half first), stream_id = words[1]. */
void sr_rng_seed_counter(sr_rng *rng, const uint64_t *words);
/* Philox4x32-10 of one block (the known-answer vectors of Random123 check it). */
void sr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* Counter streams: the position in 32-bit half-words drawn (2 * next - has_half),
   and setting it; a 64-bit draw starts at the next whole word. */
uint64_t sr_rng_half_position(const sr_rng *rng);
void sr_rng_set_half_position(sr_rng *rng, uint64_t h);
/* Skip n 64-bit words (2n half-words): O(1) for a counter stream, drawn and
   dropped for a sequential one. */
void sr_rng_advance(sr_rng *rng, uint64_t n);

/* ---- contexts and loops ------------------------------------------------- */

struct sr_kernels;       /* one kernel path (kernels.c) */
typedef struct {
    sr_format fmt;
    sr_rounding rounding;
    int bits;            /* random bits per draw for stochastic rounding, 1..64 */
    sr_rng rng;
    atomic_flag lock;    /* guards rng: several threads may share one context */
    /* The kernel path its loops and its stream run: sr_isa()'s when the context is
       made; sr_context_set_isa changes it (tests and benchmarks). */
    const struct sr_kernels *kernels;
} sr_context;

/* Returns 0, or -1 with *err set. seed as for sr_rng_seed. */
int sr_context_init(sr_context *ctx, const sr_format *fmt, sr_rounding rounding, int bits,
                    const uint64_t *seed, const char **err);
/* Draws n words (or n 32-bit half-words) from ctx's stream, thread-safely. */
void sr_context_draw(sr_context *ctx, uint64_t *out, size_t n);
void sr_context_draw32(sr_context *ctx, uint32_t *out, size_t n);
/* Hold the stream's lock (for reading or replacing its state). */
void sr_context_lock(sr_context *ctx);
void sr_context_unlock(sr_context *ctx);
int sr_rounding_is_stochastic(sr_rounding r);

/* The stream's state, as pickles save it: s[i][lane] as in sr_rng, the buffered
   words, the next unused one (SR_RNG_LANES when none), the waiting 32-bit half-word
   or -1. */
typedef struct {
    uint64_t s[4][SR_RNG_LANES];
    uint64_t buf[SR_RNG_LANES];
    int pos;
    int64_t half;
} sr_rng_state;
void sr_context_get_state(sr_context *ctx, sr_rng_state *state);
/* Returns 0, or -1 with *err set (and ctx unchanged) for a state no stream can be
   in: an all-zero lane (xoshiro's fixed point: it would emit 0 forever), pos outside
   0..SR_RNG_LANES, half outside -1..2^32-1. */
int sr_context_set_state(sr_context *ctx, const sr_rng_state *state, const char **err);
/* Makes *child a context with parent's format, mode and bits and the next 2^128-word
   stretch of parent's stream (words parent had buffered stay unused); parent moves
   past it (one jump). Thread-safe with respect to parent. Sequential streams only:
   a counter stream's children get fresh keys (srround/_core.pyx derives them with
   NumPy's SeedSequence), and sr_context_get_state/set_state hold no counter state. */
void sr_context_spawn(sr_context *parent, sr_context *child);

/* Kernel paths: "scalar" (portable C), "avx2", "avx512"; all give the same bits.
   sr_isa: the default path, chosen once, at first use, and never changed: the one
   the environment variable SRROUND_ISA names if this CPU runs it, else the widest
   this CPU runs. Each context runs the path it holds: the default, or the one
   sr_context_set_isa gives it. sr_isa_check and sr_context_set_isa return 0, -1 for
   an unknown name, -2 if this CPU lacks that path. */
const char *sr_isa(void);
int sr_isa_check(const char *isa);
int sr_context_set_isa(sr_context *ctx, const char *isa);
const char *sr_context_isa(const sr_context *ctx);

/* Threads used by one large call (1..256; default 1): see csrc/threads.c.
   sr_set_num_threads returns 0, or -1 for a count out of range. */
int sr_set_num_threads(int n);
int sr_get_num_threads(void);

/* Plain rounding of one value (slow path helpers; used by tests and scalars). */
float sr_round_f32(float x, sr_context *ctx);
double sr_round_f64(double x, sr_context *ctx);

/*
 * Strided loops with NumPy's ufunc inner-loop signature, so the bindings can hand
 * them straight to PyUFunc_FromFuncAndData; data is an sr_context *.
 */
typedef intptr_t sr_intp;
typedef void (*sr_loop)(char **args, const sr_intp *dimensions, const sr_intp *steps,
                        void *data);

/* sr_loop_round_f32/_f64, and sr_loop_<NAME>_f32/_f64 for every operation of
   operations.def */
void sr_loop_round_f32(char **, const sr_intp *, const sr_intp *, void *);
void sr_loop_round_f64(char **, const sr_intp *, const sr_intp *, void *);
#define SR_DECLARE_LOOPS_(A, ID, NAME, NIN, IDENTITY, EXACT, FAST, DOC)                   \
    void sr_loop_##NAME##_f32(char **, const sr_intp *, const sr_intp *, void *);      \
    void sr_loop_##NAME##_f64(char **, const sr_intp *, const sr_intp *, void *);
SR_OPERATIONS(SR_DECLARE_LOOPS_, ~)
/* Rounding of other input types into binary64 output, from their exact value:
   int64, uint64 (no rounding to binary64 first) and float16 (uint16 patterns). */
void sr_loop_round_i64(char **, const sr_intp *, const sr_intp *, void *);
void sr_loop_round_u64(char **, const sr_intp *, const sr_intp *, void *);
void sr_loop_round_f16(char **, const sr_intp *, const sr_intp *, void *);

/*
 * Stochastic rounding with caller-supplied random bits (csrc/given_bits.c): args are
 * the values (float32 or float64), one uint64 random integer R per value, and the
 * output. With r = ctx->bits, |x| rounds away from zero exactly when
 * F + (R mod 2^r) >= 2^r, F = floor(2^r * (distance to the neighbour toward zero, in
 * units of the gap)). Nothing is drawn from ctx's stream; ctx->rounding is not read.
 */
void sr_loop_round_given_f32(char **, const sr_intp *, const sr_intp *, void *);
void sr_loop_round_given_f64(char **, const sr_intp *, const sr_intp *, void *);

/*
 * Formats without negative zero (csrc/unsigned_zero.c): a loop that runs `inner`
 * with inner_data, then turns every -0 in its output (argument nin, float32 or
 * float64) into +0. data points to an sr_unsigned_zero_loop.
 */
typedef struct {
    sr_loop inner;
    void *inner_data;
    int nin;             /* number of inputs, at most 3: the output is args[nin] */
} sr_unsigned_zero_loop;
void sr_loop_unsigned_zero_f32(char **, const sr_intp *, const sr_intp *, void *);
void sr_loop_unsigned_zero_f64(char **, const sr_intp *, const sr_intp *, void *);

/*
 * The ufunc table: every ufunc of a context, in order (round first, then the
 * operations of operations.def), with its loops in the order NumPy should try them.
 * The bindings (srround/_core.pyx) build Context's ufuncs and attributes from it.
 */
typedef enum { SR_IDENTITY_NONE, SR_IDENTITY_ZERO, SR_IDENTITY_ONE } sr_identity;
typedef enum { SR_DTYPE_F16, SR_DTYPE_F32, SR_DTYPE_F64, SR_DTYPE_I64, SR_DTYPE_U64 } sr_dtype;
typedef struct {
    sr_loop loop;
    sr_dtype in, out;    /* every input has type `in` */
    int needs_f32;       /* only for formats that binary32 can carry (fmt.f32.usable) */
} sr_ufunc_loop;
enum { SR_MAX_UFUNC_LOOPS = 5 };
typedef struct {
    const char *name;
    int nin;             /* inputs; one output */
    sr_identity identity;
    const char *doc;     /* what it computes */
    int nloops;
    sr_ufunc_loop loops[SR_MAX_UFUNC_LOOPS];
} sr_ufunc_spec;
enum { SR_NUM_UFUNCS = 1 SR_OPERATIONS(SR_COUNT_, ~) };
extern const sr_ufunc_spec sr_ufuncs[SR_NUM_UFUNCS];
/* The modes' names (roundings.def), indexed by sr_rounding. */
extern const char *const sr_rounding_names[SR_NUM_ROUNDINGS];

/* Kahan-compensated sum of n strided values, every operation rounded in ctx. */
double sr_sum_kahan_f32(sr_context *ctx, const char *x, sr_intp n, sr_intp stride);
double sr_sum_kahan_f64(sr_context *ctx, const char *x, sr_intp n, sr_intp stride);

/* The smallest part worth a thread in the arithmetic loops (the operations take a
   few nanoseconds each): a loop splits across threads from 2 * SR_SPLIT_ARITH
   elements (threads.c), which srround.summation.dot reads to keep such products on
   the two-pass path. */
#define SR_SPLIT_ARITH 8192

/* The inner product of n strided values x, y: each product rounded in prod, the
   products summed recursively from +0, each sum rounded in sum (which may be prod),
   in one pass (dot_fused.h); *result gets it. The same bits and stream positions as
   prod's multiply loop over the n pairs, then sum's add reduction of the products.
   Returns the SR_RAISE_* flags, also raised in the floating-point environment. */
unsigned sr_dot_f32(sr_context *prod, sr_context *sum, const char *x, sr_intp xs,
                    const char *y, sr_intp ys, sr_intp n, double *result);
unsigned sr_dot_f64(sr_context *prod, sr_context *sum, const char *x, sr_intp xs,
                    const char *y, sr_intp ys, sr_intp n, double *result);

/*
 * Matrix products with every operation rounded (matmul.c): for each batch t,
 *   C = A B   (zero_start: sums from +0)   or   C = C - A B   (subtract),
 * each product a_il b_lj exact, rounded once in prod; each addition (subtraction)
 * of it to c_ij exact, rounded once in sum (which may be prod), l in order. A is
 * m x k, B k x n, C m x n; strides in bytes, C's columns contiguous. Order of the
 * operations and words: output rows in blocks of SR_MATMUL_ROWS; in a block, for
 * l = 0..k-1, for each row i of it: its n products (j in order, words from prod),
 * then its n additions (words from sum); batches in order. Both contexts are held
 * for the whole call. Floating-point flags as the loops below (see there); *raised
 * (unless NULL) also gets them as SR_RAISE_* bits (1 overflow, 2 divide-by-zero,
 * 4 invalid). Returns 0, or -1 when out of memory (nothing done).
 */
#define SR_MATMUL_ROWS 4
typedef struct {
    sr_intp m, k, n, batches;
    const char *a;
    sr_intp a_rs, a_cs;
    const sr_intp *a_offsets;   /* batches byte offsets from a */
    const char *b;
    sr_intp b_rs, b_cs;
    const sr_intp *b_offsets;
    char *c;
    sr_intp c_rs;
    const sr_intp *c_offsets;
    int subtract, zero_start;
} sr_matmul_args;
int sr_matmul_f32(sr_context *prod, sr_context *sum, const sr_matmul_args *args,
                  unsigned *raised);
int sr_matmul_f64(sr_context *prod, sr_context *sum, const sr_matmul_args *args,
                  unsigned *raised);

/*
 * Floating-point environment: every loop and sum above gives the same bits whatever
 * rounding direction, flush-to-zero or denormals-are-zero the caller has set, and
 * leaves that state as it found it, adding only the flags of the emulated
 * operations: overflow where a finite exact result becomes +-inf or NaN through
 * the overflow policy; for arithmetic also divide-by-zero (x / 0) and invalid (NaN
 * from operands that are not NaN). Never underflow or inexact.
 *
 * For tests, the caller's side of it: direction 0 nearest, 1 toward zero, 2 upward,
 * 3 downward; ftz, daz: flush-to-zero, denormals-are-zero (SSE only). Returns 0, or
 * -1 if this machine cannot set that state. sr_test_fp_state reads it back as
 * direction | ftz << 2 | daz << 3 | (exception masks) << 4.
 */
int sr_test_set_fp_state(int direction, int ftz, int daz);
long sr_test_fp_state(void);

#ifdef __cplusplus
}
#endif
#endif
