"""Ranking on hand-made tables (no model needed): known answers and invariants."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from matcher.domain.schema import Organisation
from matcher.domain.vocab import EU27, Ecosystem, OrganisationKind, Stage
from matcher.graph import CollaborationGraph
from matcher.ranking.rank import (
    Filters,
    RankingOptions,
    _best,
    combine,
    hand_ranker,
    rank,
    score_all,
)
from matcher.ranking.reasons import explain
from matcher.ranking.signals import SIGNALS, ProfileTable, compute_signals, signal_columns

DIM = 8


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_table(
    orgs: list[Organisation],
    edges: list[tuple[str, str, str]],
    text: np.ndarray | None = None,
    offers: np.ndarray | None = None,
    seeks: np.ndarray | None = None,
) -> ProfileTable:
    orgs = sorted(orgs, key=lambda o: o.id)
    n = len(orgs)
    rows = [(min(a, b), max(a, b), "joint_project", d, 1.0, f"P-{a}-{b}") for a, b, d in edges]
    graph = CollaborationGraph.from_rows(rows, organisations=[o.id for o in orgs])
    zeros = np.zeros((n, DIM), np.float32)
    return ProfileTable(
        orgs,
        text if text is not None else zeros,
        offers if offers is not None else zeros.copy(),
        seeks if seeks is not None else zeros.copy(),
        graph,
        dt.date(2026, 1, 1),
        np.zeros(n),
    )


def org(i: str, **kw: object) -> Organisation:
    data: dict[str, object] = {"id": i, "name": f"Org {i}", "kind": "cluster", "country": "DE"}
    data.update(kw)
    return Organisation.model_validate(data)


# -- known answers ----------------------------------------------------------------------


def test_graph_and_complementarity_known_answer() -> None:
    """Q's partners P1, P2 both work with X; Y is unconnected; Z is a look-alike."""
    orgs = [
        org("Q", ecosystems=["agri_food"], stages=["production"], country="DK"),
        org("P1", country="DK"),
        org("P2", country="SE"),
        org("X", ecosystems=["agri_food"], stages=["distribution"], country="ES"),
        org("Y", country="PT"),
        org("Z", ecosystems=["agri_food"], stages=["production"], country="FI"),
    ]
    edges = [("Q", "P1", "2024-01-01"), ("Q", "P2", "2024-01-01"),
             ("P1", "X", "2025-01-01"), ("P2", "X", "2025-06-01")]  # fmt: skip
    table = make_table(orgs, edges)
    q = table.rows["Q"]
    ranked = rank(table, hand_ranker(), table.query(q), k=3)
    ids = [table.ids[r.row] for r in ranked]
    assert ids[0] == "X"  # two partners in common and the next stage of the chain
    assert not {"Q", "P1", "P2"} & set(ids)  # never itself, partners left out by default
    fwd, _ = compute_signals(table, table.query(q), np.array([table.rows["X"]]))
    col = dict(zip(SIGNALS, fwd[0], strict=True))
    assert col["common_partners"] == 2
    assert col["adamic_adar"] == pytest.approx(2 / np.log(2))
    assert col["graph_distance"] == 0.5
    assert col["complementarity"] == 1.0  # same ecosystem, another stage
    z_fwd, _ = compute_signals(table, table.query(q), np.array([table.rows["Z"]]))
    assert dict(zip(SIGNALS, z_fwd[0], strict=True))["complementarity"] == 0.0
    reasons = explain(table, orgs[0], q, ranked[0])
    texts = " | ".join(r.text for r in reasons)
    assert "2 partner(s) in common: Org P2 (project P-P2-X, 2025), Org P1" in texts
    assert "you do production, they do distribution" in texts


