"""The experiments (srround/experiments.py) and the command line (srround/cli.py).

The experiments must reproduce references.md items 1-3 with their defaults (fixed
seeds, so the numbers are deterministic; the bounds below leave room for a change of
seed), and the command line must print tables and write JSON and PNG files.
"""

import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import srround as sr
from srround import cli, experiments
from srround.experiments import run


def test_registry():
    assert list(experiments.EXPERIMENTS)[:4] == ["harmonic", "summation", "dot", "manysmall"]
    for exp in experiments.EXPERIMENTS.values():
        assert exp.summary and exp.n >= exp.min_n and exp.runs >= 1 and exp.formats


def test_harmonic_reproduces_stagnation_and_sr_mean():
    """references.md item 1, through the experiment with its defaults (n = 1e5)."""
    res = run("harmonic")
    stag = res.data["stagnation"]
    assert stag["binary16"]["value"] == 7.0859375 and stag["binary16"]["from_k"] == 512
    assert stag["bfloat16"]["value"] == 5.0625
    runs = res.data["settings"]["runs"]
    last = {row[0]: row for row in res.rows if row[1] == 10**5}
    for name, row in last.items():
        _, n, exact, rn, mean, std, r8, r4 = row
        assert abs(exact - 12.0901) < 1e-4
        assert rn == stag[name]["value"]
        assert abs(mean - exact) < 5 * std / math.sqrt(runs), (name, mean, std)
        assert r4 < r8 < exact            # limited random bits: terms lost (item 5)
    assert any("k = 513 on" in note for note in res.notes)


def test_summation_slopes():
    """references.md item 2 through the experiment: fitted slopes of the mean error
    of recursive summation, n = 8..16384 in binary16: RN close to 1 (it stagnates),
    SR close to 1/2; pairwise and Kahan barely grow."""
    res = run("summation")
    slopes = res.data["slopes"]["binary16"]
    assert 0.75 <= slopes["recursive RN"] <= 1.2
    assert 0.35 <= slopes["recursive SR"] <= 0.6
    for label in ("pairwise RN", "pairwise SR", "kahan RN", "kahan SR"):
        assert abs(slopes[label]) < 0.2
    u = sr.binary16.unit_roundoff
    for row in res.rows:
        n = row[1]
        assert row[5] <= 2 * math.sqrt(n) * u      # recursive SR below 2 sqrt(n) u


def test_dot_slopes():
    res = run("dot")
    slopes = res.data["slopes"]["binary16"]
    assert 0.8 <= slopes["RN"] <= 1.2
    assert 0.3 <= slopes["SR"] <= 0.6
    assert slopes["RN, binary32 accumulate"] < 0    # only the products' errors remain


def test_many_small_terms():
    """references.md item 3 through the experiment."""
    res = run("manysmall")
    r = res.data["results"]["binary16"]
    exact = r["exact"]
    assert 290 < exact < 310
    assert r["recursive RN"]["mean"] < exact / 4
    runs = res.data["settings"]["runs"]
    sr_ = r["recursive SR"]
    assert abs(sr_["mean"] - exact) < 5 * sr_["std"] / math.sqrt(runs)
    assert abs(r["kahan RN"]["mean"] - exact) < 4 * sr.binary16.unit_roundoff * exact


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown experiment"):
        run("nope")
    with pytest.raises(ValueError, match="at least 8"):
        run("summation", n=4)
    with pytest.raises(ValueError, match="runs"):
        run("harmonic", runs=0)
    with pytest.raises(ValueError, match="rounding"):
        run("harmonic", n=100, rounding="sideways")
    with pytest.raises(ValueError):
        run("harmonic", n=100, formats=("binary17",))
    with pytest.raises(ValueError, match="seed"):
        run("harmonic", n=100, seed=-1)


