/*
 * One kernel body, compiled once per instruction set, chosen at run time.
 *
 * round_impl.h (the rounding kernels) and the random-block loop below are compiled
 * three times: portable C, and with every function given the target attribute of
 * AVX2 or AVX-512 (`#pragma GCC target` for GCC, `#pragma clang attribute` for
 * clang, which ignores the former), where the compiler vectorizes the same source
 * for wider registers. Integer code
 * has one meaning whatever the vector width, so every path gives the same bits;
 * the tests check it. The choice is made once, from the CPU's features, unless
 * SRROUND_ISA=scalar|avx2|avx512 asks for a particular path. No -march=native:
 * one build runs on any x86-64 (and the portable path everywhere else).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "round_common.h"

/* Random blocks: nblocks blocks of SR_RNG_LANES words, all lanes stepped together.
   With GCC/Clang vector extensions, VT holds one state word of V lanes, V matching
   the ISA's register width (8 x 64 bits for AVX-512, 4 for AVX2, 2 for SSE2). */
#if defined(__GNUC__)
typedef uint64_t sr_lanes2 __attribute__((vector_size(16)));
typedef uint64_t sr_lanes4 __attribute__((vector_size(32)));
typedef uint64_t sr_lanes8 __attribute__((vector_size(64)));
#define SR_RNG_BLOCKS_BODY(VT, V)                                                         \
    {                                                                                     \
        enum { NV = SR_RNG_LANES / (V) };                                                 \
        VT s0[NV], s1[NV], s2[NV], s3[NV];                                                \
        memcpy(s0, r->s[0], sizeof s0); memcpy(s1, r->s[1], sizeof s1);                   \
        memcpy(s2, r->s[2], sizeof s2); memcpy(s3, r->s[3], sizeof s3);                   \
        for (size_t b = 0; b < nblocks; b++) {                                            \
            for (int h = 0; h < NV; h++) {                                                \
                VT o;                                                                     \
                SR_XOSHIRO_STEP(VT, o, s0[h], s1[h], s2[h], s3[h]);                       \
                memcpy(out + b * SR_RNG_LANES + h * (V), &o, sizeof o);                   \
            }                                                                             \
        }                                                                                 \
        memcpy(r->s[0], s0, sizeof s0); memcpy(r->s[1], s1, sizeof s1);                   \
        memcpy(r->s[2], s2, sizeof s2); memcpy(r->s[3], s3, sizeof s3);                   \
    }
#else
#define SR_RNG_BLOCKS_BODY(VT, V)                                                         \
    {                                                                                     \
        for (size_t b = 0; b < nblocks; b++)                                              \
            for (int j = 0; j < SR_RNG_LANES; j++) {                                      \
                uint64_t s0 = r->s[0][j], s1 = r->s[1][j], s2 = r->s[2][j], s3 = r->s[3][j]; \
                SR_XOSHIRO_STEP(uint64_t, out[b * SR_RNG_LANES + j], s0, s1, s2, s3);     \
                r->s[0][j] = s0; r->s[1][j] = s1; r->s[2][j] = s2; r->s[3][j] = s3;       \
            }                                                                             \
    }
#endif

