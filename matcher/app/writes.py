"""Writes: the store first (one transaction, with the change log), then the served state.

Texts are encoded and candidate lists searched before the transaction (so a failure writes
nothing), and both are kept in the store with the write, so that every process applies the
write without encoding or searching again. The writing process then catches up with the
change log like any other.

Encoding and searching take most of a profile write's time (tens of milliseconds of CPU
for a long text). They run on two background threads of lower priority (``nice``, Linux),
so that the requests of every worker on the machine come first when the cores are busy;
the write waits for them. Only the fields whose texts changed are encoded, and the
searches that need no new vector run beside the encoding. At most :data:`WAITING_WRITES`
more wait in line behind the one being prepared; a write beyond them is refused
(:class:`BusyError`) rather than queued for seconds when the cores are saturated.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from embeddings import Encoder
from matcher.app.state import LiveState
from matcher.app.vectors import Prepared, prepare_vectors
from matcher.domain.errors import BusyError, ReadOnlyError
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.graph.graph import as_row
from matcher.ranking.candidates import QUERY_FIELD
from matcher.ranking.profiles import FIELDS
from matcher.store import Store

__all__ = ["WAITING_WRITES", "Writer", "lower_priority"]

WAITING_WRITES = 2
"""Profile writes that may wait for the background thread behind the one it prepares."""

_Known = Callable[[str], tuple[np.ndarray, np.ndarray] | None]
"""Gives the current vectors and keys of an organisation already served, if any."""
_Ready = tuple[Prepared, list[list[str] | None]]
"""A write's vectors and keys, and each profile's candidate list (None: not searched)."""

logger = logging.getLogger(__name__)


def _unknown(_: str) -> None:
    """Nothing is known of any organisation's current vectors."""
    return None


def lower_priority(nice: int) -> None:
    """Add ``nice`` to the calling thread's niceness (Linux: per thread; elsewhere nothing)."""
    if sys.platform != "linux" or nice <= 0:
        return
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + nice))
    except OSError as exc:  # e.g. a sandbox that forbids it: run at the same priority
        logger.warning("could not lower the writes thread's priority: %s", exc)


