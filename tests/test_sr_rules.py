"""srround.hardware's vendor SR rules against slow references written from the
vendors' text, in integer arithmetic on float32 bit patterns (Python ints, one
element at a time):

- PTX ISA 8.7, cvt.rs: "rounded toward zero or away from zero based on the carry
  out of the integer addition of rbits to the truncated off (discarded) bits of
  mantissa"; .satfinite and .relu as the PTX text defines them.
- AMD CDNA4 V_CVT_SR_PK_BF16_F32: tmp = S0.b32 + S2[15:0]; result tmp[31:16].
"""
import math
import struct

import numpy as np
import pytest

import srround as sr
from conftest import assert_same_floats
from srround.hardware import add_and_truncate, nvidia_cvt_rs

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

# target: (precision p, emin, MAX_NORM, random bits, NaN under .satfinite -> +MAX_NORM)
TARGETS = {
    "binary16": (11, -14, 65504.0, 13, False),
    "bfloat16": (8, -126, float.fromhex("0x1.fep127"), 16, False),
    "e4m3": (4, -6, 448.0, 16, False),
    "e5m2": (3, -14, 57344.0, 16, False),
    "e2m3": (4, 0, 7.5, 16, True),
    "e3m2": (3, -2, 28.0, 16, True),
    "e2m1": (2, 0, 6.0, 8, True),
}


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def cvt_rs_reference(v, target, rbits, relu, satfinite):
    """One element of cvt.rs from the PTX text, on the float32 pattern of v."""
    p, emin, max_norm, width, nan_to_max = TARGETS[target]
    if math.isnan(v):
        res = max_norm if satfinite and nan_to_max else math.nan
    else:
        b = f32_bits(v)
        negative = b >> 31
        E, frac = (b >> 23) & 0xFF, b & 0x7FFFFF
        if E == 0xFF:                                  # infinity
            mag = max_norm if satfinite else math.inf
        else:
            m = frac | (1 << 23) if E else frac        # significand integer
            e = (E if E else 1) - 127 - 23             # v = m * 2**e
            q = max(e + 23 + (m.bit_length() - 24), emin) - (p - 1)  # target ulp exponent
            D = q - e                                  # discarded (truncated off) bits
            if D <= 0:
                mag = float(m) * 2.0**e
            else:
                kept, rem = m >> D, m & ((1 << D) - 1)
                # rbits meet the top `width` discarded bits; the carry out decides
                top = rem >> (D - width) if D >= width else rem << (width - D)
                carry = (top + rbits) >> width
                mag = float(kept + carry) * 2.0**q
            if mag > max_norm:
                mag = max_norm if satfinite else math.inf
        res = -mag if negative else mag
    if relu and not math.isnan(res) and (res < 0 or math.copysign(1, res) < 0):
        res = 0.0
    return res


def samples(target, n, rng):
    p, emin, max_norm, width, _ = TARGETS[target]
    e = rng.integers(emin - p - 3, int(math.log2(max_norm)) + 3, n)
    x = np.ldexp(1 + rng.random(n), e) * rng.choice([-1.0, 1.0], n)
    x = np.concatenate([x, [0.0, -0.0, np.inf, -np.inf, np.nan, max_norm, -max_norm,
                            max_norm * 1.01, 1e30, -1e-30, 2.0**-140]])
    return x.astype(np.float32)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("satfinite", [None, True, False])
def test_cvt_rs_matches_the_ptx_text(target, relu, satfinite):
    if satfinite is False and target not in ("binary16", "bfloat16"):
        with pytest.raises(ValueError, match="satfinite"):
            nvidia_cvt_rs(np.ones(1, np.float32), target, [0], satfinite=False)
        return
    rng = np.random.default_rng(len(target) + 7 * relu)
    x = samples(target, 2000, rng)
    width = TARGETS[target][3]
    R = rng.integers(0, 2**width, x.size)
    got = nvidia_cvt_rs(x, target, R, relu=relu, satfinite=satfinite)
    assert got.dtype == np.float32
    sat = satfinite if satfinite is not None else target not in ("binary16", "bfloat16")
    want = [cvt_rs_reference(float(v), target, int(w), relu, sat) for v, w in zip(x, R)]
    assert_same_floats(got, want, f"cvt.rs {target} relu={relu} satfinite={satfinite}")


