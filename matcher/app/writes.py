"""Writes: the store first (one transaction, with the change log), then the served state.

Texts are encoded and candidate lists searched before the transaction (so a failure writes
nothing), and both are kept in the store with the write, so that every process applies the
write without encoding or searching again. The writing process then catches up with the
change log like any other.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import numpy as np

from embeddings import Encoder
from matcher.app.state import LiveState
from matcher.app.vectors import prepare_vectors
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.graph.graph import as_row
from matcher.ranking.profiles import FIELDS
from matcher.store import Store

__all__ = ["Writer"]

logger = logging.getLogger(__name__)


class Writer:
    """The write use cases over a store and (when loaded) the state this process serves.

    Args:
        store: the store.
        encoder: gives the encoder.
        state: gives the served state, or None when none is loaded.
    """

    def __init__(
        self,
        store: Store,
        encoder: Callable[[], Encoder],
        state: Callable[[], LiveState | None],
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.state = state

    def _after(self) -> None:
        state = self.state()
        if state is not None and state.snapshot is not None:
            state.refresh()

    def upsert_organisations(self, organisations: Sequence[Organisation]) -> list[str]:
        """Insert or replace organisations, all or none; the next query sees them.

        Raises:
            ValueError: an id appears twice in the batch.
        """
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
            with state.lock:
                p = state.context.profiles
                current = {
                    o.id: (
                        np.stack([p.vector(f, p.index[o.id]) for f in FIELDS]),
                        p.keys(p.index[o.id]),
                    )
                    for o in orgs
                    if o.id in p.index
                }
            known = current.get
        encoder = self.encoder()
        prepared = prepare_vectors(orgs, self.store, encoder, **({"known": known} if known else {}))
        # The candidate lists are searched once, here, and kept with the vectors: every
        # process applies the write without searching every profile again.
        lists: list[list[str] | None] = [None] * len(orgs)
        if state is not None and state.snapshot is not None:
            lists = list(state.candidates_of(orgs, prepared.vectors))
        with self.store.transaction():
            changed = set(self.store.write_organisations(orgs))
            for org, vectors, keys, listed in zip(
                orgs, prepared.vectors, prepared.keys, lists, strict=True
            ):
                if org.id in changed:
                    self.store.put_vectors(
                        org.id, encoder.model_id, [k.tobytes() for k in keys], vectors, listed
                    )
        self._after()
        logger.info("upserted %d organisations (%d changed)", len(ids), len(changed))
        return ids

    def remove_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations.

        Raises:
            UnknownOrganisationError: the id is not in the store.
        """
        self.store.delete_organisation(organisation_id)
        self._after()

    def add_collaborations(self, collaborations: Sequence[Collaboration]) -> int:
        """Record collaborations, all or none; return how many pairs changed.

        Raises:
            ReferentialError: an organisation of a collaboration is not in the store.
        """
        changed = self.store.upsert_collaboration_rows([as_row(c) for c in collaborations])
        self._after()
        return changed

    def remove_collaboration(self, collaboration: Collaboration) -> bool:
        """Delete one collaboration; return whether it existed."""
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
        self.store.add_feedback(organisation_id, other_id, kind, at or dt.datetime.now(dt.UTC))
