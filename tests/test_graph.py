from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from matcher.domain.errors import UnknownOrganisationError
from matcher.domain.schema import Organisation, Participation, Project
from matcher.graph import CollaborationGraph, CommonPartner, Link
from matcher.store import Store

# Two triangles joined by a bridge C–D:
#
#   A       E
#   | \   / |
#   |  C-D  |
#   | /   \ |
#   B       F
#
# P1 = {A, B, C} (2015), P2 = {C, D} (2017), P3 = {D, E, F} (2016), P4 = {A, C} (2018).
ROWS = [
    ("A", "B", "joint_project", "2015-01-01", 0.5, "P1"),
    ("A", "C", "joint_project", "2015-01-01", 0.5, "P1"),
    ("B", "C", "joint_project", "2015-01-01", 0.5, "P1"),
    ("C", "D", "joint_project", "2017-01-01", 1.0, "P2"),
    ("D", "E", "joint_project", "2016-01-01", 0.5, "P3"),
    ("D", "F", "joint_project", "2016-01-01", 0.5, "P3"),
    ("E", "F", "joint_project", "2016-01-01", 0.5, "P3"),
    ("A", "C", "joint_project", "2018-03-01", 1.0, "P4"),
]
A, B, C, D, E, F = range(6)
LN2, LN3 = math.log(2), math.log(3)


@pytest.fixture
def g() -> CollaborationGraph:
    return CollaborationGraph.from_rows(ROWS)


def test_rows_and_degree(g: CollaborationGraph) -> None:
    assert g.ids == ["A", "B", "C", "D", "E", "F"]
    assert g.row("D") == D and "D" in g and "Z" not in g
    assert g.degree().tolist() == [2, 2, 3, 3, 2, 2]
    assert g.edge_count == 7
    assert g.neighbours("C") == ["A", "B", "D"]
    with pytest.raises(UnknownOrganisationError):
        g.row("Z")


def test_common_neighbours_adamic_adar_resource_allocation(g: CollaborationGraph) -> None:
    assert g.common_neighbours(A).tolist() == [0, 1, 1, 1, 0, 0]
    np.testing.assert_allclose(g.adamic_adar(A), [0, 1 / LN3, 1 / LN2, 1 / LN3, 0, 0])
    np.testing.assert_allclose(g.resource_allocation(A), [0, 1 / 3, 1 / 2, 1 / 3, 0, 0])
    # C and D share no partner; E and F share D.
    assert g.common_neighbours(C)[D] == 0
    np.testing.assert_allclose(g.adamic_adar(E)[F], 1 / LN3)


def test_batches_equal_single_queries(g: CollaborationGraph) -> None:
    batch = g.adamic_adar([A, D, F])
    assert batch.shape == (3, 6)
    for i, q in enumerate([A, D, F]):
        np.testing.assert_allclose(batch[i], g.adamic_adar(q))
    np.testing.assert_allclose(
        g.personalised_pagerank(np.array([B, E]))[1], g.personalised_pagerank(E)
    )


def test_shortest_path_lengths(g: CollaborationGraph) -> None:
    assert g.shortest_path_lengths(A).tolist() == [0, 1, 1, 2, 3, 3]
    assert g.shortest_path_lengths(A, cutoff=2).tolist() == [0, 1, 1, 2, math.inf, math.inf]
    assert g.shortest_path_lengths([F], cutoff=1).tolist() == [[math.inf] * 3 + [1, 1, 0]]


def test_personalised_pagerank_order_and_mass(g: CollaborationGraph) -> None:
    r = g.personalised_pagerank(A)
    assert r.sum() == pytest.approx(1.0)
    # The query first; C (its partner with 3 links) before B; the far triangle last, E = F.
    assert r[A] > r[C] > r[B] > r[D] > r[E]
    assert r[E] == pytest.approx(r[F])
    exact = nx.pagerank(g.nx_graph, alpha=0.85, personalization={"A": 1.0}, weight=None, tol=1e-12)
    np.testing.assert_allclose(
        g.personalised_pagerank(A, iters=200), [exact[o] for o in g.ids], atol=1e-8
    )


def test_push_pagerank_converges_to_the_exact_one(g: CollaborationGraph) -> None:
    exact = nx.pagerank(g.nx_graph, alpha=0.85, personalization={"A": 1.0}, weight=None, tol=1e-12)
    pushed = g.personalised_pagerank(A, tol=1e-12)
    np.testing.assert_allclose(pushed, [exact[o] for o in g.ids], atol=1e-9)
    # A loose tolerance leaves mass undistributed but never overshoots an entry.
    loose = g.personalised_pagerank(A, tol=1e-2)
    assert 0.8 < loose.sum() < 1.0
    assert (loose <= pushed + 1e-12).all()
    batch = g.personalised_pagerank([A, E], tol=1e-12)
    np.testing.assert_allclose(batch[1], g.personalised_pagerank(E, tol=1e-12))


