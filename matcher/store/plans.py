"""Saved workshop plans in the store: named, versioned, publishable by an unguessable token.

The :class:`~matcher.store.store.Store` mixes these methods in; the ``plans`` table comes
from its migrations (:mod:`matcher.store.migrations`, number 5). A document is any JSON
object (the service saves the planning request and the plan); every save of a name adds a
version, older versions stay.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from matcher.store.database import Database

__all__ = ["PlanRecords", "SavedPlan"]


@dataclass(frozen=True)
class SavedPlan:
    """One version of a saved plan."""

    name: str
    version: int
    created_at: str
    document: dict[str, Any]
    token: str | None = None


class PlanRecords(Database):
    """Saved plans, on the store's file (mixed into :class:`~matcher.store.store.Store`)."""

    def save_plan(self, name: str, document: dict[str, Any]) -> SavedPlan:
        """Store a new version of the plan ``name``; return it (version from 1)."""
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.transaction():
            row = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM plans WHERE name=?", (name,)
            ).fetchone()
            version = int(row[0]) + 1
            self._db.execute(
                "INSERT INTO plans (name, version, created_at, document) VALUES (?, ?, ?, ?)",
                (name, version, created, text),
            )
        return SavedPlan(name, version, created, document)

    def get_plan(self, name: str, version: int | None = None) -> SavedPlan | None:
        """A saved version (the latest by default), or None."""
        if version is None:
            row = self._db.execute(
                "SELECT name, version, created_at, document, token FROM plans WHERE name=? "
                "ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
        else:
            row = self._db.execute(
                "SELECT name, version, created_at, document, token FROM plans "
                "WHERE name=? AND version=?",
                (name, version),
            ).fetchone()
        return _saved(row)

    def list_plans(self) -> Iterator[SavedPlan]:
        """The latest version of every saved plan, by name (documents left empty)."""
        rows = self._db.execute(
            "SELECT name, MAX(version), created_at, '{}', NULL FROM plans GROUP BY name "
            "ORDER BY name"
        )
        for row in rows.fetchall():
            saved = _saved(row)
            if saved is not None:
                yield saved

    def publish_plan(self, name: str, version: int) -> str | None:
        """The read-only token of a saved version (made on first publication), or None."""
        with self.transaction():
            row = self._db.execute(
                "SELECT token FROM plans WHERE name=? AND version=?", (name, version)
            ).fetchone()
            if row is None:
                return None
            if row[0]:
                return str(row[0])
            token = secrets.token_urlsafe(24)
            self._db.execute(
                "UPDATE plans SET token=? WHERE name=? AND version=?", (token, name, version)
            )
        return token

    def published_plan(self, token: str) -> SavedPlan | None:
        """The saved version published under ``token``, or None."""
        row = self._db.execute(
            "SELECT name, version, created_at, document, token FROM plans WHERE token=?",
            (token,),
        ).fetchone()
        return _saved(row)


def _saved(row: Any) -> SavedPlan | None:
    if row is None:
        return None
    document = json.loads(row[3])
    return SavedPlan(str(row[0]), int(row[1]), str(row[2]), document, row[4])
