"""The HTTP service end to end: a real uvicorn server on 127.0.0.1, spoken to over HTTP.

Servers run in threads of this process (sharing the session's encoder) over copies of the
example home, except the kill -9 test, which starts ``python -m service`` as a process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from embeddings import SentenceTransformerEncoder
from matcher.app.settings import Settings
from service.app import create_app
from service.middleware import InFlightLimitMiddleware

REPO = Path(__file__).resolve().parent.parent
KEY = "test-key-0123456789"
WRITE = {"X-API-Key": KEY}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(client: httpx.Client, timeout: float = 120.0, path: str = "/ready") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server not answering 200 on {path} within {timeout} s")


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread, on a free port."""

    def __init__(self, settings: Settings, encoder: SentenceTransformerEncoder | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, encoder=encoder),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            log_level="info",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        with httpx.Client(base_url=self.url) as c:
            wait_ready(c, path="/health")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def copy_home(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="module")
def server(
    examples_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    encoder: SentenceTransformerEncoder,
) -> Iterator[LiveServer]:
    home = copy_home(examples_home, tmp_path_factory.mktemp("service") / "home")
    # no per-client limit here: these tests make many requests without a key in a row
    settings = Settings(home=home, api_key=SecretStr(KEY), max_body_bytes=200_000, anonymous_rate=0)
    with LiveServer(settings, encoder) as live:
        with live.client() as c:
            wait_ready(c)
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "field", "problems"}
    assert error["message"]
    return error


def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["organisation"]["id"] for s in response.json()["suggestions"]]


def profile(org_id: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": org_id,
        "name": f"Test organisation {org_id}",
        "kind": "sme",
        "country": "DE",
        "description": f"Precision agriculture sensors and farm data services ({org_id}).",
        "ecosystems": ["agri_food", "digital"],
        "offers": "soil moisture sensors",
        "seeks": "farmers' cooperatives for pilots",
    }
    return data | extra


# -- operations ---------------------------------------------------------------------------


def test_health_ready_and_metrics(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    body = ready.json()
    assert body["organisations"] == body["store_organisations"] >= 10
    assert body["sequence"] >= body["snapshot_sequence"]
    assert gc.get_freeze_count() > 0  # the loaded state is left out of garbage collections
    client.get("/recommend", params={"organisation_id": "CL-AGRI-DK"})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'matcher_http_requests_total{method="GET",route="/recommend",status="200"}' in text
    assert 'matcher_http_request_duration_seconds_bucket{le="0.05",method="GET"' in text
    size = next(line for line in text.splitlines() if line.startswith("matcher_index_size "))
    assert float(size.split()[1]) == client.get("/ready").json()["organisations"]
    rebuilt = next(
        line for line in text.splitlines() if line.startswith("matcher_last_rebuild_timestamp")
    )
    assert float(rebuilt.split()[1]) > 1.7e9
    assert "matcher_ready 1.0" in text


def test_openapi_documents_every_endpoint_with_examples(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/recommend",
        "/organisations/{organisation_id}",
        "/organisations:batch",
        "/collaborations",
        "/feedback",
        "/health",
        "/ready",
        "/metrics",
    }
    assert set(paths["/recommend"]) == {"get", "post"}
    assert set(paths["/organisations/{organisation_id}"]) == {"get", "put", "delete"}
    assert set(paths["/collaborations"]) == {"post", "delete"}
    schemas = spec["components"]["schemas"]
    assert schemas["RecommendRequest"]["examples"]
    assert schemas["OrganisationsIn"]["examples"]
    assert paths["/recommend"]["get"]["responses"]["404"]["content"]["application/json"]["example"]
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}


# -- reads --------------------------------------------------------------------------------


