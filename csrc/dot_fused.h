/* Inner products in one pass (included by arith.c, after the arithmetic loops):
 * sr_dot_f32 / sr_dot_f64, the kernel of srround.summation.dot for one pair of
 * vectors. It gives what the two passes give, ctx.multiply(x, y) into an array and
 * then acc.add.reduce of it, bit for bit, with the streams left where they leave
 * them, but chunk by chunk: a chunk's products (piece_multiply_*, the ufunc's own
 * code) go to a buffer in L1, and the reduction's chunk (reduce_chunk_*) sums them
 * at once, so the products never travel to memory.
 *
 * The words: the products take the n words after the product context's position,
 * the sums the n words after the sum context's. When both are one context, the sums'
 * words are the n that follow the products': a private copy of the stream moves past
 * the products' n words first (O(1) for a counter stream, O(log n) for a
 * sequential one: sr_rng_jump_steps_k in rng.c), and the two copies then run side
 * by side; the context ends where the sums' copy ends, after 2n words. Every draw here is a
 * 64-bit one, which drops a waiting 32-bit half-word (docs/reproducibility.md), as
 * the ufuncs' draws do. */

/* Words skipped by drawing them below this; a jump from here (its 256 steps, the
   byte table and the squarings cost about as much as drawing this many) */
#define DOT_JUMP_WORDS ((sr_intp)1 << 15)

/* The stream r moved past n 64-bit words, as drawing them would move it */
static void dot_skip_words(const sr_kernels *k, sr_rng *r, sr_intp n)
{
    uint64_t scratch[SR_CHUNK];
    if (r->kind == SR_STREAM_COUNTER) {
        r->next += (uint64_t)n;
        r->has_half = 0;
        return;
    }
    if (n >= DOT_JUMP_WORDS) {
        /* as sr_rng_fill_k: the buffered words, whole blocks (here a jump), the rest
           from one more block */
        sr_intp lead = SR_RNG_LANES - r->pos;
        sr_rng_fill_k(k, r, scratch, (size_t)lead);   /* the buffer, now empty */
        n -= lead;
        sr_rng_jump_steps_k(k, r, (uint64_t)(n / SR_RNG_LANES));
        n %= SR_RNG_LANES;
    }
    for (sr_intp m; n > 0; n -= m) {
        m = n < SR_CHUNK ? n : SR_CHUNK;
        sr_rng_fill_k(k, r, scratch, (size_t)m);
    }
}

#define SR_DEFINE_DOT(T)                                                                   \
    static unsigned dot_streams_##T(sr_context *prod, sr_context *sum, sr_rng *prod_rng,   \
                                    sr_rng *sum_rng, const char *x, sr_intp xs,           \
                                    const char *y, sr_intp ys, sr_intp n, double *result) \
    {                                                                                      \
        chain ch = chain_setup(sum);                                                       \
        int sum_draws = sr_rounding_is_stochastic(sum->rounding);                          \
        int two_pass = chain2_usable(sum);                                                 \
        sum_chain_backoff backoff = {0, 0};                                                \
        unsigned raised = 0;                                                               \
        uint64_t rnd[SR_CHUNK] = {0};                                                      \
        T products[SR_CHUNK];                                                              \
        const sr_intp steps[3] = {xs, ys, (sr_intp)sizeof(T)};                             \
        double acc = 0;   /* the identity of add, as NumPy's reduction starts */           \
        for (sr_intp m; n > 0; n -= m) {                                                   \
            m = n < SR_CHUNK ? n : SR_CHUNK;                                               \
            char *args[3] = {(char *)x, (char *)y, (char *)products};                      \
            raised |= piece_multiply_##T(prod, prod_rng, args, steps, m);                  \
            if (sum_draws) sr_rng_fill_k(sum->kernels, sum_rng, rnd, (size_t)m);           \
            acc = reduce_chunk_##T(&ch, SR_OP_ADD, acc, (const char *)products, sizeof(T), \
                                   m, rnd, two_pass, &backoff, &raised);                   \
            x += m * xs;                                                                   \
            y += m * ys;                                                                   \
        }                                                                                  \
        *result = (T)acc;                                                                  \
        return raised;                                                                     \
    }                                                                                      \
    unsigned sr_dot_##T(sr_context *prod, sr_context *sum, const char *x, sr_intp xs,      \
                        const char *y, sr_intp ys, sr_intp n, double *result)             \
    {                                                                                      \
        /* both streams held for the call, locked in address order (matmul.c's rule) */    \
        sr_context *first = prod < sum ? prod : sum, *second = prod < sum ? sum : prod;    \
        sr_context_lock(first);                                                            \
        if (second != first) sr_context_lock(second);                                      \
        sr_fpenv caller = sr_fpenv_enter();                                                \
        sr_rng prod_rng = prod->rng, sum_rng = sum->rng;   /* private copies */            \
        if (sum == prod && sr_rounding_is_stochastic(prod->rounding))                      \
            dot_skip_words(prod->kernels, &sum_rng, n);                                    \
        unsigned raised = dot_streams_##T(prod, sum, &prod_rng, &sum_rng, x, xs, y, ys, n, \
                                          result);                                         \
        if (sum != prod) prod->rng = prod_rng;                                             \
        sum->rng = sum_rng;                                                                \
        sr_fpenv_leave(caller, raised);                                                    \
        if (second != first) sr_context_unlock(second);                                    \
        sr_context_unlock(first);                                                          \
        return raised;                                                                     \
    }

SR_DEFINE_DOT(f32)
SR_DEFINE_DOT(f64)
