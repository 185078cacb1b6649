/*
 * Stochastic rounding with random bits the caller supplies, as hardware SR
 * instructions take them (an rbits operand): with r = ctx->bits and R the caller's
 * integer, |x| goes away from zero exactly when F + (R mod 2^r) >= 2^r, where
 * F = floor(f * 2^r) and f in [0, 1) is x's distance from the neighbour toward zero
 * in units of the gap. The kernels' own test, "away iff (word >> (64 - r)) < F",
 * is the same rule for the word whose top r bits are 2^r - 1 - (R mod 2^r), so the
 * caller's integers are turned into such words a chunk at a time and handed to the
 * ordinary kernels: overflow, NaN, signs and subnormals behave as for SR with words
 * drawn from the stream, and nothing is drawn from it.
 *
 * float32 data: for r <= 32 the words are 32 bits wide, as the float32 kernels take
 * them. For r > 32 the chunk is widened to binary64 (exactly) and rounded with
 * 64-bit words, so the rule above holds for every r in 1..64 whatever the input type.
 */
#include <math.h>
#include <string.h>

#include "round_common.h"

/* 2^r - 1 - (R mod 2^r), placed at the top of a 64-bit word (1 <= r <= 64). */
static inline uint64_t given_word64(uint64_t R, int r)
{
    uint64_t mask = r == 64 ? ~(uint64_t)0 : ((uint64_t)1 << r) - 1;
    return (mask - (R & mask)) << (64 - r);
}

/* ... and of a 32-bit word (1 <= r <= 32). */
static inline uint32_t given_word32(uint64_t R, int r)
{
    uint32_t mask = r == 32 ? ~(uint32_t)0 : ((uint32_t)1 << r) - 1;
    return (mask - ((uint32_t)R & mask)) << (32 - r);
}

void sr_loop_round_given_f64(char **args, const sr_intp *dims, const sr_intp *steps,
                             void *data)
{
    const sr_context *ctx = data;
    const sr_kernels *kernels = ctx->kernels;
    int r = ctx->bits;
    const char *in = args[0], *given = args[1];
    char *out = args[2];
    sr_intp is = steps[0], gs = steps[1], os = steps[2];
    uint64_t words[SR_CHUNK];
    unsigned raised = 0;
    sr_fpenv caller = sr_fpenv_enter();
    for (sr_intp n = dims[0]; n > 0;) {
        sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;
        for (sr_intp i = 0; i < m; i++) {
            uint64_t R;
            memcpy(&R, given + i * gs, sizeof R);
            words[i] = given_word64(R, r);
        }
        raised |= kernels->round_f64(in, is, out, os, m, &ctx->fmt.f64, SR_STOCHASTIC,
                                     64 - r, words);
        in += m * is;
        given += m * gs;
        out += m * os;
        n -= m;
    }
    sr_fpenv_leave(caller, raised);
}

void sr_loop_round_given_f32(char **args, const sr_intp *dims, const sr_intp *steps,
                             void *data)
{
    const sr_context *ctx = data;
    const sr_kernels *kernels = ctx->kernels;
    int r = ctx->bits;
    const char *in = args[0], *given = args[1];
    char *out = args[2];
    sr_intp is = steps[0], gs = steps[1], os = steps[2];
    uint32_t words32[SR_CHUNK];
    uint64_t words64[SR_CHUNK];
    double wide_in[SR_CHUNK], wide_out[SR_CHUNK];
    unsigned raised = 0;
    sr_fpenv caller = sr_fpenv_enter();
    for (sr_intp n = dims[0]; n > 0;) {
        sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;
        if (r <= 32) {
            for (sr_intp i = 0; i < m; i++) {
                uint64_t R;
                memcpy(&R, given + i * gs, sizeof R);
                words32[i] = given_word32(R, r);
            }
            raised |= kernels->round_f32(in, is, out, os, m, &ctx->fmt.f32, SR_STOCHASTIC,
                                         64 - r, words32);
        } else {
            for (sr_intp i = 0; i < m; i++) {
                uint64_t R;
                float x;
                memcpy(&R, given + i * gs, sizeof R);
                memcpy(&x, in + i * is, sizeof x);
                words64[i] = given_word64(R, r);
                wide_in[i] = x;   /* exact */
            }
            raised |= kernels->round_f64((const char *)wide_in, sizeof(double),
                                         (char *)wide_out, sizeof(double), m, &ctx->fmt.f64,
                                         SR_STOCHASTIC, 64 - r, words64);
            for (sr_intp i = 0; i < m; i++) {
                float y = (float)wide_out[i];   /* a value of the format: exact */
                if (isnan(wide_in[i])) memcpy(&y, in + i * is, sizeof y);  /* keep the payload */
                memcpy(out + i * os, &y, sizeof y);
            }
        }
        in += m * is;
        given += m * gs;
        out += m * os;
        n -= m;
    }
    sr_fpenv_leave(caller, raised);
}
