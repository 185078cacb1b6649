"""Command line: ``python -m srround [experiment] [options]``.

Runs the experiments of srround/experiments/: each prints a table, and writes a JSON
file of its numbers and a PNG plot drawn from that JSON (with matplotlib, the [plot]
extra) into --out. With no experiment named, runs them all with their defaults
(under a minute). ``plot`` redraws figures from saved JSON files without rerunning.

    python -m srround list
    python -m srround harmonic --format bfloat16 --n 20000 --runs 50
    python -m srround all --out docs/figures
    python -m srround plot srround-out/harmonic.json
"""
import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace

from srround import ROUNDINGS
from srround.experiments import (EXPERIMENTS, Settings, can_plot, format_table, read_json,
                                 run, write_json, write_plot)

PROG = "python -m srround"
PLOT_HINT = "pip install 'srround[plot]'"
# The command-line option of each setting an experiment may ignore.
OPTIONS = {"formats": "--format", "rounding": "--rounding", "n": "--n", "runs": "--runs",
           "seed": "--seed"}


class CommandError(Exception):
    """A failure to report in one line (exit status 1), not as a traceback."""


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


def _why(error):
    """An OSError in a few words: 'Permission denied', 'Not a directory', ..."""
    return error.strerror or str(error)


def check_writable(folder):
    """Create folder if needed and check that files can be written there, before any
    experiment runs; CommandError if not."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise CommandError(f"cannot write to --out {folder!r}: {_why(e)}") from None


def save_figure(data, png_path):
    """The figure of saved result data into png_path; False without matplotlib."""
    try:
        return write_plot(data, png_path)
    except OSError as e:
        raise CommandError(f"cannot write {png_path!r}: {_why(e)}") from None


def run_one(name, settings, out_dir, plot=True, stream=None):
    """Run one experiment, print its table, write its JSON, and its PNG drawn from that
    JSON file; returns the Result."""
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
    json_path = os.path.join(out_dir, f"{name}.json")
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_json(result.data, json_path)
    except OSError as e:
        raise CommandError(f"cannot write {json_path!r}: {_why(e)}") from None
    written = [json_path]
    if plot and can_plot(result.data):
        png_path = os.path.join(out_dir, f"{name}.png")
        if save_figure(read_json(json_path), png_path):
            written.append(png_path)
        else:
            print(f"(plot skipped: matplotlib is not installed; {PLOT_HINT}, then "
                  f"{PROG} plot {json_path})", file=stream)
    print(f"\nwrote {', '.join(written)} ({elapsed:.1f} s)\n", file=stream)
    return result


def _list(stream):
    print(f"experiments ({PROG} NAME, or all):\n", file=stream)
    for exp in EXPERIMENTS.values():
        print(f"  {exp.name:<10} {exp.summary}", file=stream)
        defaults = [f"--format {','.join(exp.formats)}"] if "formats" not in exp.ignores \
            else []
        defaults += [f"--n {exp.n}", f"--runs {exp.runs}"]
        print(f"  {'':<10} defaults: {' '.join(defaults)}", file=stream)
    print(f"\n{PROG} plot FILE.json ... redraws figures from saved JSON files", file=stream)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run srround's experiments: low-precision sums, ODEs and quantization "
                    "with round to nearest against stochastic rounding, and GEMMs through "
                    "tensor-core models. Each prints a table and writes a JSON file and a "
                    "PNG plot into --out.",
        epilog=f"{PROG} plot FILE.json [...] [--out DIR] redraws the figures of saved JSON "
               "files without rerunning.")
    parser.add_argument("experiment", nargs="?", default="all",
                        choices=["list", "all"] + list(EXPERIMENTS),
                        help="what to run (default: all, with quick defaults)")
    parser.add_argument("--format", dest="formats", default=None,
                        help="format name(s), comma-separated (default: per experiment)")
    parser.add_argument("--rounding", default=None, choices=ROUNDINGS,
                        help="the mode compared against round to nearest (default: stochastic)")
    parser.add_argument("--n", type=int, default=None,
                        help="problem size, the largest n where n varies (default: per experiment)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs of each stochastic computation (default: per experiment)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    parser.add_argument("--out", default="srround-out",
                        help="folder for the JSON and PNG files (default ./srround-out)")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG files")
    return parser


def build_plot_parser():
    parser = argparse.ArgumentParser(
        prog=f"{PROG} plot",
        description="Redraw experiment figures from the JSON files a run wrote, without "
                    f"rerunning (needs matplotlib: {PLOT_HINT}).")
    parser.add_argument("files", nargs="+", metavar="FILE.json",
                        help="JSON files written by a run")
    parser.add_argument("--out", default=None,
                        help="folder for the PNG files (default: beside each JSON file)")
    return parser


def plot_main(argv):
    """python -m srround plot FILE.json ...: a PNG per file, drawn from its data."""
    args = build_plot_parser().parse_args(argv)
    if args.out is not None:
        check_writable(args.out)
    for path in args.files:
        try:
            data = read_json(path)
        except OSError as e:
            raise CommandError(f"cannot read {path!r}: {_why(e)}") from None
        except ValueError as e:
            raise CommandError(str(e)) from None
        if not can_plot(data):
            raise CommandError(f"{path}: no figure to draw "
                               f"({data.get('skipped', 'the experiment has no plot')})")
        stem = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.dirname(path) if args.out is None else args.out
        png_path = os.path.join(folder, stem + ".png")
        if not save_figure(data, png_path):
            raise CommandError(f"plotting needs matplotlib: {PLOT_HINT}")
        print(f"wrote {png_path}")
    return 0


def _settings(parser, args, names):
    """The Settings the options ask for; an option the experiment does not use is an
    error when one experiment is named, and a note (it runs without it) under all."""
    if args.seed is not None and args.seed < 0:
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
    for name in names:
        if args.n is not None and args.n < EXPERIMENTS[name].min_n:
            parser.error(f"--n must be at least {EXPERIMENTS[name].min_n} for {name}")
    given = Settings(formats=formats, rounding=args.rounding or "stochastic", n=args.n,
                     runs=args.runs, seed=0 if args.seed is None else args.seed)
    per_experiment = {}
    for name in names:
        unused = [setting for setting in EXPERIMENTS[name].ignores
                  if getattr(args, setting) is not None]
        if unused and len(names) == 1:
            parser.error(f"{name} does not use {', '.join(OPTIONS[u] for u in unused)}")
        for setting in unused:
            print(f"note: {name} does not use {OPTIONS[setting]}; it runs without it",
                  file=sys.stderr)
        per_experiment[name] = replace(given, **{u: getattr(Settings(), u) for u in unused})
    return per_experiment


def _main(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plot"]:
        return plot_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.experiment == "list":
        return _list(sys.stdout)
    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    settings = _settings(parser, args, names)
    check_writable(args.out)
    start = time.perf_counter()
    for name in names:
        run_one(name, settings[name], args.out, plot=not args.no_plot)
    if len(names) > 1:
        print(f"all done in {time.perf_counter() - start:.1f} s; files in {args.out}")
    return 0


def _quiet_stdout():
    """After a closed pipe: send what is left in stdout's buffer nowhere, so that
    Python's flush at exit does not report the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout replaced (tests) or closed
        pass


def main(argv=None):
    """Entry point; returns the exit status (0 done, 1 a failure reported in one line,
    2 bad arguments, via argparse's SystemExit)."""
    try:
        status = _main(argv)
        sys.stdout.flush()           # a closed pipe shows here, not at interpreter exit
        return status
    except CommandError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:          # output piped into head, less, ... that quit early
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
