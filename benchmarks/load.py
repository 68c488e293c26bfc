"""Load test of the HTTP service on loopback: mixed reads (GET /recommend with reasons) and
writes (PUT /organisations with new texts, POST /feedback, POST /collaborations), closed and
open loop, against several worker processes.

Usage:
    python benchmarks/load.py --home DIR [--workers 2] [--seconds 60] [--writes 0.05]
        [--concurrency 8,16] [--rates 100,250] [--port 8765] [--out FILE]

The home must be built (e.g. the CORDIS-shaped 100k home: ``benchmarks/make_home.py``,
``matcher import``, ``matcher build``). Compaction is off during the run unless
``MATCHER_COMPACT_AFTER`` is set (a background build at 100k takes the cores for most of
an hour). The script starts ``python -m service --workers N``
on 127.0.0.1 and runs

1. closed loop, for each of ``--concurrency``: that many connections, each sending its next
   request when the last answer arrived (after a 503, when its ``Retry-After`` has passed,
   as a client should: sending again at once makes a storm of refusals that takes the
   cores; plus up to half as long again at random, so that clients refused together do not
   return together), for ``--seconds``. Eight connections keep both cores of a 2-core host
   busy (four per worker) while the line each worker keeps stays within the queue budget:
   the sustained throughput. Sixteen put twice that in line: the admission control refuses
   what would wait past ``MATCHER_QUEUE_BUDGET``, and each refused connection is idle for
   its ``Retry-After`` (1 s), so that figure measures the refusals as much as the server;
2. open loop, for each of ``--rates``: requests sent on a fixed schedule of that many per
   second for ``--seconds``, each timed from its scheduled start (queueing included, no
   coordinated omission).

Then it reads each worker's memory (``/proc/<pid>/smaps_rollup``: resident, proportional
share, and how much of it is shared with the other processes).

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams, to leave as much of
the shared CPU as possible to the server. A 503 ``overloaded`` (``MATCHER_MAX_IN_FLIGHT``
requests in hand already, a ranking that would wait past ``MATCHER_QUEUE_BUDGET``, or too
many profile writes waiting) is counted apart, as refused (with how many were writes), and
not in the latencies or the throughput; every other non-2xx answer or
failed request counts as an error. The old hub-free synthetic set (``synthetic``) stays
only for the comparison in ``benchmarks/make_home.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import functools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine import describe

from matcher.app.compaction import pending_changes
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import EU27, CollaborationKind, Ecosystem, OrganisationKind, Stage

REPO = Path(__file__).resolve().parent.parent
KEY = "load-test-key"

_THEMES = [
    "precision agriculture", "cold-chain logistics", "food packaging", "vertical farming",
    "aircraft composites", "satellite data", "drone inspection", "battery recycling",
    "hydrogen storage", "offshore wind", "solar panels", "heat pumps", "smart grids",
    "medical imaging", "e-health platforms", "diagnostics", "biotech assays", "telecare",
    "textile recycling", "technical fabrics", "fashion design", "3D printing", "robotics",
    "industrial IoT", "cybersecurity", "cloud software", "AI for manufacturing", "microchips",
    "power electronics", "sensors", "electric vehicles", "rail systems", "port logistics",
    "green construction", "timber buildings", "cement alternatives", "water treatment",
    "tourism booking", "cultural heritage", "video games", "retail analytics", "e-commerce",
]  # fmt: skip
_ROLES = [
    "develops", "manufactures", "tests", "designs", "integrates", "distributes",
    "maintains", "researches", "recycles", "certifies", "trains people in", "finances",
]  # fmt: skip
_MARKETS = [
    "for SMEs", "for public buyers", "for export markets", "for farmers", "for hospitals",
    "for cities", "for airlines", "for carmakers", "for retailers", "for utilities",
]  # fmt: skip


def _combo(c: int) -> dict[str, Any]:
    """The text fields of combination ``c`` (deterministic)."""
    rng = random.Random(c)
    a, b = rng.sample(_THEMES, 2)
    role, market = rng.choice(_ROLES), rng.choice(_MARKETS)
    ecos = rng.sample(list(Ecosystem), rng.randint(1, 2))
    stages = rng.sample(list(Stage), rng.randint(1, 2))
    return {
        "description": f"Combination {c}: the organisation {role} {a} and {b} {market}.",
        "keywords": [a, b],
        "ecosystems": ecos,
        "stages": stages,
        "offers": f"expertise in {a}",
        "seeks": f"partners in {b}",
    }


def synthetic(size: int, combos: int, seed: int = 0) -> tuple[list[Organisation], list[Any]]:
    """``size`` profiles over ``combos`` text combinations, and their collaborations."""
    rng = random.Random(seed)
    kinds = list(OrganisationKind)
    orgs = []
    for n in range(size):
        c = rng.randrange(combos)
        orgs.append(
            Organisation(
                id=f"LOAD-{n:06d}",
                name=f"Synthetic organisation {n}",
                kind=rng.choice(kinds),
                country=rng.choice(EU27),
                languages=["en"],
                size=rng.randint(1, 500),
                **_combo(c),
            )
        )
    collabs = []
    start = dt.date(2018, 1, 1)
    for n in range(size * 2):
        a = rng.randrange(size)
        b = (a + rng.randint(1, 200)) % size  # local neighbourhoods: paths of length 2 exist
        collabs.append(
            Collaboration(
                organisation_a=orgs[a].id,
                organisation_b=orgs[b].id,
                kind=CollaborationKind.JOINT_PROJECT,
                date=start + dt.timedelta(days=rng.randrange(2900)),
                source_ref=f"P{n}",
            )
        )
    return orgs, collabs


# -- client -------------------------------------------------------------------------------


IDLE_SECONDS = 3.0
"""Reopen a connection idle this long (uvicorn closes idle keep-alive connections at 5 s)."""


class Connection:
    """One HTTP/1.1 keep-alive connection."""

    def __init__(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.port, self.reader, self.writer = port, reader, writer
        self.last = time.monotonic()
        self.retry_after = 0.0
        """The last answer's ``Retry-After`` in seconds (0: none)."""
        self.body = b""
        """The last answer's body."""
        self.closing = False
        """The last answer said ``Connection: close``: the next request opens a new one."""

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        if self.closing or time.monotonic() - self.last > IDLE_SECONDS or self.reader.at_eof():
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            return await self._request(method, path, body)
        finally:
            self.last = time.monotonic()

    async def _request(self, method: str, path: str, body: bytes) -> int:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        lines = headers.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        self.retry_after = 0.0
        self.closing = False
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
            elif line.lower().startswith("retry-after:"):
                self.retry_after = float(line.split(":", 1)[1])
            elif line.lower().replace(" ", "") == "connection:close":
                self.closing = True
        self.body = await self.reader.readexactly(length) if length else b""
        return status

    async def worker(self) -> int:
        """The pid of the server worker that holds this connection (``/ready``)."""
        await self.request("GET", "/ready")
        return int(json.loads(self.body).get("worker", 0))

    def close(self) -> None:
        self.writer.close()


