"""Counter streams (stream="counter"): Philox4x32-10 against Random123's known-answer
vectors and against a plain Python Philox written from the paper (Salmon et al.,
SC'11); words as a pure function of the position; advance, spawn and pickling; and
every rounding mode, bits=r, the arithmetic, reductions and Kahan sums drawing the
same words in the same order as the sequential stream's contract says."""
import pickle
from fractions import Fraction

import numpy as np
import pytest
from arith_check import assert_all_match
from conftest import kernel_paths, twin
from reference import ref_arith, ref_round
from vector_oracle import ref_format

import srround as sr
from srround._core import _philox4x32_10, seed_words

# Random123's tests/kat_vectors, the "philox4x32 10" lines: counter, key, output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]
M32 = 0xFFFFFFFF


def philox_block(ctr, key):
    """Philox4x32-10 as the paper states it: ten rounds of two 32x32->64 products,
    the key bumped by the Weyl constants between rounds."""
    x0, x1, x2, x3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * x0, 0xCD9E8D57 * x2
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & M32, (p0 >> 32) ^ x3 ^ k1, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return x0, x1, x2, x3


def reference_halves(seed, start, n):
    """Half-words start .. start + n - 1 of the counter stream seeded by `seed`:
    key = first seed word, counter = (block, stream id = second seed word)."""
    key_word, stream_word = (int(w) for w in seed_words(seed)[:2])
    key = (key_word & M32, key_word >> 32)
    out = []
    for h in range(start, start + n):
        b = h // 4
        out.append(philox_block((b & M32, b >> 32, stream_word & M32, stream_word >> 32),
                                key)[h % 4])
    return out


def reference_words(seed, start, n):
    hs = reference_halves(seed, 2 * start, 2 * n)
    return [hs[2 * i] | hs[2 * i + 1] << 32 for i in range(n)]


@pytest.mark.parametrize("ctr, key, want", KAT)
def test_known_answers(ctr, key, want):
    assert tuple(_philox4x32_10(ctr, key)) == want
    assert philox_block(ctr, key) == want


def test_words_are_philox_of_the_position_in_any_pieces():
    ctx = sr.Context("bf16", rng=5, stream="counter")
    got = []
    for m in (1, 7, 0, 64, 3, 200, 125):
        got.extend(int(w) for w in ctx.random_words(m))
    assert got == reference_words(5, 0, 400)
    assert ctx.position == 800


def test_half_words_low_first_and_a_waiting_half():
    ctx = sr.Context("bf16", rng=6, stream="counter")
    got = []
    for m in (1, 2, 5, 63, 64, 3, 1):
        got.extend(int(w) for w in ctx.random_words(m, np.uint32))
    assert got == reference_halves(6, 0, 139)
    assert ctx.position == 139                          # word 69's high half waits
    assert int(ctx.random_words(1, np.uint32)[0]) == reference_halves(6, 139, 1)[0]
    ctx.random_words(1, np.uint32)                      # a low half: its high half waits ...
    assert int(ctx.random_words(1)[0]) == reference_words(6, 71, 1)[0]   # ... and is dropped


def test_advance_is_o1_and_matches_drawing():
    a = sr.Context("e4m3", rng=8, stream="counter")
    a.advance(2**40 + 3)            # far ahead, instantly: a pure function of the position
    assert a.random_words(3).tolist() == reference_words(8, 2**40 + 3, 3)
    b, c = sr.Context("e4m3", rng=8, stream="counter"), sr.Context("e4m3", rng=8, stream="counter")
    b.random_words(3, np.uint32)    # a high half waits; advancing keeps the parity
    b.advance(5)
    assert b.random_words(2, np.uint32).tolist() == c.random_words(15, np.uint32)[13:].tolist()


def test_sequential_advance_matches_drawing():
    a, b = sr.Context("bf16", rng=4), sr.Context("bf16", rng=4)
    a.advance(1000)
    assert a.random_words(4).tolist() == b.random_words(1004)[1000:].tolist()
    a.random_words(1, np.uint32)
    b.random_words(1, np.uint32)
    a.advance(3)
    assert a.random_words(3, np.uint32).tolist() == b.random_words(9, np.uint32)[6:].tolist()


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**62, ValueError), (1.5, TypeError)])
def test_advance_rejects_bad_counts(bad, exc):
    with pytest.raises(exc):
        sr.Context("bf16", stream="counter").advance(bad)


