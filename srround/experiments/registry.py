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
    """What the command line can change. None means the experiment's default.

    Parameters
    ----------
    formats : tuple of str or Format, optional
        The formats compared (``--format``).
    rounding : str, optional
        The mode compared against round to nearest (``--rounding``; default
        ``"stochastic"``).
    n : int, optional
        The problem size, the largest n where n varies (``--n``).
    runs : int, optional
        Independent runs of each stochastic computation (``--runs``).
    seed : int, optional
        The seed every random choice derives from (``--seed``; default 0).
    progress : callable, optional
        ``progress(fraction)``, called as the experiment advances (the command
        line's progress bar).

    Examples
    --------
    >>> from srround import experiments
    >>> experiments.Settings(n=1000, runs=3)
    Settings(formats=None, rounding='stochastic', n=1000, runs=3, seed=0)
    """
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
    """What an experiment returns: a table, notes, and every number.

    Parameters
    ----------
    name : str
        The experiment's name.
    title : str
        A one-line title (the figure's too).
    columns : list of str
        The table's column names.
    specs : list of str
        A format spec per column ("s", "d", ".7g", ".3e", ...).
    rows : list of list
        The table's rows of values.
    notes : list of str
        Lines printed under the table.
    data : dict
        Everything, for the JSON file; `run` adds the experiment's name, title,
        settings, columns, rows and notes.
    plot : callable, optional
        ``plot(figure)`` draws the figure from data; set by `run` (None without a
        figure).

    Examples
    --------
    >>> from srround import experiments
    >>> result = experiments.run("harmonic", n=1000, runs=3)
    >>> result.columns[:4], result.rows[0][:3]
    (['format', 'n', 'exact', 'RN'], ['binary16', 1000, 7.485470860550345])
    """
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
    """A registered experiment: the values of `EXPERIMENTS`, made by `experiment`.

    Parameters
    ----------
    name : str
        The name ``python -m srround NAME`` runs.
    summary : str
        One line for ``python -m srround list``.
    function : callable
        ``function(settings) -> Result``.
    n, runs : int
        The default problem size and number of runs.
    formats : tuple of str
        The default formats.
    min_n : int
        The smallest n the experiment accepts.
    plot : callable or None
        ``plot(figure, data)``: draws the figure from the data as read back from
        the JSON file.
    ignores : tuple of str
        Settings the experiment does not read (giving one is an error).
    rows : int
        Rows of panels in its figure (one column per format).

    Examples
    --------
    >>> from srround import experiments
    >>> exp = experiments.EXPERIMENTS["harmonic"]
    >>> exp.n, exp.runs, exp.formats
    (100000, 40, ('binary16', 'bfloat16'))
    """
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
    """Decorator: register ``fn(settings) -> Result`` as an experiment.

    The experiments package's docstring says how to add one.

    Parameters
    ----------
    name : str
        The name ``python -m srround NAME`` runs.
    summary : str
        One line for ``python -m srround list``.
    n, runs : int
        Defaults of the problem size and the number of runs.
    formats : tuple of str
        The default formats.
    min_n : int, optional
        The smallest n accepted.
    plot : callable, optional
        ``plot(figure, data)``, drawing on a matplotlib Figure from the JSON data.
    ignores : tuple of str, optional
        Settings the experiment does not read: a value given for one of those is
        an error, not silently dropped.
    rows : int, optional
        Rows of panels in its figure (for its size).

    Returns
    -------
    callable
        The decorator; it returns fn unchanged.

    Raises
    ------
    ValueError
        For ignores naming settings that do not exist.

    Examples
    --------
    >>> from srround import experiments
    >>> @experiments.experiment("tiny_demo", "one rounding of 1/3", n=1, runs=1,
    ...                         formats=("bf16",), ignores=("runs",))
    ... def tiny_demo(settings):
    ...     rows = [[f.label, float(sr.round(1 / 3, f))] for f in settings.formats]
    ...     return experiments.Result("tiny_demo", "1/3 rounded", ["format", "value"],
    ...                               ["s", ".8g"], rows, [], {})
    >>> print(experiments.format_table(experiments.run("tiny_demo")))
    format         value
    --------------------
    bfloat16  0.33398438
    >>> del experiments.EXPERIMENTS["tiny_demo"]
    """
    unknown = set(ignores) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"{name}: unknown settings in ignores: {sorted(unknown)}")

    def register(fn):
        EXPERIMENTS[name] = Experiment(name, summary, fn, n, runs, tuple(formats), min_n,
                                       plot, tuple(ignores), int(rows))
        return fn
    return register


