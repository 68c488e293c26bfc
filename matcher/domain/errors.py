"""Errors the domain raises, each naming what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BusyError",
    "ImportProblem",
    "InvalidImportError",
    "MatcherError",
    "ReadOnlyError",
    "ReferentialError",
    "StateError",
    "StoreFullError",
    "UnknownOrganisationError",
]


class MatcherError(Exception):
    """Base of the errors the matcher raises on bad input or state."""


class UnknownOrganisationError(MatcherError, KeyError):
    """An organisation id that the store does not hold."""

    def __init__(self, organisation_id: str) -> None:
        super().__init__(organisation_id)
        self.organisation_id = organisation_id

    def __str__(self) -> str:
        return f"unknown organisation id {self.organisation_id!r}"


class ReferentialError(MatcherError):
    """A collaboration names an organisation that does not exist."""


class StateError(MatcherError):
    """The state under MATCHER_HOME is missing, stale or does not match."""


class StoreFullError(MatcherError, OSError):
    """The disk holding the store is full: the write was refused whole."""


class ReadOnlyError(MatcherError):
    """A write to a follower (``MATCHER_FOLLOW``): it serves a copy and takes no writes."""


class BusyError(MatcherError):
    """Too much of this kind of work is waiting already: refused whole, nothing written."""


@dataclass(frozen=True)
class ImportProblem:
    """One rejected row: where it is and what is wrong with it."""

    file: str
    line: int
    field: str
    message: str
    fatal: bool = False
    """The whole file is unusable (unreadable, missing column): never skipped."""

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        field = f", field {self.field!r}" if self.field else ""
        return f"{where}{field}: {self.message}"


class InvalidImportError(MatcherError):
    """An import refused as a whole; nothing was written."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"import refused, nothing written: {len(problems)} problem(s)\n  {shown}{more}"
        )
