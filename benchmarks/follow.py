"""A follower on a copy of a home: how soon it serves the writer's writes, how fast it catches up.

Usage:
    python benchmarks/follow.py --home DIR [--writes 30] [--bursts 5] [--burst 1000]
        [--store-only] [--out FILE]

Copies DIR with ``matcher copy-home`` (into a new folder beside it, removed at the end),
then starts the writer on DIR and a follower on the copy (``MATCHER_FOLLOW``, the default
interval of 0.2 s), one worker each, both on this machine with the client. With
``--store-only`` the copy's snapshot is deleted first: the follower downloads the writer's
(``GET /replication/snapshot``) before it can load, and the time until it is ready is
printed with the snapshot's size. Then:

1. visibility: ``--writes`` new organisations, one at a time (``PUT /organisations``, a
   profile drawn from the home with a new id and text), each timed from the writer's
   acknowledgement until the follower's ``GET /recommend`` for it answers 200 (asked every
   10 ms);
2. catch-up: ``--bursts`` batches of ``--burst`` new collaborations each
   (``POST /collaborations``, one change per pair), as fast as the writer takes them; timed
   from the last acknowledgement until the follower's ``/ready`` serves the writer's
   sequence, and the rate of the follower's pull over the whole burst.

Printed: medians, p90 and maxima of (1), and (2). DIR is changed (as by the load test).
The encoder backend comes from ``MATCHER_BACKEND``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from machine import describe

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KEY = "follow-benchmark-key"


def call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def wait_ready(url: str, timeout: float = 1800) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if call("GET", f"{url}/ready")[0] == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not get ready")


def serve(home: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = (
        os.environ
        | extra
        | {
            "MATCHER_HOME": str(home),
            "MATCHER_API_KEY": KEY,
            "MATCHER_LOG_LEVEL": "WARNING",
            "MATCHER_COMPACT_AFTER": str(10**9),  # no build during the measurement
            "MATCHER_ANONYMOUS_RATE": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port), "--no-access-log",
         "--workers", "1"],
        env=env,
    )  # fmt: skip


def quantiles(values: list[float]) -> str:
    v = sorted(values)
    p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
    return f"median {statistics.median(v):7.1f}  p90 {p90:7.1f}  max {v[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--writes", type=int, default=30)
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--store-only", action="store_true", help="copy without the snapshot")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = [f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ} python {' '.join(sys.argv)}"]
    out.append(f"machine: {describe()} (writer, follower and client on the same cores)")
    with Matcher(Settings(home=args.home)) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(0)
        sample = list(m.store.get_organisations(rng.sample(ids, args.writes)).values())
    copy = args.home.parent / f"{args.home.name}-follower-{os.getpid()}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "matcher", "copy-home", str(copy)],
        env=os.environ | {"MATCHER_HOME": str(args.home), "PYTHONPATH": str(REPO)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    out.append(f"copy-home: {time.perf_counter() - started:.1f} s ({len(ids):,} organisations)")
    if args.store_only:
        snapshot = (copy / "current").read_text().strip()
        size = sum(f.stat().st_size for f in (copy / "builds" / snapshot).rglob("*"))
        shutil.rmtree(copy / "builds")
        (copy / "current").unlink()
        out.append(f"the copy's snapshot deleted: the follower downloads {size / 2**20:,.0f} MiB")
    writer_url = f"http://127.0.0.1:{args.port}"
    follower_url = f"http://127.0.0.1:{args.port + 1}"
    launched = time.perf_counter()
    writer = serve(args.home, args.port, {})
    follower = serve(copy, args.port + 1, {"MATCHER_FOLLOW": writer_url})
    try:
        wait_ready(writer_url)
        writer_ready = time.perf_counter() - launched
        wait_ready(follower_url)
        out.append(
            f"ready {writer_ready:.0f} s (writer) and {time.perf_counter() - launched:.0f} s "
            "(follower) after both were started; one worker each"
        )
        seen: list[float] = []
        for n, org in enumerate(sample):
            profile = org.model_dump(mode="json", exclude_none=True)
            profile.pop("updated_at", None)
            profile["id"] = f"FOLLOW-{os.getpid()}-{n}"
            profile["description"] = f"{profile.get('description', '')[:1500]} Follower test {n}."
            status, _ = call("PUT", f"{writer_url}/organisations/{profile['id']}", profile)
            assert status == 201, status
            acknowledged = time.perf_counter()
            while True:
                status, _ = call("GET", f"{follower_url}/recommend?organisation_id={profile['id']}")
                if status == 200:
                    break
                time.sleep(0.01)
            seen.append((time.perf_counter() - acknowledged) * 1e3)
        out.append(
            f"visibility of {args.writes} new organisations on the follower, after the "
            f"writer's acknowledgement: {quantiles(seen)}"
        )
        burst_started = time.perf_counter()
        written = 0
        day = dt.date.today().isoformat()
        for b in range(args.bursts):
            ties = []
            for n in range(args.burst):
                a, c = sorted(rng.sample(ids, 2))
                ties.append(
                    {"organisation_a": a, "organisation_b": c, "kind": "event_meeting",
                     "date": day, "source_ref": f"follow-{os.getpid()}-{b}-{n}"}
                )  # fmt: skip
            status, _ = call("POST", f"{writer_url}/collaborations", {"collaborations": ties})
            assert status == 201, status
            written += len(ties)
        acknowledged = time.perf_counter()
        target = call("GET", f"{writer_url}/ready")[1]["sequence"]
        while call("GET", f"{follower_url}/ready")[1]["sequence"] < target:
            time.sleep(0.01)
        done = time.perf_counter()
        out.append(
            f"catch-up: {written:,} collaborations in {args.bursts} batches written in "
            f"{acknowledged - burst_started:.1f} s; the follower served them all "
            f"{(done - acknowledged) * 1e3:.0f} ms after the last acknowledgement, "
            f"{written / (done - burst_started):.0f} changes/s over the whole burst"
        )
        ready = call("GET", f"{follower_url}/ready")[1]
        out.append(f"follower /ready at the end: following={ready['following']}")
    finally:
        for proc in (follower, writer):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        shutil.rmtree(copy, ignore_errors=True)
    print("\n".join(out))
    if args.out:
        args.out.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
