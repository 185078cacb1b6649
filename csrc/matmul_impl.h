/*
 * Instantiates matmul_body.h for binary32 and binary64 data, names suffixed with
 * SR_ISA_TAG (after round_impl.h, whose kernels it uses): matmul.c includes this once
 * per instruction set, under a matching target pragma, after defining SR_ISA_TAG,
 * SR_VEC_BYTES (and SR_VARIABLE_SHIFTS), which this file undefines at its end. No
 * include guard.
 */
#include "round_impl.h"

#define SR_T float
#define SR_FN(x) SR_PASTE3(x, _f32, SR_ISA_TAG)
#define SR_MM_FLOAT_LANES 1
#include "matmul_body.h"
#undef SR_MM_FLOAT_LANES
#undef SR_T
#undef SR_FN
#define SR_T double
#define SR_FN(x) SR_PASTE3(x, _f64, SR_ISA_TAG)
#include "matmul_body.h"
#undef SR_T
#undef SR_FN
#undef SR_ISA_TAG
#undef SR_VEC_BYTES
#undef SR_VARIABLE_SHIFTS
