"""srround beside the libraries users would pick instead: speed and edge-case behaviour.

    python bench/compare_peers.py              # 1e5, 1e6, 1e7 elements; writes docs/peers.md, docs/peers.png
    python bench/compare_peers.py --quick      # 1e5 and 1e6 only, fewer repeats
    python bench/compare_peers.py --sizes 1e6,1e7 --out-md /tmp/p.md --out-png /tmp/p.png

One thread throughout (thread variables are set before NumPy/torch load, torch is told
set_num_threads(1), dask runs its synchronous scheduler). Each cell is ns per element, the
median of repeated calls (fewer where one call takes more than a second), and the ratio to
np.copyto of the same array into a preallocated array of the same dtype, timed in the same
run. srround writes into a preallocated `out=`; peers use whatever their API allows (the
"output" column says which allocate). The peers are bench-only: they are not dependencies
of srround, and a peer that is missing, fails to import, or has no path for a case is shown
as such in the table rather than dropped.

The second part measures what each peer does with NaN, a NaN with a low payload, inf, -0, an
exact tie, overflow past binary16's range, a float64 input that float32 would round twice,
and the up-probability of its stochastic rounding.
"""
import os

import one_thread  # noqa: E402,F401  (before NumPy and torch)

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata  # noqa: E402
import io  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from timing import (machine_line, markdown_table, ns_per_element, standard_normal,  # noqa: E402
                    with_ratio)

import srround as sr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# target key -> (srround format, (exponent bits, trailing significand bits), label)
TARGETS = {
    "bf16": (sr.bfloat16, (8, 7), "bf16"),
    "fp16": (sr.binary16, (5, 10), "fp16"),
    "e4m3": (sr.e4m3, (4, 3), "e4m3"),
}
INPUTS = {"f32": np.float32, "f64": np.float64}
CASES = [(i, t) for i in INPUTS for t in TARGETS]  # column order of the tables
SLOW_S = 1.0     # a call slower than this gets only SLOW_REPEATS timed calls
SLOW_REPEATS = 3


class NotApplicable(Exception):
    """The method has no path for this case (the message says why)."""


