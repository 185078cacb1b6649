"""Every float32 bit pattern (all 2**32), rounded by srround and compared with
independent oracles (tests/exhaustive_oracle.py):

* round to nearest into binary16 (NumPy's float16 cast), bfloat16, e5m2, e4m3,
  e3m2, e2m3 and e2m1 (ml_dtypes' casts);
* nearest, nearest_away, toward_zero, up, down and odd into bfloat16 and e4m3
  (the exact binade oracle).

0 mismatches allowed. Opt-in: SRROUND_EXHAUSTIVE=1 (CI runs it as its own step);
SRROUND_EXHAUSTIVE_PROCS sets the number of worker processes (default: every CPU).
Memory stays far below 2 GB: one binade (2**23 patterns, 32 MiB) per worker at a
time. The default run checks the machinery on a few binades and the binade oracle
against tests/vector_oracle.py.
"""
import multiprocessing
import os
import sys
import time

import numpy as np
import pytest

import srround as sr
from exhaustive_oracle import (DETERMINISTIC, MODE_FORMATS, NEAREST_FORMATS, PATTERNS,
                               Binade, all_binades, binade, check_binade)
from vector_oracle import Split, same_bits

ENABLED = os.environ.get("SRROUND_EXHAUSTIVE", "") not in ("", "0")


def _check(task):
    return task, check_binade(*task)


def _processes():
    return int(os.environ.get("SRROUND_EXHAUSTIVE_PROCS", 0)) or os.cpu_count() or 1


@pytest.mark.exhaustive
@pytest.mark.skipif(not ENABLED, reason="every float32 pattern: set SRROUND_EXHAUSTIVE=1")
def test_every_float32_pattern():
    tasks = all_binades()
    # the binades with the slowest rounding first, so the workers finish together
    tasks.sort(key=lambda t: -abs(t[0] - 127))
    totals, examples = {}, {}
    start = time.perf_counter()
    processes = _processes()
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(processes) as pool:
        for done, ((E, sign), (results, _)) in enumerate(pool.imap_unordered(_check, tasks), 1):
            if done % 64 == 0:
                print(f"  {done} of {len(tasks)} binades, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
            for name, compared, bad, shown in results:
                seen, wrong = totals.get(name, (0, 0))
                totals[name] = (seen + compared, wrong + bad)
                if bad:
                    examples.setdefault(name, []).extend(shown)
    elapsed = time.perf_counter() - start
    lines = [f"{name}: {seen} patterns, {wrong} mismatches"
             for name, (seen, wrong) in sorted(totals.items())]
    print(f"\nexhaustive float32 check: {elapsed:.0f} s with {processes} processes\n"
          + "\n".join(lines))
    assert not examples, "\n".join(f"{n}: " + "; ".join(ex[:3]) for n, ex in examples.items())
    # every pattern went through every check; the fp6/fp4 casts have no NaN, so
    # srround's NaN results there are checked to be NaN instead of against a cast
    no_nan = ("e3m2", "e2m3", "e2m1")
    assert len(totals) == len(NEAREST_FORMATS) + len(no_nan) \
        + len(MODE_FORMATS) * len(DETERMINISTIC)
    for name, (seen, _) in totals.items():
        if "NaN stays NaN" in name:
            assert seen == 2 * (PATTERNS - 1), name
        elif name.split()[0] in no_nan and "nearest vs" in name:
            assert seen == 2**32 - 2 * (PATTERNS - 1), name
        else:
            assert seen == 2**32, name


# ---------------------------------------------------------------- always run

@pytest.mark.parametrize("E,sign", [(120, 0), (136, 1),
                                    pytest.param(0, 1, marks=pytest.mark.slow),
                                    pytest.param(255, 0, marks=pytest.mark.slow)])
def test_check_binade_machinery(E, sign):
    """check_binade itself on a few binades: all checks present, none failing."""
    results, _ = check_binade(E, sign)
    names = [r[0] for r in results]
    assert sum("vs binade oracle" in n for n in names) == len(MODE_FORMATS) * len(DETERMINISTIC)
    assert sum("nearest vs" in n and "binade" not in n for n in names) == 7
    assert [r for r in results if r[2]] == []


@pytest.mark.parametrize("name", MODE_FORMATS)
def test_binade_oracle_agrees_with_vector_oracle(name):
    """The binade oracle against tests/vector_oracle.py (itself checked against the
    Fraction reference) in every binade and mode: random patterns and the edges of
    every column class, where an off-by-one would show."""
    fmt = sr.format(name)
    rng = np.random.default_rng(len(name))
    for E in range(255):
        for sign in (0, 1):
            structure = Binade(E, sign, fmt)
            index = np.concatenate([structure.boundaries(), rng.integers(0, PATTERNS, 32)])
            x = binade(E, sign)[index]
            split = Split(x, fmt)
            for mode in DETERMINISTIC:
                want = split.result(mode).astype(np.float32)
                got = structure.expected_at(mode, index)
                ok = same_bits(got, want)
                assert ok.all(), (name, mode, E, sign, x[~ok][:4])


def test_binade_oracle_catches_a_wrong_result():
    """A single wrong bit in a rounded binade is found and located."""
    fmt = sr.bfloat16
    x = binade(127, 0)
    got = sr.round(x, fmt, "nearest")
    structure = Binade(127, 0, fmt)
    assert structure.mismatches(got, "nearest").size == 0
    got = got.copy()
    got.view(np.uint32)[12345] ^= 1 << 16
    assert structure.mismatches(got, "nearest").tolist() == [12345]
    assert structure.mismatches(got, "toward_zero").size > 1000
