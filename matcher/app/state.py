"""The state a process serves: the newest snapshot plus every change the store logged since.

:meth:`LiveState.refresh` is cheap (one SQLite read of the change-log sequence and a stat
of the ``current`` pointer) and runs before every read, so a write acknowledged by any
process is seen by the next request of every process. Applying a change reads the rows it
names from the store: an organisation's profile and the vectors its write left there (or,
when none were left, e.g. after a bulk import, its texts are encoded here), a pair's
collaborations. A newer snapshot (a build or a compaction) is loaded in the background and
swapped in once it has caught up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings import Encoder
from embeddings.artefact import current_folder
from embeddings.prefilter import compile_prefilter
from matcher.app.assemble import ACTIVITY_DAYS, MAX_CONSORTIUM
from matcher.app.organisations import OrganisationCache
from matcher.app.snapshot import Snapshot, load_snapshot
from matcher.app.vectors import prepare_vectors
from matcher.domain.errors import StateError
from matcher.domain.schema import Organisation
from matcher.graph.scores import compile_kernels
from matcher.ranking.candidates import lists_for, search
from matcher.ranking.profiles import FIELDS, RowValues
from matcher.ranking.rank import Context
from matcher.ranking.scorer import compile_medians
from matcher.store import Store
from matcher.store.changes import Change, ChangeKind

__all__ = ["LiveState"]

logger = logging.getLogger(__name__)


class LiveState:
    """One process's view of the store: a snapshot and the changes after it.

    Args:
        home: ``MATCHER_HOME`` (snapshots under ``builds/``).
        model: the embedding model snapshots must be built with.
        store: the store.
        encoder: the encoder (its model loads only for texts no write left vectors for).
    """

    def __init__(
        self, home: Path, model: str, store: Store, encoder: Encoder, *, cached: int = 0
    ) -> None:
        self.home = home
        self.model = model
        self.store = store
        self.encoder = encoder
        self.organisations = OrganisationCache(store, cached)
        """The stored profiles shown most, forgotten as their changes are applied."""
        self.snapshot: Snapshot | None = None
        self.seq = 0
        self.lock = threading.RLock()
        """Held while ranking and while applying changes (they touch the same arrays)."""
        self._applying = _ReadersWriter()
        """Applying changes excludes the searches of :meth:`search_candidates`, which only read
        the profiles (not the ranking's scratch space), so they do not hold :attr:`lock`."""
        self._loading: threading.Thread | None = None
        self._shift: tuple[dt.date, dt.date, dict[str, int]] | None = None
        """How the activity window moves (from, to, change per organisation), read ahead."""
        self._shifting = threading.Lock()
        """Held by the one thread reading :attr:`_shift`; the others wait for its answer."""
        self._pointer: tuple[int, int] | None = None

    @property
    def context(self) -> Context:
        """The ranking state (call :meth:`refresh` first).

        Raises:
            StateError: no snapshot yet.
        """
        if self.snapshot is None:
            raise StateError("no snapshot yet: run `matcher build`")
        return self.snapshot.context

    def _pointer_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.home / "current").stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def refresh(self, *, wait_for_snapshot: bool = False, wait: bool = True) -> None:
        """Follow a newer snapshot (in the background) and apply the changes logged since.

        Args:
            wait_for_snapshot: load the newest snapshot now, not in the background.
            wait: wait for the rankings running to apply the changes; without, leave them
                to the next one when one runs (it applies them before it ranks).

        Raises:
            StateError: no snapshot has been built yet.
        """
        stamp = self._pointer_stamp()
        if self.snapshot is None or wait_for_snapshot:
            if stamp is None:
                raise StateError("no snapshot yet: run `matcher build`")
            if self.snapshot is None or stamp != self._pointer:
                self._switch(stamp)
        elif stamp is not None and stamp != self._pointer and self._loading is None:
            self._loading = threading.Thread(target=self._switch, args=(stamp,), daemon=True)
            self._loading.start()
        if self.store.sequence() > self.seq:
            self._prepare_shift()
            if not self.lock.acquire(blocking=wait):
                return
            try:
                self._catch_up()
            finally:
                self.lock.release()

    def known_vectors(
        self, organisation_ids: Sequence[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The vectors and text keys this state holds for the ids it knows.

        Read beside running rankings (they do not change the profiles), not while changes
        are applied.
        """
        with self._applying.reading():
            if self.snapshot is None:
                return {}
            p = self.snapshot.context.profiles
            return {i: p.row_vectors(p.index[i]) for i in organisation_ids if i in p.index}

    def _prepare_shift(self) -> None:
        """Read how the activity window moves before taking the lock rankings wait for.

        Applying the changes uses it when the window still moves between the same dates
        (each changed pair's organisations are counted again there anyway).
        """
        if self.snapshot is None:
            return
        # Every request arriving after the write gets here; one reads the move (tens of
        # milliseconds for months of collaborations), the others wait for it rather than
        # each reading it again at once on the same cores (and find it read, or applied).
        with self._shifting:
            before = self.snapshot.context.graph.as_of
            latest = self.store.latest_collaboration()
            if latest is None or latest <= before:
                return
            shift = self._shift
            if shift is None or shift[:2] != (before, latest):
                moved = self.store.activity_shift(before, latest, ACTIVITY_DAYS)
                self._shift = (before, latest, moved)

    def _switch(self, stamp: tuple[int, int]) -> None:
        """Load the current snapshot, bring it up to the store, swap it in."""
        try:
            folder = current_folder(self.home)
            if folder is None:
                raise StateError("no snapshot yet: run `matcher build`")
            snapshot = load_snapshot(folder, model=self.model)
            compile_kernels(snapshot.context.graph)  # here, not in the first request
            compile_medians()
            compile_prefilter()
            fresh = LiveState(self.home, self.model, self.store, self.encoder)
            fresh.snapshot, fresh.seq = snapshot, snapshot.seq
            fresh._catch_up()
            with self.lock:
                fresh._catch_up()
                self.snapshot, self.seq, self._pointer = fresh.snapshot, fresh.seq, stamp
                self.organisations.clear()  # the changes were applied to ``fresh`` only
            logger.info("serving snapshot %s (store sequence %d)", folder.name, self.seq)
        finally:
            self._loading = None

    @contextmanager
    def reading(self) -> Iterator[Context]:
        """Hold the state still while a request reads it."""
        self.refresh()
        with self.lock:
            yield self.context

    def _catch_up(self) -> None:
        changes = self.store.changes_since(self.seq)
        if changes:
            with self._applying.writing():
                self.apply(changes)
            self.seq = changes[-1].seq

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply logged changes, oldest first (organisations, then pairs)."""
        ctx = self.context
        touched: dict[str, int] = {}
        deleted: dict[str, None] = {}
        pairs: dict[tuple[str, str], None] = {}
        for change in changes:
            if change.kind is ChangeKind.ORGANISATION:
                # First seen first (new rows are added in this order), latest change kept.
                touched[change.organisation_id] = change.seq
                deleted.pop(change.organisation_id, None)
            elif change.kind is ChangeKind.ORGANISATION_DELETED:
                deleted[change.organisation_id] = None
                touched.pop(change.organisation_id, None)
            elif change.kind is ChangeKind.COLLABORATION:
                pairs[(change.organisation_id, change.other_id)] = None
        self.organisations.forget([*touched, *deleted])
        for org_id in deleted:
            row = ctx.profiles.index.get(org_id)
            if row is not None:
                ctx.profiles.remove_row(row)
                ctx.graph.remove_row(row)
        if touched:
            self._apply_organisations(ctx, touched)
        if pairs:
            self._apply_pairs(ctx, list(pairs))

    def search_candidates(
        self, organisations: Sequence[Organisation], source: str, queries: np.ndarray
    ) -> list[list[str]]:
        """What one source of the candidate lists finds for profiles about to be written.

        Ids, per profile. Sources (:data:`~matcher.ranking.candidates.SOURCES`) may be
        searched on several threads at once.

        Args:
            organisations: the profiles.
            source: the source.
            queries: their vectors of the source's field (``QUERY_FIELD``), (q, d).
        """
        # Tens of milliseconds of exact search at 100k profiles: requests keep being ranked
        # meanwhile (only applying a change waits for it).
        with self._applying.reading():
            ctx = self.context
            p = ctx.profiles
            targets = [list(RowValues.of(o).targets) for o in organisations]
            parts = search(p, source, queries, targets, ctx.sizes)
            return [[p.ids[r] for r in np.concatenate(q).tolist()] if q else [] for q in parts]

    def merge_candidates(
        self, organisations: Sequence[Organisation], found: Sequence[list[list[str]]]
    ) -> list[list[str]]:
        """The candidate lists of profiles about to be written, from what their sources found.

        Each list: the rows (:meth:`search_candidates`) distinct, alive, in row order, without
        the profile's own.
        """
        with self._applying.reading():
            p = self.context.profiles
            out = []
            for i, org in enumerate(organisations):
                ids = {x for f in found for x in f[i]}
                rows = np.array([p.index[x] for x in ids if x in p.index], np.int64)
                rows = np.unique(rows[p.alive[rows]])
                rows = rows[rows != p.index.get(org.id, -1)]
                out.append([p.ids[r] for r in rows.tolist()])
            return out

    def _apply_organisations(self, ctx: Context, touched: dict[str, int]) -> None:
        """Apply profile changes (``touched``: each id's latest change in the batch)."""
        ids = list(touched)
        found = self.store.get_organisations(ids)
        orgs = [found[i] for i in ids if i in found]
        if not orgs:
            return
        p = ctx.profiles
        stored = self.store.stored_vectors(
            [o.id for o in orgs], model=self.model, dimension=p.dimension
        )

        def known(org_id: str) -> tuple[np.ndarray, np.ndarray] | None:
            got = stored.get(org_id)
            if got is not None:
                return got.vectors, np.stack([np.frombuffer(k, np.uint8) for k in got.keys])
            row = p.index.get(org_id)
            if row is None:
                return None
            return p.row_vectors(row)

        prepared = prepare_vectors(orgs, self.store, self.encoder, known=known)
        new = [o.id for o in orgs if o.id not in p.index]
        if new:
            ctx.graph.add_rows(len(new))
            p.add_rows(new)
        rows = [p.index[o.id] for o in orgs]
        p.set_rows(rows, orgs, prepared.vectors, prepared.keys)
        # A write through the application left its candidate list with its vectors: taken
        # as it is when it belongs to the latest change (a later bulk import leaves none).
        todo: list[int] = []
        for n, (org, row) in enumerate(zip(orgs, rows, strict=True)):
            got = stored.get(org.id)
            listed = got.candidates if got is not None and got.seq >= touched[org.id] else None
            if listed is None:
                todo.append(n)
                continue
            mapped = {p.index[i] for i in listed if i in p.index} - {row}
            ctx.lists.set(row, np.array(sorted(mapped), np.int64))
        if todo:
            vectors = {f: prepared.vectors[todo, j] for j, f in enumerate(FIELDS)}
            targets = [list(RowValues.of(orgs[n]).targets) for n in todo]
            mine = [rows[n] for n in todo]
            for row, found_rows in zip(
                mine, lists_for(p, vectors, targets, ctx.sizes, exclude=mine), strict=True
            ):
                ctx.lists.set(row, found_rows)
        ctx.masks.update(rows)

    def _apply_pairs(self, ctx: Context, pairs: list[tuple[str, str]]) -> None:
        p, graph = ctx.profiles, ctx.graph
        todo = list(pairs)
        seen_refs: set[str] = set()
        for a, b in pairs:  # a project grown past the size limit unlinks all its pairs
            for ref in self.store.pair_refs(a, b):
                if ref and ref not in seen_refs:
                    seen_refs.add(ref)
                    if self.store.consortium_size(ref) > MAX_CONSORTIUM:
                        todo += self.store.project_pairs(ref)
        touched: set[str] = set()
        for a, b in dict.fromkeys(todo):
            ra, rb = p.index.get(a), p.index.get(b)
            if ra is None or rb is None:
                continue
            linked = self.store.pair_linked(a, b, max_consortium=MAX_CONSORTIUM)
            if graph.set_link(ra, rb, linked):
                touched |= {a, b}
        latest = self.store.latest_collaboration()
        if latest is not None and latest > graph.as_of:
            # The activity window moves: count what came into it and what left it (a few
            # days' collaborations, by the date index), read before the lock when it can
            # be. Counting the whole table again took 0.27 s at 100k, holding every
            # ranking of the process.
            prepared = self._shift
            if prepared is not None and prepared[:2] == (graph.as_of, latest):
                shift = prepared[2]  # read before the lock was taken
            else:
                shift = self.store.activity_shift(graph.as_of, latest, ACTIVITY_DAYS)
            self._shift = None
            for org_id, change in shift.items():
                row = p.index.get(org_id)
                if row is not None:
                    p.activity[row] += change
            graph.as_of = latest
        # Counted again exactly: every organisation of a changed pair (a collaboration
        # dated inside the window, or one deleted, changes its count, linked or not).
        ends = [org for pair in dict.fromkeys(todo) for org in pair if org in p.index]
        since = graph.as_of - dt.timedelta(days=ACTIVITY_DAYS)
        for org_id, count in self.store.activity_of(ends, since, graph.as_of).items():
            p.activity[p.index[org_id]] = count
        if touched:
            ctx.update_hubs()


class _ReadersWriter:
    """Many readers at once, or one writer (a writer waits for the readers to finish)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._depth = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the read side."""
        with self._cond:
            while self._writer is not None:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write side (re-entrant for the thread holding it)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                while self._writer is not None or self._readers:
                    self._cond.wait()
                self._writer = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()
