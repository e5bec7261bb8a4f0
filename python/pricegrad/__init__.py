"""pricegrad from Python: competitive markets compute gradients.

The Rust engine of the ``pricegrad`` command, with results as pandas DataFrames:

>>> import pricegrad
>>> r = pricegrad.run("scenarios/tupperware.toml")
>>> r.passed, r.trajectory.query("good == 'natgas'").price.iloc[-1]   # 1/24
(True, 0.0416666...)

* :func:`run` simulates, checks and records a run (the files of ``pricegrad run``) and
  returns a :class:`Run`; :func:`check` only returns the summary;
* :func:`gradient` computes the gradient centrally (``pricegrad gradient``);
* :func:`sweep` runs a parameter grid (``pricegrad sweep``) and returns its rows;
* :func:`to_toml` shows the TOML that a scenario dict becomes.

A scenario is a path, TOML text or a dict. Errors are :class:`ScenarioError` (with the
file, line and column) and the other classes of :mod:`pricegrad.errors`; ``str(e)`` is the
text the command line prints.
"""

from ._gradient import gradient
from ._run import Run, check, run
from ._scenario import to_toml
from ._sweep import sweep
from .errors import Error, OutputError, Problem, RunError, ScenarioError, UsageError
from ._native import __version__

__all__ = [
    "run",
    "check",
    "gradient",
    "sweep",
    "to_toml",
    "Run",
    "Error",
    "ScenarioError",
    "UsageError",
    "OutputError",
    "RunError",
    "Problem",
    "__version__",
]
