"""The preset formats, IEEE P3109 formats and lookup by name.

docs/formats.md tables every preset with its codes, specials and sources.
"""
from types import MappingProxyType

from srround._core import Format, _integer

binary16 = Format(11, 15, -14, name="binary16")
bfloat16 = Format(8, 127, -126, name="bfloat16")
tf32 = Format(11, 127, -126, name="tf32")
binary32 = Format(24, 127, -126, name="binary32")
binary64 = Format(53, 1023, -1022, name="binary64")
# OCP 8-bit (OFP8) and microscaling 6- and 4-bit element formats
e5m2 = Format(3, 15, -14, name="e5m2")
e4m3 = Format(4, 8, -6, overflow="nan", max=448.0, name="e4m3")
e3m2 = Format(3, 4, -2, overflow="saturate", name="e3m2")
e2m3 = Format(4, 2, 0, overflow="saturate", name="e2m3")
e2m1 = Format(2, 2, 0, overflow="saturate", name="e2m1")
# 8-bit formats without negative zero ("fnuz": finite, NaN = 0x80, unsigned zero), as
# AMD CDNA3 and Graphcore hardware and ml_dtypes define them: one more exponent bias
# than OCP's E4M3/E5M2, the top binade finite, NaN on overflow
e4m3fnuz = Format(4, 7, -7, overflow="nan", signed_zero=False, name="e4m3fnuz")
e5m2fnuz = Format(3, 15, -15, overflow="nan", signed_zero=False, name="e5m2fnuz")
e4m3b11fnuz = Format(4, 4, -10, overflow="nan", signed_zero=False, name="e4m3b11fnuz")
# ml_dtypes' float8_e3m4: IEEE-like (bias 3, infinities, NaNs), max 15.5
e3m4 = Format(5, 3, -2, name="e3m4")


def _p3109_parameters(k, p, signed, domain, saturate):
    """(precision, emax, emin, overflow, max) of the P3109 format K=k, P=p, checked."""
    k, p = _integer(k, "k"), _integer(p, "p")
    for what, v in (("signed", signed), ("saturate", saturate)):
        if not isinstance(v, bool):
            raise TypeError(f"{what} must be True or False, got {v!r}")
    if not isinstance(domain, str):
        raise TypeError(f"domain must be 'extended' or 'finite', got {domain!r}")
    if domain not in ("extended", "finite"):
        raise ValueError(f"domain must be 'extended' or 'finite', got {domain!r}")
    if not signed:
        raise ValueError("unsigned P3109 formats cannot be expressed: a Format is symmetric "
                         "about zero (unsigned ones have no negative values and their NaN "
                         "at the top code)")
    if not 2 <= k <= 64:
        raise ValueError(f"k must be in 2..64, got {k}")
    if not 1 <= p <= k - 1:
        raise ValueError(f"a signed P3109 format needs 1 <= p <= k - 1, got k={k}, p={p}")
    bias = 2 ** (k - p - 1)
    emin = 1 - bias
    emax = 2 ** (k - p) - 1 - bias          # the biased exponent field all ones
    if domain == "finite":
        mx = None                            # the top code is finite
    elif p == 1:
        emax -= 1                            # the top binade is one code: infinity
        mx = None
    else:                                    # the top code is infinity
        mx = float(2 - 2.0 ** (2 - p)) * 2.0 ** emax
    if emax < emin:
        raise ValueError(f"P3109 k={k}, p={p}, {domain} has no positive finite value")
    overflow = "saturate" if saturate else ("inf" if domain == "extended" else "nan")
    return p, emax, emin, overflow, mx


def p3109(k, p, *, signed=True, domain="extended", saturate=False):
    """The IEEE P3109 format of k bits and precision p.

    The rules of the P3109 interim report (and of gfloat's
    ``format_info_p3109``): exponent bias 2**(k - p - 1), subnormals, one NaN (the
    code 0x80 for k = 8) and no negative zero; the extended domain has +-inf at the
    top codes (0x7F, 0xFF), so its largest finite value is one code lower; the
    finite domain has no infinities. Without saturation, overflow follows IEEE 754
    per rounding mode (nearest overflows to inf, toward_zero stops at max; NaN in
    the finite domain, which has no inf), as gfloat does with ``sat=False``; with
    ``saturate=True`` it clamps to +-max (infinite input too, as gfloat's
    ``sat=True``). ``p3109(8, p)`` is the preset ``binary8p{p}``.

    Parameters
    ----------
    k : int
        Width in bits, 2..64.
    p : int
        Precision (significand bits, implicit bit included), 1..k-1.
    signed : bool, optional
        Only True: unsigned P3109 formats have no negative half, which a Format
        (symmetric about zero) cannot express.
    domain : {"extended", "finite"}, optional
        With or without infinities.
    saturate : bool, optional
        Overflow clamps to +-max.

    Returns
    -------
    Format

    Raises
    ------
    TypeError
        For arguments of the wrong type.
    ValueError
        For unsigned formats, k or p out of range, an unknown domain, or a format
        that has no positive finite value or leaves binary64's range.

    Examples
    --------
    >>> sr.p3109(8, 7) is sr.binary8p7
    True
    >>> f = sr.p3109(8, 4, domain="finite")
    >>> f.max, f.emin, f.emax, f.signed_zero
    (240.0, -7, 7, False)
    """
    params = _p3109_parameters(k, p, signed, domain, saturate)
    if k == 8 and domain == "extended" and not saturate:
        return PRESETS[f"binary8p{p}"]
    return _p3109_format(k, domain, saturate, *params)


