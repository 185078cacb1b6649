"""Sphinx configuration of srround's documentation site.

Build it from the repository root (srround importable: installed, or built in place):

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

The user guide is the Markdown pages of docs/ (MyST), so they read the same on GitHub;
the API reference (docs/api/) is generated from the numpydoc docstrings.
"""
import atexit
import doctest
import os
import shutil
import sys
import tempfile

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
# an in-place build (python setup.py build_ext --inplace) is importable from the root
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import srround  # noqa: E402

project = "srround"
author = "the srround developers"
copyright = "the srround developers, BSD-3-Clause"
version = release = srround.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_templates", "tools", "figures"]
# a class page documents the class and, below it, its public documented members
templates_path = ["_templates"]

# ---------------------------------------------------------------- Markdown (MyST)
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 4          # links such as experiments.md#harmonic-... resolve

# ---------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"        # the docstrings say the types
numpydoc_show_class_members = False       # the class template documents the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False
# every documented object has a docstring that documents its parameters (no more,
# no fewer) and what it returns; the build fails (-W) on any that does not.
# tests/test_docstrings.py checks the Examples sections of the public functions
# and classes, and runs them.
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {
    r"\.__\w+__$",                               # special methods
    # ndarray's methods, mirrored: NumPy documents them
    r"^srround\.EmulatedArray\.(?!(values|context|format|sum_method|accumulate)$)\w+$",
    # attributes that C extension types cannot give a docstring: the class
    # docstrings' Attributes sections describe them
    r"^srround\.Context\.(round|add|subtract|multiply|divide|fma|sqrt|format|rounding|bits)$",
    r"^srround\.Format\.name$",
    r"^srround\.experiments\.Settings\.progress$",   # a field whose default is a function
}

# ---------------------------------------------------------------- doctest builder
# The examples assume numpy and srround imported, as NumPy's assume `import numpy as
# np`; examples that write files (experiments.write_json ...) write them in a
# temporary folder, removed at the end of the build, not in the checkout.
DOCTEST_DIR = tempfile.mkdtemp(prefix="srround-doctest-")
atexit.register(shutil.rmtree, DOCTEST_DIR, ignore_errors=True)
doctest_global_setup = f"""
import os
import numpy as np
import srround as sr
_cwd_before_example = os.getcwd()
os.chdir({DOCTEST_DIR!r})
"""
doctest_global_cleanup = "os.chdir(_cwd_before_example)"
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"srround {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
