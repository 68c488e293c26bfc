"""The profiles a process keeps in memory are what the store holds once a change is applied."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import org

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.organisations import OrganisationCache
from matcher.app.settings import Settings
from matcher.domain.errors import UnknownOrganisationError
from matcher.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite") as s:
        s.upsert_organisations([org(i, name=f"Name {i}") for i in ("A", "B", "C", "D")])
        yield s


def test_kept_profiles_are_the_stored_ones_least_recently_used_out_first(store: Store) -> None:
    cache = OrganisationCache(store, size=2)
    assert cache.get_organisations(["A", "B", "NOPE"]) == store.get_organisations(["A", "B"])
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 2)
    assert list(cache.get_organisations(["B", "A"])) == ["B", "A"]  # in the order asked
    assert (cache.hits, cache.misses) == (2, 3)
    cache.get_organisations(["C"])  # B was used before A: B goes
    assert cache.names(["A", "B", "C", "NOPE"]) == {"A": "Name A", "B": "Name B", "C": "Name C"}
    assert len(cache) == 2 and cache.hits == 2
    cache.get_organisations(["A", "C"])
    assert cache.hits == 4
    with pytest.raises(UnknownOrganisationError):
        cache.get_organisation("NOPE")


def test_a_forgotten_profile_is_read_again_and_a_read_overtaken_by_a_change_is_not_kept(
    store: Store,
) -> None:
    cache = OrganisationCache(store, size=10)
    cache.get_organisations(["A", "B"])
    store.upsert_organisations([org("A", name="Renamed A")])
    assert cache.get_organisation("A").name == "Name A"  # not applied yet: as the state was
    cache.forget(["A"])
    assert cache.get_organisation("A").name == "Renamed A"
    # A read that started before a change was applied is returned but not kept.
    generation = cache._generation
    read = store.get_organisations(["C"])
    cache.forget(["D"])
    cache._keep(read, generation)
    assert "C" not in cache._kept
    cache.clear()
    assert len(cache) == 0
    none = OrganisationCache(store, size=0)
    none.get_organisations(["A", "B"])
    assert len(none) == 0


@pytest.fixture
def home(examples_home: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(examples_home, target, symlinks=True)
    return target


def test_lists_show_a_change_made_by_another_process_at_the_next_request(
    home: Path, encoder: SentenceTransformerEncoder
) -> None:
    with (
        Matcher(Settings(home=home), encoder=encoder) as serving,
        Matcher(Settings(home=home), encoder=encoder) as other,
    ):
        query = serving.store.organisation_ids()[0]
        first = serving.recommend(query, k=5)
        shown = first[0].organisation
        assert shown.id in serving.live().organisations._kept
        other.upsert_organisations([shown.model_copy(update={"name": "A New Name Ltd"})])
        again = serving.recommend(query, k=5)
        names = {s.organisation.id: s.organisation.name for s in again}
        assert names[shown.id] == "A New Name Ltd"
        assert again[0].organisation == serving.store.get_organisation(again[0].organisation.id)
        other.remove_organisation(shown.id)
        assert shown.id not in {s.organisation.id for s in serving.recommend(query, k=5)}
        with pytest.raises(UnknownOrganisationError):
            serving.recommend(shown.id)
