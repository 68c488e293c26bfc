"""The change log: a monotonically increasing sequence of what every write changed.

Every write to the store appends, in the same transaction, one row per changed thing
(an organisation, a pair's collaborations, feedback, projects). A snapshot records the
sequence number it reflects; a process serving a snapshot applies the changes after it,
so every process serves exactly the store. Organisations written through the
application also leave their vectors here (``organisation_vectors``), so that no other
process has to encode them again, and their candidate lists, so that no other process has
to search every profile again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from matcher.store.database import Database

__all__ = ["Change", "ChangeKind", "ChangeLog", "StoredVectors"]


class ChangeKind(StrEnum):
    """What a change touched."""

    ORGANISATION = "organisation"
    """An organisation was inserted or its profile changed (``organisation_id``)."""
    ORGANISATION_DELETED = "organisation_deleted"
    """An organisation was deleted, with its collaborations (``organisation_id``)."""
    COLLABORATION = "collaboration"
    """The collaborations of a pair changed (``organisation_id`` < ``other_id``)."""
    FEEDBACK = "feedback"
    """Feedback of ``organisation_id`` about ``other_id``."""
    PROJECTS = "projects"
    """Projects or participations changed (texts and funding domains; a bulk import)."""


@dataclass(frozen=True)
class Change:
    """One row of the change log."""

    seq: int
    kind: ChangeKind
    organisation_id: str
    other_id: str


@dataclass(frozen=True)
class StoredVectors:
    """An organisation's vectors as its last write left them."""

    seq: int
    model: str
    keys: tuple[bytes, ...]
    """One 16-byte text key per field (what was encoded)."""
    vectors: npt.NDArray[np.float32]
    """(fields, dimension)."""
    candidates: tuple[str, ...] | None = None
    """The candidate list the write computed (ids), or None when it left none."""


class ChangeLog(Database):
    """The change log and the vectors written with it."""

    def record(self, kind: ChangeKind, organisation_id: str = "", other_id: str = "") -> None:
        """Append one change; call inside the write's transaction."""
        self.record_many(kind, [(organisation_id, other_id)])

    def record_many(self, kind: ChangeKind, pairs: Iterable[tuple[str, str]]) -> None:
        """Append one change per (organisation_id, other_id); call inside a transaction."""
        at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        self._db.executemany(
            "INSERT INTO changes (at, kind, organisation_id, other_id) VALUES (?, ?, ?, ?)",
            ((at, kind.value, a, b) for a, b in pairs),
        )

    def sequence(self) -> int:
        """The number of the latest change (0 before any)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='changes'").fetchone()
        return int(row[0]) if row else 0

    def changes_since(self, seq: int, *, until: int | None = None) -> list[Change]:
        """The changes after ``seq`` (up to ``until``), oldest first."""
        rows = self._db.execute(
            "SELECT seq, kind, organisation_id, other_id FROM changes "
            "WHERE seq > ? AND seq <= ? ORDER BY seq",
            (seq, until if until is not None else 2**62),
        )
        return [Change(int(s), ChangeKind(k), a, b) for s, k, a, b in rows]

    def count_changes_since(self, seq: int) -> int:
        """How many changes came after ``seq``."""
        return int(
            self._db.execute("SELECT COUNT(*) FROM changes WHERE seq > ?", (seq,)).fetchone()[0]
        )

    def put_vectors(
        self,
        organisation_id: str,
        model: str,
        keys: Iterable[bytes],
        vectors: npt.NDArray[np.float32],
        candidates: Sequence[str] | None = None,
    ) -> None:
        """Keep an organisation's vectors with the latest change; call inside a transaction.

        ``candidates``: the candidate list computed with them (ids), if any.
        """
        blob = np.ascontiguousarray(vectors, np.float32)
        listed = None if candidates is None else json.dumps(list(candidates))
        self._db.execute(
            "INSERT INTO organisation_vectors VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
            "SET seq=excluded.seq, model=excluded.model, keys=excluded.keys, "
            "vectors=excluded.vectors, candidates=excluded.candidates",
            (organisation_id, self.sequence(), model, b"".join(keys), blob.tobytes(), listed),
        )

    def stored_vectors(
        self, ids: Iterable[str], *, model: str, dimension: int
    ) -> dict[str, StoredVectors]:
        """The vectors kept for these organisations by ``model``, by id."""
        ids = list(dict.fromkeys(ids))
        out: dict[str, StoredVectors] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for org_id, seq, keys, blob, listed in self._db.execute(
                "SELECT organisation_id, seq, keys, vectors, candidates FROM organisation_vectors "
                f"WHERE model=? AND organisation_id IN ({marks})",
                (model, *chunk),
            ):
                vectors = np.frombuffer(blob, np.float32).reshape(-1, dimension)
                split = tuple(keys[i : i + 16] for i in range(0, len(keys), 16))
                found = None if listed is None else tuple(json.loads(listed))
                out[org_id] = StoredVectors(int(seq), model, split, vectors, found)
        return out

    def all_stored_vectors(self, *, model: str, dimension: int) -> dict[str, StoredVectors]:
        """Every organisation's kept vectors by ``model``."""
        ids = [r[0] for r in self._db.execute("SELECT organisation_id FROM organisation_vectors")]
        return self.stored_vectors(ids, model=model, dimension=dimension)

    def prune_changes(self, up_to: int) -> int:
        """Forget changes and kept vectors up to ``up_to`` (a snapshot no one serves any more).

        Returns:
            How many changes were forgotten.
        """
        with self.transaction():
            cur = self._db.execute("DELETE FROM changes WHERE seq <= ?", (up_to,))
            self._db.execute("DELETE FROM organisation_vectors WHERE seq <= ?", (up_to,))
            return int(cur.rowcount)
