"""Command line: ``python -m srround [experiment] [options]``.

Runs the experiments of srround/experiments.py: each prints a table, and writes a
JSON file of its numbers and a PNG plot (with matplotlib, the [plot] extra) into
--out. With no experiment named, runs them all with their defaults (under a minute).

    python -m srround list
    python -m srround harmonic --format bfloat16 --n 20000 --runs 50
    python -m srround all --out docs/figures
"""
import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace

import numpy as np

from srround._core import ROUNDINGS
from srround.experiments import EXPERIMENTS, Settings, format_table, run


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self, label, stream=None, enabled=None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _isatty(self.stream) if enabled is None else enabled
        self.label = label
        self.shown = -1

    def __call__(self, fraction):
        if not self.enabled:
            return
        filled = int(self.WIDTH * min(max(fraction, 0.0), 1.0))
        if filled == self.shown:
            return
        self.shown = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {100 * fraction:3.0f}%")
        self.stream.flush()

    def close(self):
        if self.enabled and self.shown >= 0:
            self.stream.write("\r" + " " * (len(self.label) + self.WIDTH + 8) + "\r")
            self.stream.flush()


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _json_safe(value):
    """Plain JSON: NumPy scalars and arrays become numbers and lists; nan and inf,
    which JSON lacks, become null and the strings "inf" / "-inf"."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
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


def write_json(result, path):
    with open(path, "w") as f:
        json.dump(_json_safe(result.data), f, indent=1)
        f.write("\n")


def write_plot(result, path):
    """Draws result.plot into a PNG; returns False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    panels = max(1, len(result.data["settings"]["formats"]))
    fig = Figure(figsize=(6.4 * panels, 4.8), layout="constrained")
    result.plot(fig)
    fig.suptitle(result.title, fontsize=10)
    fig.savefig(path, dpi=100)
    return True


def run_one(name, settings, out_dir, plot=True, stream=None):
    """Run one experiment, print its table, write its JSON (and PNG); returns the Result."""
    stream = sys.stdout if stream is None else stream
    bar = ProgressBar(name)
    start = time.perf_counter()
    try:
        result = run(name, replace(settings, progress=bar))
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    result.data["elapsed_s"] = round(elapsed, 3)
    print(f"== {name}: {result.title}\n", file=stream)
    print(format_table(result), file=stream)
    if result.notes:
        print("", file=stream)
        for note in result.notes:
            print(note, file=stream)
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, f"{name}.json")
    write_json(result, json_path)
    written = [json_path]
    if plot and result.plot is not None:
        png_path = os.path.join(out_dir, f"{name}.png")
        if write_plot(result, png_path):
            written.append(png_path)
        else:
            print("(plot skipped: matplotlib is not installed; "
                  "pip install 'srround[plot]')", file=stream)
    print(f"\nwrote {', '.join(written)} ({elapsed:.1f} s)\n", file=stream)
    return result


def _list(stream):
    print("experiments (python -m srround NAME, or all):\n", file=stream)
    for exp in EXPERIMENTS.values():
        print(f"  {exp.name:<10} {exp.summary}", file=stream)
        print(f"  {'':<10} defaults: --format {','.join(exp.formats)} --n {exp.n} "
              f"--runs {exp.runs}", file=stream)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m srround",
        description="Run srround's experiments: low-precision sums and ODEs with round to nearest "
                    "against stochastic rounding. Each prints a table and writes a JSON "
                    "file and a PNG plot into --out.")
    parser.add_argument("experiment", nargs="?", default="all",
                        choices=["list", "all"] + list(EXPERIMENTS),
                        help="what to run (default: all, with quick defaults)")
    parser.add_argument("--format", dest="formats", default=None,
                        help="format name(s), comma-separated (default: per experiment)")
    parser.add_argument("--rounding", default="stochastic", choices=ROUNDINGS,
                        help="the mode compared against round to nearest (default: stochastic)")
    parser.add_argument("--n", type=int, default=None,
                        help="problem size, the largest n where n varies (default: per experiment)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs of each stochastic computation (default: per experiment)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--out", default="srround-out",
                        help="folder for the JSON and PNG files (default ./srround-out)")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG files")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.experiment == "list":
        return _list(sys.stdout)
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    formats = None
    if args.formats is not None:
        formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
        from srround.formats import format as lookup
        for f in formats:
            try:
                lookup(f)
            except (ValueError, TypeError) as e:
                parser.error(f"--format: {e}")
    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    for name in names:
        if args.n is not None and args.n < EXPERIMENTS[name].min_n:
            parser.error(f"--n must be at least {EXPERIMENTS[name].min_n} for {name}")
    settings = Settings(formats=formats, rounding=args.rounding, n=args.n, runs=args.runs,
                        seed=args.seed)
    start = time.perf_counter()
    for name in names:
        run_one(name, settings, args.out, plot=not args.no_plot)
    if len(names) > 1:
        print(f"all done in {time.perf_counter() - start:.1f} s; files in {args.out}")
    return 0