@dataclass
class Tally:
    """Latencies (ms) by request type, and errors."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0
    shed: int = 0
    shed_writes: int = 0
    spread: collections.Counter[int] = field(default_factory=collections.Counter)
    """The closed loop's connections per server worker (pid), as they were opened."""
    spread_end: collections.Counter[int] = field(default_factory=collections.Counter)
    """The same at the end (a refused connection is closed, and may come back elsewhere)."""
    writes: dict[str, list[float]] = field(default_factory=dict)
    """Latencies (ms) of the writes by endpoint (a profile write encodes a text)."""
    shed_why: collections.Counter[str] = field(default_factory=collections.Counter)
    """Refusals by cause (:func:`refusal_cause` of the 503's message)."""

    def add(self, kind: str, ms: float, path: str = "") -> None:
        self.latencies.setdefault(kind, []).append(ms)
        if kind == "write":
            self.writes.setdefault(path.split("/")[1], []).append(ms)


class Mix:
    """The request mix: reads of /recommend with reasons, and a share of writes."""

    def __init__(
        self,
        ids: list[str],
        profiles: list[dict[str, Any]],
        writes: float,
        seed: int,
        read: str = "recommend",
    ) -> None:
        self.ids, self.profiles = ids, profiles
        self.writes, self.rng = writes, random.Random(seed)
        self.read = read
        self.n = 0

    def next(self) -> tuple[str, str, str, bytes]:
        rng = self.rng
        self.n += 1
        if rng.random() >= self.writes:
            org = rng.choice(self.ids)
            if self.read == "organisation":  # the HTTP layer's own cost: a store lookup
                return "read", "GET", f"/organisations/{org}", b""
            return "read", "GET", f"/recommend?organisation_id={org}&k=10&explain=true", b""
        kind = rng.choice(["organisation", "feedback", "collaboration"])
        a, b = rng.sample(self.ids, 2)
        if kind == "organisation":  # a profile change with a new text to encode
            body = dict(rng.choice(self.profiles))
            theme = rng.choice(_THEMES)
            body["description"] = f"{body['description'][:1500]} We now also work on {theme}."
            return "write", "PUT", f"/organisations/{body['id']}", json.dumps(body).encode()
        if kind == "feedback":
            fb = {"organisation_id": a, "other_id": b, "kind": rng.choice(["interested", "met"])}
            return "write", "POST", "/feedback", json.dumps(fb).encode()
        tie = {
            "organisation_a": a,
            "organisation_b": b,
            "kind": "event_meeting",
            "date": dt.date.today().isoformat(),
            "source_ref": f"load-{self.n}",
        }
        return "write", "POST", "/collaborations", json.dumps({"collaborations": [tie]}).encode()


