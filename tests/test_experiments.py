"""The experiments (srround/experiments/): each reproduces its paper's result with its
defaults (fixed seeds, so the numbers are deterministic; the bounds below leave room
for a change of seed), and each figure is drawn from the saved JSON data alone.
The command line is tested in tests/test_cli.py.
"""

import ast
import math
import os

import numpy as np
import pytest

import srround as sr
from srround import experiments
from srround.experiments import run


def test_registry():
    assert list(experiments.EXPERIMENTS)[:4] == ["harmonic", "summation", "dot", "manysmall"]
    for exp in experiments.EXPERIMENTS.values():
        assert exp.summary and exp.n >= exp.min_n and exp.runs >= 1 and exp.formats
        assert exp.plot is not None, exp.name


def test_harmonic_reproduces_stagnation_and_sr_mean():
    """Higham & Pranesh (2019) through the experiment with its defaults (n = 1e5):
    RN stagnates, the SR mean tracks the exact sum."""
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
        assert r4 < r8 < exact            # limited random bits: terms lost (Fasi & Mikaitis)
    assert any("k = 513 on" in note for note in res.notes)


def test_summation_slopes():
    """Connolly, Higham & Mary (2021) through the experiment: fitted slopes of the mean
    error of recursive summation, n = 8..16384 in binary16: RN close to 1 (it
    stagnates), SR close to 1/2; pairwise and Kahan barely grow."""
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
    """Many small terms (Connolly, Higham & Mary 2021) through the experiment."""
    res = run("manysmall")
    r = res.data["results"]["binary16"]
    exact = r["exact"]
    assert 290 < exact < 310
    assert r["recursive RN"]["mean"] < exact / 4
    runs = res.data["settings"]["runs"]
    sr_ = r["recursive SR"]
    assert abs(sr_["mean"] - exact) < 5 * sr_["std"] / math.sqrt(runs)
    assert abs(r["kahan RN"]["mean"] - exact) < 4 * sr.binary16.unit_roundoff * exact


def test_tensorcore_reproduces_the_fp8_accumulation_loss():
    """DeepSeek-V3's observation through Hopper's wgmma models, with the defaults
    (K = 256 ... 16384): without promotion the fp8 (e4m3, F = 13) error grows about
    linearly with K and reaches percents at K = 4096 on positive data; promoting the
    partial sums every 128 terms keeps it near 2^-11; bf16 (F = 25) loses far less;
    binary32 accumulation stays within its bound (K - 1) u."""
    res = run("tensorcore")
    sizes = res.data["sizes"]
    assert sizes == [256, 512, 1024, 2048, 4096, 8192, 16384]
    fp8 = res.data["series"]["e4m3"]
    tc, promoted = fp8["uniform"]["TC"]["max"], fp8["uniform"]["promote 128"]["max"]
    assert all(b > a for a, b in zip(tc, tc[1:]))            # grows with K
    assert 0.9 < res.data["slopes"]["e4m3"]["uniform"]["TC"] < 1.3
    at_4096 = res.data["deepseek"]["e4m3"]["uniform"]
    assert 0.02 < at_4096["TC"] < 0.15 and at_4096["promote 128"] < 2.0**-10
    assert max(promoted) < 2.0**-10 and promoted[-1] < tc[-1] / 100
    # zero-mean data: the truncations partly cancel, promotion still helps at large K
    normal = fp8["normal"]
    assert normal["TC"]["max"][-1] < 2.0**-10
    assert normal["promote 128"]["max"][-1] < normal["TC"]["max"][-1] / 10
    bf16 = res.data["series"]["bfloat16"]["uniform"]
    assert bf16["TC"]["max"][-1] < 2.0**-12 and bf16["promote 128"]["max"][-1] < 2.0**-20
    u32 = 2.0**-24
    for per_dist in res.data["series"].values():
        for errs in per_dist.values():
            for K, e in zip(sizes, errs["binary32"]["max"]):
                assert e <= (K - 1) * u32 / (1 - (K - 1) * u32)
    notes = "\n".join(res.notes)
    assert "e4m3, K = 4096, uniform data: max error" in notes and "nearly 2%" in notes
    assert res.rows[0][:3] == ["e4m3", "uniform", 256]


def test_tensorcore_small_runs_and_formats():
    """Any n from 256 (K need not be a multiple of the instruction's k: it is
    zero-padded), formats without a Hopper instruction are skipped with a note, and
    a seed reproduces the numbers."""
    a = run("tensorcore", n=300, formats=("bfloat16", "binary32"), seed=3)
    assert a.data["sizes"] == [256, 300]
    assert {row[0] for row in a.rows} == {"bfloat16"}
    assert any("skipped binary32" in note for note in a.notes)
    assert a.rows == run("tensorcore", n=300, formats=("bfloat16",), seed=3).rows
    assert a.rows != run("tensorcore", n=300, formats=("bfloat16",), seed=4).rows
    fp8 = run("tensorcore", n=256, formats=("e4m3",))
    assert "needs K = 4096" in fp8.notes[-1] and not fp8.data["deepseek"]
    none = run("tensorcore", n=256, formats=("binary64",))
    assert "skipped" in none.data and not none.rows and not experiments.can_plot(none.data)
    with pytest.raises(ValueError, match="at least 256"):
        run("tensorcore", n=128)
    with pytest.raises(ValueError, match="does not use the setting 'rounding'"):
        run("tensorcore", n=256, rounding="nearest")


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


