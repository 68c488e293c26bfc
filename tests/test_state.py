"""The store is the truth: writes reach every process through the change log; a process
started later serves exactly what a fresh build serves."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from embeddings import SentenceTransformerEncoder
from matcher.app.assemble import ACTIVITY_DAYS
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.app.vectors import prepare_vectors
from matcher.app.writes import WAITING_WRITES
from matcher.domain.errors import BusyError, ReferentialError, UnknownOrganisationError
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.ranking.candidates import ListSizes, lists_for
from matcher.ranking.profiles import FIELDS, RowValues
from matcher.store.changes import ChangeKind


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode (instrumentation only)."""

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
def home(examples_home: Path, tmp_path: Path) -> Path:
    """A private copy of the built examples home."""
    target = tmp_path / "home"
    shutil.copytree(examples_home, target, symlinks=True)
    return target


@pytest.fixture
def two(
    home: Path, encoder: SentenceTransformerEncoder
) -> Iterator[tuple[Matcher, Matcher, CountingEncoder]]:
    """Two matchers over one home, as two processes would be; the second counts encodings."""
    counting = CountingEncoder(encoder)
    with (
        Matcher(Settings(home=home), encoder=encoder) as a,
        Matcher(
            Settings(home=home),
            encoder=counting,  # type: ignore[arg-type]
        ) as b,
    ):
        a.live()
        b.live()
        yield a, b, counting


