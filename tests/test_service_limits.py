"""The service's limits and errors, end to end: a real uvicorn on 127.0.0.1, real HTTP.

Slow senders, per-client limits, input bounds, the consortium-completion pool, error
answers (422 never 500, 507 for a full disk, auth before validation, no paths), the
connection after an error, security headers, and the start-up loader's retries.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr
from test_service import KEY, WRITE, LiveServer, copy_home, error_of, profile, wait_ready

from embeddings import SentenceTransformerEncoder
from matcher.app.settings import Settings
from matcher.domain.errors import BusyError
from service.admission import RankingSlots
from service.errors import ApiError, public_message, unexpected_error
from service.ratelimit import MAX_CLIENTS, TokenBuckets
from service.routes import RecommendQuery, recommend_query
from service.workpool import WorkPool


@pytest.fixture(scope="module")
def home_copy(examples_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_home(examples_home, tmp_path_factory.mktemp("limits") / "home")


@pytest.fixture(scope="module")
def server(home_copy: Path, encoder: SentenceTransformerEncoder) -> Iterator[LiveServer]:
    """A ready server with the default limits but no per-client limit."""
    settings = Settings(home=home_copy, api_key=SecretStr(KEY), anonymous_rate=0)
    with LiveServer(settings, encoder) as live:
        with live.client() as c:
            wait_ready(c)
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def ready_server(settings: Settings, encoder: SentenceTransformerEncoder) -> LiveServer:
    live = LiveServer(settings, encoder).__enter__()
    with live.client() as c:
        wait_ready(c)
    return live


# -- starvation ---------------------------------------------------------------------------


def test_slow_senders_do_not_starve_recommend(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    settings = Settings(
        home=home_copy,
        api_key=SecretStr(KEY),
        anonymous_rate=0,
        body_timeout=8,
        max_in_flight=64,
    )
    live = ready_server(settings, encoder)
    senders: list[socket.socket] = []
    try:
        head = (
            b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        for n in range(64):  # headers and part of a body, no key, then nothing
            s = socket.create_connection(("127.0.0.1", live.port))
            s.sendall(head + b'{"profile": {"id": "SLOW-%d", "name": ' % n)
            senders.append(s)
        time.sleep(0.5)  # every slow request has reached the app
        with live.client() as c:
            params = {"organisation_id": "CL-AGRI-DK", "k": 3}
            keyed = c.get("/recommend", params=params, headers=WRITE)
            assert keyed.status_code == 200, keyed.text
            unkeyed = c.get("/recommend", params=params)
            assert unkeyed.status_code == 200, unkeyed.text
            cold = c.post("/recommend", json={"profile": profile("COLD-S"), "k": 3})
            assert cold.status_code == 200, cold.text
        for s in senders:  # they were still holding on while the others were answered
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
        # past the body deadline each slow sender gets 408 and a closed connection
        for s in senders:
            s.setblocking(True)
            s.settimeout(30)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b'"body_timeout"' in answer
    finally:
        for s in senders:
            s.close()
        live.__exit__()


def test_token_buckets_refill_at_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("b", now=0.0) == 0.0  # one bucket per client
    assert buckets.take("a", now=0.5) == 0.0  # one token back after 1/rate s
    assert buckets.take("a", now=0.5) > 0
    for n in range(MAX_CLIENTS + 10):  # idle clients are forgotten, the count stays bounded
        buckets.take(f"c{n}", now=100.0 + n)
    assert len(buckets) <= MAX_CLIENTS


def test_requests_without_a_key_are_limited_per_client(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    settings = Settings(
        home=home_copy, api_key=SecretStr(KEY), anonymous_rate=0.5, anonymous_burst=3
    )
    live = ready_server(settings, encoder)
    try:
        with live.client() as c:
            path = "/organisations/CL-AGRI-DK"
            assert [c.get(path).status_code for _ in range(3)] == [200, 200, 200]
            limited = c.get(path)
            assert limited.status_code == 429
            assert error_of(limited)["code"] == "rate_limited"
            wait = int(limited.headers["retry-after"])
            assert 1 <= wait <= 2
            assert c.get(path, headers={"X-API-Key": "wrong"}).status_code == 429
            assert c.get(path, headers=WRITE).status_code == 200  # a valid key: no limit
            assert c.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
            assert c.get("/ready").status_code == 200  # operations: never limited
            time.sleep(wait)
            assert c.get(path).status_code == 200
    finally:
        live.__exit__()


# -- bounds -------------------------------------------------------------------------------


def _unbounded(schema: Any, defs: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Places in a JSON schema where a string or an array has no stated maximum."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _unbounded(defs[name], defs, f"{where}({name})", seen | {name})
    found: list[str] = []
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema or "enum" in schema or schema.get("format") in ("date", "date-time")
    ):
        found.append(where)
    if kind == "array" and "maxItems" not in schema:
        found.append(where)
    extra = schema.get("additionalProperties")
    if kind == "object" and extra not in (False, None):
        if "maxProperties" not in schema:
            found.append(f"{where} (open object)")
        elif isinstance(extra, dict):
            found += _unbounded(extra, defs, f"{where}{{}}", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for n, branch in enumerate(schema.get(key, [])):
            found += _unbounded(branch, defs, f"{where}.{key}{n}", seen)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(sub, defs, f"{where}.{name}", seen)
    found += _unbounded(schema.get("items"), defs, f"{where}[]", seen)
    return found


def test_every_request_list_and_string_states_a_maximum(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    defs = spec["components"]["schemas"]
    unbounded: list[str] = []
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method} {path} {parameter['in']}.{parameter['name']}"
                unbounded += _unbounded(parameter["schema"], defs, where, set())
                checked += 1
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                unbounded += _unbounded(media["schema"], defs, f"{method} {path} body", set())
                checked += 1
    assert checked >= 15
    assert unbounded == []
    organisation = defs["OrganisationIn"]["properties"]
    assert organisation["keywords"]["maxItems"] == 50
    assert organisation["keywords"]["items"]["maxLength"] == 100
    assert defs["RecommendRequest"]["properties"]["seed"]["maxItems"] == 50
    assert defs["OrganisationsIn"]["properties"]["organisations"]["maxItems"] == 1000


def test_oversized_lists_are_refused_whole(client: httpx.Client) -> None:
    huge = profile("HUGE-KW", keywords=[f"kw{n}" for n in range(150_000)])
    put = client.put("/organisations/HUGE-KW", json=huge, headers=WRITE)
    assert put.status_code == 422, put.text[:300]
    assert error_of(put)["field"] == "body.keywords"
    assert client.get("/organisations/HUGE-KW").status_code == 404
    many = profile("MANY-KW", keywords=[f"keyword {n}" for n in range(8_000)])
    cold = client.post("/recommend", json={"profile": many})
    assert cold.status_code == 422
    assert error_of(cold)["field"] == "body.profile.keywords"


# -- errors -------------------------------------------------------------------------------


def test_schema_violations_are_422_never_500(client: httpx.Client) -> None:
    before = client.get("/organisations/CL-AGRI-DK").json()
    org = "CL-AGRI-DK"
    tie = {"organisation_a": "CL-AGRI-DK", "organisation_b": "CL-AGRI-ES", "date": "2026-01-01"}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("PUT", f"/organisations/{org}", before | {"region": 12}, "body.region"),
        ("PUT", f"/organisations/{org}", before | {"region": ["DE"]}, "body.region"),
        ("PUT", f"/organisations/{org}", before | {"size": 2**63}, "body.size"),
        ("PUT", f"/organisations/{org}", before | {"size": 2**64 + 1}, "body.size"),
        ("PUT", f"/organisations/{org}", before | {"size": True}, "body.size"),
        ("PUT", f"/organisations/{org}", before | {"size": "12"}, "body.size"),
        ("PUT", f"/organisations/{org}", before | {"updated_at": 0}, "body.updated_at"),
        ("POST", "/recommend", {"profile": profile("R-1", region=12)}, "body.profile.region"),
        ("POST", "/recommend", {"profile": profile("R-2"), "k": True}, "body.k"),
        ("POST", "/recommend", {"profile": profile("R-3"), "k": "5"}, "body.k"),
        ("POST", "/recommend", {"profile": profile("R-4"), "explain": 1}, "body.explain"),
        ("POST", "/recommend", {"profile": None, "seed": ["CL-AGRI-ES"]}, "body.profile"),
        ("POST", "/collaborations", {"collaborations": [tie | {"date": 0}]}, "date"),
        ("POST", "/collaborations", {"collaborations": [tie | {"weight": True}]}, "weight"),
    ]
    for method, path, body, field in cases:
        r = client.request(method, path, json=body, headers=WRITE)
        assert r.status_code == 422, (body, r.status_code, r.text[:300])
        assert error_of(r)["field"].endswith(field), (field, r.text[:300])
    k = client.get("/recommend", params={"organisation_id": org, "k": "true"})
    assert k.status_code == 422
    assert error_of(k)["field"] == "query.k"
    garbage = client.put(
        f"/organisations/{org}",
        content=b"\xff\xfe{not json",
        headers=WRITE | {"content-type": "application/json"},
    )
    assert garbage.status_code == 422  # FastAPI alone says 400
    assert error_of(garbage)["field"] == "body"
    text = client.put(
        f"/organisations/{org}",
        content=json.dumps(before),
        headers=WRITE | {"content-type": "text/plain"},
    )
    assert text.status_code == 422
    assert "Content-Type: application/json" in error_of(text)["message"]
    assert client.get(f"/organisations/{org}").json() == before


def test_the_key_is_checked_before_the_body(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    settings = Settings(
        home=home_copy, api_key=SecretStr(KEY), anonymous_rate=0, read_key_required=True
    )
    live = ready_server(settings, encoder)
    json_type = {"content-type": "application/json"}
    try:
        with live.client() as c:
            for path, method in [
                ("/organisations/CL-AGRI-DK", "PUT"),
                ("/feedback", "POST"),
                ("/recommend", "POST"),  # a read, with the read key required
            ]:
                for content in (b'{"kind": "lo', b"\xff\xfe"):
                    none = c.request(method, path, content=content, headers=json_type)
                    assert none.status_code == 401, (path, none.text)
                    assert error_of(none)["code"] == "missing_api_key"
                    wrong = c.request(
                        method, path, content=content, headers=json_type | {"X-API-Key": "x"}
                    )
                    assert wrong.status_code == 403, (path, wrong.text)
                    keyed = c.request(method, path, content=content, headers=json_type | WRITE)
                    assert keyed.status_code == 422, (path, keyed.text)
            bad_query = c.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 0})
            assert bad_query.status_code == 401
    finally:
        live.__exit__()


@contextmanager
def serving_with(
    home: Path, encoder: SentenceTransformerEncoder, path: str, handler: Callable[[], None]
) -> Iterator[LiveServer]:
    """The real server over ``home`` with one more route, ready."""
    settings = Settings(home=home, api_key=SecretStr(KEY), anonymous_rate=0)
    live = LiveServer(settings, encoder)
    app: Any = live.server.config.app
    app.add_api_route(path, handler)
    live.__enter__()
    try:
        with live.client() as c:
            wait_ready(c)
        yield live
    finally:
        live.__exit__()


def test_errors_leave_the_connection_open(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    def fault() -> None:  # an unexpected failure inside a handler
        raise RuntimeError("something nobody planned for")

    with serving_with(home_copy, encoder, "/test-fault", fault) as live:
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        conn.request("GET", "/health")
        assert conn.getresponse().read() == b'{"status":"ok"}'
        sock = conn.sock
        for path, status in [
            ("/test-fault", 500),
            ("/organisations/NOPE-1", 404),
            ("/recommend?k=0", 422),
            ("/test-fault", 500),
        ]:
            conn.request("GET", path)
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == status, body
            if status == 500:
                assert body["error"]["code"] == "internal_error"
                assert "nobody planned" not in json.dumps(body)
            conn.request("GET", "/health")  # the same connection, right after the error
            assert conn.getresponse().read() == b'{"status":"ok"}'
            assert conn.sock is sock, "the server closed the connection"
        conn.close()


def test_an_overloaded_answer_closes_its_connection(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    # A keep-alive connection stays with the worker that accepted it: a refused client's
    # retry on a new connection may be taken by a less busy worker.
    def busy() -> None:  # what a profile write beyond the waiting line raises
        raise BusyError("two profile writes wait already; retry shortly")

    with serving_with(home_copy, encoder, "/test-busy", busy) as live:
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        conn.request("GET", "/test-busy")
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 503 and body["error"]["code"] == "overloaded"
        assert response.getheader("Retry-After") == "1"
        assert response.getheader("Connection") == "close" and response.will_close
        assert conn.sock is None  # http.client let go of it, as the header says
        conn.request("GET", "/health")  # a new connection
        assert conn.getresponse().read() == b'{"status":"ok"}'
        conn.close()
        raw = socket.create_connection(("127.0.0.1", live.port), timeout=30)
        raw.sendall(b"GET /test-busy HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):  # ends: the server closed the connection
            received += chunk
        assert received.startswith(b"HTTP/1.1 503") and b"overloaded" in received
        raw.close()


def _full_sqlite_error(tmp_path: Path) -> sqlite3.OperationalError:
    db = sqlite3.connect(tmp_path / "small.sqlite")
    db.execute("CREATE TABLE t (x TEXT)")
    db.execute("PRAGMA max_page_count = 3")
    try:
        for _ in range(100):
            db.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("the database never filled up")


def test_unexpected_errors_are_named_by_cause(tmp_path: Path) -> None:
    def answer(exc: BaseException) -> tuple[int, str]:
        response = unexpected_error(exc)
        return response.status_code, json.loads(bytes(response.body))["error"]["code"]

    full = _full_sqlite_error(tmp_path)
    assert "full" in str(full)
    assert answer(full) == (507, "disk_full")
    try:
        try:
            raise full
        except sqlite3.OperationalError as inner:
            raise RuntimeError("the write failed") from inner
    except RuntimeError as wrapped:
        assert answer(wrapped) == (507, "disk_full")  # found through the cause
    with pytest.raises(OSError) as no_space, Path("/dev/full").open("wb") as f:
        f.write(b"x" * 100_000)
        f.flush()
    assert no_space.value.errno == errno.ENOSPC
    assert answer(no_space.value) == (507, "disk_full")
    path = tmp_path / "small.sqlite"
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        read_only.execute("INSERT INTO t VALUES ('y')")
    read_only.close()
    assert answer(refused.value) == (503, "store_read_only")
    assert answer(ValueError("x")) == (500, "internal_error")


def test_messages_carry_no_paths(tmp_path: Path) -> None:
    home = tmp_path / "somewhere" / "home"
    with LiveServer(Settings(home=home, api_key=SecretStr(KEY)), None) as live, live.client() as c:
        for path in ("/ready", "/recommend?organisation_id=CL-AGRI-DK"):
            r = c.get(path)
            assert r.status_code == 503
            message = error_of(r)["message"]
            assert "matcher build" in message
            assert str(tmp_path) not in r.text
            assert not re.search(r"/[\w.-]+/", message), message
    assert public_message(f"no index under {tmp_path}/home: run it") == (
        "no index under <path>: run it"
    )
    assert public_message("see https://example.org/a/b and 1/2") == (
        "see https://example.org/a/b and 1/2"
    )


def _mount_tmpfs(where: Path, size: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_a_full_disk_is_507_and_the_connection_stays_usable(
    examples_home: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    used = sum(f.stat().st_size for f in examples_home.rglob("*") if f.is_file())
    disk = tmp_path / "disk"
    if shutil.which("mount") is None or not _mount_tmpfs(disk, used + 4_000_000):
        pytest.skip("needs a small tmpfs (root and mount) to fill a real disk")
    live: LiveServer | None = None
    try:
        home = copy_home(examples_home, disk / "home")
        live = ready_server(Settings(home=home, api_key=SecretStr(KEY)), encoder)
        filler = disk / "filler"
        with filler.open("wb") as f:  # fill the disk to the last byte
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        with live.client() as c:
            conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
            body = json.dumps(profile("DISK-1"))
            headers = WRITE | {"Content-Type": "application/json"}
            conn.request("PUT", "/organisations/DISK-1", body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == 507, answer
            assert answer["error"]["code"] == "disk_full"
            assert str(disk) not in json.dumps(answer)
            sock = conn.sock
            conn.request("GET", "/organisations/DISK-1", headers=WRITE)
            assert conn.getresponse().status == 404  # nothing was written
            assert conn.sock is sock
            conn.close()
            filler.unlink()
            again = c.put("/organisations/DISK-1", json=profile("DISK-1"), headers=WRITE)
            assert again.status_code == 201, again.text
    finally:
        if live is not None:
            live.__exit__()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_trailing_slash_is_not_redirected(client: httpx.Client) -> None:
    r = client.get(
        "/recommend/",
        params={"organisation_id": "CL-AGRI-DK"},
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert "location" not in r.headers
    assert "evil.example" not in r.text


def test_a_wrong_method_lists_every_allowed_one(client: httpx.Client) -> None:
    r = client.request("PATCH", "/collaborations", headers=WRITE)
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, POST"
    assert error_of(r)["code"] == "method_not_allowed"


def test_security_headers_on_every_response(client: httpx.Client) -> None:
    responses = [
        client.get("/health"),
        client.get("/organisations/NOPE-9"),
        client.get("/recommend", params={"k": 0}),
        client.get("/openapi.json"),
        client.get("/metrics"),
    ]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    page = client.get("/tables")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    sources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page.text)
    assert sources and all(src.startswith("/tables/") for src in sources)  # this origin's
    for script in re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp  # an inline script runs only by its hash
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "http" not in script_src
    assert "connect-src 'self'" in csp
    docs = client.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_the_loader_retries_and_says_why(
    tmp_path: Path, examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the home's folder should be")
    settings = Settings(home=blocker / "home", api_key=SecretStr(KEY))
    with LiveServer(settings, encoder) as live, live.client() as c:
        time.sleep(0.5)
        ready = c.get("/ready")
        assert ready.status_code == 503
        message = error_of(ready)["message"]
        assert "loading failed" in message and "Error" in message, message
        assert str(tmp_path) not in ready.text
        blocker.unlink()  # mend the home: the loader's next try succeeds
        copy_home(examples_home, blocker / "home")
        wait_ready(c, timeout=60)
        assert c.get("/ready").json()["organisations"] >= 10


# -- consortium completion ----------------------------------------------------------------


def test_work_pool_bounds_the_line_and_the_wait() -> None:
    gate = threading.Event()

    async def settled(pool: WorkPool, taken: int) -> None:
        for _ in range(500):
            if pool.taken == taken:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{pool.taken} calls still hold the pool, expected {taken}")

    async def scenario() -> None:
        pool = WorkPool(workers=1, time_limit=0.5, waiting=1)
        running = asyncio.create_task(pool.run(gate.wait))
        queued = asyncio.create_task(pool.run(lambda: 42))
        await settled(pool, 2)
        with pytest.raises(ApiError) as busy:
            await pool.run(lambda: 1)
        assert (busy.value.status, busy.value.code) == (503, "busy")
        for task in (running, queued):
            with pytest.raises(ApiError) as late:
                await task
            assert (late.value.status, late.value.code) == (503, "time_limit")
        await settled(pool, 1)  # the waiting call was cancelled; the running one goes on
        gate.set()
        await settled(pool, 0)
        assert await pool.run(lambda: 7) == 7
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        await settled(pool, 0)
        pool.shutdown()

    try:
        asyncio.run(scenario())
    finally:
        gate.set()  # never leave a pool thread blocked (the interpreter waits for it)


@pytest.mark.parametrize(
    "query",
    [
        "organisation_id=CL-AGRI-ES",
        "organisation_id=CL-AGRI-ES&k=3&explain=true",
        "organisation_id=CL-AGRI-ES&k=true",
        "organisation_id=CL-AGRI-ES&k=0&explain=maybe",
        "organisation_id=CL-AGRI-ES&k=1&k=2",
        "organisation_id=A&organisation_id=B",
        "organisation_id=CL-AGRI-ES&countries=DE&countries=FR&exclude_countries=PL",
        "organisation_id=CL-AGRI-ES&countries=XX",
        "organisation_id=CL-AGRI-ES&kinds=cluster&kinds=sme&ecosystems=digital",
        "organisation_id=CL-AGRI-ES&stages=nope&languages=de",
        "organisation_id=CL-AGRI-ES&unknown=1",
        "k=3",
        "",
        "organisation_id=" + "x" * 300,
        "organisation_id=bad%20id",
        "organisation_id=CL-AGRI-ES&"
        + "&".join(f"countries=D{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ],
)
def test_the_direct_recommend_route_reads_its_query_as_fastapi_does(query: str) -> None:
    app = FastAPI()

    @app.get("/fastapi")
    async def by_fastapi(q: Annotated[RecommendQuery, Query()]) -> dict[str, Any]:
        return q.model_dump(mode="json")

    @app.get("/direct")
    async def direct(request: Request) -> dict[str, Any]:
        return recommend_query(request).model_dump(mode="json")

    with TestClient(app) as c:
        theirs, ours = c.get(f"/fastapi?{query}"), c.get(f"/direct?{query}")
    assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json())


def test_a_ranking_that_would_wait_past_the_budget_is_refused_at_once() -> None:
    async def scenario() -> None:
        slots = RankingSlots(slots=1, budget=0.05, hold=0.03)
        gate = asyncio.Event()
        order: list[str] = []

        async def ranking(name: str) -> None:
            async with slots.slot():
                order.append(name)
                await gate.wait()

        first = asyncio.create_task(ranking("first"))
        await asyncio.sleep(0)
        assert slots.running == 1 and slots.expected_wait() == pytest.approx(0.03)
        second = asyncio.create_task(ranking("second"))  # one ahead: 30 ms expected, waits
        await asyncio.sleep(0)
        assert slots.waiting == 1 and slots.expected_wait() == pytest.approx(0.06)
        started = time.perf_counter()
        with pytest.raises(ApiError) as refused:  # two ahead: 60 ms > 50: refused at once
            await ranking("third")
        assert time.perf_counter() - started < 0.01
        assert (refused.value.status, refused.value.code) == (503, "overloaded")
        assert refused.value.headers == {"Retry-After": "1", "Connection": "close"}
        gate.set()
        await asyncio.gather(first, second)
        assert order == ["first", "second"] and slots.refused == 1
        assert (slots.running, slots.waiting) == (0, 0)
        assert slots.expected_wait() == 0.0

        blocker = asyncio.create_task(ranking("blocker"))  # it keeps its slot a while
        gate.clear()
        await asyncio.sleep(0)
        slots.hold = 0.001  # the estimate says a short wait; the turn does not come in 0.1 s
        started = time.perf_counter()
        with pytest.raises(ApiError) as late:
            await ranking("late")
        assert 0.09 <= time.perf_counter() - started < 0.5
        assert late.value.code == "overloaded" and slots.waiting == 0
        gate.set()
        await blocker
        unbounded = RankingSlots(slots=1, budget=0)
        async with unbounded.slot():
            assert unbounded.expected_wait() > 0  # no budget: nobody is refused

    asyncio.run(scenario())


def test_completion_answers_within_its_time_limit(
    home_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    settings = Settings(
        home=home_copy,
        api_key=SecretStr(KEY),
        anonymous_rate=0,
        completion_time_limit=0.001,
        completion_workers=1,
    )
    live = ready_server(settings, encoder)
    group = {"seed": ["CL-AGRI-ES", "SME-COLD-IT"], "topic": "cold chains", "k": 5}
    try:
        with live.client() as c:
            late = c.post("/recommend", json=group)
            assert late.status_code == 503
            assert error_of(late)["code"] == "time_limit"
            params = {"organisation_id": "CL-AGRI-DK", "k": 3}
            assert c.get("/recommend", params=params).status_code == 200
            cold = c.post("/recommend", json={"profile": profile("COLD-T"), "k": 3})
            assert cold.status_code == 200  # cold start is not in the pool

            def ask(out: list[httpx.Response]) -> None:
                with live.client() as own:
                    out.append(own.post("/recommend", json=group))

            answers: list[httpx.Response] = []
            threads = [threading.Thread(target=ask, args=(answers,)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert len(answers) == 8
            assert {(a.status_code, error_of(a)["code"]) for a in answers} <= {
                (503, "time_limit"),
                (503, "busy"),
            }
        pool: WorkPool = live.server.config.app.state.completions
        deadline = time.monotonic() + 60
        while pool.taken and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.taken == 0  # every computation ended; none is left holding the pool
    finally:
        live.__exit__()


def test_the_service_encodes_on_two_sleeping_threads_unless_told(tmp_path: Path) -> None:
    """Every worker's encoder on every core ran its thread team against the other workers;
    two threads that sleep between calls encode a write's text on two free cores."""
    from fastapi import FastAPI

    from matcher.app.settings import Settings
    from service.app import _Loader

    default = _Loader(FastAPI(), Settings(home=tmp_path), None)._serving_settings()
    told = _Loader(FastAPI(), Settings(home=tmp_path, threads=3), None)._serving_settings()
    assert (default.threads, told.threads) == (min(2, os.cpu_count() or 1), 3)
