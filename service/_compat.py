"""TEMPORARY write shims: delete this module once the facade's write methods are in main.

The lead is adding ``upsert_organisations``, ``remove_organisation``, ``add_collaborations``,
``remove_collaboration`` and ``record_feedback`` to :class:`matcher.facade.Matcher`
(thread-safe, incremental index updates, atomic state swap). Until then this subclass
provides them with the same signatures, the simple way: one write lock, the store write
on a connection of its own (readers on the facade's connection never see a transaction
in progress), then a rebuild (only new texts are encoded) or a state reload.

On merge: delete this file and change the one import in ``service/deps.py`` to
``from matcher.facade import Matcher``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

from matcher.facade import Matcher as _FacadeMatcher
from matcher.schema import Collaboration, Organisation
from matcher.store import Store
from matcher.vocab import FeedbackKind

__all__ = ["Matcher"]


class Matcher(_FacadeMatcher):
    """The facade plus temporary write methods (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_lock = threading.Lock()
        self._writer = Store(self.settings.store_path)

    def close(self) -> None:
        """Close both connections."""
        self._writer.close()
        super().close()

    def _rebuild(self) -> None:
        self.build(show_progress=False)
        self.state()

    def _reload(self) -> None:
        self._state = None
        self.state()

    def upsert_organisations(self, orgs: Sequence[Organisation]) -> list[str]:
        """Insert or replace organisations, all or nothing; return their ids."""
        with self._write_lock:
            self._writer.upsert_organisations(orgs)
            self._rebuild()
            return [o.id for o in orgs]

    def remove_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations (UnknownOrganisationError if none)."""
        with self._write_lock:
            self._writer.delete_organisation(organisation_id)
            self._rebuild()

    def add_collaborations(self, collabs: Sequence[Collaboration]) -> int:
        """Insert collaborations, all or nothing; return rows changed."""
        with self._write_lock:
            changed = self._writer.upsert_collaborations(collabs)
            if changed:
                self._reload()
            return changed

    def remove_collaboration(self, collab: Collaboration) -> bool:
        """Delete one collaboration; return whether it existed."""
        with self._write_lock:
            found = self._writer.delete_collaboration(collab)
            if found:
                self._reload()
            return found

    def record_feedback(
        self, source_id: str, target_id: str, kind: FeedbackKind, note: str = ""
    ) -> None:
        """Store what ``source_id`` said about ``target_id`` (the note is not kept yet)."""
        with self._write_lock:
            self._writer.add_feedback(source_id, target_id, kind, dt.datetime.now(dt.UTC))
