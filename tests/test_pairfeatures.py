"""Pair features and the two-stage boosted ranking on a hand-made table."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.schema import Organisation
from matcher.evaluation.harness import Split
from matcher.evaluation.offline import BOOSTED_FEATURES, boosted_scores, boosted_training_pairs
from matcher.graph import CollaborationGraph
from matcher.ranking.pairfeatures import PAIR_FEATURES, SWAPS, pair_columns, swapped
from matcher.ranking.signals import ProfileTable
from models import BoostedRanker, fit_boosted

Row = tuple[str, str, str, str, float, str]


def _rows(edges: list[tuple[str, str, str]]) -> list[Row]:
    return [(min(a, b), max(a, b), "joint_project", d, 1.0, f"P-{a}-{b}-{d}") for a, b, d in edges]


def _table(
    ids: list[str], edges: list[tuple[str, str, str]], activity: list[float]
) -> ProfileTable:
    orgs = [
        Organisation.model_validate(
            {"id": i, "name": i, "kind": "sme" if i < "P" else "university",
             "country": "DE" if i in "QX" else "FR"}
        )
        for i in sorted(ids)
    ]  # fmt: skip
    graph = CollaborationGraph.from_rows(_rows(edges), organisations=[o.id for o in orgs])
    n = len(orgs)
    text = np.eye(n, 4, dtype=np.float32)
    return ProfileTable(orgs, text, text.copy(), text.copy(), graph, dt.date(2025, 12, 31),
                        np.asarray(activity, np.float64))  # fmt: skip


EDGES = [("Q", "P1", "2024-01-01"), ("Q", "P2", "2024-01-01"), ("P1", "X", "2025-01-01"),
         ("P2", "X", "2025-06-01"), ("X", "Z", "2025-06-01")]  # fmt: skip
IDS = ["Q", "P1", "P2", "X", "Y", "Z"]


def test_known_answers() -> None:
    t = _table(IDS, EDGES, [1, 2, 3, 4, 5, 6])
    q, x, z = t.rows["Q"], t.rows["X"], t.rows["Z"]
    cols = pair_columns(t, np.array([q]))
    assert set(cols) == set(PAIR_FEATURES)
    assert cols["common_neighbours"][0, x] == 2 and cols["common_neighbours"][0, q] == 0
    assert math.isclose(cols["adamic_adar"][0, x], 2 / math.log(2))
    assert cols["resource_allocation"][0, x] == 1.0
    assert cols["paths3"][0, z] == 2  # Q-P1-X-Z and Q-P2-X-Z
    assert cols["jaccard"][0, x] == 2 / 3 and cols["share_q"][0, x] == 1.0
    assert cols["share_c"][0, x] == 2 / 3  # X has three partners
    # the graph's date is its latest collaboration (2025-06-01): Q's edges are old
    assert cols["recent_common"][0, x] == 0.0 and cols["recent_degree_c"][0, x] == 3
    since = (dt.date(2025, 6, 1) - dt.date(2024, 1, 1)).days / 365.25
    assert math.isclose(cols["years_since_q"][0, x], since)
    assert cols["years_since_c"][0, t.rows["Y"]] == 5.0  # no history
    assert cols["same_country"][0, x] == 1.0 and cols["same_country"][0, z] == 0.0
    assert cols["common_neighbours_rel"][0, x] == 1.0
    assert cols["degree_c"][0, x] == 3 and cols["degree_q"][0, x] == 2
    assert cols["activity_c"][0, z] == 6 and cols["activity_q"][0, z] == t.activity[q]


def test_a_subset_of_candidates_gets_the_same_values() -> None:
    t = _table(IDS, EDGES, [1, 2, 3, 4, 5, 6])
    rows = np.array([t.rows["Q"], t.rows["Z"]])
    full = pair_columns(t, rows)
    some = np.array([t.rows["X"], t.rows["Y"]])
    part = pair_columns(t, rows, some)
    for name in PAIR_FEATURES:
        assert np.array_equal(part[name], full[name][:, some]), name


def test_swapping_sides_swaps_query_and_candidate_features() -> None:
    t = _table(IDS, EDGES, [1, 2, 3, 4, 5, 6])
    q, x = t.rows["Q"], t.rows["X"]
    back = pair_columns(t, np.array([x]))
    seen = swapped(pair_columns(t, np.array([q])))
    for name in ("degree_q", "degree_c", "share_q", "share_c", "activity_q", "common_neighbours"):
        assert seen[name][0, x] == back[name][0, q], name
    assert all(SWAPS[SWAPS[k]] == k for k in SWAPS)


def _split(extra: list[tuple[str, str, str]]) -> Split:
    return Split.from_collaborations(_rows(EDGES + extra), 2025, (2026, 2026), queries=10)


def _aa_first_stage(t: ProfileTable, rows: np.ndarray) -> np.ndarray:
    return np.asarray(t.graph.adamic_adar(rows), np.float64) + 1e-3 * t.degree[None, :]


def test_training_pairs_are_each_querys_pool() -> None:
    t = _table(IDS, EDGES, [1, 2, 3, 4, 5, 6])
    labels = _split([("Q", "X", "2026-03-01"), ("Y", "Z", "2026-03-01")])
    x, y, g = boosted_training_pairs(t, labels, first_stage=_aa_first_stage, pool=2)
    assert x.shape == (len(y), len(BOOSTED_FEATURES)) and len(g) == len(y)
    assert sorted(np.unique(g).tolist()) == list(range(len(labels.queries)))
    assert np.all(np.bincount(g) <= 2)
    assert y.sum() >= 2  # Q finds X at the top of its pool, X finds Q
    q = int(np.flatnonzero([labels.ids[r] == "Q" for r in labels.queries])[0])
    first = x[g == q][0]
    assert first[BOOSTED_FEATURES.index("common_neighbours")] == 2  # X comes first
    assert y[g == q][0] == 1


@functools.cache
def _ranker() -> BoostedRanker:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(BOOSTED_FEATURES)))
    y = (x[:, 1] > 0.5).astype(int)
    return fit_boosted(x, y, BOOSTED_FEATURES, params={"max_iter": 5, "min_samples_leaf": 20})


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=6, max_size=6), st.integers(1, 5))
def test_two_stage_scores_invariants(activity: list[float], pool: int) -> None:
    t = _table(IDS, EDGES, activity)
    rows = np.arange(len(t), dtype=np.int64)
    scores = boosted_scores(t, _ranker(), rows, first_stage=_aa_first_stage, pool=pool)
    assert scores.shape == (len(t), len(t))
    assert np.all(np.isneginf(np.diag(scores)))
    off = scores[~np.eye(len(t), dtype=bool)]
    assert np.all(np.isfinite(off))
    for i in rows:
        partners = t.graph.binary[int(i)].indices
        others = [c for c in range(len(t)) if c != i and c not in partners]
        members = [c for c in others if scores[i, c] >= 0]  # the re-ranked pool
        assert len(members) == min(pool, len(t) - 1 - len(partners))
        assert not set(members) & set(partners.tolist())
        rest = [c for c in range(len(t)) if c != i and c not in members]
        if members and rest:
            assert min(scores[i, members]) > max(scores[i, rest])
