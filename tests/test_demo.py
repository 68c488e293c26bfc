"""Tests for the synthetic demo data generator (matcher.lab.demo)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import (
    ASSOCIATED,
    EU27,
    CollaborationKind,
    OrganisationKind,
    load_neighbours,
)
from matcher.lab.demo import DemoData, generate_demo
from matcher.lab.demo.profiles import ProfileMaker
from matcher.lab.demo.vocabulary import DATA, PLACEHOLDERS, load_vocabulary

REPO = Path(__file__).resolve().parent.parent
ALLOWED_COUNTRIES = set(EU27) | set(ASSOCIATED)
NUTS_PREFIX = {"GR": "EL", "GB": "UK"}


def _digest(data: DemoData) -> str:
    payload = {
        "organisations": [o.model_dump(mode="json") for o in data.organisations],
        "collaborations": [c.model_dump(mode="json") for c in data.collaborations],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _dump(data: DemoData) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    return (
        [o.model_dump() for o in data.organisations],
        [c.model_dump() for c in data.collaborations],
    )


def _degrees(data: DemoData) -> Counter[str]:
    degree: Counter[str] = Counter({o.id: 0 for o in data.organisations})
    for c in data.collaborations:
        degree[c.organisation_a] += 1
        degree[c.organisation_b] += 1
    return degree


@pytest.fixture(scope="module")
def default() -> DemoData:
    return generate_demo()


@pytest.fixture(scope="module")
def by_id(default: DemoData) -> dict[str, Organisation]:
    return {o.id: o for o in default.organisations}


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_output_and_other_seed_differs() -> None:
    first = generate_demo(seed=11, clusters=40, smes=80)
    second = generate_demo(seed=11, clusters=40, smes=80)
    other = generate_demo(seed=12, clusters=40, smes=80)
    assert _dump(first) == _dump(second)
    assert _digest(first) == _digest(second)
    assert _dump(first)[0] != _dump(other)[0]
    assert _dump(first)[1] != _dump(other)[1]


def test_output_does_not_depend_on_hash_seed() -> None:
    code = (
        "import hashlib, json\n"
        "from matcher.lab.demo import generate_demo\n"
        "d = generate_demo(seed=3, clusters=30, smes=60)\n"
        "p = {'organisations': [o.model_dump(mode='json') for o in d.organisations],\n"
        "     'collaborations': [c.model_dump(mode='json') for c in d.collaborations]}\n"
        "t = json.dumps(p, sort_keys=True, ensure_ascii=False)\n"
        "print(hashlib.sha256(t.encode()).hexdigest())\n"
    )
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.append(result.stdout.strip())
    assert re.fullmatch(r"[0-9a-f]{64}", digests[0])
    assert digests[0] == digests[1]
    assert digests[0] == _digest(generate_demo(seed=3, clusters=30, smes=60))


# -- organisations -----------------------------------------------------------------------


def test_default_counts_and_ids(default: DemoData) -> None:
    kinds = Counter(o.kind for o in default.organisations)
    assert kinds == {OrganisationKind.CLUSTER: 1500, OrganisationKind.SME: 3000}
    ids = [o.id for o in default.organisations]
    assert len(set(ids)) == len(ids)
    for o in default.organisations:
        prefix = "CL" if o.kind is OrganisationKind.CLUSTER else "SME"
        assert re.fullmatch(prefix + r"-\d{5}", o.id)


def test_countries_are_eu_or_associated_and_weighted(default: DemoData) -> None:
    countries = Counter(o.country for o in default.organisations)
    assert set(countries) <= ALLOWED_COUNTRIES
    assert len(countries) >= 35
    top = {c for c, _ in countries.most_common(5)}
    assert top <= {"DE", "FR", "IT", "ES", "PL", "NL", "GB"}
    assert countries["DE"] > 5 * countries["MT"]


def test_organisation_fields_are_plausible(default: DemoData) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for o in default.organisations:
        cluster = o.kind is OrganisationKind.CLUSTER
        assert o.country is not None
        assert 1 <= len(o.ecosystems) <= 3
        assert 1 <= len(o.stages) <= (3 if cluster else 2)
        assert 3 <= len(o.keywords) <= 8
        assert o.offers and o.seeks and o.description
        assert o.size is not None
        assert (20 <= o.size <= 600) if cluster else (3 <= o.size <= 249)
        assert o.country not in o.target_countries
        assert set(o.target_countries) <= ALLOWED_COUNTRIES
        if not cluster:
            assert 1 <= len(o.target_countries) <= 4
        assert o.languages
        assert o.website is not None
        assert re.fullmatch(r"https://www\.[a-z0-9-]+\.example", o.website)
        assert o.updated_at is not None
        assert start <= o.updated_at < end
        if o.region is not None:
            assert o.region.startswith(NUTS_PREFIX.get(o.country, o.country))
    # Regions are mostly known; most organisations also work in English.
    assert sum(o.region is None for o in default.organisations) < 0.3 * 4500
    assert sum("en" in o.languages for o in default.organisations) > 0.6 * 4500


def test_every_record_revalidates(default: DemoData) -> None:
    for o in default.organisations[::7]:
        assert Organisation.model_validate(o.model_dump()) == o
    for c in default.collaborations[::11]:
        assert Collaboration.model_validate(c.model_dump()) == c


def test_descriptions_are_varied(default: DemoData) -> None:
    descriptions = [o.description for o in default.organisations]
    assert len(set(descriptions)) == len(descriptions)

    openings = Counter(" ".join(d.split()[:6]) for d in descriptions)
    shared = sum(n for n in openings.values() if n > 1)
    assert shared < 0.05 * len(descriptions)

    words = [len(d.split()) for d in descriptions]
    assert min(words) >= 40
    assert max(words) <= 125
    assert 50 <= statistics.mean(words) <= 110

    sentences = [len(re.findall(r"[.!?](?=\s+[A-Z]|$)", d)) for d in descriptions]
    assert sum(3 <= n <= 6 for n in sentences) >= 0.98 * len(descriptions)
    assert len(set(sentences)) >= 3

    # Different organisations share little wording: mean word-trigram Jaccard is low.
    def trigrams(text: str) -> set[tuple[str, ...]]:
        w = text.lower().split()
        return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}

    grams = [trigrams(d) for d in descriptions]
    rng = random.Random(0)
    scores = []
    for _ in range(2000):
        i, j = rng.sample(range(len(grams)), 2)
        scores.append(len(grams[i] & grams[j]) / len(grams[i] | grams[j]))
    assert statistics.mean(scores) < 0.05


# -- collaborations ----------------------------------------------------------------------


def test_collaborations_are_well_formed(default: DemoData, by_id: dict[str, Organisation]) -> None:
    collaborations = default.collaborations
    assert 15_000 <= len(collaborations) <= 40_000
    kinds = Counter(c.kind for c in collaborations)
    assert set(kinds) == {
        CollaborationKind.JOINT_PROJECT,
        CollaborationKind.MEMBERSHIP,
        CollaborationKind.EVENT_MEETING,
        CollaborationKind.AGREEMENT,
    }
    keys = [(c.organisation_a, c.organisation_b, c.kind, c.source_ref) for c in collaborations]
    assert len(set(keys)) == len(keys)
    first, last = dt.date(2015, 1, 1), dt.date(2026, 6, 30)
    for c in collaborations:
        assert c.organisation_a in by_id
        assert c.organisation_b in by_id
        assert c.organisation_a < c.organisation_b
        assert first <= c.date <= last
        assert 0.0 < c.weight <= 1.0


def test_joint_projects_are_small_consortia(default: DemoData) -> None:
    projects: dict[str, list[Collaboration]] = defaultdict(list)
    for c in default.collaborations:
        if c.kind is CollaborationKind.JOINT_PROJECT:
            projects[c.source_ref].append(c)
    assert len(projects) > 500
    sizes = []
    for ref, ties in projects.items():
        assert re.fullmatch(r"DEMO-P\d{4,}", ref)
        members = {c.organisation_a for c in ties} | {c.organisation_b for c in ties}
        k = len(members)
        sizes.append(k)
        assert 3 <= k <= 8
        assert len(ties) == k * (k - 1) // 2  # every pair of the consortium
        assert len({c.date for c in ties}) == 1
        assert all(c.weight == pytest.approx(min(1.0, 1 / (k - 1))) for c in ties)
    assert statistics.median(sizes) <= 5  # many small consortia


def test_memberships_link_smes_to_local_clusters(
    default: DemoData, by_id: dict[str, Organisation]
) -> None:
    per_sme: Counter[str] = Counter()
    same_country = 0
    memberships = [c for c in default.collaborations if c.kind is CollaborationKind.MEMBERSHIP]
    for c in memberships:
        a, b = by_id[c.organisation_a], by_id[c.organisation_b]
        assert {a.kind, b.kind} == {OrganisationKind.CLUSTER, OrganisationKind.SME}
        assert c.weight == 1.0
        assert c.source_ref == ""
        sme = a if a.kind is OrganisationKind.SME else b
        per_sme[sme.id] += 1
        same_country += a.country == b.country
    assert same_country >= 0.9 * len(memberships)
    assert max(per_sme.values()) <= 2
    assert len(per_sme) >= 0.95 * 3000


def test_events_and_agreements_are_between_clusters(
    default: DemoData, by_id: dict[str, Organisation]
) -> None:
    for c in default.collaborations:
        if c.kind in (CollaborationKind.EVENT_MEETING, CollaborationKind.AGREEMENT):
            assert by_id[c.organisation_a].kind is OrganisationKind.CLUSTER
            assert by_id[c.organisation_b].kind is OrganisationKind.CLUSTER
            assert re.fullmatch(r"DEMO-[EA]\d{4,}", c.source_ref)


def test_ecosystem_homophily(default: DemoData, by_id: dict[str, Organisation]) -> None:
    def share_ecosystem(a: Organisation, b: Organisation) -> bool:
        return bool(set(a.ecosystems) & set(b.ecosystems))

    observed = sum(
        share_ecosystem(by_id[c.organisation_a], by_id[c.organisation_b])
        for c in default.collaborations
    ) / len(default.collaborations)
    rng = random.Random(1)
    orgs = default.organisations
    trials = 20_000
    baseline = sum(share_ecosystem(*rng.sample(orgs, 2)) for _ in range(trials)) / trials
    assert observed > 2 * baseline
    assert observed > 0.6


def test_geographic_homophily(default: DemoData, by_id: dict[str, Organisation]) -> None:
    observed = sum(
        by_id[c.organisation_a].country == by_id[c.organisation_b].country
        for c in default.collaborations
    ) / len(default.collaborations)
    counts = Counter(o.country for o in default.organisations)
    n = len(default.organisations)
    baseline = (sum(k * k for k in counts.values()) - n) / (n * (n - 1))
    assert observed > 2.5 * baseline


def test_a_few_hubs(default: DemoData, by_id: dict[str, Organisation]) -> None:
    degree = _degrees(default)
    values = sorted(degree.values())
    median = statistics.median(values)
    assert values[-1] >= 5 * max(1.0, median)
    top = [org_id for org_id, _ in degree.most_common(20)]
    assert sum(by_id[i].kind is OrganisationKind.CLUSTER for i in top) >= 15
    # Hubs are few: the top 2% of organisations hold a large but minority share of ends.
    top_share = sum(values[-len(values) // 50 :]) / sum(values)
    assert 0.1 < top_share < 0.6


# -- small and edge sizes ----------------------------------------------------------------


@pytest.mark.parametrize(("clusters", "smes"), [(0, 0), (1, 0), (0, 12), (2, 3), (5, 40)])
def test_small_sizes(clusters: int, smes: int) -> None:
    data = generate_demo(seed=5, clusters=clusters, smes=smes)
    assert len(data.organisations) == clusters + smes
    ids = {o.id for o in data.organisations}
    for c in data.collaborations:
        assert {c.organisation_a, c.organisation_b} <= ids
    if clusters == 0:
        assert all(c.kind is CollaborationKind.JOINT_PROJECT for c in data.collaborations)


def test_years_move_the_dates() -> None:
    data = generate_demo(seed=1, clusters=20, smes=40, start_year=2020, end_year=2022)
    assert all(dt.date(2020, 1, 1) <= c.date <= dt.date(2022, 6, 30) for c in data.collaborations)
    for o in data.organisations:
        assert o.updated_at is not None
        assert dt.datetime(2020, 1, 1, tzinfo=dt.UTC) <= o.updated_at
        assert o.updated_at < dt.datetime(2022, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "kwargs",
    [{"clusters": -1}, {"smes": -5}, {"start_year": 2027, "end_year": 2026}],
)
def test_invalid_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate_demo(**kwargs)


# -- vocabularies ------------------------------------------------------------------------


def test_neighbours_are_the_domain_table() -> None:
    # One table of country neighbours: the demo reads the one ranking uses.
    vocab = load_vocabulary()
    domain = load_neighbours()
    assert set(vocab.neighbours) == ALLOWED_COUNTRIES
    for code, neighbours in vocab.neighbours.items():
        assert set(neighbours) == set(domain.get(code, ())) & ALLOWED_COUNTRIES
        assert list(neighbours) == sorted(neighbours)
    assert "LI" not in vocab.neighbours["AT"]  # outside the platform's countries


def test_every_placeholder_gets_a_value() -> None:
    vocab = load_vocabulary()
    maker = ProfileMaker(random.Random(0), 2026, vocab)
    for kind in (OrganisationKind.CLUSTER, OrganisationKind.SME):
        profile = maker._profile(kind)
        values = maker.texts.values(profile, "Name", "Short", "Theme")
        assert set(values) == PLACEHOLDERS
    used = {
        name
        for patterns in vocab.patterns.values()
        for pattern in patterns
        for name in re.findall(r"\{(\w+)\}", pattern)
    }
    assert used <= PLACEHOLDERS
    assert {"kw1", "targets", "need", "product"} <= used


def test_profile_maker_refuses_kinds_it_has_no_words_for() -> None:
    maker = ProfileMaker(random.Random(0), 2026)
    with pytest.raises(ValueError, match="clusters and SMEs"):
        maker.organisation("X-1", OrganisationKind.UNIVERSITY, set())


def _copy_data(tmp_path: Path) -> Path:
    for source in DATA.glob("*.json"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "ecosystems.json",
            lambda d: d["ecosystems"]["digital"].update(related=["digital", "space"]),
            r"ecosystems\.json: ecosystems\.digital\.related: unknown value 'space'",
        ),
        (
            "countries.json",
            lambda d: d["countries"].pop("MT"),
            r"countries\.json: countries: expected EU27 and associated; missing \['MT'\]",
        ),
        (
            "countries.json",
            lambda d: d["countries"]["AT"]["places"].append(["DE1", "Passau", ""]),
            r"countries\.AT\.places\[6\]: 'DE1' is not a NUTS code of AT",
        ),
        (
            "sentences.json",
            lambda d: d["patterns"]["sme_seeks"].append("We want {partners}."),
            r"patterns\.sme_seeks: unknown placeholders \['partners'\]",
        ),
        (
            "stages.json",
            lambda d: d["stages"]["design"].pop("verb"),
            r"stages\.json: stages\.design\.verb: missing",
        ),
    ],
)
def test_a_broken_data_file_is_named_with_its_key(
    tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    directory = _copy_data(tmp_path)
    data = json.loads((directory / file).read_text(encoding="utf-8"))
    change(data)
    (directory / file).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_vocabulary(directory)
