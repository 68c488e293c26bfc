"""The ranking's promises, checked on a demo home: cross-border lists, target markets first,
and offers↔seeks reasons only above their threshold, over every pair shown."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.vocab import OrganisationKind
from matcher.ingest import write_collaborations, write_organisations
from matcher.lab.demo import generate_demo


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[Matcher]:
    """A demo home (60 clusters, 120 SMEs) built with the real model, once."""
    home = tmp_path_factory.mktemp("demo-ranking")
    data = generate_demo(seed=11, clusters=60, smes=120)
    write_organisations(data.organisations, home / "orgs.csv")
    write_collaborations(data.collaborations, home / "collabs.csv")
    with Matcher(Settings(home=home / "home"), encoder=encoder) as m:
        m.import_platform(organisations=home / "orgs.csv", collaborations=home / "collabs.csv")
        m.build()
        yield m


def test_at_most_three_of_ten_from_the_askers_country(demo: Matcher) -> None:
    ids = demo.store.organisation_ids()
    clusters = [i for i in ids if demo.organisation(i).kind is OrganisationKind.CLUSTER]
    for org_id in random.Random(0).sample(clusters, 40):
        country = demo.organisation(org_id).country
        found = demo.recommend(org_id, k=10, explain=False)
        assert len(found) == 10
        assert sum(s.organisation.country == country for s in found) <= 3, org_id


def test_target_markets_fill_half_of_a_list_when_they_can(demo: Matcher) -> None:
    checked = 0
    for org_id in demo.store.organisation_ids():
        org = demo.organisation(org_id)
        if org.kind is not OrganisationKind.SME or not org.target_countries:
            continue
        partners = demo.store.partners(org_id)
        there = [
            o
            for c in org.target_countries
            for o in demo.store.organisations(country=c)
            if o.id not in partners and o.id != org_id
        ]
        if len(there) < 5:
            continue
        found = demo.recommend(org_id, k=10, explain=False)
        hits = sum(s.organisation.country in org.target_countries for s in found)
        assert hits >= 5, (org_id, org.target_countries, hits)
        checked += 1
    assert checked >= 20


def test_no_offers_reason_below_its_threshold_over_every_pair_shown(demo: Matcher) -> None:
    live = demo.live()
    ctx = live.context
    th = ctx.thresholds
    shown = 0
    for org_id in demo.store.organisation_ids():
        for s in demo.recommend(org_id, k=10):
            signals = {r.signal for r in s.reasons}
            if not signals & {"they_offer", "you_offer"}:
                continue
            q, c = ctx.profiles.index[org_id], ctx.profiles.index[s.organisation.id]
            vec = {f: ctx.profiles.vector(f, r) for f in ("offers", "seeks") for r in (q,)}
            other = {f: ctx.profiles.vector(f, c) for f in ("offers", "seeks")}
            if "they_offer" in signals:
                assert th.clearly_above("they_offer", float(vec["seeks"] @ other["offers"]))
            if "you_offer" in signals:
                assert th.clearly_above("you_offer", float(vec["offers"] @ other["seeks"]))
            alike = float(vec["offers"] @ other["offers"]) if other["offers"].any() else 0.0
            assert not th.clearly_above("offers_alike", alike)  # never a competitor
            shown += 1
    assert shown > 0
    assert np.isfinite(th.grid["they_offer"][90])
