"""The preset formats and lookup by name."""
from types import MappingProxyType

from srround._core import Format

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

# read-only: the presets are shared by every user of the package
PRESETS = MappingProxyType({f.name: f for f in (binary16, bfloat16, tf32, binary32, binary64,
                                                e5m2, e4m3, e3m2, e2m3, e2m1)})

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
