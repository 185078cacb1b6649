/* Shared by every instantiation of the kernel body. Internal header. */
#ifndef SRROUND_ROUND_COMMON_H
#define SRROUND_ROUND_COMMON_H
#include <string.h>

#include "modes.h"

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

#define SR_PASTE3_(a, b, c) a##b##c
#define SR_PASTE3(a, b, c) SR_PASTE3_(a, b, c)

/* The kernel table: one entry per instruction set, all computing the same bits. */
typedef void (*sr_round_chunk_fn)(const char *in, sr_intp is, char *out, sr_intp os,
                                  sr_intp n, const sr_type_consts *c, sr_rounding mode,
                                  int rshift, const uint64_t *rnd);
enum { SR_OP_ADD, SR_OP_SUBTRACT, SR_OP_MULTIPLY };
typedef int (*sr_arith_chunk_fn)(int op, const char *a, sr_intp sa, const char *b,
                                 sr_intp sb, char *out, sr_intp n, const sr_type_consts *c64,
                                 sr_rounding mode, int rshift, const uint64_t *rnd,
                                 double *hi, double *lo, uint64_t *undecided);
typedef struct {
    const char *name;
    sr_round_chunk_fn round_f32, round_f64;
    sr_arith_chunk_fn arith_f32, arith_f64;
    void (*rng_blocks)(sr_rng *r, uint64_t *out, size_t nblocks);
} sr_kernels;

/* The active entry (chosen once: SRROUND_ISA, else the best the CPU supports). */
const sr_kernels *sr_kernels_active(void);
#endif