def test_offers_and_seeks_are_directional_and_reciprocity_punishes_one_sided_fits() -> None:
    e = np.eye(DIM, dtype=np.float32)
    orgs = [org("A"), org("B"), org("C")]
    # B offers what A seeks and seeks what A offers; C offers what A seeks only.
    offers = np.stack([e[1], e[0], e[0]])
    seeks = np.stack([e[0], e[1], e[5]])
    table = make_table(orgs, [], offers=offers, seeks=seeks)
    fwd, rev = compute_signals(table, table.query(0), np.array([1, 2]))
    i, j = SIGNALS.index("they_offer"), SIGNALS.index("you_offer")
    assert fwd[:, i].tolist() == [1.0, 1.0] and fwd[:, j].tolist() == [1.0, 0.0]
    assert rev[:, i].tolist() == [1.0, 0.0] and rev[:, j].tolist() == [1.0, 1.0]
    ranked = rank(table, hand_ranker(), table.query(0), k=2)
    assert [table.ids[r.row] for r in ranked] == ["B", "C"]
    assert ranked[1].forward > ranked[1].score  # the harmonic mean pulls C down


def test_combine_methods() -> None:
    f, r = np.array([0.9, 0.5, 0.0]), np.array([0.1, 0.5, 0.0])
    assert np.allclose(combine(f, r, "harmonic"), [0.18, 0.5, 0.0])
    assert np.allclose(combine(f, r, "min"), [0.1, 0.5, 0.0])
    assert np.allclose(combine(f, r, "forward"), f)
    with pytest.raises(ValueError, match="unknown reciprocity"):
        combine(f, r, "max")  # type: ignore[arg-type]


def test_hub_and_country_caps() -> None:
    rng = np.random.default_rng(3)
    orgs = (
        [org("Q", country="FR")]
        + [org(f"D{i:02d}", country="DE") for i in range(12)]
        + [org(f"I{i:02d}", country="IT") for i in range(6)]
    )
    base = rng.normal(size=DIM)
    text = np.stack([unit(base + 0.05 * rng.normal(size=DIM)) for _ in orgs])
    table = make_table(orgs, [], text=text)
    ranked = rank(table, hand_ranker(), table.query(table.rows["Q"]), k=10)
    countries = [table.organisations[r.row].country for r in ranked]
    assert countries.count("DE") <= 5 and len(ranked) == 10


# -- invariants -------------------------------------------------------------------------

ECOS = list(Ecosystem)
STAGES = list(Stage)


@st.composite
def tables(draw: st.DrawFn) -> ProfileTable:
    n = draw(st.integers(3, 25))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    orgs = []
    for i in range(n):
        orgs.append(
            org(
                f"O{i:02d}",
                kind=draw(st.sampled_from(list(OrganisationKind))),
                country=draw(st.sampled_from(EU27[:6])),
                ecosystems=draw(st.lists(st.sampled_from(ECOS), max_size=3)),
                stages=draw(st.lists(st.sampled_from(STAGES), max_size=2)),
                keywords=draw(
                    st.lists(st.sampled_from(["ai", "iot", "food", "steel"]), max_size=3)
                ),
                target_countries=draw(st.lists(st.sampled_from(EU27[:6]), max_size=2)),
            )
        )
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    edges = [(f"O{a:02d}", f"O{b:02d}", "2024-05-01") for a, b in pairs if a != b]
    text = np.stack([unit(rng.normal(size=DIM)) for _ in range(n)])
    offers = np.stack([unit(rng.normal(size=DIM)) for _ in range(n)])
    seeks = np.stack([unit(rng.normal(size=DIM)) for _ in range(n)])
    return make_table(orgs, edges, text, offers, seeks)