class Writer:
    """The write use cases over a store and (when loaded) the state this process serves.

    Args:
        store: the store.
        encoder: gives the encoder.
        state: gives the served state, or None when none is loaded.
        nice: niceness added to the thread that encodes and searches (0: the caller's).
        read_only: refuse every write (a follower, ``MATCHER_FOLLOW``:
            :mod:`matcher.app.replication`).
    """

    def __init__(
        self,
        store: Store,
        encoder: Callable[[], Encoder],
        state: Callable[[], LiveState | None],
        *,
        nice: int = 0,
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.read_only = read_only
        self.encoder = encoder
        self.state = state
        self.nice = nice
        self._background: ThreadPoolExecutor | None = None
        self._beside: ThreadPoolExecutor | None = None
        self._opening = threading.Lock()
        self.taken = 0
        """Preparations submitted to the background thread and not finished."""

    def check_writable(self) -> None:
        """Refuse a write on a follower.

        Raises:
            ReadOnlyError: this process serves a follower's copy.
        """
        if self.read_only:
            raise ReadOnlyError(
                "this server follows a writer (MATCHER_FOLLOW) and takes no writes: "
                "send them to the writer"
            )

    def close(self) -> None:
        """Stop the background thread (a running preparation ends first)."""
        with self._opening:
            for pool in (self._background, self._beside):
                if pool is not None:
                    pool.shutdown(wait=True)
            self._background = self._beside = None

    def _prepare(
        self, orgs: list[Organisation], state: LiveState | None, known: _Known | None
    ) -> _Ready:
        """Encode what is new and search the candidate lists (see the module docstring)."""
        if self.nice <= 0:
            return self._encode_and_search(orgs, state, known)
        with self._opening:
            if self.taken > WAITING_WRITES:
                raise BusyError(
                    f"{self.taken} profile writes are being prepared or waiting already; "
                    "nothing was written, retry shortly"
                )
            if self._background is None:
                self._background = ThreadPoolExecutor(
                    1, "matcher-writes", initializer=lower_priority, initargs=(self.nice,)
                )
            running = self._background.submit(self._encode_and_search, orgs, state, known)
            self.taken += 1
        try:
            return running.result()
        finally:
            with self._opening:
                self.taken -= 1

    def _side(self) -> ThreadPoolExecutor:
        """The second thread (same priority) that searches beside the encoding."""
        with self._opening:
            if self._beside is None:
                self._beside = ThreadPoolExecutor(
                    1, "matcher-writes-beside", initializer=lower_priority, initargs=(self.nice,)
                )
            return self._beside

    def _encode_and_search(
        self, orgs: list[Organisation], state: LiveState | None, known: _Known | None
    ) -> _Ready:
        encoder = self.encoder()
        given = known if known is not None else _unknown
        if state is None or state.snapshot is None:
            return prepare_vectors(orgs, self.store, encoder, known=given), [None] * len(orgs)
        # The candidate lists are searched once, here, and kept with the vectors: every
        # process applies the write without searching every profile again. The searches
        # share two threads, and those whose query vectors are not encoded again (the tags
        # and offers when only a description changed) run beside the encoding.
        state.refresh()
        side = self._side()
        searching: dict[str, Future[list[list[str]]]] = {}

        def field_of(source: str, vectors: np.ndarray) -> np.ndarray:
            return vectors[:, FIELDS.index(QUERY_FIELD[source])]

        def early(partial: Prepared, encoded: np.ndarray) -> None:
            for source, field in QUERY_FIELD.items():
                if not encoded[:, FIELDS.index(field)].any():
                    queries = field_of(source, partial.vectors)
                    searching[source] = side.submit(state.search_candidates, orgs, source, queries)

        prepared = prepare_vectors(orgs, self.store, encoder, known=given, before_encoding=early)
        late = [source for source in QUERY_FIELD if source not in searching]
        for source in late[1::2]:
            queries = field_of(source, prepared.vectors)
            searching[source] = side.submit(state.search_candidates, orgs, source, queries)
        found = [
            state.search_candidates(orgs, source, field_of(source, prepared.vectors))
            for source in late[0::2]
        ]
        found += [f.result() for f in searching.values()]
        lists: list[list[str] | None] = list(state.merge_candidates(orgs, found))
        return prepared, lists

    def _after(self) -> None:
        # Apply the write to this process's state now if no ranking holds it; otherwise the
        # next ranking applies it first (every read catches up with the store): the write
        # is acknowledged without waiting for the rankings running.
        state = self.state()
        if state is not None and state.snapshot is not None:
            state.refresh(wait=False)

    def upsert_organisations(self, organisations: Sequence[Organisation]) -> list[str]:
        """Insert or replace organisations, all or none; the next query sees them.

        Raises:
            ValueError: an id appears twice in the batch.
            BusyError: too many profile writes wait for the background thread already.
        """
        self.check_writable()
        orgs = list(organisations)
        ids = [o.id for o in orgs]
        seen: set[str] = set()
        for org_id in ids:
            if org_id in seen:
                raise ValueError(f"organisation {org_id!r} appears twice in the batch")
            seen.add(org_id)
        state = self.state()
        known = None
        if state is not None and state.snapshot is not None:
            known = state.known_vectors(ids).get
        prepared, lists = self._prepare(orgs, state, known)
        model_id = self.encoder().model_id
        with self.store.transaction():
            changed = set(self.store.write_organisations(orgs))
            for org, vectors, keys, listed in zip(
                orgs, prepared.vectors, prepared.keys, lists, strict=True
            ):
                if org.id in changed:
                    self.store.put_vectors(
                        org.id, model_id, [k.tobytes() for k in keys], vectors, listed
                    )
        self._after()
        logger.info("upserted %d organisations (%d changed)", len(ids), len(changed))
        return ids

    def remove_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations.

        Raises:
            UnknownOrganisationError: the id is not in the store.
        """
        self.check_writable()
        self.store.delete_organisation(organisation_id)
        self._after()

    def add_collaborations(self, collaborations: Sequence[Collaboration]) -> int:
        """Record collaborations, all or none; return how many pairs changed.

        Raises:
            ReferentialError: an organisation of a collaboration is not in the store.
        """
        self.check_writable()
        changed = self.store.upsert_collaboration_rows([as_row(c) for c in collaborations])
        self._after()
        return changed

    def remove_collaboration(self, collaboration: Collaboration) -> bool:
        """Delete one collaboration; return whether it existed."""
        self.check_writable()
        existed = self.store.delete_collaboration(collaboration)
        self._after()
        return existed

    def record_feedback(
        self,
        organisation_id: str,
        other_id: str,
        kind: FeedbackKind,
        at: dt.datetime | None = None,
    ) -> None:
        """Store what an organisation said about a partner; the next ranking applies it.

        Raises:
            UnknownOrganisationError: either id is not in the store.
        """
        self.check_writable()
        self.store.add_feedback(organisation_id, other_id, kind, at or dt.datetime.now(dt.UTC))