def test_recommend_with_and_without_reasons(client: httpx.Client) -> None:
    plain = client.get("/recommend", params={"organisation_id": "CL-AERO-FR", "k": 3})
    assert plain.status_code == 200
    body = plain.json()
    assert body["organisation_id"] == "CL-AERO-FR"
    assert [s["rank"] for s in body["suggestions"]] == [1, 2, 3]
    assert all(s["reasons"] == [] for s in body["suggestions"])
    explained = client.get(
        "/recommend", params={"organisation_id": "CL-AERO-FR", "k": 3, "explain": "true"}
    ).json()
    reasons = [r for s in explained["suggestions"] for r in s["reasons"]]
    assert reasons  # reasons are shown only when true: some suggestion has one here
    assert all({"signal", "contribution", "text"} == set(r) for r in reasons)
    assert body["left_out"] == {"partners": 1, "blocked": 0, "not_interested": 0, "filtered": 0}
    scores = [s["score"] for s in body["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    assert ids_of(plain) == [s["organisation"]["id"] for s in explained["suggestions"]]


def test_recommend_filters(client: httpx.Client) -> None:
    everyone = ids_of(client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 50}))
    assert len(everyone) >= 5
    only = client.get(
        "/recommend",
        params=[("organisation_id", "CL-AGRI-DK"), ("k", "50"), ("kinds", "sme")],
    )
    kinds = {s["organisation"]["kind"] for s in only.json()["suggestions"]}
    assert kinds == {"sme"}
    countries = client.get(
        "/recommend",
        params=[("organisation_id", "CL-AGRI-DK"), ("countries", "DE"), ("countries", "fr")],
    ).json()["suggestions"]
    assert countries
    assert {s["organisation"]["country"] for s in countries} <= {"DE", "FR"}


def test_recommend_refusals_name_the_field(client: httpx.Client) -> None:
    unknown = client.get("/recommend", params={"organisation_id": "NOPE-1"})
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "unknown_organisation"
    for k in (0, 101):
        bad = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": k})
        assert bad.status_code == 422
        assert error_of(bad)["field"] == "query.k"
    kind = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "kinds": "robot"})
    assert kind.status_code == 422
    assert error_of(kind)["field"] == "query.kinds.0"
    missing = client.get("/recommend")
    assert error_of(missing)["field"] == "query.organisation_id"
    extra = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "email": "x"})
    assert extra.status_code == 422


def test_cold_start_and_consortium_completion(client: httpx.Client) -> None:
    cold = client.post("/recommend", json={"profile": profile("COLD-1"), "k": 3, "explain": True})
    assert cold.status_code == 200, cold.text
    assert cold.json()["mode"] == "profile"
    assert len(cold.json()["suggestions"]) == 3
    assert "COLD-1" not in ids_of(cold)
    assert client.get("/organisations/COLD-1").status_code == 404  # nothing stored
    group = client.post(
        "/recommend",
        json={"seed": ["CL-AGRI-ES", "SME-COLD-IT"], "topic": "food loss", "k": 4, "explain": True},
    )
    assert group.status_code == 200, group.text
    assert group.json()["mode"] == "consortium"
    assert not {"CL-AGRI-ES", "SME-COLD-IT"} & set(ids_of(group))
    signals = {r["signal"] for s in group.json()["suggestions"] for r in s["reasons"]}
    assert signals & {"new_country", "new_kind", "new_stage"}  # the gaps each one fills
    both = client.post("/recommend", json={"profile": profile("X-1"), "seed": ["CL-AGRI-ES"]})
    assert both.status_code == 422
    assert error_of(both)["field"] == "body"
    neither = client.post("/recommend", json={"k": 3})
    assert neither.status_code == 422
    unknown = client.post("/recommend", json={"seed": ["NOPE-2"]})
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "unknown_organisation"
    bad = client.post("/recommend", json={"profile": profile("X-2", email="a@b.eu")})
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "body.profile.email"


def test_get_organisation(client: httpx.Client) -> None:
    org = client.get("/organisations/CL-AGRI-DK")
    assert org.status_code == 200
    assert org.json()["id"] == "CL-AGRI-DK"
    assert not {"email", "phone", "contact"} & set(org.json())
    assert client.get("/organisations/NOPE-3").status_code == 404
    bad = client.get("/organisations/-bad-")
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "path.organisation_id"


