/* Contexts, and the ufunc loops that round arrays. */
#include <sched.h>
#include <string.h>

#include "rng.h"
#include "round_common.h"

int sr_rounding_is_stochastic(sr_rounding r) { return sr_mode_is_stochastic(r); }

#define SR_NAME_(A, ID, NAME, STOCHASTIC, OUTWARD, FIXED, INCREMENT, DOC) #NAME,
const char *const sr_rounding_names[SR_NUM_ROUNDINGS] = {SR_ROUNDINGS(SR_NAME_, ~)};
#undef SR_NAME_

int sr_context_init(sr_context *ctx, const sr_format *fmt, sr_rounding rounding, int bits,
                    const uint64_t *seed, const char **err)
{
    if ((int)rounding < 0 || (int)rounding >= SR_NUM_ROUNDINGS) {
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
    ctx->kernels = sr_kernels_default();
    return 0;
}

/* A spin lock: draws are short (one chunk), and C11 has no portable mutex we can
   rely on everywhere. Threads that share a context get disjoint words. */
void sr_context_draw(sr_context *ctx, uint64_t *out, size_t n)
{
    sr_context_lock(ctx);
    sr_rng_fill_k(ctx->kernels, &ctx->rng, out, n);
    sr_context_unlock(ctx);
}

void sr_context_draw32(sr_context *ctx, uint32_t *out, size_t n)
{
    sr_context_lock(ctx);
    sr_rng_fill32_k(ctx->kernels, &ctx->rng, out, n);
    sr_context_unlock(ctx);
}

/* The smallest part worth a thread: rounding streams through memory at a few
   tenths of a nanosecond per element, and waking a thread costs microseconds. */
#define SR_SPLIT_ROUND 32768

/* Elements the words left in rng's buffer cover: whole words, and a waiting half. */
static size_t buffered_draws(const sr_rng *r, size_t word_bytes)
{
    size_t words = (size_t)(SR_RNG_LANES - r->pos);
    return word_bytes == 8 ? words : 2 * words + (size_t)r->has_half;
}

/* Each element draws a random word as wide as its type: 32 bits for float32 data,
   so SR from float32 uses bits = min(bits, 32), which is exact SR for every input
   with at most 32 discarded bits (all but those far below the smallest subnormal).
   Contiguous chunks of a stochastic context take the words straight from the
   generator where the kernel path can (round_inline_*): the buffered words first,
   then whole steps of the lanes, then the rest through the buffer as usual. Counter
   streams likewise (round_counter_*): the words up to a Philox block's start, whole
   steps of blocks made in registers, then the rest. */
#define SR_DEFINE_ROUND(T, SRT, WORD, FILL)                                                \
    static unsigned round_drawn_##T(sr_context *ctx, sr_rng *src,                         \
                                    const sr_kernels *kernels, const char *in, sr_intp is, \
                                    char *out, sr_intp os, sr_intp m, int rshift)         \
    {   /* m <= SR_CHUNK values, their words drawn from src through its buffer */          \
        WORD rnd[SR_CHUNK];                                                                \
        FILL(kernels, src, rnd, (size_t)m);                                                \
        return kernels->round_##T(in, is, out, os, m, &ctx->fmt.T, ctx->rounding, rshift, \
                                  rnd);                                                    \
    }                                                                                      \
    static sr_intp round_counter_##T(sr_context *ctx, sr_rng *src,                        \
                                     const sr_kernels *kernels, const char *in, char *out,  \
                                     sr_intp n, int rshift, unsigned *raised)               \
    {   /* rounds some of the n contiguous values from the counter stream src (at least   \
           one), and returns how many */                                                   \
        enum { HALVES = sizeof(WORD) / 4 };                                                \
        uint64_t h = HALVES == 1 ? sr_rng_half_position(src) : 2 * src->next;             \
        sr_intp lead = (sr_intp)((4 - h % 4) % 4 / HALVES);   /* to a block's start */     \
        if (lead > 0) {                                                                    \
            lead = lead < n ? lead : n;                                                    \
            *raised |= round_drawn_##T(ctx, src, kernels, in, sizeof(SRT), out,           \
                                       sizeof(SRT), lead, rshift);                         \
            return lead;                                                                   \
        }                                                                                  \
        sr_intp done = kernels->round_counter_##T(in, out, n, &ctx->fmt.T, ctx->rounding, \
                                                  rshift, src, h);                         \
        if (done > 0) {                                                                    \
            sr_rng_set_half_position(src, h + (uint64_t)done * HALVES);                    \
            return done;                                                                   \
        }                                                                                  \
        done = n < SR_CHUNK ? n : SR_CHUNK;   /* the next chunk by the general path */      \
        *raised |= round_drawn_##T(ctx, src, kernels, in, sizeof(SRT), out, sizeof(SRT),  \
                                   done, rshift);                                          \
        return done;                                                                       \
    }                                                                                      \
    static unsigned round_piece_##T(sr_context *ctx, sr_rng *rng, char **args,            \
                                    const sr_intp *steps, sr_intp n)                       \
    {                                                                                      \
        const sr_type_consts *c = &ctx->fmt.T;                                             \
        const sr_kernels *kernels = ctx->kernels;                                          \
        int stochastic = sr_mode_is_stochastic(ctx->rounding);                         \
        int width = (int)(8 * sizeof(WORD));                                               \
        int rshift = 64 - (ctx->bits < width ? ctx->bits : width);                         \
        sr_rng reserved;                                                                   \
        if (stochastic && !rng && ctx->rng.kind == SR_STREAM_COUNTER && n > 0) {           \
            /* a counter stream's words depend on their position alone: the stream moves  \
               past the call's words at once (as drawing them would), then the call draws  \
               them from a private copy, without the lock */                               \
            sr_context_lock(ctx);                                                          \
            reserved = ctx->rng;                                                           \
            uint64_t h = sizeof(WORD) == 4 ? sr_rng_half_position(&ctx->rng)               \
                                           : 2 * ctx->rng.next;                            \
            sr_rng_set_half_position(&ctx->rng, h + (uint64_t)n * (sizeof(WORD) / 4));    \
            sr_context_unlock(ctx);                                                        \
            rng = &reserved;                                                               \
        }                                                                                  \
        sr_rng *src = rng ? rng : &ctx->rng;   /* a private stream needs no lock */        \
        sr_intp is = steps[0], os = steps[1], step_values = 64 / (sr_intp)sizeof(SRT);     \
        int contiguous = is == sizeof(SRT) && os == sizeof(SRT) &&                         \
                         (uintptr_t)args[0] % sizeof(SRT) == 0 &&                          \
                         (uintptr_t)args[1] % sizeof(SRT) == 0;                            \
        int inline_rng = stochastic && !rng && ctx->rng.kind == SR_STREAM_SEQUENTIAL &&    \
                         kernels->round_inline_##T && contiguous;                          \
        int inline_counter = stochastic && src->kind == SR_STREAM_COUNTER &&               \
                             kernels->round_counter_##T && contiguous;                     \
        const char *in = args[0];                                                          \
        char *out = args[1];                                                               \
        unsigned raised = 0;                                                               \
        /* the context's own stream: locked once for the call, which draws its words in   \
           order as chunk by chunk would */                                               \
        int locked = stochastic && !rng;                                                   \
        if (locked) sr_context_lock(ctx);                                                  \
        for (; n > 0;) {                                                                   \
            /* stochastic: chunks whose words stay in L1; else all at once */            \
            sr_intp m = !stochastic || n < SR_CHUNK ? n : SR_CHUNK;                        \
            if (!stochastic) {                                                             \
                raised |= kernels->round_##T(in, is, out, os, m, c, ctx->rounding, rshift, \
                                             NULL);                                        \
            } else if (inline_counter) {   /* src is private (above) */                    \
                m = round_counter_##T(ctx, src, kernels, in, out, n, rshift, &raised);     \
            } else if (!inline_rng) {                                                      \
                raised |= round_drawn_##T(ctx, src, kernels, in, is, out, os, m, rshift);  \
            } else {   /* the kernel takes the values in chunks itself */                  \
                m = n;                                                                     \
                sr_intp lead = (sr_intp)buffered_draws(&ctx->rng, sizeof(WORD));           \
                if (lead > m) lead = m;                                                    \
                sr_intp mid = (m - lead) / step_values * step_values;                      \
                if (lead > 0)                                                              \
                    raised |= round_drawn_##T(ctx, src, kernels, in, is, out, os, lead,    \
                                              rshift);                                     \
                const char *in_mid = in + lead * is;                                       \
                char *out_mid = out + lead * os;                                           \
                if (mid > 0 && !kernels->round_inline_##T(in_mid, out_mid, mid, c,         \
                                                          ctx->rounding, rshift, &ctx->rng, \
                                                          &raised))                        \
                    for (sr_intp j = 0; j < mid; j += SR_CHUNK)                            \
                        raised |= round_drawn_##T(ctx, src, kernels, in_mid + j * is, is,  \
                                                  out_mid + j * os, os,                    \
                                                  mid - j < SR_CHUNK ? mid - j : SR_CHUNK, \
                                                  rshift);                                 \
                if (m - lead - mid > 0)                                                    \
                    raised |= round_drawn_##T(ctx, src, kernels, in_mid + mid * is, is,    \
                                              out_mid + mid * os, os, m - lead - mid,      \
                                              rshift);                                     \
            }                                                                              \
            in += m * is;                                                                  \
            out += m * os;                                                                 \
            n -= m;                                                                        \
        }                                                                                  \
        if (locked) sr_context_unlock(ctx);                                                \
        return raised;                                                                     \
    }                                                                                      \
    void sr_loop_round_##T(char **args, const sr_intp *dims, const sr_intp *steps,        \
                           void *data)                                                     \
    {                                                                                      \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        unsigned raised = sr_run_split(data, round_piece_##T, args, 2, steps, dims[0],     \
                                       sizeof(WORD), SR_SPLIT_ROUND);                      \
        sr_fpenv_leave(caller, raised);                                                    \
    }                                                                                      \
    SRT sr_round_##T(SRT x, sr_context *ctx)                                               \
    {                                                                                      \
        char *args[2] = {(char *)&x, (char *)&x};                                          \
        sr_intp one = 1, steps[2] = {0, 0};                                                \
        sr_loop_round_##T(args, &one, steps, ctx);                                         \
        return x;                                                                          \
    }