# --------------------------------------------------------------------------- peers


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _short(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= 90 else text[:87] + "..."


def load_peers():
    """name -> module-ish namespace, or name -> str (why it is unavailable)."""
    peers = {}

    def attempt(name, dist, loader):
        if _version(dist) is None:
            peers[name] = f"not installed: pip has no `{dist}` in this environment"
            return
        try:
            # torchao and qtorch print build chatter / warnings on import; keep the table clean
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                peers[name] = loader()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            peers[name] = f"import failed: {_short(exc)}"

    def ml_dtypes_loader():
        import ml_dtypes
        return ml_dtypes

    def torch_loader():
        import torch
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        return torch

    def pychop_loader():
        try:
            import dask
            dask.config.set(scheduler="synchronous")  # one thread if pychop reaches dask
        except ImportError:
            pass
        import pychop
        pychop.backend("numpy")
        return pychop

    def gfloat_loader():
        import gfloat
        import gfloat.formats
        return gfloat

    def qtorch_loader():
        torch_loader()
        from qtorch.quant import float_quantize  # JIT-builds its C++ extension on first use
        import torch
        float_quantize(torch.zeros(4), 8, 7, rounding="nearest")
        return float_quantize

    def torchao_loader():
        torch_loader()
        logging.getLogger("torchao").setLevel(logging.ERROR)
        for mod in ("torchao.optim.quant_utils", "torchao.prototype.low_bit_optim.quant_utils",
                    "torchao.optim.subclass_fp8", "torchao.prototype.low_bit_optim"):
            try:
                fn = getattr(importlib.import_module(mod), "_fp32_to_bf16_sr", None)
            except ImportError:
                continue
            if fn is not None:
                fn.__peer_path__ = f"{mod}._fp32_to_bf16_sr"
                return fn
        raise ImportError("no _fp32_to_bf16_sr in this torchao")

    attempt("ml_dtypes", "ml_dtypes", ml_dtypes_loader)
    attempt("torch", "torch", torch_loader)
    attempt("pychop", "pychop", pychop_loader)
    attempt("gfloat", "gfloat", gfloat_loader)
    attempt("qtorch", "qtorch", qtorch_loader)
    attempt("torchao", "torchao", torchao_loader)
    return peers


# ------------------------------------------------------------------ the benchmarked methods
# Each setup(x, tkey) returns a zero-argument callable doing one conversion of x, or raises
# NotApplicable. Buffers are made here, outside the timed call, where the API accepts them.


def _need(peers, name):
    p = peers.get(name)
    if isinstance(p, str) or p is None:
        raise NotApplicable(p or f"{name} not loaded")
    return p


def m_copyto(peers, x, tkey):
    out = np.empty_like(x)
    return lambda: np.copyto(out, x)


def m_sr(rounding):
    def setup(peers, x, tkey):
        ctx = sr.Context(TARGETS[tkey][0], rounding, rng=1) if rounding == "stochastic" \
            else sr.Context(TARGETS[tkey][0], rounding)
        out = np.empty_like(x)
        return lambda: ctx.round(x, out=out)
    return setup


def m_numpy_f16(peers, x, tkey):
    if tkey != "fp16":
        raise NotApplicable("NumPy has no bfloat16 or float8 dtype")
    out = np.empty(x.shape, np.float16)
    return lambda: np.copyto(out, x, casting="unsafe")


def m_ml_dtypes(peers, x, tkey):
    mld = _need(peers, "ml_dtypes")
    if tkey == "fp16":
        raise NotApplicable("ml_dtypes has no float16 of its own (NumPy's is the row above)")
    dt = {"bf16": mld.bfloat16, "e4m3": mld.float8_e4m3fn}[tkey]
    out = np.empty(x.shape, dt)
    return lambda: np.copyto(out, x, casting="unsafe")


def m_pychop(rmode):
    def setup(peers, x, tkey):
        pychop = _need(peers, "pychop")
        e, m = TARGETS[tkey][1]
        # chunk_size >= size keeps pychop's round-to-nearest off dask: with the default
        # chunk_size=800 it splits the array into 800-element dask tasks (~10x slower here).
        chop = pychop.Chop(e, m, rmode=rmode, random_state=1, chunk_size=max(x.size, 800))
        return lambda: chop(x)
    return setup


def m_gfloat(mode):
    def setup(peers, x, tkey):
        gfloat = _need(peers, "gfloat")
        fi = {"bf16": gfloat.formats.format_info_bfloat16,
              "fp16": gfloat.formats.format_info_binary16,
              "e4m3": gfloat.formats.format_info_ocp_e4m3}[tkey]
        if mode == "nearest":
            return lambda: gfloat.round_ndarray(fi, x, gfloat.RoundMode.TiesToEven)
        rng = np.random.default_rng(1)

        def call():  # the random bits are part of the cost
            bits = rng.integers(0, 2**32, x.size, dtype=np.uint32).reshape(x.shape)
            return gfloat.round_ndarray(fi, x, gfloat.RoundMode.Stochastic,
                                        srbits=bits, srnumbits=32)
        return call
    return setup


def m_qtorch(rounding):
    def setup(peers, x, tkey):
        fq = _need(peers, "qtorch")
        torch = _need(peers, "torch")
        if x.dtype != np.float32:
            raise NotApplicable("float32 tensors only (its CPU kernel reads float*)")
        e, m = TARGETS[tkey][1]
        xt = torch.from_numpy(x)
        return lambda: fq(xt, e, m, rounding=rounding)
    return setup


def m_torch_trick(peers, x, tkey):
    torch = _need(peers, "torch")
    if tkey != "bf16":
        raise NotApplicable("bit trick only truncates float32 to its top 16 bits (bfloat16)")
    if x.dtype != np.float32:
        raise NotApplicable("float32 bits only (float64 would first round to float32)")
    xi = torch.from_numpy(x).view(torch.int32)
    r = torch.empty_like(xi)
    o = torch.empty_like(xi)

    def call():
        torch.randint(0, 1 << 16, xi.shape, dtype=torch.int32, out=r)
        torch.add(xi, r, out=o)
        o.bitwise_and_(-65536)  # 0xFFFF0000
        return o.view(torch.float32)
    return call


def m_torchao(peers, x, tkey):
    fn = _need(peers, "torchao")
    torch = _need(peers, "torch")
    if tkey != "bf16":
        raise NotApplicable("bfloat16 only")
    if x.dtype != np.float32:
        raise NotApplicable("float32 only")
    xt = torch.from_numpy(x)
    return lambda: fn(xt)


# (name, peer key or None, setup, output note)
METHODS = [
    ("np.copyto (same dtype)", None, m_copyto, "preallocated, x's dtype"),
    ("srround RN", None, m_sr("nearest"), "preallocated `out=`, x's dtype"),
    ("srround SR", None, m_sr("stochastic"), "preallocated `out=`, x's dtype"),
    ("RN: NumPy astype(float16)", None, m_numpy_f16,
     "preallocated float16 (np.copyto casting='unsafe')"),
    ("RN: ml_dtypes astype", "ml_dtypes", m_ml_dtypes,
     "preallocated bfloat16 / float8_e4m3fn (np.copyto)"),
    ("RN: pychop Chop rmode=1 (NumPy)", "pychop", m_pychop(1), "allocates, x's dtype"),
    ("RN: gfloat round_ndarray TiesToEven", "gfloat", m_gfloat("nearest"),
     "allocates float64 (also for float32 input)"),
    ("RN: qtorch float_quantize nearest", "qtorch", m_qtorch("nearest"),
     "allocates float32 tensor"),
    ("SR: torch add-16-random-bits-and-mask", "torch", m_torch_trick,
     "preallocated int32 buffers (randint out=, add out=)"),
    ("SR: torchao _fp32_to_bf16_sr", "torchao", m_torchao, "allocates bfloat16 tensor"),
    ("SR: qtorch float_quantize stochastic", "qtorch", m_qtorch("stochastic"),
     "allocates float32 tensor"),
    ("SR: pychop Chop rmode=5 (NumPy)", "pychop", m_pychop(5), "allocates, x's dtype"),
    ("SR: gfloat round_ndarray Stochastic", "gfloat", m_gfloat("stochastic"),
     "allocates float64 + uint32 random bits (srnumbits=32)"),
]

FORMAT_NOTES = [
    "srround, ml_dtypes (`float8_e4m3fn`) and gfloat (`format_info_ocp_e4m3`) round to OCP "
    "E4M3 (max 448, no inf). pychop `Chop(4, 3)` is the IEEE-style E4M3 (max 240, with inf) and "
    "qtorch `float_quantize(x, 4, 3)` clips to its own range (max 480): same rounding work, "
    "different top binade.",
    "qtorch `float_quantize(x, e, m)` reserves no exponent code for inf/NaN, so its "
    "`(5, 10)` format reaches 131008 rather than binary16's 65504 (its `(8, 7)` keeps "
    "float32's exponent range, so inf survives there): values past 65504 staying finite in "
    "the notes below is that design; NaN and inf becoming its largest finite value is not.",
    "srround, pychop and qtorch return values of the format stored in the input's float dtype "
    "(4 or 8 bytes per element); the casts write 2-byte or 1-byte elements, torchao a bfloat16 "
    "tensor, gfloat float64.",
]


# ------------------------------------------------------------------------------ timing


def run_bench(peers, sizes, repeats, log):
    """results[(method, n, in, target)] = (ns, reps) | ("n/a", reason) | ("error", reason)."""
    results = {}
    for n in sizes:
        for ikey, dtype in INPUTS.items():
            x = standard_normal(n, dtype)
            for tkey in TARGETS:
                for name, peer, setup, _ in METHODS:
                    key = (name, n, ikey, tkey)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            fn = setup(peers, x, tkey)
                            results[key] = ns_per_element(fn, n, repeats, SLOW_S,
                                                          SLOW_REPEATS)
                    except NotApplicable as exc:
                        results[key] = ("n/a", str(exc))
                    except Exception as exc:  # noqa: BLE001 - report, don't drop
                        results[key] = ("error", _short(exc))
                    fn = None
                    v = results[key]
                    log(f"  {n:>9.0e} {ikey}->{tkey:<5} {name:<40} "
                        + (f"{v[0]:9.2f} ns/el ({v[1]} calls)" if not isinstance(v[0], str)
                           else f"{v[0]}: {v[1]}"))
    return results


# ------------------------------------------------------------------- correctness notes


def _f32_from_bits(bits):
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _adapters(peers):
    """name -> (mode, function(x ndarray, tkey) -> float64 ndarray, or raise NotApplicable)."""
    torch = peers.get("torch")
    torch = None if isinstance(torch, str) else torch
    ad = []

    def srr(rounding):
        def f(x, tkey):
            return sr.round(x, TARGETS[tkey][0], rounding, rng=7 if rounding == "stochastic"
                            else None).astype(np.float64)
        return f
    ad.append(("srround", "RN", srr("nearest")))
    ad.append(("srround", "SR", srr("stochastic")))

    def cast(only_tkey, dtype):   # a plain astype, for the one target it has
        def f(x, tkey):
            if tkey != only_tkey:
                raise NotApplicable("")
            return x.astype(dtype).astype(np.float64)
        return f
    ad.append(("NumPy astype(float16)", "RN", cast("fp16", np.float16)))
    if not isinstance(peers.get("ml_dtypes"), str):
        ad.append(("ml_dtypes astype", "RN", cast("bf16", peers["ml_dtypes"].bfloat16)))

    if not isinstance(peers.get("pychop"), str):
        pychop = peers["pychop"]
        seed = iter(range(100, 10**6))

        def pyc(rmode):
            def f(x, tkey):
                e, m = TARGETS[tkey][1]
                chop = pychop.Chop(e, m, rmode=rmode, random_state=next(seed),
                                   chunk_size=max(x.size, 800))
                return np.asarray(chop(x), dtype=np.float64)
            return f
        ad.append(("pychop", "RN", pyc(1)))
        ad.append(("pychop", "SR", pyc(5)))

    if not isinstance(peers.get("gfloat"), str):
        gfloat = peers["gfloat"]
        grng = np.random.default_rng(5)

        def gfl(mode):
            def f(x, tkey):
                fi = {"bf16": gfloat.formats.format_info_bfloat16,
                      "fp16": gfloat.formats.format_info_binary16}[tkey]
                if mode == "RN":
                    y = gfloat.round_ndarray(fi, x, gfloat.RoundMode.TiesToEven)
                else:
                    bits = grng.integers(0, 2**32, x.size, dtype=np.uint32).reshape(x.shape)
                    y = gfloat.round_ndarray(fi, x, gfloat.RoundMode.Stochastic,
                                             srbits=bits, srnumbits=32)
                return np.asarray(y, dtype=np.float64)
            return f
        ad.append(("gfloat", "RN", gfl("RN")))
        ad.append(("gfloat", "SR", gfl("SR")))

    if torch is not None and not isinstance(peers.get("qtorch"), str):
        fq = peers["qtorch"]

        def qt(rounding):
            def f(x, tkey):
                if x.dtype != np.float32:
                    raise NotApplicable("")
                e, m = TARGETS[tkey][1]
                return fq(torch.from_numpy(x.copy()), e, m, rounding=rounding).double().numpy()
            return f
        ad.append(("qtorch", "RN", qt("nearest")))
        ad.append(("qtorch", "SR", qt("stochastic")))

    if torch is not None:
        def trick(x, tkey):
            if tkey != "bf16" or x.dtype != np.float32:
                raise NotApplicable("")
            xi = torch.from_numpy(x.copy()).view(torch.int32)
            r = torch.randint(0, 1 << 16, xi.shape, dtype=torch.int32)
            o = (xi + r) & -65536
            return o.view(torch.float32).double().numpy()
        ad.append(("torch add-and-mask trick", "SR", trick))

    if torch is not None and not isinstance(peers.get("torchao"), str):
        fn = peers["torchao"]

        def tao(x, tkey):
            if tkey != "bf16" or x.dtype != np.float32:
                raise NotApplicable("")
            return fn(torch.from_numpy(x.copy())).double().numpy()
        ad.append(("torchao _fp32_to_bf16_sr", "SR", tao))
    return ad


def _fmt_val(v):
    if np.isnan(v):
        return "NaN"
    if v == 0:
        return "-0" if np.signbit(v) else "+0"
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.9g}"


