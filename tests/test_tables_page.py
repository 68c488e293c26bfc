"""The tables router and the organiser page, served by a real uvicorn, driven in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import playwright.sync_api as playwright
import pytest
import uvicorn
from pydantic import SecretStr

from embeddings import SentenceTransformerEncoder
from matcher.app.settings import Settings
from matcher.store import Store
from service.app import create_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CSV = (EXAMPLES / "participants.csv").read_text(encoding="utf-8")
KEY = "organiser-key-123"
WHERE = (
    "(k) => plan().rounds.map((r) => r.tables.findIndex((t) => t.members.some((m) => m.key === k)))"
)
"""In the page: the table (0-based) of a person in each round."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: Settings, encoder: SentenceTransformerEncoder) -> Iterator[str]:
    app = create_app(settings, encoder=encoder)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    while httpx.get(f"{url}/ready").status_code != 200:
        assert time.monotonic() < deadline, "the service did not get ready"
        time.sleep(0.1)
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def home(examples_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the examples home (saved plans go into its store)."""
    copy = tmp_path_factory.mktemp("tables-home") / "home"
    shutil.copytree(examples_home, copy)
    return copy


@pytest.fixture(scope="module")
def server(home: Path, encoder: SentenceTransformerEncoder) -> Iterator[str]:
    """The service's own app (which includes the tables router), on a real uvicorn."""
    yield from _serve(Settings(home=home, api_key=SecretStr(KEY)), encoder)


def test_post_tables_score_an_edit_and_refusals(server: str) -> None:
    body = {"participants_csv": CSV, "rounds": 2, "seed": 3, "time_limit": 3}
    plan = httpx.post(f"{server}/tables", json=body, timeout=60).json()
    assert plan["broken"] == [] and len(plan["rounds"]) == 2
    assert plan["notes"] and "table size 3 chosen" in plan["notes"][0]
    assert plan["partners_together"] == []
    tables = plan["rounds"][0]["tables"]
    # Move a non-host to the next table: the sizes break, the score changes.
    source = next(t for t in tables if any(not m["host"] for m in t["members"]))
    moving = next(m for m in source["members"] if not m["host"])
    target = tables[(tables.index(source) + 1) % len(tables)]
    source["members"].remove(moving)
    target["members"].append(moving)
    scored = httpx.post(f"{server}/tables/score", json={**body, "plan": plan}, timeout=60)
    assert scored.status_code == 200
    edited = scored.json()
    assert edited["score"] != plan["score"]
    assert any(b["rule"] == "table_size" for b in edited["broken"])
    refused = httpx.post(f"{server}/tables", json={**body, "table_size": 4}, timeout=60)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "infeasible_plan" and error["field"] == "no_repeat"
    assert "round(s) with the same tables" in error["message"]
    bad = httpx.post(
        f"{server}/tables", json={**body, "participants_csv": "organisation_id\nNOPE\n"}
    )
    assert bad.status_code == 422 and "NOPE" in bad.json()["error"]["message"]
    too_many = httpx.post(
        f"{server}/tables", json={"participants": [{"organisation_id": "A"}] * 1001}
    )
    assert too_many.status_code == 422
    schema = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]
    assert schema["TablesRequest"]["properties"]["participants"]["anyOf"][0]["maxItems"] == 1000
    assert schema["LocksIn"]["properties"]["people"]["maxItems"] == 1000


