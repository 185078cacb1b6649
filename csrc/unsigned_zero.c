/*
 * Loops for formats without negative zero (FNUZ, IEEE P3109): the format's own loop
 * runs, then every -0 it wrote becomes +0. Wrapping the loops, rather than testing
 * a flag inside the kernels, leaves the kernels of every other format untouched.
 * Turning -0 into +0 after the fact gives what rounding into the format gives at
 * every step, reductions included: a zero's sign changes only the sign of later
 * zero results (x + 0, 0 * y, 0 / y), never a nonzero value.
 */
#include <stdint.h>
#include <string.h>

#include "srround.h"

/* On one thread the inner loop runs on blocks small enough to stay in cache while
   their -0s are cleared (a second pass over a whole large array would cost a trip to
   memory); with several threads it gets the whole call, which the thread pool
   (csrc/threads.c) can split. The random stream does not depend on how a loop's
   elements are split into calls. */
#define SR_ZERO_BLOCK 1024
#define SR_MAX_ARGS 4

/* -0 -> +0 in n values at out, stride os */
#define SR_DEFINE_CLEAR(T, U, SIGN)                                                     \
    static void clear_negative_zeros_##T(char *out, sr_intp os, sr_intp n)              \
    {                                                                                   \
        if (os == (sr_intp)sizeof(U) && (uintptr_t)out % sizeof(U) == 0) {              \
            U *y = (U *)(void *)out;   /* contiguous: a loop compilers vectorize */     \
            for (sr_intp i = 0; i < n; i++) y[i] = y[i] == (SIGN) ? 0 : y[i];           \
            return;                                                                     \
        }                                                                               \
        for (sr_intp i = 0; i < n; i++) {                                               \
            U bits;                                                                     \
            memcpy(&bits, out + i * os, sizeof bits);                                   \
            if (bits == (SIGN)) {                                                       \
                bits = 0;                                                               \
                memcpy(out + i * os, &bits, sizeof bits);                               \
            }                                                                           \
        }                                                                               \
    }
SR_DEFINE_CLEAR(f32, uint32_t, (uint32_t)1 << 31)
SR_DEFINE_CLEAR(f64, uint64_t, (uint64_t)1 << 63)

static void run_unsigned_zero(char **args, const sr_intp *dims, const sr_intp *steps,
                              const sr_unsigned_zero_loop *w,
                              void (*clear)(char *, sr_intp, sr_intp))
{
    int nargs = w->nin + 1;
    char *block[SR_MAX_ARGS];
    sr_intp size = sr_get_num_threads() > 1 ? dims[0] : SR_ZERO_BLOCK;
    for (sr_intp start = 0; start < dims[0]; start += size) {
        sr_intp m = dims[0] - start < size ? dims[0] - start : size;
        for (int k = 0; k < nargs && k < SR_MAX_ARGS; k++) block[k] = args[k] + start * steps[k];
        w->inner(block, &m, steps, w->inner_data);
        clear(block[w->nin], steps[w->nin], m);
    }
}

void sr_loop_unsigned_zero_f32(char **args, const sr_intp *dims, const sr_intp *steps,
                               void *data)
{
    run_unsigned_zero(args, dims, steps, data, clear_negative_zeros_f32);
}

void sr_loop_unsigned_zero_f64(char **args, const sr_intp *dims, const sr_intp *steps,
                               void *data)
{
    run_unsigned_zero(args, dims, steps, data, clear_negative_zeros_f64);
}
