"""Tests for the CORDIS-shaped benchmark home (matcher.lab.scale)."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from matcher.domain.schema import Collaboration
from matcher.domain.vocab import OrganisationKind
from matcher.ingest.platform import import_platform, read_organisations
from matcher.lab.scale import (
    CordisFit,
    DegreeSummary,
    ScaledHome,
    degrees,
    generate_home,
    load_fit,
    measure_cordis,
    save_fit,
    simulate_degrees,
)
from matcher.store import Store

REPO = Path(__file__).resolve().parent.parent
CORDIS = Path(os.environ.get("CORDIS_DIR", REPO.parent / "shared" / "data" / "cordis"))


@pytest.fixture(scope="module")
def fit() -> CordisFit:
    return load_fit()


@pytest.fixture(scope="module")
def home() -> ScaledHome:
    return generate_home(3_000, seed=0)


def _dump(home: ScaledHome) -> tuple[list[dict[str, object]], list[Collaboration]]:
    return [o.model_dump() for o in home.organisations], list(home.collaborations())


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_the_same_home_and_another_seed_differs() -> None:
    first = generate_home(400, seed=3)
    again = generate_home(400, seed=3)
    other = generate_home(400, seed=4)
    assert _dump(first) == _dump(again)
    assert [m.tolist() for m in first.projects] == [m.tolist() for m in again.projects]
    assert _dump(first)[0] != _dump(other)[0]
    assert _dump(first)[1] != _dump(other)[1]


# -- degree distribution -----------------------------------------------------------------


def test_the_model_matches_cordis_at_cordis_size(fit: CordisFit) -> None:
    # A seed the fit did not use; CORDIS's own quantiles are the targets.
    found = DegreeSummary.of(simulate_degrees(fit.target.organisations, fit, seed=10))
    target = fit.target
    assert found.loss(target) < 0.15
    assert found.median == pytest.approx(target.median, rel=0.10)
    assert found.p90 == pytest.approx(target.p90, rel=0.10)
    assert found.p99 == pytest.approx(target.p99, rel=0.15)
    assert found.p999 == pytest.approx(target.p999, rel=0.20)
    assert 0.5 * target.max <= found.max <= 1.5 * target.max
    assert found.zero_share == pytest.approx(fit.zero_share, abs=0.01)


def test_a_small_home_has_cordis_hubs_and_heavy_tail(home: ScaledHome, fit: CordisFit) -> None:
    found = DegreeSummary.of(home.degrees())
    target = fit.target
    # Organisations drawn with no consortium project have no partner.
    assert found.zero_share == pytest.approx(fit.zero_share, abs=0.03)
    # The body follows CORDIS; at 3,000 organisations hubs meet the same partners again
    # more often than among CORDIS's 27,411, so the top quantiles are lower (about 0.6x).
    assert 0.7 * target.median <= found.median <= 1.15 * target.median
    assert 0.7 * target.p90 <= found.p90 <= 1.15 * target.p90
    assert 0.4 * target.p99 <= found.p99 <= 1.15 * target.p99
    assert found.p99 / found.median >= 0.5 * target.p99 / target.median
    assert found.max >= 20 * found.median
    assert found.max >= 0.1 * target.max


def test_the_most_active_organisations_are_clusters(home: ScaledHome) -> None:
    kinds = [o.kind for o in home.organisations]
    assert kinds.count(OrganisationKind.CLUSTER) == 1_000
    assert kinds.count(OrganisationKind.SME) == 2_000
    order = np.argsort(-home.degrees())
    top = [kinds[i] for i in order[:30]]
    assert top.count(OrganisationKind.CLUSTER) >= 24


def test_profiles_look_like_the_platform(home: ScaledHome) -> None:
    ids = [o.id for o in home.organisations]
    assert len(set(ids)) == len(ids)
    assert len({o.description for o in home.organisations}) == len(ids)
    for o in home.organisations:
        prefix = "CL" if o.kind is OrganisationKind.CLUSTER else "SME"
        assert re.fullmatch(prefix + r"-\d{6}", o.id)
        assert o.country not in o.target_countries
        assert o.ecosystems and o.stages and o.keywords and o.offers and o.seeks
        if o.kind is OrganisationKind.SME:
            assert 1 <= len(o.target_countries) <= 4


def test_collaborations_are_whole_consortia(home: ScaledHome) -> None:
    by_ref: dict[str, list[Collaboration]] = defaultdict(list)
    count = 0
    for c in home.collaborations():
        by_ref[c.source_ref].append(c)
        count += 1
    assert count == home.pairs()
    assert len(by_ref) == len(home.projects)
    sizes = []
    for ties in by_ref.values():
        members = {c.organisation_a for c in ties} | {c.organisation_b for c in ties}
        k = len(members)
        sizes.append(k)
        assert 2 <= k <= 50
        assert len(ties) == k * (k - 1) // 2
        assert len({c.date for c in ties}) == 1
        assert all(c.weight == pytest.approx(min(1.0, 1 / (k - 1))) for c in ties)
        assert all(c.organisation_a < c.organisation_b for c in ties)
        assert dt.date(2015, 1, 1) <= ties[0].date <= dt.date(2026, 6, 30)
    assert max(sizes) > 20  # CORDIS's large consortia are there


def test_degrees_count_distinct_partners() -> None:
    projects = [np.array([0, 1, 2]), np.array([0, 1]), np.array([3, 4])]
    assert degrees(6, projects).tolist() == [2, 2, 2, 1, 1, 0]
    assert degrees(3, []).tolist() == [0, 0, 0]


@pytest.mark.parametrize("count", [0, 1, 2, 25])
def test_small_sizes(count: int) -> None:
    small = generate_home(count, seed=1)
    assert len(small.organisations) == count
    assert small.degrees().shape == (count,)
    for members in small.projects:
        assert members.size >= 2 and members.max() < count


@pytest.mark.parametrize(
    "kwargs",
    [
        {"organisations": -1},
        {"organisations": 10, "cluster_share": 1.5},
        {"organisations": 10, "start_year": 2027, "end_year": 2026},
    ],
)
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        generate_home(**kwargs)  # type: ignore[arg-type]


# -- files -------------------------------------------------------------------------------


def test_files_import_cleanly_into_a_real_store(tmp_path: Path) -> None:
    small = generate_home(600, seed=2)
    orgs, collabs = small.write(tmp_path / "home")
    assert (orgs, collabs) == (600, small.pairs())
    assert read_organisations(tmp_path / "home" / "organisations.csv") == small.organisations
    with Store(tmp_path / "store.sqlite") as store:
        report = import_platform(
            store,
            organisations=tmp_path / "home" / "organisations.csv",
            collaborations=tmp_path / "home" / "collaborations.csv",
        )
        assert not report.rejected
        assert store.count_organisations() == 600
        assert store.count_collaborations() == small.pairs()
        biggest = max(range(len(small.projects)), key=lambda i: small.projects[i].size)
        assert store.consortium_size(small.refs[biggest]) == small.projects[biggest].size


def test_a_sample_keeps_the_pairs_among_its_organisations(tmp_path: Path) -> None:
    whole = generate_home(500, seed=5)
    part = whole.sample(120, seed=1)
    assert len(part.organisations) == 120
    chosen = {o.id for o in part.organisations}
    expected = {
        (c.organisation_a, c.organisation_b, c.source_ref)
        for c in whole.collaborations()
        if c.organisation_a in chosen and c.organisation_b in chosen
    }
    assert {(c.organisation_a, c.organisation_b, c.source_ref) for c in part.collaborations()} == (
        expected
    )
    part.write(tmp_path)
    with Store(tmp_path / "store.sqlite") as store:
        report = import_platform(
            store,
            organisations=tmp_path / "organisations.csv",
            collaborations=tmp_path / "collaborations.csv",
        )
        assert report.collaborations == len(expected)


# -- the fit -----------------------------------------------------------------------------


def test_the_fit_round_trips_and_a_bad_file_is_named(tmp_path: Path, fit: CordisFit) -> None:
    save_fit(fit, tmp_path / "fit.json")
    assert load_fit(tmp_path / "fit.json") == fit
    (tmp_path / "bad.json").write_text('{"participations": []}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: not a CORDIS fit"):
        load_fit(tmp_path / "bad.json")


def test_the_bundled_fit_is_measured_from_cordis(fit: CordisFit) -> None:
    if not (CORDIS / "organization.csv.gz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the CORDIS subset is not at {CORDIS} (set CORDIS_DIR)")
        pytest.skip(f"the CORDIS subset is not at {CORDIS} (set CORDIS_DIR)")
    graph = measure_cordis(CORDIS)
    assert DegreeSummary.of(graph.degrees) == fit.target
    counts = np.unique(graph.participations, return_counts=True)
    assert [(int(k), int(n)) for k, n in zip(*counts, strict=True)] == list(fit.participations)
    sizes = np.unique(graph.project_sizes, return_counts=True)
    assert [(int(k), int(n)) for k, n in zip(*sizes, strict=True)] == list(fit.project_sizes)
