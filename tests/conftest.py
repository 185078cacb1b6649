"""Helpers shared by the test files; the test files import them from here.

- FORMATS: one registry of every format the tests use, by name: the presets and the
  custom formats (odd precisions, tiny and huge exponent ranges, no subnormals, each
  overflow policy, reserved-code maxima, near-binary64 formats). A test file picks its
  set with ``formats(...)``.
- DETERMINISTIC, STOCHASTIC, MODES: the rounding modes, written out here rather than
  read from srround, so a mode the library drops or renames fails the tests.
- same_float, assert_same_floats: bitwise-style comparison of floats (NaN equals NaN,
  -0.0 differs from +0.0).
- kernel_paths(): the kernel paths this CPU runs, for tests that compare them.
- twin(ctx): an independent copy of a context at the same point of its stream, which
  hands out in advance the random words the next call will draw.

The exact references sit beside this file: tests/reference.py (Fractions: ref_round,
ref_arith, prob_up), tests/vector_oracle.py (a vectorized exact oracle) and
tests/arith_check.py (the arithmetic checks shared by the adversarial tests). The
pytest setting ``pythonpath = ["tests"]`` (pyproject.toml) makes them importable by
name (``from reference import ref_round``), with no sys.path edits in the test files.
"""
import math
import pickle

import numpy as np

import srround as sr

DETERMINISTIC = ("nearest", "nearest_away", "toward_zero", "up", "down", "odd")
STOCHASTIC = ("stochastic", "stochastic_equal")
MODES = DETERMINISTIC + STOCHASTIC

PRESET_NAMES = ("binary16", "bfloat16", "tf32", "binary32", "binary64", "e5m2", "e4m3",
                "e3m2", "e2m3", "e2m1")

# name -> Format: the presets, then custom formats, named by what sets them apart.
FORMATS = {name: sr.PRESETS[name] for name in PRESET_NAMES}
FORMATS.update({
    # small and odd precisions, tiny and wide exponent ranges
    "p1": sr.Format(1, 6, -6),
    "p1_e5": sr.Format(1, 5, -4),
    "p1_e10": sr.Format(1, 10, -10),
    "p1_sat": sr.Format(1, 3, overflow="saturate"),
    "p1_wide": sr.Format(1, 1023, -1022),
    "p2_e1": sr.Format(2, 1, 0),
    "p3_below_one": sr.Format(3, -5, -10),
    "p3_e127": sr.Format(3, 127, -126),
    "p3_e100_em900": sr.Format(3, 100, -900),
    "p5_e3_em20": sr.Format(5, 3, -20),
    "p5_e9": sr.Format(5, 9),
    "p6_e1000": sr.Format(6, 1000, -1000),
    "ieee_e3m4": sr.Format(5, 3, -2),                   # ml_dtypes float8_e3m4
    "ieee_e4m3": sr.Format(4, 7, -6),                   # ml_dtypes float8_e4m3
    "wide": sr.Format(11, 200),                         # float32 cannot carry it
    "p20_e100": sr.Format(20, 100, -100),
    # no subnormals
    "nosub": sr.Format(4, 5, subnormals=False),
    "p5_e4_nosub": sr.Format(5, 4, -3, subnormals=False),
    "p5_e3_em20_nosub": sr.Format(5, 3, -20, subnormals=False),
    "fp16_nosub_sat": sr.Format(11, 15, -14, subnormals=False, overflow="saturate"),
    "fp32_nosub": sr.Format(24, 127, -126, subnormals=False),
    # the other overflow policies, and maxima below the top of the binade
    "fp16_sat": sr.Format(11, 15, -14, overflow="saturate"),
    "bf16_nan": sr.Format(8, 127, -126, overflow="nan"),
    "p7_e10_nan": sr.Format(7, 10, -10, overflow="nan"),
    "e4m3_inf": sr.Format(4, 8, -6, max=448),
    "e5m2_sat_max": sr.Format(3, 15, -14, overflow="saturate", max=49152),
    # near binary64, whose round-up can carry past the largest float64
    "p53": sr.Format(53, 1023),
    "p53_sat": sr.Format(53, 1023, overflow="saturate"),
    "p53_nosub": sr.Format(53, 1023, subnormals=False),
    "p52": sr.Format(52, 1023),
    "p52_e1000": sr.Format(52, 1000, -1000),
    "p50_e900": sr.Format(50, 900),
    "p50_em1000": sr.Format(50, 1023, -1000),
})


def formats(*entries):
    """A test file's formats, in the order given: each entry a name in FORMATS, or a
    pair (name in the file, name in FORMATS)."""
    chosen = {}
    for entry in entries:
        key, name = entry if isinstance(entry, tuple) else (entry, entry)
        chosen[key] = FORMATS[name]
    return chosen


def same_float(got, want):
    """Equal values with equal signs (-0.0 is not +0.0), or both NaN."""
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def assert_same_floats(got, want, what):
    """got and want, flattened, agree element by element in the sense of same_float;
    the message names `what`, the count of mismatches and the first one."""
    got = np.asarray(got, np.float64).ravel().tolist()
    want = np.asarray(want, np.float64).ravel().tolist()
    assert len(got) == len(want), what
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if not same_float(g, w)]
    assert not bad, (f"{len(bad)} of {len(want)} differ ({what}); first at {bad[0]}: "
                     f"got {got[bad[0]]!r}, want {want[bad[0]]!r}")


def twin(ctx):
    """An independent copy of ctx at the same point of the same stream."""
    return pickle.loads(pickle.dumps(ctx))


def kernel_paths():
    """The kernel paths (srround._core.ISAS) this CPU runs. A context runs one with
    ctx._set_isa(path); contexts are made on the default path, sr.isa()."""
    paths = []
    for name in sr._core.ISAS:
        try:
            sr._core._check_isa(name)
        except ValueError:
            continue
        paths.append(name)
    return paths
