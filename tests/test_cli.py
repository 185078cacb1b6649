"""The command line (srround/cli.py): tables, JSON and PNG files, redrawing figures
from JSON, and failures reported in one line (unwritable --out, a closed pipe,
options an experiment does not use, no matplotlib)."""

import io
import json
import os
import subprocess
import sys

import pytest

from srround import cli, experiments


def strict_json(path):
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name}")
    with open(path) as f:
        return json.load(f, parse_constant=reject)


def test_cli_all_writes_tables_json_and_png(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    # --n applies to every experiment; for the training ones it counts epochs (2000
    # of them take minutes), for solvers and refinement it is a matrix dimension
    # (dense 2000 x 2000 solves, emulated: minutes), so they run with their
    # defaults in the next test only
    monkeypatch.setattr(experiments, "EXPERIMENTS", {
        name: e for name, e in experiments.EXPERIMENTS.items()
        if name not in ("lowprec_training", "compress", "solvers", "refinement")})
    monkeypatch.setattr(cli, "EXPERIMENTS", experiments.EXPERIMENTS)
    assert cli.main(["all", "--n", "2000", "--runs", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in experiments.EXPERIMENTS:
        assert f"== {name}" in out
        data = strict_json(tmp_path / f"{name}.json")
        assert data["experiment"] == name and data["settings"]["n"] == 2000
        assert data["rows"] and data["columns"]
        png = tmp_path / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fitted log-log slopes" in out
    assert "7.085938" in out and "5.0625" in out


def test_cli_default_is_quick_all(tmp_path, monkeypatch, capsys):
    """The README's main job: `python -m srround` with no arguments runs every
    experiment with its defaults into ./srround-out."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "all done" in out
    for name in experiments.EXPERIMENTS:
        assert (tmp_path / "srround-out" / f"{name}.json").exists()
        assert (tmp_path / "srround-out" / f"{name}.png").exists()


def test_cli_one_experiment_options(tmp_path, capsys):
    assert cli.main(["harmonic", "--format", "bf16", "--n", "3000", "--runs", "4",
                     "--seed", "3", "--out", str(tmp_path), "--no-plot"]) == 0
    data = strict_json(tmp_path / "harmonic.json")
    assert data["settings"] == {"formats": ["bfloat16"], "rounding": "stochastic",
                                "n": 3000, "runs": 4, "seed": 3}
    assert not (tmp_path / "harmonic.png").exists()
    assert sorted(os.listdir(tmp_path)) == ["harmonic.json"]


def test_cli_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in experiments.EXPERIMENTS:
        assert name in out
    lines = out.splitlines()
    signal_defaults = lines[[line.split()[:1] for line in lines].index(["signal"]) + 1]
    assert "--n 16384" in signal_defaults and "--format" not in signal_defaults
    assert "python -m srround plot FILE.json" in out


@pytest.mark.parametrize("argv", [["nope"], ["harmonic", "--format", "binary17"],
                                  ["summation", "--n", "4"], ["harmonic", "--runs", "0"],
                                  ["harmonic", "--seed", "-1"],
                                  ["harmonic", "--rounding", "sideways"]])
def test_cli_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert "error" in capsys.readouterr().err


def hide_matplotlib(monkeypatch):
    """As if matplotlib were not installed: importing it fails."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)


def test_plot_skipped_without_matplotlib(tmp_path, monkeypatch, capsys):
    """pip install srround (without the [plot] extra): tables and JSON, and a line
    saying how to get the figure."""
    hide_matplotlib(monkeypatch)
    assert cli.main(["manysmall", "--n", "500", "--runs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "plot skipped" in out and "pip install 'srround[plot]'" in out
    assert f"python -m srround plot {tmp_path / 'manysmall.json'}" in out
    assert "sum (mean)" in out                        # the table
    assert sorted(os.listdir(tmp_path)) == ["manysmall.json"]
    assert strict_json(tmp_path / "manysmall.json")["rows"]


def test_progress_bar():
    buf = io.StringIO()
    bar = cli.ProgressBar("demo", stream=buf)
    assert not bar.enabled                       # not a terminal: silent
    bar(0.5)
    bar.close()
    assert buf.getvalue() == ""
    bar = cli.ProgressBar("demo", stream=buf, enabled=True)
    for f in (0.0, 0.5, 0.51, 1.0):
        bar(f)
    bar.close()
    text = buf.getvalue()
    assert "demo [" in text and "100%" in text and text.count("%") == 3   # 0.51 not redrawn
    assert text.endswith("\r")                 # the line is cleared at the end


def test_python_dash_m(tmp_path):
    out = subprocess.run([sys.executable, "-m", "srround", "list"], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert "harmonic" in out.stdout and out.stderr == ""


def python_m_srround(*args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "srround", *args], cwd=cwd, text=True,
                          **kw)


# ---------------------------------------------------------------- plot FILE.json

def test_plot_command_redraws_the_run_figure_from_json(tmp_path, capsys):
    """`python -m srround plot out/NAME.json` draws, from the file alone, the same
    PNG the run drew; beside the JSON file, or into --out."""
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "run"
    assert cli.main(["manysmall", "--n", "500", "--runs", "2", "--out", str(run_dir)]) == 0
    assert cli.main(["harmonic", "--n", "2000", "--runs", "2", "--no-plot",
                     "--out", str(run_dir)]) == 0
    assert not (run_dir / "harmonic.png").exists()
    capsys.readouterr()
    assert cli.main(["plot", str(run_dir / "harmonic.json")]) == 0
    assert (run_dir / "harmonic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == f"wrote {run_dir / 'harmonic.png'}\n"
    assert cli.main(["plot", str(run_dir / "manysmall.json"), str(run_dir / "harmonic.json"),
                     "--out", str(tmp_path / "figures")]) == 0
    assert sorted(os.listdir(tmp_path / "figures")) == ["harmonic.png", "manysmall.png"]
    assert (tmp_path / "figures" / "manysmall.png").read_bytes() == \
        (run_dir / "manysmall.png").read_bytes()


def test_plot_command_in_a_fresh_process(tmp_path):
    """Nothing of the run is needed but its JSON files (a new process, no rerun)."""
    pytest.importorskip("matplotlib")
    assert cli.main(["decay", "--n", "64", "--runs", "2", "--no-plot",
                     "--out", str(tmp_path)]) == 0
    done = python_m_srround("plot", "decay.json", cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "wrote decay.png\n"
    assert (tmp_path / "decay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_command_errors(tmp_path, monkeypatch, capsys):
    """Each failure is one line on stderr and exit status 1."""
    assert cli.main(["manysmall", "--n", "200", "--runs", "2", "--no-plot",
                     "--out", str(tmp_path)]) == 0
    saved = strict_json(tmp_path / "manysmall.json")
    (tmp_path / "skipped.json").write_text(json.dumps({**saved, "skipped": "no data"}))
    (tmp_path / "other.json").write_text('{"a": 1}')
    capsys.readouterr()
    cases = [(["missing.json"], "cannot read 'missing.json': No such file or directory"),
             (["other.json"], "other.json is not the JSON file of an srround experiment"),
             (["skipped.json"], "skipped.json: no figure to draw (no data)")]
    monkeypatch.chdir(tmp_path)
    for args, message in cases:
        assert cli.main(["plot", *args]) == 1
        err = capsys.readouterr().err
        assert err == f"python -m srround: error: {message}\n", err
    hide_matplotlib(monkeypatch)
    assert cli.main(["plot", "manysmall.json"]) == 1
    assert "plotting needs matplotlib: pip install 'srround[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "manysmall.png").exists()
    with pytest.raises(SystemExit) as e:
        cli.main(["plot"])
    assert e.value.code == 2


# ---------------------------------------------------------------- failures in one line

def test_unwritable_out_is_one_line_before_any_run(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["harmonic", "--n", "100", "--runs", "1",
                     "--out", str(blocker / "sub")]) == 1
    captured = capsys.readouterr()
    assert captured.err == (f"python -m srround: error: cannot write to --out "
                            f"'{blocker / 'sub'}': Not a directory\n")
    assert "==" not in captured.out                   # nothing ran


def test_permission_denied_and_full_disk(tmp_path, monkeypatch, capsys):
    """The OS refusals a user meets (root ignores file modes, so they are simulated)."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    with monkeypatch.context() as m:
        m.setattr(cli.tempfile, "TemporaryFile", refuse)
        assert cli.main(["harmonic", "--n", "100", "--runs", "1", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.endswith(": Permission denied\n")

    def full(data, path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli, "write_json", full)
    assert cli.main(["harmonic", "--n", "100", "--runs", "1", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"python -m srround: error: cannot write "
                                       f"'{tmp_path / 'harmonic.json'}': No space left on "
                                       "device\n")


def test_unwritable_out_no_traceback(tmp_path):
    (tmp_path / "a-file").write_text("")
    done = python_m_srround("dot", "--n", "16", "--out", "a-file/sub", cwd=tmp_path,
                            capture_output=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot write to --out 'a-file/sub'" in done.stderr


@pytest.mark.parametrize("args", [["list"],
                                  ["manysmall", "--n", "200", "--runs", "2", "--no-plot"]])
def test_closed_pipe_exits_quietly(args, tmp_path):
    """`python -m srround | head -1`: once the reader has gone, stop without a word."""
    read_end, write_end = os.pipe()
    os.close(read_end)                     # the reader has gone before the first write
    try:
        done = python_m_srround(*args, cwd=tmp_path, stdout=write_end,
                                stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""


def test_option_an_experiment_does_not_use_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["signal", "--format", "bfloat16"])
    assert e.value.code == 2
    assert "error: signal does not use --format" in capsys.readouterr().err


def test_all_runs_each_experiment_with_the_options_it_uses(tmp_path, monkeypatch, capsys):
    ran = {}

    def record(name, settings, out_dir, plot=True):
        ran[name] = settings
    monkeypatch.setattr(cli, "run_one", record)
    assert cli.main(["all", "--format", "bfloat16", "--seed", "4", "--out", str(tmp_path)]) == 0
    assert list(ran) == list(experiments.EXPERIMENTS)
    assert ran["signal"].formats is None and ran["signal"].seed == 4
    assert all(s.formats == ("bfloat16",) and s.seed == 4
               for name, s in ran.items() if name != "signal")
    err = capsys.readouterr().err
    assert err == "note: signal does not use --format; it runs without it\n"
