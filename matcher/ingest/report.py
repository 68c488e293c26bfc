"""What an import did, and the report of rejected rows."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from matcher.domain.choices import UnknownChoiceError
from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.domain.languages import normalise_language

__all__ = ["ImportReport", "describe_error", "finish_validation", "problems_from"]


@dataclass
class ImportReport:
    """Counts of an import and the rows it rejected."""

    organisations: int = 0
    collaborations: int = 0
    projects: int = 0
    participations: int = 0
    changed: int = 0
    rejected: list[ImportProblem] = field(default_factory=list)
    report_path: Path | None = None

    def summary(self) -> str:
        """One line for people."""
        text = (
            f"read {self.organisations} organisations, {self.collaborations} collaborations"
            + (f", {self.projects} projects" if self.projects else "")
            + f"; {self.changed} rows changed in the store"
        )
        if self.rejected:
            rows = len({(p.file, p.line) for p in self.rejected})
            text += (
                f"; {rows} row(s) rejected ({len(self.rejected)} problem(s)), "
                f"listed in {self.report_path}"
            )
        return text


def problems_from(error: ValidationError, file: str, line: int) -> list[ImportProblem]:
    """One problem per field a validation error names, in our words (never pydantic's).

    The field is the column (``ecosystems``, not ``ecosystems.1``); the message quotes the value.
    Each message names the bad value and, for a closed list, the allowed values and the
    nearest one ("did you mean").
    """
    out = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        field = loc[0] if loc else ""
        out.append(ImportProblem(file, line, field, describe_error(loc[:1], item)))
    return out


def describe_error(loc: list[str], item: ErrorDetails) -> str:
    """A pydantic error item as one sentence that names the value (and the choices)."""
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    field = loc[0] if loc else "value"
    shown = _show(value)
    if kind == "enum":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        what = field[:-1] if field.endswith("s") and field != "kinds" else field
        return str(UnknownChoiceError(what.replace("_", " "), str(value), choices))
    if kind == "value_error":
        if field == "languages" and isinstance(value, list):
            for code in value:
                try:
                    normalise_language(str(code))
                except ValueError as exc:
                    return str(exc)
        message = str(ctx.get("error", "")) or "invalid value"
        return message if shown in message else f"{shown}: {message}"
    if kind == "missing":
        return "missing: this field is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "empty: a value is required" if least == 1 else f"{shown}: under {least} characters"
    if kind == "string_too_long":
        return f"{len(str(value)):,} characters, at most {ctx.get('max_length'):,} allowed"
    if kind.startswith(("int_", "float_")) and kind.endswith(("parsing", "type", "fraction")):
        whole = kind.startswith("int_")
        return f"{shown} is not {'a whole number' if whole else 'a number'}"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        bound = ctx.get(key)
        return (
            f"{shown} must be {word} {bound:g}"
            if isinstance(bound, float)
            else (f"{shown} must be {word} {bound}")
        )
    if kind.startswith("datetime_"):
        return f"{shown} is not a date and time (expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)"
    if kind.startswith("date_"):
        return f"{shown} is not a date (expected YYYY-MM-DD)"
    if kind == "list_type":
        return f"{shown} is not a list"
    if kind == "string_type":
        return f"{shown} is not text"
    text = str(item.get("msg", "invalid value"))
    text = text.removeprefix("Value error, ").replace("Input should be", "expected")
    return f"{shown}: {text[:1].lower()}{text[1:]}"


_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _show(value: Any, width: int = 60) -> str:
    """A value as quoted in a message, clipped."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 2] + "…" + text[-1]


def finish_validation(
    problems: list[ImportProblem], *, skip_invalid: bool, report_path: Path | None
) -> Path | None:
    """Refuse the import, or write the report of rejected rows and go on.

    Raises:
        InvalidImportError: there are problems and ``skip_invalid`` is false.

    """
    if not problems:
        return None
    if not skip_invalid or any(p.fatal for p in problems):
        raise InvalidImportError(problems)
    if report_path is None:
        return None
    report_path.parent.mkdir(parents=True, exist_ok=True)
    with report_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "line", "field", "problem"])
        for p in problems:
            writer.writerow([p.file, p.line, p.field, p.message])
    return report_path
