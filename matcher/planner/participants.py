"""Who comes to a workshop: participants from a CSV file or a list.

A participant is a person of an organisation (several people per organisation allowed).
The organisation is in the store, or given inline by the row's profile columns (``name``
and ``kind`` at least) for an organisation the platform does not know yet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from matcher.domain.errors import ImportProblem, MatcherError
from matcher.domain.schema import Organisation

__all__ = [
    "PARTICIPANT_COLUMNS",
    "InvalidParticipantsError",
    "Participant",
    "parse_participants",
    "participant_problem",
    "read_participants",
]

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "organisation_id",
    "person",
    "host_table",
    "must_meet",
    "must_not_meet",
    "name",
    "kind",
    "country",
    "region",
    "description",
    "ecosystems",
    "stages",
    "keywords",
    "offers",
    "seeks",
    "target_countries",
    "languages",
)
"""Columns of a participants CSV; only ``organisation_id`` is required."""

_PROFILE_COLUMNS = PARTICIPANT_COLUMNS[5:]
_LIST_COLUMNS = frozenset({"ecosystems", "stages", "keywords", "target_countries", "languages"})


class InvalidParticipantsError(MatcherError):
    """Participants refused: each problem names its row and field."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"participants refused: {len(problems)} problem(s)\n  {shown}{more}")


@dataclass(frozen=True)
class Participant:
    """One person at the workshop, from an organisation.

    Args:
        organisation_id: the organisation (in the store, or given by ``profile``).
        person: the person's name; needed when an organisation sends several people.
        host_table: 1-based table this person hosts in every round.
        must_meet: participants (keys, person names or organisation ids) to sit with once.
        must_not_meet: participants never to sit with.
        profile: the organisation's profile when it is not in the store (cold start).
        source: where the participant came from, for messages (e.g. ``file.csv, line 3``).
    """

    organisation_id: str
    person: str | None = None
    host_table: int | None = None
    must_meet: tuple[str, ...] = ()
    must_not_meet: tuple[str, ...] = ()
    profile: Organisation | None = None
    source: str = ""

    @property
    def key(self) -> str:
        """``organisation_id/person``, or the organisation id when no person is named."""
        return f"{self.organisation_id}/{self.person}" if self.person else self.organisation_id

    @property
    def where(self) -> str:
        """`` (source)`` for messages, or nothing."""
        return f" ({self.source})" if self.source else ""


def participant_problem(p: Participant, field_name: str, message: str) -> ImportProblem:
    """A problem with one participant, located by its source (file and line)."""
    file, _, line = p.source.partition(", line ")
    return ImportProblem(
        file or "participants",
        int(line) if line.isdigit() else 0,
        field_name,
        f"{p.key}: {message}",
    )


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(";") if v.strip())


def parse_participants(text: str, *, name: str = "participants") -> list[Participant]:
    """Participants from CSV text (columns: :data:`PARTICIPANT_COLUMNS`).

    Rows with ``name`` and ``kind`` carry an inline profile (an organisation not in the
    store); the other profile columns are then read as in the platform's format.

    Raises:
        InvalidParticipantsError: a missing or unknown column, or a bad value; each
            problem names its line and field.
    """
    problems: list[ImportProblem] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if "organisation_id" not in header:
        problems.append(ImportProblem(name, 1, "organisation_id", "column required"))
    for column in header:
        if column not in PARTICIPANT_COLUMNS:
            problems.append(
                ImportProblem(
                    name, 1, column, f"unknown column; known: {', '.join(PARTICIPANT_COLUMNS)}"
                )
            )
    if problems:
        raise InvalidParticipantsError(problems)
    out: list[Participant] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"{name}, line {line}"
        org_id = row.get("organisation_id", "")
        if not org_id:
            problems.append(ImportProblem(name, line, "organisation_id", "value required"))
            continue
        host: int | None = None
        if row.get("host_table"):
            try:
                host = int(row["host_table"])
                if host < 1:
                    raise ValueError
            except ValueError:
                problems.append(
                    ImportProblem(name, line, "host_table", "a table number from 1 is needed")
                )
                continue
        profile: Organisation | None = None
        given = {c: row[c] for c in _PROFILE_COLUMNS if row.get(c)}
        if given:
            if "name" not in given or "kind" not in given:
                field_name = "name" if "name" not in given else "kind"
                problems.append(
                    ImportProblem(
                        name, line, field_name, "an inline profile needs both name and kind"
                    )
                )
                continue
            values: dict[str, Any] = {
                c: list(_split(v)) if c in _LIST_COLUMNS else v for c, v in given.items()
            }
            try:
                profile = Organisation(id=org_id, **values)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = str(err["loc"][0]) if err["loc"] else ""
                    problems.append(ImportProblem(name, line, loc, err["msg"]))
                continue
        person = row.get("person") or None
        if person and "/" in person:
            problems.append(ImportProblem(name, line, "person", "a name cannot contain '/'"))
            continue
        out.append(
            Participant(
                organisation_id=org_id,
                person=person,
                host_table=host,
                must_meet=_split(row.get("must_meet", "")),
                must_not_meet=_split(row.get("must_not_meet", "")),
                profile=profile,
                source=where,
            )
        )
    if problems:
        raise InvalidParticipantsError(problems)
    if not out:
        raise InvalidParticipantsError([ImportProblem(name, 0, "", "no participants")])
    return out


def read_participants(path: Path) -> list[Participant]:
    """Participants from a CSV file (see :func:`parse_participants`).

    Raises:
        InvalidParticipantsError: bad content, named by line and field.
        FileNotFoundError: no such file.
    """
    return parse_participants(path.read_text(encoding="utf-8"), name=path.name)