def test_saving_needs_the_write_key_and_versions(server: str, home: Path) -> None:
    body = {"participants_csv": CSV, "rounds": 2, "time_limit": 2}
    plan = httpx.post(f"{server}/tables", json=body, timeout=60).json()
    assert (
        httpx.put(f"{server}/tables/plans/api-test", json={**body, "plan": plan}).status_code == 401
    )
    headers = {"X-API-Key": KEY}
    one = httpx.put(f"{server}/tables/plans/api-test", json={**body, "plan": plan}, headers=headers)
    two = httpx.put(f"{server}/tables/plans/api-test", json={**body, "plan": plan}, headers=headers)
    assert (one.json()["version"], two.json()["version"]) == (1, 2)
    got = httpx.get(f"{server}/tables/plans/api-test", params={"version": 1}).json()
    assert got["plan"]["score"] == pytest.approx(plan["score"]) and got["request"]["rounds"] == 2
    assert httpx.get(f"{server}/tables/plans/nothing-here").status_code == 404
    link = httpx.post(f"{server}/tables/plans/api-test/publish", headers=headers).json()
    again = httpx.post(
        f"{server}/tables/plans/api-test/publish", params={"version": 2}, headers=headers
    )
    assert again.json()["token"] == link["token"] and len(link["token"]) >= 30
    published = httpx.get(f"{server}{link['plan']}").json()
    assert published["version"] == 2 and published["plan"]["rounds"]
    assert httpx.get(f"{server}/tables/published/{'x' * 32}/plan").status_code == 404
    # Saved in the SQLite store: another process opening the file sees them.
    with Store(Settings(home=home).store_path) as store:
        kept = store.get_plan("api-test")
        assert kept is not None and kept.version == 2 and kept.token == link["token"]
        assert store.published_plan(link["token"]) == kept