# -- auth ---------------------------------------------------------------------------------


def test_writes_without_or_with_a_wrong_key_are_refused_and_change_nothing(
    client: httpx.Client,
) -> None:
    before = client.get("/organisations/CL-AGRI-DK").json()
    changed = before | {"name": "Hijacked"}
    attempts: list[tuple[dict[str, str], int, str]] = [
        ({}, 401, "missing_api_key"),
        ({"X-API-Key": "wrong"}, 403, "wrong_api_key"),
        ({"Authorization": "Bearer wrong"}, 403, "wrong_api_key"),
        ({"X-API-Key": KEY[:-1]}, 403, "wrong_api_key"),
    ]
    for headers, status, code in attempts:
        writes = [
            client.put("/organisations/CL-AGRI-DK", json=changed, headers=headers),
            client.delete("/organisations/CL-AGRI-DK", headers=headers),
            client.post("/organisations:batch", json={"organisations": [changed]}, headers=headers),
            client.post(
                "/feedback",
                json={"organisation_id": "CL-AGRI-DK", "other_id": "CL-TEXT-PT", "kind": "met"},
                headers=headers,
            ),
            client.post(
                "/collaborations",
                json={
                    "collaborations": [
                        {
                            "organisation_a": "CL-AGRI-DK",
                            "organisation_b": "CL-TEXT-PT",
                            "date": "2026-01-01",
                        }
                    ]
                },
                headers=headers,
            ),
            client.delete(
                "/collaborations",
                params={
                    "organisation_a": "CL-AGRI-DK",
                    "organisation_b": "CL-AGRI-ES",
                    "date": "2020-01-01",
                },
                headers=headers,
            ),
        ]
        for response in writes:
            assert response.status_code == status, (headers, response.text)
            assert error_of(response)["code"] == code
        if status == 401:
            assert writes[0].headers["www-authenticate"] == "Bearer"
    assert client.get("/organisations/CL-AGRI-DK").json() == before
    partners = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 50})
    assert "CL-TEXT-PT" in ids_of(partners)  # no collaboration, no feedback was written