def run_correctness(peers, n_sr=100_000):
    """Rows of measured edge-case behaviour, one per (peer, mode)."""
    rows = []
    nan_low = _f32_from_bits(0x7F800001)  # NaN whose payload sits in the low bits only
    for peer, mode, f in _adapters(peers):
        cells, verdict = {}, []

        def call(x, tkey):
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    return f(np.asarray(x), tkey)
            except NotApplicable:
                return None
            except Exception as exc:  # noqa: BLE001
                return _short(exc)

        # specials, float32 input, in each of bf16 and fp16 (where the peer has that target)
        specials = {"NaN": np.float32(np.nan), "NaN 0x7F800001": nan_low,
                    "+inf": np.float32(np.inf), "-0": np.float32(-0.0)}
        for label, v in specials.items():
            parts, wrong = [], {}
            for tkey in ("bf16", "fp16"):
                y = call(np.array([v], np.float32), tkey)
                if y is None:
                    continue
                if isinstance(y, str):
                    parts.append(f"{tkey}: error")
                    verdict.append(f"{label} in {tkey}: {y}")
                    continue
                got = y[0]
                parts.append(f"{tkey}: {_fmt_val(got)}")
                ok = {"NaN": np.isnan(got), "NaN 0x7F800001": np.isnan(got),
                      "+inf": np.isposinf(got),
                      "-0": got == 0 and np.signbit(got)}[label]
                if not ok:
                    wrong.setdefault(_fmt_val(got), []).append(tkey)
            for got, tkeys in wrong.items():
                verdict.append(f"{label} -> {got} ({', '.join(tkeys)})")
            cells[label] = ", ".join(parts) if parts else "n/a"
        tk = "bf16" if call(np.array([1.0], np.float32), "bf16") is not None else "fp16"
        p = TARGETS[tk][0].precision
        if mode == "RN":
            # ties: 1 + 2^-p has neighbours 1 (even) and 1 + 2^(1-p) (odd);
            #       1 + 3*2^-p has neighbours 1 + 2^(1-p) (odd) and 1 + 2^(2-p) (even)
            t1, t3 = 1 + 2.0**-p, 1 + 3 * 2.0**-p
            y = call(np.array([t1, t3, -t1], np.float32), tk)
            if isinstance(y, np.ndarray):
                lo1, hi1, hi3 = 1.0, 1 + 2.0**(1 - p), 1 + 2.0**(2 - p)
                kind = {(lo1, hi3): "ties to even", (hi1, hi3): "ties away",
                        (lo1, hi1): "ties toward zero"}.get((y[0], y[1]), "other")
                cells["tie"] = f"{tk}: {kind}"
                if kind != "ties to even":
                    verdict.append(f"'nearest' {kind}: {_fmt_val(y[0])}, {_fmt_val(y[1])}")
                if y[2] != -y[0]:
                    verdict.append(f"not sign-symmetric at -tie: {_fmt_val(y[2])}")
        # binary16 overflow: under RN 65519 rounds down to 65504; 70000 (in [2^16, 2^17))
        # and 1e5 lie beyond the next power of two, so RN and SR alike must give +inf
        big = [65519.0, 70000.0, 1e5] if mode == "RN" else [70000.0, 1e5]
        y = call(np.array(big, np.float32), "fp16")
        if isinstance(y, np.ndarray):
            cells["overflow"] = ", ".join(_fmt_val(v) for v in y)
            want = [65504.0, np.inf, np.inf] if mode == "RN" else [np.inf, np.inf]
            if not np.array_equal(y, want):
                verdict.append(f"fp16 overflow: {', '.join(f'{b:g}' for b in big)} -> "
                               f"{cells['overflow']}")
        else:
            cells["overflow"] = "n/a" if y is None else "error"
        if mode == "RN":
            # float64 input just above a tie: float32 would land on the tie, then go to even
            x64 = np.array([1 + 2.0**-p + 2.0**-30], np.float64)
            y = call(x64, tk)
            if isinstance(y, np.ndarray):
                good = 1 + 2.0**(1 - p)
                cells["f64"] = f"{tk}: " + ("correct" if y[0] == good
                                            else f"{_fmt_val(y[0])} (double rounding)")
                if y[0] != good:
                    verdict.append("double rounding from float64")
            else:
                cells["f64"] = "n/a (float32 input only)" if y is None else "error"
        else:
            # P(up) for float32(1/3) and for an exact tie, n_sr samples each
            for label, v in (("P(1/3)", np.float32(1 / 3)), ("P(tie)", np.float32(1 + 2.0**-p))):
                x = np.full(n_sr, v, np.float32)
                lo = float(sr.round(np.array([v]), TARGETS[tk][0], "down")[0])
                hi = float(sr.round(np.array([v]), TARGETS[tk][0], "up")[0])
                expect = (float(v) - lo) / (hi - lo)
                y = call(x, tk)
                if not isinstance(y, np.ndarray):
                    cells[label] = "error" if isinstance(y, str) else "n/a"
                    continue
                p_up = float(np.mean(y == hi))
                stray = int(np.sum((y != hi) & (y != lo)))
                sigma = np.sqrt(expect * (1 - expect) / n_sr)
                z = (p_up - expect) / sigma
                cells[label] = f"{tk}: {p_up:.4f} (exact {expect:.4f}, {z:+.1f} sd)"
                if abs(z) > 5 or stray:
                    verdict.append(f"{label} off: {p_up:.4f} vs {expect:.4f}"
                                   + (f", {stray} values off both neighbours" if stray else ""))
            y = call(np.full(1000, 1.5, np.float32), tk)  # exact value: must stay put
            if isinstance(y, np.ndarray) and np.any(y != 1.5):
                verdict.append("moves exactly representable values")
        none = "none (IEEE 754 round-to-nearest-even)" if mode == "RN" else \
            "none (specials kept, P(up) within 5 sd, exact values unmoved)"
        rows.append((peer, mode, cells, "; ".join(verdict) if verdict else none))
    return rows