def test_reproducible_and_other_options():
    a = run("summation", n=64, runs=3, seed=5, formats=("bfloat16", "e5m2"))
    b = run("summation", n=64, runs=3, seed=5, formats=("bfloat16", "e5m2"))
    assert a.rows == b.rows
    assert {row[0] for row in a.rows} == {"bfloat16", "e5m2"}
    c = run("summation", n=64, runs=3, seed=6, formats=("bfloat16", "e5m2"))
    assert a.rows != c.rows
    h = run("harmonic", n=2000, runs=3, rounding="stochastic_equal", formats=("binary16",))
    assert h.columns[4] == "SR-equal mean" and len(h.columns) == 6
    d = run("dot", n=16, runs=2, formats=("binary32",))
    assert "RN, binary32 accumulate" not in d.columns


def test_format_table():
    res = run("manysmall", n=1000, runs=3)
    text = experiments.format_table(res)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["format", "method", "rounding"]
    assert set(lines[1]) == {"-"}
    assert len(lines) == 2 + len(res.rows)


def test_fitted_slope():
    ns = 2.0 ** np.arange(10)
    assert experiments.fitted_slope(ns, 3 * ns**0.5) == pytest.approx(0.5)
    assert experiments.fitted_slope(ns, ns * 0 + 1e-3) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(experiments.fitted_slope([1, 2], [0.0, np.inf]))


# ---------------------------------------------------------------- command line

def strict_json(path):
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name}")
    with open(path) as f:
        return json.load(f, parse_constant=reject)


def test_cli_all_writes_tables_json_and_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["all", "--n", "2000", "--runs", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in experiments.EXPERIMENTS:
        assert f"== {name}" in out
        data = strict_json(tmp_path / f"{name}.json")
        assert data["experiment"] == name and data["settings"]["n"] == 2000
        assert data["rows"] and data["columns"]
        png = tmp_path / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "7.085938" in out and "5.0625" in out
    assert "fitted log-log slopes" in out


def test_cli_default_is_quick_all(tmp_path, monkeypatch, capsys):
    """The README's main job: `python -m srround` with no arguments runs every
    experiment with its defaults into ./srround-out."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "all done" in out
    for name in experiments.EXPERIMENTS:
        assert (tmp_path / "srround-out" / f"{name}.json").exists()
        assert (tmp_path / "srround-out" / f"{name}.png").exists()


def test_cli_one_experiment_options(tmp_path, capsys):
    assert cli.main(["harmonic", "--format", "bf16", "--n", "3000", "--runs", "4",
                     "--seed", "3", "--out", str(tmp_path), "--no-plot"]) == 0
    data = strict_json(tmp_path / "harmonic.json")
    assert data["settings"] == {"formats": ["bfloat16"], "rounding": "stochastic",
                                "n": 3000, "runs": 4, "seed": 3}
    assert not (tmp_path / "harmonic.png").exists()
    assert sorted(os.listdir(tmp_path)) == ["harmonic.json"]


def test_cli_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in experiments.EXPERIMENTS:
        assert name in out


@pytest.mark.parametrize("argv", [["nope"], ["harmonic", "--format", "binary17"],
                                  ["summation", "--n", "4"], ["harmonic", "--runs", "0"],
                                  ["harmonic", "--seed", "-1"],
                                  ["harmonic", "--rounding", "sideways"]])
def test_cli_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert "error" in capsys.readouterr().err


def test_plot_skipped_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert cli.main(["manysmall", "--n", "500", "--runs", "2", "--out", str(tmp_path)]) == 0
    assert "plot skipped" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["manysmall.json"]


def test_progress_bar():
    buf = io.StringIO()
    bar = cli.ProgressBar("demo", stream=buf)
    assert not bar.enabled                       # not a terminal: silent
    bar(0.5)
    bar.close()
    assert buf.getvalue() == ""
    bar = cli.ProgressBar("demo", stream=buf, enabled=True)
    for f in (0.0, 0.5, 0.51, 1.0):
        bar(f)
    bar.close()
    text = buf.getvalue()
    assert "demo [" in text and "100%" in text and text.count("%") == 3   # 0.51 not redrawn
    assert text.endswith("\r")                 # the line is cleared at the end


def test_python_dash_m(tmp_path):
    out = subprocess.run([sys.executable, "-m", "srround", "list"], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert "harmonic" in out.stdout and out.stderr == ""
