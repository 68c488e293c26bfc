"""Ranking on hand-made states (no model needed): known answers, rules and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from builders import DIM, context, org, unit
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.vocab import EU27, Ecosystem, OrganisationKind
from matcher.ranking.features import FEATURES, pair_features
from matcher.ranking.rank import rank
from matcher.ranking.rules import Filters
from matcher.ranking.select import SelectionRules, select

OPEN = SelectionRules(max_same_country=None, max_hubs=None, target_share=0.0)


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
    ctx = context(orgs, edges)
    q = ctx.profiles.index["Q"]
    ranking = rank(ctx, ctx.query(q), 3, rules=OPEN)
    ids = [ctx.profiles.ids[int(ranking.rows[i])] for i in ranking.chosen]
    assert ids[0] == "X"  # two partners in common and the next stage of the chain
    assert not {"Q", "P1", "P2"} & set(ids)  # never itself; partners are left out
    assert ranking.left_out.partners == 2
    x = ctx.profiles.index["X"]
    cols = pair_features(ctx.profiles, ctx.graph, None, ctx.query(q), np.array([x]))
    assert set(cols) == set(FEATURES)
    assert cols["common_partners"][0] == 2
    assert cols["adamic_adar"][0] == pytest.approx(2 / np.log(2))
    assert cols["complementarity"][0] == 1.0  # same ecosystem, another stage
    z = ctx.profiles.index["Z"]
    cols = pair_features(ctx.profiles, ctx.graph, None, ctx.query(q), np.array([z]))
    assert cols["complementarity"][0] == 0.0


def test_offers_and_seeks_are_directional() -> None:
    e = np.eye(DIM, dtype=np.float32)
    orgs = [org("A"), org("B"), org("C")]
    # B offers what A seeks and seeks what A offers; C offers what A seeks only.
    vectors = {"offers": np.stack([e[1], e[0], e[0]]), "seeks": np.stack([e[0], e[1], e[5]])}
    ctx = context(orgs, vectors=vectors)
    cols = pair_features(ctx.profiles, ctx.graph, None, ctx.query(0), np.array([1, 2]))
    assert cols["they_offer"].tolist() == [1.0, 1.0]
    assert cols["you_offer"].tolist() == [1.0, 0.0]
    ranking = rank(ctx, ctx.query(0), 2, rules=OPEN)
    assert [ctx.profiles.ids[int(ranking.rows[i])] for i in ranking.chosen] == ["B", "C"]


def test_target_markets_and_geography() -> None:
    orgs = [
        org("Q", country="PL", target_countries=["IT", "NL"]),
        org("A", country="IT", target_countries=["PL"]),
        org("B", country="DE"),
        org("C", country="PL"),
    ]
    ctx = context(orgs)
    q = ctx.profiles.index["Q"]
    cols = pair_features(ctx.profiles, ctx.graph, None, ctx.query(q), np.arange(3))
    assert cols["target_market"].tolist() == [1.0, 0.0, 0.0]
    assert cols["their_target"].tolist() == [1.0, 0.0, 0.0]
    assert cols["same_country"].tolist() == [0.0, 0.0, 1.0]
    assert cols["neighbour_country"].tolist() == [0.0, 1.0, 0.0]  # DE borders PL


# -- the selection rules -----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 15),
    st.lists(st.tuples(st.floats(0, 1), st.booleans(), st.booleans(), st.booleans()), max_size=40),
)
def test_selection_keeps_score_order_and_its_caps(k: int, items: list) -> None:  # type: ignore[type-arg]
    score = np.array([i[0] for i in items])
    same, target, hub = (np.array([i[j] for i in items], np.bool_) for j in (1, 2, 3))
    rules = SelectionRules(max_same_country=3, target_share=0.5, max_hubs=3)
    chosen = select(score, same, target, hub, k, rules)
    assert len(chosen) == min(k, len(items))
    assert len(set(chosen)) == len(chosen)
    assert [score[i] for i in chosen] == sorted((score[i] for i in chosen), reverse=True)
    cap = max(1, 3 * k // 10)
    others = len(items) - int(same.sum())
    if others >= k and int((hub & ~same).sum()) <= 3 and not target.any():
        assert int(same[chosen].sum()) <= cap
    wanted = -(-k // 2)
    if int((target & ~same & ~hub).sum()) >= wanted:
        assert int(target[chosen].sum()) >= wanted


# -- invariants over random states -------------------------------------------------------


def random_state(seed: int, n: int = 24):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    ecosystems = list(Ecosystem)
    kinds = list(OrganisationKind)
    orgs = [
        org(
            f"O{i:02d}",
            country=str(rng.choice(EU27)),
            kind=str(rng.choice(kinds)),
            ecosystems=[str(e) for e in rng.choice(ecosystems, 2, replace=False)],
            languages=[str(x) for x in rng.choice(["de", "fr", "it"], 1)],
            target_countries=[str(c) for c in rng.choice(EU27, int(rng.integers(0, 3)))],
        )
        for i in range(n)
    ]
    edges = [
        (f"O{a:02d}", f"O{b:02d}", "2024-01-01")
        for a in range(n)
        for b in range(a + 1, n)
        if rng.random() < 0.12
    ]
    vectors = {
        f: np.stack([unit(rng.normal(size=DIM)) for _ in range(n)])
        for f in ("text", "tags", "offers", "seeks")
    }
    return context(orgs, edges, vectors)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.sampled_from(["", "DE", "FR"]))
def test_rank_invariants(seed: int, k: int, country: str) -> None:
    ctx = random_state(seed)
    rng = np.random.default_rng(seed)
    q = int(rng.integers(len(ctx.profiles)))
    blocked = {int(rng.integers(len(ctx.profiles)))} - {q}
    filters = Filters(countries=frozenset({country})) if country else Filters()
    first = rank(ctx, ctx.query(q), k, filters=filters, blocked=blocked)
    again = rank(ctx, ctx.query(q), k, filters=filters, blocked=blocked)
    chosen = [int(first.rows[i]) for i in first.chosen]
    assert chosen == [int(again.rows[i]) for i in again.chosen]  # deterministic
    assert np.isfinite(first.probability).all()
    assert ((first.probability >= 0) & (first.probability <= 1)).all()
    assert q not in chosen and not blocked & set(chosen)
    assert not set(ctx.graph.partners(q).tolist()) & set(chosen)
    shown = [first.probability[i] for i in first.chosen]
    assert shown == sorted(shown, reverse=True)
    if country:
        codes = {int(ctx.profiles.country[r]) for r in chosen}
        from matcher.ranking.profiles import country_code

        assert codes <= {country_code(country)}
        assert first.left_out.filtered == int((ctx.profiles.country != country_code(country)).sum())


def test_language_and_kind_filters() -> None:
    ctx = random_state(5)
    q = 0
    filters = Filters(languages=frozenset({"fr"}), kinds=frozenset({OrganisationKind.SME}))
    ranking = rank(ctx, ctx.query(q), 10, filters=filters)
    for i in ranking.chosen:
        r = int(ranking.rows[i])
        assert ctx.profiles.kind[r] == list(OrganisationKind).index(OrganisationKind.SME)
        assert ctx.profiles.languages.row(r).tolist() == [5 * 26 + 17]  # "fr"
