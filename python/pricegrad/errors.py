"""pricegrad's exceptions. ``str(e)`` is the text the ``pricegrad`` command prints for the
same error (the message, where it is, and a help line saying how to fix it); the attributes
hold the parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Union


class Error(Exception):
    """Base class of pricegrad's exceptions.

    Attributes: ``message`` (what is wrong) and ``help`` (how to fix it).
    """

    def __init__(self, rendered: str, message: Optional[str] = None, help: Optional[str] = None):
        super().__init__(rendered)
        self.rendered = rendered
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return self.rendered

    def __reduce__(self):
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls, state):
    e = Exception.__new__(cls)
    Exception.__init__(e, state.get("rendered"))
    e.__dict__.update(state)
    return e


@dataclass(frozen=True)
class Problem:
    """One problem with a scenario: ``message``, ``help``, ``file`` (the path, ``<string>``
    or ``<dict>``, or a table file of ``[tables]``), ``line`` and ``column`` (1-based; None
    when the problem is not at a place in the text; in a table, ``column`` is the column's
    name), ``row`` (in a Parquet table, which has no lines: the data row, from 1, or 0 for a
    problem with its columns) and ``set`` (the ``set`` override it is about, if it is)."""

    message: str
    help: str
    file: str
    line: Optional[int] = None
    column: Optional[Union[int, str]] = None
    set: Optional[str] = None
    row: Optional[int] = None


class ScenarioError(Error, ValueError):
    """The scenario cannot be read, parsed or validated (``pricegrad`` exits 2 for it).

    ``message``, ``help``, ``file``, ``line``, ``column``, ``row`` and ``set`` are those of
    the first problem; ``problems`` lists every one (as :class:`Problem`).
    """

    def __init__(self, rendered: str, problems: List[dict]):
        self.problems = [Problem(**p) for p in problems]
        first = self.problems[0] if self.problems else Problem("", "", "")
        super().__init__(rendered, first.message, first.help)
        self.file = first.file
        self.line = first.line
        self.column = first.column
        self.row = first.row
        self.set = first.set

    def _relabel(self, old: str, new: str) -> "ScenarioError":
        """The same error with the file ``old`` called ``new`` (a temporary copy of a
        scenario given as text, named as the text)."""
        problems = [dict(p.__dict__, file=new if p.file == old else p.file) for p in self.problems]
        return ScenarioError(self.rendered.replace(old, new), problems)


class UsageError(Error, ValueError):
    """A bad argument (a thread count of 0, a parameter spec that does not parse, ...)."""


class OutputError(Error, OSError):
    """The output directory cannot be used, or the results could not be written (a full
    disk, say): nothing of the run is in the directory."""


class RunError(Error, RuntimeError):
    """A computation that could not finish (the gradient of an economy that neither the
    forward pass nor the reference solver handles, a sweep that failed part way)."""