_CAUSES = (
    ("would wait about", "a ranking's expected wait above the budget"),
    ("no ranking slot within", "a ranking still waiting at twice the budget"),
    ("requests already", "MATCHER_MAX_IN_FLIGHT requests in hand"),
    ("profile writes are being prepared", "too many profile writes waiting"),
)


def refusal_cause(body: bytes) -> str:
    """Why a 503 ``overloaded`` refused: a short name from its message."""
    try:
        message = str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return "unreadable answer"
    for words, cause in _CAUSES:
        if words in message:
            return cause
    return message[:60]


async def _one(conn: Connection, mix: Mix, tally: Tally, started: float | None = None) -> None:
    kind, method, path, body = mix.next()
    t0 = time.perf_counter() if started is None else started
    try:
        status = await conn.request(method, path, body)
    except (OSError, asyncio.IncompleteReadError) as exc:
        tally.errors.append(f"{method} {path}: {type(exc).__name__}")
        raise
    if status == 503:  # overloaded: refused, not an answer
        tally.shed += 1
        tally.shed_writes += kind == "write"
        tally.shed_why[refusal_cause(conn.body)] += 1
        return
    if not 200 <= status < 300:
        tally.errors.append(f"{method} {path}: {status}")
    tally.add(kind, (time.perf_counter() - t0) * 1000, path)


JITTER = 0.5
"""A refused client of the closed loop waits ``Retry-After`` times 1 to 1 + this, at random.

Waiting exactly ``Retry-After`` made the clients refused in one burst come back as one
herd a second later, to be refused together again: the closed loop's throughput swung
between runs of the same code (``benchmarks/results/load-2026-12-05-one-faiss-thread*.txt``).
"""