# ---------------------------------------------------------------------------- output


def cell(v, base):
    if isinstance(v[0], str):
        return v[0] if v[0] == "n/a" else "error"
    ns, reps = v
    mark = "†" if reps == SLOW_REPEATS else ""
    b = base[0] if base and not isinstance(base[0], str) else None
    return with_ratio(ns, b, mark)


def peer_status_lines(peers):
    lines = []
    for name in ("ml_dtypes", "torch", "pychop", "gfloat", "qtorch", "torchao"):
        p = peers.get(name)
        ver = _version(name)
        if isinstance(p, str):
            lines.append(f"- {name}: **{p}**")
        else:
            extra = ""
            if name == "torchao":
                extra = f", SR function `{getattr(p, '__peer_path__', '?')}`"
            if name == "qtorch":
                extra = ", C++ extension JIT-built by torch.utils.cpp_extension on first import"
            lines.append(f"- {name} {ver}: imported{extra}")
    return lines


FEATURES = [
    "## Features",
    "",
    "What each library offers for rounding arrays, as used in the measurements below "
    "(the tables and notes that follow show how well each does it).",
    "",
    "| library | formats | rounding modes | float64 input | random bits |",
    "|---|---|---|---|---|",
    "| srround | any binary format: precision, exponent range, subnormals, overflow policy, "
    "max | nearest, nearest_away, toward_zero, up, down, odd, stochastic (also with r random "
    "bits), stochastic_equal | rounded once, straight to the target | seeded xoshiro256++ "
    "streams, spawnable; 32 per float32 element, 64 per float64 element |",
    "| NumPy `astype(float16)` | binary16 | nearest | rounded once | – |",
    "| ml_dtypes | bfloat16, float8, float6, float4 types | nearest (casts) | through float32: "
    "rounded twice | – |",
    "| pychop | `Chop(exponent bits, significand bits)`, IEEE-style | nearest, stochastic and "
    "others (`rmode`) | rounded once | NumPy generator (`random_state`) |",
    "| gfloat | formats described by `format_info_*` (IEEE, OCP, P3109) | nearest, stochastic "
    "(`srnumbits` bits) and others | rounded once | supplied by the caller (`srbits`) |",
    "| qtorch | `float_quantize(x, exponent bits, mantissa bits)`, no inf/NaN codes | nearest "
    "(ties away), stochastic | float32 tensors only | torch's generator |",
    "| torch add-random-bits-and-mask | bfloat16 | stochastic (16 random bits) | float32 only "
    "| torch's generator |",
    "| torchao `_fp32_to_bf16_sr` | bfloat16 | stochastic | float32 only | torch's "
    "generator |",
    "",
    "Beyond rounding arrays, srround computes in the format: every operation of its Context "
    "ufuncs, reductions, sums, dot and matrix products, ODE solvers and emulated NumPy code "
    "is rounded once ([Arithmetic](arithmetic.md)); the peers' other features are not "
    "compared here.",
    "",
]


