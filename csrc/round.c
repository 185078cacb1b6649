/* Contexts, and the ufunc loops that round arrays. */
#include <sched.h>

#include "rng.h"
#include "round_common.h"

int sr_rounding_is_stochastic(sr_rounding r)
{
    return r == SR_STOCHASTIC || r == SR_STOCHASTIC_EQUAL;
}

int sr_context_init(sr_context *ctx, const sr_format *fmt, sr_rounding rounding, int bits,
                    const uint64_t *seed, const char **err)
{
    if ((int)rounding < 0 || rounding >= SR_NUM_ROUNDINGS) {
        *err = "unknown rounding mode"; return -1;
    }
    if (bits < 1 || bits > 64) { *err = "bits must be in 1..64"; return -1; }
    if (bits != 64 && rounding != SR_STOCHASTIC) {
        *err = "bits is only meaningful with rounding='stochastic'"; return -1;
    }
    ctx->fmt = *fmt;
    ctx->rounding = rounding;
    ctx->bits = bits;
    sr_rng_seed(&ctx->rng, seed);
    atomic_flag_clear(&ctx->lock);
    return 0;
}

/* A spin lock: draws are short (one chunk), and C11 has no portable mutex we can
   rely on everywhere. Threads that share a context get disjoint words. */
void sr_context_draw(sr_context *ctx, uint64_t *out, size_t n)
{
    sr_context_lock(ctx);
    sr_rng_fill(&ctx->rng, out, n);
    sr_context_unlock(ctx);
}

#define SR_DEFINE_ROUND(T, SRT)                                                            \
    void sr_loop_round_##T(char **args, const sr_intp *dims, const sr_intp *steps,        \
                           void *data)                                                     \
    {                                                                                      \
        sr_context *ctx = data;                                                            \
        const sr_type_consts *c = &ctx->fmt.T;                                             \
        const sr_kernels *kernels = sr_kernels_active();                                   \
        int stochastic = sr_rounding_is_stochastic(ctx->rounding);                         \
        const char *in = args[0];                                                          \
        char *out = args[1];                                                               \
        uint64_t rnd[SR_CHUNK];                                                            \
        for (sr_intp n = dims[0]; n > 0;) {                                                \
            sr_intp m = n < SR_CHUNK ? n : SR_CHUNK;                                       \
            if (stochastic) sr_context_draw(ctx, rnd, (size_t)m);                          \
            kernels->round_##T(in, steps[0], out, steps[1], m, c, ctx->rounding,          \
                               64 - ctx->bits, rnd);                                       \
            in += m * steps[0];                                                            \
            out += m * steps[1];                                                           \
            n -= m;                                                                        \
        }                                                                                  \
    }                                                                                      \
    SRT sr_round_##T(SRT x, sr_context *ctx)                                               \
    {                                                                                      \
        char *args[2] = {(char *)&x, (char *)&x};                                          \
        sr_intp one = 1, steps[2] = {0, 0};                                                \
        sr_loop_round_##T(args, &one, steps, ctx);                                         \
        return x;                                                                          \
    }
SR_DEFINE_ROUND(f32, float)
SR_DEFINE_ROUND(f64, double)

void sr_context_lock(sr_context *ctx)
{
    while (atomic_flag_test_and_set_explicit(&ctx->lock, memory_order_acquire)) sched_yield();
}

void sr_context_unlock(sr_context *ctx)
{
    atomic_flag_clear_explicit(&ctx->lock, memory_order_release);
}
