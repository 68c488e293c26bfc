"""The change feed: what a follower on another host needs to keep an exact copy of a store.

SQLite's WAL needs every process that opens the file on one host, so a server on another
host keeps a copy of the store (made once, :func:`matcher.app.replication.copy_home`) and
follows the writer's change log (:mod:`matcher.store.changes`) through the writer's
service. A page of the feed is the changes after a sequence number, with the current rows
of everything they touched, read in one read transaction:

- an organisation changed or deleted: its row (none when it is gone) and its kept vectors;
- a pair's collaborations, or feedback: every row of the pair;
- projects (a bulk import): the projects and participations tables whole;
- saved plans (not logged): the plans table whole, when the follower's copy differs.

The follower applies a page in one transaction and logs the same changes under the same
sequence numbers, so its own workers follow its copy exactly as the writer's follow the
writer's store, and a snapshot's sequence means the same on both. Rows sent are at least
as new as the page's last change: applying later pages converges to the writer's store.
A follower that fell behind the writer's pruned log (:meth:`ChangeLog.prune_changes`)
gets :class:`FeedGoneError` and needs a new copy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from matcher.store.changes import ChangeKind, ChangeLog
from matcher.store.migrations import SCHEMA_VERSION

__all__ = ["MAX_PAGE", "FeedError", "FeedGoneError", "Replication"]

MAX_PAGE = 2000
"""The most changes one page of the feed holds."""

_WHOLE = ("projects", "participations")
"""Tables sent whole when a page holds a projects change."""
_TABLES = frozenset(
    {"organisations", "organisation_vectors", "collaborations", "feedback", "plans", *_WHOLE}
)
"""The tables a page may carry rows of."""


class FeedError(ValueError):
    """A page of the feed that cannot be applied here (another schema, out of order)."""


class FeedGoneError(FeedError):
    """The changes a follower needs next were pruned from the writer's log."""


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


