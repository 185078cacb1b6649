"""Build and run the C core's own test driver (csrc/test_core.c) with its Makefile.

The sources are copied into a temporary directory and built there, so the
repository tree is left as it was."""
import os
import shutil
import subprocess

import pytest

CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")


def test_c_core_driver(tmp_path):
    if shutil.which("cc") is None and not os.environ.get("CC"):
        pytest.skip("no C compiler: 'cc' is not on PATH (set CC to use another)")
    if shutil.which("make") is None:
        pytest.skip("'make' is not on PATH")
    build = tmp_path / "csrc"
    shutil.copytree(CSRC, build, ignore=shutil.ignore_patterns("test_core", "*.o"))
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(build), "test"], capture_output=True, text=True,
                          timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("make")]
    assert lines, output
    last = lines[-1].strip()
    assert last.endswith(" 0 failed") and "passed" in last, output