SR_DEFINE_ROUND(f32, float, uint32_t, sr_rng_fill32_k)
SR_DEFINE_ROUND(f64, double, uint64_t, sr_rng_fill_k)

void sr_context_lock(sr_context *ctx)
{
    while (atomic_flag_test_and_set_explicit(&ctx->lock, memory_order_acquire)) sched_yield();
}

void sr_context_unlock(sr_context *ctx)
{
    atomic_flag_clear_explicit(&ctx->lock, memory_order_release);
}

void sr_context_get_state(sr_context *ctx, sr_rng_state *state)
{
    sr_context_lock(ctx);
    memcpy(state->s, ctx->rng.s, sizeof state->s);
    memcpy(state->buf, ctx->rng.buf, sizeof state->buf);
    state->pos = ctx->rng.pos;
    state->half = ctx->rng.has_half ? (int64_t)ctx->rng.half : -1;
    sr_context_unlock(ctx);
}

int sr_context_set_state(sr_context *ctx, const sr_rng_state *state, const char **err)
{
    for (int j = 0; j < SR_RNG_LANES; j++)
        if ((state->s[0][j] | state->s[1][j] | state->s[2][j] | state->s[3][j]) == 0) {
            *err = "invalid stream state: a generator lane is all zero";
            return -1;
        }
    if (state->pos < 0 || state->pos > SR_RNG_LANES) {
        *err = "invalid stream position"; return -1;
    }
    if (state->half < -1 || state->half > (int64_t)UINT32_MAX) {
        *err = "invalid waiting half-word"; return -1;
    }
    sr_context_lock(ctx);
    memcpy(ctx->rng.s, state->s, sizeof state->s);
    memcpy(ctx->rng.buf, state->buf, sizeof state->buf);
    ctx->rng.pos = state->pos;
    ctx->rng.has_half = state->half >= 0;
    ctx->rng.half = state->half >= 0 ? (uint32_t)state->half : 0;
    sr_context_unlock(ctx);
    return 0;
}

void sr_context_spawn(sr_context *parent, sr_context *child)
{
    sr_context_lock(parent);
    child->fmt = parent->fmt;
    child->rounding = parent->rounding;
    child->bits = parent->bits;
    child->rng = parent->rng;    /* the stream where parent is now */
    child->kernels = parent->kernels;
    child->rng.pos = SR_RNG_LANES;    /* buffered words stay unused */
    child->rng.has_half = 0;
    memset(child->rng.buf, 0, sizeof child->rng.buf);
    child->rng.half = 0;
    parent->rng.pos = SR_RNG_LANES;
    parent->rng.has_half = 0;
    sr_rng_jump_k(parent->kernels, &parent->rng);
    sr_context_unlock(parent);
    atomic_flag_clear(&child->lock);
}

int sr_context_set_isa(sr_context *ctx, const char *isa)
{
    int status;
    const sr_kernels *k = sr_kernels_by_name(isa, &status);
    if (k) ctx->kernels = k;
    return status;
}

const char *sr_context_isa(const sr_context *ctx) { return ctx->kernels->name; }
