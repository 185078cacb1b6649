"""pytest-benchmark suite:  python -m pytest bench/bench_round.py --benchmark-only

Rounding 1e6 and 1e7 standard-normal values, RN and SR, beside np.copyto and the
NumPy / ml_dtypes casts, with preallocated output.
"""
import pytest

from cases import CONVERSIONS, SIZES, methods, target_dtype
from timing import standard_normal

CASES = [(label, dt, fmt, tgt, n) for label, dt, fmt, tgt in CONVERSIONS for n in SIZES]


@pytest.mark.parametrize("label,dtype,fmt,target,n", CASES,
                         ids=[f"{c[0]}-{c[4]:.0e}" for c in CASES])
@pytest.mark.parametrize("method", ["np.copyto (same dtype)", "srround RN", "srround SR",
                                    "srround SR bits=8", "cast"])
def test_round(benchmark, label, dtype, fmt, target, n, method):
    x = standard_normal(n, dtype)
    m = methods(x, fmt, target_dtype(target))
    if method == "cast":
        method = next((k for k in m if "astype" in k), None)
        if method is None:
            pytest.skip("ml_dtypes is not installed")
    benchmark.extra_info["ns_per_element"] = None
    benchmark.pedantic(m[method], rounds=7, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:   # None under --benchmark-disable
        benchmark.extra_info["ns_per_element"] = benchmark.stats.stats.median / n * 1e9
