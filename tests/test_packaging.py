"""Packaging promises that tests can check in place (.ci/check_package.sh builds the
sdist and wheel and installs the wheel into a fresh venv)."""
import os
import subprocess
import sys

import srround as sr
from srround import _version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_importing_srround_needs_numpy_only():
    """`pip install srround` brings NumPy alone: importing every module (experiments and
    command line included) must not import an optional dependency."""
    code = ("import sys, srround, srround.experiments, srround.cli, srround.ode, "
            "srround.quantize\n"
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn', 'ml_dtypes', "
            "'gfloat', 'dask') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_version_in_one_place():
    assert sr.__version__ == _version.__version__
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = {attr = "srround._version.__version__"}' in pyproject
    with open(os.path.join(ROOT, "LICENSE")) as f:
        assert f.readline().strip() == "BSD 3-Clause License"
