"""The documentation site (docs/) stays complete and true without building it: every
page is reachable, every public name is in the API reference, every figure is shown,
the generated presets table is current, the rounding-mode figure shows what srround
does, the C API page's program compiles and prints what the page says, and the README
points to the site. (CI also builds the site with warnings as errors and runs its
doctests; tests/test_docstrings.py and tests/test_docs_examples.py run the examples.)
"""
import importlib
import importlib.util
import inspect
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

import srround
import srround.experiments
import srround.hardware
import srround.linalg
import srround.ode
import srround.quantize

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _tool(name):
    """A script of docs/tools/ as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"docs_tool_{name}",
                                                  DOCS / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toctree_entries(text):
    entries = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, re.S):
        entries += [line.strip() for line in block.splitlines()
                    if line.strip() and not line.startswith(":")]
    return entries


def test_readme_points_to_the_site():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^\*\*Documentation\*\*(.*?)\n\n", readme, re.M | re.S)
    assert m, "README needs a paragraph starting '**Documentation**'"
    paragraph = " ".join(m.group(1).split())
    assert "(docs/index.md)" in paragraph, "linking the site's entry point, docs/index.md"
    assert "sphinx -W -b html docs docs/_build/html" in paragraph, "and saying how to build it"
    assert (DOCS / "index.md").is_file()
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert re.search(r'^root_doc = "index"$', conf, re.M)


def test_every_page_is_in_a_toctree():
    entries = set(_toctree_entries((DOCS / "index.md").read_text(encoding="utf-8")))
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert pages - entries == set(), "pages missing from the toctrees of docs/index.md"
    assert {e for e in entries if not e.startswith("api/")} <= pages, "toctree entries without a page"
    assert "api/index" in entries


MODULE_PAGES = {"srround": "srround", "srround.ode": "ode", "srround.quantize": "quantize",
                "srround.linalg": "linalg", "srround.hardware": "hardware",
                "srround.experiments": "experiments", "srround.dask": "dask"}


@pytest.mark.parametrize("module_name,page", MODULE_PAGES.items())
def test_api_reference_lists_every_public_name(module_name, page):
    if module_name == "srround.dask":
        pytest.importorskip("dask")
    module = importlib.import_module(module_name)
    text = (DOCS / "api" / f"{page}.rst").read_text(encoding="utf-8")
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    assert re.search(rf"^\s+{page}$", index, re.M), f"api/{page}.rst not in api/index.rst"
    missing = []
    for name in module.__all__:
        if inspect.ismodule(getattr(module, name)):
            assert f"{module_name}.{name}" in MODULE_PAGES, f"{module_name}.{name} has no page"
            continue
        # an autosummary entry, a data directive or one of its continuation lines
        if not re.search(rf"^(\s+|\.\. data:: ){name}$", text, re.M):
            missing.append(name)
    if module is srround:
        missing += [n for n in srround.PRESETS if not re.search(rf"^\s+{n}$|:: {n}$", text, re.M)]
    assert not missing, f"docs/api/{page}.rst does not list {missing}"


def test_every_figure_is_shown_and_every_experiment_has_its_section():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    for png in sorted(DOCS.glob("*.png")) + sorted((DOCS / "figures").glob("*.png")):
        name = png.relative_to(DOCS).as_posix()
        assert f"]({name})" in pages, f"docs/{name} is on no page"
    experiments = (DOCS / "experiments.md").read_text(encoding="utf-8")
    for name, exp in srround.experiments.EXPERIMENTS.items():
        assert f"python -m srround {name}" in experiments, f"no command for {name}"
        if exp.plot is not None:
            assert f"figures/{name}.png" in experiments, f"no figure for {name}"
            assert (DOCS / "figures" / f"{name}.png").is_file()


def test_presets_table_is_current():
    tool = _tool("presets_table")
    assert set(srround.PRESETS) <= set(tool.SOURCES), "a preset without a source"
    text = (DOCS / "number-formats.md").read_text(encoding="utf-8")
    assert tool.updated(text) == text, "run python docs/tools/presets_table.py"
    for name, fmt in srround.PRESETS.items():      # the numbers are the Format's
        row = next(l for l in text.splitlines() if l.startswith(f"| `sr.{name}` |"))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert [int(cells[2]), int(cells[3]), int(cells[4])] == [fmt.precision, fmt.emin,
                                                                  fmt.emax]
        assert float(cells[5]) == pytest.approx(fmt.max, rel=1e-5)


def test_rounding_modes_figure_shows_what_srround_does():
    """The figure's dots (sr.round) agree with its lines (each mode's definition,
    written independently in the script): exactly for deterministic modes, within 5
    sigma of the exact probability for the stochastic ones."""
    tool = _tool("rounding_modes")
    data = tool.probabilities(draws=2000, seed=1)
    assert set(data) == {label for label, _, _ in tool.MODES}
    for label, (xs, exact, measured, n) in data.items():
        assert np.all((exact >= 0) & (exact <= 1))
        if n == 1:
            assert np.array_equal(measured, exact), label
        else:
            sigma = np.sqrt(exact * (1 - exact) / n)
            assert np.all(np.abs(measured - exact) <= 5 * sigma + 1e-12), label
    # the definitions themselves, at points worked out by hand: x = 0.25 s, 0.5 s
    # (a tie between 0 and s) and -0.75 s
    k, f = np.array([0.0, 0.0, -1.0]), np.array([0.25, 0.5, 0.25])
    expect = {"nearest": [0, 0, 0], "nearest_away": [0, 1, 0], "toward_zero": [0, 0, 1],
              "up": [1, 1, 1], "down": [0, 0, 0], "odd": [1, 1, 0],
              "stochastic": [0.25, 0.5, 0.25], "stochastic_equal": [0.5, 0.5, 0.5]}
    for rounding, values in expect.items():
        assert tool.exact_probability(rounding, None, k, f).tolist() == values, rounding
    # 2 random bits: P(away from 0) truncated to quarters. x = 0.3 s: P(up) = 0.3 ->
    # 0.25; x = -0.7 s: P(down, away from 0) = 0.7 -> 0.5, so P(up) = 0.5
    assert tool.exact_probability("stochastic", 2, np.array([0.0, -1.0]),
                                  np.array([0.3, 0.3])).tolist() == [0.25, 0.5]


def _c_block_and_output(page):
    text = page.read_text(encoding="utf-8")
    m = re.search(r"^```c\n(.*?)^```\n\nprints\n\n```text\n(.*?)^```", text, re.M | re.S)
    assert m, f"{page.name}: no C program followed by 'prints' and its output"
    return text, m.group(1), m.group(2)


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_c_api_example_compiles_and_prints_what_the_page_says(tmp_path):
    page = DOCS / "c-api.md"
    text, program, output = _c_block_and_output(page)
    flags = re.search(r'^CFLAGS="([^"]*)"$', text, re.M).group(1).split()
    assert "-ffp-contract=off" in flags and "-ffast-math" not in flags
    sources = sorted(str(p) for p in (ROOT / "csrc").glob("*.c")
                     if not p.name.startswith("test_"))      # as the page says
    (tmp_path / "example.c").write_text(program, encoding="utf-8")
    cc = os.environ.get("CC", "cc")
    # the example warning-free; the core as the page builds it
    subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'csrc'}", "-c",
                    str(tmp_path / "example.c"), "-o", str(tmp_path / "example.o")],
                   check=True, capture_output=True, text=True)
    subprocess.run([cc, *flags, str(tmp_path / "example.o"), *sources, "-lm", "-o",
                    str(tmp_path / "example")], check=True, capture_output=True, text=True)
    done = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True,
                          check=True)
    assert done.stdout == output
