"""The version of srround, in one place: pyproject.toml reads it (setuptools' dynamic
version) and srround.__version__ imports it."""
__version__ = "0.1.0"
