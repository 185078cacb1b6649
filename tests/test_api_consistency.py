"""Public API consistency (issues 10 and 11): the same kind of mistake raises the
same exception everywhere, the same things have the same argument names, and
options after the data arguments are keyword-only.

The rule: TypeError when an argument has the wrong type (a float where an integer
is needed, a number where a name is needed, a non-bool flag, a non-Context ctx,
non-real data); ValueError when it has the right type and a bad value (an unknown
name, a number out of range, an empty or badly shaped array, NaN where data must
be finite).
"""
import inspect

import numpy as np
import pytest

import srround as sr
from srround import quantize as q

X = np.linspace(-1.0, 1.0, 64)
W = np.random.default_rng(0).standard_normal((4, 32))
CTX = sr.Context(sr.binary16, "nearest")
SCTX = sr.Context(sr.binary16, "stochastic", rng=1)


def _decay(t, y, ctx):
    return ctx.multiply(-1.0, y)


def ivp(**kw):
    args = dict(fun=_decay, t_span=(0.0, 1.0), y0=1.0, ctx=CTX, n_steps=4)
    args.update(kw)
    return sr.ode.solve_ivp(**args)


# (label, call, expected exception)
CASES = [
    # ---- wrong types: TypeError
    ("round: complex data", lambda: sr.round(X + 1j, sr.binary16), TypeError),
    ("round: str data", lambda: sr.round("1.0", sr.binary16), TypeError),
    ("round: fmt int", lambda: sr.round(X, 16), TypeError),
    ("round: rounding int", lambda: sr.round(X, sr.binary16, 3), TypeError),
    ("round: rounding None", lambda: sr.round(X, sr.binary16, None), TypeError),
    ("round: bits float", lambda: sr.round(X, sr.binary16, "stochastic", bits=8.0), TypeError),
    ("round: rng str", lambda: sr.round(X, sr.binary16, "stochastic", rng="7"), TypeError),
    ("round: rng float", lambda: sr.round(X, sr.binary16, "stochastic", rng=1.5), TypeError),
    ("round: out list", lambda: sr.round(X, sr.binary16, out=[0.0] * 64), TypeError),
    ("format: int", lambda: sr.format(16), TypeError),
    ("Format: precision float", lambda: sr.Format(11.0, 15), TypeError),
    ("Format: emax str", lambda: sr.Format(11, "15"), TypeError),
    ("Format: subnormals str", lambda: sr.Format(11, 15, subnormals="no"), TypeError),
    ("Format: overflow int", lambda: sr.Format(11, 15, overflow=1), TypeError),
    ("Format: max str", lambda: sr.Format(4, 8, -6, max="448"), TypeError),
    ("Format: name int", lambda: sr.Format(11, 15, name=5), TypeError),
    ("Context: fmt None", lambda: sr.Context(None), TypeError),
    ("Context: rounding int", lambda: sr.Context(sr.binary16, 0), TypeError),
    ("Context: bits str", lambda: sr.Context(sr.binary16, "stochastic", bits="8"), TypeError),
    ("Context: rng list", lambda: sr.Context(sr.binary16, "stochastic", rng=[1]), TypeError),
    ("Context.spawn: float", lambda: SCTX.spawn(2.0), TypeError),
    ("Context.random_words: float", lambda: SCTX.random_words(2.0), TypeError),
    ("sum: ctx format", lambda: sr.sum(X, sr.binary16), TypeError),
    ("sum: complex data", lambda: sr.sum(X + 1j, CTX), TypeError),
    ("sum: method int", lambda: sr.sum(X, CTX, 1), TypeError),
    ("sum: block float", lambda: sr.sum(X, CTX, "blocked", block=8.0), TypeError),
    ("sum: axis float", lambda: sr.sum(W, CTX, axis=1.0), TypeError),
    ("cumsum: ctx str", lambda: sr.cumsum(X, "binary16"), TypeError),
    ("cumsum: axis str", lambda: sr.cumsum(W, CTX, axis="0"), TypeError),
    ("dot: object data", lambda: sr.dot(np.array([None, 1]), X[:2], CTX), TypeError),
    ("dot: accumulate str", lambda: sr.dot(X, X, CTX, accumulate="binary32"), TypeError),
    ("dot: axis float", lambda: sr.dot(W, W, CTX, axis=0.0), TypeError),
    ("matmul: ctx None", lambda: sr.matmul(W, W.T, None), TypeError),
    ("matmul: str data", lambda: sr.matmul(np.array([["a"]]), np.ones((1, 1)), CTX), TypeError),
    ("solve_ivp: fun", lambda: ivp(fun=3.0), TypeError),
    ("solve_ivp: ctx", lambda: ivp(ctx=sr.binary16), TypeError),
    ("solve_ivp: y0 complex", lambda: ivp(y0=1j), TypeError),
    ("solve_ivp: method int", lambda: ivp(method=4), TypeError),
    ("solve_ivp: n_steps float", lambda: ivp(n_steps=4.0), TypeError),
    ("solve_ivp: h str", lambda: ivp(n_steps=None, h="0.25"), TypeError),
    ("solve_ivp: n_runs float", lambda: ivp(n_runs=2.0), TypeError),
    ("solve_ivp: save_every float", lambda: ivp(save_every=1.0), TypeError),
    ("solve_ivp: t_span int", lambda: ivp(t_span=1), TypeError),
    ("solve_ivp: t_span str", lambda: ivp(t_span=("0", "1")), TypeError),
    ("solve_ivp: fused str", lambda: ivp(fused="yes"), TypeError),
    ("solve_ivp: on_nan bool", lambda: ivp(on_nan=False), TypeError),
    ("uniform: complex data", lambda: q.uniform(X + 1j), TypeError),
    ("uniform: bits float", lambda: q.uniform(X, 8.0), TypeError),
    ("uniform: rounding int", lambda: q.uniform(X, 8, 0), TypeError),
    ("uniform: signed str", lambda: q.uniform(X, 8, signed="yes"), TypeError),
    ("uniform: symmetric int", lambda: q.uniform(X, 8, symmetric=0), TypeError),
    ("uniform: axis float", lambda: q.uniform(W, 8, axis=1.0), TypeError),
    ("uniform: calibration int", lambda: q.uniform(X, 8, calibration=1), TypeError),
    ("uniform: percentile str", lambda: q.uniform(X, 8, calibration="percentile",
                                                  percentile="99"), TypeError),
    ("uniform: scale str", lambda: q.uniform(X, 8, scale="0.1"), TypeError),
    ("uniform: zero_point float", lambda: q.uniform(X, 8, scale=0.1, zero_point=0.5),
     TypeError),
    ("uniform: rng str", lambda: q.uniform(X, 8, "stochastic", rng="1"), TypeError),
    ("fixed: m float", lambda: q.fixed(X, 1.0, 6), TypeError),
    ("fixed: rounding None", lambda: q.fixed(X, 1, 6, None), TypeError),
    ("fixed: signed int", lambda: q.fixed(X, 1, 6, signed=1), TypeError),
    ("levels: levels str", lambda: q.levels(X, ["a", "b"]), TypeError),
    ("levels: rounding int", lambda: q.levels(X, [0, 1], 2), TypeError),
    ("levels: rng float", lambda: q.levels(X, [0, 1], "stochastic", rng=0.5), TypeError),
    ("log2_levels: count float", lambda: q.log2_levels(4.0), TypeError),
    ("log2_levels: top str", lambda: q.log2_levels(4, top="1"), TypeError),
    ("log2_levels: signed str", lambda: q.log2_levels(4, signed="no"), TypeError),
    ("quantile_levels: count float", lambda: q.quantile_levels(X, 4.0), TypeError),
    ("lloyd_max_levels: iterations float", lambda: q.lloyd_max_levels(X, 4, iterations=5.0),
     TypeError),
    ("lloyd_max_levels: tol str", lambda: q.lloyd_max_levels(X, 4, tol="0"), TypeError),
    ("mx: fmt int", lambda: q.mx(W, 8), TypeError),
    ("mx: rounding int", lambda: q.mx(W, "mxfp8", 1), TypeError),
    ("mx: block float", lambda: q.mx(W, "mxfp8", block=32.0), TypeError),
    ("mx: axis str", lambda: q.mx(W, "mxfp8", axis="1"), TypeError),
    ("mse: str data", lambda: q.mse(X, np.array(["a"] * 64)), TypeError),
    ("sqnr_db: complex data", lambda: q.sqnr_db(X, X + 1j), TypeError),
    ("max_error: object data", lambda: q.max_error(X, [None] * 64), TypeError),
    ("bias: str data", lambda: q.bias("abc", X), TypeError),
    # ---- bad values: ValueError
    ("round: unknown format", lambda: sr.round(X, "binary15"), ValueError),
    ("round: unknown rounding", lambda: sr.round(X, sr.binary16, "nearst"), ValueError),
    ("round: bits 0", lambda: sr.round(X, sr.binary16, "stochastic", bits=0), ValueError),
    ("round: bits 2**70", lambda: sr.round(X, sr.binary16, "stochastic", bits=2**70),
     ValueError),
    ("round: bits with nearest", lambda: sr.round(X, sr.binary16, bits=8), ValueError),
    ("round: negative seed", lambda: sr.round(X, sr.binary16, "stochastic", rng=-1),
     ValueError),
    ("round: out shape", lambda: sr.round(X, sr.binary16, out=np.empty(3)), ValueError),
    ("round: float32 for binary64", lambda: sr.round(X.astype(np.float32), sr.binary64),
     ValueError),
    ("format: unknown", lambda: sr.format("fp7"), ValueError),
    ("Format: precision 0", lambda: sr.Format(0, 15), ValueError),
    ("Format: emin > emax", lambda: sr.Format(11, 5, 9), ValueError),
    ("Format: overflow name", lambda: sr.Format(11, 15, overflow="clamp"), ValueError),
    ("Format: max not representable", lambda: sr.Format(4, 8, -6, max=449), ValueError),
    ("Format: max huge int", lambda: sr.Format(4, 8, -6, max=10**400), ValueError),
    ("Format: emax 2**70", lambda: sr.Format(11, 2**70), ValueError),
    ("Context: unknown rounding", lambda: sr.Context(sr.binary16, "sr"), ValueError),
    ("Context: unknown format", lambda: sr.Context("fp7"), ValueError),
    ("Context: bits 65", lambda: sr.Context(sr.binary16, "stochastic", bits=65), ValueError),
    ("Context: negative seed", lambda: sr.Context(sr.binary16, "stochastic", rng=-5),
     ValueError),
    ("Context.spawn: negative", lambda: SCTX.spawn(-1), ValueError),
    ("Context.random_words: negative", lambda: SCTX.random_words(-1), ValueError),
    ("sum: unknown method", lambda: sr.sum(X, CTX, "fast"), ValueError),
    ("sum: block 0", lambda: sr.sum(X, CTX, "blocked", block=0), ValueError),
    ("sum: empty", lambda: sr.sum(np.array([]), CTX), ValueError),
    ("sum: axis out of range", lambda: sr.sum(W, CTX, axis=2), ValueError),
    ("sum: float32 for binary64", lambda: sr.sum(X.astype(np.float32),
                                                 sr.Context(sr.binary64, "nearest")),
     ValueError),
    ("cumsum: empty", lambda: sr.cumsum(np.array([]), CTX), ValueError),
    ("cumsum: axis out of range", lambda: sr.cumsum(W, CTX, axis=-3), ValueError),
    ("dot: lengths differ", lambda: sr.dot(X, X[:3], CTX), ValueError),
    ("dot: scalar", lambda: sr.dot(1.0, 2.0, CTX), ValueError),
    ("dot: axis out of range", lambda: sr.dot(W, W, CTX, axis=5), ValueError),
    ("matmul: inner dimensions", lambda: sr.matmul(W, W, CTX), ValueError),
    ("matmul: empty inner", lambda: sr.matmul(np.ones((2, 0)), np.ones((0, 2)), CTX),
     ValueError),
    ("matmul: scalar", lambda: sr.matmul(1.0, W, CTX), ValueError),
    ("solve_ivp: method name", lambda: ivp(method="rk45"), ValueError),
    ("solve_ivp: n_steps 0", lambda: ivp(n_steps=0), ValueError),
    ("solve_ivp: n_runs 0", lambda: ivp(n_runs=0), ValueError),
    ("solve_ivp: save_every 0", lambda: ivp(save_every=0), ValueError),
    ("solve_ivp: on_nan name", lambda: ivp(on_nan="ignore"), ValueError),
    ("solve_ivp: t_span order", lambda: ivp(t_span=(1.0, 0.0)), ValueError),
    ("solve_ivp: t_span length", lambda: ivp(t_span=(0.0, 1.0, 2.0)), ValueError),
    ("solve_ivp: y0 NaN", lambda: ivp(y0=[np.nan]), ValueError),
    ("solve_ivp: y0 2-d", lambda: ivp(y0=np.ones((2, 2))), ValueError),
    ("solve_ivp: h negative", lambda: ivp(n_steps=None, h=-0.25), ValueError),
    ("solve_ivp: both n_steps and h", lambda: ivp(h=0.25), ValueError),
    ("solve_ivp: fun shape", lambda: ivp(fun=lambda t, y, c: [1.0, 2.0]), ValueError),
    ("uniform: bits 1", lambda: q.uniform(X, 1), ValueError),
    ("uniform: rounding name", lambda: q.uniform(X, 8, "banker"), ValueError),
    ("uniform: empty", lambda: q.uniform(np.array([])), ValueError),
    ("uniform: NaN", lambda: q.uniform(np.array([1.0, np.nan])), ValueError),
    ("uniform: axis out of range", lambda: q.uniform(W, 8, axis=2), ValueError),
    ("uniform: calibration name", lambda: q.uniform(X, 8, calibration="mse"), ValueError),
    ("uniform: percentile 120", lambda: q.uniform(X, 8, calibration="percentile",
                                                  percentile=120), ValueError),
    ("uniform: scale 0", lambda: q.uniform(X, 8, scale=0.0), ValueError),
    ("uniform: scale per channel count", lambda: q.uniform(W, 8, axis=0, scale=[1.0, 2.0]),
     ValueError),
    ("uniform: zero_point beyond codes", lambda: q.uniform(X, 8, scale=0.1, zero_point=300),
     ValueError),
    ("fixed: word length", lambda: q.fixed(X, 20, 20), ValueError),
    ("fixed: m negative", lambda: q.fixed(X, -1, 6), ValueError),
    ("fixed: rounding name", lambda: q.fixed(X, 1, 6, "sideways"), ValueError),
    ("levels: not increasing", lambda: q.levels(X, [1, 0]), ValueError),
    ("levels: rounding odd", lambda: q.levels(X, [0, 1], "odd"), ValueError),
    ("levels: negative seed", lambda: q.levels(X, [0, 1], "stochastic", rng=-1), ValueError),
    ("log2_levels: count 0", lambda: q.log2_levels(0), ValueError),
    ("log2_levels: top 0", lambda: q.log2_levels(4, top=0.0), ValueError),
    ("quantile_levels: constant", lambda: q.quantile_levels(np.ones(10), 4), ValueError),
    ("lloyd_max_levels: count 1", lambda: q.lloyd_max_levels(X, 1), ValueError),
    ("lloyd_max_levels: tol negative", lambda: q.lloyd_max_levels(X, 4, tol=-1.0),
     ValueError),
    ("mx: unknown format", lambda: q.mx(W, "mxfp3"), ValueError),
    ("mx: block does not divide", lambda: q.mx(W, "mxfp8", block=48), ValueError),
    ("mx: rounding name", lambda: q.mx(W, "mxfp8", "banker"), ValueError),
    ("mx: scalar", lambda: q.mx(1.0, "mxfp8"), ValueError),
    ("mse: shapes", lambda: q.mse(X, X[:3]), ValueError),
    ("compression_ratio: empty", lambda: q.compression_ratio(X, np.array([])), ValueError),
]


