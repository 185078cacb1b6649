"""The integer chain of recursive sums (csrc/sum_chain.h: ctx.add.reduce, sr.sum
recursive, sr.dot) against the same sum done one rounded addition per call, which
takes the exact path: bit for bit, on inputs built to make the chain hand over
(binade crossings, sign changes, zero sums, overflow, underflow, NaN and infinities,
terms that are not integers at the sum's scale), on every instruction-set path and
both stream kinds."""
import pickle

import numpy as np
import pytest
from conftest import formats

import srround as sr

FORMATS = list(formats("bfloat16", "binary16", "e4m3", "p20_e100", "p50_e900").values())
# the modes whose increment depends on the random word alone (the chain's modes),
# and one that does not (the chain must leave it to the other paths)
MODES = ["stochastic", "stochastic_equal", "toward_zero", "nearest_away", "nearest"]
N = 700   # more than two chunks of 256 steps


def families(fmt, seed):
    """name -> terms (float64) that exercise one of the chain's hand-overs."""
    rng = np.random.default_rng(seed)
    ulp = 2.0 ** (1 - fmt.precision)
    big = min(fmt.max, 2.0 ** 60)
    u = rng.uniform(0, 1, N)
    crossing = np.repeat(rng.choice([1.0, -1.0], N // 50), 50) * rng.uniform(0.5, 3, N)
    tiny = u.copy()
    tiny[1::3] = 2.0 ** -rng.integers(20, 60, len(tiny[1::3])) * (1 + ulp * 0.37)
    special = u.copy()
    special[[100, 400, 401]] = [np.nan, np.inf, -np.inf]
    return {
        "growing": u,                                        # crosses binades upward
        "crossing": crossing,                                # runs of each sign
        "zero": np.where(rng.random(N) < 0.5, 1.0, -1.0) * 2.0 ** rng.integers(-3, 3, N),
        "tiny terms": tiny,                                  # not integers at the scale
        "overflow": u * big / 64,
        "underflow": u * fmt.tiny * 4 * rng.choice([1, -1], N),
        "negative": -u * rng.uniform(1, 4, N),
        "special": special,
        "wide exponents": (u - 0.45) * 2.0 ** rng.integers(-40, 40, N),
        "grid and ties": rng.integers(-4, 9, N) * ulp / 2 * 2.0 ** rng.integers(0, 6, N),
    }


def stepwise_sum(x, ctx):
    """fl(...fl(fl(0 + x_1) + x_2)... + x_n), one ctx.add call per step."""
    acc = np.zeros(1, x.dtype)
    one = np.empty(1, x.dtype)
    for v in x:
        one[0] = v
        acc = ctx.add(acc, one)
    return acc[0]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.label)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reduce_equals_stepwise_sum(fmt, mode, dtype):
    if dtype == np.float32 and fmt.precision > 24:
        pytest.skip("float32 input cannot carry the format")
    for name, x in families(fmt, seed=fmt.precision + len(mode)).items():
        with np.errstate(all="ignore"):
            x = x.astype(dtype)
        ctx = sr.Context(fmt, mode, rng=7)
        twin = pickle.loads(pickle.dumps(ctx))
        with np.errstate(all="ignore"):
            got = ctx.add.reduce(x)
            want = stepwise_sum(x, twin)
        assert same_bits(got, want), (name, got, want)
        assert ctx.random_words(1).tolist() == twin.random_words(1).tolist(), name


@pytest.mark.parametrize("isa", sr._core.ISAS)
@pytest.mark.parametrize("stream", ["sequential", "counter"])
def test_every_path_and_stream_equals_stepwise_sum(isa, stream):
    fmt = sr.bfloat16
    for name, x in families(fmt, seed=3).items():
        try:
            ctx = sr.Context(fmt, "stochastic", rng=5, stream=stream)._set_isa(isa)
        except ValueError:
            pytest.skip(f"{isa} is not available on this CPU")
        twin = pickle.loads(pickle.dumps(ctx))._set_isa("scalar")
        with np.errstate(all="ignore"):
            got = sr.sum(x, ctx)
            want = stepwise_sum(x, twin)
        assert same_bits(got, want), (isa, stream, name, got, want)


def test_long_oscillating_sum_equals_stepwise_sum():
    """A sum that keeps leaving its binade (a random walk around zero, then around
    a binade boundary): the chain gives up, backs off for growing numbers of chunks
    and retries; every step still equals the one-call-per-step sum."""
    rng = np.random.default_rng(11)
    walk = rng.standard_normal(6000)
    x = np.concatenate([walk, [64.0], rng.choice([-1.0, 1.0], 6000) * 0.75,
                        rng.uniform(0, 1, 3000)]).astype(np.float32)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=2)
    twin = pickle.loads(pickle.dumps(ctx))
    assert same_bits(ctx.add.reduce(x), stepwise_sum(x, twin))


@pytest.mark.parametrize("mode", ["stochastic", "toward_zero", "nearest_away"])
def test_negated_terms_give_the_negated_sum(mode):
    """The chain mirrors negative sums; the modes act on magnitudes, so the same
    words must give exactly the negated sum (and the same stream position)."""
    x = np.random.default_rng(4).uniform(-0.2, 1, 3000)
    ctx, twin = sr.Context(sr.bfloat16, mode, rng=9), sr.Context(sr.bfloat16, mode, rng=9)
    assert same_bits(-ctx.add.reduce(x), twin.add.reduce(-x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_equals_products_then_stepwise_sum(dtype):
    rng = np.random.default_rng(6)
    x = rng.uniform(-0.3, 1, N).astype(dtype)
    y = (rng.uniform(0, 1, N) * 2.0 ** rng.integers(-30, 5, N)).astype(dtype)
    ctx = sr.Context(sr.bfloat16, "stochastic", rng=1)
    twin = pickle.loads(pickle.dumps(ctx))
    got = sr.dot(x, y, ctx)
    products = twin.multiply(x, y)
    assert same_bits(got, stepwise_sum(products, twin))
