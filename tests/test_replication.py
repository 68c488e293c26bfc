"""The change feed (issue 17): a copy of a store that follows the writer's feed page by page
ends equal to the writer's store, table by table, whatever the writes and page sizes."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from matcher.domain.schema import Collaboration, Organisation, Participation, Project
from matcher.domain.vocab import FeedbackKind
from matcher.store import Store
from matcher.store.replication import FeedError, FeedGoneError

TABLES = (
    "organisations",
    "collaborations",
    "feedback",
    "projects",
    "participations",
    "organisation_vectors",
    "changes",
    "plans",
)


def org(i: str, rng: random.Random) -> Organisation:
    return Organisation.model_validate(
        {
            "id": i,
            "name": f"Org {i} v{rng.randrange(1000)}",
            "kind": rng.choice(["cluster", "sme"]),
            "country": rng.choice(["FR", "DE", "PL"]),
            "description": f"work {rng.randrange(50)}",
            "keywords": rng.sample(["ai", "food", "yarn", "steel", "space"], 2),
        }
    )


def copy(store: Store, target: Path) -> Store:
    with sqlite3.connect(target) as dst:
        store._db.backup(dst)
    return Store(target)


def catch_up(follower: Store, writer: Store, limit: int) -> int:
    pages = 0
    while True:
        page = writer.feed(follower.sequence(), limit=limit, plans_mark=follower.plans_mark())
        if not follower.follow(page):
            return pages
        pages += 1


def same(a: Store, b: Store) -> None:
    for table in TABLES:
        assert a.table_rows(table) == b.table_rows(table), table
    assert a.sequence() == b.sequence()


def random_write(store: Store, rng: random.Random, n: int) -> None:
    ids = store.organisation_ids()
    action = rng.random()
    if action < 0.3 or len(ids) < 3:
        o = org(rng.choice([f"O{k}" for k in range(12)]), rng)
        store.write_organisations([o])
        if rng.random() < 0.5:
            with store.transaction():
                store.put_vectors(
                    o.id,
                    "model",
                    [bytes([n % 256]) * 16],
                    np.full((1, 4), n, np.float32),
                    [rng.choice(ids)] if ids else None,
                )
    elif action < 0.5:
        a, b = sorted(rng.sample(ids, 2))
        store.upsert_collaborations(
            [Collaboration(organisation_a=a, organisation_b=b, date=dt.date(2024, 1, 1 + n % 28))]
        )
    elif action < 0.6:
        ties = list(store.collaborations())
        if ties:
            store.delete_collaboration(rng.choice(ties))
    elif action < 0.7:
        a, b = rng.sample(ids, 2)
        kind = rng.choice(list(FeedbackKind))
        store.add_feedback(a, b, kind, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    elif action < 0.8:
        store.delete_organisation(rng.choice(ids))
    elif action < 0.9:
        project = Project(id=f"P{rng.randrange(5)}", title=f"title {n}")
        store.upsert_projects([project])
        store.upsert_participations(
            [Participation(project_id=project.id, organisation_id=rng.choice(ids), role="x")]
        )
    else:
        saved = store.save_plan(f"plan-{rng.randrange(3)}", {"n": n})
        if rng.random() < 0.5:
            store.publish_plan(saved.name, saved.version)


@pytest.mark.parametrize("seed", range(6))
def test_a_copy_following_the_feed_ends_equal_to_the_writer(tmp_path: Path, seed: int) -> None:
    """Writes of every kind (profiles with and without kept vectors, deletions and
    re-creations, ties, feedback, projects, plans), a copy taken midway, pages of random
    sizes applied at random moments: at the end every table is equal, and the sequence."""
    rng = random.Random(seed)
    writer = Store(tmp_path / "writer.sqlite")
    for n in range(20):
        random_write(writer, rng, n)
    follower = copy(writer, tmp_path / "follower.sqlite")
    for n in range(20, 200):
        random_write(writer, rng, n)
        if rng.random() < 0.2:
            catch_up(follower, writer, rng.choice([1, 2, 3, 7, 50]))
    assert catch_up(follower, writer, rng.choice([1, 3, 500])) >= 0
    same(follower, writer)
    assert follower.count_organisations() == writer.count_organisations()


def test_a_page_from_elsewhere_or_another_schema_is_refused_whole(tmp_path: Path) -> None:
    rng = random.Random(0)
    writer = Store(tmp_path / "writer.sqlite")
    for n in range(10):
        random_write(writer, rng, n)
    follower = copy(writer, tmp_path / "follower.sqlite")
    random_write(writer, rng, 11)
    page = writer.feed(follower.sequence() - 1)  # starts before the copy's sequence
    before = [follower.table_rows(t) for t in TABLES]
    with pytest.raises(FeedError, match="does not follow this copy"):
        follower.follow(page)
    with pytest.raises(FeedError, match="schema version"):
        follower.follow(writer.feed(follower.sequence()) | {"schema": 0})
    page = writer.feed(follower.sequence())
    page["tables"]["sqlite_master"] = {"columns": ["x"], "rows": [["y"]]}
    with pytest.raises(FeedError, match=r"does not follow: .*sqlite_master"):
        follower.follow(page)
    assert [follower.table_rows(t) for t in TABLES] == before
    with pytest.raises(FeedError, match="ahead of this store"):
        writer.feed(writer.sequence() + 5)


def test_a_follower_behind_the_pruned_log_is_told_to_copy_again(tmp_path: Path) -> None:
    rng = random.Random(1)
    writer = Store(tmp_path / "writer.sqlite")
    for n in range(10):
        random_write(writer, rng, n)
    behind = writer.sequence() - 3
    writer.prune_changes(writer.sequence() - 1)
    with pytest.raises(FeedGoneError, match="copy the writer's home again"):
        writer.feed(behind)
    assert writer.feed(writer.sequence() - 1)["changes"]  # from the log's start: fine


def test_a_follower_refuses_every_write_and_writes_nothing(tmp_path: Path) -> None:
    """``MATCHER_FOLLOW`` set: the facade's writes (the service's and the CLI's) are refused."""
    from matcher.app.matcher import Matcher
    from matcher.app.settings import Settings
    from matcher.domain.errors import ReadOnlyError

    rng = random.Random(2)
    settings = Settings(home=tmp_path / "home", follow="http://writer:8000")
    with Matcher(settings) as follower:
        a = org("A", rng)
        for write in (
            lambda: follower.upsert_organisations([a]),
            lambda: follower.remove_organisation("A"),
            lambda: follower.add_collaborations(
                [Collaboration(organisation_a="A", organisation_b="B", date=dt.date(2024, 1, 1))]
            ),
            lambda: follower.record_feedback("A", "B", FeedbackKind.NOT_INTERESTED),
            lambda: follower.import_platform(organisations=tmp_path / "none.csv"),
        ):
            with pytest.raises(ReadOnlyError, match="send them to the writer"):
                write()
        assert follower.store.sequence() == 0
        assert follower.store.count_organisations() == 0


