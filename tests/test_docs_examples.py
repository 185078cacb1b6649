"""Every ```python block of README.md and docs/**/*.md runs, so the documentation
cannot rot.

Each block runs on its own, in a fresh namespace and a temporary working
directory: a reader must be able to paste any one block into Python. A block
written as an interactive session (lines starting with ">>>") runs as a doctest,
its printed output checked. A block that deliberately does not run (rare) is
marked by an HTML comment on the line just before its fence:

    <!-- not-runnable: why -->

and a block that goes on from the one before it on the same page (a walk-through) by

    <!-- continues -->

it then runs after the blocks it continues, in their namespace.
"""
import doctest
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))

# a fence line, optionally preceded by a comment on the line just before it
FENCE = re.compile(r"(?:^<!--\s*(?P<mark>[^>]*?)\s*-->\n)?^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```\s*$",
                   re.M | re.S)
NOT_RUNNABLE = "not-runnable:"
CONTINUES = "continues"


def python_blocks(text):
    """(line number, code, mark) of every ```python block in a Markdown text."""
    for m in FENCE.finditer(text):
        if m.group("lang").strip().lower() not in ("python", "py", "pycon"):
            continue
        line = text.count("\n", 0, m.start("body")) + 1
        yield line, m.group("body"), (m.group("mark") or "")


def _cases():
    for page in PAGES:
        chain = ""     # the blocks a block marked "continues" goes on from
        for line, code, mark in python_blocks(page.read_text(encoding="utf-8")):
            name = f"{page.relative_to(ROOT)}:{line}"
            if mark == CONTINUES:
                assert chain, f"{name}: continues, but no block comes before it"
                code = chain + code
            chain = code
            marks = ()
            if mark.startswith(NOT_RUNNABLE):
                reason = mark[len(NOT_RUNNABLE):].strip()
                assert reason, f"{name}: say why the block does not run"
                marks = (pytest.mark.skip(reason=f"marked not runnable: {reason}"),)
            yield pytest.param(name, code, id=name, marks=marks)


@pytest.mark.parametrize("name,code", list(_cases()))
def test_code_block_runs(name, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if code.lstrip().startswith(">>>"):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(code, {}, name, name, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS
                                       | doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, f"{name}: {runner.failures} doctest example(s) failed"
    else:
        exec(compile(code, name, "exec"), {"__name__": "__docs__"})


def test_blocks_are_found():
    """The collector sees the README's quick start and the docs' examples (a broken
    pattern would otherwise pass by testing nothing)."""
    names = [c.values[0] for c in _cases()]
    assert any(n.startswith("README.md:") for n in names)
    assert sum(n.startswith("docs/experiments.md:") for n in names) >= 2


def test_marker_syntax():
    text = "<!-- not-runnable: needs a GPU -->\n```python\nimport cupy\n```\n" \
           "```python\nx = 1\n```\n```bash\nls\n```\n<!-- continues -->\n```python\ny = x\n```\n"
    blocks = list(python_blocks(text))
    assert [(b[1], b[2]) for b in blocks] == [("import cupy\n", "not-runnable: needs a GPU"),
                                              ("x = 1\n", ""), ("y = x\n", "continues")]