@pytest.mark.parametrize("bad, exc", [("philox", ValueError), (1, TypeError), (None, TypeError)])
def test_stream_argument_checked(bad, exc):
    with pytest.raises(exc):
        sr.Context("bf16", stream=bad)


def test_default_stream_is_sequential():
    ctx = sr.Context("bf16", rng=1)
    assert ctx.stream == "sequential" and ctx.position is None
    assert "stream" not in repr(ctx)
    assert "stream='counter'" in repr(sr.Context("bf16", rng=1, stream="counter"))


def test_pickle_keeps_key_position_and_spawn_count():
    ctx = sr.Context("bf16", rng=2, stream="counter")
    ctx.random_words(5, np.uint32)
    ctx.spawn(2)
    copy = pickle.loads(pickle.dumps(ctx))
    assert copy.stream == "counter" and copy.position == ctx.position == 5
    assert copy.random_words(9, np.uint32).tolist() == ctx.random_words(9, np.uint32).tolist()
    assert [c.random_words(4).tolist() for c in copy.spawn(2)] == \
           [c.random_words(4).tolist() for c in ctx.spawn(2)]


def test_spawned_counter_streams_differ_and_are_reproducible():
    parent = sr.Context("bf16", rng=3, stream="counter")
    kids = parent.spawn(3) + parent.spawn(1)        # the fourth continues the count
    words = [k.random_words(8).tolist() for k in kids]
    assert len({tuple(w) for w in words}) == 4
    assert all(k.stream == "counter" and k.position == 16 for k in kids)
    again = sr.Context("bf16", rng=3, stream="counter").spawn(4)
    assert [k.random_words(8).tolist() for k in again] == words
    # children are independent of the parent's own position
    assert parent.random_words(8).tolist() == reference_words(3, 0, 8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, bits", [("stochastic", None), ("stochastic", 5),
                                         ("stochastic_equal", None), ("nearest", None),
                                         ("toward_zero", None), ("odd", None)])
def test_round_draws_the_contract_words(dtype, mode, bits):
    fmt = sr.binary16
    x = np.random.default_rng(7).uniform(-4, 4, 701).astype(dtype)
    ctx = sr.Context(fmt, mode, bits=bits, rng=12, stream="counter")
    ctx.random_words(1, np.uint32)          # start on a high half
    copy = twin(ctx)
    y = np.concatenate([ctx.round(x[:300]), ctx.round(x[300:])])
    wide = dtype == np.float64
    words = copy.random_words(701, np.uint64 if wide else np.uint32)
    ref, scale = ref_format(fmt), 2**64 if wide else 2**32
    eff_bits = bits if wide or bits is not None or mode != "stochastic" else 32
    want = [ref_round(float(v), ref, mode, u=Fraction(int(w), scale), bits=eff_bits)
            for v, w in zip(x, words)]
    assert y.astype(np.float64).tolist() == want
    if ctx.stochastic:
        assert ctx.position == copy.position
    else:
        assert ctx.position == 1               # deterministic modes draw nothing


