"""Incremental writes through the facade: visible to the next read, equal to a rebuild."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from embeddings import SentenceTransformerEncoder
from embeddings.artefact import current_folder
from matcher.app import matcher as facade
from matcher.app.matcher import MAX_CONSORTIUM, Matcher
from matcher.app.settings import Settings
from matcher.domain.errors import ReferentialError, UnknownOrganisationError
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.graph import CollaborationGraph
from matcher.ranking.rank import RankingOptions
from matcher.ranking.signals import ProfileTable


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    model_id = property(lambda self: self.inner.model_id)
    revision = property(lambda self: self.inner.revision)
    backend = property(lambda self: self.inner.backend)
    dimension = property(lambda self: self.inner.dimension)

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        self.texts.extend(texts)
        return self.inner.encode(texts, show_progress=show_progress)


@pytest.fixture
def live(
    examples_home: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> Iterator[tuple[Matcher, CountingEncoder]]:
    """A matcher over a private copy of the built examples home."""
    home = tmp_path / "home"
    shutil.copytree(examples_home, home, symlinks=True)
    counting = CountingEncoder(encoder)
    with Matcher(Settings(home=home), encoder=counting) as m:  # type: ignore[arg-type]
        m.state()
        yield m, counting


def drone_cluster(org_id: str = "CL-DRONE-PL") -> Organisation:
    return Organisation(
        id=org_id,
        name="Silesian Drone Logistics Cluster",
        kind="cluster",
        country="PL",
        description="Cluster of drone makers delivering cold-chain medical and fresh food "
        "parcels; members build temperature-controlled drone boxes.",
        ecosystems=["mobility", "agri_food"],
        keywords=["drones", "cold chain"],
        offers="Drone delivery of temperature-sensitive goods",
        seeks="Fresh food exporters and refrigerated logistics partners",
    )


def ids(suggestions: Sequence[object]) -> list[str]:
    return [s.organisation.id for s in suggestions]  # type: ignore[attr-defined]


def test_a_new_organisation_is_ranked_at_once_and_encoded_once(
    live: tuple[Matcher, CountingEncoder],
) -> None:
    m, counting = live
    folder = current_folder(m.home)
    assert m.upsert_organisations([drone_cluster()]) == ["CL-DRONE-PL"]
    # Its profile text, offers, seeks and tags: four texts, nothing else re-encoded.
    assert len(counting.texts) == 4
    assert current_folder(m.home) == folder  # no rebuild
    own = m.recommend("CL-DRONE-PL", k=3)
    assert own and "CL-DRONE-PL" not in ids(own)
    assert "CL-AGRI-ES" in ids(own)  # cold chain for fresh food: the obvious partner
    assert "CL-DRONE-PL" in ids(m.recommend("CL-AGRI-ES", k=10))
    assert "CL-DRONE-PL" in m.load()


def test_incremental_state_equals_a_rebuild(
    live: tuple[Matcher, CountingEncoder], encoder: SentenceTransformerEncoder
) -> None:
    m, counting = live
    m.upsert_organisations([drone_cluster()])
    org = m.organisation("SME-COLD-IT")
    m.upsert_organisations(
        [org.model_copy(update={"description": org.description + " We also fly drones."})]
    )
    m.remove_organisation("CL-AGRI-DK")
    m.add_collaborations(
        [
            Collaboration(
                organisation_a="CL-DRONE-PL", organisation_b="SME-COLD-IT", date=dt.date(2026, 5, 1)
            )
        ]
    )
    live_lists = {i: ids(m.recommend(i, k=5)) for i in m.state().table.ids}
    live_vectors = {i: m.vector(i) for i in m.state().index.ids}
    counting.texts.clear()
    report = m.build(show_progress=False)  # catches up from the cache: nothing to encode
    assert report.encoded == 0 and not report.up_to_date
    with Matcher(Settings(home=m.home), encoder=encoder) as fresh:
        assert {i: ids(fresh.recommend(i, k=5)) for i in fresh.state().table.ids} == live_lists
        assert sorted(fresh.state().index.ids) == sorted(live_vectors)
        for i, v in live_vectors.items():
            np.testing.assert_allclose(fresh.vector(i), v, atol=1e-5)


def test_an_unchanged_upsert_encodes_nothing_and_a_changed_field_one_text(
    live: tuple[Matcher, CountingEncoder],
) -> None:
    m, counting = live
    org = m.organisation("CL-AGRI-ES")
    m.upsert_organisations([org])
    assert counting.texts == []
    m.upsert_organisations([org.model_copy(update={"seeks": "Drone makers"})])
    # The profile text includes 'Seeks: …', so it changes too: two texts; tags do not.
    assert len(counting.texts) == 2 and "Drone makers" in counting.texts
    assert m.organisation("CL-AGRI-ES").seeks == "Drone makers"


def test_removed_and_partnered_organisations_leave_the_lists(
    live: tuple[Matcher, CountingEncoder],
) -> None:
    m, _ = live
    first = ids(m.recommend("CL-AGRI-ES", k=10))
    gone = first[0]
    m.remove_organisation(gone)
    assert gone not in ids(m.recommend("CL-AGRI-ES", k=10))
    with pytest.raises(UnknownOrganisationError):
        m.recommend(gone)
    partner = ids(m.recommend("CL-AGRI-ES", k=10))[0]
    m.add_collaborations(
        [Collaboration(organisation_a="CL-AGRI-ES", organisation_b=partner, date=dt.date.today())]
    )
    assert partner not in ids(m.recommend("CL-AGRI-ES", k=10))  # partners are excluded
    m.remove_collaboration(
        Collaboration(organisation_a="CL-AGRI-ES", organisation_b=partner, date=dt.date.today())
    )
    assert partner in ids(m.recommend("CL-AGRI-ES", k=10))
    m.record_feedback("CL-AGRI-ES", partner, FeedbackKind.NOT_INTERESTED)
    assert partner not in ids(m.recommend("CL-AGRI-ES", k=10))


def test_a_bad_batch_changes_nothing(live: tuple[Matcher, CountingEncoder]) -> None:
    m, _ = live
    before = m.store.count_organisations()
    table = m.state().table
    with pytest.raises(ValueError, match="CL-DRONE-PL"):
        m.upsert_organisations([drone_cluster(), drone_cluster()])
    with pytest.raises(ReferentialError):
        m.add_collaborations(
            [
                Collaboration(
                    organisation_a="CL-AGRI-ES", organisation_b="NOPE", date=dt.date(2020, 1, 1)
                )
            ]
        )
    with pytest.raises(UnknownOrganisationError):
        m.remove_organisation("NOPE")
    assert m.store.count_organisations() == before
    assert m.state().table is table


def test_reads_run_while_writes_happen(live: tuple[Matcher, CountingEncoder]) -> None:
    m, _ = live
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                found = ids(m.recommend("CL-AGRI-ES", k=5))
                assert "CL-AGRI-ES" not in found and len(found) == len(set(found))
        except BaseException as exc:  # reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for n in range(6):
            m.upsert_organisations([drone_cluster(f"CL-DRONE-{n}")])
        for n in range(0, 6, 2):
            m.remove_organisation(f"CL-DRONE-{n}")
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors
    table = m.state().table
    assert {f"CL-DRONE-{n}" for n in (1, 3, 5)} <= set(table.ids)
    assert not {f"CL-DRONE-{n}" for n in (0, 2, 4)} & set(table.ids)
    assert len(m.load()) == len(table.ids)


def test_search_weights_text_and_tags_and_sees_writes(
    live: tuple[Matcher, CountingEncoder],
) -> None:
    m, _ = live
    by_tags = [o.id for o, _ in m.search(tags=["cold chain", "fresh produce"], k=3)]
    assert by_tags[0] == "CL-AGRI-ES"  # the only profile with both keywords
    text = "Software for hospitals and medical imaging"
    text_only = m.search(text, k=10)
    assert m.search(text, tags=["cold chain"], k=10, tag_weight=0.0) == text_only
    mixed = [o.id for o, _ in m.search(text, tags=["cold chain"], k=10, tag_weight=0.8)]
    assert mixed.index("CL-AGRI-ES") < [o.id for o, _ in text_only].index("CL-AGRI-ES")
    m.upsert_organisations(
        [drone_cluster().model_copy(update={"keywords": ["quantum sensing", "drones"]})]
    )
    assert m.search(tags=["quantum sensing"], k=1)[0][0].id == "CL-DRONE-PL"
    m.remove_organisation("CL-DRONE-PL")
    assert "CL-DRONE-PL" not in [o.id for o, _ in m.search(tags=["quantum sensing"], k=20)]
    with pytest.raises(ValueError, match="text, tags"):
        m.search("  ")


def test_index_candidates_rank_like_the_full_scan(live: tuple[Matcher, CountingEncoder]) -> None:
    m, _ = live
    m.upsert_organisations([drone_cluster()])
    few = dataclasses.replace(m.options(), full_scan_limit=1, candidates=4)
    for org_id in m.state().table.ids:
        full = m.recommend(org_id, k=3)
        via_index = m.recommend(org_id, k=3, options=few)
        assert via_index, org_id
        # The index's candidates (4 texts, 1 tag list, graph neighbours) are a subset of
        # everyone, so their best is never better than the full scan's best.
        assert via_index[0].score <= full[0].score + 1e-9
    assert ids(
        m.recommend("CL-AGRI-ES", k=3, options=dataclasses.replace(few, candidates=300))
    ) == ids(m.recommend("CL-AGRI-ES", k=3))


def _assert_same_table(table: ProfileTable, other: ProfileTable) -> None:
    """Two profile tables hold the same organisations with the same arrays."""
    assert table.ids == other.ids
    for name in ("country", "kind", "ecosystems", "stages", "keyword_counts", "activity"):
        np.testing.assert_array_equal(getattr(table, name), getattr(other, name), name)
    np.testing.assert_array_equal(table.degree, other.degree)
    for name in ("text", "offers", "seeks"):
        np.testing.assert_allclose(getattr(table, name), getattr(other, name), atol=1e-5)

    def words(t: ProfileTable, row: int) -> set[str]:
        inverse = {c: w for w, c in t.keyword_vocab.items()}
        return {inverse[c] for c in t.keywords[row].indices}

    for row in range(len(table)):
        assert words(table, row) == words(other, row)
        assert set(table.targets[row].indices) == set(other.targets[row].indices)


def test_a_profile_update_in_place_equals_a_fresh_table(
    live: tuple[Matcher, CountingEncoder], encoder: SentenceTransformerEncoder
) -> None:
    m, _ = live
    before = m.state().table
    org = m.organisation("CL-AGRI-ES")
    changes = {
        "keywords": ["drones", "cold chain", "brand-new keyword"],
        "ecosystems": ["digital"],
        "stages": ["research"],
        "target_countries": ["DK"],
        "kind": "sme",
    }
    m.upsert_organisations([Organisation.model_validate({**org.model_dump(), **changes})])
    table = m.state().table
    assert table.graph is before.graph  # no rebuild: the graph is shared
    m.build(show_progress=False)
    with Matcher(Settings(home=m.home), encoder=encoder) as fresh:
        other = fresh.state().table
        assert table.ids == other.ids
        _assert_same_table(table, other)
        assert ids(m.recommend("CL-AGRI-ES", k=5)) == ids(fresh.recommend("CL-AGRI-ES", k=5))


def _same_graph(live: CollaborationGraph, rebuilt: CollaborationGraph) -> None:
    assert live.ids == rebuilt.ids
    assert (live.adjacency != rebuilt.adjacency).nnz == 0
    assert (live.binary != rebuilt.binary).nnz == 0
    for a, b in zip(*live.binary.nonzero(), strict=True):
        assert live.link(live.ids[a], live.ids[b]) == rebuilt.link(live.ids[a], live.ids[b])


def test_collaborations_and_new_organisations_update_the_graph_in_place(
    live: tuple[Matcher, CountingEncoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    m, _ = live
    table = m.state().table
    as_of = table.as_of
    from_store = CollaborationGraph.from_store
    reads: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> CollaborationGraph:
        reads.append(1)
        return from_store(*args, **kwargs)

    monkeypatch.setattr(CollaborationGraph, "from_store", counted)
    m.upsert_organisations([drone_cluster()])
    tie = Collaboration(
        organisation_a="CL-DRONE-PL",
        organisation_b="SME-COLD-IT",
        date=as_of - dt.timedelta(days=30),
        source_ref="P-DRONE",
    )
    old_tie = Collaboration(
        organisation_a="CL-AGRI-ES", organisation_b="SME-COLD-IT", date=dt.date(2001, 1, 1)
    )
    assert m.add_collaborations([tie, old_tie, tie]) == 2
    assert m.add_collaborations([tie]) == 0  # known: nothing changes
    assert reads == []  # neither write read the graph from the store
    live_table = m.state().table
    assert live_table.as_of == as_of
    rebuilt = from_store(m.store, max_consortium=MAX_CONSORTIUM, include_isolated=True, as_of=as_of)
    _same_graph(live_table.graph, rebuilt)
    recent = m.store.activity(since=as_of - dt.timedelta(days=730), until=as_of)
    expected = np.array([recent.get(i, 0) for i in live_table.ids], np.float64)
    np.testing.assert_array_equal(live_table.activity, expected)
    np.testing.assert_array_equal(live_table.degree, rebuilt.degree())
    row = live_table.rows["CL-DRONE-PL"]
    assert live_table.activity[row] == 1 and live_table.degree[row] == 1
    assert "CL-DRONE-PL" not in table.graph  # the readers' old view is kept
    assert "CL-DRONE-PL" in ids(
        m.recommend("SME-COLD-IT", k=50, options=RankingOptions(partnered="flag"))
    )

    # Dated just after the graph's date (the platform records today's): in place, as if
    # dated as_of; the graph's date stays.
    soon = Collaboration(
        organisation_a="CL-AGRI-ES",
        organisation_b="CL-DRONE-PL",
        date=as_of + dt.timedelta(days=facade.REANCHOR_DAYS),
    )
    assert m.add_collaborations([soon]) == 1
    live_table = m.state().table
    assert reads == [] and live_table.as_of == as_of
    assert live_table.graph.link("CL-AGRI-ES", "CL-DRONE-PL").date == as_of  # type: ignore[union-attr]
    assert live_table.activity[live_table.rows["CL-DRONE-PL"]] == 2
    assert live_table.degree[live_table.rows["CL-DRONE-PL"]] == 2

    # Later than that: the graph is read from the store again, its date moves.
    later = tie.model_copy(update={"date": as_of + dt.timedelta(days=facade.REANCHOR_DAYS + 1)})
    assert m.add_collaborations([later]) == 1
    assert reads == [1] and m.state().table.as_of == later.date


def test_a_project_growing_past_the_consortium_limit_rebuilds_the_graph(
    live: tuple[Matcher, CountingEncoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    m, _ = live
    limit = 5
    monkeypatch.setattr(facade, "MAX_CONSORTIUM", limit)
    as_of = m.state().table.as_of
    members = m.state().table.ids[: limit + 2]
    ties = [
        Collaboration(
            organisation_a=members[0], organisation_b=other, date=as_of, source_ref="P-HUGE"
        )
        for other in members[1:]
    ]
    m.add_collaborations(ties[:3])  # a small project (4 members): in the graph
    assert m.state().table.graph.link(members[0], members[1]).source_ref == "P-HUGE"  # type: ignore[union-attr]
    m.add_collaborations(ties[3:])  # now 7 members, too many: all its ties leave the graph
    graph = m.state().table.graph
    links = [graph.link(members[0], o) for o in members[1:]]
    assert "P-HUGE" not in {link.source_ref for link in links if link is not None}
    _same_graph(
        graph,
        CollaborationGraph.from_store(
            m.store, max_consortium=limit, include_isolated=True, as_of=as_of
        ),
    )


def test_new_organisations_are_inserted_like_a_fresh_table(
    live: tuple[Matcher, CountingEncoder],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m, _ = live
    before = m.state().table
    known = m.organisation("CL-AGRI-ES")
    first = drone_cluster("AAA-FIRST-DRONES")  # sorts before every demo id
    last = drone_cluster("ZZZ-LAST-DRONES").model_copy(
        update={"keywords": ["a keyword nobody had"], "target_countries": ["DK"]}
    )
    middle = drone_cluster("CL-AGRI-ET")  # right after CL-AGRI-ES
    changed = known.model_copy(update={"keywords": ["drones"], "description": "Drones now."})
    monkeypatch.setattr(
        CollaborationGraph, "from_store", lambda *a, **k: pytest.fail("graph read from store")
    )
    monkeypatch.setattr(
        ProfileTable, "__post_init__", lambda *a, **k: pytest.fail("table built whole")
    )
    m.upsert_organisations([last, changed, first, middle])
    table = m.state().table
    monkeypatch.undo()
    assert before.ids == sorted(set(before.ids))  # the readers' old table is untouched
    assert "AAA-FIRST-DRONES" not in before.rows
    assert table.ids[0] == "AAA-FIRST-DRONES" and table.ids[-1] == "ZZZ-LAST-DRONES"
    assert table.rows["CL-AGRI-ET"] == table.rows["CL-AGRI-ES"] + 1
    m.build(show_progress=False)
    with Matcher(Settings(home=m.home), encoder=encoder) as fresh:
        other = fresh.state().table
        assert table.ids == other.ids and table.graph.ids == other.graph.ids
        _assert_same_table(table, other)
        for org_id in ("CL-AGRI-ES", "ZZZ-LAST-DRONES", "SME-COLD-IT"):
            assert ids(m.recommend(org_id, k=5)) == ids(fresh.recommend(org_id, k=5))
