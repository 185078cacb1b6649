"""Sphinx configuration of srround's documentation site.

Build it from the repository root (srround importable: installed, or built in place):

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

The user guide is the Markdown pages of docs/ (MyST), so they read the same on GitHub;
the API reference (docs/api/) is generated from the numpydoc docstrings.
"""
import os
import sys

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
exclude_patterns = ["_build", "api/generated/*.md", "tools", "figures"]
# pages that Markdown readers reach but that are not pages of the site
templates_path = []

# ---------------------------------------------------------------- Markdown (MyST)
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 4          # links such as experiments.md#harmonic-... resolve

# ---------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"        # the docstrings say the types
numpydoc_show_class_members = True
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False
# every public name documents its parameters, what it returns and an example; the
# build fails (-W) on any that does not
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01", "EX01"}
numpydoc_validation_exclude = {
    r"\.__\w+__$",                               # special methods
    r"^srround\.EmulatedArray\.(?!(values|context|format|sum_method|accumulate)$)\w+$",
}

# ---------------------------------------------------------------- doctest builder
# the examples assume these, as NumPy's assume `import numpy as np`
doctest_global_setup = "import numpy as np\nimport srround as sr"
doctest_default_flags = 0
import doctest  # noqa: E402
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1

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
