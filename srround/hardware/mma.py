"""Matrix multiply-accumulate instructions of GPU matrix units, bit-exact.

NVIDIA tensor cores (``mma``, ``wgmma``, ``tcgen05.mma`` and their block-scaled
forms, Volta to Blackwell) and AMD matrix cores (``mfma``, CDNA1-3) do not compute
D = A B + C as IEEE arithmetic would: they add a group of products and the running
value in one fused step that aligns the terms to the largest exponent, keeps a fixed
number of fraction bits, and rounds once, often toward zero. The models here are
those of MMA-Sim (Xie, Wang, Yang & Yang, "MMA-Sim: Bit-Accurate Reference Model of
Tensor Cores and Matrix Cores", arXiv 2511.10909), validated there against the
hardware; the arithmetic of every kind is described in csrc/mma.h and
docs/hardware-arithmetic.md, and runs in srround's C core (csrc/mma.c).

Instruction names and strings are MMA-Sim's, which are PTX's and the AMD ISA's::

    op = MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    D = op(A, B, C)                    # A (m, 16), B (16, n), C (m, n)
    op = WGMMA("Hopper", "m64n256k32.f32.e4m3.e4m3")
    D = matmul(A, B, op, promote_every=128)      # any K, DeepSeek-V3's promotion
    op = MFMA("CDNA3", "f32_32x32x8_bf16")

Inputs are NumPy arrays (float16/32/64, integers, or ml_dtypes arrays) holding values
of the instruction's types; a value the type cannot hold is a ValueError naming it.
tf32/xf32 operands are float32 values whose low 13 bits the matrix unit ignores.
"""
from dataclasses import dataclass

import numpy as np

from srround import _mma
from srround._core import Context, Format, isa
from srround.formats import (bfloat16, binary16, binary32, binary64, e2m1, e2m3, e3m2, e4m3,
                             e5m2, tf32)
from srround.rounding import round as _round

# ---------------------------------------------------------------- element types


@dataclass(frozen=True)
class ElementType:
    """A type an instruction reads, as the matrix unit sees it.

    The instances are the values of `TYPES`, keyed by the names instruction strings
    use ("bf16", "e4m3", "fp8", "ue8m0", ...).

    Parameters
    ----------
    name : str
        The type's name in instruction strings.
    precision : int
        Significand bits, the implicit bit included.
    emin : int
        Exponent of the smallest normal number.
    format : Format or None
        The srround Format that checks values (None for the power-of-two scale
        type ue8m0).
    tf32 : bool
        float32 operands whose low 13 bits the unit ignores (tf32, xf32).
    signed_zero : bool
        False for the FNUZ types, which read -0 as +0.
    unsigned : bool
        Scale types: no negative values.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> hw.TYPES["e4m3"].bits
    (4, -6)
    """
    name: str
    precision: int
    emin: int
    format: Format = None
    tf32: bool = False              # float32 operands with the low 13 bits ignored
    signed_zero: bool = True        # FNUZ types have no -0: it reads as +0
    unsigned: bool = False          # scale types: no negative values

    @property
    def bits(self):
        """(precision, emin), as the C core's models take them."""
        return (self.precision, self.emin)


# AMD CDNA3's fp8 types are FNUZ: bias 8 (e4m3) and 16 (e5m2), no infinities, no
# negative zero, NaN = 0x80. These Formats hold exactly their finite values; NaN is
# allowed by overflow="nan"; -0 reads as +0.
FNUZ_E4M3 = Format(4, 7, -7, overflow="nan", name="e4m3fnuz")
FNUZ_E5M2 = Format(3, 15, -15, overflow="nan", name="e5m2fnuz")

TYPES = {t.name: t for t in (
    ElementType("f64", 53, -1022, binary64),
    ElementType("f32", 24, -126, binary32),
    ElementType("tf32", 11, -126, tf32, tf32=True),
    ElementType("xf32", 11, -126, tf32, tf32=True),     # AMD's name for tf32
    ElementType("f16", 11, -14, binary16),
    ElementType("bf16", 8, -126, bfloat16),
    ElementType("e4m3", 4, -6, e4m3),
    ElementType("e5m2", 3, -14, e5m2),
    ElementType("e3m2", 3, -2, e3m2),
    ElementType("e2m3", 4, 0, e2m3),
    ElementType("e2m1", 2, 0, e2m1),
    ElementType("fp8", 4, -7, FNUZ_E4M3, signed_zero=False),    # AMD: e4m3fnuz
    ElementType("bf8", 3, -15, FNUZ_E5M2, signed_zero=False),   # AMD: e5m2fnuz
    ElementType("ue8m0", 1, -127, None, unsigned=True),         # 2^-127 .. 2^127, NaN
    ElementType("ue4m3", 4, -6, e4m3, unsigned=True),
)}

_OUTPUT_DTYPES = {"f64": np.float64, "f32": np.float32, "f16": np.float16}


def _as_float64(x, what):
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr.astype(np.float64)
    if kind == "V":   # ml_dtypes (bfloat16, float8_*, float6_*, float4_*)
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{what} must hold real numbers (a float, integer or ml_dtypes array), "
                    f"got dtype {arr.dtype}")


def _first_bad(ok, arr, etype, what):
    if not ok.all():
        index = np.unravel_index(np.flatnonzero(~ok)[0], arr.shape)
        where = f"[{', '.join(map(str, index))}]" if arr.ndim else ""
        raise ValueError(f"{what}{where} = {arr[index].item()!r} is not a value of type "
                         f"{etype.name}")