def test_settings_an_experiment_ignores_are_refused():
    """signal quantizes float64 data to fixed point: a format asked of it would be
    silently ignored, so it is an error (its JSON records binary64 all the same)."""
    assert experiments.EXPERIMENTS["signal"].ignores == ("formats",)
    with pytest.raises(ValueError, match="signal does not use the setting 'formats'"):
        run("signal", n=1024, runs=2, formats=("bfloat16",))
    assert run("signal", n=1024, runs=2).data["settings"]["formats"] == ["binary64"]
    with pytest.raises(ValueError, match="unknown settings"):
        experiments.experiment("nope", "", n=1, runs=1, formats=(), ignores=("colour",))
    assert "nope" not in experiments.EXPERIMENTS


# ---------------------------------------------------------------- figures from JSON

# Small runs of every experiment, with non-default formats where they take them
# (two formats, so the per-format panels are checked), shared by the tests below.
SMALL = {"harmonic": dict(n=2000, runs=3, formats=("binary16", "e5m2")),
         "summation": dict(n=64, runs=2, formats=("bfloat16", "e5m2")),
         "dot": dict(n=64, runs=2, formats=("bfloat16", "binary32")),
         "manysmall": dict(n=500, runs=2, formats=("binary16", "bfloat16")),
         "decay": dict(n=64, runs=3),
         "circle": dict(n=64, runs=3),
         "heat": dict(n=256, runs=2),
         "lorenz": dict(n=64, runs=2, formats=("bfloat16", "binary32")),
         "lowprec_training": dict(n=2, runs=1),
         "compress": dict(n=2, runs=1),
         "signal": dict(n=2048, runs=3, rounding="stochastic_equal"),
         "solvers": dict(n=32, runs=2),
         "refinement": dict(n=12, runs=2, formats=("binary16", "bfloat16")),
         "tensorcore": dict(n=512, runs=1, formats=("e5m2", "binary16")),
         "ensemble": dict(n=2000, runs=4)}


def test_small_runs_cover_every_experiment():
    assert set(SMALL) == set(experiments.EXPERIMENTS)


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory):
    """name -> (Result, path of its JSON file): every experiment run small, saved."""
    folder = tmp_path_factory.mktemp("json")
    out = {}
    for name, changes in SMALL.items():
        result = run(name, **changes)
        path = folder / f"{name}.json"
        experiments.write_json(result.data, path)
        out[name] = (result, path)
    return out


@pytest.mark.parametrize("name", list(SMALL))
def test_figure_is_drawn_from_the_json_file_alone(name, saved_results, tmp_path):
    """Every figure needs nothing but its JSON file: read back, it draws one panel per
    format (per format and row, for figures of several rows), titled with the
    format's label, and writes a PNG."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    result, path = saved_results[name]
    data = experiments.read_json(path)
    if not experiments.can_plot(data):
        assert name in ("lowprec_training", "compress") and "skipped" in data
        pytest.skip("scikit-learn is not installed")
    fig = Figure()
    experiments.draw(data, fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert fig.get_suptitle() == result.title
    if name not in ("lowprec_training", "compress", "signal"):
        labels = data["settings"]["formats"]
        rows = experiments.EXPERIMENTS[name].rows
        assert len(titles) == rows * len(labels)
        for i, title in enumerate(titles):        # row by row, a column per format
            label = labels[i % len(labels)]
            assert title.endswith(label) or f"{label}" in title, (title, label)
    png = tmp_path / f"{name}.png"
    assert experiments.write_plot(data, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_nan_and_inf_come_back_for_the_figure(tmp_path):
    """JSON has no nan or inf: they are saved as null and "inf", and the figure code
    reads them back as floats (a slope of nan, a divergence time of inf)."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    result = run("summation", n=8, runs=1, formats=("binary16",))
    result.data["slopes"]["binary16"]["pairwise RN"] = math.nan
    result.data["series"]["binary16"]["kahan SR"][0] = math.inf
    experiments.write_json(result.data, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and '"inf"' in text
    data = experiments.read_json(tmp_path / "s.json")
    assert data["slopes"]["binary16"]["pairwise RN"] is None
    fig = Figure()
    experiments.draw(data, fig)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "pairwise RN (slope nan)" in legend


def test_read_json_refuses_other_files(tmp_path):
    (tmp_path / "a.json").write_text("[1, 2]")
    (tmp_path / "b.json").write_text('{"experiment": "nope", "settings": {}}')
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(ValueError, match="not the JSON file of an srround experiment"):
        experiments.read_json(tmp_path / "a.json")
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        experiments.read_json(tmp_path / "b.json")
    with pytest.raises(ValueError, match="is not JSON"):
        experiments.read_json(tmp_path / "c.json")
    with pytest.raises(OSError):
        experiments.read_json(tmp_path / "missing.json")


def test_experiment_modules_use_no_private_names_of_other_modules():
    """Helpers shared between modules are public names (experiments/common.py): no
    `from x import _y` and no `x._y` on another module."""
    folder = os.path.dirname(experiments.__file__)
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".py"):
            continue
        with open(os.path.join(folder, filename)) as f:
            tree = ast.parse(f.read())
        modules = {alias.asname or alias.name.split(".")[0]
                   for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                private += [part for part in (node.module or "").split(".")
                            if part.startswith("_")]
                assert not private, (filename, node.module, private)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                raise AssertionError(f"{filename}: {node.value.id}.{node.attr}")


@pytest.mark.parametrize("name", ["summation", "dot", "manysmall", "signal"])
def test_nearest_alone_is_compared_once(name):
    """Asked for rounding='nearest', the experiments that compare RN with the chosen
    mode run nearest once (it used to run twice, and the slope fits crashed)."""
    result = experiments.run(name, rounding="nearest", n=2048, runs=2)
    assert not any("SR" in str(c) for c in result.columns)
    assert len(result.rows) == len({tuple(map(str, r)) for r in result.rows})
