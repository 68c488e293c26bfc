"""The platform's own format: organisations and collaborations as CSV or JSON Lines.

CSV files are comma-separated UTF-8 with a header; list fields (ecosystems, stages,
keywords, target_countries, languages) hold values separated by ``;``. JSON Lines files
hold one object per line with the same keys, lists as JSON arrays. The columns are
:data:`ORGANISATION_COLUMNS` and :data:`COLLABORATION_COLUMNS` (see the README).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm.auto import tqdm

from matcher.domain.choices import did_you_mean
from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.domain.schema import Collaboration, Organisation
from matcher.ingest.files import CsvRows, open_text
from matcher.ingest.report import ImportReport, finish_validation, problems_from
from matcher.store import Store

__all__ = [
    "COLLABORATION_COLUMNS",
    "ORGANISATION_COLUMNS",
    "import_platform",
    "read_collaborations",
    "read_organisations",
    "write_collaborations",
    "write_organisations",
]

logger = logging.getLogger(__name__)

ORGANISATION_COLUMNS = tuple(Organisation.model_fields)
"""Columns of an organisations file; ``id``, ``name``, ``kind`` are required."""

COLLABORATION_COLUMNS = tuple(Collaboration.model_fields)
"""Columns of a collaborations file; ``organisation_a``, ``organisation_b``, ``date`` required."""

_LISTS = ("ecosystems", "stages", "keywords", "target_countries", "languages")
_ORG_REQUIRED = ("id", "name", "kind")
_COLLAB_REQUIRED = ("organisation_a", "organisation_b", "date")


def _unknown_columns(
    name: str, line: int, columns: Iterable[str], known: tuple[str, ...]
) -> list[ImportProblem]:
    """One fatal problem per column (or JSON key) that the format does not have."""
    return [
        ImportProblem(
            name,
            line,
            column,
            f"unknown column{did_you_mean(column, known)}; the columns are {', '.join(known)}",
            fatal=True,
        )
        for column in columns
        if column not in known
    ]


def _records(
    path: Path, required: tuple[str, ...], known: tuple[str, ...], problems: list[ImportProblem]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV or JSON Lines file as dicts with their line numbers.

    A column (or JSON key) outside ``known`` is one fatal problem for the file, reported
    once where it first appears, not once per row.
    """
    name = path.name
    if ".jsonl" in path.suffixes or ".ndjson" in path.suffixes:
        try:
            with open_text(path) as f:
                lines = list(enumerate(f, start=1))
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            problems.append(ImportProblem(name, 0, "", f"cannot read the file: {exc}", fatal=True))
            return
        reported: set[str] = set()
        for line, text in lines:
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                problems.append(ImportProblem(name, line, "", f"not valid JSON: {exc}"))
                continue
            if not isinstance(record, dict):
                problems.append(ImportProblem(name, line, "", "expected a JSON object"))
                continue
            unknown = [k for k in record if k not in known]
            if unknown:
                new = [k for k in unknown if k not in reported]
                problems.extend(_unknown_columns(name, line, new, known))
                reported.update(new)
                continue
            absent = [c for c in required if c not in record]
            for column in absent:
                problems.append(
                    ImportProblem(name, line, column, "missing: this field is required")
                )
            if not absent:
                yield line, record
        return
    rows = CsvRows(path, delimiter=",", required=required, problems=problems)
    checked = False
    for line, row in rows:
        if not checked:
            checked = True
            unknown = _unknown_columns(name, 1, rows.columns, known)
            if unknown:
                problems.extend(unknown)
                return
        values: dict[str, Any] = {k: v for k, v in row.items() if v != ""}
        for key in _LISTS:
            if key in values and isinstance(values[key], str):
                values[key] = [v.strip() for v in values[key].split(";") if v.strip()]
        yield line, values


def _read_organisations(
    path: Path, problems: list[ImportProblem]
) -> dict[str, tuple[int, Organisation]]:
    """Valid organisations by id; an id given twice with different data is rejected."""
    found: dict[str, tuple[int, Organisation]] = {}
    conflicted: set[str] = set()
    for line, record in tqdm(
        _records(path, _ORG_REQUIRED, ORGANISATION_COLUMNS, problems),
        desc=f"reading {path.name}",
        unit=" rows",
    ):
        try:
            org = Organisation.model_validate(record)
        except ValidationError as exc:
            problems.extend(problems_from(exc, path.name, line))
            continue
        if org.id not in found:
            found[org.id] = (line, org)
        elif found[org.id][1] != org:
            conflicted.add(org.id)
            problems.append(
                ImportProblem(
                    path.name,
                    line,
                    "id",
                    f"duplicate id {org.id!r} with data that differs from line {found[org.id][0]}",
                )
            )
    for org_id in conflicted:
        del found[org_id]
    return found