def test_push_pagerank_sends_mass_from_lone_rows_back_to_the_query() -> None:
    g = CollaborationGraph.from_rows(ROWS, organisations=["Z"])
    z = g.row("Z")
    assert g.personalised_pagerank(z, tol=1e-9)[z] == pytest.approx(1.0)


def test_large_graphs_use_push(monkeypatch: pytest.MonkeyPatch, g: CollaborationGraph) -> None:
    power = g.personalised_pagerank(A)
    monkeypatch.setattr(CollaborationGraph, "PUSH_ABOVE", 3)
    monkeypatch.setattr(CollaborationGraph, "PUSH_TOL", 1e-2)
    assert not np.allclose(g.personalised_pagerank(A), power)
    np.testing.assert_array_equal(g.personalised_pagerank(A), g.personalised_pagerank(A, tol=1e-2))


def test_isolated_query_keeps_its_mass() -> None:
    g = CollaborationGraph.from_rows(ROWS, organisations=["Z"])
    z = g.row("Z")
    assert g.personalised_pagerank(z)[z] == pytest.approx(1.0)
    assert g.adamic_adar(z).sum() == 0
    assert np.isinf(np.delete(g.shortest_path_lengths(z), z)).all()


def test_common_partners_with_their_projects(g: CollaborationGraph) -> None:
    (shared,) = g.common_partners("A", "D")
    assert shared == CommonPartner(
        "C",
        with_a=Link(dt.date(2018, 3, 1), "P4", "joint_project"),
        with_b=Link(dt.date(2017, 1, 1), "P2", "joint_project"),
    )
    assert str(shared.latest) == "project P4, 2018"
    assert [p.partner for p in g.common_partners("E", "F")] == ["D"]
    assert g.common_partners("A", "E") == []
    assert g.link("A", "C") == Link(dt.date(2018, 3, 1), "P4", "joint_project")
    assert g.link("A", "E") is None


def test_recency_weighted_adamic_adar() -> None:
    g = CollaborationGraph.from_rows(ROWS)
    as_of = dt.date(2018, 12, 31)

    def decay(day: str) -> float:
        return float(0.5 ** ((as_of - dt.date.fromisoformat(day)).days / 365.25))

    r = g.recency_weighted_adamic_adar(A, as_of=as_of, half_life_years=1.0)
    # A–D through C: latest A–C link 2018-03-01, C–D 2017-01-01; C has 3 partners.
    assert r[D] == pytest.approx(decay("2018-03-01") * decay("2017-01-01") / LN3)
    assert r[B] == pytest.approx(decay("2018-03-01") * decay("2015-01-01") / LN3)
    # Before 2017 the bridge did not exist and A–C dates from P1.
    early = dt.date(2016, 6, 30)
    r = g.recency_weighted_adamic_adar(A, as_of=early, half_life_years=2.0)
    assert r[D] == 0
    age = (early - dt.date(2015, 1, 1)).days / 365.25
    assert r[B] == pytest.approx(0.5 ** (age / 2) * 0.5 ** (age / 2) / LN2)


def test_weighted_edges_decay_and_until() -> None:
    w = CollaborationGraph.from_rows(ROWS, weighted=True)
    assert w.adjacency[A, C] == pytest.approx(1.5)  # 0.5 (P1) + 1 (P4)
    assert w.degree()[A] == 2 and w.strength()[A] == pytest.approx(2.0)
    decayed = CollaborationGraph.from_rows(ROWS, half_life_years=1.0, as_of=dt.date(2018, 3, 1))
    assert decayed.adjacency[A, C] == pytest.approx(1.0)  # binary: the latest link's decay
    assert decayed.adjacency[C, D] == pytest.approx(
        0.5 ** ((dt.date(2018, 3, 1) - dt.date(2017, 1, 1)).days / 365.25)
    )
    early = CollaborationGraph.from_rows(ROWS, until=dt.date(2016, 12, 31))
    assert early.edge_count == 6 and "C" in early
    assert early.link("A", "C") == Link(dt.date(2015, 1, 1), "P1", "joint_project")
    assert early.shortest_path_lengths(early.row("A"))[early.row("D")] == math.inf


def test_max_consortium_leaves_large_projects_out() -> None:
    big = [f"M{i:02d}" for i in range(60)]
    rows = ROWS + [
        (a, b, "joint_project", "2016-05-01", 1 / 59, "BIG")
        for i, a in enumerate(big)
        for b in big[i + 1 :]
    ]
    g = CollaborationGraph.from_rows(rows, max_consortium=50)
    assert g.edge_count == 7
    assert "M00" in g and g.degree()[g.row("M00")] == 0  # members stay, without edges
    full = CollaborationGraph.from_rows(rows)
    assert full.edge_count == 7 + 60 * 59 // 2
    # A size given from participations wins over the size the rows show.
    g = CollaborationGraph.from_rows(ROWS, max_consortium=50, consortium_sizes={"P3": 80})
    assert g.edge_count == 4 and g.neighbours("D") == ["C"]


