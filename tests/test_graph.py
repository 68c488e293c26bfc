"""The collaboration graph: construction rules, local link scores against brute force, writes."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.errors import UnknownOrganisationError
from matcher.graph import CollaborationGraph, LiveGraph, Neighbourhood, two_hop
from matcher.graph.rows import RowSets


def rows(edges: list[tuple[str, str]], *, ref: str = "", date: str = "2020-01-01") -> list:
    return [(min(a, b), max(a, b), "joint_project", date, 1.0, ref) for a, b in edges]


def test_rows_become_a_symmetric_binary_graph_with_latest_dates() -> None:
    data = rows([("A", "B"), ("B", "C")]) + rows([("A", "B")], date="2021-05-01")
    g = CollaborationGraph.from_rows(data, organisations=["D"])
    assert g.ids == ["A", "B", "C", "D"]
    assert g.edge_count == 2
    assert g.neighbours("B") == ["A", "C"]
    assert g.degree().tolist() == [1, 2, 1, 0]
    assert g.nx_graph.edges["A", "B"]["date"] == dt.date(2021, 5, 1)
    with pytest.raises(UnknownOrganisationError):
        g.row("Z")


def test_large_projects_and_dates_are_left_out() -> None:
    big = rows(list(itertools.combinations("ABCD", 2)), ref="P1")
    small = rows([("A", "E")], ref="P2")
    late = rows([("B", "E")], ref="P3", date="2030-01-01")
    g = CollaborationGraph.from_rows(
        big + small + late, max_consortium=3, until=dt.date(2025, 1, 1)
    )
    assert g.edge_count == 1  # P1 has four participants, P3 is after the cut-off
    assert set(g.ids) == set("ABCDE")
    sized = CollaborationGraph.from_rows(big, max_consortium=3, consortium_sizes={"P1": 2})
    assert sized.edge_count == 6  # the participations say P1 is small


def random_graph(seed: int, n: int = 30, p: float = 0.15) -> CollaborationGraph:
    rng = np.random.default_rng(seed)
    ids = [f"O{i:02d}" for i in range(n)]
    edges = [(a, b) for a, b in itertools.combinations(ids, 2) if rng.random() < p]
    return CollaborationGraph.from_rows(rows(edges), organisations=ids)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_local_link_scores_equal_brute_force(seed: int) -> None:
    g = random_graph(seed)
    live = LiveGraph(g)
    nxg = g.nx_graph
    deg = dict(nxg.degree())
    q = int(np.random.default_rng(seed).integers(len(g)))
    nb = two_hop(live, q)
    others = np.arange(len(g), dtype=np.int64)
    cn, aa, ra = nb.scores(others)
    other = int((q + 1) % len(g))
    dense = two_hop(live, other, live.scratch)  # dense lookups through the scratch space
    assert [list(x) for x in dense.scores(others)] == [
        list(x) for x in two_hop(live, other).scores(others)
    ]
    two_hop(live, q, live.scratch)  # another owner: the first neighbourhood still answers
    assert [list(x) for x in dense.scores(others)] == [
        list(x) for x in two_hop(live, other).scores(others)
    ]
    walk = nb.walk(live, others)
    for c in range(len(g)):
        if c == q:
            continue
        shared = set(nxg[g.ids[q]]) & set(nxg[g.ids[c]])
        assert cn[c] == len(shared)
        assert aa[c] == pytest.approx(sum(1 / math.log(max(deg[z], 2)) for z in shared))
        assert ra[c] == pytest.approx(sum(1 / max(deg[z], 1) for z in shared))
        paths = sum(
            1 / (deg[x] * deg[y])
            for x in nxg[g.ids[q]]
            for y in nxg[x]
            if y != g.ids[q] and g.ids[c] in nxg[y]
        )
        assert walk[c] == pytest.approx(paths)
    far = nb.three_hop(live, 5, via=10)
    assert len(far) <= 5 and q not in far.tolist()
    assert not set(far.tolist()) & set(nb.rows.tolist())  # three hops, not two
    assert (walk[far] > 0).all()  # every one is reached by a walk of three steps
    capped = nb.walk(live, others, cap=3)
    hub = live.degree[others] > 3
    assert np.isnan(capped[hub]).all() and np.allclose(capped[~hub], walk[~hub])
    # The whole-graph baselines of the evaluation agree with the local scores.
    assert np.allclose(g.adamic_adar(q)[others != q], aa[others != q])


def test_live_writes_equal_a_graph_built_from_scratch() -> None:
    g = random_graph(7)
    live = LiveGraph(g)
    rng = np.random.default_rng(1)
    pairs = {tuple(sorted(p)) for p in g.nx_graph.edges()}
    for _ in range(40):
        a, b = sorted(int(x) for x in rng.choice(len(g), 2, replace=False))
        key = (g.ids[a], g.ids[b])
        linked = rng.random() < 0.5
        live.set_link(a, b, linked)
        pairs.discard(key)
        if linked:
            pairs.add(key)
    live.add_rows(1)
    live.set_link(0, len(g), True)
    pairs.add((g.ids[0], "ZZ-new"))
    fresh = CollaborationGraph.from_rows(rows(sorted(pairs)), organisations=[*g.ids, "ZZ-new"])
    for r in range(len(fresh)):
        assert live.partners(r).tolist() == fresh.partners(r).tolist()
    assert live.degree.tolist() == fresh.degree().tolist()
    got, owner = live.partners_of(np.arange(len(fresh), dtype=np.int64))
    expected = zip(
        np.repeat(np.arange(len(fresh)), np.diff(fresh.indptr)).tolist(),
        fresh.indices.tolist(),
        strict=True,
    )
    assert sorted(zip(owner.tolist(), got.tolist(), strict=True)) == sorted(expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 30))
def test_the_compiled_scores_equal_numpy_bit_for_bit_after_writes(seed: int, writes: int) -> None:
    g = random_graph(seed, n=40, p=0.2)
    live = LiveGraph(g)
    rng = np.random.default_rng(seed)
    live.add_rows(2)  # rows past the snapshot's arrays, linked by writes only
    for _ in range(writes):  # changed rows live in the overlay
        a, b = (int(x) for x in rng.choice(len(live), 2, replace=False))
        live.set_link(a, b, bool(rng.random() < 0.7))
    others = np.arange(len(live), dtype=np.int64)
    for q in rng.choice(len(live), 4, replace=False).tolist():
        plain = two_hop(live, q)  # NumPy
        compiled = two_hop(live, q, live.scratch)
        assert compiled.rows.tolist() == plain.rows.tolist()
        for a, b in zip(compiled.scores(others), plain.scores(others), strict=True):
            assert a.tolist() == b.tolist()  # exactly, not approximately
        for cap in (3, 500):
            fast, slow = compiled.walk(live, others, cap=cap), plain.walk(live, others, cap=cap)
            assert np.array_equal(fast, slow, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.integers(0, 320), st.booleans())
def test_the_best_two_hop_rows_are_the_sorted_definition(
    seed: int, n: int, count: int, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(2000, n, replace=False)).astype(np.int64)
    aa = rng.choice([0.5, 1.0, 2.0], n) if ties else rng.random(n) + 0.01
    degree = rng.integers(0, 4, 2000).astype(np.float64)  # many equal scores
    nb = Neighbourhood(0, rows, np.ones(n), aa, np.ones(n))
    score = np.log(aa) + 0.5 * np.log1p(degree[rows])
    want = rows if n <= count else np.sort(rows[np.lexsort((rows, -score))[:count]])
    assert nb.best(count, degree).tolist() == want.tolist()


def test_save_and_memory_mapped_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    g = random_graph(3)
    g.save(tmp_path)
    back = CollaborationGraph.load(tmp_path, g.ids, g.as_of, index=g.index)
    assert isinstance(back.indices.base, np.memmap)  # a view of the mapped file, not a copy
    assert nx.utils.graphs_equal(back.nx_graph, g.nx_graph)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_gathered_rows_equal_each_row_read_alone_with_changed_and_new_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = [rng.choice(50, rng.integers(0, 6), replace=False).tolist() for _ in range(30)]
    sets = RowSets.of(base)
    for r in rng.choice(36, rng.integers(0, 12), replace=False).tolist():  # changed or new
        sets.set(int(r), rng.choice(50, rng.integers(0, 6), replace=False))
    rows = rng.integers(0, 40, rng.integers(0, 25)).astype(np.int64)
    values, owners = sets.gather(rows)
    expected = [(int(v), i) for i, r in enumerate(rows.tolist()) for v in sets.row(r).tolist()]
    assert sorted(zip(values.tolist(), owners.tolist(), strict=True)) == sorted(expected)
    assert owners.dtype == np.int64
