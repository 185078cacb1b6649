"""Every public name has a numpydoc docstring, and every example in a docstring runs.

The public names are the ``__all__`` of the modules the API reference documents
(docs/api/). Functions and classes need the sections a user reads first: Parameters
(when they take any), Returns (functions) and Examples; methods and properties need
a docstring. Every ``>>>`` example of those docstrings, and of their methods and
properties, runs as a doctest, with ``np`` (NumPy) and ``sr`` (srround) already
imported, as the API reference states. The Sphinx build checks the same docstrings
against the signatures (numpydoc validation: every parameter documented, no unknown
ones); this test needs no Sphinx.
"""
import dataclasses
import doctest
import inspect
import re
import subprocess
import sys

import numpy as np
import pytest

import srround
import srround.experiments
import srround.hardware
import srround.linalg
import srround.ode
import srround.quantize

MODULES = [srround, srround.ode, srround.quantize, srround.linalg, srround.hardware,
           srround.experiments]

# EmulatedArray mirrors ndarray's methods (reshape, sum, ...): NumPy documents those
MIRRORED = {"EmulatedArray": {"values", "context", "format", "sum_method", "accumulate"}}


def _section(doc, title):
    return re.search(rf"^\s*{title}\n\s*-{{{len(title)}}}\s*$", doc, re.M) is not None


def _documented_names(cls):
    """The names a class docstring documents in its Attributes and Parameters
    sections (a dataclass's fields are its parameters)."""
    doc = inspect.getdoc(cls) or ""
    names = set()
    for title in ("Attributes", "Parameters"):
        m = re.search(rf"^{title}\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.M | re.S)
        for line in (m.group(1).splitlines() if m else ()):
            if line and not line[0].isspace():
                names.update(n.strip() for n in line.split(":")[0].split(","))
    return names


def _takes_parameters(obj):
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return True
    return any(p.name not in ("self", "cls") for p in signature.parameters.values())


def _defined_here(obj):
    module = getattr(obj, "__module__", None) or ""
    return module.startswith("srround")


def public_names():
    """(dotted name, object, kind) of every public name, once each, with the public
    methods and properties of the classes."""
    seen = set()
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
                continue              # data (presets, tables): documented in docs/api
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            dotted = f"{module.__name__}.{name}"
            if inspect.isclass(obj):
                yield dotted, obj, "class"
                keep = MIRRORED.get(name)
                # dataclass fields and the names of the Attributes (or Parameters)
                # section are documented in the class docstring
                documented = _documented_names(obj)
                if dataclasses.is_dataclass(obj):
                    for field in dataclasses.fields(obj):
                        if field.name not in documented:
                            yield f"{dotted}.{field.name}", obj, "field"
                for member, value in vars(obj).items():
                    if member.startswith("_") or (keep is not None and member not in keep) \
                            or member in documented:
                        continue
                    if isinstance(value, (staticmethod, classmethod)):
                        value = value.__func__
                    if inspect.isfunction(value) or inspect.ismethoddescriptor(value) \
                            or type(value).__name__ == "cython_function_or_method":
                        yield f"{dotted}.{member}", value, "method"
                    elif isinstance(value, property) or inspect.isgetsetdescriptor(value):
                        yield f"{dotted}.{member}", value, "property"
            elif _defined_here(obj) or callable(obj):
                yield dotted, obj, "function"


NAMES = list(public_names())


@pytest.mark.parametrize("name,obj,kind", NAMES, ids=[n for n, _, _ in NAMES])
def test_numpydoc_sections(name, obj, kind):
    doc = inspect.getdoc(obj) or ""
    assert kind != "field", f"{name}: a field missing from the Parameters section"
    assert doc.strip(), f"{name} has no docstring"
    if kind == "property":
        return
    missing = []
    if _takes_parameters(obj) and not _section(doc, "Parameters"):
        missing.append("Parameters")
    if kind == "function" and not (_section(doc, "Returns") or _section(doc, "Yields")):
        missing.append("Returns")
    if kind in ("function", "class") and not _section(doc, "Examples"):
        missing.append("Examples")
    assert not missing, f"{name}: no {', '.join(missing)} section"


def _examples():
    parser = doctest.DocTestParser()
    for name, obj, kind in NAMES:
        doc = inspect.getdoc(obj)
        if doc and ">>>" in doc:
            yield pytest.param(name, parser.get_examples(doc), id=name)


EXAMPLES = list(_examples())
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name,examples", EXAMPLES)
def test_docstring_examples_run(name, examples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # examples that write files write them here
    test = doctest.DocTest(examples, {"np": np, "sr": srround}, name, None, 0, None)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) failed (see above)"


def test_examples_need_only_the_imports_they_show():
    """``import srround as sr`` does not import srround.hardware or
    srround.experiments (this test file does): examples that use them import them,
    so a reader can paste them."""
    fresh = subprocess.run([sys.executable, "-c", "import srround; print(*dir(srround))"],
                           capture_output=True, text=True, check=True).stdout.split()
    for param in EXAMPLES:
        name, examples = param.values
        used = {m for e in examples for m in re.findall(r"\bsr\.(\w+)", e.source)}
        assert used <= set(fresh), f"{name}: sr.{sorted(used - set(fresh))} needs an import"


def test_the_public_api_is_covered():
    """The collector sees the public API: a broken walk would test nothing."""
    names = {n for n, _, _ in NAMES}
    for expected in ("srround.Format", "srround.Context.spawn", "srround.round",
                     "srround.ode.solve_ivp", "srround.quantize.uniform",
                     "srround.linalg.solve", "srround.hardware.MMA",
                     "srround.experiments.run"):
        assert expected in names
    assert len(EXAMPLES) >= 60
