"""The arguments every function shares: the scenario (a path, TOML text or a dict) and the
``set`` overrides, in the form the native module takes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import List, Optional, Tuple, Union

from . import _native

Scenario = Union[str, "os.PathLike[str]", Mapping]
Sets = Union[None, Mapping, List[str], Tuple[str, ...]]


def scenario_arg(scenario: Scenario) -> Tuple[str, str]:
    """``("path", PATH)`` for a file, ``(LABEL, TOML)`` for text: ``<dict>`` for a dict
    (written as TOML by the native module), ``<string>`` for TOML text.

    A ``str`` is TOML text when it holds a line break, or an ``=`` and names no file;
    otherwise it is a path (a ``pathlib.Path`` always is)."""
    if isinstance(scenario, Mapping):
        return "<dict>", to_toml(scenario)
    if isinstance(scenario, os.PathLike):
        return "path", os.fspath(scenario)
    if isinstance(scenario, str):
        if "\n" in scenario or ("=" in scenario and not os.path.exists(scenario)):
            return "<string>", scenario
        return "path", scenario
    raise TypeError(
        f"a scenario is a path, TOML text or a dict, not {type(scenario).__name__}"
    )


def to_toml(scenario: Mapping) -> str:
    """A scenario dict as the TOML text that pricegrad loads for it (its errors point at
    lines of this text)."""
    return _native.to_toml(_plain(scenario))


def _plain(v):
    """Mappings as dicts, all the way down (the native module walks dicts and lists)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def value_text(v) -> str:
    """A value as ``--set`` and ``--param`` write it: booleans as ``true``/``false``,
    numbers as Python prints them (``repr``: every digit kept), a dict (a production family)
    as an inline TOML table, text as it is."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Mapping):
        return _native.inline_toml(_plain(v))
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v)
    return str(v)


def sets_arg(sets: Sets, log_every: Optional[int] = None) -> List[str]:
    """``PATH=VALUE`` strings from a dict ``{"market.step": 0.2}`` or a list of such
    strings; ``log_every`` adds ``log.every=K`` last."""
    if sets is None:
        out: List[str] = []
    elif isinstance(sets, Mapping):
        out = [f"{path}={value_text(v)}" for path, v in sets.items()]
    elif isinstance(sets, str):
        out = [sets]
    else:
        out = [str(s) for s in sets]
    if log_every is not None:
        out.append(f"log.every={int(log_every)}")
    return out
