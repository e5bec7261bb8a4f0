"""``gradient``: the gradient of final value, computed centrally (``pricegrad gradient``)."""

from __future__ import annotations

from . import _native
from ._scenario import Scenario, Sets, scenario_arg, sets_arg


def gradient(scenario: Scenario, set: Sets = None):
    """Per good, what the planner's allocation supplies (endowment plus output) and uses,
    and the backprop adjoint: the derivative of final value, the price the markets should
    find. The numbers of ``pricegrad gradient --json``, as a DataFrame with columns
    ``good, fixed_price, supplied, used, adjoint``; ``df.attrs`` holds ``scenario``,
    ``method`` (``forward`` for chains and trees, else ``reference``), ``how`` and ``value``
    (the planner's value V)."""
    import pandas as pd

    kind, text = scenario_arg(scenario)
    g = _native.gradient(kind, text, sets_arg(set))
    columns = ["good", "fixed_price", "supplied", "used", "adjoint"]
    df = pd.DataFrame({c: g[c] for c in columns})
    for k in ("scenario", "method", "how", "value"):
        df.attrs[k] = g[k]
    return df