def _read_collaborations(
    path: Path, problems: list[ImportProblem]
) -> list[tuple[int, Collaboration]]:
    """Valid collaborations; a key given twice with a different weight is rejected."""
    found: dict[tuple[str, str, str, str, str], tuple[int, Collaboration]] = {}
    conflicted: set[tuple[str, str, str, str, str]] = set()
    for line, record in tqdm(
        _records(path, _COLLAB_REQUIRED, COLLABORATION_COLUMNS, problems),
        desc=f"reading {path.name}",
        unit=" rows",
    ):
        try:
            c = Collaboration.model_validate(record)
        except ValidationError as exc:
            problems.extend(problems_from(exc, path.name, line))
            continue
        key = (c.organisation_a, c.organisation_b, c.kind.value, c.date.isoformat(), c.source_ref)
        if key not in found:
            found[key] = (line, c)
        elif found[key][1] != c:
            conflicted.add(key)
            problems.append(
                ImportProblem(
                    path.name,
                    line,
                    "weight",
                    f"the same collaboration as on line {found[key][0]} with another weight",
                )
            )
    return [v for k, v in found.items() if k not in conflicted]


def read_organisations(path: Path) -> list[Organisation]:
    """Organisations from a platform CSV or JSON Lines file, without touching a store.

    Raises:
        InvalidImportError: any row or the file is invalid.
    """
    problems: list[ImportProblem] = []
    found = _read_organisations(path, problems)
    if problems:
        raise InvalidImportError(problems)
    return [o for _, o in found.values()]


def read_collaborations(path: Path) -> list[Collaboration]:
    """Collaborations from a platform CSV or JSON Lines file, without touching a store.

    Raises:
        InvalidImportError: any row or the file is invalid.
    """
    problems: list[ImportProblem] = []
    found = _read_collaborations(path, problems)
    if problems:
        raise InvalidImportError(problems)
    return [c for _, c in found]


def import_platform(
    store: Store,
    *,
    organisations: Path | None = None,
    collaborations: Path | None = None,
    skip_invalid: bool = False,
    report_path: Path | None = None,
) -> ImportReport:
    """Validate platform files, then write them to the store in one transaction.

    Args:
        store: the store to write to.
        organisations: a CSV or JSON Lines file of organisations.
        collaborations: a CSV or JSON Lines file of collaborations; their ends must be in
            the store already or in ``organisations``.
        skip_invalid: write the valid rows and report the rejected ones instead of refusing.
        report_path: where the rejected rows are listed (CSV) when ``skip_invalid``.

    Raises:
        InvalidImportError: any problem when not ``skip_invalid``, or a file-level problem
            (unreadable file, missing column); nothing is written.

    """
    problems: list[ImportProblem] = []
    orgs = _read_organisations(organisations, problems) if organisations else {}
    collabs = _read_collaborations(collaborations, problems) if collaborations else []
    if collabs:
        named = {c.organisation_a for _, c in collabs} | {c.organisation_b for _, c in collabs}
        known = set(orgs) | store.has_organisations(named - set(orgs))
        kept = []
        for line, c in collabs:
            for field in ("organisation_a", "organisation_b"):
                value = getattr(c, field)
                if value not in known:
                    problems.append(
                        ImportProblem(
                            collaborations.name if collaborations else "",
                            line,
                            field,
                            f"names organisation {value!r}, which is neither in the store "
                            "nor in this import",
                        )
                    )
            if c.organisation_a in known and c.organisation_b in known:
                kept.append((line, c))
        collabs = kept
    report = ImportReport(organisations=len(orgs), collaborations=len(collabs))
    report.report_path = finish_validation(
        problems, skip_invalid=skip_invalid, report_path=report_path
    )
    report.rejected = problems
    with store.transaction():
        report.changed += store.upsert_organisations(o for _, o in orgs.values())
        report.changed += store.upsert_collaborations(c for _, c in collabs)
    logger.info("platform import: %s", report.summary())
    return report


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def write_organisations(organisations: Iterable[Organisation], path: Path) -> int:
    """Write organisations in the platform format (CSV, or JSON Lines by suffix)."""
    return _write(path, ORGANISATION_COLUMNS, (o.model_dump(mode="json") for o in organisations))


def write_collaborations(collaborations: Iterable[Collaboration], path: Path) -> int:
    """Write collaborations in the platform format (CSV, or JSON Lines by suffix)."""
    return _write(path, COLLABORATION_COLUMNS, (c.model_dump(mode="json") for c in collaborations))


def _write(path: Path, columns: tuple[str, ...], records: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        if path.suffix in (".jsonl", ".ndjson"):
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
            return count
        writer = csv.writer(f)
        writer.writerow(columns)
        for record in records:
            writer.writerow([_csv_value(record.get(c)) for c in columns])
            count += 1
    return count
