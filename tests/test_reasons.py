"""Reasons are shown only when true: above what random pairs get, never popularity."""

from __future__ import annotations

import numpy as np
from builders import org
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.ranking.features import FEATURES
from matcher.ranking.reasons import (
    NO_SINGLE_REASON,
    READS,
    REASON_SIGNALS,
    Evidence,
    Thresholds,
    explain,
    possible,
)

# What random pairs get: each signal uniform on [0, 1) (so its 90th percentile is 0.9),
# except the text (random pairs' cosines centre on 0.22, the 90th percentile at 0.35).
GRID = {
    name: np.linspace(0.0, 1.0, 1000)
    for name in ("ecosystems", "they_offer", "you_offer", "offers_alike", "walk", "domain_activity")
}
GRID["text"] = np.clip(np.random.default_rng(0).normal(0.22, 0.1, 5000), -1, 1)
THRESHOLDS = Thresholds.measure(GRID)

DANISH_FOOD = org(
    "CL-AGRI-DK", country="DK", kind="cluster", ecosystems=["agri_food"],
    seeks="Cold-chain logistics partners for fresh produce exports",
    offers="Access to 120 Danish food producers and a test kitchen",
)  # fmt: skip
PORTUGUESE_TEXTILE = org(
    "CL-TEXT-PT", country="PT", kind="cluster", ecosystems=["textile"],
    offers="Garment production and recycled yarn capacity",
)  # fmt: skip
POLISH_AVIONICS = org(
    "SME-AVIO-PL", country="PL", kind="sme", ecosystems=["aerospace_defence"],
    offers="Avionics harness design and certification support",
    seeks="Certification support for avionics harnesses",
)  # fmt: skip
POLISH_COMPETITOR = org(
    "SME-AVIO2-PL", country="PL", kind="sme", ecosystems=["aerospace_defence"],
    offers="Avionics harness design and DO-160 certification support",
)  # fmt: skip


def texts(reasons: list) -> list[str]:  # type: ignore[type-arg]
    return [r.text for r in reasons]


def test_a_weak_offers_match_is_no_reason() -> None:
    """The Danish food cluster is not told that yarn capacity matches what it seeks."""
    values = {"they_offer": 0.19, "text": 0.19}
    shares = {"they_offer": 0.5, "text": 0.4}
    got = explain(DANISH_FOOD, PORTUGUESE_TEXTILE, values, shares, THRESHOLDS, Evidence())
    assert got == [NO_SINGLE_REASON]
    strong = explain(
        DANISH_FOOD, PORTUGUESE_TEXTILE, {"they_offer": 0.95}, shares, THRESHOLDS, Evidence()
    )
    assert texts(strong) == [
        "they offer 'Garment production and recycled yarn capacity', which matches what you seek"
    ]


def test_a_competitor_offering_the_same_is_no_supplier() -> None:
    """A Polish avionics SME is not offered a Polish competitor 'meeting its needs'."""
    values = {"they_offer": 0.95, "you_offer": 0.0, "same_country": 1.0}
    shares = {"they_offer": 1.0, "same_country": 0.8}
    alike = Evidence(offers_alike=0.97)
    got = explain(POLISH_AVIONICS, POLISH_COMPETITOR, values, shares, THRESHOLDS, alike)
    assert got == [NO_SINGLE_REASON]  # no offers match; a shared country is never a reason
    different = Evidence(offers_alike=0.1)
    got = explain(POLISH_AVIONICS, POLISH_COMPETITOR, values, shares, THRESHOLDS, different)
    assert [r.signal for r in got] == ["they_offer"]


def test_text_similarity_below_random_pairs_is_no_reason() -> None:
    """'related work (text similarity 0.12)' is not shown; a high one is, in words."""
    low = explain(
        DANISH_FOOD, PORTUGUESE_TEXTILE, {"text": 0.12}, {"text": 1.0}, THRESHOLDS, Evidence()
    )
    assert low == [NO_SINGLE_REASON]
    high = explain(
        DANISH_FOOD, PORTUGUESE_TEXTILE, {"text": 0.6}, {"text": 1.0}, THRESHOLDS, Evidence()
    )
    assert texts(high) == [
        "their profile describes work close to yours (closer than 99 % of pairs)"
    ]
    assert "0.6" not in texts(high)[0]


def test_popularity_is_never_a_reason() -> None:
    values = {"activity": 40.0, "degree": 300.0, "query_degree": 5.0}
    shares = {"activity": 3.0, "degree": 2.0}
    got = explain(DANISH_FOOD, PORTUGUESE_TEXTILE, values, shares, THRESHOLDS, Evidence())
    assert got == [NO_SINGLE_REASON]


