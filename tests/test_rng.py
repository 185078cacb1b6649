"""The random stream of a Context, checked against a pure-Python xoshiro256++.

The contract (csrc/srround.h, csrc/rng.h and README.md): the stream is 8 interleaved
xoshiro256++ lanes, word k of the stream being the (k // 8)-th output of lane
k % 8; lane j is seeded with words [4j .. 4j+3] of
``SeedSequence(seed).generate_state(32, np.uint64)`` as (s0, s1, s2, s3).
``spawn`` hands child i the parent's current state and jumps the parent by
2**128 steps after each child.  The jump is verified here independently of the
published jump polynomial: by raising the GF(2) transition matrix of the
xoshiro256 linear engine to the power 2**128.
"""
import pickle
from fractions import Fraction

import numpy as np
import pytest
from reference import RefFormat, ref_round

import srround as sr
from srround._core import seed_words

MASK = (1 << 64) - 1
LANES = 8


# ---------------------------------------------------------------- reference

def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro_step(state):
    """One xoshiro256++ step: (output, new state) for a 4-tuple of 64-bit ints."""
    s0, s1, s2, s3 = state
    out = (rotl((s0 + s3) & MASK, 23) + s0) & MASK
    t = (s1 << 17) & MASK
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return out, (s0, s1, s2, s3)


def lane_outputs(state, n):
    out = []
    for _ in range(n):
        w, state = xoshiro_step(state)
        out.append(w)
    return out, state


