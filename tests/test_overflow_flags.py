"""Floating-point flags, as NumPy reports them (np.errstate): rounding or an operation
whose finite exact result becomes +-inf or NaN through the format's overflow policy
raises "overflow", as NumPy's own casts and arithmetic do; an exact infinity from
finite operands (x / 0) raises "divide"; NaN from operands that are not NaN raises
"invalid"; nothing else raises anything (no underflow or inexact from the core's
internal arithmetic). Checked in every mode, for both input types, contiguous (the
vectorized paths) and strided (the general routine), on every kernel path.
"""
import math

import numpy as np
import pytest
from conftest import kernel_paths

import srround as sr
from srround import _core

FORMATS = [sr.binary16, sr.bfloat16, sr.e4m3, sr.e5m2, sr.e2m1,
           sr.Format(11, 15, overflow="nan"), sr.Format(4, 8, -6, overflow="saturate"),
           sr.binary64]


@pytest.fixture(params=kernel_paths())
def path(request):
    return request.param


def raised(call):
    """The kinds of NumPy floating-point errors that call() reports."""
    seen = set()
    with np.errstate(all="call", call=lambda kind, flag: seen.add(kind.split()[0])):
        call()
    return seen


def with_value_at(v, dtype, n=1024, at=517):
    """Ordinary values (which the vectorized loops take) with v at one place."""
    x = np.linspace(-3.0, 3.0, n).astype(dtype)
    x[at] = v
    return x


def near_max(fmt, dtype):
    """Values at and around the format's max, beyond it, and huge."""
    m, s = fmt.max, 2.0 ** (fmt.emax - fmt.precision + 1)
    big = float(np.finfo(dtype).max)
    vals = [m, m + s / 4, m + s / 2, m + 3 * s / 4, m + s, 2 * m, 1e30, big, math.inf,
            math.nan]
    with np.errstate(over="ignore"):
        out = {float(dtype(v)) for v in vals if v <= big or math.isinf(v) or math.isnan(v)}
    return sorted(out, key=lambda v: (math.isnan(v), v)) + [-v for v in out if v == v]


def expected_overflow(inputs, result):
    finite = np.ones(np.shape(result), bool)
    for a in inputs:
        finite &= np.isfinite(np.broadcast_to(a, np.shape(result)))
    return bool(np.any(finite & ~np.isfinite(result)))


CASES = [(f, m) for f in FORMATS for m in sr.ROUNDINGS]


@pytest.mark.parametrize("fmt,mode", CASES, ids=[f"{f.label}-{m}" for f, m in CASES])
def test_rounding_raises_overflow_exactly_when_it_overflows(fmt, mode, path):
    dtypes = (np.float32, np.float64) if fmt.fits_float32 else (np.float64,)
    for dtype in dtypes:
        for v in near_max(fmt, dtype):
            x = with_value_at(v, dtype)
            for data in (x, x[::3], x[:128]):       # vectorized, strided, SR inline paths
                with np.errstate(all="ignore"):
                    want = sr.Context(fmt, mode, rng=5).round(data)
                ctx = sr.Context(fmt, mode, rng=5)._set_isa(path)
                kinds = raised(lambda: ctx.round(data))
                over = expected_overflow([data], want)
                assert kinds == ({"overflow"} if over else set()), \
                    f"{fmt.label} {mode} {np.dtype(dtype).name} {v!r}: {kinds}, overflow {over}"


def test_sr_round_warns_like_numpys_cast():
    with pytest.warns(RuntimeWarning, match="overflow"):
        sr.round(np.array([1e10]), sr.binary16)
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.array([1e10]).astype(np.float16)          # the behaviour we match
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        sr.round(np.array([1.0, 500.0], np.float32), sr.e4m3)     # NaN by the policy
    with np.errstate(all="raise"):                   # no overflow: no flag at all
        sr.round(np.array([1e10, -1e10]), sr.binary16, "toward_zero")
        sr.round(np.array([1e10, np.inf]), sr.e2m1)  # saturating
        sr.round(np.array([np.inf, -np.inf, np.nan]), sr.binary16)
        sr.round(np.array([65519.0, 1e-300, 2.0 ** -1074]), sr.binary16)


# ---------------------------------------------------------------- arithmetic