def run(name, settings=None, **changes):
    """Run the experiment called name.

    Parameters
    ----------
    name : str
        A key of `EXPERIMENTS` (``python -m srround list`` names them).
    settings : Settings, optional
        Fields left None take the experiment's defaults.
    **changes
        Changes to settings (or to the default Settings): ``n=``, ``runs=``,
        ``formats=``, ``rounding=``, ``seed=``, ``progress=``.

    Returns
    -------
    Result
        Its ``data`` is what `write_json` saves: the experiment's name, title,
        settings, table and notes, and every number.

    Raises
    ------
    ValueError
        For an unknown experiment, format or rounding, a setting the experiment
        ignores, n below its minimum, runs < 1 or a bad seed.

    Examples
    --------
    >>> from srround import experiments
    >>> result = experiments.run("harmonic", n=1000, runs=3)
    >>> print(experiments.format_table(result))
    format       n    exact        RN  SR mean  SR std  SR r=8 mean  SR r=4 mean
    ----------------------------------------------------------------------------
    binary16  1000  7.48547  7.085938  7.53776  0.0421      7.45443      7.33724
    bfloat16  1000  7.48547    5.0625  7.44792  0.1183      7.54167      6.46875
    >>> result.notes[0]
    'RN in binary16 reaches 7.0859375 at k = 512 and never moves again (no change from k = 513 on)'
    """
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
    """The result's table as text: a header, a rule and one line per row.

    Parameters
    ----------
    result : Result

    Returns
    -------
    str

    Examples
    --------
    >>> from srround import experiments
    >>> table = experiments.Result("demo", "a table", ["format", "error"], ["s", ".2e"],
    ...                            [["binary16", 0.00048828125], ["bfloat16", None]], [], {})
    >>> print(experiments.format_table(table))
    format       error
    ------------------
    binary16  4.88e-04
    bfloat16         -
    """
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
    """value as plain JSON data.

    NumPy scalars and arrays become numbers and lists; nan and inf, which JSON
    lacks, become null and the strings "inf" / "-inf"; keys become strings.

    Parameters
    ----------
    value : object
        Dicts, lists, tuples, arrays and numbers, nested.

    Returns
    -------
    object

    Examples
    --------
    >>> from srround import experiments
    >>> experiments.json_safe({"x": np.float32(1.5), "y": np.array([1, 2]), "z": np.nan})
    {'x': 1.5, 'y': [1, 2], 'z': None}
    """
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
    """Write a result's data (``Result.data``) to path as plain JSON.

    Parameters
    ----------
    data : dict
        A result's data.
    path : str or os.PathLike
        The file to write.

    Returns
    -------
    None

    Examples
    --------
    >>> from srround import experiments
    >>> result = experiments.run("harmonic", n=1000, runs=3)
    >>> experiments.write_json(result.data, "harmonic.json")
    >>> experiments.read_json("harmonic.json")["settings"]
    {'formats': ['binary16', 'bfloat16'], 'rounding': 'stochastic', 'n': 1000, 'runs': 3, 'seed': 0}
    """
    with open(path, "w") as f:
        json.dump(json_safe(data), f, indent=1)
        f.write("\n")


def read_json(path):
    """The data of a result saved by `write_json`.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file written by `write_json` (or ``python -m srround``).

    Returns
    -------
    dict

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        If it is not the JSON file of a known srround experiment.

    Examples
    --------
    >>> from srround import experiments
    >>> experiments.write_json(experiments.run("harmonic", n=100, runs=2).data, "h.json")
    >>> experiments.read_json("h.json")["experiment"]
    'harmonic'
    """
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
    """Whether the result has a figure: its experiment has a plot and it did run.

    Parameters
    ----------
    data : dict
        A result's data.

    Returns
    -------
    bool

    Examples
    --------
    >>> from srround import experiments
    >>> experiments.can_plot(experiments.run("harmonic", n=100, runs=2).data)
    True
    """
    exp = EXPERIMENTS.get(data.get("experiment"))
    return exp is not None and exp.plot is not None and "skipped" not in data


def draw(data, fig):
    """Draw the figure of a result on a matplotlib Figure.

    Parameters
    ----------
    data : dict
        The result's data as saved in JSON (a fresh ``Result.data`` goes through
        `json_safe` first).
    fig : matplotlib.figure.Figure
        The figure to draw on.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        If the result has no figure (see `can_plot`).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from srround import experiments
    >>> fig = Figure(figsize=(12.8, 4.8))
    >>> experiments.draw(experiments.run("harmonic", n=100, runs=2).data, fig)
    >>> len(fig.axes)
    2
    """
    data = json_safe(data)
    if not can_plot(data):
        why = data.get("skipped") or "the experiment has no plot"
        raise ValueError(f"no figure for {data.get('experiment')!r}: {why}")
    EXPERIMENTS[data["experiment"]].plot(fig, data)
    fig.suptitle(data["title"], fontsize=10)


def write_plot(data, path):
    """Draw a result's figure into a PNG file.

    Parameters
    ----------
    data : dict
        The result's data (`read_json` reads it back from a file).
    path : str or os.PathLike
        The PNG file to write.

    Returns
    -------
    bool
        False when matplotlib is missing (the ``plot`` extra), True otherwise.

    Raises
    ------
    ValueError
        If the result has no figure (see `can_plot`).

    Examples
    --------
    >>> from srround import experiments
    >>> experiments.write_plot(experiments.run("harmonic", n=100, runs=2).data, "h.png")
    True
    """
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
