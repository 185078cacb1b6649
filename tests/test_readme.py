"""The README's quick start runs as written (so it cannot rot)."""
import os
import re


def test_quick_start_runs():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md quick start", "exec"), namespace)
    sr = namespace["sr"]
    assert namespace["y"].dtype == namespace["x"].dtype
    assert namespace["C"].shape == (64, 16)
    assert namespace["res"].y.shape[0] == 100
    # the rounded results hold values of their formats
    assert (sr.round(namespace["y"], sr.bfloat16) == namespace["y"]).all()
