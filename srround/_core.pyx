# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
"""Thin bindings over the C core (csrc/): Format, Context and their NumPy ufuncs.

Everything numeric happens in C; this module turns Python arguments into C structs
and C loops into real ``np.ufunc`` objects, and checks arguments on the way in.
"""
import copyreg
import operator
import pickle
import weakref

import numpy as np

cimport cython
cimport numpy as cnp
from cpython.object cimport PyTypeObject
from cpython.type cimport PyType_Modified
from cpython.ref cimport Py_INCREF, PyObject
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

# the C declarations: _core.pxd

cnp.import_array()
cnp.import_ufunc()

ISAS = ("scalar", "avx2", "avx512")
STREAMS = ("sequential", "counter")


def _philox4x32_10(ctr, key):
    """Philox4x32-10 of one block (4 counter words, 2 key words): for tests."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t out[4]
    for i in range(4):
        c[i] = int(ctr[i])
    for i in range(2):
        k[i] = int(key[i])
    sr_philox4x32_10(c, k, out)
    return [out[0], out[1], out[2], out[3]]


def _set_num_threads(int n):
    if sr_set_num_threads(n) != 0:
        raise ValueError(f"the thread count must be in 1..256, got {n}")


def _get_num_threads():
    return sr_get_num_threads()


def check_stream(stream):
    if not isinstance(stream, str):
        raise TypeError(f"stream must be a str, got {type(stream).__name__}")
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")


def isa():
    """The kernel path in use.

    Every path gives bit-identical results; the fastest one the CPU runs is chosen
    at import, and the environment variable ``SRROUND_ISA=scalar|avx2|avx512``
    (read once, at import) forces one. Every Context runs this path.

    Returns
    -------
    str
        ``"scalar"`` (portable C), ``"avx2"`` or ``"avx512"``.

    Examples
    --------
    >>> sr.isa() in sr.ISAS
    True
    """
    return sr_isa().decode()


def _check_isa(name):
    """Raises ValueError unless `name` is a kernel path this CPU runs."""
    if name not in ISAS:
        raise ValueError(f"unknown kernel path {name!r}; choose one of {ISAS}")
    if sr_isa_check(name.encode()) != 0:
        raise ValueError(f"this CPU cannot run the {name!r} kernels")


def _isa_from_environment():
    """SRROUND_ISA is read once, here (the C core reads the same variable when it
    first chooses its default path): a bad value fails the import."""
    import os
    name = "".join(os.environ.get("SRROUND_ISA", "").split()).lower()
    if name:
        try:
            _check_isa(name)
        except ValueError as e:
            raise ImportError(f"SRROUND_ISA={os.environ['SRROUND_ISA']!r}: {e}") from None
    sr_isa()   # the core's choice, made now


_isa_from_environment()

FP_DIRECTIONS = ("nearest", "toward_zero", "up", "down")


def _set_fp_state(direction="nearest", ftz=False, daz=False):
    """For tests: set the calling thread's floating-point state as a caller might
    (rounding direction; flush-to-zero and denormals-are-zero, x86 only), which the
    loops must neither depend on nor change. Raises ValueError where the machine
    cannot set it."""
    if direction not in FP_DIRECTIONS:
        raise ValueError(f"direction must be one of {FP_DIRECTIONS}, got {direction!r}")
    if sr_test_set_fp_state(FP_DIRECTIONS.index(direction), bool(ftz), bool(daz)) != 0:
        raise ValueError(f"this machine cannot set direction={direction!r}, ftz={ftz}, "
                         f"daz={daz}")


def _fp_state():
    """For tests: (direction, ftz, daz, exception masks) of the calling thread."""
    cdef long state = sr_test_fp_state()
    return (FP_DIRECTIONS[state & 3], bool(state & 4), bool(state & 8), state >> 4)

# Names of the contract, in the C enums' order: the rounding modes of
# csrc/roundings.def, and the ufuncs of a Context (round, then csrc/operations.def).
ROUNDINGS = tuple(sr_rounding_names[i].decode() for i in range(SR_NUM_ROUNDINGS))
STOCHASTIC_ROUNDINGS = tuple(r for i, r in enumerate(ROUNDINGS) if sr_rounding_is_stochastic(i))
UFUNCS = tuple(sr_ufuncs[i].name.decode() for i in range(SR_NUM_UFUNCS))
OVERFLOWS = ("inf", "saturate", "nan")


def _integer(value, what):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}") from None


# Cython 3.3's embedsignature misplaces the '*' of an __init__ in the class doc; these
# classes state their signature in CPython's text-signature form, which
# inspect.signature and help() read.
@cython.embedsignature(False)
cdef class Format:
    """Format(precision, emax, emin=None, *, subnormals=True, overflow='inf', max=None, signed_zero=True, name=None)
--