def test_reasons_name_what_they_cite_and_follow_contributions() -> None:
    query = org("Q", keywords=["cold chain", "sensors"], country="DK", target_countries=["ES"])
    other = org("X", keywords=["Sensors", "drones"], country="ES")
    values = {"common_partners": 2.0, "target_market": 1.0, "keywords": 0.33}
    shares = {"common_partners": 0.5, "keywords": 0.1, "target_market": -0.1}
    evidence = Evidence(common_count=2, common_partners=["Org P2", "Org P1"])
    got = explain(query, other, values, shares, THRESHOLDS, evidence)
    assert texts(got) == [
        "2 partner(s) in common: Org P2, Org P1",
        "shared technologies: Sensors",
        "based in ES, a market you want to enter",
    ]
    assert got[0].contribution == 0.5


def test_thresholds_round_trip_and_percentiles() -> None:
    back = Thresholds.from_json(THRESHOLDS.to_json())
    assert back == THRESHOLDS
    assert back.percentile("they_offer", 0.5) == 50.0
    assert back.clearly_above("walk", 0.95) and not back.clearly_above("walk", 0.85)


PEOPLE = [DANISH_FOOD, PORTUGUESE_TEXTILE, POLISH_AVIONICS, POLISH_COMPETITOR]
PEOPLE += [
    org("Q", keywords=["cold chain", "sensors"], country="DK", target_countries=["ES"]),
    org("X", keywords=["Sensors", "drones"], country="ES", ecosystems=["agri_food"]),
    org("Y", country=None, ecosystems=["agri_food", "textile"], stages=["production"]),
    org("Z", country="IT", ecosystems=["agri_food"], stages=["distribution"], seeks="yarn"),
]
SIGNALS = sorted(
    {f for fs in REASON_SIGNALS.values() for f in fs} | {"offers_alike"}
)  # every value a reason reads


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PEOPLE),
    st.sampled_from(PEOPLE),
    st.fixed_dictionaries({s: st.sampled_from([-0.5, 0.0, 0.2, 0.5, 0.95, 2.0]) for s in SIGNALS}),
    st.fixed_dictionaries({g: st.sampled_from([-0.3, 0.0, 0.4, 1.0]) for g in REASON_SIGNALS}),
    st.integers(0, 3),
    st.booleans(),
    st.booleans(),
    st.floats(0.0, 1.0),
)
def test_every_reason_given_is_one_the_pair_could_give(
    query, other, values, shares, common, path, domains, alike
) -> None:  # type: ignore[no-untyped-def]
    """Only the contributions of :func:`possible` reasons are computed when serving."""
    evidence = Evidence(
        common_count=common if values.get("common_partners", 0.0) > 0 else 0,
        common_partners=["P"] * min(common, 3) if values.get("common_partners", 0.0) > 0 else [],
        path=("A", "B") if path else None,
        domains=[("H2020-EU.3.2", 4)] if domains else [],
        offers_alike=alike,
    )
    given_reasons = {r.signal for r in explain(query, other, values, shares, THRESHOLDS, evidence)}
    assert given_reasons - {NO_SINGLE_REASON.signal} <= possible(query, other, values, THRESHOLDS)


def test_a_weak_offers_match_is_not_even_possible() -> None:
    weak = possible(DANISH_FOOD, PORTUGUESE_TEXTILE, {"they_offer": 0.19}, THRESHOLDS)
    strong = possible(DANISH_FOOD, PORTUGUESE_TEXTILE, {"they_offer": 0.95}, THRESHOLDS)
    assert "they_offer" not in weak and "they_offer" in strong


class _Recording(dict[str, float]):
    """A dict that remembers which keys were read."""

    def __init__(self, data: dict[str, float]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key: str, default: float | None = None) -> float | None:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> float:
        self.read.add(key)
        return super().__getitem__(key)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PEOPLE),
    st.sampled_from(PEOPLE),
    st.fixed_dictionaries({f: st.sampled_from([0.0, 0.2, 0.95, 2.0]) for f in FEATURES}),
    st.floats(0.0, 1.0),
)
def test_reasons_read_no_feature_outside_reads(query, other, values, alike) -> None:  # type: ignore[no-untyped-def]
    """Serving passes only :data:`READS` to the reasons: they must need no other value."""
    evidence = Evidence(2, ["P", "Q"], ("A", "B"), [("H2020-EU.3.2", 4)], alike)
    shares = dict.fromkeys(REASON_SIGNALS, 0.5)
    recorded = _Recording(values)
    full = explain(query, other, recorded, shares, THRESHOLDS, evidence)
    could = possible(query, other, recorded, THRESHOLDS)
    assert recorded.read <= set(READS), recorded.read - set(READS)
    only = {name: values[name] for name in READS}
    assert explain(query, other, only, shares, THRESHOLDS, evidence) == full
    assert possible(query, other, only, THRESHOLDS) == could