/* SR_PHILOX_BATCH blocks of Philox4x32-10, counters (b0 + j, stream id) for
   j < SR_PHILOX_BATCH, written block after block to out (4 half-words each, x0 first).
   VT holds V blocks' state words, one per 64-bit lane, so that MUL, the 32 x 32 ->
   64-bit product of the lanes' low halves, is one instruction (pmuludq). A state
   word's high half may hold garbage (MUL ignores it): only the low halves are
   masked, once, at the end. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SR_PHILOX_BATCH_BODY(VT, V, MUL)                                                  \
    {                                                                                     \
        enum { NV = SR_PHILOX_BATCH / (V) };                                              \
        const uint64_t low = 0xFFFFFFFFu;                                                 \
        VT x0[NV], x1[NV], x2[NV], x3[NV], lane;                                          \
        for (int l = 0; l < (V); l++) lane[l] = (uint64_t)l;                              \
        for (int h = 0; h < NV; h++) {                                                    \
            VT b = lane + (b0 + (uint64_t)(h * (V)));                                     \
            x0[h] = b & low; x1[h] = b >> 32;                                             \
            x2[h] = lane * 0 + stream_id[0]; x3[h] = lane * 0 + stream_id[1];             \
        }                                                                                 \
        const VT m0 = lane * 0 + SR_PHILOX_M0, m1 = lane * 0 + SR_PHILOX_M1;              \
        uint64_t k0 = key[0], k1 = key[1];                                                \
        for (int round = 0; round < 9; round++) {                                         \
            for (int h = 0; h < NV; h++)                                                  \
                SR_PHILOX_ROUND(VT, MUL, SR_HI32, x0[h], x1[h], x2[h], x3[h], k0, k1, m0, m1);     \
            k0 = (k0 + SR_PHILOX_W0) & low; k1 = (k1 + SR_PHILOX_W1) & low;               \
        }                                                                                 \
        const VT last_k0 = lane * 0 + k0, last_k1 = lane * 0 + k1;                        \
        for (int h = 0; h < NV; h++) {   /* block j's words: w0[j], then w1[j] */         \
            VT w0, w1;                                                                    \
            SR_PHILOX_LAST_ROUND(VT, MUL, SR_PACK32, x0[h], x1[h], x2[h], x3[h], last_k0,   \
                                 last_k1, m0, m1, w0, w1);                                \
            VT first = SR_ZIP_LOW(w0, w1), second = SR_ZIP_HIGH(w0, w1);                  \
            memcpy(out + 4 * h * (V), &first, sizeof first);                              \
            memcpy(out + 4 * h * (V) + 2 * (V), &second, sizeof second);                  \
        }                                                                                 \
    }
/* Interleaving the lanes of two vectors (a0 b0 a1 b1 ...): the first half, the second. */
#define SR_ZIP2_LOW(a, b) __builtin_shufflevector(a, b, 0, 2)
#define SR_ZIP2_HIGH(a, b) __builtin_shufflevector(a, b, 1, 3)
#define SR_ZIP4_LOW(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define SR_ZIP4_HIGH(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#define SR_ZIP8_LOW(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define SR_ZIP8_HIGH(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#define SR_PHILOX_BATCH_BODY(VT, V, MUL)                                                  \
    {                                                                                     \
        for (int j = 0; j < SR_PHILOX_BATCH; j++) {                                       \
            uint64_t b = b0 + (uint64_t)j;                                                \
            uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), stream_id[0], stream_id[1]}; \
            sr_philox4x32_10(ctr, key, out + 4 * j);                                      \
        }                                                                                 \
    }
#endif

/* Counter-stream half-words: whole batches of blocks straight into out, partial ones
   (an unaligned start, the end) through a scratch batch. */
#define SR_PHILOX_HALVES_BODY(philox_batch)                                                           \
    {                                                                                     \
        enum { HALVES = 4 * SR_PHILOX_BATCH };                                            \
        uint32_t scratch[HALVES];                                                         \
        while (n > 0) {                                                                   \
            size_t offset = (size_t)(h & 3);                                              \
            if (offset == 0 && n >= HALVES) {                                             \
                philox_batch(r->key, r->stream_id, h >> 2, out);                       \
                out += HALVES; h += HALVES; n -= HALVES;                                  \
                continue;                                                                 \
            }                                                                             \
            philox_batch(r->key, r->stream_id, h >> 2, scratch);                       \
            size_t take = HALVES - offset < n ? HALVES - offset : n;                      \
            memcpy(out, scratch + offset, take * sizeof *out);                            \
            out += take; h += take; n -= take;                                            \
        }                                                                                 \
    }