def write_markdown(path, args_line, peers, results, sizes, repeats, notes, runtime_s, load,
                   png=None):
    L = []
    L.append("# srround beside its peers")
    L.append("")
    L.append(f"Produced by `{args_line}` on {datetime.date.today().isoformat()}, "
             f"total runtime {runtime_s:.0f} s.")
    L.append("")
    L.append(f"- machine: `{machine_line()}`, {os.cpu_count()} logical CPUs; one thread "
             "(OMP/MKL/OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1), dask synchronous); "
             f"1-minute load average {load[0][0]:.2f} at the start, {load[1][0]:.2f} at the end "
             "(this run counts for about 1; more means other work shared the two cores)")
    L.append(f"- srround {sr.__version__}, kernels `sr.isa()` = `{sr.isa()}`; NumPy "
             f"{np.__version__}; Python {sys.version.split()[0]}")
    L.extend(peer_status_lines(peers))
    L.append("")
    L.extend(FEATURES)
    L.append("## Speed")
    L.append("")
    L.append(f"ns per element, median of {repeats} calls after one warm-up (†: only "
             f"{SLOW_REPEATS} calls, where one call took more than {SLOW_S:.0f} s); "
             "in brackets the ratio to `np.copyto` of the same array (same dtype, preallocated) "
             "timed in the same run. Input: standard-normal values. "
             "`n/a`: the method has no path for that case (reasons below); "
             "`not installed` / `import failed`: see the peer list above.")
    L.append("")
    if png:   # the figure, linked from the page's own folder
        rel = os.path.relpath(png, os.path.dirname(os.path.abspath(path)))
        L.append(f"![ns per element of every method at {max(sizes):.0e} elements]({rel})")
        L.append("")
    reasons = {}
    for n in sizes:
        L.append(f"### {n:.0e} elements")
        L.append("")
        rows = []
        for name, peer, _, outnote in METHODS:
            status = peers.get(peer) if peer else None
            if isinstance(status, str):
                short = status.split(":")[0]
                cells = [short] * len(CASES)
            else:
                cells = []
                for i, t in CASES:
                    v = results.get((name, n, i, t))
                    base = results.get(("np.copyto (same dtype)", n, i, t))
                    if v is None:
                        cells.append("–")
                        continue
                    if isinstance(v[0], str):
                        reasons.setdefault(name, {}).setdefault(f"{v[0]}: {v[1]}", []).append(
                            f"{i}->{t}")
                    cells.append(cell(v, base))
            rows.append([name] + cells + [outnote])
        L.extend(markdown_table(["method"] + [f"{i}->{t}" for i, t in CASES] + ["output"], rows))
        L.append("")
    if reasons:
        L.append("Cells without a number:")
        L.append("")
        for name, rs in reasons.items():
            for why, where in rs.items():
                L.append(f"- {name} ({', '.join(sorted(set(where)))}): {why}")
        L.append("")
    L.append("Notes on the methods:")
    L.append("")
    for t in FORMAT_NOTES:
        L.append(f"- {t}")
    L.append("- pychop is called with `chunk_size` >= the array size: with its default (800) "
             "round-to-nearest goes through dask in 800-element tasks, about 10x slower on "
             "this machine; stochastic rounding never uses dask.")
    L.append("- gfloat's time includes drawing its 32 random bits per element "
             "(`np.random.default_rng().integers`), as srround's includes its generator.")
    L.append("")
    if not notes:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("\n".join(L))
        return
    L.append("## Correctness notes (measured)")
    L.append("")
    L.append("float32 inputs. Specials are rounded to bfloat16 and binary16 where the peer has "
             "that target. *tie*: 1+2^-p and 1+3·2^-p (p = precision) tell ties-to-even from "
             "ties-away and ties-toward-zero. *fp16 overflow*: 65519, 70000, 1e5 to binary16 "
             "(RN: 65504, +inf, +inf); SR rows use 70000 and 1e5, which lie past 2^16 and must "
             "give +inf under any SR. *f64 input*: float64 1+2^-p+2^-30, whose correct RN is "
             "1+2^(1-p); rounding via float32 lands on the tie and goes to 1. "
             "*P(up)*: fraction of 100000 SR results equal to the upper neighbour, against the "
             "exact probability (sd = standard deviations). NaN 0x7F800001 is a NaN whose "
             "payload is only in the low 16 bits.")
    L.append("")
    cols = ["NaN", "NaN 0x7F800001", "+inf", "-0", "tie", "overflow", "f64", "P(1/3)", "P(tie)"]
    heads = ["NaN", "NaN 0x7F800001", "+inf", "-0", "tie (RN)", "fp16 overflow",
             "f64 input (RN)", "SR P(up), float32(1/3)", "SR P(up), tie"]
    L.extend(markdown_table(["peer", "mode"] + heads + ["deviations found"],
                            [[peer, mode] + [cells.get(c, "–") for c in cols] + [verdict]
                             for peer, mode, cells, verdict in notes]))
    L.append("")
    L.append("One line per peer (from the table above):")
    L.append("")
    by_peer = {}
    for peer, mode, _, verdict in notes:
        by_peer.setdefault(peer, []).append(f"{mode}: {verdict}")
    for peer, vs in by_peer.items():
        L.append(f"- **{peer}** — " + " | ".join(vs))
    for name in ("ml_dtypes", "pychop", "gfloat", "qtorch", "torch", "torchao"):
        if isinstance(peers.get(name), str):
            L.append(f"- **{name}** — not checked ({peers[name]})")
    L.append("")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("\n".join(L))