def _p3109_format(k, domain, saturate, p, emax, emin, overflow, mx, name=None):
    if name is None:
        name = f"p3109_k{k}p{p}s{domain[0]}" + ("_sat" if saturate else "")
    return Format(p, emax, emin, overflow=overflow, max=mx, signed_zero=False, name=name)


# IEEE P3109 binary8p1 ... binary8p7 (signed, extended: +-inf and one NaN, no -0)
_BINARY8 = tuple(_p3109_format(8, "extended", False,
                               *_p3109_parameters(8, p, True, "extended", False),
                               name=f"binary8p{p}") for p in range(1, 8))
binary8p1, binary8p2, binary8p3, binary8p4, binary8p5, binary8p6, binary8p7 = _BINARY8

# read-only: the presets are shared by every user of the package
PRESETS = MappingProxyType({f.name: f for f in (binary16, bfloat16, tf32, binary32, binary64,
                                                e5m2, e4m3, e3m2, e2m3, e2m1, e4m3fnuz,
                                                e5m2fnuz, e4m3b11fnuz, e3m4) + _BINARY8})

_ALIASES = {
    "binary16": ("fp16", "float16", "half", "ieee_half"),
    "bfloat16": ("bf16", "brain_float16"),
    "tf32": ("tensorfloat32", "tensor_float32"),
    "binary32": ("fp32", "float32", "single"),
    "binary64": ("fp64", "float64", "double"),
    "e5m2": ("fp8_e5m2", "float8_e5m2", "ofp8_e5m2"),
    "e4m3": ("fp8_e4m3", "float8_e4m3", "e4m3fn", "fp8_e4m3fn", "float8_e4m3fn", "ofp8_e4m3"),
    "e3m2": ("fp6_e3m2", "float6_e3m2", "float6_e3m2fn", "e3m2fn"),
    "e2m3": ("fp6_e2m3", "float6_e2m3", "float6_e2m3fn", "e2m3fn"),
    "e2m1": ("fp4_e2m1", "float4_e2m1", "float4_e2m1fn", "e2m1fn", "fp4"),
    "e4m3fnuz": ("fp8_e4m3fnuz", "float8_e4m3fnuz"),
    "e5m2fnuz": ("fp8_e5m2fnuz", "float8_e5m2fnuz"),
    "e4m3b11fnuz": ("fp8_e4m3b11fnuz", "float8_e4m3b11fnuz", "e4m3b11"),
    "e3m4": ("fp8_e3m4", "float8_e3m4"),
    **{f"binary8p{p}": (f"p3109_k8p{p}se", f"k8p{p}se", f"p3109_binary8p{p}")
       for p in range(1, 8)},
}


def _key(name):
    """The lookup key of a name: case, surrounding blanks, '-' and '_' do not matter."""
    return name.strip().lower().replace("-", "").replace("_", "")


_LOOKUP = {_key(alias): name for name, aliases in _ALIASES.items()
           for alias in (name,) + aliases}
assert all(_LOOKUP[_key(a)] == n for n, al in _ALIASES.items() for a in al), \
    "two formats share an alias key"


def format(name):
    """The preset Format called ``name`` or one of its common aliases.

    Names and aliases ("bf16", "fp16", "half", "fp8_e4m3", ...) are matched ignoring
    case, surrounding blanks and every '-' and '_' (so "bf-16", "BF16" and
    "fp8-e4m3" work). The presets are listed in `srround.PRESETS`.

    Parameters
    ----------
    name : str or Format
        A preset's name or alias; a Format passes through unchanged.

    Returns
    -------
    Format

    Raises
    ------
    TypeError
        If name is neither a string nor a Format.
    ValueError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> sr.format("BF-16") is sr.bfloat16
    True
    >>> sr.format("fp8_e4m3")
    Format(4, 8, emin=-6, overflow='nan', max=448.0, name='e4m3')
    """
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise TypeError(f"format name must be a string, got {type(name).__name__}")
    key = _key(name)
    if key not in _LOOKUP:
        known = sorted({a for n, al in _ALIASES.items() for a in (n,) + al})
        raise ValueError(f"unknown format {name!r}; known: {', '.join(known)}")
    return PRESETS[_LOOKUP[key]]