#ifdef SR_HAVE_INLINE_RNG
#define SR_INLINE_ENTRIES(TAG) SR_PASTE3(sr_round_inline_f32, TAG, ), SR_PASTE3(sr_round_inline_f64, TAG, ),
#define SR_COUNTER_ENTRIES(TAG) SR_PASTE3(sr_round_counter_f32, TAG, ), SR_PASTE3(sr_round_counter_f64, TAG, )
#else
#define SR_INLINE_ENTRIES(TAG) NULL, NULL,
#define SR_COUNTER_ENTRIES(TAG) NULL, NULL
#endif

/* Everything a kernel table entry needs, for the ISA named by SR_ISA_TAG. */
#define SR_DEFINE_KERNELS(TAG, NAME, VT, V)                                               \
    static void SR_PASTE3(rng_blocks, TAG, )(sr_rng *r, uint64_t *out, size_t nblocks)   \
    SR_RNG_BLOCKS_BODY(VT, V)                                                             \
    static SR_ALWAYS_INLINE void SR_PASTE3(philox_batch, TAG, )(                          \
        const uint32_t key[2], const uint32_t stream_id[2], uint64_t b0, uint32_t *out)  \
    SR_PHILOX_BATCH_BODY(VT, V, SR_MUL32)                                                 \
    static void SR_PASTE3(philox_halves, TAG, )(const sr_rng *r, uint64_t h, uint32_t *out, \
                                                size_t n)                                 \
    SR_PHILOX_HALVES_BODY(SR_PASTE3(philox_batch, TAG, ))                                 \
    static const sr_kernels SR_PASTE3(kernels, TAG, ) = {                                 \
        NAME, SR_PASTE3(sr_round_strided_f32, TAG, ), SR_PASTE3(sr_round_strided_f64, TAG, ), \
        SR_INLINE_ENTRIES(TAG)                                                            \
        SR_PASTE3(sr_arith_fast_f32, TAG, ), SR_PASTE3(sr_arith_fast_f64, TAG, ),        \
        SR_PASTE3(sr_chain_check_f64, TAG, ), SR_PASTE3(sr_sum_chain_f64, TAG, ),        \
        SR_PASTE3(sr_kahan_check_f64, TAG, ),                                             \
        SR_PASTE3(rng_blocks, TAG, ), SR_PASTE3(philox_halves, TAG, ),                   \
        SR_COUNTER_ENTRIES(TAG)};

/* SR_MUL32: the 32 x 32 -> 64-bit product of each 64-bit lane's low halves. */
#if defined(__GNUC__) && defined(__SSE2__) && !defined(SR_PORTABLE_ONLY)
#include <immintrin.h>
#define SR_MUL32(a, b) ((sr_lanes2)_mm_mul_epu32((__m128i)(a), (__m128i)(b)))
/* SR_HI32: each 64-bit lane's high half, in its low half (a shuffle: it runs beside
   the multiplies and shifts, on another port), the high half a copy of it. */
#define SR_HI32(a) ((sr_lanes2)_mm_shuffle_epi32((__m128i)(a), 0xF5))
/* SR_ANY_LANE: is any bit of the vector set? (one test, no reduction by shuffles) */
#define SR_ANY_LANE(v) \
    (_mm_movemask_epi8(_mm_cmpeq_epi8((__m128i)(v), _mm_setzero_si128())) != 0xFFFF)
#else
#define SR_MUL32(a, b) (((a) & 0xFFFFFFFFu) * ((b) & 0xFFFFFFFFu))   /* exact in 64 bits */
#define SR_HI32(a) ((a) >> 32)
#define SR_ANY_LANE(v) (((sr_lanes2)(v))[0] != 0 || ((sr_lanes2)(v))[1] != 0)
#endif
/* SR_PACK32(p, x, k): Philox's last-round lanes (rng.h SR_PHILOX_LAST_ROUND), low half
   hi(p) ^ x ^ k, high half lo(p); SSE2 has no dword blend: masks and a shift. */