class Replication(ChangeLog):
    """Reading the feed of a store, and applying it to a copy (mixed into the store)."""

    def _columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self._db.execute(f"PRAGMA table_info({table})")]

    def _rows(
        self, table: str, where: str = "", keys: Iterable[Sequence[Any]] = ((),)
    ) -> dict[str, Any]:
        """The rows of ``table`` (those matching ``where`` for each of ``keys``), as JSON."""
        columns = self._columns(table)
        sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {where}" if where else "")
        rows = [
            [_encode(v) for v in row] for key in keys for row in self._db.execute(sql, tuple(key))
        ]
        return {"columns": columns, "rows": rows}

    def plans_mark(self) -> str:
        """A digest of the saved plans (names, versions, tokens): equal marks, equal plans."""
        digest = hashlib.sha256()
        for name, version, token in self._db.execute(
            "SELECT name, version, token FROM plans ORDER BY name, version"
        ):
            digest.update(f"{name}\x00{version}\x00{token or ''}\x01".encode())
        return digest.hexdigest()[:32]

    def feed(self, after: int, *, limit: int = 500, plans_mark: str = "") -> dict[str, Any]:
        """One page of the feed: the changes after ``after`` (at most ``limit``), as JSON.

        Raises:
            FeedGoneError: changes after ``after`` were pruned already.
            FeedError: ``after`` is beyond this store's sequence (another store's copy).
        """
        limit = max(1, min(limit, MAX_PAGE))
        with self.reading():
            latest = self.sequence()
            first = self._db.execute("SELECT MIN(seq) FROM changes").fetchone()[0]
            pruned = int(first) - 1 if first is not None else latest
            if after < pruned:
                raise FeedGoneError(
                    f"the changes after {after} were pruned (the log starts after {pruned}): "
                    "copy the writer's home again"
                )
            if after > latest:
                raise FeedError(
                    f"sequence {after} is ahead of this store's ({latest}): "
                    "the copy is not of this store"
                )
            changes = [
                list(r)
                for r in self._db.execute(
                    "SELECT seq, at, kind, organisation_id, other_id FROM changes "
                    "WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, limit),
                )
            ]
            orgs = {c[3]: None for c in changes if c[2] in _ORGANISATION_KINDS}
            ties = {(c[3], c[4]): None for c in changes if c[2] == ChangeKind.COLLABORATION.value}
            said = {(c[3], c[4]): None for c in changes if c[2] == ChangeKind.FEEDBACK.value}
            tables: dict[str, dict[str, Any]] = {
                "organisations": self._rows("organisations", "id=?", ((o,) for o in orgs)),
                "organisation_vectors": self._rows(
                    "organisation_vectors", "organisation_id=?", ((o,) for o in orgs)
                ),
                "collaborations": self._rows(
                    "collaborations", "organisation_a=? AND organisation_b=?", ties
                ),
                "feedback": self._rows("feedback", "organisation_id=? AND other_id=?", said),
            }
            if any(c[2] == ChangeKind.PROJECTS.value for c in changes):
                for table in _WHOLE:
                    tables[table] = self._rows(table)
            mark = self.plans_mark()
            if mark != plans_mark:
                tables["plans"] = self._rows("plans")
        return {
            "schema": SCHEMA_VERSION,
            "sequence": latest,
            "after": after,
            "changes": changes,
            "tables": tables,
            "plans_mark": mark,
        }

    def follow(self, page: dict[str, Any]) -> int:
        """Apply one page of another store's feed, in one transaction; return its changes.

        Raises:
            FeedError: another schema version, or a page that does not start at this
                copy's sequence.
        """
        if page.get("schema") != SCHEMA_VERSION:
            raise FeedError(
                f"the writer's store has schema version {page.get('schema')}, this copy "
                f"{SCHEMA_VERSION}: run the same version of the package on both"
            )
        changes: list[list[Any]] = page["changes"]
        tables: dict[str, dict[str, Any]] = page["tables"]
        # Rows arrive newer than the page (see the module docstring): a participation may
        # name an organisation whose change is in the next page. Foreign keys were checked
        # on the writer; here they are off (so an organisation's row is replaced without
        # cascading), and deletions remove what the writer's cascades removed.
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            with self.transaction():
                if self.sequence() != page["after"]:
                    raise FeedError(
                        f"a page after sequence {page['after']} does not follow this copy, "
                        f"at {self.sequence()}"
                    )
                self._apply(changes, tables)
        finally:
            self._db.execute("PRAGMA foreign_keys=ON")
        return len(changes)

    def _apply(self, changes: list[list[Any]], tables: dict[str, dict[str, Any]]) -> None:
        db = self._db
        touched = {c[3]: None for c in changes if c[2] in _ORGANISATION_KINDS}
        deleted = {c[3] for c in changes if c[2] == ChangeKind.ORGANISATION_DELETED.value}
        org_rows = tables.get("organisations", {"columns": ["id"], "rows": []})
        at = org_rows["columns"].index("id")
        present = {row[at] for row in org_rows["rows"]}
        # A deletion, in this page or after it, removed the organisation's ties on the
        # writer (foreign-key cascades): remove them here too. Those made since come back
        # with their own changes.
        for org_id in [o for o in touched if o in deleted or o not in present]:
            db.execute(
                "DELETE FROM collaborations WHERE organisation_a=? OR organisation_b=?",
                (org_id, org_id),
            )
            db.execute(
                "DELETE FROM feedback WHERE organisation_id=? OR other_id=?", (org_id, org_id)
            )
            db.execute("DELETE FROM participations WHERE organisation_id=?", (org_id,))
            db.execute("DELETE FROM organisations WHERE id=?", (org_id,))
        for org_id in touched:  # the kept vectors sent are the current ones, if any
            db.execute("DELETE FROM organisation_vectors WHERE organisation_id=?", (org_id,))
        for kind, table, where in (
            (ChangeKind.COLLABORATION, "collaborations", "organisation_a=? AND organisation_b=?"),
            (ChangeKind.FEEDBACK, "feedback", "organisation_id=? AND other_id=?"),
        ):
            for c in changes:
                if c[2] == kind.value:
                    db.execute(f"DELETE FROM {table} WHERE {where}", (c[3], c[4]))
        if unknown := set(tables) - _TABLES:
            raise FeedError(f"the page names tables this store does not follow: {unknown}")
        for table in (*_WHOLE, "plans"):
            if table in tables:
                db.execute(f"DELETE FROM {table}")
        for table, data in tables.items():
            self._insert(table, data)
        db.executemany(
            "INSERT INTO changes (seq, at, kind, organisation_id, other_id) VALUES (?, ?, ?, ?, ?)",
            (tuple(c) for c in changes),
        )

    def _insert(self, table: str, data: dict[str, Any]) -> None:
        if table not in _TABLES:
            raise FeedError(f"the page names a table this store does not follow: {table!r}")
        columns: list[str] = data["columns"]
        if columns != self._columns(table):
            raise FeedError(f"the writer's table {table!r} has other columns: {columns}")
        if not data["rows"]:
            return
        marks = ", ".join("?" for _ in columns)
        self._db.executemany(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            ([_decode(v) for v in row] for row in data["rows"]),
        )

    def table_rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of a table, sorted (to compare two stores)."""
        return sorted(tuple(r) for r in self._db.execute(f"SELECT * FROM {table}"))


_ORGANISATION_KINDS = frozenset(
    {ChangeKind.ORGANISATION.value, ChangeKind.ORGANISATION_DELETED.value}
)