A binary floating-point format: precision p (significand bits, implicit bit
    included), exponent range [emin, emax], subnormals, overflow policy and max.

    ``Format(11, 15)`` is IEEE binary16. emin defaults to 1 - emax. overflow is
    "inf" (IEEE), "saturate" (clamp to +-max) or "nan" (NaN where IEEE gives +-inf).
    max (largest finite value) must be representable and lie in the top binade; it
    defaults to the largest value of the top binade. ``signed_zero=False`` gives a
    format without negative zero (FNUZ, IEEE P3109): every result that would be -0
    is +0. Equality compares the parameters, not the name.

    Parameters
    ----------
    precision : int
        p, the significand bits with the implicit bit (``Format(11, 15)`` is IEEE
        binary16).
    emax : int
        Exponent of the top binade [2**emax, 2**(emax + 1)).
    emin : int, optional
        Exponent of the smallest normal value 2**emin; default ``1 - emax``.
    subnormals : bool, optional
        Whether values below 2**emin exist (spacing 2**(emin - p + 1)).
    overflow : {"inf", "saturate", "nan"}, optional
        What lies beyond max: IEEE infinities, +-max (infinite input too), or NaN
        wherever IEEE gives +-inf.
    max : float, optional
        The largest finite value: a value of the top binade (E4M3's 448); default
        the largest one, (2 - 2**(1 - p)) 2**emax.
    signed_zero : bool, optional
        Whether the format has a negative zero. With False (the FNUZ and IEEE
        P3109 formats) every result that would be -0 is +0: rounding of -0 and of
        tiny negative values, directed and stochastic rounding included, and
        arithmetic results.
    name : str, optional
        A label for tables and reprs (the presets have one).

    Raises
    ------
    TypeError
        For parameters of the wrong type (a bool precision, a non-string overflow).
    ValueError
        For parameters the core cannot hold (p outside 1..53, an exponent range
        beyond binary64's or with emin above emax, a max outside the top binade,
        ...).

    Examples
    --------
    >>> fp6 = sr.Format(4, 2, 0, overflow="saturate")     # OCP FP6 E2M3
    >>> fp6.max, fp6.smallest_subnormal
    (7.5, 0.125)
    >>> sr.Format(11, 15) == sr.binary16
    True
    """
    cdef sr_format c
    cdef readonly object name
    cdef bint ready     # set once by __init__: a Format never changes after that

    def __init__(self, precision, emax, emin=None, *, subnormals=True, overflow="inf",
                 max=None, signed_zero=True, name=None):
        # Formats are values: hashed, shared as presets and keys of rounding.py's
        # context cache, so running __init__ again must not change one.
        if self.ready:
            raise TypeError("Format objects are immutable; create a new Format instead")
        precision = _integer(precision, "precision")
        emax = _integer(emax, "emax")
        emin = 1 - emax if emin is None else _integer(emin, "emin")
        if not isinstance(subnormals, (bool, np.bool_)):
            raise TypeError(f"subnormals must be True or False, got {subnormals!r}")
        if not isinstance(signed_zero, (bool, np.bool_)):
            raise TypeError(f"signed_zero must be True or False, got {signed_zero!r}")
        if not isinstance(overflow, str):
            raise TypeError(f"overflow must be a string, one of {OVERFLOWS}, got {overflow!r}")
        if overflow not in OVERFLOWS:
            raise ValueError(f"overflow must be one of {OVERFLOWS}, got {overflow!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        cdef double cmax = 0.0
        if max is not None:
            if isinstance(max, (bool, np.bool_)) or not isinstance(max, (int, float, np.integer, np.floating)):
                raise TypeError(f"max must be a real number, got {max!r}")
            try:
                cmax = float(max)
            except OverflowError:       # an int beyond binary64's range
                raise ValueError(f"max must be a positive finite number, got {max!r}") from None
            if not cmax > 0:
                raise ValueError(f"max must be a positive finite number, got {max!r}")
        # the C core checks ranges; keep the int conversion itself safe
        for what, v in (("precision", precision), ("emax", emax), ("emin", emin)):
            if not -100000 < v < 100000:
                raise ValueError(f"{what}={v} is out of range")
        cdef const char *err = NULL
        if sr_format_init(&self.c, precision, emax, emin, bool(subnormals),
                          OVERFLOWS.index(overflow), cmax, &err) != 0:
            raise ValueError(f"{err.decode()} (precision={precision}, emax={emax}, "
                             f"emin={emin}, max={max!r})")
        self.c.signed_zero = bool(signed_zero)
        self.name = name
        self.ready = True

    property precision:
        """Significand bits p, the implicit bit included."""
        def __get__(self): return self.c.precision
    property emax:
        """Exponent of the top binade."""
        def __get__(self): return self.c.emax
    property emin:
        """Exponent of the smallest normal value 2**emin."""
        def __get__(self): return self.c.emin
    property subnormals:
        """Whether the format has subnormal values."""
        def __get__(self): return bool(self.c.subnormals)
    property overflow:
        """The overflow policy: "inf", "saturate" or "nan"."""
        def __get__(self): return OVERFLOWS[self.c.overflow]
    property max:
        """Largest finite value."""
        def __get__(self): return self.c.max
    property tiny:
        """Smallest positive normal value, 2**emin."""
        def __get__(self): return float(np.ldexp(1.0, self.c.emin))
    property smallest_subnormal:
        """Smallest positive value: 2**(emin - p + 1), or 2**emin without subnormals."""
        def __get__(self):
            if not self.c.subnormals:
                return self.tiny
            return float(np.ldexp(1.0, self.c.emin - self.c.precision + 1))
    property eps:
        """Distance from 1 to the next larger value, 2**(1 - p)."""
        def __get__(self): return float(np.ldexp(1.0, 1 - self.c.precision))
    property unit_roundoff:
        """u = 2**-p, the relative error bound of rounding to nearest."""
        def __get__(self): return float(np.ldexp(1.0, -self.c.precision))
    property signed_zero:
        """Whether the format has a negative zero (False: -0 results become +0)."""
        def __get__(self): return bool(self.c.signed_zero)
    property fits_float32:
        """Whether float32 input can carry every value of the format."""
        def __get__(self): return bool(self.c.f32.usable)

    def _params(self):
        return (self.c.precision, self.c.emax, self.c.emin, bool(self.c.subnormals),
                OVERFLOWS[self.c.overflow], self.c.max, bool(self.c.signed_zero))

    def __eq__(self, other):
        if not isinstance(other, Format):
            return NotImplemented
        return self._params() == (<Format>other)._params()

    def __hash__(self):
        return hash(self._params())

    def _non_defaults(self):
        """The keyword parameters that differ from their defaults, in order."""
        p, emax, emin, sub, ov, mx, sz = self._params()
        out = {}
        if not sub:
            out["subnormals"] = False
        if ov != "inf":
            out["overflow"] = ov
        if mx != float(np.ldexp(2.0 - np.ldexp(1.0, 1 - p), emax)):
            out["max"] = mx
        if not sz:
            out["signed_zero"] = False
        return out

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._non_defaults().items())
        if self.name is not None:
            extra += f", name={self.name!r}"
        return f"Format({self.c.precision}, {self.c.emax}, emin={self.c.emin}{extra})"

    def __reduce__(self):
        p, emax, emin, sub, ov, mx, sz = self._params()
        return (_make_format, (p, emax, emin, sub, ov, mx, self.name, sz))

    @property
    def label(self):
        """The name, or a short description for formats without one."""
        if self.name is not None:
            return self.name
        label = f"p{self.c.precision}_emax{self.c.emax}_emin{self.c.emin}"
        extra = self._non_defaults()
        if "subnormals" in extra:
            label += "_nosub"
        if "overflow" in extra:
            label += f"_{extra['overflow']}"
        if "max" in extra:
            label += f"_max{extra['max']:.17g}"
        if "signed_zero" in extra:
            label += "_nonegzero"
        return label.replace("-", "m")


def _make_format(p, emax, emin, sub, ov, mx, name, signed_zero=True):
    return Format(p, emax, emin, subnormals=sub, overflow=ov, max=mx,
                  signed_zero=signed_zero, name=name)


def check_rounding(rounding):
    """Raises TypeError unless rounding is a string, ValueError unless it is one of
    ROUNDINGS."""
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a string, one of {ROUNDINGS}, got "
                        f"{type(rounding).__name__}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; choose one of {ROUNDINGS}")
    return rounding


def check_rng(rng):
    """Raises TypeError/ValueError unless rng is something seed_words accepts."""
    if rng is None or isinstance(rng, (np.random.SeedSequence, np.random.Generator)):
        return
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise TypeError("rng must be None, a non-negative int, a SeedSequence or a "
                        f"Generator, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"seed must be non-negative, got {rng}")


def seed_words(rng):
    """4 * lanes uint64 words for the generator, from None, a non-negative int, a
    SeedSequence or a Generator (which is advanced)."""
    check_rng(rng)
    if rng is None:
        ss = np.random.SeedSequence()
    elif isinstance(rng, np.random.SeedSequence):
        ss = rng
    elif isinstance(rng, np.random.Generator):
        ss = np.random.SeedSequence(rng.integers(0, 2**63, size=4, dtype=np.int64).tolist())
    else:
        ss = np.random.SeedSequence(int(rng))
    return np.ascontiguousarray(ss.generate_state(4 * SR_RNG_LANES, np.uint64))


cdef struct UfuncTables:
    cnp.PyUFuncGenericFunction funcs[SR_MAX_UFUNC_LOOPS]
    void *data[SR_MAX_UFUNC_LOOPS]
    char types[SR_MAX_UFUNC_LOOPS * 4]     # (nin + 1) per loop; nin <= 3

# NumPy's codes for the C table's sr_dtype, and its identities for sr_identity
cdef int _NPY_TYPE[5]
_NPY_TYPE[:] = [cnp.NPY_FLOAT16, cnp.NPY_FLOAT, cnp.NPY_DOUBLE, cnp.NPY_INT64, cnp.NPY_UINT64]
cdef int _NPY_IDENTITY[3]
_NPY_IDENTITY[:] = [cnp.PyUFunc_None, cnp.PyUFunc_Zero, cnp.PyUFunc_One]

# round_given (caller-supplied random integers: (value, uint64) -> value) is not a row
# of the C table, whose loops take inputs of one type: it is built here, as ufunc
# number SR_NUM_UFUNCS of a core.
cdef int _GIVEN = SR_NUM_UFUNCS


cdef class _Core:
    """Owns the C context and the tables its ufuncs point into. Every ufunc holds a
    reference to its core (ufunc.obj), so the ufunc outlives a deleted Context
    safely, and there is no reference cycle."""
    cdef sr_context *ctx
    cdef UfuncTables tables[SR_NUM_UFUNCS + 1]
    # for formats without -0: each loop wrapped (csrc/unsigned_zero.c)
    cdef sr_unsigned_zero_loop wraps[SR_NUM_UFUNCS + 1][SR_MAX_UFUNC_LOOPS]
    cdef list keep

    def __cinit__(self):
        self.ctx = <sr_context *>malloc(sizeof(sr_context))
        if self.ctx == NULL:
            raise MemoryError()
        self.keep = []

    def __dealloc__(self):
        free(self.ctx)

    cdef void set_loop(self, int index, int j, sr_loop loop, int nin, int out_type):
        """Loop j of ufunc `index`: the C loop over this context, wrapped for formats
        without -0."""
        cdef UfuncTables *t = &self.tables[index]
        cdef sr_unsigned_zero_loop *w
        if self.ctx.fmt.signed_zero:
            t.funcs[j] = <cnp.PyUFuncGenericFunction>loop
            t.data[j] = <void *>self.ctx
        else:
            w = &self.wraps[index][j]
            w.inner = loop
            w.inner_data = <void *>self.ctx
            w.nin = nin
            t.funcs[j] = <cnp.PyUFuncGenericFunction>(
                sr_loop_unsigned_zero_f32 if out_type == cnp.NPY_FLOAT
                else sr_loop_unsigned_zero_f64)
            t.data[j] = <void *>w

    cdef object make_ufunc(self, int index, str fmt_label, str rounding_name):
        """The ufunc of row `index` of the C table sr_ufuncs, over this context
        (index _GIVEN: round_given)."""
        if index == _GIVEN:
            return self.make_given_ufunc(fmt_label, rounding_name)
        cdef const sr_ufunc_spec *spec = &sr_ufuncs[index]
        cdef UfuncTables *t = &self.tables[index]
        cdef int nargs = spec.nin + 1
        cdef int ntypes = 0, j, k
        for j in range(spec.nloops):
            if spec.loops[j].needs_f32 and not self.ctx.fmt.f32.usable:
                continue
            self.set_loop(index, ntypes, spec.loops[j].loop, spec.nin,
                          _NPY_TYPE[<int>spec.loops[j].out])
            for k in range(spec.nin):
                t.types[ntypes * nargs + k] = _NPY_TYPE[<int>spec.loops[j].in_]
            t.types[ntypes * nargs + spec.nin] = _NPY_TYPE[<int>spec.loops[j].out]
            ntypes += 1
        return self.finish_ufunc(index, ntypes, spec.nin, _NPY_IDENTITY[<int>spec.identity],
                                 UFUNCS[index], fmt_label, rounding_name)

    cdef object make_given_ufunc(self, str fmt_label, str rounding_name):
        """round_given: (float32, uint64) -> float32 where float32 carries the format,
        (float64, uint64) -> float64."""
        cdef UfuncTables *t = &self.tables[_GIVEN]
        cdef int ntypes = 0
        if self.ctx.fmt.f32.usable:
            self.set_loop(_GIVEN, ntypes, sr_loop_round_given_f32, 2, cnp.NPY_FLOAT)
            t.types[0], t.types[1], t.types[2] = cnp.NPY_FLOAT, cnp.NPY_UINT64, cnp.NPY_FLOAT
            ntypes += 1
        self.set_loop(_GIVEN, ntypes, sr_loop_round_given_f64, 2, cnp.NPY_DOUBLE)
        t.types[3 * ntypes] = cnp.NPY_DOUBLE
        t.types[3 * ntypes + 1] = cnp.NPY_UINT64
        t.types[3 * ntypes + 2] = cnp.NPY_DOUBLE
        ntypes += 1
        return self.finish_ufunc(_GIVEN, ntypes, 2, cnp.PyUFunc_None, "round_given",
                                 fmt_label, rounding_name)

    cdef object finish_ufunc(self, int index, int ntypes, int nin, int identity, str op,
                             str fmt_label, str rounding_name):
        cdef UfuncTables *t = &self.tables[index]
        name = f"{op}_{fmt_label}_{rounding_name}".encode()
        doc = (f"{op} in {fmt_label} with rounding {rounding_name!r}: the exact "
               "result, rounded once.").encode()
        self.keep.extend([name, doc])
        u = cnp.PyUFunc_FromFuncAndData(t.funcs, t.data, t.types, ntypes, nin, 1,
                                        identity, <char *>name, <char *>doc, 0)
        Py_INCREF(self)
        (<cnp.ufunc>u).obj = <PyObject *>self
        return u


@cython.embedsignature(False)
cdef class Context:
    """Context(fmt, rounding='stochastic', *, bits=None, rng=None, stream='sequential')
--

A format, a rounding mode and a random stream, with NumPy ufuncs:

    ``round`` (1 input), ``add``, ``subtract``, ``multiply``, ``divide`` (2),
    ``fma`` (3) and ``sqrt`` (1). Each computes the exact result and rounds it once
    into the format. float32 and float64 loops (float64 only for formats that
    float32 cannot carry), and for ``round`` also int64, uint64 and float16 loops
    with float64 results (the input rule of srround/rounding.py); broadcasting,
    ``out=``, ``where=``, ``axis=``, and ``reduce``/``accumulate`` for ``add``
    (identity 0) and ``multiply`` (identity 1). Overflow raises NumPy's floating-point
    "overflow" error (np.errstate), as NumPy's own casts do.

    Random draws follow NumPy's iteration order: element k processed gets word k of
    the stream, whatever NumPy's buffering or chunking. Rounding float32 data draws
    32-bit half-words instead (low half, then high half of each word), so stochastic
    rounding of float32 data uses at most 32 random bits per element.

    Parameters
    ----------
    fmt : Format or str
        The format, or a name that `srround.format` knows.
    rounding : str, optional
        One of `srround.ROUNDINGS`; default ``"stochastic"``.
    bits : int, optional
        With ``"stochastic"`` only: stochastic rounding with ``bits`` random bits
        (1..64); the default uses 64 (32 when rounding float32 data).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the stream (None: fresh entropy; a Generator is advanced).
    stream : {"sequential", "counter"}, optional
        ``"sequential"`` (default): xoshiro256++ lanes, drawn in order.
        ``"counter"``: Philox4x32-10 (Salmon et al., SC'11), each word a pure
        function of (key, position): the same draw contract, plus `advance` in O(1),
        bit-identical results for every thread count and Dask chunking
        (docs/reproducibility.md).

    Attributes
    ----------
    round, add, subtract, multiply, divide, fma, sqrt : numpy.ufunc
        The rounded operations.
    format : Format
    rounding : str
    bits : int or None
    stochastic : bool
        Whether the mode draws random words.
    stream : str
        ``"sequential"`` or ``"counter"``.

    Raises
    ------
    TypeError
        For a fmt, rounding, bits, rng or stream of the wrong type.
    ValueError
        For an unknown format name, rounding or stream, bits outside 1..64 or given
        with another mode, a negative seed.

    Examples
    --------
    >>> ctx = sr.Context(sr.binary16, "stochastic", rng=0)
    >>> ctx.add(np.float32(2048.0), np.ones(8, np.float32))  # 2049 is a tie in binary16
    array([2048., 2048., 2048., 2050., 2050., 2048., 2050., 2048.], dtype=float32)
    >>> rn = sr.Context("bf16", "nearest")
    >>> rn.round(np.array([1 / 3, 100.7]))
    array([  0.33398438, 100.5       ])
    >>> rn.add.reduce(np.full(1000, 0.01))     # every partial sum rounded: stagnates
    np.float64(4.0)
    """
    cdef _Core core
    cdef readonly Format format
    cdef readonly str rounding
    cdef readonly object bits
    cdef readonly str stream
    cdef object _spawned    # counter streams: children spawned so far
    cdef dict _ufuncs
    cdef object __weakref__

    def __init__(self, fmt, rounding="stochastic", *, bits=None, rng=None,
                 stream="sequential"):
        if self.core is not None:   # the ufuncs handed out point into the first core
            raise TypeError("a Context cannot be re-initialised; create a new Context")
        fmt = _as_format(fmt)
        check_rounding(rounding)
        if bits is not None:
            if rounding != "stochastic":
                raise ValueError(f"bits is only allowed with rounding='stochastic', not {rounding!r}")
            bits = _integer(bits, "bits")
            if not 1 <= bits <= 64:    # checked before it meets a C int
                raise ValueError(f"bits must be in 1..64, got {bits}")
        if rounding in STOCHASTIC_ROUNDINGS:
            seed = seed_words(rng)
        else:   # no stream to seed, but a bad rng is still an error
            check_rng(rng)
            seed = np.zeros(4 * SR_RNG_LANES, np.uint64)
        check_stream(stream)
        self._init(fmt, rounding, bits, seed)
        if stream == "counter":
            self._make_counter(seed[:2], 0, 0)

    cdef _make_counter(self, key_words, position, spawned):
        """Turns this context's stream into the counter stream with key_words
        (key, stream id) at half-word `position`."""
        cdef cnp.ndarray k = np.ascontiguousarray(key_words, np.uint64)
        sr_rng_seed_counter(&self.core.ctx.rng, <uint64_t *>cnp.PyArray_DATA(k))
        sr_rng_set_half_position(&self.core.ctx.rng, position)
        self.stream = "counter"
        self._spawned = spawned

    cdef _init(self, Format fmt, str rounding, object bits, cnp.ndarray seed):
        cdef cnp.ndarray[cnp.uint64_t, ndim=1] words = np.ascontiguousarray(seed, np.uint64)
        cdef const char *err = NULL
        if not fmt.ready:
            raise ValueError("the Format was never initialised (created with Format.__new__)")
        self._adopt(fmt, rounding, bits)
        if sr_context_init(self.core.ctx, &fmt.c, ROUNDINGS.index(rounding),
                           64 if bits is None else bits, <uint64_t *>words.data, &err) != 0:
            self.core = None
            raise ValueError(err.decode())

    cdef _adopt(self, Format fmt, str rounding, object bits):
        """The Python side of a new context; its C context is the caller's to set up."""
        self.core = _Core()
        self.format = fmt
        self.rounding = rounding
        self.bits = bits
        self.stream = "sequential"
        self._spawned = 0
        self._ufuncs = {}

    cdef object _ufunc(self, int index):
        u = self._ufuncs.get(index)
        if u is None:
            u = self.core.make_ufunc(index, self.format.label, self.rounding)
            if index < SR_NUM_UFUNCS:   # (not round_given, a stochastic-only extra)
                # what pickling (_reduce_ufunc) and srround.dask need to know of it
                u._srround_spec = (self.format, self.rounding, UFUNCS[index])
                u._srround_context = weakref.ref(self)
            self._ufuncs[index] = u
        return u

    @property
    def round_given(self):
        """Stochastic rounding with random integers the caller supplies: a ufunc
        ``round_given(x, random_bits)``.

        x rounds away from zero exactly when F + (R mod 2**r) >= 2**r, with r this
        context's ``bits``, R the element's random integer and F = floor(f 2**r),
        f the distance from x to its neighbour toward zero in units of the gap (the
        rule of hardware SR instructions: the carry out of adding the random bits
        to the discarded bits). Nothing is drawn from the stream. Loops: (float32,
        uint64) -> float32 and (float64, uint64) -> float64; unsigned integers
        of other widths cast to uint64 (signed ones do not: use `srround.round`,
        which checks them). Any r in 1..64 holds for float32 data too (r > 32
        rounds through binary64, exactly).

        Raises
        ------
        ValueError
            Unless the context is ``"stochastic"`` with ``bits`` given.

        Examples
        --------
        >>> ctx = sr.Context(sr.bfloat16, "stochastic", bits=2)
        >>> x = np.full(4, 1 + 2**-9, np.float32)        # a quarter ulp in: F = 1
        >>> ctx.round_given(x, np.arange(4, dtype=np.uint64))   # away iff 1 + R >= 4
        array([1.       , 1.       , 1.       , 1.0078125], dtype=float32)
        """
        if self.rounding != "stochastic" or self.bits is None:
            raise ValueError("round_given needs a 'stochastic' context with bits given, "
                             f"not {self!r}")
        return self._ufunc(_GIVEN)

    @property
    def stochastic(self):
        """Whether the rounding mode draws random words (the two stochastic modes)."""
        return self.rounding in STOCHASTIC_ROUNDINGS

    def random_words(self, n, dtype=np.uint64):
        """The next n words of this context's random stream, as rounding would draw them.

        For tests and for reproducing draws elsewhere; the stream moves on by n.

        Parameters
        ----------
        n : int
            How many words, 0 <= n < 2**48.
        dtype : {numpy.uint64, numpy.uint32}, optional
            uint64 words (what float64 rounding and all arithmetic draw), or the
            32-bit half-words that rounding float32 data draws.

        Returns
        -------
        numpy.ndarray
            n words of that dtype.

        Raises
        ------
        TypeError
            For a non-integer n or another dtype.
        ValueError
            For n out of range.

        Examples
        --------
        >>> a, b = sr.Context("bf16", rng=7), sr.Context("bf16", rng=7)
        >>> words = a.random_words(2)
        >>> halves = b.random_words(4, np.uint32)     # low half first
        >>> bool(halves[0] == words[0] & 0xFFFFFFFF and halves[1] == words[0] >> 32)
        True
        """
        n = _integer(n, "n")
        if not 0 <= n < 2**48:          # checked before it meets a C size_t
            raise ValueError(f"n must be in 0..2**48, got {n}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.uint64), np.dtype(np.uint32)):
            raise TypeError(f"dtype must be uint64 or uint32, got {dtype}")
        cdef size_t count = n
        out = np.empty(count, dtype)
        cdef char *dst = <char *>cnp.PyArray_DATA(out)
        cdef bint wide = dtype == np.dtype(np.uint64)
        if count:
            with nogil:
                if wide:
                    sr_context_draw(self.core.ctx, <uint64_t *>dst, count)
                else:
                    sr_context_draw32(self.core.ctx, <uint32_t *>dst, count)
        return out

    def kahan_sum(self, x):
        """Kahan-compensated sum with every operation rounded in this context.

        Each element costs four rounded operations, y = x_i - c, t = s + y,
        c = (t - s) - y, s = t (and four random words); `srround.sum` with
        ``method="kahan"`` calls this for any shape and axis.

        Parameters
        ----------
        x : numpy.ndarray
            A 1-D float32 or float64 array.

        Returns
        -------
        numpy.float32 or numpy.float64
            The sum, a value of the format, of x's dtype.

        Raises
        ------
        TypeError
            For other dtypes.
        ValueError
            For arrays that are not 1-D, or float32 data and a format float32
            cannot hold.

        Examples
        --------
        >>> x = np.full(1000, 0.01)
        >>> sr.Context("bf16", "nearest").kahan_sum(x)    # recursive summation gives 4.0
        np.float64(10.0)
        """
        cdef cnp.ndarray arr = x
        if arr.ndim != 1:
            raise ValueError(f"kahan_sum takes a 1-D array, got {arr.ndim} dimensions")
        if arr.dtype == np.float32 and not self.format.fits_float32:
            raise ValueError(f"{self.format!r} has values that float32 cannot hold")
        cdef const char *data = <const char *>cnp.PyArray_DATA(arr)
        cdef cnp.npy_intp n = arr.shape[0], stride = arr.strides[0]
        cdef double result
        if arr.dtype == np.float32:
            with nogil:
                result = sr_sum_kahan_f32(self.core.ctx, data, n, stride)
            return np.float32(result if self.core.ctx.fmt.signed_zero else result + 0.0)
        if arr.dtype == np.float64:
            with nogil:
                result = sr_sum_kahan_f64(self.core.ctx, data, n, stride)
            return np.float64(result if self.core.ctx.fmt.signed_zero else result + 0.0)
        raise TypeError(f"kahan_sum needs float32 or float64 data, got {arr.dtype}")

    def advance(self, n):
        """Skips the next n 64-bit words of the stream.

        n words are what n float64 elements (or any n arithmetic results) draw, or
        2n float32 elements; a waiting half-word moves on with the position. O(1)
        for ``stream="counter"``; a sequential stream draws and drops the words.

        Parameters
        ----------
        n : int
            0 <= n < 2**62.

        Raises
        ------
        TypeError
            For a non-integer n.
        ValueError
            For n out of range.

        Examples
        --------
        >>> a = sr.Context("bf16", rng=3, stream="counter")
        >>> b = sr.Context("bf16", rng=3, stream="counter")
        >>> a.advance(5)
        >>> bool(a.random_words(1)[0] == b.random_words(6)[5])
        True
        """
        n = _integer(n, "n")
        if not 0 <= n < 2**62:
            raise ValueError(f"n must be in 0..2**62, got {n}")
        cdef uint64_t count = n
        with nogil:
            sr_context_lock(self.core.ctx)
            sr_rng_advance(&self.core.ctx.rng, count)
            sr_context_unlock(self.core.ctx)

    @property
    def position(self):
        """Counter streams: the 32-bit half-words drawn so far (twice the 64-bit
        words, less one while a high half waits); None for a sequential stream."""
        if self.stream != "counter":
            return None
        sr_context_lock(self.core.ctx)
        h = sr_rng_half_position(&self.core.ctx.rng)
        sr_context_unlock(self.core.ctx)
        return int(h)

    def _reserve(self, n, word_bytes):
        """Counter streams: moves past the draws of a call on n elements that draw
        32-bit half-words (word_bytes 4) or 64-bit words (8, dropping a waiting
        half), as that call would; returns the position of its first draw, in the
        same unit. For srround.dask, whose blocks then draw at their own offsets."""
        cdef uint64_t h
        sr_context_lock(self.core.ctx)
        h = sr_rng_half_position(&self.core.ctx.rng)
        if word_bytes == 4:
            first = int(h)
            sr_rng_set_half_position(&self.core.ctx.rng, (first + n) % 2**64)
        else:
            first = int(self.core.ctx.rng.next)
            sr_rng_set_half_position(&self.core.ctx.rng, (2 * (first + n)) % 2**64)
        sr_context_unlock(self.core.ctx)
        return first

    def _at(self, position):
        """A counter-stream twin of this context at half-word `position`."""
        if self.stream != "counter":
            raise ValueError("only counter streams have positions")
        key, _, spawned = self._counter_state()
        return _restore_counter_context(self.format, self.rounding, self.bits, key,
                                        position, spawned)

    def _counter_state(self):
        sr_context_lock(self.core.ctx)
        key = (int(self.core.ctx.rng.key[0]) | int(self.core.ctx.rng.key[1]) << 32,
               int(self.core.ctx.rng.stream_id[0]) | int(self.core.ctx.rng.stream_id[1]) << 32)
        h = sr_rng_half_position(&self.core.ctx.rng)
        sr_context_unlock(self.core.ctx)
        return key, int(h), self._spawned

    def _state(self):
        """(s, buf, pos, half) of the stream: s has shape (4, lanes); half is the
        waiting 32-bit half-word, or -1."""
        cdef sr_rng_state st
        sr_context_get_state(self.core.ctx, &st)
        s = np.empty((4, SR_RNG_LANES), np.uint64)
        buf = np.empty(SR_RNG_LANES, np.uint64)
        memcpy(cnp.PyArray_DATA(s), st.s, sizeof(st.s))
        memcpy(cnp.PyArray_DATA(buf), st.buf, sizeof(st.buf))
        return s, buf, st.pos, st.half

    cdef _set_state(self, s, buf, pos, half):
        """Replaces the stream state with one from _state() (a pickle): checked, since
        a pickle can be tampered with (the C core refuses states no stream has)."""
        s = np.asarray(s)
        buf = np.asarray(buf)
        for a, shape in ((s, (4, SR_RNG_LANES)), (buf, (SR_RNG_LANES,))):
            if a.dtype.kind != "u" or a.dtype.itemsize != 8 or a.shape != shape:
                raise ValueError(f"invalid stream state: s must be uint64 of shape "
                                 f"(4, {SR_RNG_LANES}) and buf uint64 of shape "
                                 f"({SR_RNG_LANES},)")
        pos = _integer(pos, "stream position")
        half = _integer(half, "waiting half-word")
        cdef sr_rng_state st
        cdef const char *err = NULL
        # out-of-range values become ones the core refuses, before they meet a C int
        st.pos = pos if -1 <= pos <= SR_RNG_LANES else -1
        st.half = half if -2 <= half < 2**32 else -2
        cdef cnp.ndarray s_ = np.ascontiguousarray(s, np.uint64)     # native byte order
        cdef cnp.ndarray b_ = np.ascontiguousarray(buf, np.uint64)
        memcpy(st.s, cnp.PyArray_DATA(s_), sizeof(st.s))
        memcpy(st.buf, cnp.PyArray_DATA(b_), sizeof(st.buf))
        if sr_context_set_state(self.core.ctx, &st, &err) != 0:
            raise ValueError(err.decode())

    def spawn(self, n):
        """New contexts with the same format and rounding and non-overlapping streams.

        Sequential streams: child i takes this stream's next 2**128-word stretch
        (one jump each), and this context moves past them all. Counter streams:
        child j (counting every child this context has spawned) gets the key that
        ``SeedSequence(key, spawn_key=(j,))`` generates, at position 0. Use one per
        thread or worker for reproducible parallel runs.

        Parameters
        ----------
        n : int
            How many contexts (n >= 0).

        Returns
        -------
        list of Context

        Raises
        ------
        TypeError
            For a non-integer n.
        ValueError
            For a negative n.

        Examples
        --------
        >>> workers = sr.Context(sr.bfloat16, rng=1).spawn(2)
        >>> workers[0]
        Context(Format(8, 127, emin=-126, name='bfloat16'), rounding='stochastic')
        >>> bool((workers[0].random_words(4) != workers[1].random_words(4)).all())
        True
        """
        n = _integer(n, "n")
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        children = []
        cdef Context child
        if self.stream == "counter":
            key, _, spawned = self._counter_state()
            for j in range(spawned, spawned + n):
                words = np.random.SeedSequence(list(key), spawn_key=(j,)).generate_state(
                    2, np.uint64)
                children.append(_restore_counter_context(self.format, self.rounding,
                                                         self.bits, words, 0, 0))
            self._spawned = spawned + n
            return children
        for _ in range(n):
            child = Context.__new__(Context)
            child._adopt(self.format, self.rounding, self.bits)
            with nogil:
                sr_context_spawn(self.core.ctx, child.core.ctx)
            children.append(child)
        return children

    def _set_isa(self, name):
        """For tests and benchmarks: run this context's loops and stream on kernel
        path `name` (every path gives the same bits). Returns the context."""
        _check_isa(name)
        sr_context_set_isa(self.core.ctx, name.encode())
        return self

    @property
    def _isa(self):
        """The kernel path this context runs (sr.isa() unless _set_isa changed it)."""
        return sr_context_isa(self.core.ctx).decode()

    def __reduce__(self):
        if self.stream == "counter":
            key, h, spawned = self._counter_state()
            return (_restore_counter_context,
                    (self.format, self.rounding, self.bits, key, h, spawned))
        s, buf, pos, half = self._state()
        return (_restore_context, (self.format, self.rounding, self.bits, s, buf, pos, half))

    def __repr__(self):
        bits = "" if self.bits is None else f", bits={self.bits}"
        stream = "" if self.stream == "sequential" else f", stream={self.stream!r}"
        return f"Context({self.format!r}, rounding={self.rounding!r}{bits}{stream})"


cdef class _UfuncAttribute:
    """Context.<name>: the context's ufunc of row `index` of the C table sr_ufuncs,
    made on first use."""
    cdef int index
    cdef readonly str __doc__

    def __cinit__(self, int index):
        self.index = index
        self.__doc__ = (f"numpy.ufunc: {sr_ufuncs[index].doc.decode()} "
                        "(the exact result, rounded once into the context's format).")

    def __get__(self, obj, owner):
        if obj is None:
            return self
        if (<Context>obj).core is None:
            raise AttributeError(f"the Context was never initialised")
        return (<Context>obj)._ufunc(self.index)


# Context.round, .add, ...: one attribute per row of the C table (Context is an
# extension type, so they go straight into its type dict).
for _index, _name in enumerate(UFUNCS):
    (<dict>(<PyTypeObject *>Context).tp_dict)[_name] = _UfuncAttribute(_index)
PyType_Modified(Context)
del _index, _name


def _check_restored(fmt, rounding, bits):
    """Checks a pickle's format, rounding and bits; returns bits."""
    if not isinstance(fmt, Format):
        raise TypeError(f"fmt must be a Format, got {type(fmt).__name__}")
    check_rounding(rounding)
    if bits is not None:
        bits = _integer(bits, "bits")
        if not 1 <= bits <= 64:
            raise ValueError(f"bits must be in 1..64, got {bits}")
    return bits


def _restore_context(fmt, rounding, bits, s, buf, pos, half=-1):
    bits = _check_restored(fmt, rounding, bits)
    cdef Context ctx = Context.__new__(Context)
    ctx._init(fmt, rounding, bits, np.zeros(4 * SR_RNG_LANES, np.uint64))
    ctx._set_state(s, buf, pos, half)
    return ctx


def _restore_counter_context(fmt, rounding, bits, key, position, spawned=0):
    bits = _check_restored(fmt, rounding, bits)
    key = [_integer(k, "key word") for k in key]
    if len(key) != 2 or not all(0 <= k < 2**64 for k in key):
        raise ValueError("invalid counter stream key: two words in 0..2**64")
    position = _integer(position, "stream position")
    spawned = _integer(spawned, "spawn count")
    if not 0 <= position < 2**64 or spawned < 0:
        raise ValueError("invalid counter stream position or spawn count")
    cdef Context ctx = Context.__new__(Context)
    ctx._init(fmt, rounding, bits, np.zeros(4 * SR_RNG_LANES, np.uint64))
    ctx._make_counter(np.array(key, np.uint64), position, spawned)
    return ctx


cdef Format _as_format(fmt):
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        from srround.formats import format as lookup
        return lookup(fmt)
    raise TypeError(f"fmt must be a Format or a format name, got {type(fmt).__name__}")


# ---- pickling the ufuncs ---------------------------------------------------------
# NumPy pickles a ufunc by its name, which a Context's ufuncs cannot be found by.
# A deterministic one pickles as (format, rounding, operation): it holds no state.
# A stochastic one refuses: its stream belongs to its Context, and a copy in each
# process or task would replay the same words silently.
_numpy_reduce_ufunc = copyreg.dispatch_table.get(np.ufunc)
_DETERMINISTIC = {}


def _deterministic_ufunc(fmt, rounding, op):
    if rounding in STOCHASTIC_ROUNDINGS or op not in UFUNCS:
        raise ValueError(f"not a deterministic srround ufunc: {op!r} with {rounding!r}")
    key = (fmt, rounding)
    ctx = _DETERMINISTIC.get(key)
    if ctx is None:
        ctx = _DETERMINISTIC[key] = Context(fmt, rounding)
    return getattr(ctx, op)


def _reduce_ufunc(u):
    spec = getattr(u, "_srround_spec", None)
    if spec is None:
        if _numpy_reduce_ufunc is None:
            raise pickle.PicklingError(f"cannot pickle {u!r}")
        return _numpy_reduce_ufunc(u)
    if spec[1] in STOCHASTIC_ROUNDINGS:
        raise pickle.PicklingError(
            f"cannot pickle {u.__name__}: a stochastic Context's ufunc shares its "
            "Context's random stream, and copies would replay the same words; pickle "
            "the Context itself (ctx.spawn(n) gives independent ones), or use "
            "srround.dask with stream='counter'")
    return (_deterministic_ufunc, spec)


copyreg.pickle(np.ufunc, _reduce_ufunc)


MATMUL_ROWS = SR_MATMUL_ROWS
_SPLIT_ARITH = SR_SPLIT_ARITH   # the smallest part worth a thread in ctx.multiply etc.


def _matmul_kernel(Context prod, Context acc, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c,
                   cnp.ndarray a_offsets, cnp.ndarray b_offsets, cnp.ndarray c_offsets,
                   bint subtract, bint zero_start):
    """The C kernel of srround.summation.matmul (csrc/matmul.c): for each batch t,
    c[t] = a[t] @ b[t] (zero_start) or c[t] -= a[t] @ b[t] (subtract), every product
    rounded in prod, every addition in acc. a, b, c are the 2-D (m, k), (k, n),
    (m, n) views of batch 0 (any strides; c's columns contiguous), the offsets
    intp arrays of each batch's byte offset from them; all one float dtype, checked
    by the caller. Returns the SR_RAISE_* flags of the operations."""
    cdef sr_matmul_args g
    cdef unsigned raised = 0
    cdef int rc
    cdef bint single = a.dtype == np.float32
    if not (a.dtype == b.dtype == c.dtype) or a.dtype not in (np.float32, np.float64):
        raise TypeError("_matmul_kernel: a, b, c must share a float32 or float64 dtype")
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2 or a.shape[1] != b.shape[0] \
            or c.shape[0] != a.shape[0] or c.shape[1] != b.shape[1] \
            or (c.shape[1] > 1 and c.strides[1] != c.itemsize):
        raise ValueError("_matmul_kernel: shapes or strides do not fit")
    for off in (a_offsets, b_offsets, c_offsets):
        if off.dtype != np.intp or off.ndim != 1 or not off.flags.c_contiguous \
                or off.shape[0] != a_offsets.shape[0]:
            raise ValueError("_matmul_kernel: offsets must be 1-D intp arrays, one per batch")
    g.m, g.k, g.n = a.shape[0], a.shape[1], b.shape[1]
    g.batches = a_offsets.shape[0]
    g.a, g.a_rs, g.a_cs = <const char *>cnp.PyArray_DATA(a), a.strides[0], a.strides[1]
    g.b, g.b_rs, g.b_cs = <const char *>cnp.PyArray_DATA(b), b.strides[0], b.strides[1]
    g.c, g.c_rs = <char *>cnp.PyArray_DATA(c), c.strides[0]
    g.a_offsets = <const cnp.npy_intp *>cnp.PyArray_DATA(a_offsets)
    g.b_offsets = <const cnp.npy_intp *>cnp.PyArray_DATA(b_offsets)
    g.c_offsets = <const cnp.npy_intp *>cnp.PyArray_DATA(c_offsets)
    g.subtract, g.zero_start = subtract, zero_start
    with nogil:
        if single:
            rc = sr_matmul_f32(prod.core.ctx, acc.core.ctx, &g, &raised)
        else:
            rc = sr_matmul_f64(prod.core.ctx, acc.core.ctx, &g, &raised)
    if rc != 0:
        raise MemoryError("matmul: out of memory for the random words of a row")
    return raised


def _dot_kernel(Context prod, Context acc, cnp.ndarray x, cnp.ndarray y):
    """The C kernel of srround.summation.dot for one pair of 1-D vectors of one float
    dtype (csrc/dot_fused.h): the products rounded in prod, summed recursively from
    +0 in acc, in one pass, with the bits and stream positions of prod.multiply(x, y)
    followed by acc.add.reduce of the products. Returns (sum, SR_RAISE_* flags)."""
    if x.dtype != y.dtype or x.dtype not in (np.float32, np.float64):
        raise TypeError("_dot_kernel: x and y must share a float32 or float64 dtype")
    if x.ndim != 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError("_dot_kernel: x and y must be 1-D of one length")
    cdef const char *xp = <const char *>cnp.PyArray_DATA(x)
    cdef const char *yp = <const char *>cnp.PyArray_DATA(y)
    cdef cnp.npy_intp n = x.shape[0], xs = x.strides[0], ys = y.strides[0]
    cdef double result = 0
    cdef unsigned raised
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single:
            raised = sr_dot_f32(prod.core.ctx, acc.core.ctx, xp, xs, yp, ys, n, &result)
        else:
            raised = sr_dot_f64(prod.core.ctx, acc.core.ctx, xp, xs, yp, ys, n, &result)
    return result, raised
