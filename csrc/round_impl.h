/*
 * Instantiates round_body.h for binary32 and binary64 input, with function names
 * suffixed by SR_ISA_TAG (empty for the default build): kernels.c includes this
 * once per instruction set, under a matching `#pragma GCC target`. No include guard.
 */
#include <fenv.h>
#include <math.h>

#include "round_common.h"

#ifndef SR_ISA_TAG
#define SR_ISA_TAG
#endif

#define SR_T float
#define SR_U uint32_t
#define SR_P 24
#define SR_BIAS 127
#define SR_FN(x) SR_PASTE3(x, _f32, SR_ISA_TAG)
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
#define SR_FN(x) SR_PASTE3(x, _f64, SR_ISA_TAG)
#include "round_body.h"
#undef SR_T
#undef SR_U
#undef SR_P
#undef SR_BIAS
#undef SR_FN

/* the arithmetic fast path uses the binary64 kernels above */
#define SR_T float
#define SR_FN(x) SR_PASTE3(x, _f32, SR_ISA_TAG)
#include "arith_fast_body.h"
#undef SR_T
#undef SR_FN
#define SR_T double
#define SR_FN(x) SR_PASTE3(x, _f64, SR_ISA_TAG)
#include "arith_fast_body.h"
#include "sum_chain_body.h"
#include "kahan_check_body.h"
#undef SR_T
#undef SR_FN