#define SR_PACK32(p, x, k) (((SR_HI32(p) ^ (x) ^ (k)) & 0xFFFFFFFFu) | (p) << 32)
#define SR_ZIP_LOW SR_ZIP2_LOW
#define SR_ZIP_HIGH SR_ZIP2_HIGH
#define SR_ISA_TAG _scalar
#define SR_VEC_BYTES 16
#include "round_impl.h"
SR_DEFINE_KERNELS(_scalar, "scalar", sr_lanes2, 2)
#undef SR_ISA_TAG
#undef SR_VEC_BYTES
#undef SR_VARIABLE_SHIFTS

/* SR_PORTABLE_ONLY builds the portable path alone (see round_common.h). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(SR_PORTABLE_ONLY)
#define SR_HAVE_X86_PATHS 1

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#undef SR_MUL32
#define SR_MUL32(a, b) ((sr_lanes4)_mm256_mul_epu32((__m256i)(a), (__m256i)(b)))
#undef SR_HI32
#define SR_HI32(a) ((sr_lanes4)_mm256_shuffle_epi32((__m256i)(a), 0xF5))
#undef SR_ANY_LANE
#define SR_ANY_LANE(v) (!_mm256_testz_si256((__m256i)(v), (__m256i)(v)))
/* p's halves swapped (hi(p) low, lo(p) high), x ^ k xored in, the high halves kept */
#undef SR_PACK32
#define SR_PACK32(p, x, k) sr_pack32_avx2((sr_lanes4)(p), (sr_lanes4)(x), (sr_lanes4)(k))
static inline sr_lanes4 sr_pack32_avx2(sr_lanes4 p, sr_lanes4 x, sr_lanes4 k)
{
    sr_lanes4 swapped = (sr_lanes4)_mm256_shuffle_epi32((__m256i)p, 0xB1);
    return (sr_lanes4)_mm256_blend_epi32((__m256i)(swapped ^ x ^ k), (__m256i)swapped, 0xAA);
}
/* unsigned lane max and min, one instruction (round_body.h sr_lanes_max) */
#define SR_MAX_U32(a, b) _mm256_max_epu32((__m256i)(a), (__m256i)(b))
#define SR_MIN_U32(a, b) _mm256_min_epu32((__m256i)(a), (__m256i)(b))
#undef SR_ZIP_LOW
#undef SR_ZIP_HIGH
#define SR_ZIP_LOW SR_ZIP4_LOW
#define SR_ZIP_HIGH SR_ZIP4_HIGH
#define SR_ISA_TAG _avx2
#define SR_VEC_BYTES 32
#define SR_VARIABLE_SHIFTS 1
#include "round_impl.h"
SR_DEFINE_KERNELS(_avx2, "avx2", sr_lanes4, 4)
#undef SR_ISA_TAG
#undef SR_VEC_BYTES
#undef SR_VARIABLE_SHIFTS
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), \
                             apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
#endif
#undef SR_MUL32
#define SR_MUL32(a, b) ((sr_lanes8)_mm512_mul_epu32((__m512i)(a), (__m512i)(b)))
#undef SR_HI32
#define SR_HI32(a) ((sr_lanes8)_mm512_shuffle_epi32((__m512i)(a), (_MM_PERM_ENUM)0xF5))
#undef SR_ANY_LANE
#define SR_ANY_LANE(v) (_mm512_test_epi64_mask((__m512i)(v), (__m512i)(v)) != 0)
/* one vpternlogd, masked to the low halves, on p's halves swapped */
#undef SR_PACK32
#define SR_PACK32(p, x, k)                                                                \
    ((sr_lanes8)_mm512_mask_ternarylogic_epi32(                                           \
        _mm512_shuffle_epi32((__m512i)(p), (_MM_PERM_ENUM)0xB1), (__mmask16)0x5555,       \
        (__m512i)(x), (__m512i)(k), 0x96))
