/* Test support: the caller-side floating-point state that the loops must neither
   depend on nor change (see sr_fpenv_enter in round_common.h). */
#include <fenv.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "srround.h"

static const int directions[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD};

int sr_test_set_fp_state(int direction, int ftz, int daz)
{
    if (direction < 0 || direction > 3) return -1;
#if defined(__SSE2__)
    if (fesetround(directions[direction]) != 0) return -1;   /* x87 and SSE */
    unsigned csr = _mm_getcsr() & ~(0x8000u | 0x0040u);       /* FTZ, DAZ */
    _mm_setcsr(csr | (ftz ? 0x8000u : 0) | (daz ? 0x0040u : 0));
    return 0;
#else
    if (ftz || daz) return -1;   /* no portable way to set them */
    return fesetround(directions[direction]) == 0 ? 0 : -1;
#endif
}

long sr_test_fp_state(void)
{
#if defined(__SSE2__)
    /* the SSE state, which is what the core computes with (fegetround reads x87's) */
    static const int sse_direction[4] = {0, 3, 2, 1};   /* RC: nearest, down, up, zero */
    unsigned csr = _mm_getcsr();
    return sse_direction[(csr >> 13) & 3] | (long)((csr >> 15) & 1) << 2 |
           (long)((csr >> 6) & 1) << 3 | (long)((csr >> 7) & 0x3f) << 4;  /* + masks */
#else
    int round = fegetround(), direction = 0;
    for (int k = 0; k < 4; k++)
        if (directions[k] == round) direction = k;
    return direction;
#endif
}
