/* Instantiates round_body.h for binary32 and binary64 input. Internal header. */
#ifndef SRROUND_ROUND_IMPL_H
#define SRROUND_ROUND_IMPL_H
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

#define SR_T float
#define SR_U uint32_t
#define SR_P 24
#define SR_BIAS 127
#define SR_FN(x) x##_f32
#include "round_body.h"
#undef SR_T
#undef SR_U
#undef SR_P
#undef SR_BIAS
#undef SR_FN

#define SR_T double
#define SR_U uint64_t
#define SR_P 53
#define SR_BIAS 1023
#define SR_FN(x) x##_f64
#include "round_body.h"
#undef SR_T
#undef SR_U
#undef SR_P
#undef SR_BIAS
#undef SR_FN

#define SR_CHUNK 256  /* elements per random draw: the words stay in L1 */

#endif
