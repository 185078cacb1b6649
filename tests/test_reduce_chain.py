"""The reduction fast path (accumulator in a register, rounding decided from the
binary64 sum when its error cannot matter) against the same chain of single
elementwise additions, which take the exact path: bit for bit, every mode, with
inputs built to sit on the boundaries where the fast decision must hand over
(sums a hair above or below a value of the format, a tie, or a carry threshold)."""
import pickle

import numpy as np
import pytest
from conftest import formats

import srround as sr

FORMATS = list(formats("bfloat16", "binary16", "e4m3", "p20_e100", "p50_e900").values())


def boundary_terms(fmt, n, seed):
    """Terms whose running sums land near grid points, midpoints and carry
    thresholds of fmt, with binary64 parts below the format's last bit."""
    rng = np.random.default_rng(seed)
    ulp = 2.0 ** (1 - fmt.precision)
    kinds = rng.integers(0, 4, n)
    base = rng.choice([1.0, 0.5, 0.25, 2.0], n) * rng.integers(1, 4, n)
    tiny = rng.choice([1, -1], n) * 2.0 ** -rng.integers(40, 60, n)
    x = np.where(kinds == 0, base * ulp,                        # whole ulps
        np.where(kinds == 1, base * ulp / 2,                    # half ulps: ties
        np.where(kinds == 2, base * ulp + tiny * ulp,           # a hair off a grid point
                 rng.standard_normal(n))))                       # plain values
    return x.astype(np.float64)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.label)
@pytest.mark.parametrize("mode", sr.ROUNDINGS)
@pytest.mark.parametrize("op", ["add", "multiply"])
def test_reduce_equals_chain_of_single_operations(fmt, mode, op):
    x = boundary_terms(fmt, 600, seed=len(mode) + fmt.precision)
    if op == "multiply":
        x = 1.0 + x / 8      # keep products of 600 terms finite and away from zero
    ctx = sr.Context(fmt, mode, rng=11)
    twin = pickle.loads(pickle.dumps(ctx))
    ufunc, twin_ufunc = getattr(ctx, op), getattr(twin, op)
    with np.errstate(all="ignore"):
        got = ufunc.reduce(x)
        acc = np.float64(0.0 if op == "add" else 1.0)
        for v in x:                      # one element per call: the exact path
            acc = twin_ufunc(acc, np.array([v]))[0]
    assert got.view(np.uint64) == np.float64(acc).view(np.uint64), (got, acc)
    # and the two streams advanced alike
    assert ctx.random_words(2).tolist() == twin.random_words(2).tolist()


@pytest.mark.parametrize("mode", ["nearest", "stochastic", "toward_zero", "down"])
def test_kahan_equals_its_definition(mode):
    fmt = sr.binary16
    x = boundary_terms(fmt, 300, seed=5) / 16
    ctx = sr.Context(fmt, mode, rng=2)
    twin = pickle.loads(pickle.dumps(ctx))
    got = ctx.kahan_sum(x)
    s = c = np.float64(0)
    one = np.empty(1)
    for v in x:
        one[0] = v
        y = twin.subtract(one, c)[0]
        t = twin.add(s, y)
        c = twin.subtract(twin.subtract(t, s), y)
        s = t
    assert np.float64(got).view(np.uint64) == np.float64(s).view(np.uint64)


@pytest.mark.parametrize("fmt", formats("bfloat16", "binary16", "p50_e900").values(),
                         ids=lambda f: f.label)
@pytest.mark.parametrize("mode", sr.ROUNDINGS)
def test_elementwise_sums_on_boundaries_match_exact_reference(fmt, mode):
    """Contiguous float64 add/subtract/multiply take the vectorized path, which decides from the
    binary64 sum and hands undecided elements (hi + lo on a boundary) to the exact
    path: compare every element with the Fraction reference, SR words replayed."""
    from fractions import Fraction

    from reference import ref_round
    from vector_oracle import ref_format

    rng = np.random.default_rng(fmt.precision + len(mode))
    a = boundary_terms(fmt, 1500, seed=fmt.precision) * 2.0 ** rng.integers(-3, 4, 1500)
    b = rng.choice([1, -1], 1500) * 2.0 ** -rng.integers(20, 70, 1500) * a   # tiny parts
    b = np.where(rng.random(1500) < 0.3, rng.standard_normal(1500), b)
    ref_fmt = ref_format(fmt)
    for op in ("add", "subtract", "multiply"):
        ctx = sr.Context(fmt, mode, rng=4)
        words = pickle.loads(pickle.dumps(ctx)).random_words(a.size)
        got = getattr(ctx, op)(a, b)
        for i in range(a.size):
            fa, fb = Fraction(float(a[i])), Fraction(float(b[i]))
            exact = fa * fb if op == "multiply" else fa + fb if op == "add" else fa - fb
            u = Fraction(int(words[i]), 2**64)
            want = ref_round(exact, ref_fmt, mode, u=u)
            assert float(got[i]) == want or (np.isnan(got[i]) and np.isnan(want)), \
                (op, float(a[i]).hex(), float(b[i]).hex(), float(got[i]), want)
            if want == 0:
                assert np.signbit(got[i]) == np.signbit(want)