def test_cvt_rs_e4m3_uses_16_of_20_discarded_bits():
    """The low 4 discarded bits never matter: 1 + k 2**-23 for k < 16 never rounds up
    even with rbits all ones (the carry needs 2**16 - 1 + F >= 2**16, F >= 1)."""
    x = (1 + np.arange(32) * 2.0**-23).astype(np.float32)
    y = nvidia_cvt_rs(x, "e4m3", np.full(32, 2**16 - 1))
    assert np.all(y[:16] == 1.0) and np.all(y[16:] == 1.125)


def test_cvt_rs_bad_input():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="float32"):
        nvidia_cvt_rs(np.ones(4), "e4m3", [0] * 4)
    with pytest.raises(ValueError, match="2\\*\\*13"):
        nvidia_cvt_rs(x, "binary16", [2**13] * 4)
    with pytest.raises(ValueError, match="cvt.rs has no"):
        nvidia_cvt_rs(x, "tf32", [0] * 4)
    with pytest.raises(TypeError):
        nvidia_cvt_rs(x, "e4m3", [0.5] * 4)
    with pytest.raises(ValueError):
        nvidia_cvt_rs(x, "e4m3", [-1] * 4)
    with pytest.raises(ValueError, match="broadcast"):
        nvidia_cvt_rs(x, "e4m3", [0] * 3)
    with pytest.raises(TypeError, match="relu"):
        nvidia_cvt_rs(x, "e4m3", [0] * 4, relu=1)


def att_reference(b, rbits, d):
    """V_CVT_SR_PK_BF16_F32's text for one element: tmp = S0 + S2[d-1:0] (32-bit
    wrap-around); keep tmp's top 32 - d bits."""
    tmp = (b + (rbits & ((1 << d) - 1))) & 0xFFFFFFFF
    return (tmp >> d) << d


@pytest.mark.parametrize("target, d", [("bfloat16", 16), ("tf32", 13)])
def test_add_and_truncate_matches_the_isa_text(target, d):
    rng = np.random.default_rng(d)
    bits = np.concatenate([rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32),
                           np.array([0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F7FFFFF,
                                     0x7F800000, 0xFF800000, 0x00000001, 0x80000000,
                                     0x7FC00000], np.uint32)])
    R = rng.integers(0, 2**32, bits.size, dtype=np.uint64)
    got = add_and_truncate(bits.view(np.float32), target, R).view(np.uint32)
    want = [att_reference(int(b), int(r), d) for b, r in zip(bits, R)]
    assert got.tolist() == want


def test_add_and_truncate_is_sr_except_on_nan():
    """Finite input (the top binade included, where both carry into inf): the same as
    sr.round with caller bits. NaN payloads: it makes infinities and zeros."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 100000, dtype=np.uint64).astype(np.uint32)
    bits = np.concatenate([bits, np.uint32(0x7F7F0000) + np.arange(2**16, dtype=np.uint32)])
    x = bits.view(np.float32)
    R = rng.integers(0, 2**16, x.size)
    got = add_and_truncate(x, sr.bfloat16, R)
    want = sr.round(x, sr.bfloat16, "stochastic", bits=16, random_bits=R)
    finite = ~np.isnan(x)
    assert np.array_equal(got[finite].view(np.uint32), want[finite].view(np.uint32))
    assert np.isinf(got[-2**15:]).any()               # the top binade overflows
    odd = add_and_truncate(np.array([0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF], np.uint32)
                           .view(np.float32), "bf16", [0, 1, 1])
    assert odd.view(np.uint32).tolist() == [0x7F800000, 0x80000000, 0x00000000]


def test_add_and_truncate_bad_input():
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="exponent range"):
        add_and_truncate(x, "binary16", [0] * 4)
    with pytest.raises(TypeError, match="float32"):
        add_and_truncate(np.ones(4), "bf16", [0] * 4)
    with pytest.raises(TypeError):
        add_and_truncate(x, "bf16", [0.5] * 4)
    with pytest.raises(ValueError, match="broadcast"):
        add_and_truncate(x, "bf16", [0] * 3)
