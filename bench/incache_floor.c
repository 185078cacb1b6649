/*
 * Floors for in-cache rounding speed (bench/bench_scale.py loads this through ctypes,
 * compiled on the fly, and times it in the same run as srround): a plain copy, and
 * CPFloat-style "add and mask" to bfloat16 (x + 0x8000, clear the low 16 bits: round
 * to nearest, ties away, with no care for NaN, inf or overflow: 0x7F800001 becomes
 * inf), and the same with ties to even. Each is one pass over the data, so their
 * times bound what any NaN-correct kernel on the same arrays can reach.
 * Built with srround's flags (csrc/flags.mk), no -march=native: on x86-64 the loops
 * are compiled for AVX-512 as well and chosen at run time, as srround's kernels are.
 */
#include <stddef.h>
#include <stdint.h>

#define FLOOR_LOOPS(TAG)                                                                 \
    static void copy_##TAG(const uint32_t *x, uint32_t *y, size_t n)                     \
    {                                                                                    \
        for (size_t i = 0; i < n; i++) y[i] = x[i];                                      \
    }                                                                                    \
    static void add_mask_##TAG(const uint32_t *x, uint32_t *y, size_t n)                 \
    {                                                                                    \
        for (size_t i = 0; i < n; i++) y[i] = (x[i] + 0x8000u) & 0xFFFF0000u;            \
    }                                                                                    \
    static void add_mask_even_##TAG(const uint32_t *x, uint32_t *y, size_t n)            \
    {                                                                                    \
        for (size_t i = 0; i < n; i++)                                                   \
            y[i] = (x[i] + 0x7FFFu + ((x[i] >> 16) & 1u)) & 0xFFFF0000u;                 \
    }

FLOOR_LOOPS(portable)
#if defined(__GNUC__) && defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw")
#endif
FLOOR_LOOPS(avx512)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#define FLOOR_WIDE() (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
#else
#define FLOOR_WIDE() 0
#define copy_avx512 copy_portable
#define add_mask_avx512 add_mask_portable
#define add_mask_even_avx512 add_mask_even_portable
#endif

/* which: 0 copy, 1 add and mask, 2 add and mask, ties to even */
void floor_run(int which, const uint32_t *x, uint32_t *y, size_t n)
{
    int wide = FLOOR_WIDE();
    switch (which) {
    case 0: (wide ? copy_avx512 : copy_portable)(x, y, n); break;
    case 1: (wide ? add_mask_avx512 : add_mask_portable)(x, y, n); break;
    default: (wide ? add_mask_even_avx512 : add_mask_even_portable)(x, y, n); break;
    }
}