def drone_cluster(org_id: str = "CL-DRONE-PL", **kw: object) -> Organisation:
    data: dict[str, object] = dict(
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
    data.update(kw)
    return Organisation.model_validate(data)


def ids(suggestions: Sequence[object]) -> list[str]:
    return [s.organisation.id for s in suggestions]  # type: ignore[attr-defined]


def test_every_write_is_logged_in_its_transaction(
    home: Path, encoder: SentenceTransformerEncoder
) -> None:
    with Matcher(Settings(home=home), encoder=encoder) as m:
        start = m.store.sequence()
        m.upsert_organisations([drone_cluster()])
        m.add_collaborations(
            [
                Collaboration(
                    organisation_a="CL-DRONE-PL",
                    organisation_b="CL-AGRI-DK",
                    date=dt.date(2026, 5, 1),
                )
            ]
        )
        m.record_feedback("CL-DRONE-PL", "CL-AGRI-ES", FeedbackKind.BLOCKED)
        m.remove_organisation("CL-DRONE-PL")
        kinds = [c.kind for c in m.store.changes_since(start)]
        assert kinds == [
            ChangeKind.ORGANISATION,
            ChangeKind.COLLABORATION,
            ChangeKind.FEEDBACK,
            ChangeKind.ORGANISATION_DELETED,
        ]
        before = m.store.sequence()
        with pytest.raises(ReferentialError):  # refused whole: nothing logged
            m.add_collaborations(
                [
                    Collaboration(
                        organisation_a="CL-AGRI-DK", organisation_b="NOPE", date=dt.date(2026, 1, 1)
                    )
                ]
            )
        assert m.store.sequence() == before


class PriorityRecordingEncoder(CountingEncoder):
    """The real encoder, noting the thread and niceness each call runs at (instrumentation)."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        super().__init__(inner)
        self.calls: list[tuple[int, int]] = []

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        tid = threading.get_native_id()
        self.calls.append((tid, os.getpriority(os.PRIO_PROCESS, tid)))
        return super().encode(texts, show_progress=show_progress)


@pytest.mark.parametrize("nice", [0, 5])
def test_a_profile_write_encodes_on_a_thread_of_lower_priority(
    home: Path, encoder: SentenceTransformerEncoder, nice: int
) -> None:
    recording = PriorityRecordingEncoder(encoder)
    me = threading.get_native_id()
    mine = os.getpriority(os.PRIO_PROCESS, me)
    with Matcher(
        Settings(home=home, write_nice=nice),
        encoder=recording,  # type: ignore[arg-type]
    ) as m:
        m.live()
        m.upsert_organisations([drone_cluster()])
        assert ids(m.recommend_profile(drone_cluster("PROBE"), k=3))[0] == "CL-DRONE-PL"
    tid, niceness = recording.calls[0]  # the write's encoding (the probe's came later)
    assert os.getpriority(os.PRIO_PROCESS, me) == mine  # the caller's own is unchanged
    if nice == 0:
        assert (tid, niceness) == (me, mine)
    else:
        assert tid != me
        assert niceness == (min(19, mine + nice) if sys.platform == "linux" else mine)


class GatedEncoder(CountingEncoder):
    """The real encoder, held at a gate on each call until the test opens it (instrumentation)."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        self.entered.set()
        assert self.gate.wait(30)
        return super().encode(texts, show_progress=show_progress)


def test_profile_writes_beyond_the_line_are_refused_whole(
    home: Path, encoder: SentenceTransformerEncoder
) -> None:
    gated = GatedEncoder(encoder)
    with Matcher(
        Settings(home=home, write_nice=5),
        encoder=gated,  # type: ignore[arg-type]
    ) as m:
        m.live()
        done: list[str] = []
        writes = [
            threading.Thread(target=lambda n=n: done.extend(m.upsert_organisations(
                [drone_cluster(f"CL-LINE-{n}")]
            )))
            for n in range(1 + WAITING_WRITES)
        ]  # fmt: skip
        try:
            writes[0].start()
            assert gated.entered.wait(30)  # the first is being prepared
            for t in writes[1:]:
                t.start()
            deadline = time.monotonic() + 30
            while m.writer.taken < 1 + WAITING_WRITES and time.monotonic() < deadline:
                time.sleep(0.01)
            assert m.writer.taken == 1 + WAITING_WRITES
            before = m.store.sequence()
            with pytest.raises(BusyError, match="nothing was written"):
                m.upsert_organisations([drone_cluster("CL-LINE-REFUSED")])
            assert m.store.sequence() == before
        finally:
            gated.gate.set()
            for t in writes:
                t.join(60)
        assert sorted(done) == [f"CL-LINE-{n}" for n in range(1 + WAITING_WRITES)]
        assert m.writer.taken == 0
        assert "CL-LINE-REFUSED" not in set(m.store.organisation_ids())
        m.upsert_organisations([drone_cluster("CL-LINE-LATER")])  # the line is free again


def test_a_write_in_one_process_is_served_by_the_other_without_encoding(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    a, b, counting = two
    a.upsert_organisations([drone_cluster()])
    # b never saw the write happen: the change log and the stored vectors bring it.
    got = b.recommend("CL-DRONE-PL", k=5)
    assert len(got) == 5 and "CL-DRONE-PL" not in ids(got)
    assert counting.texts == []  # b applied the write without encoding anything
    profile = drone_cluster("PROBE")
    assert ids(b.recommend_profile(profile, k=3))[0] == "CL-DRONE-PL"  # identical profile: rank 1


def test_a_new_description_encodes_the_description_alone(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    a, b, counting = two
    b.upsert_organisations([drone_cluster()])
    assert len(counting.texts) == 4  # a new organisation: text, tags, offers and seeks
    counting.texts.clear()
    p = b.live().context.profiles
    before = {f: p.vector(f, p.index["CL-DRONE-PL"]).copy() for f in FIELDS}
    text = "Drone makers delivering insulin and vaccines to rural clinics in cold boxes."
    b.upsert_organisations([drone_cluster(description=text)])
    assert len(counting.texts) == 1 and text in counting.texts[0]  # the profile text only
    p = b.live().context.profiles
    after = {f: p.vector(f, p.index["CL-DRONE-PL"]) for f in FIELDS}
    assert not np.array_equal(after["text"], before["text"])
    for field in ("tags", "offers", "seeks"):  # kept as they were, bit for bit
        assert np.array_equal(after[field], before[field])
    # The same vectors as encoding the whole profile afresh (the other process's view).
    fresh = prepare_vectors([drone_cluster(description=text)], a.store, a.encoder)
    for j, field in enumerate(FIELDS):
        np.testing.assert_allclose(after[field], fresh.vectors[0, j], atol=1e-5)
    assert np.array_equal(p.keys(p.index["CL-DRONE-PL"]), fresh.keys[0])


def test_a_write_does_not_wait_for_the_ranking_running(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    """Acknowledged while a ranking holds the state; the next ranking applies it first."""
    _, b, _ = two
    b.upsert_organisations([drone_cluster()])
    live = b.live()
    before = live.context.profiles.vector("text", live.context.profiles.index["CL-DRONE-PL"])
    before = before.copy()
    held, release, written = threading.Event(), threading.Event(), threading.Event()

    def ranking() -> None:
        with live.lock:  # what a ranking holds while it runs
            held.set()
            release.wait(60)

    def write() -> None:
        b.upsert_organisations([drone_cluster(description="Drones for mountain rescue.")])
        written.set()

    holder = threading.Thread(target=ranking)
    holder.start()
    assert held.wait(10)
    writer = threading.Thread(target=write)
    try:
        writer.start()
        assert written.wait(10), "the write waited for the ranking"
        assert live.seq < b.store.sequence()  # stored, not applied yet in this process
    finally:
        release.set()
        holder.join()
        writer.join()
    b.recommend("CL-DRONE-PL", k=3)  # applies what was logged first
    assert live.seq == b.store.sequence()
    p = live.context.profiles
    assert not np.array_equal(p.vector("text", p.index["CL-DRONE-PL"]), before)


def test_a_write_leaves_its_candidate_list_and_the_other_process_takes_it(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    a, b, _ = two
    small = ListSizes(text=2, tags=1, offers=1, per_target=1)  # lists shorter than the home
    a.live().context.sizes = b.live().context.sizes = small
    a.upsert_organisations([drone_cluster()])
    model, dim = a.encoder.model_id, a.encoder.dimension
    listed = a.store.stored_vectors(["CL-DRONE-PL"], model=model, dimension=dim)["CL-DRONE-PL"]
    assert listed.candidates and "CL-DRONE-PL" not in listed.candidates

    def served_list() -> set[str]:
        b.recommend("CL-DRONE-PL", k=3)  # b applies what was logged since
        ctx = b.live().context
        row = ctx.profiles.index["CL-DRONE-PL"]
        return {ctx.profiles.ids[r] for r in ctx.lists.row(row).tolist()}

    assert served_list() == set(listed.candidates)
    # Searched source by source on two threads, the same list as searched in one go.
    ctx = a.live().context
    p, row = ctx.profiles, ctx.profiles.index["CL-DRONE-PL"]
    vectors = {f: p.vectors(f, np.array([row])) for f in FIELDS}
    targets = [list(RowValues.of(drone_cluster()).targets)]
    (rows,) = lists_for(p, vectors, targets, small, exclude=[row])
    assert [p.ids[r] for r in rows.tolist()] == list(listed.candidates)
    # A bulk write (no list left with it) that adds a target market where the list has no
    # one: the stored list is older than the change, so b searches again and finds them.
    others = a.store.get_organisations(set(a.store.organisation_ids()) - set(listed.candidates))
    outside = next(o for o in others.values() if o.country not in {"PL", None})
    with a.store.transaction():
        a.store.write_organisations([drone_cluster(target_countries=[outside.country])])
    assert outside.id in served_list()


def test_activity_follows_its_window_exactly_as_a_recount(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    a, b, _ = two
    graph = b.live().context.graph
    start = graph.as_of
    ids_ = sorted(a.store.organisation_ids())

    def recount() -> dict[str, float]:
        since = graph.as_of - dt.timedelta(days=ACTIVITY_DAYS)
        counts = a.store.activity_of(ids_, since, graph.as_of)  # one organisation at a time
        return {org: float(counts.get(org, 0)) for org in ids_}

    def served() -> dict[str, float]:
        b.recommend(ids_[0], k=1)  # b applies what was logged since
        p = b.live().context.profiles
        return {org: float(p.activity[p.index[org]]) for org in ids_}

    assert served() == recount()
    before = served()
    live, real = b.live(), b.store.activity_shift
    held: list[bool] = []

    def recording(*args: Any) -> dict[str, int]:  # is the lock rankings wait for held?
        def probe() -> None:
            got = live.lock.acquire(timeout=0)
            held.append(not got)
            if got:
                live.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return real(*args)

    b.store.activity_shift = recording  # type: ignore[method-assign]
    # A year and more later (old collaborations leave the window), and in the same write
    # one dated inside the new window, and one deleted.
    later = start + dt.timedelta(days=400)
    a.add_collaborations(
        [
            Collaboration(organisation_a=ids_[1], organisation_b=ids_[2], date=later),
            Collaboration(
                organisation_a=ids_[3], organisation_b=ids_[4], date=start - dt.timedelta(days=5)
            ),
        ]
    )
    after = served()
    assert graph.as_of == later
    assert held == [False]  # read once, before the rankings' lock was taken
    assert after == recount()
    assert any(after[o] < before[o] for o in ids_)  # the window moved: some counts fell
    old = next(c for c in a.store.collaborations() if c.date > start - dt.timedelta(days=300))
    assert a.remove_collaboration(old)
    assert served() == recount()


def test_requests_arriving_together_read_the_window_move_once(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    """Every request after a write catches up; the window's move is read by one of them."""
    a, b, _ = two
    live = b.live()
    graph = live.context.graph
    ids_ = sorted(a.store.organisation_ids())
    real = b.store.activity_shift
    calls: list[int] = []

    def slow(*args: Any) -> dict[str, int]:  # long enough for the others to arrive
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return real(*args)

    b.store.activity_shift = slow  # type: ignore[method-assign]
    later = graph.as_of + dt.timedelta(days=150)
    a.add_collaborations(
        [Collaboration(organisation_a=ids_[1], organisation_b=ids_[2], date=later)]
    )
    together = threading.Barrier(4)
    failed: list[BaseException] = []

    def request() -> None:
        try:
            together.wait()
            with live.reading():
                pass
        except BaseException as exc:  # reported below
            failed.append(exc)

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed
    assert len(calls) == 1
    assert graph.as_of == later
    since = later - dt.timedelta(days=ACTIVITY_DAYS)
    counts = a.store.activity_of(ids_, since, later)
    p = live.context.profiles
    assert {o: float(p.activity[p.index[o]]) for o in ids_} == {
        o: float(counts.get(o, 0)) for o in ids_
    }


def test_collaborations_deletes_and_feedback_reach_the_other_process(
    two: tuple[Matcher, Matcher, CountingEncoder],
) -> None:
    a, b, _ = two
    before = ids(b.recommend("CL-AGRI-DK", k=9))
    target = before[0]
    a.add_collaborations(
        [
            Collaboration(
                organisation_a="CL-AGRI-DK", organisation_b=target, date=dt.date(2026, 6, 1)
            )
        ]
    )
    got = b.recommend("CL-AGRI-DK", k=9)
    assert target not in ids(got)  # now a partner: left out, and counted
    assert got.left_out.partners == b.recommend("CL-AGRI-DK", k=1).left_out.partners
    a.record_feedback(before[1], "CL-AGRI-DK", FeedbackKind.BLOCKED)
    assert before[1] not in ids(b.recommend("CL-AGRI-DK", k=9))
    assert b.recommend("CL-AGRI-DK", k=9).left_out.blocked == 1
    a.remove_organisation(before[2])
    assert before[2] not in ids(b.recommend("CL-AGRI-DK", k=9))
    with pytest.raises(UnknownOrganisationError):
        b.recommend(before[2])


def test_a_restarted_process_serves_exactly_what_a_fresh_build_serves(
    home: Path, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    with Matcher(Settings(home=home), encoder=encoder) as m:
        m.live()
        m.upsert_organisations([drone_cluster(), drone_cluster("CL-DRONE-CZ", country="CZ")])
        changed = m.organisation("CL-AGRI-ES").model_copy(
            update={"description": "Drone parcels for cold-chain fresh food, temperature boxes."}
        )
        m.upsert_organisations([changed])
        m.add_collaborations(
            [
                Collaboration(
                    organisation_a="CL-DRONE-PL",
                    organisation_b="CL-AGRI-DK",
                    date=dt.date(2026, 5, 1),
                )
            ]
        )
    with Matcher(Settings(home=home), encoder=encoder) as restarted:
        served = {o: restarted.recommend(o, k=8) for o in restarted.store.organisation_ids()}
        assert (
            restarted.live().context.profiles.alive.sum() == restarted.store.count_organisations()
        )
    fresh_home = tmp_path / "fresh"
    shutil.copytree(home, fresh_home, symlinks=True)
    with Matcher(Settings(home=fresh_home), encoder=encoder) as fresh:
        report = fresh.build()
        assert not report.up_to_date
        for org_id, got in served.items():
            want = fresh.recommend(org_id, k=8)
            assert ids(got) == ids(want), org_id
            assert [s.score for s in got] == pytest.approx([s.score for s in want], abs=1e-5)


def test_a_serving_process_compiles_the_medians_before_its_first_list(home: Path) -> None:
    """The reasons' compiled medians are ready once the state is loaded (not in a request)."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from matcher.app.matcher import Matcher\n"
        "from matcher.app.settings import Settings\n"
        "from matcher.ranking.scorer import _medians\n"
        "with Matcher(Settings(home=Path(sys.argv[1]))) as m:\n"
        "    assert not _medians.signatures\n"
        "    m.live()\n"
        "    print(len(_medians.signatures))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(home)],
        capture_output=True, text=True, timeout=300, check=False,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 1