def reference_stream(lane_states, n):
    """First n words of the interleaved stream started from lane_states (8 tuples)."""
    per_lane = -(-n // LANES)
    outs = [lane_outputs(st, per_lane)[0] for st in lane_states]
    return [outs[k % LANES][k // LANES] for k in range(n)]


def lanes_from_seed_words(words):
    words = [int(w) for w in words]
    return [tuple(words[4 * j: 4 * j + 4]) for j in range(LANES)]


def lanes_from_state_array(s):
    """ctx._state()[0] has shape (4, lanes): s[i][j] is word i of lane j."""
    s = np.asarray(s)
    assert s.shape == (4, LANES)
    return [tuple(int(s[i, j]) for i in range(4)) for j in range(LANES)]


def draw_unevenly(ctx, n, sizes=(1, 2, 3, 5, 7, 8, 9, 13, 0, 16, 17, 31, 64, 100, 1, 6)):
    got = []
    k = 0
    while len(got) < n:
        m = min(sizes[k % len(sizes)], n - len(got))
        part = ctx.random_words(m)
        assert part.dtype == np.uint64 and part.shape == (m,)
        got.extend(int(w) for w in part)
        k += 1
    return got


def context_with_state(lane_states, fmt=sr.binary16, rounding="stochastic"):
    """A context whose stream starts at the given explicit lane states, built through
    the pickling protocol (the reconstructor Context.__reduce__ names)."""
    base = sr.Context(fmt, rounding, rng=0)
    func, args = base.__reduce__()
    fmt_, rounding_, bits, s, buf, pos, half = args
    s = np.array([[lane_states[j][i] for j in range(LANES)] for i in range(4)], np.uint64)
    ctx = func(fmt_, rounding_, bits, s, np.zeros(LANES, np.uint64), LANES)
    # and it survives an actual pickle round trip unchanged
    return pickle.loads(pickle.dumps(ctx))


# ------------------------------------------------------ the reference itself

def test_reference_textbook_value():
    # xoshiro256++ from state (1, 2, 3, 4): rotl(1 + 4, 23) + 1
    out, _ = xoshiro_step((1, 2, 3, 4))
    assert out == 41943041


# ------------------------------------------------------ known-answer vectors

def test_seed_words_come_from_seedsequence():
    for seed in (0, 1, 12345, 2**64 + 3):
        want = np.random.SeedSequence(seed).generate_state(4 * LANES, np.uint64)
        np.testing.assert_array_equal(seed_words(seed), want)
    ss = np.random.SeedSequence(99)
    np.testing.assert_array_equal(seed_words(ss), ss.generate_state(32, np.uint64))


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 11])
def test_stream_matches_reference_from_seed(seed):
    ctx = sr.Context(sr.binary16, "stochastic", rng=seed)
    lanes = lanes_from_seed_words(np.random.SeedSequence(seed).generate_state(32, np.uint64))
    n = 1003
    assert draw_unevenly(ctx, n) == reference_stream(lanes, n)


def test_stream_matches_reference_from_explicit_state():
    lanes = [(1 + 4 * j, 2 + 4 * j, 3 + 4 * j, 4 + 4 * j) for j in range(LANES)]
    lanes[3] = (MASK, 0x0123456789ABCDEF, 1 << 63, 0xDEADBEEF)
    ctx = context_with_state(lanes)
    want = reference_stream(lanes, 999)
    got = draw_unevenly(ctx, 999, sizes=(3, 1, 8, 11, 2, 40, 5))
    assert got == want
    assert got[0] == 41943041   # lane 0 starts at (1, 2, 3, 4)


def test_stream_independent_of_split():
    a = sr.Context(sr.bfloat16, "stochastic", rng=5)
    b = sr.Context(sr.bfloat16, "stochastic", rng=5)
    whole = [int(w) for w in a.random_words(777)]
    assert draw_unevenly(b, 777, sizes=(7, 1, 0, 9, 250, 3)) == whole


def test_state_reports_lanes_and_buffer():
    seed = 3
    ctx = sr.Context(sr.binary16, "stochastic", rng=seed)
    s, buf, pos, half = ctx._state()
    assert pos == LANES and half == -1        # nothing buffered yet
    lanes = lanes_from_seed_words(seed_words(seed))
    assert lanes_from_state_array(s) == lanes
    ctx.random_words(3)
    s, buf, pos, half = ctx._state()
    assert pos == 3
    first_block = [lane_outputs(st, 1)[0][0] for st in lanes]
    assert [int(w) for w in buf] == first_block
    assert lanes_from_state_array(s) == [lane_outputs(st, 1)[1] for st in lanes]


def test_stochastic_rounding_consumes_the_stream_in_order():
    """Element k of a contiguous array is rounded with stream word k, and the
    stream continues after the last element."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-4, 4, 1000)
    ctx = sr.Context(sr.binary16, "stochastic", rng=11)
    twin = sr.Context(sr.binary16, "stochastic", rng=11)
    y = ctx.round(x)
    words = twin.random_words(1000)
    fmt = RefFormat(11, 15, -14)
    want = [ref_round(float(v), fmt, "stochastic", u=Fraction(int(w), 2**64))
            for v, w in zip(x, words)]
    assert y.tolist() == want
    np.testing.assert_array_equal(ctx.random_words(20), twin.random_words(20))


def draw32_unevenly(ctx, n, sizes=(1, 2, 3, 5, 7, 0, 16, 17, 31, 1, 6)):
    got, k = [], 0
    while len(got) < n:
        m = min(sizes[k % len(sizes)], n - len(got))
        part = ctx.random_words(m, np.uint32)
        assert part.dtype == np.uint32 and part.shape == (m,)
        got.extend(int(w) for w in part)
        k += 1
    return got


def halves(words):
    """32-bit draws split each word: its low half, then its high half."""
    return [h for w in words for h in (w & 0xFFFFFFFF, w >> 32)]


def test_32_bit_draws_split_words_low_half_first():
    seed = 21
    lanes = lanes_from_seed_words(seed_words(seed))
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=seed)
    assert draw32_unevenly(ctx, 1001) == halves(reference_stream(lanes, 501))[:1001]
    # word 501's high half waits for the next 32-bit draw ...
    assert ctx._state()[3] == halves(reference_stream(lanes, 501))[1001]
    assert int(ctx.random_words(1, np.uint32)[0]) == halves(reference_stream(lanes, 501))[1001]
    # ... and a 64-bit draw discards a waiting half
    ctx.random_words(1, np.uint32)
    assert int(ctx.random_words(1)[0]) == reference_stream(lanes, 503)[502]


def test_float32_rounding_draws_half_words():
    """Rounding float32 data takes one 32-bit half-word per element, and an odd
    count leaves the next call starting on a high half."""
    x = np.random.default_rng(4).uniform(-4, 4, 999).astype(np.float32)
    ctx = sr.Context(sr.binary16, "stochastic", rng=22)
    twin = pickle.loads(pickle.dumps(ctx))
    y = np.concatenate([ctx.round(x[:333]), ctx.round(x[333:])])
    words = twin.random_words(999, np.uint32)
    fmt = RefFormat(11, 15, -14)
    want = [ref_round(float(v), fmt, "stochastic", u=Fraction(int(w), 2**32), bits=32)
            for v, w in zip(x, words)]
    assert y.astype(np.float64).tolist() == want
    np.testing.assert_array_equal(ctx.random_words(3, np.uint32), twin.random_words(3, np.uint32))


def test_random_words_rejects_other_dtypes():
    ctx = sr.Context(sr.binary16, "stochastic", rng=1)
    for bad in (np.int64, np.float64, np.uint16):
        with pytest.raises(TypeError):
            ctx.random_words(3, bad)


# ---------------------------------------------------------------- the jump

def _engine_step_int(v):
    """The xoshiro256 linear engine on a 256-bit int (bits 64i.. 64i+63 = s_i)."""
    st = tuple((v >> (64 * i)) & MASK for i in range(4))
    _, st = xoshiro_step(st)
    return st[0] | (st[1] << 64) | (st[2] << 128) | (st[3] << 192)


def _transition_rows():
    """Rows of the 256x256 GF(2) matrix T (bit k of rows[i] is T[i][k])."""
    cols = [_engine_step_int(1 << j) for j in range(256)]
    rows = []
    for i in range(256):
        r = 0
        for j in range(256):
            if (cols[j] >> i) & 1:
                r |= 1 << j
        rows.append(r)
    return rows


def _square(rows):
    """Rows of M @ M over GF(2): row i of M^2 = XOR of rows k of M with M[i][k] = 1."""
    out = []
    for r in rows:
        acc = 0
        k = 0
        while r:
            if r & 1:
                acc ^= rows[k]
            r >>= 1
            k += 1
        out.append(acc)
    return out


def _apply(rows, v):
    out = 0
    for i, r in enumerate(rows):
        if (r & v).bit_count() & 1:
            out |= 1 << i
    return out


def _to_int(lane):
    return lane[0] | (lane[1] << 64) | (lane[2] << 128) | (lane[3] << 192)


def _to_lane(v):
    return tuple((v >> (64 * i)) & MASK for i in range(4))


@pytest.fixture(scope="module")
def jump_rows():
    T = _transition_rows()
    # sanity: the matrix is the engine
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = int.from_bytes(rng.bytes(32), "little")
        assert _apply(T, v) == _engine_step_int(v)
    M = T
    for _ in range(128):
        M = _square(M)
    return M


def test_matrix_power_machinery_on_small_exponent():
    # T^(2^3) by squaring agrees with 8 plain steps
    T = _transition_rows()
    M = _square(_square(_square(T)))
    v = _to_int((1, 2, 3, 4))
    w = v
    for _ in range(8):
        w = _engine_step_int(w)
    assert _apply(M, v) == w


def test_spawn_jumps_by_two_to_the_128(jump_rows):
    parent = sr.Context(sr.binary16, "stochastic", rng=2024)
    parent.random_words(3)                     # mid-buffer: spawn drops the buffer
    parent.random_words(1, np.uint32)          # and a waiting half-word
    s0 = parent._state()[0]
    start = lanes_from_state_array(s0)
    children = parent.spawn(2)
    c0 = lanes_from_state_array(children[0]._state()[0])
    c1 = lanes_from_state_array(children[1]._state()[0])
    after = lanes_from_state_array(parent._state()[0])
    assert c0 == start
    once = [_to_lane(_apply(jump_rows, _to_int(l))) for l in start]
    twice = [_to_lane(_apply(jump_rows, _to_int(l))) for l in once]
    assert c1 == once
    assert after == twice
    # and the children's streams are the reference streams from those states
    assert [int(w) for w in children[1].random_words(50)] == reference_stream(once, 50)
    assert [int(w) for w in children[0].random_words(50)] == reference_stream(start, 50)
    assert [int(w) for w in parent.random_words(50)] == reference_stream(twice, 50)


# ---------------------------------------------------------------- spawning

def test_spawned_streams_differ():
    parent = sr.Context(sr.bfloat16, "stochastic", rng=8)
    kids = parent.spawn(4)
    streams = [k.random_words(64) for k in kids] + [parent.random_words(64)]
    words = np.concatenate(streams)
    assert len(set(words.tolist())) == words.size
    for k in kids:
        assert k.format == parent.format and k.rounding == parent.rounding


def test_spawn_preserves_bits():
    parent = sr.Context(sr.binary16, "stochastic", bits=5, rng=1)
    kid, = parent.spawn(1)
    assert kid.bits == 5


def test_spawn_reproducible_from_seed():
    a = sr.Context(sr.binary16, "stochastic", rng=77).spawn(3)
    b = sr.Context(sr.binary16, "stochastic", rng=77).spawn(3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.random_words(100), y.random_words(100))


def test_spawn_zero_and_negative():
    ctx = sr.Context(sr.binary16, "stochastic", rng=1)
    twin = sr.Context(sr.binary16, "stochastic", rng=1)
    assert ctx.spawn(0) == []
    np.testing.assert_array_equal(ctx.random_words(10), twin.random_words(10))
    with pytest.raises(ValueError):
        ctx.spawn(-1)


# ---------------------------------------------------------------- pickling

@pytest.mark.parametrize("drawn", [0, 3, 8, 13])
def test_pickled_context_continues_stream(drawn):
    ctx = sr.Context(sr.binary16, "stochastic", rng=123)
    ctx.random_words(drawn)
    clone = pickle.loads(pickle.dumps(ctx))
    np.testing.assert_array_equal(clone.random_words(101), ctx.random_words(101))
    x = np.linspace(-3, 3, 500)
    np.testing.assert_array_equal(clone.round(x), ctx.round(x))


# ---------------------------------------------------------------- seeds

def test_same_int_seed_same_words():
    a = sr.Context(sr.binary16, "stochastic", rng=42).random_words(64)
    b = sr.Context(sr.binary16, "stochastic", rng=42).random_words(64)
    c = sr.Context(sr.binary16, "stochastic", rng=43).random_words(64)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    d = sr.Context(sr.binary16, "stochastic", rng=np.int64(42)).random_words(64)
    np.testing.assert_array_equal(a, d)


def test_seedsequence_seed():
    a = sr.Context(sr.binary16, "stochastic", rng=np.random.SeedSequence(42)).random_words(32)
    b = sr.Context(sr.binary16, "stochastic", rng=42).random_words(32)
    np.testing.assert_array_equal(a, b)


def test_generator_seed():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    a = sr.Context(sr.binary16, "stochastic", rng=g1)
    b = sr.Context(sr.binary16, "stochastic", rng=g2)
    np.testing.assert_array_equal(a.random_words(32), b.random_words(32))
    # the generator advanced: a second context from it gets another stream
    c = sr.Context(sr.binary16, "stochastic", rng=g1)
    d = sr.Context(sr.binary16, "stochastic", rng=np.random.default_rng(5))
    assert not np.array_equal(c.random_words(32), d.random_words(32))


def test_no_seed_gives_fresh_entropy():
    a = sr.Context(sr.binary16, "stochastic").random_words(8)
    b = sr.Context(sr.binary16, "stochastic").random_words(8)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("mode", ["stochastic", "stochastic_equal"])
def test_negative_seed_is_value_error(mode):
    with pytest.raises(ValueError, match="non-negative|negative"):
        sr.Context(sr.binary16, mode, rng=-1)
    with pytest.raises(ValueError):
        sr.round(1.1, sr.binary16, mode, rng=-5)


@pytest.mark.parametrize("bad", [1.0, 2.5, "7", True, False, np.bool_(True), [1, 2]])
def test_bad_seed_type_is_type_error(bad):
    with pytest.raises(TypeError, match="rng"):
        sr.Context(sr.binary16, "stochastic", rng=bad)
    with pytest.raises(TypeError):
        sr.round(1.1, sr.binary16, "stochastic", rng=bad)


def test_deterministic_context_has_no_stream_to_speak_of():
    """A deterministic context draws nothing: its results do not depend on rng, and
    spawning gives deterministic contexts with the same results."""
    x = np.random.default_rng(0).uniform(-3, 3, 1000)
    a = sr.Context(sr.binary16, "nearest", rng=1)
    b = sr.Context(sr.binary16, "nearest", rng=2)
    np.testing.assert_array_equal(a.round(x), b.round(x))
    assert not a.stochastic
    kids = a.spawn(2)
    for k in kids:
        assert k.rounding == "nearest"
        np.testing.assert_array_equal(k.round(x), a.round(x))
        np.testing.assert_array_equal(k.add(x, x), b.add(x, x))
