#!/usr/bin/env bash
# Packaging check (issue 11): `python -m build` makes the sdist and, from it, the
# wheel; the sdist holds every tracked file of csrc/ (headers too), tests/, docs/ and
# bench/; the wheel installs into a fresh venv with NumPy as its only dependency and
# works there: import, sr.round, a Context ufunc, `python -m srround list`, and an
# experiment that writes its table and JSON without matplotlib.
# Needs: python3 with the `build` package, network access for the build requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 \
    || { tail -50 "$work/build.log"; echo "check_package: python -m build failed"; exit 1; }
sdist=$(ls "$work"/dist/srround-*.tar.gz)
wheel=$(ls "$work"/dist/srround-*.whl)
echo "check_package: built $(basename "$sdist") and $(basename "$wheel")"

# The sdist: what a build, the tests, the benchmarks and the docs need.
tar -tzf "$sdist" | sed 's|^[^/]*/||' | sort > "$work/sdist.txt"
for f in LICENSE README.md pyproject.toml setup.py srround/_core.pyx srround/_version.py \
         srround/experiments/__init__.py .ci/run; do
    grep -qxF "$f" "$work/sdist.txt" || { echo "check_package: sdist lacks $f"; exit 1; }
done
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    missing=$(git ls-files csrc tests docs bench | sort | comm -23 - "$work/sdist.txt")
    if [ -n "$missing" ]; then
        echo "check_package: sdist lacks tracked files:"; echo "$missing"; exit 1
    fi
fi
if grep -E '\.(so|o|pyc)$|(^|/)__pycache__/' "$work/sdist.txt"; then
    echo "check_package: sdist holds build products"; exit 1
fi

# The wheel, in a fresh venv, away from this checkout (no PYTHONPATH, another folder).
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
env -u PYTHONPATH "$py" -m pip install -q "$wheel"
cd "$work"
env -u PYTHONPATH "$py" - <<'PY'
import importlib.metadata as md
import importlib.util
import os

import numpy as np
import srround as sr

assert os.path.dirname(sr.__file__).startswith(os.path.dirname(os.path.dirname(np.__file__)))
assert sr.__version__ == md.version("srround")
requires = [r for r in md.requires("srround") if "extra ==" not in r]
assert [r.split(">")[0].split("=")[0].strip() for r in requires] == ["numpy"], requires
for name in ("matplotlib", "scipy", "sklearn"):
    assert importlib.util.find_spec(name) is None, f"{name} installed with srround"
x = np.array([1.0, 1 + 2.0**-9, 3.0e5], np.float32)
assert sr.round(x, sr.bfloat16).tolist() == [1.0, 1.0, 299008.0]
ctx = sr.Context(sr.binary16, "stochastic", rng=0)
s = ctx.add(np.float32(2048.0), np.ones(1000, np.float32))
assert set(s.tolist()) <= {2048.0, 2050.0} and 2050.0 in s.tolist()
print("check_package: wheel works:", sr.__version__, "kernels", sr.isa())
PY
env -u PYTHONPATH "$py" -m srround list > "$work/list.txt"
grep -q "^  harmonic " "$work/list.txt" || { echo "check_package: no experiments listed"; exit 1; }
env -u PYTHONPATH "$py" -m srround manysmall --n 200 --runs 2 --out "$work/out" > "$work/run.txt"
grep -q "pip install 'srround\[plot\]'" "$work/run.txt" && test -s "$work/out/manysmall.json" \
    || { cat "$work/run.txt"; echo "check_package: run without matplotlib failed"; exit 1; }
echo "check_package: done in $((SECONDS - start)) s"