def _representable(arr, etype):
    """Elementwise: arr holds a value of etype (NaN and inf only where it has them)."""
    if etype.format is None:   # ue8m0: 2^e, -127 <= e <= 127, or NaN
        mant, exp = np.frexp(np.where(np.isfinite(arr) & (arr > 0), arr, 1.0))
        return np.isnan(arr) | ((arr > 0) & (mant == 0.5) & (exp - 1 >= -127) & (exp - 1 <= 127))
    fmt = etype.format
    if fmt == binary64:   # every float64 is one
        return np.ones(arr.shape, bool)
    finite = np.isfinite(arr)
    rounded = _round(np.where(finite, arr, 0.0), fmt)
    ok = np.where(finite, rounded == arr,
                  np.where(np.isnan(arr), fmt.overflow != "saturate", fmt.overflow == "inf"))
    if etype.unsigned:
        ok &= ~(arr < 0)
    return ok


def read_values(x, etype, what="x"):
    """x as float64 values of an element type, read as the matrix unit reads them.

    tf32/xf32 operands are float32 values with the low 13 bits of their encoding
    cleared (as MMA-Sim models), and FNUZ types read -0 as +0.

    Parameters
    ----------
    x : array_like
        Real values (float, integer or ml_dtypes arrays).
    etype : ElementType or str
        The type, or its name (a key of `TYPES`).
    what : str, optional
        The name error messages give x.

    Returns
    -------
    numpy.ndarray
        float64.

    Raises
    ------
    TypeError
        For non-real x.
    ValueError
        Naming the first value the type cannot hold.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> hw.read_values(np.float32([1 + 2**-20]), "tf32")    # low bits ignored
    array([1.])
    >>> hw.read_values([0.1], "bf16")
    Traceback (most recent call last):
    ...
    ValueError: x[0] = 0.1 is not a value of type bf16
    """
    if isinstance(etype, str):
        etype = TYPES[etype]
    arr = _as_float64(x, what)
    if etype.tf32:
        _first_bad(_representable(arr, TYPES["f32"]), arr, TYPES["f32"], what)
        bits = arr.astype(np.float32).view(np.uint32) & np.uint32(0xFFFFE000)
        return bits.view(np.float32).astype(np.float64)
    _first_bad(_representable(arr, etype), arr, etype, what)
    if not etype.signed_zero:
        arr = np.where(arr == 0, 0.0, arr)
    return arr


def _to_output(values, dtype):
    """float64 values of the output type as an array of dtype; NaN results are the
    canonical quiet NaN (0x7FFFFFFF, 0x7FFF) that MMA-Sim returns."""
    out = values.astype(dtype)
    nan = np.isnan(out)
    if nan.any() and dtype != np.float64:
        view = out.view(np.uint32 if dtype == np.float32 else np.uint16)
        view[nan] = 0x7FFFFFFF if dtype == np.float32 else 0x7FFF
    return out


# ---------------------------------------------------------------- arithmetic


@dataclass(frozen=True)
class Arithmetic:
    """How an instruction adds (its ``arithmetic`` attribute).

    Parameters
    ----------
    kind : str
        The kind of fused step (csrc/mma.h, docs/hardware-arithmetic.md):
        "fdpa_truncated", "fdpa_scaled_groups", "fdpa_two_stage",
        "fdpa_two_stage_split", "fdpa_exact", "fma_chain" or "ftz_mul_add".
    L : int
        Products per step.
    rounding : str
        The rounding of each step's result into the output type: "rz_binary32"
        (toward zero), "rn_binary16" (to nearest even), "rz_e8m13" (toward zero to
        14 significant bits in binary32's range), "rn_binary32" or "binary64".
    F : int
        Fraction bits kept after aligning to the largest exponent.
    F2 : int
        Two-stage kinds: the second alignment keeps F2 + 1 bits.
    e_zero : int
        The exponent zero terms take part in the alignment with.
    group : int
        Products summed exactly per block scale, or added pairwise by CDNA2's
        flush-to-zero units.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3").arithmetic
    Arithmetic(kind='fdpa_truncated', L=32, rounding='rz_e8m13', F=13, F2=0, e_zero=-133, group=0)
    """
    kind: str
    L: int
    rounding: str
    F: int = 0
    F2: int = 0
    e_zero: int = 0
    group: int = 0


# NVIDIA: bits kept after alignment, bytes of A per fused step, and the exponent of
# zero terms (binary16 and binary32 outputs), per architecture (MMA-Sim, Sec. 4-5).
_NV_F = {"Volta": 23, "Turing": 24, "Ampere": 24, "Ada Lovelace": 24, "Hopper": 25,
         "Blackwell": 25, "RTX Blackwell": 25}
_NV_STEP_BYTES = {"Volta": 8, "Turing": 16, "Ampere": 16, "Ada Lovelace": 16, "Hopper": 32,
                  "Blackwell": 32, "RTX Blackwell": 32}
_NV_E_ZERO = {"Volta": (-19, -131), "Turing": (-20, -132), "Ampere": (-20, -132),
              "Ada Lovelace": (-20, -132), "Hopper": (-21, -133), "Blackwell": (-21, -133),
              "RTX Blackwell": (-21, -133)}
_BYTES = {"f64": 8, "f32": 4, "tf32": 4, "xf32": 4, "f16": 2, "bf16": 2}   # others: 1
_FP8 = ("e4m3", "e5m2")
_F8F6F4 = ("e5m2", "e4m3", "e3m2", "e2m3", "e2m1")


