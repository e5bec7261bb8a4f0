"""``sweep``: a parameter sweep (``pricegrad sweep``), returned as ``sweep.csv``'s rows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from . import _native
from ._run import _read_table
from ._scenario import Scenario, Sets, scenario_arg, sets_arg, value_text
from .errors import ScenarioError


def _spec(values) -> str:
    """A parameter's values as a ``--param`` SPEC: a string as it is (``"log:0.05:2:8"``),
    a list joined with commas."""
    if isinstance(values, str):
        return values
    texts = [value_text(v) for v in values]
    for t in texts:
        if "," in t:
            raise ValueError(f"a swept value cannot hold a comma: {t!r}")
    return ",".join(texts)


def sweep(
    scenario: Scenario,
    params: Optional[Mapping] = None,
    replicates: Optional[int] = None,
    jobs: Optional[int] = None,
    set: Sets = None,
    seed: Optional[int] = None,
    log_every: Optional[int] = None,
    out=None,
    *,
    force: bool = False,
    timings: bool = True,
    format: Optional[str] = None,
):
    """Run ``scenario`` over a grid of parameter values, as ``pricegrad sweep`` does.

    ``params`` maps ``--set`` paths to their values: a list (``{"market.step": [0.1, 0.2]}``)
    or a SPEC string (``"log:0.05:2:8"``, ``"lin:A:B:N"``); the grid is every combination
    (the first parameter varies slowest). Without ``params`` the scenario's ``[sweep]``
    table gives them; ``replicates`` defaults to its ``replicates``, else 1. ``jobs`` runs
    in parallel (default: every core; the rows do not depend on it), ``set`` and ``seed``
    apply to every point, ``log_every`` measures the diagnostics every K ticks.

    Returns ``sweep.csv`` as a DataFrame: ``point, replicate, <parameters...>, seed,
    outcome, ticks, max_rel_error, max_rel_excess, mean_cosine, wall_seconds`` (no
    ``wall_seconds`` with ``timings=False``); ``df.attrs["dir"]`` is the sweep's directory
    when ``out`` is given (``sweep.png``, ``sweep.json`` are there). Ctrl-C stops the sweep
    (runs in flight are abandoned) and raises KeyboardInterrupt. With ``format="parquet"``
    (``--format``; default: the scenario's ``[log] format``) ``sweep.parquet`` is written
    beside ``sweep.csv`` and the rows are read from it, typed.
    """
    params_arg = [f"{p}={_spec(v)}" for p, v in (params or {}).items()]
    kind, text = scenario_arg(scenario)
    with tempfile.TemporaryDirectory(prefix="pricegrad-sweep-") as tmp:
        if kind == "path":
            file = text
        else:
            # the library's sweep reads its scenario from a file
            file = os.path.join(tmp, "scenario.toml")
            Path(file).write_text(text, encoding="utf-8")
        dest = os.path.join(tmp, "sweep") if out is None else os.fspath(out)
        try:
            info = _native.sweep(
                file,
                params_arg,
                sets_arg(set),
                replicates,
                jobs,
                seed,
                log_every,
                dest,
                timings,
                force,
                format,
            )
        except ScenarioError as e:
            if kind == "path":
                raise
            raise e._relabel(file, kind) from None
        df = _read_table(Path(info["dir"]), "sweep", info.get("format", "csv"))
    if out is not None:
        df.attrs["dir"] = info["dir"]
    return df