@pytest.mark.parametrize("path", kernel_paths())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_rounding_draws_the_contract_words_on_every_path(path, dtype):
    """Contiguous calls make the Philox words inside the rounding loop, one kernel per
    path, and stop it before values that need the general routine (inf, NaN, beyond
    max, the subnormal range). From any half-word, across 2^32 Philox blocks, each
    value is rounded with its own word of the plain Python Philox above."""
    fmt, n, seed = sr.binary16, 1200, 21
    x = np.random.default_rng(5).uniform(-4, 4, n).astype(dtype)
    x[[700, 800, 900, 1001]] = [np.inf, 1e5, 1e-6, np.nan]
    wide = dtype == np.float64
    for mode in ("stochastic", "stochastic_equal"):
        for skip in (0, 3):
            ctx = sr.Context(fmt, mode, rng=seed, stream="counter")._set_isa(path)
            ctx.advance(2**33 - 300)                 # Philox block 2^32 - 150
            ctx.random_words(skip, np.uint32)
            with np.errstate(over="ignore"):
                y = ctx.round(x)
            start = 2 * (2**33 - 300) + skip
            if wide:                                 # a 64-bit draw drops a waiting half
                words = reference_words(seed, (start + 1) // 2, n)
            else:
                words = reference_halves(seed, start, n)
            eff_bits = None if wide or mode != "stochastic" else 32
            want = [ref_round(float(v), ref_format(fmt), mode,
                              u=Fraction(w, 2**64 if wide else 2**32), bits=eff_bits)
                    for v, w in zip(x, words)]
            np.testing.assert_array_equal(y.astype(np.float64), np.array(want), err_msg=mode)


@pytest.mark.parametrize("path", kernel_paths())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_rounding_step_check_at_the_range_edges(path, dtype):
    """The fused loop checks each step of values with a cheap test (every magnitude in
    [2^emin, max]) and, where that fails, an exact one (zero is fine too): steps with
    zeros, signed zeros and the edges 2^emin and max themselves stay in the loop,
    steps with a value one unit beyond either edge leave it; either way every value is
    rounded with its own word (SR, SR with 5 random bits, and stochastic_equal, where
    the fused formula would round those one-unit-beyond values wrongly half the time,
    with several seeds)."""
    fmt, n = sr.binary16, 1500
    lo, top = 2.0**-14, 65504.0
    x = np.random.default_rng(9).uniform(-4, 4, n).astype(dtype)
    x[::37] = 0.0
    x[5::41] = -0.0
    x[[100, 200, 301, 450]] = [lo, -lo, top, -top]
    below = np.nextafter(dtype(lo), dtype(0))           # the subnormal range
    beyond = np.nextafter(dtype(top), dtype(np.inf))    # beyond max
    x[[600, 900, 1250]] = [below, -beyond, beyond]
    wide = dtype == np.float64
    runs = [("stochastic", None, 8), ("stochastic", 5, 8)]
    runs += [("stochastic_equal", None, seed) for seed in (8, 9, 10)]
    for mode, bits, seed in runs:
        ctx = sr.Context(fmt, mode, bits=bits, rng=seed, stream="counter")._set_isa(path)
        with np.errstate(over="ignore"):
            y = ctx.round(x)
        words = reference_words(seed, 0, n) if wide else reference_halves(seed, 0, n)
        eff_bits = bits if bits is not None or wide or mode != "stochastic" else 32
        want = [ref_round(float(v), ref_format(fmt), mode,
                          u=Fraction(w, 2**64 if wide else 2**32), bits=eff_bits)
                for v, w in zip(x, words)]
        np.testing.assert_array_equal(y.astype(np.float64), np.array(want),
                                      err_msg=f"{mode} {bits} {seed}")
        assert np.array_equal(np.signbit(y), np.signbit(x))


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "fma", "sqrt"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arithmetic_in_counter_streams(op, dtype):
    rng = np.random.default_rng(len(op))
    rows = [tuple(float(v) for v in rng.uniform(0.1, 10, 3)) for _ in range(120)]
    rows = [r[:{"sqrt": 1, "fma": 3}.get(op, 2)] for r in rows]
    assert_all_match(op, rows, names=["bfloat16", "e4m3"], dtype=dtype, stream="counter",
                     variants=[("stochastic", None), ("stochastic", 3),
                               ("stochastic_equal", None), ("nearest", None)])


@pytest.mark.parametrize("mode", ["stochastic", "stochastic_equal"])
def test_reduce_and_kahan_in_counter_streams(mode):
    fmt = sr.bfloat16
    x = np.random.default_rng(9).uniform(0, 1, 700)
    ctx = sr.Context(fmt, mode, rng=2, stream="counter")
    copy = twin(ctx)
    got = ctx.add.reduce(x)
    words = copy.random_words(700)
    acc, ref = 0.0, ref_format(fmt)
    for v, w in zip(x, words):
        acc = ref_arith("add", [acc, float(v)], ref, mode, word=int(w))
    assert float(got) == acc
    # Kahan: four rounded operations, four words per element, in order
    copy = twin(ctx)
    got = ctx.kahan_sum(x[:200])
    words = [int(w) for w in copy.random_words(800)]
    s = c = 0.0
    for i, v in enumerate(x[:200]):
        w = words[4 * i: 4 * i + 4]
        y = ref_arith("add", [float(v), -c], ref, mode, word=w[0])
        t = ref_arith("add", [s, y], ref, mode, word=w[1])
        ts = ref_arith("add", [t, -s], ref, mode, word=w[2])
        c = ref_arith("add", [ts, -y], ref, mode, word=w[3])
        s = t
    assert float(got) == s
    assert ctx.position == copy.position
