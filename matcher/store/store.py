"""The SQLite store of organisations, collaborations, projects and participations."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from matcher.domain.errors import ReferentialError, UnknownOrganisationError
from matcher.domain.schema import Collaboration, Organisation, Participation, Project
from matcher.domain.vocab import CollaborationKind, Ecosystem, FeedbackKind, OrganisationKind, Stage
from matcher.store.changes import ChangeKind
from matcher.store.migrations import SCHEMA_VERSION
from matcher.store.plans import PlanRecords
from matcher.store.replication import Replication

__all__ = ["SCHEMA_VERSION", "STORE_FILE", "CollaborationRow", "Store"]

STORE_FILE = "matcher.sqlite"
"""The store's file name in a home (``MATCHER_HOME``)."""

CollaborationRow = tuple[str, str, str, str, float, str]
"""A validated collaboration as stored: a, b (a < b), kind, ISO date, weight, source_ref."""

logger = logging.getLogger(__name__)

_LIST_FIELDS = ("ecosystems", "stages", "keywords", "target_countries", "languages")
_ORG_COLUMNS = (
    "id",
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
    "size",
    "languages",
    "website",
    "updated_at",
)
_PROJECT_COLUMNS = tuple(Project.model_fields)


def _org_row(org: Organisation) -> tuple[Any, ...]:
    data = org.model_dump(mode="json")
    for name in _LIST_FIELDS:
        data[name] = json.dumps(data[name], ensure_ascii=False)
    return tuple(data[c] for c in _ORG_COLUMNS)


def _org_from_row(row: sqlite3.Row) -> Organisation:
    """A stored profile (validated when it was written: constructed, not validated again)."""
    data = dict(row)
    # The list columns are JSON arrays written by _org_row: decoded in one pass.
    lists = json.loads(f"[{','.join(data[name] for name in _LIST_FIELDS)}]")
    data.update(zip(_LIST_FIELDS, lists, strict=True))
    data["kind"] = OrganisationKind(data["kind"])
    data["ecosystems"] = [Ecosystem(e) for e in data["ecosystems"]]
    data["stages"] = [Stage(s) for s in data["stages"]]
    if data["updated_at"] is not None:
        data["updated_at"] = dt.datetime.fromisoformat(data["updated_at"])
    return Organisation.model_construct(**data)