def arith_rows(fmt):
    """(operation, operands) near the format's max, beyond binary64's range, x / 0,
    invalid operations, and ordinary and tiny ones that raise nothing."""
    m, s = fmt.max, 2.0 ** (fmt.emax - fmt.precision + 1)
    big = 1.7976931348623157e308
    return [("add", (m, m)), ("add", (m, s / 4)), ("add", (m, s / 2)), ("add", (-m, -s)),
            ("add", (big, big)), ("subtract", (-m, m)), ("multiply", (m, 1.5)),
            ("multiply", (1e200, 1e200)), ("multiply", (1e-200, 1e-200)),
            ("multiply", (0.0, math.inf)), ("divide", (m, 0.5)), ("divide", (1.0, 1e-300)),
            ("divide", (1.0, 0.0)), ("divide", (-2.0, -0.0)), ("divide", (0.0, 0.0)),
            ("divide", (math.inf, math.inf)), ("divide", (1.0, 3.0)), ("divide", (1e-300, 1e10)),
            ("sqrt", (-1.0,)), ("sqrt", (math.inf,)), ("sqrt", (2.0 ** -1074,)),
            ("fma", (m, 2.0, -m)), ("fma", (big, 2.0, -big)), ("fma", (m, 1.0, s)),
            ("fma", (math.inf, 0.0, 1.0)), ("add", (math.inf, -math.inf)),
            ("add", (math.inf, 1.0)), ("add", (math.nan, 1.0)), ("add", (1.0, 2.0 ** -1074))]


def invalid(op, operands):
    """Whether the exact operation has no value (IEEE 754's invalid operations)."""
    a = operands[0]
    if op in ("add", "subtract"):
        b = operands[1] if op == "add" else -operands[1]
        return math.isinf(a) and math.isinf(b) and (a > 0) != (b > 0)
    if op == "multiply":
        return {0.0, math.inf} <= {abs(a), abs(operands[1])}
    if op == "divide":
        b = operands[1]
        return (a == 0 and b == 0) or (math.isinf(a) and math.isinf(b))
    if op == "sqrt":
        return a < 0
    b, c = operands[1], operands[2]
    if {0.0, math.inf} <= {abs(a), abs(b)}:
        return True
    product_inf = math.isinf(a) or math.isinf(b)
    product_neg = (a < 0) != (b < 0)
    return product_inf and math.isinf(c) and product_neg != (c < 0)


def expected_kinds(op, operands, result):
    """The NumPy errors an emulated operation raises: invalid, divide by zero (x / 0),
    or overflow where finite operands give a result that is not finite."""
    if any(math.isnan(v) for v in operands):
        return set()
    if invalid(op, operands):
        return {"invalid"}
    if any(math.isinf(v) for v in operands):
        return set()
    if op == "divide" and operands[1] == 0:
        return {"divide"}
    return set() if math.isfinite(result) else {"overflow"}


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.label for f in FORMATS])
def test_arithmetic_flags(fmt, path):
    for mode in sr.ROUNDINGS:
        for dtype in (np.float32, np.float64)[not fmt.fits_float32:]:
            for op, row in arith_rows(fmt):
                with np.errstate(over="ignore"):
                    ops = [np.full(300, v, dtype) for v in row]   # the vectorized path ...
                if not all(np.array_equal(o.astype(np.float64), np.full(300, v),
                                          equal_nan=True) for o, v in zip(ops, row)):
                    continue                                     # not a value of dtype
                for arrays in (ops, [o[::2] for o in ops]):       # ... and the general one
                    with np.errstate(all="ignore"):
                        want = getattr(sr.Context(fmt, mode, rng=3), op)(*arrays)
                    ctx = sr.Context(fmt, mode, rng=3)._set_isa(path)
                    kinds = raised(lambda: getattr(ctx, op)(*arrays))
                    expect = set()
                    for i in range(len(want)):
                        expect |= expected_kinds(op, [float(a[i]) for a in arrays],
                                                 float(want[i]))
                    assert kinds == expect, (f"{fmt.label} {mode} {np.dtype(dtype).name} "
                                             f"{op}{row}: raised {kinds}, expected {expect}")


@pytest.mark.parametrize("mode", sr.ROUNDINGS)
def test_reductions_raise_overflow_once_they_overflow(mode, path):
    ctx = sr.Context(sr.binary16, mode, rng=1)._set_isa(path)
    grows = np.full(40, 4096.0)
    with np.errstate(all="ignore"):
        total = sr.Context(sr.binary16, mode, rng=1).add.reduce(grows)
    kinds = raised(lambda: ctx.add.reduce(grows))
    assert kinds == ({"overflow"} if math.isinf(total) else set())
    assert raised(lambda: ctx.multiply.reduce(np.array([300.0, 300.0, 2.0]))) == \
        ({"overflow"} if mode not in ("toward_zero", "down", "odd") else set())
    # ... and inf * 0 afterwards is invalid, as in NumPy's own float16 products
    assert raised(lambda: ctx.multiply.reduce(np.array([300.0, 300.0, 0.0]))) == \
        ({"overflow", "invalid"} if mode not in ("toward_zero", "down", "odd") else set())
    # inf - inf in a sum is invalid; an infinite input alone raises nothing
    assert raised(lambda: ctx.add.reduce(np.array([1.0, np.inf, 2.0]))) == set()
    assert raised(lambda: ctx.add.reduce(np.array([np.inf, -np.inf]))) == {"invalid"}
    assert raised(lambda: ctx.add.reduce(np.full(1000, 1e-3))) == set()