def _nv_truncated(arch, a_type, d_type, k, *, F=None, fp8_e8m13=False):
    """The fused step of NVIDIA's architecture arch for these types; F and e8m13
    results for the fp8 exceptions."""
    L = min(k, _NV_STEP_BYTES[arch] // _BYTES.get(a_type, 1))
    fp16 = d_type == "f16"
    rounding = "rn_binary16" if fp16 else ("rz_e8m13" if fp8_e8m13 else "rz_binary32")
    return Arithmetic("fdpa_truncated", L, rounding, F=_NV_F[arch] if F is None else F,
                      e_zero=_NV_E_ZERO[arch][0 if fp16 else 1])


def _fma_chain(d_type):
    return Arithmetic("fma_chain", 1, "binary64" if d_type == "f64" else "rn_binary32")


# ---------------------------------------------------------------- instructions


class Instruction:
    """One matrix instruction: ``D = op(A, B, C)`` with A (m, k), B (k, n), C (m, n).

    The base class of `MMA`, `MMABlockScale`, `WGMMA`, `TCGen05MMA`,
    `TCGen05MMABlockScale` and `MFMA`. Calling an instruction,
    ``op(A, B, C=None, scale_a=None, scale_b=None)``, computes D = A B + C for A of
    the instruction's k columns (C None: zeros; the scales for block-scaled
    instructions, scale_a (m, k / block) and scale_b (k / block, n)) and returns D
    in the output type's dtype; `matmul` takes any K. Instructions compare equal by
    architecture and instruction string, hash and pickle.

    Attributes
    ----------
    arch : str
        The architecture ("Hopper", "CDNA3", ...).
    shape_and_type, suffix : str
        The instruction string (NVIDIA instructions: shape_and_type; AMD: suffix).
    m, n, k : int
        The hardware tile; m and n of a call may be any size, since every element
        of D is its own dot product, but A must have the instruction's k columns.
    a_type, b_type, c_type, d_type : str
        Type names, keys of `TYPES`.
    arithmetic : Arithmetic
        How the instruction adds.
    kind : str or None
        The PTX ``kind::`` of the instruction, where it has one.
    scaled : bool
        Whether the instruction is block-scaled.
    block : int
        Elements per scale block (block-scaled instructions; else 0).
    s_type : str or None
        The scale type (block-scaled instructions).

    Examples
    --------
    16 products of 2**-26 added to 1: binary32 arithmetic gives 1 + 2**-22; a Hopper
    tensor core aligns the products to 1 and keeps 25 fraction bits, so they vanish.

    >>> from srround import hardware as hw
    >>> op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
    >>> a, b = np.full((1, 16), 2.0**-13), np.full((16, 1), 2.0**-13)
    >>> op(a, b, np.ones((1, 1)))
    array([[1.]], dtype=float32)
    >>> isinstance(op, hw.Instruction), op.k, op.output_dtype
    (True, 16, dtype('float32'))
    """
    scaled = False
    block = 0
    s_type = None

    def _setup(self, arch, name, m, n, k, a_type, b_type, c_type, d_type, arithmetic):
        self.arch, self.m, self.n, self.k = arch, m, n, k
        self.a_type, self.b_type, self.c_type, self.d_type = a_type, b_type, c_type, d_type
        self.arithmetic = arithmetic
        ar = arithmetic
        scale = TYPES[self.s_type].bits if self.scaled else (1, 0)
        # FTZ units flush C once per instruction: a step is the whole instruction
        L = k if ar.kind == "ftz_mul_add" else ar.L
        self._model = _mma.Model(
            ar.kind, TYPES[a_type].bits, TYPES[b_type].bits, TYPES[c_type].bits,
            ar.rounding, k=k, L=L, F=ar.F, F2=ar.F2, e_zero=ar.e_zero,
            group=ar.group, block=self.block, scale=scale)
        self._L = L

    @property
    def output_dtype(self):
        """The NumPy dtype of D (float16, float32 or float64)."""
        return np.dtype(_OUTPUT_DTYPES[self.d_type])

    def __repr__(self):
        return f"{type(self).__name__}({self.arch!r}, {self._name!r})"

    def __eq__(self, other):
        return type(self) is type(other) and (self.arch, self._name) == (other.arch, other._name)

    def __hash__(self):
        return hash((type(self).__name__, self.arch, self._name))

    def __reduce__(self):
        return (type(self), (self.arch, self._name))

    def __call__(self, A, B, C=None, scale_a=None, scale_b=None):
        """D = A B + C for A (m, k) and B (k, n), k the instruction's; C (m, n) or None
        for zeros; scale_a (m, k / block) and scale_b (k / block, n) for block-scaled
        instructions. Returns D in the output type's dtype."""
        a_shape, b_shape = np.shape(A), np.shape(B)
        if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != self.k or b_shape[0] != self.k:
            raise ValueError(f"{self!r} multiplies A (m, {self.k}) by B ({self.k}, n); got "
                             f"A {a_shape} and B {b_shape} (use srround.hardware.matmul "
                             "for other k)")
        return matmul(A, B, self, C=C, scale_a=scale_a, scale_b=scale_b)

    def dot(self, a, b, c=None, scale_a=None, scale_b=None):
        """Independent dot products, as MMA-Sim's ``dpa``.

        Each element of D is the chain of fused steps over its row pair, starting
        from its c (the scalar path of the C core).

        Parameters
        ----------
        a, b : array_like
            Shape (..., K), K a positive multiple of the products per step, values
            of the A and B types.
        c : array_like, optional
            Shape (...), values of the C type (None: zeros).
        scale_a, scale_b : array_like, optional
            Block-scaled instructions: shape (..., K / block), of the scale type.

        Returns
        -------
        numpy.ndarray
            D of shape (...), in the output dtype.

        Raises
        ------
        TypeError
            For non-real input, or missing scales of a block-scaled instruction.
        ValueError
            For values the types cannot hold, or shapes that do not fit.

        Examples
        --------
        >>> from srround import hardware as hw
        >>> op = hw.MMA("Hopper", "m16n8k16.f32.bf16.bf16.f32")
        >>> op.dot(np.ones((2, 32)), np.full((2, 32), 0.5))
        array([16., 16.], dtype=float32)
        """
        a = read_values(a, self.a_type, "a")
        b = read_values(b, self.b_type, "b")
        if a.ndim < 1 or a.shape != b.shape:
            raise ValueError(f"a and b must have the same shape (..., K); got {a.shape} "
                             f"and {b.shape}")
        K = a.shape[-1]
        if K == 0 or K % self._L:
            raise ValueError(f"K = {K} must be a positive multiple of {self._L} (products "
                             f"per step of {self!r})")
        lead = a.shape[:-1]
        c = np.zeros(lead) if c is None else read_values(c, self.c_type, "c")
        if c.shape != lead:
            raise ValueError(f"c must have shape {lead}, got {c.shape}")
        sa = sb = None
        if self.scaled:
            if scale_a is None or scale_b is None:
                raise TypeError(f"{self!r} is block-scaled: pass scale_a and scale_b")
            nb = -(-K // self.block)
            sa = read_values(scale_a, self.s_type, "scale_a")
            sb = read_values(scale_b, self.s_type, "scale_b")
            for name, s in (("scale_a", sa), ("scale_b", sb)):
                if s.shape != lead + (nb,):
                    raise ValueError(f"{name} must have shape {lead + (nb,)}, got {s.shape}")
            sa, sb = sa.reshape(-1, nb), sb.reshape(-1, nb)
        d = self._model.dots(a.reshape(-1, K), b.reshape(-1, K), c.reshape(-1), sa, sb)
        return _to_output(d, self.output_dtype).reshape(lead)


def _check_choice(value, choices, what, cls, arch=None):
    if value not in choices:
        shown = sorted(choices)
        more = f" ({len(shown)} in all)" if len(shown) > 12 else ""
        raise ValueError(f"unsupported {what} {value!r} for {cls}"
                         f"{f' on {arch}' if arch else ''}; supported: "
                         f"{', '.join(map(str, shown[:12]))}{' ...' if more else ''}{more}")


def _mnk(shape):
    """'m16n8k16' -> (16, 8, 16)"""
    m, rest = shape[1:].split("n")
    n, k = rest.split("k")
    return int(m), int(n), int(k)


# ---- NVIDIA mma (warp-level), by the SM version that introduced each form
_MMA_SM70 = [f"m8n8k4.{d}.f16.f16.{c}" for d, c in (("f32", "f32"), ("f32", "f16"), ("f16", "f16"))]
_MMA_SM75 = ["m16n8k8.f32.f16.f16.f32", "m16n8k8.f16.f16.f16.f16"]
_MMA_SM80 = ["m8n8k4.f64.f64.f64.f64", "m16n8k8.f32.tf32.tf32.f32", "m16n8k4.f32.tf32.tf32.f32",
             "m16n8k16.f32.f16.f16.f32", "m16n8k16.f16.f16.f16.f16",
             "m16n8k16.f32.bf16.bf16.f32", "m16n8k8.f32.bf16.bf16.f32"]
_MMA_SM89 = [f"m16n8k{k}.{d}.{a}.{b}.{d}" for k in (32, 16) for d in ("f32", "f16")
             for a in ("e5m2", "e4m3") for b in ("e5m2", "e4m3")]
_MMA_SM90 = [f"m16n8k{k}.f64.f64.f64.f64" for k in (16, 8, 4)]
_MMA_SM120 = [f"m16n8k32.kind::f8f6f4.{d}.{a}.{b}.{d}" for d in ("f32", "f16")
              for a in _F8F6F4 for b in _F8F6F4]
MMA_SHAPES = {
    "Volta": _MMA_SM70,
    "Turing": _MMA_SM75 + _MMA_SM70,
    "Ampere": _MMA_SM80 + _MMA_SM75,
    "Ada Lovelace": _MMA_SM89 + _MMA_SM80 + _MMA_SM75,
    "Hopper": _MMA_SM90 + _MMA_SM80 + _MMA_SM75,
    "Blackwell": _MMA_SM80 + _MMA_SM75,
    "RTX Blackwell": _MMA_SM120 + _MMA_SM89 + _MMA_SM80 + _MMA_SM75,
}


class MMA(Instruction):
    """PTX ``mma.sync.aligned.<shape_and_type>``: a warp-level NVIDIA MMA.

    Parameters
    ----------
    arch : str
        The architecture: "Volta", "Turing", "Ampere", "Ada Lovelace", "Hopper",
        "Blackwell" or "RTX Blackwell" (`MMA_SHAPES` lists what each has).
    shape_and_type : str
        Shape, D, A, B and C types, as PTX writes them:
        "m16n8k16.f32.bf16.bf16.f32".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> op = hw.MMA("Ampere", "m16n8k16.f32.bf16.bf16.f32")
    >>> op(np.ones((2, 16)), np.full((16, 3), 0.5))
    array([[8., 8., 8.],
           [8., 8., 8.]], dtype=float32)
    """

    def __init__(self, arch, shape_and_type):
        _check_choice(arch, MMA_SHAPES, "architecture", "mma")
        _check_choice(shape_and_type, MMA_SHAPES[arch], "shape_and_type", "mma", arch)
        self._name = self.shape_and_type = shape_and_type
        parts = shape_and_type.split(".")
        self.kind = parts.pop(1).removeprefix("kind::") if len(parts) == 6 else None
        shape, d, a, b, c = parts
        m, n, k = _mnk(shape)
        if a == "f64":
            ar = _fma_chain("f64")
        elif arch == "Turing" and shape_and_type in _MMA_SM70:
            # Turing runs Volta's m8n8k4 with Volta's arithmetic
            ar = _nv_truncated("Volta", a, d, k)
        elif arch == "Ada Lovelace" and a in _FP8:
            # fp8 on Ada: 13 fraction bits, an e8m13 result for f32 output
            ar = _nv_truncated(arch, a, d, k, F=13, fp8_e8m13=True)
        else:
            ar = _nv_truncated(arch, a, d, k)
        self._setup(arch, shape_and_type, m, n, k, a, b, c, d, ar)


class MMABlockScale(Instruction):
    """PTX ``mma.sync.aligned.<shape>.kind::mxf8f6f4|mxf4|mxf4nvf4.block_scale``.

    RTX Blackwell's block-scaled MMA, called as ``D = op(A, B, C, scale_a, scale_b)``
    with scale_a of shape (m, k / block) and scale_b (k / block, n) (MMA-Sim's alpha
    and beta).

    Parameters
    ----------
    arch : str
        The architecture: "RTX Blackwell".
    shape_and_type : str
        As PTX writes it:
        "m16n8k32.kind::mxf8f6f4.block32.f32.e4m3.e4m3.f32.ue8m0".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> op = hw.MMABlockScale(
    ...     "RTX Blackwell", "m16n8k32.kind::mxf8f6f4.block32.f32.e4m3.e4m3.f32.ue8m0")
    >>> op(np.ones((1, 32)), np.ones((32, 1)), None, np.full((1, 1), 2.0), np.full((1, 1), 0.5))
    array([[32.]], dtype=float32)
    """
    scaled = True

    def __init__(self, arch, shape_and_type):
        shapes = MMA_BLOCK_SCALE_SHAPES
        _check_choice(arch, shapes, "architecture", "block-scaled mma")
        _check_choice(shape_and_type, shapes[arch], "shape_and_type", "block-scaled mma", arch)
        self._name = self.shape_and_type = shape_and_type
        shape, kind, block, d, a, b, c, s = shape_and_type.split(".")
        _setup_block_scaled(self, arch, shape_and_type, shape, kind, block, d, a, b, c, s)


def _block_scale_shapes(which):
    """Block-scaled shapes of mma (RTX Blackwell) or tcgen05.mma (Blackwell)."""
    if which == "mma":
        tiles, tail = ["m16n8"], ".f32"
    else:
        tiles, tail = [f"m128n{n}" for n in range(8, 257, 8)], ""
    out = []
    for t in tiles:
        out += [f"{t}k32.kind::mxf8f6f4.block32.f32.{a}.{b}{tail}.ue8m0"
                for a in _F8F6F4 for b in _F8F6F4]
        out += [f"{t}k64.kind::mxf4.block32.f32.e2m1.e2m1{tail}.ue8m0",
                f"{t}k64.kind::mxf4nvf4.block32.f32.e2m1.e2m1{tail}.ue8m0",
                f"{t}k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1{tail}.ue8m0"]
        out.append(f"{t}k64.kind::mxf4nvf4.block16.f32.e2m1.e2m1{tail}.ue4m3")
    return out


MMA_BLOCK_SCALE_SHAPES = {"RTX Blackwell": _block_scale_shapes("mma")}


def _setup_block_scaled(op, arch, name, shape, kind, block, d, a, b, c, s):
    m, n, k = _mnk(shape)
    op.kind = kind.removeprefix("kind::")
    op.block = int(block.removeprefix("block"))
    op.s_type = s
    if k == 64:   # mxf4 / mxf4nvf4: exact sums of 16 products, each scaled
        ar = Arithmetic("fdpa_scaled_groups", 64, "rz_binary32", F=35, e_zero=-139, group=16)
    else:         # mxf8f6f4: products times their power-of-two scales, F = 25
        ar = Arithmetic("fdpa_truncated", 32, "rz_binary32", F=25, e_zero=-133)
    op._setup(arch, name, m, n, k, a, b, c, d, ar)


# ---- NVIDIA wgmma (Hopper, warpgroup-level)
_N_RANGE = range(8, 257, 8)
WGMMA_SHAPES = {"Hopper": (
    [f"m64n{n}k8.f32.tf32.tf32" for n in _N_RANGE]
    + [f"m64n{n}k16.f32.f16.f16" for n in _N_RANGE]
    + [f"m64n{n}k16.f16.f16.f16" for n in _N_RANGE]
    + [f"m64n{n}k16.f32.bf16.bf16" for n in _N_RANGE]
    + [f"m64n{n}k32.{d}.{a}.{b}" for n in _N_RANGE for d in ("f32", "f16")
       for a in ("e5m2", "e4m3") for b in ("e5m2", "e4m3")])}


class WGMMA(Instruction):
    """PTX ``wgmma.mma_async.sync.aligned.<shape>.<dtype>.<atype>.<btype>`` (Hopper).

    C has D's type. fp8 inputs keep F = 13 fraction bits and give an e8m13 result
    for f32 output.

    Parameters
    ----------
    arch : str
        The architecture: "Hopper".
    shape_and_type : str
        Shape, D, A and B types: "m64n256k32.f32.e4m3.e4m3".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.
    matmul : GEMMs of any K, with DeepSeek-V3's promotion.

    Examples
    --------
    31 products of 2**-9 added to 1 (exactly 1.060546875): fp8 keeps 13 fraction
    bits, enough here.

    >>> from srround import hardware as hw
    >>> op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    >>> op(np.array([[1.0] + [2.0**-9] * 31]), np.ones((32, 1)))
    array([[1.0605469]], dtype=float32)
    """

    def __init__(self, arch, shape_and_type):
        _check_choice(arch, WGMMA_SHAPES, "architecture", "wgmma")
        _check_choice(shape_and_type, set(WGMMA_SHAPES[arch]), "shape_and_type", "wgmma", arch)
        self._name = self.shape_and_type = shape_and_type
        shape, d, a, b = shape_and_type.split(".")
        m, n, k = _mnk(shape)
        if a in _FP8:
            ar = _nv_truncated(arch, a, d, k, F=13, fp8_e8m13=True)
        else:
            ar = _nv_truncated(arch, a, d, k)
        self._setup(arch, shape_and_type, m, n, k, a, b, d, d, ar)


# ---- NVIDIA tcgen05.mma (Blackwell)
_TC_TILES = [f"m{m}n{n}" for m in (64, 128) for n in _N_RANGE]
TCGEN05_SHAPES = {"Blackwell": (
    [f"{t}k8.kind::tf32.f32.tf32.tf32" for t in _TC_TILES]
    + [f"{t}k16.kind::f16.f32.{ab}.{ab}" for t in _TC_TILES for ab in ("f16", "bf16")]
    + [f"{t}k16.kind::f16.f16.f16.f16" for t in _TC_TILES]
    + [f"{t}k32.kind::f8f6f4.{d}.{a}.{b}" for t in _TC_TILES for d in ("f32", "f16")
       for a in _F8F6F4 for b in _F8F6F4])}


class TCGen05MMA(Instruction):
    """PTX ``tcgen05.mma.cta_group::1.kind::<kind>`` (Blackwell).

    Written as MMA-Sim writes it (shape, kind, D, A, B types; C has D's type).

    Parameters
    ----------
    arch : str
        The architecture: "Blackwell".
    shape_and_type : str
        For example "m128n256k16.kind::f16.f32.bf16.bf16".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> op = hw.TCGen05MMA("Blackwell", "m128n256k16.kind::f16.f32.bf16.bf16")
    >>> op.m, op.n, op.k, op.kind
    (128, 256, 16, 'f16')
    """

    def __init__(self, arch, shape_and_type):
        _check_choice(arch, TCGEN05_SHAPES, "architecture", "tcgen05.mma")
        _check_choice(shape_and_type, set(TCGEN05_SHAPES[arch]), "shape_and_type",
                      "tcgen05.mma", arch)
        self._name = self.shape_and_type = shape_and_type
        shape, kind, d, a, b = shape_and_type.split(".")
        self.kind = kind.removeprefix("kind::")
        m, n, k = _mnk(shape)
        self._setup(arch, shape_and_type, m, n, k, a, b, d, d, _nv_truncated(arch, a, d, k))


TCGEN05_BLOCK_SCALE_SHAPES = {"Blackwell": _block_scale_shapes("tcgen05")}


class TCGen05MMABlockScale(Instruction):
    """PTX ``tcgen05.mma.cta_group::1.kind::mxf8f6f4|mxf4|mxf4nvf4.block_scale``.

    Blackwell's block-scaled tcgen05.mma: ``D = op(A, B, C, scale_a, scale_b)`` as
    for `MMABlockScale`.

    Parameters
    ----------
    arch : str
        The architecture: "Blackwell".
    shape_and_type : str
        For example
        "m128n8k32.kind::mxf8f6f4.block32.f32.e4m3.e4m3.ue8m0".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.

    Examples
    --------
    >>> from srround import hardware as hw
    >>> op = hw.TCGen05MMABlockScale(
    ...     "Blackwell", "m128n8k32.kind::mxf8f6f4.block32.f32.e4m3.e4m3.ue8m0")
    >>> op(np.ones((1, 32)), np.ones((32, 1)), None, np.full((1, 1), 4.0), np.full((1, 1), 0.5))
    array([[64.]], dtype=float32)
    """
    scaled = True

    def __init__(self, arch, shape_and_type):
        _check_choice(arch, TCGEN05_BLOCK_SCALE_SHAPES, "architecture",
                      "block-scaled tcgen05.mma")
        _check_choice(shape_and_type, set(TCGEN05_BLOCK_SCALE_SHAPES[arch]),
                      "shape_and_type", "block-scaled tcgen05.mma", arch)
        self._name = self.shape_and_type = shape_and_type
        shape, kind, block, d, a, b, s = shape_and_type.split(".")
        _setup_block_scaled(self, arch, shape_and_type, shape, kind, block, d, a, b, d, s)


# ---- AMD mfma (CDNA1-3): v_mfma_<suffix>
_CDNA1 = ["f32_32x32x2f32", "f32_32x32x1f32", "f32_16x16x4f32", "f32_16x16x1f32",
          "f32_4x4x1f32", "f32_32x32x8f16", "f32_32x32x4f16", "f32_16x16x16f16",
          "f32_16x16x4f16", "f32_4x4x4f16", "f32_32x32x4bf16", "f32_32x32x2bf16",
          "f32_16x16x8bf16", "f32_16x16x2bf16", "f32_4x4x2bf16"]
_CDNA2 = ["f64_16x16x4f64", "f64_4x4x4f64", "f32_32x32x8bf16_1k", "f32_32x32x4bf16_1k",
          "f32_16x16x16bf16_1k", "f32_16x16x4bf16_1k", "f32_4x4x4bf16_1k"]
_CDNA3 = (["f64_16x16x4_f64", "f64_4x4x4_4b_f64", "f32_32x32x1_2b_f32", "f32_16x16x1_4b_f32",
           "f32_4x4x1_16b_f32", "f32_32x32x2_f32", "f32_16x16x4_f32", "f32_16x16x8_xf32",
           "f32_32x32x4_xf32"]
          + [f"f32_{s}_{t}" for t in ("f16", "bf16")
             for s in ("32x32x4_2b", "16x16x4_4b", "4x4x4_16b", "32x32x8", "16x16x16")]
          + [f"f32_{s}_{a}_{b}" for s in ("16x16x32", "32x32x16")
             for a in ("bf8", "fp8") for b in ("bf8", "fp8")])
MFMA_SUFFIXES = {"CDNA1": _CDNA1, "CDNA2": _CDNA2 + _CDNA1, "CDNA3": _CDNA3}


def _parse_mfma(suffix):
    """(d_type, (m, n, k), a_type, b_type) of an mfma suffix."""
    parts = suffix.split("_")
    d = parts[0]
    if len(parts) == 2 or (len(parts) == 3 and parts[2] == "1k"):   # CDNA1/2: 32x32x8f16
        shape_type = parts[1]
        t = "bf16" if shape_type.endswith("bf16") else shape_type[-3:]
        shape, a, b = shape_type[: -len(t)], t, t
    elif len(parts) == 3:                                   # f32_32x32x2_f32
        shape, a, b = parts[1], parts[2], parts[2]
    elif parts[-1] in ("fp8", "bf8"):                       # f32_16x16x32_fp8_bf8
        shape, a, b = parts[1], parts[2], parts[3]
    else:                                                   # f32_32x32x1_2b_f32
        shape, a, b = parts[1], parts[3], parts[3]
    return d, tuple(int(v) for v in shape.split("x")), a, b


class MFMA(Instruction):
    """AMD ``v_mfma_<suffix>`` (CDNA1-3).

    fp8/bf8 are CDNA3's FNUZ types (see `FNUZ_E4M3`, `FNUZ_E5M2`); xf32 is tf32.

    Parameters
    ----------
    arch : str
        The architecture: "CDNA1", "CDNA2" or "CDNA3" (`MFMA_SUFFIXES` lists what each has).
    suffix : str
        The instruction name after ``v_mfma_``: "f32_32x32x8_bf16".

    Raises
    ------
    ValueError
        For an architecture or instruction string srround does not model (the
        message lists the supported ones).

    See Also
    --------
    Instruction : calling an instruction, and its attributes.

    Examples
    --------
    8 products of 2**-26 added to 1: CDNA3 keeps them (1 + 2**-23).

    >>> from srround import hardware as hw
    >>> op = hw.MFMA("CDNA3", "f32_32x32x8_bf16")
    >>> op(np.full((1, 8), 2.0**-13), np.full((8, 1), 2.0**-13), np.ones((1, 1)))
    array([[1.0000001]], dtype=float32)
    """

    def __init__(self, arch, suffix):
        _check_choice(arch, MFMA_SUFFIXES, "architecture", "mfma")
        _check_choice(suffix, MFMA_SUFFIXES[arch], "suffix", "mfma", arch)
        self._name = self.suffix = suffix
        d, (m, n, k), a, b = _parse_mfma(suffix)
        if a in ("f64", "f32"):
            ar = _fma_chain(d)
        elif a in ("fp8", "bf8"):   # even and odd products apart, floor, then RN
            ar = Arithmetic("fdpa_two_stage_split", min(k, 16), "rn_binary32", F=24, F2=31)
        elif arch == "CDNA1":       # exact sums of 4 (f16) or 2 (bf16) products, RN
            ar = Arithmetic("fdpa_exact", min(k, 4 if a == "f16" else 2), "rn_binary32")
        elif arch == "CDNA2":       # flush-to-zero binary32 products, added in 2s or 4s
            pairs = 2 if a == "bf16" and not suffix.endswith("_1k") else 4
            ar = Arithmetic("ftz_mul_add", k, "rn_binary32", group=pairs)
        else:                       # CDNA3 f16, bf16, xf32: two-stage alignment
            ar = Arithmetic("fdpa_two_stage", min(k, 4 if a == "xf32" else 8), "rn_binary32",
                            F=24, F2=31)
        self._setup(arch, suffix, m, n, k, a, b, d, d, ar)


# ---------------------------------------------------------------- GEMMs


def matmul(A, B, instruction, *, C=None, promote_every=None, accumulate=None,
           scale_a=None, scale_b=None):
    """D = A B + C for any K through the instruction's arithmetic, as a GPU GEMM runs it.

    Parameters
    ----------
    A, B : array_like
        (M, K) and (K, N), values of the instruction's A and B types.
    instruction : Instruction
        The matrix instruction that runs every k-tile.
    C : array_like, optional
        (M, N), values of the C type (None: zeros).
    promote_every : int, optional
        A multiple of the instruction's k: promote the partial sums to a binary32
        accumulator every that many values of K (see Notes).
    accumulate : Context, optional
        The promotion accumulator's format and rounding instead of binary32 RN.
    scale_a, scale_b : array_like, optional
        Block-scaled instructions: (M, ceil(K / block)) and (ceil(K / block), N),
        of the instruction's scale type.

    Returns
    -------
    numpy.ndarray
        D, (M, N): the instruction's output dtype; float32 with promotion (or
        float64 for an accumulate format float32 cannot hold).

    Raises
    ------
    TypeError
        For an instruction that is not one, an accumulate that is not a Context, a
        non-integer promote_every, missing or unexpected scales.
    ValueError
        For values the types cannot hold, shapes that do not fit, a promote_every
        that is not a positive multiple of k, or tiles that cannot chain (C and D
        types differ and K > k).

    Notes
    -----
    K is zero-padded to a multiple of the instruction's k,
    as a kernel predicates its last tile. The accumulator goes through C from one
    k-tile to the next in the order of a CUTLASS-style mainloop: for every output
    element, D_0 = C, D_t = op(A[:, tile t], B[tile t, :], D_{t-1}), tiles in
    increasing k (no split-K); within an instruction the fused steps of L products
    also run in increasing k. The result has the instruction's output dtype.

    promote_every=N (a multiple of the instruction's k): every N values of K the matrix
    unit starts again from zero and its result is added into a binary32 accumulator,
    rounded to nearest, that starts at C (read as binary32): the promotion to CUDA
    cores of DeepSeek-V3 (arXiv 2412.19437, N = 128). The result is float32.

    accumulate=ctx (an srround Context): the promotion accumulator is ctx's format and
    rounding instead (for instance binary32 or bfloat16 with stochastic rounding):
    a what-if study, not what any hardware does. promote_every defaults to the
    instruction's k then; C is read in ctx's format; one random word is drawn per
    element and promotion, block by block, each block's M x N sums in row-major order.
    The result is float32 when ctx's format fits in float32, else float64.

    Examples
    --------
    fp8 products of 4096 terms on Hopper, without and with DeepSeek-V3's promotion
    every 128 terms:

    >>> from srround import hardware as hw
    >>> rng = np.random.default_rng(0)
    >>> A = sr.round(rng.standard_normal((4, 4096)), sr.e4m3)
    >>> B = sr.round(rng.standard_normal((4096, 4)), sr.e4m3)
    >>> op = hw.WGMMA("Hopper", "m64n8k32.f32.e4m3.e4m3")
    >>> exact = A @ B          # exact here: few bits, and float64 holds every sum
    >>> def error(D):
    ...     return float(np.max(np.abs(D - exact) / np.abs(exact)))
    >>> error(hw.matmul(A, B, op)) > 5 * error(hw.matmul(A, B, op, promote_every=128))
    True
    """
    if not isinstance(instruction, Instruction):
        raise TypeError("instruction must be an MMA, MMABlockScale, WGMMA, TCGen05MMA, "
                        f"TCGen05MMABlockScale or MFMA, got {type(instruction).__name__}")
    op = instruction
    A = read_values(A, op.a_type, "A")
    B = read_values(B, op.b_type, "B")
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"A (M, K) and B (K, N) must be matrices with matching K; got "
                         f"{A.shape} and {B.shape}")
    (M, K), N = A.shape, B.shape[1]
    if accumulate is not None and not isinstance(accumulate, Context):
        raise TypeError(f"accumulate must be an srround Context, got "
                        f"{type(accumulate).__name__}")
    if promote_every is not None:
        if isinstance(promote_every, bool) or not isinstance(promote_every, (int, np.integer)):
            raise TypeError(f"promote_every must be an int, got {type(promote_every).__name__}")
        if promote_every <= 0 or promote_every % op.k:
            raise ValueError(f"promote_every must be a positive multiple of the "
                             f"instruction's k = {op.k}, got {promote_every}")
    elif accumulate is not None:
        promote_every = op.k
    promote_every = int(promote_every or 0)

    if promote_every and accumulate is not None:
        acc_format = accumulate.format
        out_dtype = np.float32 if acc_format.fits_float32 else np.float64
        c_what = f"C (read in the accumulator's format {acc_format!r})"
        c_type = ElementType(acc_format.label, acc_format.precision, acc_format.emin, acc_format)
    elif promote_every:
        out_dtype, c_type, c_what = np.float32, TYPES["f32"], "C (read as binary32)"
    else:
        out_dtype, c_type, c_what = op.output_dtype, TYPES[op.c_type], "C"
        if op.c_type != op.d_type and K > op.k:
            raise ValueError(f"{op!r} reads C as {op.c_type} but writes D as {op.d_type}, so "
                             f"tiles cannot chain; use K = {op.k} or an instruction whose C "
                             "and D types agree")
    if C is not None:
        C = read_values(C, c_type, c_what)
        if C.shape != (M, N):
            raise ValueError(f"C must have shape {(M, N)}, got {C.shape}")

    sa = sb = None
    if op.scaled:
        if scale_a is None or scale_b is None:
            raise TypeError(f"{op!r} is block-scaled: pass scale_a and scale_b")
        nb = -(-K // op.block)
        sa = read_values(scale_a, op.s_type, "scale_a")
        sb = read_values(scale_b, op.s_type, "scale_b")
        if sa.shape != (M, nb) or sb.shape != (nb, N):
            raise ValueError(f"scale_a must have shape {(M, nb)} and scale_b {(nb, N)}; got "
                             f"{sa.shape} and {sb.shape}")
    elif scale_a is not None or scale_b is not None:
        raise TypeError(f"{op!r} takes no scales")

    d = op._model.gemm(A, B, C, sa, sb, promote_every=promote_every,
                       accumulate_add=accumulate.add if promote_every and accumulate is not None
                       else None, isa=isa())
    return _to_output(d, np.dtype(out_dtype))
