"""What the service's input bounds and starvation limits cost and save, on loopback.

Usage:
    python benchmarks/limits.py [--home DIR] [--repeat 20] [--port 8766] [--out FILE]
        [--server-tree DIR] [--skip-oversized]

Builds a home from ``examples/`` when ``--home`` holds no index, starts ``python -m service``
on 127.0.0.1 and measures, each ``--repeat`` times (medians):

1. how long the refusal of an oversized request takes: a PUT with 150,000 keywords (1.6 MB)
   and a cold-start POST /recommend with 8,000 keywords (issue 15: 7 min 15 s and 5.9 s of
   CPU before the bounds);
2. GET /recommend latency with and without 64 slow senders attached (each sent headers and
   part of a body, then nothing; before the fix every data request got 503 while they held);
3. the cost of the request path's middleware: GET /health (no app work) latency.

``--server-tree`` runs the server from another source tree (e.g. an export of the commit
before the limits, ``git archive 939e70d``) for a side-by-side; ``--skip-oversized`` skips
(1), which takes minutes there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from machine import describe

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KEY = "limits-benchmark-key"
WRITE = {"X-API-Key": KEY}


def _profile(org_id: str, **extra: object) -> dict[str, object]:
    return {
        "id": org_id,
        "name": f"Benchmark organisation {org_id}",
        "kind": "sme",
        "country": "DE",
        "description": "Precision agriculture sensors and farm data services.",
        "offers": "soil moisture sensors",
        "seeks": "farmers' cooperatives for pilots",
    } | extra


def _timed(call: object, repeat: int) -> tuple[float, set[int]]:
    """Median milliseconds of ``call()`` (an httpx call) and the statuses it answered."""
    times, statuses = [], set()
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    return statistics.median(times), statuses


def main() -> None:
    """Run the measurements and print (and append) the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=Path("/tmp/matcher-limits-home"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--server-tree", type=Path, default=REPO)
    parser.add_argument("--skip-oversized", action="store_true")
    args = parser.parse_args()
    if not (args.home / "current").exists():
        with Matcher(Settings(home=args.home)) as m:
            m.import_platform(
                organisations=REPO / "examples" / "organisations.csv",
                collaborations=REPO / "examples" / "collaborations.csv",
            )
            m.build(show_progress=False)
    env = os.environ | {
        "MATCHER_HOME": str(args.home),
        "MATCHER_API_KEY": KEY,
        "MATCHER_LOG_LEVEL": "WARNING",
        "MATCHER_ANONYMOUS_RATE": "0",
        "PYTHONPATH": str(args.server_tree),
        "HF_HUB_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(args.port), "--no-access-log"],
        env=env,
        cwd=args.server_tree,  # `-m` looks in the working folder first
    )
    url = f"http://127.0.0.1:{args.port}"
    lines = [
        f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ} input bounds and slow senders, "
        "benchmarks/limits.py",
        f"machine: {describe()}",
    ]
    try:
        with httpx.Client(base_url=url, timeout=600) as c:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if c.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            organisations = c.get("/ready").json()["organisations"]
            lines.append(
                f"server: python -m service from {args.server_tree}, {organisations} "
                "organisations, one process"
            )
            huge = json.dumps(_profile("HUGE", keywords=[f"kw{n}" for n in range(150_000)]))
            many = json.dumps(
                {"profile": _profile("MANY", keywords=[f"k {n}" for n in range(8_000)])}
            )
            if not args.skip_oversized:
                put = _timed(
                    lambda: c.put(
                        "/organisations/HUGE",
                        content=huge,
                        headers=WRITE | {"content-type": "application/json"},
                    ),
                    args.repeat,
                )
                post = _timed(
                    lambda: c.post(
                        "/recommend", content=many, headers={"content-type": "application/json"}
                    ),
                    args.repeat,
                )
                lines.append(
                    f"PUT with 150,000 keywords ({len(huge) / 1e6:.1f} MB): refused "
                    f"{sorted(put[1])} in {put[0]:.0f} ms (median of {args.repeat}); "
                    "issue 15 before: 7 min 15 s"
                )
                lines.append(
                    f"POST /recommend, 8,000 keywords ({len(many) / 1e3:.0f} kB): refused "
                    f"{sorted(post[1])} in {post[0]:.1f} ms; issue 15 before: 5.9 s of CPU"
                )
            params = {"organisation_id": "CL-AGRI-DK", "k": 10}
            quiet = _timed(lambda: c.get("/recommend", params=params), args.repeat)
            head = (
                b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"profile": '
            )
            senders = [socket.create_connection(("127.0.0.1", args.port)) for _ in range(64)]
            for s in senders:
                s.sendall(head)
            time.sleep(0.5)
            held = _timed(lambda: c.get("/recommend", params=params), args.repeat)
            for s in senders:
                s.close()
            lines.append(
                f"GET /recommend k=10: {quiet[0]:.1f} ms {sorted(quiet[1])} alone, "
                f"{held[0]:.1f} ms {sorted(held[1])} with 64 slow senders attached "
                "(before: 503 overloaded for as long as they held)"
            )
            health = _timed(lambda: c.get("/health"), args.repeat * 10)
            lines.append(
                f"GET /health (the middleware stack, no app work): {health[0]:.2f} ms median "
                f"of {args.repeat * 10}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
