"""The experiment registry: ``@experiment``, Settings, Result, ``run``, tables, and the
JSON files and figures drawn from them.

An experiment's plot reads only the JSON data its run saved (``plot(fig, data)``), so
``python -m srround plot out/harmonic.json`` redraws a figure without rerunning it.
"""
import json
import math
from dataclasses import dataclass, field, fields, replace
from typing import Callable

import numpy as np

from srround import ROUNDINGS
from srround.formats import format as lookup

__all__ = ["Settings", "Result", "Experiment", "EXPERIMENTS", "experiment", "run",
           "format_table", "json_safe", "write_json", "read_json", "can_plot", "draw",
           "write_plot"]


def _no_progress(fraction):
    pass


@dataclass(frozen=True)
class Settings:
    """What the command line can change. None means the experiment's default."""
    formats: tuple = None          # format names (or Formats)
    rounding: str = "stochastic"   # the mode compared against round to nearest
    n: int = None                  # problem size (the largest n where n varies)
    runs: int = None               # independent runs of each stochastic computation
    seed: int = 0
    progress: Callable = field(default=_no_progress, compare=False, repr=False)


# The settings an experiment may declare it does not read (Experiment.ignores).
SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "progress")


@dataclass
class Result:
    name: str
    title: str
    columns: list        # column names
    specs: list          # a format spec per column ("s", "d", ".7g", ".3e", ...)
    rows: list           # lists of values
    notes: list          # lines printed under the table
    data: dict           # everything, for the JSON file
    plot: Callable = None   # plot(figure) draws the figure from data; set by run()


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    function: Callable   # function(settings) -> Result
    n: int
    runs: int
    formats: tuple
    min_n: int = 1
    plot: Callable = None       # plot(figure, data): data as read back from the JSON file
    ignores: tuple = ()         # Settings fields the experiment does not read
    rows: int = 1               # rows of panels in its figure (one column per format)


EXPERIMENTS = {}


def experiment(name, summary, *, n, runs, formats, min_n=1, plot=None, ignores=(),
               rows=1):
    """Register fn(settings) -> Result under name, with its defaults, its plot
    function plot(figure, data), the rows of panels that figure has (for its size)
    and the settings it ignores (a value given for one of those is an error, not
    silently dropped)."""
    unknown = set(ignores) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"{name}: unknown settings in ignores: {sorted(unknown)}")

    def register(fn):
        EXPERIMENTS[name] = Experiment(name, summary, fn, n, runs, tuple(formats), min_n,
                                       plot, tuple(ignores), int(rows))
        return fn
    return register


def run(name, settings=None, **changes):
    """Run the experiment called name; settings (or keyword changes to the default
    Settings) may leave fields None for the experiment's defaults."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    s = replace(settings or Settings(), **changes)
    default = Settings()
    for setting in exp.ignores:
        if getattr(s, setting) != getattr(default, setting):
            raise ValueError(f"{name} does not use the setting {setting!r}; leave it at "
                             f"{getattr(default, setting)!r}")
    s = replace(s, n=exp.n if s.n is None else int(s.n),
                runs=exp.runs if s.runs is None else int(s.runs),
                formats=exp.formats if s.formats is None else tuple(s.formats))
    if s.n < exp.min_n:
        raise ValueError(f"{name}: n must be at least {exp.min_n}, got {s.n}")
    if s.runs < 1:
        raise ValueError(f"runs must be at least 1, got {s.runs}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, (int, np.integer)) or s.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {s.seed!r}")
    if s.rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {s.rounding!r}; choose one of {ROUNDINGS}")
    s = replace(s, formats=tuple(lookup(f) for f in s.formats))
    result = exp.function(s)
    result.data = {"experiment": name, "title": result.title,
                   "settings": {"formats": [f.label for f in s.formats],
                                "rounding": s.rounding, "n": s.n, "runs": s.runs,
                                "seed": s.seed},
                   "columns": result.columns, "rows": result.rows, "notes": result.notes,
                   **result.data}
    result.plot = (lambda fig: draw(result.data, fig)) if can_plot(result.data) else None
    return result


# ---------------------------------------------------------------- tables

def format_table(result):
    """The result's table as text: a header, a rule and one line per row."""
    cells = [[_cell(v, spec) for v, spec in zip(row, result.specs)] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    left = [spec == "s" for spec in result.specs]

    def line(values):
        return "  ".join(v.ljust(w) if lf else v.rjust(w)
                         for v, w, lf in zip(values, widths, left)).rstrip()

    head = line(result.columns)
    return "\n".join([head, "-" * len(head)] + [line(r) for r in cells])


def _cell(value, spec):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


# ---------------------------------------------------------------- JSON files

def json_safe(value):
    """Plain JSON: NumPy scalars and arrays become numbers and lists; nan and inf,
    which JSON lacks, become null and the strings "inf" / "-inf"."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    return value


def write_json(data, path):
    """Write a result's data (Result.data) to path as plain JSON."""
    with open(path, "w") as f:
        json.dump(json_safe(data), f, indent=1)
        f.write("\n")


def read_json(path):
    """The data of a result saved by write_json; ValueError if the file is not one
    (OSError if it cannot be read)."""
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not JSON ({e})") from None
    if not isinstance(data, dict) or "experiment" not in data or "settings" not in data:
        raise ValueError(f"{path} is not the JSON file of an srround experiment")
    if data["experiment"] not in EXPERIMENTS:
        raise ValueError(f"{path}: unknown experiment {data['experiment']!r}")
    return data


# ---------------------------------------------------------------- figures

def can_plot(data):
    """Whether the result has a figure: its experiment has a plot and it did run."""
    exp = EXPERIMENTS.get(data.get("experiment"))
    return exp is not None and exp.plot is not None and "skipped" not in data


def draw(data, fig):
    """Draw the figure of a result on a matplotlib Figure, from its data as saved in
    JSON (data may also be a fresh Result.data: it goes through json_safe first)."""
    data = json_safe(data)
    if not can_plot(data):
        why = data.get("skipped") or "the experiment has no plot"
        raise ValueError(f"no figure for {data.get('experiment')!r}: {why}")
    EXPERIMENTS[data["experiment"]].plot(fig, data)
    fig.suptitle(data["title"], fontsize=10)


def write_plot(data, path):
    """Draw a result's figure into a PNG file; returns False when matplotlib is
    missing (the [plot] extra)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    panels = max(1, len(data["settings"]["formats"]))
    exp = EXPERIMENTS.get(data.get("experiment"))
    rows = exp.rows if exp else 1
    fig = Figure(figsize=(6.4 * panels, 4.8 if rows == 1 else 4.2 * rows),
                 layout="constrained")
    draw(data, fig)
    fig.savefig(path, dpi=100)
    return True
