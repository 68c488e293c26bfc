"""The stored profiles a process shows most, kept in memory until the change log says otherwise.

A recommendation shows ten stored profiles and the names of the partners its reasons cite.
Reading them from SQLite (rows, JSON lists, model construction) at every request was one of
the larger parts of a recommendation at 100k organisations, and the same profiles come back
often: the well-connected organisations are among many lists. :class:`OrganisationCache`
keeps the most recently shown ones (least recently used out first) and forgets an
organisation when :class:`~matcher.app.state.LiveState` applies a change of it, so what it
gives is what the store held when the served state last caught up with the change log (the
state the ranking read). A profile read from the store while a change of any organisation
was being applied is returned but not kept: it may predate the change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol

from matcher.domain.errors import UnknownOrganisationError
from matcher.domain.schema import Organisation
from matcher.store import Store

__all__ = ["OrganisationCache", "Organisations"]


class Organisations(Protocol):
    """Where the presentation of a list reads profiles and names (a store, or its cache)."""

    def get_organisations(self, ids: Iterable[str]) -> dict[str, Organisation]:
        """The organisations among ``ids`` that exist, by id."""
        ...

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """The names of the organisations among ``ids`` that exist, by id."""
        ...


class OrganisationCache:
    """At most ``size`` stored profiles by id, least recently used out first.

    Args:
        store: the store read on a miss.
        size: how many profiles are kept (0: none, every read goes to the store).
    """

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        self._kept: OrderedDict[str, Organisation] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        """Bumped by every :meth:`forget`: a read that started before is not kept."""
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    def get_organisations(self, ids: Iterable[str]) -> dict[str, Organisation]:
        """The organisations among ``ids`` that exist, by id (from memory where kept)."""
        wanted = list(dict.fromkeys(ids))
        found, generation = self._in_memory(wanted, shown=True)
        missing = [i for i in wanted if i not in found]
        if missing:
            read = self.store.get_organisations(missing)
            found.update(read)
            self._keep(read, generation)
        return {i: found[i] for i in wanted if i in found}

    def get_organisation(self, organisation_id: str) -> Organisation:
        """One organisation.

        Raises:
            UnknownOrganisationError: no organisation has this id.
        """
        found = self.get_organisations([organisation_id])
        if organisation_id not in found:
            raise UnknownOrganisationError(organisation_id)
        return found[organisation_id]

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        """The names of the organisations among ``ids`` that exist (misses are not kept)."""
        wanted = list(dict.fromkeys(ids))
        kept, _ = self._in_memory(wanted, shown=False)
        out = {org_id: org.name for org_id, org in kept.items()}
        missing = [i for i in wanted if i not in out]
        if missing:
            out.update(self.store.names(missing))
        return {i: out[i] for i in wanted if i in out}

    def forget(self, ids: Iterable[str]) -> None:
        """Drop organisations that changed (or were deleted) from memory."""
        with self._lock:
            self._generation += 1
            for org_id in ids:
                self._kept.pop(org_id, None)

    def clear(self) -> None:
        """Drop everything (e.g. when another snapshot is served)."""
        with self._lock:
            self._generation += 1
            self._kept.clear()

    def _in_memory(self, wanted: list[str], *, shown: bool) -> tuple[dict[str, Organisation], int]:
        """The kept ones among ``wanted``, and the generation they were read at.

        ``shown``: they are shown (move them to the back of the line, count hits and misses).
        """
        found: dict[str, Organisation] = {}
        with self._lock:
            for org_id in wanted:
                org = self._kept.get(org_id)
                if org is not None:
                    found[org_id] = org
                    if shown:
                        self._kept.move_to_end(org_id)
            if shown:
                self.hits += len(found)
                self.misses += len(wanted) - len(found)
            return found, self._generation

    def _keep(self, read: dict[str, Organisation], generation: int) -> None:
        if not self.size:
            return
        with self._lock:
            if generation != self._generation:
                return  # a change was applied meanwhile: what was read may predate it
            for org_id, org in read.items():
                self._kept[org_id] = org
                self._kept.move_to_end(org_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
