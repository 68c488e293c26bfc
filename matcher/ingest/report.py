"""What an import did, and the report of rejected rows."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from matcher.domain.errors import ImportProblem, InvalidImportError

__all__ = ["ImportReport", "finish_validation", "problems_from"]


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
            text += f"; {len(self.rejected)} problems, rejected rows listed in {self.report_path}"
        return text


def problems_from(error: ValidationError, file: str, line: int) -> list[ImportProblem]:
    """One problem per field a pydantic error names."""
    out = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or ""
        out.append(ImportProblem(file, line, loc, item["msg"]))
    return out


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