def test_networkx_graph_carries_links(g: CollaborationGraph) -> None:
    nxg = g.nx_graph
    assert nxg.number_of_nodes() == 6 and nxg.number_of_edges() == 7
    assert nxg.edges["A", "C"]["source_ref"] == "P4"
    assert nxg.edges["A", "C"]["date"] == dt.date(2018, 3, 1)
    assert nx.shortest_path_length(nxg, "A", "F") == 3


def test_agrees_with_networkx_on_a_random_graph() -> None:
    ref = nx.gnp_random_graph(80, 0.08, seed=7)
    ids = [f"o{i:03d}" for i in ref.nodes]
    rows = [(ids[u], ids[v], "joint_project", "2020-01-01", 1.0, "") for u, v in ref.edges]
    g = CollaborationGraph.from_rows(rows, organisations=ids)
    ref = nx.relabel_nodes(ref, dict(enumerate(ids)))
    non_edges = list(nx.non_edges(ref))
    aa = {(u, v): s for u, v, s in nx.adamic_adar_index(ref, non_edges)}
    ra = {(u, v): s for u, v, s in nx.resource_allocation_index(ref, non_edges)}
    aa_rows = g.adamic_adar(np.arange(len(g)))
    ra_rows = g.resource_allocation(np.arange(len(g)))
    cn_rows = g.common_neighbours(np.arange(len(g)))
    for u, v in non_edges:
        i, j = g.row(u), g.row(v)
        assert aa_rows[i, j] == pytest.approx(aa[u, v])
        assert ra_rows[i, j] == pytest.approx(ra[u, v])
        assert cn_rows[i, j] == len(list(nx.common_neighbors(ref, u, v)))
    lengths = nx.single_source_shortest_path_length(ref, ids[0], cutoff=3)
    mine = g.shortest_path_lengths(g.row(ids[0]), cutoff=3)
    assert {ids[i]: int(d) for i, d in enumerate(mine) if np.isfinite(d)} == lengths


def test_pagerank_in_degree_order_equals_the_plain_rounds() -> None:
    ref = nx.gnp_random_graph(120, 0.04, seed=11)  # uneven degrees, some organisations alone
    ids = [f"o{i:03d}" for i in ref.nodes]
    rows = [(ids[u], ids[v], "joint_project", "2020-01-01", 1.0, "") for u, v in ref.edges]
    g = CollaborationGraph.from_rows(rows, organisations=ids)
    lengths = np.diff(g._ordered_transition_t[0].indptr)
    assert (np.diff(lengths) <= 0).all() and lengths[0] > lengths[-1]  # really reordered
    t = g._transition_t  # the same rounds in id order, written out
    queries = [0, 5, int(np.argmin(g.degree()))]
    for q in queries:
        r = np.zeros(len(ids))
        r[q] = 1.0
        for _ in range(20):
            r = 0.85 * (t @ r)
            r[q] += 1.0 - r.sum()
        np.testing.assert_allclose(g.personalised_pagerank(q), r, rtol=0, atol=1e-14)
    batch = g.personalised_pagerank(np.array(queries))
    for n, q in enumerate(queries):
        np.testing.assert_allclose(batch[n], g.personalised_pagerank(q), rtol=0, atol=1e-14)
    exact = nx.pagerank(ref, alpha=0.85, personalization={0: 1.0}, weight=None, tol=1e-12)
    np.testing.assert_allclose(
        g.personalised_pagerank(0, iters=200), [exact[i] for i in ref.nodes], atol=1e-8
    )


def test_from_store(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.upsert_organisations(
            Organisation(id=o, name=f"Org {o}", kind="sme") for o in "ABCDEFZ"
        )
        store.upsert_collaboration_rows(ROWS)
        store.upsert_projects(Project(id=p) for p in ("P1", "P2", "P3", "P4"))
        members = {"P1": "ABC", "P2": "CD", "P3": "DEF", "P4": "AC"}
        store.upsert_participations(
            Participation(project_id=p, organisation_id=o) for p, m in members.items() for o in m
        )
        g = CollaborationGraph.from_store(store)
        assert g.ids == ["A", "B", "C", "D", "E", "F"] and g.edge_count == 7
        small = CollaborationGraph.from_store(store, max_consortium=2, include_isolated=True)
        assert "Z" in small and small.edge_count == 2  # only P2 and P4 have ≤ 2 members
        early = CollaborationGraph.from_store(store, until=dt.date(2015, 12, 31))
        assert early.edge_count == 3


def test_empty_graph() -> None:
    g = CollaborationGraph.from_rows([], organisations=["A", "B"])
    assert g.edge_count == 0 and g.degree().tolist() == [0, 0]
    assert g.adamic_adar(0).tolist() == [0, 0]
    assert g.personalised_pagerank(1).tolist() == [0, 1]
    assert g.shortest_path_lengths(0).tolist() == [0, math.inf]
    assert g.common_partners("A", "B") == [] and g.neighbours("A") == []
    assert g.nx_graph.number_of_nodes() == 2