@settings(max_examples=60, deadline=None)
@given(
    table=tables(),
    q=st.integers(0, 24),
    k=st.integers(1, 8),
    countries=st.sets(st.sampled_from(EU27[:6]), max_size=2),
    kinds=st.sets(st.sampled_from(list(OrganisationKind)), max_size=3),
    blocked=st.sets(st.integers(0, 24), max_size=4),
    handling=st.sampled_from(["exclude", "flag"]),
)
def test_ranking_invariants(
    table: ProfileTable,
    q: int,
    k: int,
    countries: set[str],
    kinds: set[OrganisationKind],
    blocked: set[int],
    handling: str,
) -> None:
    q %= len(table)
    blocked_rows = {b % len(table) for b in blocked}
    filters = Filters(countries=frozenset(countries), kinds=frozenset(kinds))
    options = RankingOptions(partnered=handling)  # type: ignore[arg-type]
    partners = table.graph.binary[q].indices.tolist()
    query = table.query(q)
    args = dict(k=k, filters=filters, options=options, partners=partners, blocked=blocked_rows)
    ranked = rank(table, hand_ranker(), query, **args)  # type: ignore[arg-type]
    again = rank(table, hand_ranker(), query, **args)  # type: ignore[arg-type]
    assert [r.row for r in ranked] == [r.row for r in again]  # deterministic
    assert len(ranked) <= k
    for r in ranked:
        o = table.organisations[r.row]
        assert r.row != q
        assert r.row not in blocked_rows
        assert np.isfinite(r.score) and 0.0 <= r.score <= 1.0
        assert not countries or o.country in countries
        assert not kinds or o.kind in kinds
        if handling == "exclude":
            assert r.row not in partners
        else:
            assert (r.row in partners) == ("already partners" in r.flags)
        reasons = explain(table, table.organisations[q], q, r)
        for reason in reasons:
            i = SIGNALS.index(reason.signal)
            assert reason.contribution > 0
            assert reason.contribution == pytest.approx(r.contributions[i], abs=1e-6)
    eligible = [
        i for i in range(len(table))
        if i != q and i not in blocked_rows
        and (not countries or table.organisations[i].country in countries)
        and (not kinds or table.organisations[i].kind in kinds)
        and (handling == "flag" or i not in partners)
    ]  # fmt: skip
    assert len(ranked) == min(k, len(eligible))  # caps never starve the list


@settings(max_examples=25, deadline=None)
@given(table=tables(), q=st.integers(0, 24))
def test_bulk_scores_equal_one_query_at_a_time(table: ProfileTable, q: int) -> None:
    q %= len(table)
    ranker = hand_ranker()
    bulk = score_all(table, ranker, np.array([q, (q + 1) % len(table)]))
    fwd, rev = compute_signals(table, table.query(q), np.arange(len(table)))
    single = combine(ranker.score(fwd), ranker.score(rev), "harmonic")
    single[q] = -np.inf
    assert np.allclose(bulk[0], single, atol=1e-9)


# -- the fast paths agree with the plain computations ------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]), min_size=1, max_size=80),
    size=st.integers(1, 30),
)
def test_best_equals_a_full_sort(scores: list[float], size: int) -> None:
    score = np.array(scores)
    candidates = np.arange(len(score), dtype=np.int64) * 3 + 1
    expected = np.lexsort((candidates, -score))[:size]
    assert _best(score, candidates, size).tolist() == expected.tolist()


@settings(max_examples=25, deadline=None)
@given(
    table=tables(),
    q=st.integers(0, 24),
    subset=st.sets(st.sampled_from(SIGNALS)),
    some=st.booleans(),
)
def test_a_subset_of_signals_equals_the_full_computation(
    table: ProfileTable, q: int, subset: set[str], some: bool
) -> None:
    q %= len(table)
    candidates = np.arange(0, len(table), 2, dtype=np.int64) if some else None
    full_fwd, full_rev = signal_columns(table, [table.query(q)], candidates)
    fwd, rev = signal_columns(table, [table.query(q)], candidates, signals=subset)
    assert set(fwd) == set(rev) == subset
    for s in subset:
        assert np.array_equal(fwd[s], full_fwd[s]) and np.array_equal(rev[s], full_rev[s])


@settings(max_examples=25, deadline=None)
@given(table=tables(), q=st.integers(0, 24))
def test_ranked_signals_are_every_signal_of_the_pair(table: ProfileTable, q: int) -> None:
    """Signals the ranker does not weigh are computed for the chosen rows only: same values."""
    q %= len(table)
    ranker = hand_ranker()
    assert (ranker.weights == 0).any()  # the case under test
    for r in rank(table, ranker, table.query(q), k=5):
        fwd, _ = compute_signals(table, table.query(q), np.array([r.row]))
        # (float32 products over one row or over all may differ in the last bit)
        np.testing.assert_allclose(r.signals, fwd[0], rtol=1e-6, atol=1e-7)


def test_rank_restores_the_blas_threads() -> None:
    orgs = [org(f"O{i}") for i in range(6)]
    table = make_table(orgs, [("O0", "O1", "2024-01-01")])
    before = threadpool_info()
    rank(table, hand_ranker(), table.query(0), k=3)
    rank(table, hand_ranker(), table.query(0), k=3, options=RankingOptions(blas_threads=None))
    assert threadpool_info() == before