def test_the_read_key_and_readiness_rules(
    home: Path, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    settings = Settings(home=home, api_key=SecretStr(KEY), read_key_required=True)
    for url in _serve(settings, encoder):
        body = {"participants_csv": CSV, "rounds": 1, "time_limit": 1}
        assert httpx.get(f"{url}/tables").status_code == 401
        assert httpx.post(f"{url}/tables", json=body).status_code == 401
        assert (
            httpx.post(f"{url}/tables/score", json={**body, "plan": {"rounds": []}}).status_code
            == 401
        )
        assert httpx.get(f"{url}/tables/plans").status_code == 401
        ok = httpx.post(f"{url}/tables", json=body, headers={"X-API-Key": KEY}, timeout=60)
        assert ok.status_code == 200
    empty = Settings(home=tmp_path / "empty")
    for url in _serve_unready(empty, encoder):
        response = httpx.post(f"{url}/tables", json={"participants_csv": CSV})
        assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"


def _serve_unready(settings: Settings, encoder: SentenceTransformerEncoder) -> Iterator[str]:
    app = create_app(settings, encoder=encoder)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_the_organiser_page_in_chromium(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (apt-get install -y chromium)")
        pytest.skip("no /usr/bin/chromium")
    expect = playwright.expect
    page_html = httpx.get(f"{server}/tables").text
    assert "<script" in page_html and "http" not in page_html.replace("http-equiv", "")
    upload = tmp_path / "participants.csv"
    upload.write_text(CSV, encoding="utf-8")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server}/tables")
        page.fill("#api_key", KEY)
        page.dispatch_event("#api_key", "change")
        # Upload, plan.
        page.set_input_files("#file", str(upload))
        # (the page's CSP forbids eval, so waits use locators, not wait_for_function)
        expect(page.locator("#csv")).to_have_value(re.compile("Anna Holm"))
        page.fill("#rounds", "2")
        page.fill("#min_countries", "3")
        page.fill("#themes", "1=agri_food")
        page.fill("#time_limit", "3")
        page.click("#plan")
        page.wait_for_selector(".card")
        assert page.locator(".round").count() == 2
        assert page.locator(".round").first.locator(".card").count() == 4
        assert "Anna Holm" in page.inner_text("#board")
        assert page.inner_text("#partners").startswith("existing partners seated together: 0")
        assert page.locator("#broken li").count() == 0
        assert (
            "agri_food" in page.locator(".round").first.locator(".card .theme").first.inner_text()
        )
        planned = page.inner_text("#score")
        # Swap two guests of round 1 at different tables: sizes kept, the score changes.
        first_round = page.locator(".round").first
        cards = first_round.locator(".card")
        a = cards.nth(2).locator("li[data-key]").first.get_attribute("data-key")
        b = cards.nth(3).locator("li[data-key]").first.get_attribute("data-key")
        cards.nth(2).locator(f"li[data-key='{a}']").click()
        cards.nth(3).locator(f"li[data-key='{b}']").click()
        expect(page.locator("#score")).not_to_have_text(planned)
        assert page.inner_text("#delta").startswith(("+", "−"))
        moved = page.evaluate(
            "(k) => plan().rounds[0].tables[2].members.some((m) => m.key === k)", b
        )
        assert moved
        assert [page.locator(".round").first.locator(".card").nth(k).locator("li[data-key]").count()
                for k in range(4)] == [3, 3, 3, 3]  # fmt: skip
        # Undo brings the planned seating back; redo the swap again.
        page.click("#undo")
        assert page.inner_text("#score") == planned
        page.click("#redo")
        assert page.inner_text("#score") != planned
        page.click("#undo")
        # Lock a person and table 1 of round 2, then re-solve the rest.
        first = page.locator(".round").first.locator(".card").nth(3)
        locked_key = first.locator("li[data-key]").first.get_attribute("data-key")
        before = page.evaluate(
            WHERE,
            locked_key,
        )
        first.locator("input.lock").first.check()
        page.locator(".round").nth(1).locator("input.table-lock").first.check()
        table_one = sorted(page.evaluate("plan().rounds[1].tables[0].members.map((m) => m.key)"))
        page.click("#resolve")
        expect(page.locator("#status")).not_to_have_text(re.compile("^re-solving"))
        assert page.inner_text("#status") == ""
        after = page.evaluate(
            WHERE,
            locked_key,
        )
        assert after == before
        assert (
            sorted(page.evaluate("plan().rounds[1].tables[0].members.map((m) => m.key)"))
            == table_one
        )
        assert page.locator("#broken li").count() == 0
        # Save, reload the page, load it back, publish.
        page.fill("#plan_name", "agri lab")
        page.click("#save")
        expect(page.locator("#status")).to_have_text(re.compile("^saved"))
        saved_score = page.inner_text("#score")
        page.reload()
        page.wait_for_selector("#saved option:nth-child(2)", state="attached")
        page.select_option("#saved", "agri lab")
        page.click("#load")
        page.wait_for_selector(".card")
        assert page.inner_text("#score") == saved_score
        assert page.input_value("#rounds") == "2" and "agri_food" in page.input_value("#themes")
        page.click("#publish")
        expect(page.locator("#published_link")).to_have_attribute(
            "href", re.compile("/tables/published/")
        )
        link = page.get_attribute("#published_link", "href")
        assert link
        # Agendas: per person, printable and as CSV.
        page.click("#view_agendas")
        assert page.locator(".agenda").count() == 12
        anna = page.locator(".agenda[data-key='CL-AGRI-DK/Anna Holm']")
        assert anna.locator("tbody tr").count() == 2
        with page.expect_download() as download:
            page.click("#agenda_csv")
        agenda = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
        assert agenda[0] == "person,organisation_id,name,round,table,theme,with,why"
        assert len(agenda) == 1 + 2 * 12
        page.emulate_media(media="print")
        assert page.locator("#plan").is_hidden() and page.locator(".agenda").first.is_visible()
        page.emulate_media(media="screen")
        shot = tmp_path / "tables.png"
        page.click("#view_tables")
        page.screenshot(path=str(shot), full_page=True)
        # The published link: read-only, no key needed.
        reader = browser.new_page()
        reader.goto(link)
        reader.wait_for_selector(".card")
        assert reader.locator("#controls").is_hidden()
        assert reader.locator("input.lock").first.is_hidden()
        assert reader.inner_text("#score") == saved_score
        browser.close()
    assert shot.stat().st_size > 10_000
    assert all(u.startswith(server) or u.startswith("blob:") for u in requests)
    keep = os.environ.get("TABLES_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
