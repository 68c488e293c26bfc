"""Tiny ranking states built in memory from hand-made organisations (no model needed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np

from matcher.domain.schema import Organisation
from matcher.graph.graph import CollaborationGraph
from matcher.graph.live import LiveGraph
from matcher.ranking.candidates import ListSizes, build_lists
from matcher.ranking.profiles import FIELDS, Profiles
from matcher.ranking.rank import Context
from matcher.ranking.reasons import Thresholds
from matcher.ranking.scorer import Scorer

DIM = 8


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def org(i: str, **kw: object) -> Organisation:
    data: dict[str, object] = {"id": i, "name": f"Org {i}", "kind": "cluster", "country": "DE"}
    data.update(kw)
    return Organisation.model_validate(data)


def context(
    orgs: Sequence[Organisation],
    edges: Sequence[tuple[str, str, str]] = (),
    vectors: Mapping[str, np.ndarray] | None = None,
    *,
    scorer: Scorer | None = None,
    thresholds: Thresholds | None = None,
    sizes: ListSizes | None = None,
) -> Context:
    """A ranking state over ``orgs`` (sorted by id), edges (a, b, ISO date) and vectors by field."""
    orgs = sorted(orgs, key=lambda o: o.id)
    n = len(orgs)
    rows = [(min(a, b), max(a, b), "joint_project", d, 1.0, f"P-{a}-{b}") for a, b, d in edges]
    graph = CollaborationGraph.from_rows(rows, organisations=[o.id for o in orgs])
    given = dict(vectors or {})
    full = {f: np.asarray(given.get(f, np.zeros((n, DIM))), np.float32) for f in FIELDS}
    keys = np.zeros((n, len(FIELDS), 16), np.uint8)
    profiles = Profiles.build(orgs, full, keys, np.zeros(n))
    sizes = sizes or ListSizes()
    lists = build_lists(profiles, sizes)
    return Context(
        profiles,
        LiveGraph(graph),
        None,
        lists,
        scorer or Scorer.hand(),
        thresholds or Thresholds({}, 0),
        sizes,
    )


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
