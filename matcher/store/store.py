"""The SQLite store of organisations, collaborations, projects and participations."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matcher.domain.errors import ReferentialError, UnknownOrganisationError
from matcher.domain.schema import Collaboration, Organisation, Participation, Project
from matcher.domain.vocab import FeedbackKind
from matcher.store.plans import PLANS_SCHEMA, PlanRecords

__all__ = ["SCHEMA_VERSION", "CollaborationRow", "Store"]

CollaborationRow = tuple[str, str, str, str, float, str]
"""A validated collaboration as stored: a, b (a < b), kind, ISO date, weight, source_ref."""

logger = logging.getLogger(__name__)

_MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE organisations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        country TEXT,
        region TEXT,
        description TEXT NOT NULL DEFAULT '',
        ecosystems TEXT NOT NULL DEFAULT '[]',
        stages TEXT NOT NULL DEFAULT '[]',
        keywords TEXT NOT NULL DEFAULT '[]',
        offers TEXT NOT NULL DEFAULT '',
        seeks TEXT NOT NULL DEFAULT '',
        target_countries TEXT NOT NULL DEFAULT '[]',
        size INTEGER,
        languages TEXT NOT NULL DEFAULT '[]',
        website TEXT,
        updated_at TEXT
    );
    CREATE INDEX organisations_kind_country ON organisations(kind, country);
    CREATE TABLE collaborations (
        organisation_a TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        organisation_b TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        date TEXT NOT NULL,
        weight REAL NOT NULL,
        source_ref TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (organisation_a, organisation_b, kind, date, source_ref),
        CHECK (organisation_a < organisation_b)
    ) WITHOUT ROWID;
    CREATE INDEX collaborations_b ON collaborations(organisation_b);
    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        acronym TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT '',
        topic_title TEXT NOT NULL DEFAULT '',
        objective TEXT NOT NULL DEFAULT '',
        programme TEXT NOT NULL DEFAULT '',
        funding_scheme TEXT NOT NULL DEFAULT '',
        start_date TEXT,
        end_date TEXT
    );
    CREATE TABLE participations (
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        organisation_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        role TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (project_id, organisation_id)
    ) WITHOUT ROWID;
    CREATE INDEX participations_organisation ON participations(organisation_id);
    """,
    # 2: feedback on suggestions, and blocked pairs.
    """
    CREATE TABLE feedback (
        organisation_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        other_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (organisation_id, other_id, kind)
    ) WITHOUT ROWID;
    CREATE INDEX feedback_other ON feedback(other_id);
    """,
    # 3: collaborations by project, for consortium sizes on incremental graph updates.
    """
    CREATE INDEX IF NOT EXISTS collaborations_source ON collaborations(source_ref);
    """,
    # 4: saved workshop plans (matcher/store/plans.py).
    PLANS_SCHEMA,
]

SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this code writes; older stores are migrated on open."""

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
    data = dict(row)
    for name in _LIST_FIELDS:
        data[name] = json.loads(data[name])
    return Organisation.model_validate(data)


class Store(PlanRecords):
    """One SQLite file (WAL mode) holding the platform's state.

    Args:
        path: the database file; created with the current schema if missing.

    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._migrate()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """The calling thread's connection (one per thread, so transactions never mix)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
            self._local.depth = 0
            with self._connections_lock:
                self._connections.append(db)
        return db

    @property
    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @_depth.setter
    def _depth(self, value: int) -> None:
        self._local.depth = value

    def close(self) -> None:
        """Close every thread's connection."""
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: schema version {version} is newer than this code's "
                f"({SCHEMA_VERSION}); upgrade the package"
            )
        for number in range(version, SCHEMA_VERSION):
            logger.info("migrating %s to schema version %d", self.path, number + 1)
            with self.transaction():
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one transaction (nested blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- organisations ---------------------------------------------------------------------

    def upsert_organisations(self, organisations: Iterable[Organisation]) -> int:
        """Insert or replace organisations by id; return how many rows changed."""
        placeholders = ", ".join("?" for _ in _ORG_COLUMNS)
        updates = ", ".join(f"{c}=excluded.{c}" for c in _ORG_COLUMNS[1:])
        differs = " OR ".join(f"{c} IS NOT excluded.{c}" for c in _ORG_COLUMNS[1:])
        sql = (
            f"INSERT INTO organisations ({', '.join(_ORG_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates} WHERE {differs}"
        )
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(sql, (_org_row(o) for o in organisations))
            return self._db.total_changes - before

    def delete_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations and participations."""
        with self.transaction():
            cur = self._db.execute("DELETE FROM organisations WHERE id=?", (organisation_id,))
            if cur.rowcount == 0:
                raise UnknownOrganisationError(organisation_id)

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
        ids = list(ids)
        out: dict[str, Organisation] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in self._db.execute(
                f"SELECT * FROM organisations WHERE id IN ({marks})", chunk
            ):
                out[row["id"]] = _org_from_row(row)
        return out

    def has_organisations(self, ids: Iterable[str]) -> set[str]:
        """Return the subset of ``ids`` that exist."""
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found.update(
                r[0]
                for r in self._db.execute(
                    f"SELECT id FROM organisations WHERE id IN ({marks})", chunk
                )
            )
        return found

    def organisations(
        self, *, kind: str | None = None, country: str | None = None
    ) -> Iterator[Organisation]:
        """Iterate over organisations in id order, optionally filtered."""
        sql, args = "SELECT * FROM organisations", []
        where = []
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
            "INSERT INTO collaborations VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET weight=excluded.weight WHERE weight IS NOT excluded.weight"
        )
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(sql, rows)
            return self._db.total_changes - before

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
                kind=row["kind"],
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

    def activity(self, since: dt.date, until: dt.date | None = None) -> dict[str, int]:
        """Collaborations per organisation dated in [since, until]."""
        end = (until or dt.date.max).isoformat()
        rows = self._db.execute(
            "SELECT org, COUNT(*) FROM ("
            "SELECT organisation_a AS org FROM collaborations WHERE date >= ? AND date <= ? "
            "UNION ALL "
            "SELECT organisation_b FROM collaborations WHERE date >= ? AND date <= ?"
            ") GROUP BY org",
            (since.isoformat(), end, since.isoformat(), end),
        )
        return {str(org): int(n) for org, n in rows}

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
            return self._db.total_changes - before

    def upsert_participations(self, participations: Iterable[Participation]) -> int:
        """Insert participations (project, organisation, role); return rows changed."""
        sql = (
            "INSERT INTO participations VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
            "SET role=excluded.role WHERE role IS NOT excluded.role"
        )
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(
                sql, ((p.project_id, p.organisation_id, p.role) for p in participations)
            )
            return self._db.total_changes - before

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
