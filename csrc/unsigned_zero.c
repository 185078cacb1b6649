/*
 * Loops for formats without negative zero (FNUZ, IEEE P3109): the format's own loop
 * runs, then every -0 it wrote becomes +0. Wrapping the loops, rather than testing
 * a flag inside the kernels, leaves the kernels of every other format untouched.
 * Turning -0 into +0 after the fact gives what rounding into the format gives at
 * every step, reductions included: a zero's sign changes only the sign of later
 * zero results (x + 0, 0 * y, 0 / y), never a nonzero value.
 */
#include <string.h>

#include "srround.h"

#define SR_DEFINE_UNSIGNED_ZERO(T, U, SIGN)                                             \
    void sr_loop_unsigned_zero_##T(char **args, const sr_intp *dims,                    \
                                   const sr_intp *steps, void *data)                    \
    {                                                                                   \
        const sr_unsigned_zero_loop *w = data;                                          \
        w->inner(args, dims, steps, w->inner_data);                                     \
        char *out = args[w->nin];                                                       \
        sr_intp os = steps[w->nin];                                                     \
        for (sr_intp i = 0; i < dims[0]; i++) {                                         \
            U bits;                                                                     \
            memcpy(&bits, out + i * os, sizeof bits);                                   \
            if (bits == (SIGN)) {                                                       \
                bits = 0;                                                               \
                memcpy(out + i * os, &bits, sizeof bits);                               \
            }                                                                           \
        }                                                                               \
    }
SR_DEFINE_UNSIGNED_ZERO(f32, uint32_t, (uint32_t)1 << 31)
SR_DEFINE_UNSIGNED_ZERO(f64, uint64_t, (uint64_t)1 << 63)