async def closed_loop(port: int, mix: Mix, seconds: float, concurrency: int) -> Tally:
    """``concurrency`` connections sending back to back for ``seconds``."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    jitter = random.Random(0)

    async def worker() -> None:
        conn = await Connection.open(port)
        tally.spread[await conn.worker()] += 1
        try:
            while time.perf_counter() < deadline:
                await _one(conn, mix, tally)
                if conn.retry_after:  # refused: wait as asked, and a random part more
                    pause = conn.retry_after * (1 + JITTER * jitter.random())
                    await asyncio.sleep(min(pause, deadline - time.perf_counter()))
            tally.spread_end[await conn.worker()] += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


async def open_loop(port: int, mix: Mix, seconds: float, rate: float, drain: float) -> Tally:
    """Requests started on a fixed schedule of ``rate`` per second, for ``seconds``.

    Answers still missing ``drain`` seconds after the last request was due count as errors
    (the server fell behind the offered rate).
    """
    tally = Tally()
    # Idle connections are reused in turn (oldest first): reusing the last one first sent
    # most requests down one connection, so to one worker, while the other sat idle.
    idle: collections.deque[Connection] = collections.deque(
        [await Connection.open(port) for _ in range(8)]
    )
    tasks = []

    async def fire(scheduled: float) -> None:
        conn = idle.popleft() if idle else await Connection.open(port)
        try:
            await _one(conn, mix, tally, started=scheduled)
        finally:
            idle.append(conn)

    start = time.perf_counter()
    total = int(seconds * rate)
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=drain)
    for task in pending:
        task.cancel()
    tally.unanswered = len(pending)
    for conn in idle:
        conn.close()
    return tally


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, tally: Tally, seconds: float) -> list[str]:
    """Lines of figures for one run."""
    every = [v for vs in tally.latencies.values() for v in vs]
    lines = [
        f"{name}: {len(every)} requests in {seconds:.0f} s = {len(every) / seconds:.1f} req/s, "
        f"errors: {len(tally.errors)}"
        + (
            f", refused 503 overloaded: {tally.shed} ({tally.shed_writes} writes)"
            if tally.shed
            else ""
        )
        + (f", unanswered when the drain ended: {tally.unanswered}" if tally.unanswered else "")
    ]
    if tally.shed:
        causes = "; ".join(f"{cause} {n}" for cause, n in tally.shed_why.most_common())
        lines.append(f"  refused because: {causes}")
    for kind, values in sorted(tally.latencies.items()):
        lines.append(
            f"  {kind:<6} n={len(values):<6} p50 {statistics.median(values):7.1f} ms   "
            f"p99 {_pct(values, 0.99):7.1f} ms   max {max(values):7.1f} ms"
        )
    for endpoint, values in sorted(tally.writes.items()):
        lines.append(
            f"    {endpoint:<15} n={len(values):<5} p50 {statistics.median(values):7.1f} ms   "
            f"p99 {_pct(values, 0.99):7.1f} ms   max {max(values):7.1f} ms"
        )
    lines.append(
        f"  all    p50 {statistics.median(every):7.1f} ms   p99 {_pct(every, 0.99):7.1f} ms"
        f"   over 50 ms: {sum(v > 50 for v in every) / len(every):.2%}"
    )
    if tally.spread:
        start, end = (
            ", ".join(str(n) for _, n in c.most_common()) for c in (tally.spread, tally.spread_end)
        )
        lines.append(f"  connections per server worker: at the start {start}; at the end {end}")
    lines += [f"  error: {e}" for e in tally.errors[:10]]
    return lines


# -- main ---------------------------------------------------------------------------------


def _wait_ready(port: int, timeout: float, in_a_row: int = 10) -> float:
    """Seconds until ``/ready`` answered 200 ``in_a_row`` times (every worker, not one)."""
    started = time.perf_counter()
    ok = 0
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                ok = ok + 1 if r.status == 200 else 0
        except OSError:
            ok = 0
        if ok >= in_a_row:
            return time.perf_counter() - started
        time.sleep(0.5 if not ok else 0.05)
    raise TimeoutError("the server did not get ready")


def memory(pids: list[int]) -> list[str]:
    """Each process's resident and proportional set sizes, and the shared part, in MiB."""
    lines = []
    for pid in pids:
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value, *_ = line.split()
            fields[name.rstrip(":")] = int(value)
        shared = fields.get("Shared_Clean", 0) + fields.get("Shared_Dirty", 0)
        lines.append(
            f"  pid {pid}: RSS {fields['Rss'] / 1024:.0f} MiB, PSS {fields['Pss'] / 1024:.0f} "
            f"MiB, shared with other processes {shared / 1024:.0f} MiB"
        )
    return lines


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds of these processes so far (``/proc/<pid>/stat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measured(server: int, tally_of: Any) -> tuple[Tally, str]:
    """Run one phase; say the CPU per answered request of the server and of this client."""
    pids = [server, *_children(server)]
    server_before, client_before = cpu_seconds(pids), time.process_time()
    tally = tally_of()
    server_cpu = cpu_seconds(pids) - server_before
    client_cpu = time.process_time() - client_before
    answered = max(sum(len(v) for v in tally.latencies.values()), 1)
    return tally, (
        f"  CPU per answered request: server {1e3 * server_cpu / answered:.1f} ms, "
        f"load client {1e3 * client_cpu / answered:.1f} ms (both on the same {os.cpu_count()} "
        "cores)"
    )


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(c) for c in children]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--writes", type=float, default=0.05)
    parser.add_argument(
        "--concurrency", default="8,16", help="closed-loop connections, comma-separated"
    )
    parser.add_argument("--rates", default="100,250", help="open-loop rates, comma-separated")
    parser.add_argument("--drain", type=float, default=30, help="open loop: wait for answers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--only", choices=["closed", "open"], default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = [f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ} load test: python {' '.join(sys.argv)}"]
    out.append(f"machine: {describe()} (the load client runs on the same cores)")
    with Matcher(Settings(home=args.home)) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(0)
        sample = m.store.get_organisations(rng.sample(ids, 2000))
        profiles = [o.model_dump(mode="json", exclude_none=True) for o in sample.values()]
        for p in profiles:
            p.pop("updated_at", None)
        pending = pending_changes(args.home, m.store)
    # A compaction is a new snapshot built in the background: at 100k profiles about 45 min
    # of CPU at low priority. One starting during the run would take the cores the
    # measurement is about, so it is off unless MATCHER_COMPACT_AFTER is set.
    compact_after = os.environ.get("MATCHER_COMPACT_AFTER", str(10**9))
    out.append(
        f"compaction: after {int(compact_after):,} changes (MATCHER_COMPACT_AFTER); "
        f"{pending:,} changes since the snapshot at the start"
    )
    env = os.environ | {
        "MATCHER_COMPACT_AFTER": compact_after,
        "MATCHER_HOME": str(args.home),
        "MATCHER_API_KEY": KEY,
        "MATCHER_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [
            sys.executable, "-m", "service", "--port", str(args.port), "--no-access-log",
            "--workers", str(args.workers),
        ],
        env=env,
    )  # fmt: skip
    try:
        loaded = _wait_ready(args.port, 1800)
        with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/ready") as r:
            ready = json.loads(r.read())
        time.sleep(5)  # every worker loads its state
        out.append(
            f"server: {args.workers} worker processes (gunicorn, uvicorn workers), ready in "
            f"{loaded:.0f} s, serving {ready['organisations']} organisations "
            f"(store: {ready['store_organisations']}), snapshot {ready['snapshot']}"
        )
        out.append(
            f"mix: GET /recommend k=10 explain=true, {args.writes:.0%} writes (PUT "
            "/organisations with a new text, POST /feedback, POST /collaborations, in thirds)"
        )
        print("\n".join(out), flush=True)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            if args.only == "open":
                break
            mix = Mix(ids, profiles, args.writes, seed=1)
            phase = functools.partial(
                asyncio.run, closed_loop(args.port, mix, args.seconds, concurrency)
            )
            tally, cpu = measured(server.pid, phase)
            lines = [*report(f"closed loop, {concurrency} connections", tally, args.seconds), cpu]
            out += lines
            print("\n".join(lines), flush=True)
        if args.only != "closed":
            for rate in (float(r) for r in args.rates.split(",")):
                mix = Mix(ids, profiles, args.writes, seed=int(rate))
                phase = functools.partial(
                    asyncio.run, open_loop(args.port, mix, args.seconds, rate, args.drain)
                )
                tally, cpu = measured(server.pid, phase)
                lines = [*report(f"open loop, {rate:.0f} req/s offered", tally, args.seconds), cpu]
                out += lines
                print("\n".join(lines), flush=True)
        workers = _children(server.pid)
        out.append(f"memory of the master ({server.pid}) and its {len(workers)} workers:")
        out += memory([server.pid, *workers])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a write still running: nothing to keep
            server.kill()
            server.wait()
    text = "\n".join(out)
    print(text)
    if args.out:
        with args.out.open("a") as f:
            f.write(text + "\n\n")


if __name__ == "__main__":
    main()