@pytest.mark.parametrize("label,call,error", CASES, ids=[c[0] for c in CASES])
def test_error_type(label, call, error):
    with pytest.raises(error) as info:
        call()
    # exactly the kind asked for: not the other one through a shared subclass
    other = ValueError if error is TypeError else TypeError
    assert not isinstance(info.value, other), f"{label}: {type(info.value).__name__}"
    assert str(info.value), f"{label}: the error says nothing"


# ---------------------------------------------------------------- names and signatures

PUBLIC = {
    "round": sr.round, "Context": sr.Context, "sum": sr.sum, "cumsum": sr.cumsum,
    "dot": sr.dot, "matmul": sr.matmul, "solve_ivp": sr.ode.solve_ivp,
    "uniform": q.uniform, "fixed": q.fixed, "levels": q.levels, "mx": q.mx,
    "log2_levels": q.log2_levels, "quantile_levels": q.quantile_levels,
    "lloyd_max_levels": q.lloyd_max_levels,
}

# what may be passed by position: the data, what it is rounded to or with, and the
# rounding mode or method; every other option is keyword-only
POSITIONAL = {
    "round": ("x", "fmt", "rounding"), "Context": ("fmt", "rounding"),
    "sum": ("x", "ctx", "method"), "cumsum": ("x", "ctx"), "dot": ("x", "y", "ctx"),
    "matmul": ("A", "B", "ctx"), "solve_ivp": ("fun", "t_span", "y0", "ctx", "method"),
    "uniform": ("x", "bits", "rounding"), "fixed": ("x", "m", "n", "rounding"),
    "levels": ("x", "levels", "rounding"), "mx": ("x", "fmt", "rounding"),
    "log2_levels": ("count",), "quantile_levels": ("x", "count"),
    "lloyd_max_levels": ("x", "count"),
}

