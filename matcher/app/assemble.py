"""From the store to a ranking state: read once, encode what is new, assemble as of a date.

:func:`read_store` reads everything a build needs in one read transaction (a consistent
view at one change-log sequence). :func:`assemble` makes a ranking
:class:`~matcher.ranking.rank.Context` as of any date from it: the graph, texts and
funding domains up to that date, the profiles, the candidate lists. The build uses it for
the state it serves and for the historical states the ranker learns from.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings import EmbeddingCache, Encoder
from matcher.app.vectors import Encoded, encode, field_texts
from matcher.domain.schema import Organisation, Participation, Project
from matcher.graph.graph import CollaborationGraph, sizes_of_consortia
from matcher.graph.live import LiveGraph
from matcher.ranking.candidates import ListSizes, build_lists
from matcher.ranking.domains import DomainActivity
from matcher.ranking.profiles import Profiles
from matcher.ranking.rank import Context
from matcher.ranking.reasons import Thresholds
from matcher.ranking.scorer import Scorer
from matcher.store import CollaborationRow, Store

__all__ = [
    "ACTIVITY_DAYS",
    "MAX_CONSORTIUM",
    "StoreData",
    "assemble",
    "new_partners",
    "read_store",
]

logger = logging.getLogger(__name__)

MAX_CONSORTIUM = 50
"""Projects with more participants make no graph edges (weak links; the CORDIS protocol)."""

ACTIVITY_DAYS = 730
"""An organisation's activity counts its collaborations in this many days before the date."""


@dataclass(frozen=True)
class StoreData:
    """What a build reads from the store, at one change-log sequence.

    Attributes:
        seq: the change-log sequence the data reflects.
        organisations: every organisation, in id order.
        collaborations: every collaboration row.
        sizes: participants per project (``source_ref``).
        projects: every project by id.
        participations: every participation.
    """

    seq: int
    organisations: list[Organisation]
    collaborations: list[CollaborationRow]
    sizes: dict[str, int]
    projects: dict[str, Project]
    participations: list[Participation]

    @property
    def latest(self) -> dt.date | None:
        """The date of the most recent collaboration."""
        dates = [r[3][:10] for r in self.collaborations]
        return dt.date.fromisoformat(max(dates)) if dates else None


def read_store(store: Store) -> StoreData:
    """Read everything a build needs, in one consistent view."""
    with store.reading():
        seq = store.sequence()
        organisations = list(store.organisations())
        collaborations = [
            (
                c.organisation_a,
                c.organisation_b,
                str(c.kind),
                c.date.isoformat(),
                c.weight,
                c.source_ref,
            )
            for c in store.collaborations()
        ]
        projects = {p.id: p for p in store.projects()}
        participations = list(store.participations())
    sizes = sizes_of_consortia(collaborations)
    counted: dict[str, int] = {}
    for p in participations:
        counted[p.project_id] = counted.get(p.project_id, 0) + 1
    sizes.update(counted)
    return StoreData(seq, organisations, collaborations, sizes, projects, participations)


def _texts(data: StoreData, as_of: dt.date | None) -> dict[str, list[str]]:
    """Each organisation's project texts up to ``as_of`` (most recent first)."""
    dated: dict[str, list[tuple[str, str]]] = {}
    for part in data.participations:
        project = data.projects.get(part.project_id)
        if project is None:
            continue
        if as_of is not None and project.start_date is not None and project.start_date > as_of:
            continue
        text = project.text()
        if text:
            when = project.start_date.isoformat() if project.start_date else ""
            dated.setdefault(part.organisation_id, []).append((when, text))
    return {
        org: list(dict.fromkeys(t for _, t in sorted(items, key=lambda x: x[0], reverse=True)))
        for org, items in dated.items()
    }


def new_partners(
    data: StoreData, ids: Sequence[str], graph: CollaborationGraph, after: dt.date, until: dt.date
) -> dict[int, set[int]]:
    """Pairs first linked in (after, until] among ``ids`` (rows), projects ≤ 50 only."""
    index = {o: i for i, o in enumerate(ids)}
    start, end = after.isoformat(), until.isoformat()
    out: dict[int, set[int]] = {}
    for a, b, _, date, _, ref in data.collaborations:
        if not (start < date[:10] <= end):
            continue
        if ref and data.sizes.get(ref, 2) > MAX_CONSORTIUM:
            continue
        ra, rb = index.get(a), index.get(b)
        if ra is None or rb is None or ra == rb:
            continue
        linked = graph.partners(ra)
        at = int(np.searchsorted(linked, rb))
        if at < len(linked) and int(linked[at]) == rb:
            continue
        out.setdefault(ra, set()).add(rb)
        out.setdefault(rb, set()).add(ra)
    return out


def assemble(
    data: StoreData,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    as_of: dt.date | None,
    sizes: ListSizes,
    scorer: Scorer | None = None,
    thresholds: Thresholds | None = None,
    ann_min_rows: int = 0,
    show_progress: bool = False,
) -> tuple[Context, CollaborationGraph, Encoded]:
    """The ranking state as of a date (None: everything), with its graph and vectors.

    Organisations without any text and without any collaboration up to the date are left
    out of a historical state (they did not exist yet as far as the store knows). With at
    least ``ann_min_rows`` organisations (0: never) the vectors get approximate indexes
    before the candidate lists are built.
    """
    texts = _texts(data, as_of)
    fields = [field_texts(o, texts.get(o.id, [])) for o in data.organisations]
    cutoff = as_of.isoformat() if as_of else None
    active = {r[0] for r in data.collaborations if cutoff is None or r[3][:10] <= cutoff}
    active |= {r[1] for r in data.collaborations if cutoff is None or r[3][:10] <= cutoff}
    keep = [
        i
        for i, o in enumerate(data.organisations)
        if as_of is None or any(fields[i].values()) or o.id in active
    ]
    orgs = [data.organisations[i] for i in keep]
    encoded = encode([fields[i] for i in keep], encoder, cache, show_progress=show_progress)
    date = as_of or data.latest or dt.date.today()
    graph = CollaborationGraph.from_rows(
        data.collaborations,
        organisations=[o.id for o in orgs],
        until=as_of,
        max_consortium=MAX_CONSORTIUM,
        consortium_sizes=data.sizes,
        as_of=date,
    )
    assert graph.ids == [o.id for o in orgs], "every collaboration end up to the date is kept"
    since = (date - dt.timedelta(days=ACTIVITY_DAYS)).isoformat()
    counts: dict[str, int] = {}
    for a, b, _, day, _, _ in data.collaborations:
        if since < day[:10] <= date.isoformat():
            counts[a] = counts.get(a, 0) + 1
            counts[b] = counts.get(b, 0) + 1
    activity = np.array([counts.get(o.id, 0) for o in orgs], np.float64)
    profiles = Profiles.build(orgs, encoded.vectors, encoded.keys, activity)
    profiles.build_indexes(ann_min_rows)
    domains = DomainActivity.build(
        profiles.index, data.projects.values(), data.participations, as_of=as_of
    )
    lists = build_lists(profiles, sizes, show_progress=show_progress)
    ctx = Context(
        profiles,
        LiveGraph(graph),
        domains if any(len(f[1]) for f in domains.families) else None,
        lists,
        scorer or Scorer.hand(),
        thresholds or Thresholds({}, 0),
        sizes,
    )
    return ctx, graph, encoded
