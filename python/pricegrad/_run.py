"""``run`` and ``check``: one simulation with its checks, and :class:`Run`, a recorded run
with its files as Python objects."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Optional

from . import _native
from ._scenario import Scenario, Sets, scenario_arg, sets_arg


def _read_csv(path: Path):
    """A CSV file of pricegrad's as a DataFrame, every number exactly as written."""
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        # pandas 3 reads numbers exactly (and deprecates the option)
        return pd.read_csv(path)
    # before 3, the default parser may be off in the last digit
    return pd.read_csv(path, float_precision="round_trip")


def _read_table(dir: Path, name: str, format: str):
    """The table ``name`` (``trajectory``, ``metrics``, ``firms``, ``sweep``) of a directory,
    from its ``.parquet`` file when ``format`` is ``"parquet"`` (pyarrow reads it; integers
    stay unsigned, an empty cell is NaN or None as in the CSV form), else its ``.csv`` file."""
    if format == "parquet":
        import pandas as pd

        return pd.read_parquet(dir / f"{name}.parquet")
    return _read_csv(dir / f"{name}.csv")


class Run:
    """A run recorded in its directory ``dir``, as ``pricegrad run`` writes it.

    ``summary`` is ``summary.json`` as a dict; ``trajectory``, ``metrics`` and ``firms`` are
    ``trajectory.csv``, ``metrics.csv`` and ``firms.csv`` as pandas DataFrames (the same
    columns; an empty cell is NaN), or their ``.parquet`` forms when ``format`` is
    ``"parquet"``; ``propagation`` is ``propagation.csv`` for a shocked run,
    else None. ``passed`` is the verdict (what exit code 0 means for ``pricegrad run``),
    ``outcome`` one of converged, diverged, max_ticks. The files are read when first used.

    A run without ``out`` lives in a temporary directory that is deleted with this object.
    """

    def __init__(self, info: dict, keep: Optional[tempfile.TemporaryDirectory] = None):
        self.dir = Path(info["dir"])
        self.outcome: str = info["outcome"]
        self.passed: bool = info["passed"]
        #: the files written, in the order the command line lists them
        self.written = list(info["written"])
        #: why convergence.png could not be drawn (None when it was)
        self.chart_error: Optional[str] = info["chart_error"]
        #: what the directory held before, when it was another run (its files were replaced)
        self.replaced: Optional[str] = info["replaced"]
        #: "csv" or "parquet": the files the tables were written to
        self.format: str = info.get("format", "csv")
        self._keep = keep

    def __repr__(self) -> str:
        return f"<pricegrad.Run {self.summary.get('scenario')}: {self.outcome}, {'PASS' if self.passed else 'FAIL'} in {self.dir}>"

    @cached_property
    def summary(self) -> dict:
        with open(self.dir / "summary.json", encoding="utf-8") as f:
            return json.load(f)

    @cached_property
    def trajectory(self):
        return _read_table(self.dir, "trajectory", self.format)

    @cached_property
    def metrics(self):
        return _read_table(self.dir, "metrics", self.format)

    @cached_property
    def firms(self):
        return _read_table(self.dir, "firms", self.format)

    @cached_property
    def propagation(self):
        p = self.dir / "propagation.csv"
        return _read_csv(p) if p.exists() else None

    @property
    def scenario_toml(self) -> Optional[str]:
        """The effective scenario (``scenario.toml``): running it again gives the same files."""
        p = self.dir / "scenario.toml"
        return p.read_text(encoding="utf-8") if p.exists() else None

    def chart(self, path) -> Path:
        """Write the convergence chart (``convergence.png``) to ``path``; returns the path."""
        src = self.dir / "convergence.png"
        if not src.exists():
            why = self.chart_error or "the run diverged in its first tick, so no tick was logged"
            raise FileNotFoundError(f"this run has no convergence chart: {why}")
        dest = Path(path)
        shutil.copyfile(src, dest)
        return dest


def run(
    scenario: Scenario,
    set: Sets = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    log_every: Optional[int] = None,
    out=None,
    *,
    force: bool = False,
    timings: bool = True,
    require: str = "all",
    format: Optional[str] = None,
) -> Run:
    """Simulate ``scenario``, check its prices and record the run, as ``pricegrad run`` does.

    ``scenario`` is a path, TOML text or a dict; ``set`` overrides fields by their dotted
    paths (``{"market.step": 0.2}`` or ``["market.step=0.2"]``, applied in order like
    ``--set``); ``seed`` replaces ``run.seed``; ``threads`` (default: every core) changes no
    result; ``log_every`` logs every K-th tick (``log.every``). The files go to ``out``
    (created if missing; an existing directory is used only if pricegrad made it, or with
    ``force``) or to a temporary directory. ``timings=False`` leaves the wall-clock times
    out of ``summary.json``; ``require`` is ``"all"`` or ``"adjoint"`` (``--require``).
    ``format`` is ``"csv"`` or ``"parquet"`` (``--format``; default: the scenario's
    ``[log] format``, else CSV): with ``"parquet"`` the tables are written and read back as
    Parquet files (pyarrow needed).

    The engine runs without the GIL. Ctrl-C stops the run at the end of its tick: the files
    hold the run so far (outcome ``interrupted``) and KeyboardInterrupt is raised.
    Raises :class:`ScenarioError` for a bad scenario, :class:`OutputError` when ``out``
    cannot be used or the files cannot be written.
    """
    kind, text = scenario_arg(scenario)
    keep = None
    if out is None:
        keep = tempfile.TemporaryDirectory(prefix="pricegrad-run-")
        out = Path(keep.name) / "run"
    info = _native.run(
        kind,
        text,
        sets_arg(set, log_every),
        seed,
        threads,
        os.fspath(out),
        timings,
        force,
        require,
        format,
    )
    return Run(info, keep)


def check(
    scenario: Scenario,
    set: Sets = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    log_every: Optional[int] = None,
    *,
    timings: bool = True,
    require: str = "all",
) -> dict:
    """Simulate and check like :func:`run`, write nothing (``pricegrad check``); returns
    the summary, ``summary.json`` as a dict (``summary["pass"]`` is the verdict)."""
    kind, text = scenario_arg(scenario)
    return json.loads(
        _native.check(kind, text, sets_arg(set, log_every), seed, threads, timings, require)
    )