class Store(Replication, PlanRecords):
    """One SQLite file (WAL mode) holding the platform's state: the single source of truth.

    Every write also appends to the change log (:class:`~matcher.store.changes.ChangeLog`)
    in the same transaction.

    Args:
        path: the database file; created with the current schema if missing.
    """

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- organisations ---------------------------------------------------------------------

    def upsert_organisations(self, organisations: Iterable[Organisation]) -> int:
        """Insert or replace organisations by id; return how many rows changed."""
        return len(self.write_organisations(organisations))

    def write_organisations(self, organisations: Iterable[Organisation]) -> list[str]:
        """Insert or replace organisations by id; return the ids whose row changed.

        Each changed organisation is a change in the log (same transaction).
        """
        placeholders = ", ".join("?" for _ in _ORG_COLUMNS)
        updates = ", ".join(f"{c}=excluded.{c}" for c in _ORG_COLUMNS[1:])
        differs = " OR ".join(f"{c} IS NOT excluded.{c}" for c in _ORG_COLUMNS[1:])
        sql = (
            f"INSERT INTO organisations ({', '.join(_ORG_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates} WHERE {differs} RETURNING id"
        )
        changed: list[str] = []
        with self.transaction():
            for org in organisations:
                changed.extend(r[0] for r in self._db.execute(sql, _org_row(org)).fetchall())
            self.record_many(ChangeKind.ORGANISATION, ((i, "") for i in changed))
        return changed

    def delete_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations and participations."""
        with self.transaction():
            cur = self._db.execute("DELETE FROM organisations WHERE id=?", (organisation_id,))
            if cur.rowcount == 0:
                raise UnknownOrganisationError(organisation_id)
            self.record(ChangeKind.ORGANISATION_DELETED, organisation_id)

    def get_organisation(self, organisation_id: str) -> Organisation:
        """Return one organisation.

        Raises:
            UnknownOrganisationError: no organisation has this id.

        """
        row = self._db.execute(
            "SELECT * FROM organisations WHERE id=?", (organisation_id,)
        ).fetchone()
        if row is None:
            raise UnknownOrganisationError(organisation_id)
        return _org_from_row(row)

    def get_organisations(self, ids: Iterable[str]) -> dict[str, Organisation]:
        """Return the organisations among ``ids`` that exist, by id."""
        return {row["id"]: _org_from_row(row) for row in self._by_ids("*", ids)}

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """The names of the organisations among ``ids`` that exist, by id."""
        return {row[0]: row[1] for row in self._by_ids("id, name", ids)}

    def has_organisations(self, ids: Iterable[str]) -> set[str]:
        """Return the subset of ``ids`` that exist."""
        return {row[0] for row in self._by_ids("id", ids)}

    def _by_ids(self, columns: str, ids: Iterable[str]) -> Iterator[sqlite3.Row]:
        """Rows of the organisations among ``ids``, 500 ids per query."""
        wanted = list(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            yield from self._db.execute(
                f"SELECT {columns} FROM organisations WHERE id IN ({marks})", chunk
            )

    def organisations(
        self, *, kind: str | None = None, country: str | None = None, text: str | None = None
    ) -> Iterator[Organisation]:
        """Iterate over organisations in id order, optionally filtered.

        Args:
            kind: only this kind.
            country: only this country.
            text: only those whose id, name or description holds every word of it
                (case-insensitive for ASCII letters, as SQLite's ``LIKE``).
        """
        sql, args = "SELECT * FROM organisations", []
        where = []
        for word in (text or "").split():
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' "
                "OR description LIKE ? ESCAPE '\\')"
            )
            args += [pattern] * 3
        if kind is not None:
            where.append("kind=?")
            args.append(kind)
        if country is not None:
            where.append("country=?")
            args.append(country)
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self._db.execute(sql + " ORDER BY id", args):
            yield _org_from_row(row)

    def organisation_ids(self) -> list[str]:
        """All organisation ids in id order."""
        return [r[0] for r in self._db.execute("SELECT id FROM organisations ORDER BY id")]

    def count_organisations(self) -> int:
        """How many organisations the store holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM organisations").fetchone()[0])

    # -- collaborations --------------------------------------------------------------------

    def upsert_collaborations(self, collaborations: Iterable[Collaboration]) -> int:
        """Insert collaborations, updating the weight of known ones; return rows changed.

        Raises:
            ReferentialError: a collaboration names an unknown organisation (nothing written).

        """
        return self.upsert_collaboration_rows(
            (
                c.organisation_a,
                c.organisation_b,
                c.kind.value,
                c.date.isoformat(),
                c.weight,
                c.source_ref,
            )
            for c in collaborations
        )

    def upsert_collaboration_rows(self, collaborations: Iterable[CollaborationRow]) -> int:
        """Like :meth:`upsert_collaborations` for rows already validated (bulk imports).

        Each row is (organisation_a, organisation_b, kind, ISO date, weight, source_ref)
        with organisation_a < organisation_b.
        """
        rows = list(collaborations)
        named = {r[0] for r in rows} | {r[1] for r in rows}
        missing = named - self.has_organisations(named)
        if missing:
            shown = ", ".join(sorted(missing)[:10])
            raise ReferentialError(
                f"{len(missing)} collaboration end(s) name unknown organisations: {shown}"
            )
        sql = (
            "INSERT INTO collaborations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
            "SET weight=excluded.weight WHERE weight IS NOT excluded.weight "
            "RETURNING organisation_a, organisation_b"
        )
        pairs: dict[tuple[str, str], None] = {}
        with self.transaction():
            for row in rows:
                for a, b in self._db.execute(sql, row).fetchall():
                    pairs[(a, b)] = None
            self.record_many(ChangeKind.COLLABORATION, pairs)
        return len(pairs)

    def delete_collaboration(self, collaboration: Collaboration) -> bool:
        """Delete one collaboration by its key; return whether it existed."""
        c = collaboration
        with self.transaction():
            cur = self._db.execute(
                "DELETE FROM collaborations WHERE organisation_a=? AND organisation_b=? "
                "AND kind=? AND date=? AND source_ref=?",
                (
                    c.organisation_a,
                    c.organisation_b,
                    c.kind.value,
                    c.date.isoformat(),
                    c.source_ref,
                ),
            )
            if cur.rowcount > 0:
                self.record(ChangeKind.COLLABORATION, c.organisation_a, c.organisation_b)
            return cur.rowcount > 0

    def collaborations(
        self, *, until: dt.date | None = None, organisation_id: str | None = None
    ) -> Iterator[Collaboration]:
        """Iterate over collaborations, optionally up to a date or for one organisation."""
        sql, args = "SELECT * FROM collaborations", []
        where = []
        if until is not None:
            where.append("date <= ?")
            args.append(until.isoformat())
        if organisation_id is not None:
            where.append("(organisation_a = ? OR organisation_b = ?)")
            args += [organisation_id, organisation_id]
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self._db.execute(sql, args):
            yield Collaboration.model_construct(
                organisation_a=row["organisation_a"],
                organisation_b=row["organisation_b"],
                kind=CollaborationKind(row["kind"]),
                date=dt.date.fromisoformat(row["date"]),
                weight=row["weight"],
                source_ref=row["source_ref"],
            )

    def unknown_collaboration_rows(
        self, collaborations: Iterable[CollaborationRow]
    ) -> list[CollaborationRow]:
        """The rows whose key (ends, kind, date, source_ref) the store does not hold yet."""
        sql = (
            "SELECT 1 FROM collaborations WHERE organisation_a=? AND organisation_b=? "
            "AND kind=? AND date=? AND source_ref=?"
        )
        out: dict[tuple[str, str, str, str, str], CollaborationRow] = {}
        for row in collaborations:
            key = (row[0], row[1], row[2], row[3], row[5])
            if key not in out and self._db.execute(sql, key).fetchone() is None:
                out[key] = row
        return list(out.values())

    def consortium_size(self, source_ref: str) -> int:
        """A project's participants, else the organisations its collaborations name.

        The same count :meth:`CollaborationGraph.from_store` filters large projects by.
        """
        count = self._db.execute(
            "SELECT COUNT(*) FROM participations WHERE project_id=?", (source_ref,)
        ).fetchone()[0]
        if count:
            return int(count)
        named = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT organisation_a FROM collaborations WHERE source_ref=? "
            "UNION SELECT organisation_b FROM collaborations WHERE source_ref=?)",
            (source_ref, source_ref),
        ).fetchone()[0]
        return int(named)

    def pair_linked(self, a: str, b: str, *, max_consortium: int) -> bool:
        """Whether a pair counts as linked: a collaboration outside projects above the size."""
        return any(
            not ref or self.consortium_size(ref) <= max_consortium for ref in self.pair_refs(a, b)
        )

    def project_pairs(self, source_ref: str) -> list[tuple[str, str]]:
        """The pairs a project's collaborations link."""
        return [
            (r[0], r[1])
            for r in self._db.execute(
                "SELECT DISTINCT organisation_a, organisation_b FROM collaborations "
                "WHERE source_ref=?",
                (source_ref,),
            )
        ]

    def pair_refs(self, a: str, b: str) -> list[str]:
        """The projects of a pair's collaborations ('' for those without one)."""
        lo, hi = sorted((a, b))
        return [
            r[0]
            for r in self._db.execute(
                "SELECT DISTINCT source_ref FROM collaborations "
                "WHERE organisation_a=? AND organisation_b=?",
                (lo, hi),
            )
        ]

    def activity_of(self, ids: Iterable[str], since: dt.date, until: dt.date) -> dict[str, int]:
        """Collaborations dated in (since, until] of some organisations."""
        out: dict[str, int] = {}
        for org_id in dict.fromkeys(ids):
            row = self._db.execute(
                "SELECT COUNT(*) FROM collaborations WHERE (organisation_a=? OR organisation_b=?) "
                "AND date > ? AND date <= ?",
                (org_id, org_id, since.isoformat(), until.isoformat()),
            ).fetchone()
            out[org_id] = int(row[0])
        return out

    def activity_shift(self, before: dt.date, after: dt.date, days: int) -> dict[str, int]:
        """How each organisation's count of collaborations changes when its window moves.

        The window of ``days`` days ending at ``before`` moves to end at ``after``: what
        is dated in (before, after] comes in, what is dated in (before - days, after -
        days] leaves. Two date ranges read by the date index, not the whole table.
        """
        span = dt.timedelta(days=days)
        bounds = (before.isoformat(), after.isoformat())
        gone = ((before - span).isoformat(), (after - span).isoformat())
        rows = self._db.execute(
            "SELECT org, SUM(n) FROM ("
            "SELECT organisation_a AS org, 1 AS n FROM collaborations WHERE date > ? AND date <= ? "
            "UNION ALL SELECT organisation_b, 1 FROM collaborations WHERE date > ? AND date <= ? "
            "UNION ALL SELECT organisation_a, -1 FROM collaborations WHERE date > ? AND date <= ? "
            "UNION ALL SELECT organisation_b, -1 FROM collaborations WHERE date > ? AND date <= ?"
            ") GROUP BY org",
            (*bounds, *bounds, *gone, *gone),
        )
        return {str(org): int(n) for org, n in rows if n}

    def partners(self, organisation_id: str) -> set[str]:
        """Ids of every organisation this one has collaborated with."""
        rows = self._db.execute(
            "SELECT organisation_b FROM collaborations WHERE organisation_a=? "
            "UNION SELECT organisation_a FROM collaborations WHERE organisation_b=?",
            (organisation_id, organisation_id),
        )
        return {r[0] for r in rows}

    def partner_pairs(self, ids: Iterable[str]) -> set[tuple[str, str]]:
        """Pairs (a < b) among ``ids`` that have collaborated (any kind, any date)."""
        wanted = json.dumps(sorted(set(ids)))
        rows = self._db.execute(
            "SELECT DISTINCT organisation_a, organisation_b FROM collaborations "
            "WHERE organisation_a IN (SELECT value FROM json_each(?)) "
            "AND organisation_b IN (SELECT value FROM json_each(?))",
            (wanted, wanted),
        )
        return {(str(a), str(b)) for a, b in rows}

    def latest_collaboration(self) -> dt.date | None:
        """The date of the most recent collaboration."""
        value = self._db.execute("SELECT MAX(date) FROM collaborations").fetchone()[0]
        return dt.date.fromisoformat(value) if value else None

    def count_collaborations(self) -> int:
        """How many collaborations the store holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM collaborations").fetchone()[0])

    # -- feedback --------------------------------------------------------------------------

    def add_feedback(
        self, organisation_id: str, other_id: str, kind: FeedbackKind, at: dt.datetime
    ) -> None:
        """Record what an organisation said about a suggested partner (latest time kept).

        Raises:
            UnknownOrganisationError: either id is not in the store.
        """
        for org_id in (organisation_id, other_id):
            if not self.has_organisations([org_id]):
                raise UnknownOrganisationError(org_id)
        with self.transaction():
            self._db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                "SET created_at=excluded.created_at",
                (organisation_id, other_id, kind.value, at.isoformat()),
            )
            self.record(ChangeKind.FEEDBACK, organisation_id, other_id)

    def feedback_about(self, organisation_id: str) -> dict[str, set[FeedbackKind]]:
        """Feedback involving an organisation, by the other organisation's id.

        Both directions count: if either side said 'not interested' or blocked the other,
        the pair carries that kind.
        """
        out: dict[str, set[FeedbackKind]] = {}
        rows = self._db.execute(
            "SELECT other_id, kind FROM feedback WHERE organisation_id=? "
            "UNION SELECT organisation_id, kind FROM feedback WHERE other_id=?",
            (organisation_id, organisation_id),
        )
        for other, kind in rows:
            out.setdefault(other, set()).add(FeedbackKind(kind))
        return out

    # -- projects --------------------------------------------------------------------------

    def upsert_projects(self, projects: Iterable[Project]) -> int:
        """Insert or replace projects by id; return rows changed."""
        cols = _PROJECT_COLUMNS
        updates = ", ".join(f"{c}=excluded.{c}" for c in cols[1:])
        differs = " OR ".join(f"{c} IS NOT excluded.{c}" for c in cols[1:])
        sql = (
            f"INSERT INTO projects ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates} WHERE {differs}"
        )
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(
                sql, (tuple(p.model_dump(mode="json")[c] for c in cols) for p in projects)
            )
            changed = self._db.total_changes - before
            if changed:
                self.record(ChangeKind.PROJECTS)
            return changed

    def upsert_participations(self, participations: Iterable[Participation]) -> int:
        """Insert participations (project, organisation, role); return rows changed."""
        sql = (
            "INSERT INTO participations VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
            "SET role=excluded.role WHERE role IS NOT excluded.role RETURNING organisation_id"
        )
        touched: dict[str, None] = {}
        changed = 0
        with self.transaction():
            for p in participations:
                for (org_id,) in self._db.execute(
                    sql, (p.project_id, p.organisation_id, p.role)
                ).fetchall():
                    touched[org_id] = None
                    changed += 1
            if touched:
                self.record(ChangeKind.PROJECTS)
                self.record_many(ChangeKind.ORGANISATION, ((i, "") for i in touched))
        return changed

    def projects(self) -> Iterator[Project]:
        """Iterate over all projects."""
        for row in self._db.execute("SELECT * FROM projects ORDER BY id"):
            yield Project.model_validate(dict(row))

    def participations(self) -> Iterator[Participation]:
        """Iterate over all participations."""
        for row in self._db.execute("SELECT * FROM participations"):
            yield Participation.model_construct(**dict(row))

    def project_texts(self, ids: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Each organisation's project texts (distinct, most recent project first).

        Args:
            ids: only these organisations (default: all).
        """
        where = ""
        args: tuple[str, ...] = ()
        if ids is not None:
            wanted = tuple(dict.fromkeys(ids))
            if not wanted:
                return {}
            where = f"WHERE pa.organisation_id IN ({', '.join('?' for _ in wanted)}) "
            args = wanted
        pairs = self._db.execute(
            "SELECT pa.organisation_id, pa.project_id FROM participations pa "
            "JOIN projects p ON p.id = pa.project_id "
            f"{where}ORDER BY pa.organisation_id, p.start_date DESC, p.id",
            args,
        ).fetchall()
        # Each project's text once (a project has many participants).
        projects = "SELECT * FROM projects"
        if ids is not None:
            projects += f" WHERE id IN (SELECT pa.project_id FROM participations pa {where})"
        texts = {
            row["id"]: Project.model_validate(dict(row)).text()
            for row in self._db.execute(projects, args)
        }
        out: dict[str, list[str]] = {}
        for org_id, project_id in pairs:
            text = texts[project_id]
            if text:
                own = out.setdefault(org_id, [])
                if text not in own:
                    own.append(text)
        return out

    def count_projects(self) -> int:
        """How many projects the store holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM projects").fetchone()[0])

    # -- summaries -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts by kind, country and ecosystem, and collaborations by kind."""

        def grouped(sql: str) -> dict[str, int]:
            return {str(k): int(n) for k, n in self._db.execute(sql)}

        return {
            "organisations": {
                "total": self.count_organisations(),
                "by_kind": grouped(
                    "SELECT kind, COUNT(*) FROM organisations GROUP BY kind ORDER BY 2 DESC"
                ),
                "by_country": grouped(
                    "SELECT country, COUNT(*) FROM organisations GROUP BY country "
                    "ORDER BY 2 DESC, 1"
                ),
                "by_ecosystem": grouped(
                    "SELECT j.value, COUNT(*) FROM organisations, json_each(ecosystems) j "
                    "GROUP BY j.value ORDER BY 2 DESC, 1"
                ),
            },
            "collaborations": {
                "total": self.count_collaborations(),
                "by_kind": grouped(
                    "SELECT kind, COUNT(*) FROM collaborations GROUP BY kind ORDER BY 2 DESC"
                ),
            },
            "projects": self.count_projects(),
        }