def test_the_follower_catches_up_waits_when_told_and_reports_a_pruned_log(
    tmp_path: Path,
) -> None:
    """The follower thread against an HTTP front of a real writer store: two 503s with
    Retry-After are waited out without an error, then it catches up to the writer; a 410
    (pruned log) is reported in ``follow.json`` and nothing is applied."""
    import json
    import threading
    import time
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from matcher.app.replication import Follower, follow_status

    rng = random.Random(5)
    writer = Store(tmp_path / "writer.sqlite")
    for n in range(30):
        random_write(writer, rng, n)
    home = tmp_path / "follower"
    home.mkdir()
    copy(writer, home / "matcher.sqlite").close()
    for n in range(30, 90):
        random_write(writer, rng, n)
    answers = ["busy", "busy"]
    asked: list[float] = []

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(time.monotonic())
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            assert self.headers["X-API-Key"] == "k"
            status, headers, body = 200, {}, b""
            kind = answers.pop(0) if answers else "feed"
            if kind == "busy":
                status, headers = 503, {"Retry-After": "0.3"}
            elif kind == "gone":
                status = 410
                body = json.dumps({"error": {"message": "pruned: copy again"}}).encode()
            else:
                page = writer.feed(
                    int(query["after"][0]), limit=7, plans_mark=query.get("plans", [""])[0]
                )
                body = json.dumps(page).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    follower = Follower(home, f"http://127.0.0.1:{server.server_port}", "k", interval=0.05)
    follower.start()
    try:
        deadline = time.monotonic() + 30
        while (follow_status(home) or {}).get("sequence") != writer.sequence():
            assert time.monotonic() < deadline, follow_status(home)
            time.sleep(0.05)
        # Waited as the writer said, not backed off (1 s, then 2 s, on other failures).
        assert 0.3 <= asked[1] - asked[0] < 0.9 and 0.3 <= asked[2] - asked[1] < 0.9
        assert (follow_status(home) or {})["error"] is None
        with Store(home / "matcher.sqlite") as followed:
            same(followed, writer)
        before = writer.sequence()
        answers.append("gone")
        random_write(writer, rng, 99)
        while "pruned: copy again" not in str((follow_status(home) or {}).get("error")):
            assert time.monotonic() < deadline, follow_status(home)
            time.sleep(0.05)
        with Store(home / "matcher.sqlite") as followed:
            assert followed.sequence() == before
    finally:
        follower.stopped.set()
        follower.join(timeout=10)
        server.shutdown()
