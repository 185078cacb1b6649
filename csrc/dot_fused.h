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
 * sequential one, below), and the two copies then run side by side; the
 * context ends where the sums' copy ends, after 2n words. Every draw here is a
 * 64-bit one, which drops a waiting 32-bit half-word (docs/reproducibility.md), as
 * the ufuncs' draws do. */

/* ---- moving a sequential stream far ahead in O(log n) ----------------------------
 * xoshiro256's step is a linear map T on 256-bit states over GF(2), with
 * characteristic polynomial P(x) = x^256 + DOT_XOSHIRO_POLY (bit i: the coefficient
 * of x^i; P is primitive, found by Berlekamp-Massey from the output, and x^(2^128)
 * mod P is the jump polynomial of rng.c). Since P(T) = 0, T^J = sum c_i T^i where
 * c(x) = x^J mod P(x): J steps of every lane take 256 steps and the xor of the states
 * at the set bits of c, as xoshiro's own jump does (Blackman & Vigna, TOMS 2021;
 * Haramoto et al., "Efficient jump ahead for F2-linear random number generators",
 * INFORMS J. Computing 2008). */
static const uint64_t DOT_XOSHIRO_POLY[4] = {0x9d116f2bb0f0f001u, 0x0280002bcefd1a5eu,
                                              0x04b4edcf26259f85u, 0x0003c03c3f3ecb19u};

/* tab[b] = b(x) * P_low(x) for the polynomials b of degree < 8 (P_low =
   DOT_XOSHIRO_POLY, degree 241: the products have degree < 250, 4 words) */
static void dot_poly_byte_table(uint64_t tab[256][4])
{
    memset(tab[0], 0, sizeof tab[0]);
    for (unsigned b = 1; b < 256; b++) {
        unsigned t = 0;   /* b = (b & (b - 1)) + x^t */
        while (!((b >> t) & 1)) t++;
        for (int k = 0; k < 4; k++) {
            uint64_t shifted = DOT_XOSHIRO_POLY[k] << t;
            if (t && k) shifted |= DOT_XOSHIRO_POLY[k - 1] >> (64 - t);
            tab[b][k] = tab[b & (b - 1)][k] ^ shifted;
        }
    }
}

/* c <- c^2 mod P (squaring in GF(2)[x] spreads the bits: bit i -> bit 2i) */
static void dot_poly_square(uint64_t *c, const uint64_t tab[256][4])
{
    uint64_t r[9] = {0};
    for (int k = 0; k < 8; k++) {   /* 32 bits of c to 64 of r: the zeros in between */
        uint64_t v = (c[k / 2] >> (32 * (k % 2))) & 0xffffffffu;
        v = (v | v << 16) & 0x0000ffff0000ffffu;
        v = (v | v << 8) & 0x00ff00ff00ff00ffu;
        v = (v | v << 4) & 0x0f0f0f0f0f0f0f0fu;
        v = (v | v << 2) & 0x3333333333333333u;
        v = (v | v << 1) & 0x5555555555555555u;
        r[k] = v;
    }
    /* x^(256 + 8j) b(x) = x^(8j) b(x) P_low mod P, byte by byte from the top: each
       xor changes only bits below the byte it clears */
    for (int j = 31; j >= 0; j--) {
        unsigned pos = 256 + 8 * (unsigned)j, q = 8 * (unsigned)j / 64, s = 8 * (unsigned)j % 64;
        const uint64_t *t = tab[(r[pos / 64] >> (pos % 64)) & 0xff];
        r[pos / 64] &= ~((uint64_t)0xff << (pos % 64));
        for (int k = 0; k < 4; k++) {
            r[q + k] ^= t[k] << s;
            if (s) r[q + k + 1] ^= t[k] >> (64 - s);
        }
    }
    memcpy(c, r, 4 * sizeof *c);
}

/* c <- c * x mod P */
static void dot_poly_times_x(uint64_t *c)
{
    uint64_t top = c[3] >> 63;
    for (int k = 3; k > 0; k--) c[k] = c[k] << 1 | c[k - 1] >> 63;
    c[0] <<= 1;
    for (int k = 0; k < 4; k++) c[k] ^= DOT_XOSHIRO_POLY[k] & ((uint64_t)0 - top);
}

/* Every lane of a sequential stream J steps on (buffered words untouched) */
static void dot_lanes_jump(const sr_kernels *k, sr_rng *r, uint64_t steps)
{
    uint64_t tab[256][4], c[4] = {1, 0, 0, 0};   /* x^J mod P, from J's top bit down */
    dot_poly_byte_table(tab);
    int top = 63;
    while (top > 0 && !((steps >> top) & 1)) top--;
    for (int b = top; b >= 0; b--) {
        dot_poly_square(c, tab);
        if ((steps >> b) & 1) dot_poly_times_x(c);
    }
    uint64_t acc[4][SR_RNG_LANES] = {{0}}, scratch[SR_RNG_LANES], buf[SR_RNG_LANES];
    int pos = r->pos;
    memcpy(buf, r->buf, sizeof buf);
    for (int i = 0; i < 256; i++) {
        if ((c[i / 64] >> (i % 64)) & 1)
            for (int w = 0; w < 4; w++)
                for (int j = 0; j < SR_RNG_LANES; j++) acc[w][j] ^= r->s[w][j];
        k->rng_blocks(r, scratch, 1);
    }
    memcpy(r->s, acc, sizeof acc);
    memcpy(r->buf, buf, sizeof buf);
    r->pos = pos;
}

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
        dot_lanes_jump(k, r, (uint64_t)(n / SR_RNG_LANES));
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