#undef SR_MAX_U32
#undef SR_MIN_U32
#define SR_MAX_U32(a, b) _mm512_max_epu32((__m512i)(a), (__m512i)(b))
#define SR_MIN_U32(a, b) _mm512_min_epu32((__m512i)(a), (__m512i)(b))
#define SR_MAX_U64(a, b) _mm512_max_epu64((__m512i)(a), (__m512i)(b))
#define SR_MIN_U64(a, b) _mm512_min_epu64((__m512i)(a), (__m512i)(b))
#define SR_ANY_GREATER_U32(a, limit) \
    (_mm512_cmpgt_epu32_mask((__m512i)(a), _mm512_set1_epi32((int)(limit))) != 0)
#define SR_ANY_GREATER_U64(a, limit) \
    (_mm512_cmpgt_epu64_mask((__m512i)(a), _mm512_set1_epi64((long long)(limit))) != 0)
/* each lane's entry of the 32-entry table lo:hi by idx's low 5 bits (one vpermt2d) */
#define SR_LOOKUP32_U32(lo, hi, idx) \
    _mm512_permutex2var_epi32((__m512i)(lo), (__m512i)(idx), (__m512i)(hi))
#undef SR_ZIP_LOW
#undef SR_ZIP_HIGH
#define SR_ZIP_LOW SR_ZIP8_LOW
#define SR_ZIP_HIGH SR_ZIP8_HIGH
#define SR_ISA_TAG _avx512
#define SR_VEC_BYTES 64
#define SR_VARIABLE_SHIFTS 1
#include "round_impl.h"
SR_DEFINE_KERNELS(_avx512, "avx512", sr_lanes8, 8)
#undef SR_LOOKUP32_U32
#undef SR_ISA_TAG
#undef SR_VEC_BYTES
#undef SR_VARIABLE_SHIFTS
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

static int cpu_supports(const char *isa)
{
    if (strcmp(isa, "scalar") == 0) return 1;
#ifdef SR_HAVE_X86_PATHS
    __builtin_cpu_init();
    if (strcmp(isa, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(isa, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma");
#endif
    return 0;
}

const sr_kernels *sr_kernels_by_name(const char *isa, int *status)
{
    const sr_kernels *k = NULL;
    if (isa && strcmp(isa, "scalar") == 0) k = &kernels_scalar;
#ifdef SR_HAVE_X86_PATHS
    if (isa && strcmp(isa, "avx2") == 0) k = &kernels_avx2;
    if (isa && strcmp(isa, "avx512") == 0) k = &kernels_avx512;
#endif
    *status = !k ? -1 : !cpu_supports(isa) ? -2 : 0;
    return *status == 0 ? k : NULL;
}

int sr_isa_check(const char *isa)
{
    int status;
    sr_kernels_by_name(isa, &status);
    return status;
}

/* Set once, on first use; every thread that races to set it computes the same entry. */
static _Atomic(const sr_kernels *) default_kernels = NULL;

const sr_kernels *sr_kernels_default(void)
{
    const sr_kernels *k = atomic_load_explicit(&default_kernels, memory_order_acquire);
    if (k) return k;
    /* The environment's choice if it names a usable path (the bindings check it at
       import and raise on a bad name), else the widest the CPU supports. */
    int status;
    const char *env = getenv("SRROUND_ISA");
    char name[16] = {0};   /* the value without spaces, in lower case, as Python reads it */
    for (size_t i = 0, j = 0; env && env[i] && j < sizeof name - 1; i++)
        if (!isspace((unsigned char)env[i])) name[j++] = (char)tolower((unsigned char)env[i]);
    if (name[0]) k = sr_kernels_by_name(name, &status);
    if (!k) k = sr_kernels_by_name("avx512", &status);
    if (!k) k = sr_kernels_by_name("avx2", &status);
    if (!k) k = &kernels_scalar;
    atomic_store_explicit(&default_kernels, k, memory_order_release);
    return k;
}

const char *sr_isa(void) { return sr_kernels_default()->name; }
