"""What fuzzing (fuzz/fuzz_srround.py) found, as regression tests; and the fuzz
harness's own checks replayed on the inputs that found something (kept in
fuzz/regressions/), so they stay fixed."""
import pathlib

import numpy as np
import pytest

import srround as sr

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"


def test_uniform_scale_beyond_the_data_type_is_refused():
    """A given scale whose codes dequantize beyond float32 gave inf on dequantize."""
    x = np.array(3.407456e-17, np.float32)
    with pytest.raises(ValueError, match="scale is too large"):
        sr.quantize.uniform(x, 2, "up", scale=4.185580495846825e+298, zero_point=0)
    # float64 data can carry it
    t = sr.quantize.uniform(x.astype(np.float64), 2, "up", scale=4.185580495846825e+298)
    assert np.isfinite(t.dequantize()).all()
    # the largest scale float32 can carry still works
    big = float(np.finfo(np.float32).max)
    t = sr.quantize.uniform(np.float32(1.0), 2, "up", scale=big)
    assert t.dequantize() == np.float32(big)


@pytest.mark.parametrize("path", sorted((FUZZ / "regressions").glob("*")), ids=lambda p: p.name)
def test_fuzz_inputs_replay(path):
    pytest.importorskip("atheris")
    import importlib.util
    spec = importlib.util.spec_from_file_location("fuzz_srround", FUZZ / "fuzz_srround.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    harness.one_input(path.read_bytes())     # raises on a finding


def test_membership_check_of_the_harness():
    """fuzz_srround.in_format against the values of small formats listed one by one."""
    pytest.importorskip("atheris")
    import importlib.util
    spec = importlib.util.spec_from_file_location("fuzz_srround", FUZZ / "fuzz_srround.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    for fmt in (sr.e2m1, sr.e3m2, sr.Format(3, 3, subnormals=False), sr.e4m3):
        values = set()
        for e in range(fmt.emin - 1, fmt.emax + 1):
            for m in range(2 ** (fmt.precision - 1)):
                if e < fmt.emin:                       # subnormals
                    if fmt.subnormals:
                        values.add(m * 2.0 ** (fmt.emin - fmt.precision + 1))
                else:
                    values.add((2 ** (fmt.precision - 1) + m) * 2.0 ** (e - fmt.precision + 1))
        values = np.array(sorted({0.0} | {v for v in values if v <= fmt.max}))
        assert harness.in_format(values, fmt).all()
        assert harness.in_format(-values, fmt).all()
        between = (values[:-1] + values[1:]) / 2           # midpoints are never values
        assert not harness.in_format(between, fmt).any()
        assert not harness.in_format(-between, fmt).any()
        assert not harness.in_format(np.array([fmt.max * 1.0625, 2 * fmt.max]), fmt).any()