def write_png(path, results, n):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = [m[0] for m in METHODS
             if any(not isinstance(results.get((m[0], n, i, t), ("n/a",))[0], str)
                    for i, t in CASES)]
    fig, ax = plt.subplots(figsize=(15, 7))
    width = 0.85 / max(len(names), 1)
    colors = {  # a peer's RN and SR share a hue, SR lighter; srround hatched
        "np.copyto (same dtype)": "#7f7f7f", "srround RN": "#1f4e9c", "srround SR": "#e8710a",
        "RN: NumPy astype(float16)": "#8c564b", "RN: ml_dtypes astype": "#2ca02c",
        "RN: pychop Chop rmode=1 (NumPy)": "#8f8f1a", "SR: pychop Chop rmode=5 (NumPy)": "#dbdb8d",
        "RN: gfloat round_ndarray TiesToEven": "#1794a5",
        "SR: gfloat round_ndarray Stochastic": "#9edae5",
        "RN: qtorch float_quantize nearest": "#6a3d9a",
        "SR: qtorch float_quantize stochastic": "#c5b0d5",
        "SR: torch add-16-random-bits-and-mask": "#d62728",
        "SR: torchao _fp32_to_bf16_sr": "#ff9896",
    }
    for k, name in enumerate(names):
        xs, ys = [], []
        for c, (i, t) in enumerate(CASES):
            v = results.get((name, n, i, t))
            if v is not None and not isinstance(v[0], str):
                xs.append(c - 0.425 + (k + 0.5) * width)
                ys.append(v[0])
        style = dict(color=colors.get(name, "#cccccc"), edgecolor="black", linewidth=0.4)
        if name.startswith("srround"):
            style["hatch"] = "//"
        ax.bar(xs, ys, width=width, label=name, **style)
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ticks = [m * 10.0**e for e in range(-3, 5) for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(range(len(CASES)))
    ax.set_xticklabels([f"{i} -> {t}" for i, t in CASES], fontsize=12)
    ax.set_ylabel("ns per element (log scale)", fontsize=12)
    ax.set_title(f"Rounding {n:.0e} standard-normal values, one thread "
                 f"({machine_line().split(':', 1)[-1].strip()}, srround kernels: {sr.isa()})",
                 fontsize=12)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)
    fig.text(0.01, 0.01, "missing bar = no path for that case (see docs/peers.md)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1e5 and 1e6 only, fewer repeats")
    ap.add_argument("--sizes", help="comma-separated element counts, e.g. 1e5,1e6,1e7")
    ap.add_argument("--repeats", type=int, help="timed calls per cell (>= 5 recommended)")
    ap.add_argument("--out-md", default=os.path.join(ROOT, "docs", "peers.md"))
    ap.add_argument("--out-png", default=os.path.join(ROOT, "docs", "peers.png"))
    ap.add_argument("--no-notes", action="store_true", help="skip the correctness notes")
    args = ap.parse_args(argv)
    sizes = [10**5, 10**6] if args.quick else [10**5, 10**6, 10**7]
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    repeats = args.repeats or (5 if args.quick else 9)
    argv_used = sys.argv[1:] if argv is None else list(argv)
    args_line = "python bench/compare_peers.py" + ("".join(" " + shlex.quote(a)
                                                           for a in argv_used))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    log("loading peers ...")
    peers = load_peers()
    for line in peer_status_lines(peers):
        log("  " + line)
    log(f"timing (sizes {sizes}, {repeats} calls per cell) ...")
    results = run_bench(peers, sizes, repeats, log)
    notes = []
    if not args.no_notes:
        log("correctness notes ...")
        notes = run_correctness(peers)
    runtime = time.perf_counter() - t_start
    load = (load_start, os.getloadavg())
    write_markdown(args.out_md, args_line, peers, results, sizes, repeats, notes, runtime, load,
                   png=args.out_png)
    write_png(args.out_png, results, max(sizes))
    log(f"wrote {args.out_md} and {args.out_png} in {runtime:.0f} s")
    with open(args.out_md) as fh:
        print(fh.read())


if __name__ == "__main__":
    main()