# one name for one thing, across modules
SAME_THING = {"rng": "the random stream's seed", "rounding": "the rounding mode",
              "ctx": "a Context", "fmt": "a format", "axis": "an axis",
              "accumulate": "the Context of the sums"}
SYNONYMS = {"seed", "random_state", "generator", "mode", "round_mode", "context",
            "format", "fmt_name", "dim", "axes", "acc", "accumulator"}


def _parameters(fn):
    return inspect.signature(fn).parameters


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_options_after_the_data_are_keyword_only(name):
    params = _parameters(PUBLIC[name])
    positional = tuple(p.name for p in params.values()
                       if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    assert positional == POSITIONAL[name]
    assert all(p.kind == p.KEYWORD_ONLY for p in params.values()
               if p.name not in POSITIONAL[name])


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_same_names_for_the_same_things(name):
    params = set(_parameters(PUBLIC[name]))
    assert not params & SYNONYMS, f"{name} uses {params & SYNONYMS}; say {set(SAME_THING)}"


def test_rng_accepts_the_same_things_everywhere():
    """int, SeedSequence and Generator seed every stochastic entry point alike."""
    for rng in (3, np.random.SeedSequence(3), np.random.default_rng(3)):
        sr.round(X, sr.binary16, "stochastic", rng=rng)
        sr.Context(sr.binary16, "stochastic", rng=rng)
        q.uniform(X, 4, "stochastic", rng=rng)
        q.fixed(X, 1, 3, "stochastic", rng=rng)
        q.levels(X, [-1, 0, 1], "stochastic", rng=rng)
        q.mx(W, "mxfp4", "stochastic", rng=rng)
