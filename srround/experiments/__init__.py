"""Experiments: results of the stochastic-rounding literature, reproduced with srround.

Each experiment is a function registered with ``@experiment``. It takes a
``Settings`` and returns a ``Result``: a table (printed), notes printed under it
(fitted slopes, stagnation points) and every number in ``data`` (written as JSON).
Its plot is a separate function of that saved data alone, so a figure can be redrawn
from the JSON file without rerunning (``python -m srround plot out/harmonic.json``).
``python -m srround`` (see srround/cli.py) runs them; nothing here prints or writes
files except ``write_json`` / ``write_plot``, and only those need matplotlib.

    from srround import experiments
    result = experiments.run("harmonic", n=10**4, runs=5)
    print(experiments.format_table(result))
    experiments.write_json(result.data, "harmonic.json")
    experiments.write_plot(experiments.read_json("harmonic.json"), "harmonic.png")

Layout, one module per theme:

    registry.py       @experiment, Settings, Result, run, format_table, JSON and figures
    common.py         helpers shared by the themes (seeds, sizes, exact sums, slopes)
    sums.py           harmonic, summation, dot, manysmall
    odes.py           decay, circle, heat, lorenz
    quantization.py   lowprec_training, compress, signal
    solvers.py        solvers, refinement
    tensorcore.py     tensorcore (GEMMs through srround.hardware's tensor-core models)
    scale.py          ensemble (SR runs as Dask tasks on a local cluster)

Adding an experiment: write, in a theme module or a new one,

    def plot_mine(fig, data):          # data: the JSON dict; draw on the matplotlib fig
        ...

    @experiment("mine", "one-line summary", n=1000, runs=10, formats=("binary16",),
                plot=plot_mine)        # ignores=("formats",) if it takes no format
    def mine(settings):                # settings.formats are Formats, n/runs filled in
        ...
        return Result("mine", title, columns, specs, rows, notes, data)

using only public names (shared helpers go in common.py, not imported as _private
names from another module), and seeds from ``seed_for(settings, key, ...)`` so runs
are reproducible. A new module is imported below (the import registers it, and the
order of the imports is the order of ``python -m srround list`` and ``all``); add its
tests to tests/test_experiments.py and its section to docs/experiments.md.

Sources: Higham & Pranesh (SISC 2019), Connolly, Higham & Mary (SISC 2021), Croci,
Fasi, Higham, Mary & Mikaitis (R. Soc. Open Sci. 2022), Fasi & Mikaitis (IEEE TETC
2021), Gupta et al. (ICML 2015), Carson & Higham (SISC 2018), DeepSeek-V3 (arXiv
2412.19437); see docs/experiments.md.
"""
from srround.experiments.common import fitted_slope
from srround.experiments.registry import (EXPERIMENTS, Experiment, Result, Settings,
                                          can_plot, draw, experiment, format_table,
                                          json_safe, read_json, run, write_json, write_plot)

# The theme modules register their experiments when imported, in this order.
from srround.experiments import sums, odes, quantization, solvers, tensorcore, scale  # noqa: E402,F401  isort: skip

__all__ = ["Settings", "Result", "Experiment", "EXPERIMENTS", "experiment", "run",
           "format_table", "fitted_slope", "json_safe", "write_json", "read_json",
           "can_plot", "draw", "write_plot"]