def test_the_key_is_never_logged(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    written = client.post(
        "/feedback",
        json={"organisation_id": "SME-SORT-FI", "other_id": "CL-TEXT-PT", "kind": "met"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert written.status_code == 201
    marker = "body-text-never-logged"
    put = client.put(
        "/organisations/LOG-1", json=profile("LOG-1", description=marker), headers=WRITE
    )
    assert put.status_code == 201
    client.get("/organisations/CL-AGRI-DK", headers={"X-API-Key": KEY + "x"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /feedback" in logged  # the access log was captured
    assert KEY not in logged
    assert marker not in logged


# -- writes -------------------------------------------------------------------------------


def test_put_get_and_delete_an_organisation(client: httpx.Client) -> None:
    created = client.put("/organisations/NEW-AGRI-1", json=profile("NEW-AGRI-1"), headers=WRITE)
    assert created.status_code == 201, created.text
    assert created.json()["created"] is True
    assert client.get("/organisations/NEW-AGRI-1").json()["name"] == "Test organisation NEW-AGRI-1"
    # the next read sees it in suggestions, both as query and as candidate
    own = client.get("/recommend", params={"organisation_id": "NEW-AGRI-1", "k": 3})
    assert len(ids_of(own)) == 3
    others = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 50})
    assert "NEW-AGRI-1" in ids_of(others)
    renamed = profile("NEW-AGRI-1", name="Renamed")
    replaced = client.put("/organisations/NEW-AGRI-1", json=renamed, headers=WRITE)
    assert replaced.status_code == 200
    assert replaced.json()["created"] is False
    assert client.get("/organisations/NEW-AGRI-1").json()["name"] == "Renamed"
    mismatch = client.put("/organisations/NEW-AGRI-2", json=renamed, headers=WRITE)
    assert mismatch.status_code == 409  # well-formed, but contradicts the path
    assert error_of(mismatch)["code"] == "id_mismatch"
    assert error_of(mismatch)["field"] == "body.id"
    assert client.get("/organisations/NEW-AGRI-2").status_code == 404
    personal = profile("NEW-AGRI-3", email="someone@example.eu")
    refused = client.put("/organisations/NEW-AGRI-3", json=personal, headers=WRITE)
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "body.email"
    deleted = client.delete("/organisations/NEW-AGRI-1", headers=WRITE)
    assert deleted.status_code == 204
    assert client.get("/organisations/NEW-AGRI-1").status_code == 404
    after = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 50})
    assert "NEW-AGRI-1" not in ids_of(after)
    again = client.delete("/organisations/NEW-AGRI-1", headers=WRITE)
    assert again.status_code == 404
    assert error_of(again)["code"] == "unknown_organisation"


def test_a_batch_is_all_or_nothing(client: httpx.Client) -> None:
    rows = [profile(f"BATCH-{n}") for n in range(3)]
    bad = [*rows[:1], profile("BATCH-X", country="XX"), *rows[1:]]
    refused = client.post("/organisations:batch", json={"organisations": bad}, headers=WRITE)
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "body.organisations.1.country"
    for row in bad:
        assert client.get(f"/organisations/{row['id']}").status_code == 404
    twice = client.post(
        "/organisations:batch", json={"organisations": [*rows, rows[0]]}, headers=WRITE
    )
    assert twice.status_code == 409
    assert error_of(twice)["code"] == "duplicate_id"
    assert error_of(twice)["field"] == "body.organisations.3.id"
    assert client.get("/organisations/BATCH-0").status_code == 404
    too_many = {
        "organisations": [{"id": f"M-{n}", "name": "m", "kind": "sme"} for n in range(1001)]
    }
    big = client.post("/organisations:batch", json=too_many, headers=WRITE)
    assert big.status_code == 422
    assert error_of(big)["field"] == "body.organisations"
    written = client.post("/organisations:batch", json={"organisations": rows}, headers=WRITE)
    assert written.status_code == 200, written.text
    assert written.json() == {"count": 3, "ids": ["BATCH-0", "BATCH-1", "BATCH-2"]}
    for row in rows:
        assert client.get(f"/organisations/{row['id']}").status_code == 200


def test_collaborations_change_the_next_read(client: httpx.Client) -> None:
    a, b = "CL-HEALTH-NL", "CL-ENERGY-PL"
    assert b in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    tie = {"organisation_a": a, "organisation_b": b, "kind": "agreement", "date": "2026-10-01"}
    added = client.post("/collaborations", json={"collaborations": [tie]}, headers=WRITE)
    assert added.status_code == 201, added.text
    assert added.json() == {"changed": 1}
    # existing partners are left out by default
    assert b not in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    key = {"organisation_a": b, "organisation_b": a, "kind": "agreement", "date": "2026-10-01"}
    removed = client.delete("/collaborations", params=key, headers=WRITE)
    assert removed.status_code == 204
    assert b in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    gone = client.delete("/collaborations", params=key, headers=WRITE)
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "unknown_collaboration"
    dangling = tie | {"organisation_b": "NOPE-4"}
    refused = client.post(
        "/collaborations", json={"collaborations": [tie, dangling]}, headers=WRITE
    )
    assert refused.status_code == 404
    assert error_of(refused)["code"] == "unknown_organisation"
    assert b in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    same = client.delete(
        "/collaborations", params=key | {"organisation_a": a, "organisation_b": a}, headers=WRITE
    )
    assert same.status_code == 404  # no collaboration has the same organisation at both ends
    loop = client.post(
        "/collaborations", json={"collaborations": [tie | {"organisation_b": a}]}, headers=WRITE
    )
    assert loop.status_code == 409
    assert error_of(loop)["code"] == "same_organisation"
    assert error_of(loop)["field"] == "body.collaborations.0.organisation_b"


def test_feedback_feeds_the_exclusion_rules(client: httpx.Client) -> None:
    a, b = "CL-AERO-FR", "CL-TEXT-PT"
    assert b in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    said = {"organisation_id": a, "other_id": b, "kind": "not_interested"}
    recorded = client.post("/feedback", json=said, headers=WRITE)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["kind"] == "not_interested"
    assert client.post("/feedback", json=said | {"note": "x"}, headers=WRITE).status_code == 422
    assert b not in ids_of(client.get("/recommend", params={"organisation_id": a, "k": 50}))
    assert a not in ids_of(client.get("/recommend", params={"organisation_id": b, "k": 50}))
    unknown = client.post("/feedback", json=said | {"other_id": "NOPE-5"}, headers=WRITE)
    assert unknown.status_code == 404
    same = client.post("/feedback", json=said | {"other_id": a}, headers=WRITE)
    assert same.status_code == 409
    assert error_of(same)["code"] == "same_organisation"
    kind = client.post("/feedback", json=said | {"kind": "love"}, headers=WRITE)
    assert error_of(kind)["field"] == "body.kind"


def test_bodies_above_the_limit_are_refused(client: httpx.Client) -> None:
    huge = profile("HUGE-1", description="x" * 19_000)
    body = {"organisations": [huge | {"id": f"HUGE-{n}"} for n in range(12)]}
    refused = client.post("/organisations:batch", json=body, headers=WRITE)
    assert refused.status_code == 413
    assert error_of(refused)["code"] == "body_too_large"
    assert client.get("/organisations/HUGE-1").status_code == 404

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"organisations": ['
        for _ in range(300):
            yield b" " * 1000
        yield b"]}"

    streamed = client.post(
        "/organisations:batch",
        content=chunks(),
        headers=WRITE | {"content-type": "application/json"},
    )
    assert streamed.status_code == 413


def test_cors_is_closed_by_default(client: httpx.Client) -> None:
    origin = {"Origin": "https://evil.example"}
    simple = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK"}, headers=origin)
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    preflight = client.options(
        "/feedback", headers=origin | {"Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_reads_do_not_wait_for_a_write_and_concurrent_writers_both_land(
    client: httpx.Client, server: LiveServer
) -> None:
    # a batch with many new texts keeps the writer busy encoding (the facade encodes
    # before it takes its write lock, then writes and swaps the state)
    slow = [
        profile(f"SLOW-{n}", description=f"Robotic harvesting platform variant {n} for orchards.")
        for n in range(120)
    ]
    other = [profile(f"FAST-{n}") for n in range(5)]
    started: dict[str, float] = {}
    done: dict[str, float] = {}
    statuses: dict[str, int] = {}

    def write(name: str, rows: list[dict[str, Any]]) -> None:
        with server.client() as c:
            started[name] = time.monotonic()
            r = c.post("/organisations:batch", json={"organisations": rows}, headers=WRITE)
        statuses[name] = r.status_code
        done[name] = time.monotonic()

    writers = [
        threading.Thread(target=write, args=("slow", slow)),
        threading.Thread(target=write, args=("fast", other)),
    ]
    for w in writers:
        w.start()
    reads: list[tuple[float, float]] = []
    while writers[0].is_alive():
        began = time.monotonic()
        read = client.get("/recommend", params={"organisation_id": "CL-AGRI-DK", "k": 5})
        assert read.status_code == 200
        reads.append((began, time.monotonic()))
    for w in writers:
        w.join(timeout=300)
    assert statuses == {"slow": 200, "fast": 200}
    during = [(b, e) for b, e in reads if b > started["slow"] and e < done["slow"]]
    assert during, "no read was answered while the slow write was in flight"
    assert max(e - b for b, e in during) < 5
    for row in slow + other:
        assert client.get(f"/organisations/{row['id']}").status_code == 200


# -- servers in other states --------------------------------------------------------------


def test_not_ready_and_writes_disabled(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "empty", api_key=None)
    with LiveServer(settings, None) as live, live.client() as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503
        assert error_of(ready)["code"] == "not_ready"
        assert "matcher build" in error_of(ready)["message"]
        rec = c.get("/recommend", params={"organisation_id": "CL-AGRI-DK"})
        assert rec.status_code == 503
        assert rec.headers["retry-after"] == "5"
        write = c.put("/organisations/A-1", json=profile("A-1"), headers=WRITE)
        assert write.status_code == 403
        assert error_of(write)["code"] == "writes_disabled"
        assert "MATCHER_API_KEY" in error_of(write)["message"]
        assert "matcher_ready 0.0" in c.get("/metrics").text


def test_reads_can_require_the_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "empty", api_key=SecretStr(KEY), read_key_required=True)
    with LiveServer(settings, None) as live, live.client() as c:
        params = {"organisation_id": "CL-AGRI-DK"}
        assert c.get("/recommend", params=params).status_code == 401
        assert c.get("/recommend", params=params, headers={"X-API-Key": "no"}).status_code == 403
        # the right key passes the check; the empty home is not ready
        assert c.get("/recommend", params=params, headers=WRITE).status_code == 503
        assert c.get("/health").status_code == 200
        assert c.get("/metrics").status_code == 200


# -- schemathesis -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[False, True], ids=["open-reads", "keyed-reads"])
def fuzzed_server(
    request: pytest.FixtureRequest,
    examples_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    encoder: SentenceTransformerEncoder,
) -> Iterator[LiveServer]:
    home = copy_home(examples_home, tmp_path_factory.mktemp("fuzz") / "home")
    # no per-client limit: schemathesis probes auth with key-less requests, which must
    # meet the key check (401), not the limit (429)
    settings = Settings(
        home=home, api_key=SecretStr(KEY), read_key_required=request.param, anonymous_rate=0
    )
    with LiveServer(settings, encoder) as live:
        with live.client() as c:
            wait_ready(c)
        yield live


def schemathesis_run(url: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``schemathesis run --checks all`` against ``url`` (a process of its own, in ``cwd``)."""
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"X-API-Key: {KEY}",
        "--seed",
        "1",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        *options,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=cwd
    )


def test_schemathesis_checks_all_find_nothing(fuzzed_server: LiveServer, tmp_path: Path) -> None:
    """Every check, on every operation: no server error, no valid request refused, ...

    The documented examples and a bounded number of generated requests per operation
    (schema-valid and schema-violating ones), then the coverage phase's boundary values
    (each bound, each enum value) for every operation but cold-start POST /recommend, where
    each of ~2,000 boundary cases encodes a profile. With reads behind the key too, the
    auth checks see them refuse key-less requests.
    """
    spec = httpx.get(f"{fuzzed_server.url}/openapi.json").json()
    operations = sum(len(methods) for path, methods in spec["paths"].items())
    assert operations >= 12
    fuzz = ("--phases", "examples,fuzzing", "--max-examples", "15")
    for result in _runs_on_both_sides(fuzzed_server.url, tmp_path, *fuzz):
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert "generated" in result.stdout and "passed" in result.stdout, result.stdout[-2000:]
    if "{}" not in str(spec["paths"]["/recommend"]["get"]["security"]):
        return  # keyed reads: the same schema, the boundaries were covered with open reads
    coverage = ("--phases", "coverage", "--exclude-name", "POST /recommend")
    for result in _runs_on_both_sides(fuzzed_server.url, tmp_path, *coverage):
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _runs_on_both_sides(
    url: str, cwd: Path, *options: str
) -> list[subprocess.CompletedProcess[str]]:
    """Two runs: every route but the planner's with every check; the planner's routes.

    The planner's routes get every check but "a schema-valid request is accepted": whether
    a plan can be made depends on the store (participants must exist, be named once) and
    on counting proofs (people, tables, rounds), which no schema can state; such requests
    answer 422, naming the rule.
    """
    return [
        schemathesis_run(url, cwd, *options, "--exclude-path-regex", "^/tables"),
        schemathesis_run(
            url,
            cwd,
            *options,
            "--include-path-regex",
            "^/tables",
            "--exclude-checks",
            "positive_data_acceptance",
        ),
    ]


# -- kill -9 ------------------------------------------------------------------------------


def _start(
    home: Path, port: int, log: Path, program: Sequence[str] = ("-m", "service")
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "MATCHER_HOME": str(home),
        "MATCHER_API_KEY": KEY,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TQDM_DISABLE": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *program, "--port", str(port), "--no-access-log", "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
        )


def test_matcher_serve_runs_the_service(examples_home: Path, tmp_path: Path) -> None:
    home = copy_home(examples_home, tmp_path / "home")
    port = free_port()
    proc = _start(home, port, tmp_path / "server.log", ("-m", "matcher", "serve"))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            wait_ready(c, timeout=300)
            r = c.get("/recommend", params={"organisation_id": "CL-AGRI-ES", "k": 3})
            assert r.status_code == 200, r.text
            assert len(r.json()["suggestions"]) == 3
            assert c.put("/organisations/CL-AGRI-ES", json={}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_kill_9_during_batch_writes_loses_nothing_acknowledged(
    examples_home: Path, tmp_path: Path
) -> None:
    home = copy_home(examples_home, tmp_path / "home")
    port = free_port()
    log = tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    proc = _start(home, port, log)
    acknowledged: list[int] = []
    sent: list[int] = []
    interrupted: list[int] = []
    stop = threading.Event()

    def batch(n: int) -> list[dict[str, Any]]:
        return [
            profile(f"K{n}-{i}", description=f"Batch {n} member {i}: vertical farming robots.")
            for i in range(8)
        ]

    def writer() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            n = 0
            while not stop.is_set():
                sent.append(n)
                try:
                    r = c.post(
                        "/organisations:batch", json={"organisations": batch(n)}, headers=WRITE
                    )
                except httpx.TransportError:
                    interrupted.append(n)
                    return
                if r.status_code == 200:
                    acknowledged.append(n)
                n += 1

    try:
        with httpx.Client(base_url=url) as c:
            wait_ready(c, timeout=300)
        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 240
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15)  # into the middle of the next batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        thread.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acknowledged) >= 3, log.read_text()[-3000:]
    assert interrupted, "the kill did not catch a batch in flight"
    proc = _start(home, port, log)
    try:
        with httpx.Client(base_url=url) as c:
            wait_ready(c, timeout=300)
            for n in sent:
                present = [  # with the key: no per-client limit
                    c.get(f"/organisations/{row['id']}", headers=WRITE).status_code == 200
                    for row in batch(n)
                ]
                if n in acknowledged:
                    assert all(present), f"acknowledged batch {n} lost rows: {present}"
                else:
                    assert all(present) or not any(present), f"batch {n} half-written"
            assert c.get("/recommend", params={"organisation_id": "CL-AGRI-DK"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- overload -----------------------------------------------------------------------------


def test_requests_beyond_the_in_flight_limit_get_503_at_once() -> None:
    async def scenario() -> None:
        entered, release = asyncio.Event(), asyncio.Event()
        inside = [0]

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["path"] != "/health":
                inside[0] += 1
                entered.set()
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        limited = InFlightLimitMiddleware(app, limit=1)
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            first = asyncio.create_task(c.get("/recommend", params={"organisation_id": "A"}))
            await entered.wait()
            refused = await c.get("/recommend", params={"organisation_id": "B"})
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["connection"] == "close"  # the retry may reach another worker
            assert refused.json()["error"]["code"] == "overloaded"
            assert (await c.get("/health")).status_code == 200  # exempt, even when full
            release.set()
            assert (await first).status_code == 200
            assert (await c.get("/recommend")).status_code == 200
            assert limited.in_flight == 0
        release.clear()
        inside[0] = 0
        unlimited = InFlightLimitMiddleware(app, limit=0)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=unlimited), base_url="http://test"
        ) as c:
            tasks = [asyncio.create_task(c.get("/recommend")) for _ in range(5)]
            while inside[0] < 5:  # all five are in hand at once
                await asyncio.sleep(0.01)
            release.set()
            assert [(await t).status_code for t in tasks] == [200] * 5

    asyncio.run(scenario())
    assert Settings().max_in_flight == 64
