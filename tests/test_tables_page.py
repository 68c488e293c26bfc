"""The tables router and the organiser page, served by a real uvicorn, driven in Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from embeddings import SentenceTransformerEncoder  # noqa: E402
from matcher.app.settings import Settings  # noqa: E402
from service.app import create_app  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CSV = (EXAMPLES / "participants.csv").read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(examples_home: Path, encoder: SentenceTransformerEncoder) -> Iterator[str]:
    """The service's own app (which includes the tables router), on a real uvicorn."""
    app = create_app(Settings(home=examples_home), encoder=encoder)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
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


def test_post_tables_and_score_an_edit(server: str) -> None:
    body = {"participants_csv": CSV, "table_size": 3, "rounds": 2, "seed": 3}
    plan = httpx.post(f"{server}/tables", json=body, timeout=60).json()
    assert plan["broken"] == [] and len(plan["rounds"]) == 2
    tables = plan["rounds"][0]["tables"]
    # Move a non-host from the first table with two or more guests to the next table.
    source = next(t for t in tables if sum(not m["host"] for m in t["members"]) >= 1)
    moving = next(m for m in source["members"] if not m["host"])
    target = tables[(tables.index(source) + 1) % len(tables)]
    source["members"].remove(moving)
    target["members"].append(moving)
    scored = httpx.post(f"{server}/tables/score", json={**body, "plan": plan}, timeout=60)
    assert scored.status_code == 200
    edited = scored.json()
    assert edited["score"] != plan["score"]
    assert any(b["rule"] == "table_size" for b in edited["broken"])
    refused = httpx.post(
        f"{server}/tables", json={**body, "table_size": 4, "rounds": 2}, timeout=60
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "infeasible_plan" and error["field"] == "no_repeat"
    bad = httpx.post(
        f"{server}/tables", json={**body, "participants_csv": "organisation_id\nNOPE\n"}
    )
    assert bad.status_code == 422 and "NOPE" in bad.json()["error"]["message"]


def test_the_organiser_page_in_chromium(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (apt-get install -y chromium)")
        pytest.skip("no /usr/bin/chromium")
    if os.environ.get("CI"):
        import playwright.sync_api as playwright
    else:
        playwright = pytest.importorskip("playwright.sync_api")
    page_html = httpx.get(f"{server}/tables").text
    assert "<script" in page_html and "http" not in page_html.replace("http-equiv", "")
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
        page.fill("#csv", CSV)
        page.fill("#table_size", "3")
        page.fill("#rounds", "2")
        page.fill("#min_countries", "3")
        page.click("#plan")
        page.wait_for_selector(".card")
        assert page.locator(".round").count() == 2
        assert page.locator(".round").first.locator(".card").count() == 4
        assert "Anna Holm" in page.inner_text("#board")
        before = float(page.inner_text("#score"))
        assert page.locator("#broken li").count() == 0
        # Move a guest of table 2 (round 1) to table 1: a rule breaks, the score changes.
        guest = page.locator(".round").first.locator(".card").nth(1).locator("li[data-key]")
        key = next(
            k
            for k in (guest.nth(i).get_attribute("data-key") for i in range(guest.count()))
            if k and "Claire" not in k
        )
        page.select_option(f".round >> nth=0 >> select[data-key='{key}']", "0")
        page.wait_for_function(f"document.getElementById('score').textContent !== '{before:.3f}'")
        page.wait_for_selector("#broken li")
        assert "table_size" in page.inner_text("#broken")
        assert page.locator(".card.broken").count() >= 1
        assert page.inner_text("#delta").startswith(("+", "−"))
        with page.expect_download() as download:
            page.click("#export")
        exported = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
        assert exported[0].startswith("round,table,organisation_id")
        assert len(exported) == 1 + 2 * 12
        shot = tmp_path / "tables.png"
        page.screenshot(path=str(shot), full_page=True)
        page.emulate_media(media="print")
        assert page.locator("#plan").is_hidden()
        browser.close()
    assert shot.stat().st_size > 10_000
    assert all(u.startswith(server) or u.startswith("blob:") for u in requests)
    keep = os.environ.get("TABLES_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
