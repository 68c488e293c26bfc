"""Latency of ``Matcher.recommend`` in one process: totals, the split by step, the GIL share.

Usage: python benchmarks/recommend.py --home DIR [--calls 500] [-k 10] [--no-explain]
    [--two-hop 200,600]

On a built home (e.g. the hub-heavy 100k home of ``benchmarks/make_home.py``, imported and
built), ``--calls`` organisations drawn at random (seed 0) each get one recommendation
with reasons, on one core (one BLAS thread). Printed:

- wall and CPU time per call: median, p90, p99;
- the same calls again, step by step (the functions ``recommend`` runs, timed one by one):
  the query's neighbourhood, the pool, features, the model, the selection, the reasons
  and the store reads;
- the share of the wall time the GIL is held, estimated with a second thread that counts
  while it holds the GIL and lets it go every few microseconds: its count per second
  during the calls, against its count per second with the main thread asleep;
- with ``--two-hop A,B``: the same calls with the query's two-hop pool cut at A and at B
  candidates, interleaved call by call (medians and their ratio, side by side). Only the
  per-request cut changes; the stored lists stay as built, so a home built with B costs
  somewhat more than this shows.

``--compare REV`` (a commit, or a folder holding another checkout) instead times this
checkout's code against REV's, side by side: two worker processes, one per checkout, on the
same home and queries, called in turn (which goes first alternates), each timing its own
``recommend`` (wall and CPU); every answer (ranks, ids, scores, notes and reasons) is
compared between the two. A commit is checked out into a temporary ``git worktree``.
``--before-home DIR``: the older code loads DIR, a copy of the home made before the newer
code migrated the store (the newer one loads ``--home``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from machine import describe
from threadpoolctl import threadpool_limits

from matcher.app.matcher import Matcher
from matcher.app.present import present
from matcher.app.settings import Settings
from matcher.domain.vocab import FeedbackKind
from matcher.ranking.rank import rank, score_rows
from matcher.ranking.select import select


def quantiles(values: list[float]) -> str:
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return f"median {statistics.median(v):6.2f}  p90 {pick(0.9):6.2f}  p99 {pick(0.99):6.2f} ms"


class Spinner(threading.Thread):
    """Counts while it holds the GIL; lets it go every 50 counts."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            for _ in range(50):
                self.count += 1
            time.sleep(0)


def gil_share(work: callable) -> tuple[float, float]:  # type: ignore[valid-type]
    """(share of wall time the GIL was held by ``work``, seconds ``work`` took)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # no forced switches: only voluntary releases count
    spinner = Spinner()
    spinner.start()
    try:
        start, t = spinner.count, time.perf_counter()
        time.sleep(1.0)
        idle = (spinner.count - start) / (time.perf_counter() - t)
        start, t = spinner.count, time.perf_counter()
        work()
        seconds = time.perf_counter() - t
        busy = (spinner.count - start) / seconds
    finally:
        spinner.running = False
        spinner.join()
        sys.setswitchinterval(old)
    return max(0.0, 1.0 - busy / idle), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--two-hop", help="two pool cuts to compare side by side, e.g. 200,600")
    parser.add_argument("--compare", help="a commit or checkout folder to time against")
    parser.add_argument("--before-home", type=Path, help="--compare: the older code's copy")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    explain = not args.no_explain
    if args.worker:
        worker(args.home, args.k, explain)
        return
    if args.compare:
        from compare import compare_checkouts

        compare_checkouts(
            args.home, args.compare, args.calls, args.k, explain, before_home=args.before_home
        )
        return
    threadpool_limits(limits=1, user_api="blas")
    with Matcher(Settings(home=args.home)) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(0)
        todo = [rng.choice(ids) for _ in range(args.calls)]
        t = time.perf_counter()
        live = m.live()
        load = time.perf_counter() - t
        ctx = live.context
        for q in todo[:20]:
            m.recommend(q, args.k, explain=explain)
        wall, cpu = [], []
        cache = live.organisations
        reads = (cache.hits, cache.misses)
        for q in todo:
            t, c = time.perf_counter(), time.thread_time()
            m.recommend(q, args.k, explain=explain)
            wall.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.thread_time() - c) * 1e3)
        hits, misses = cache.hits - reads[0], cache.misses - reads[1]
        kept = len(cache)
        steps: dict[str, list[float]] = {
            s: []
            for s in (
                "store reads",
                "neighbourhood",
                "pool+rules",
                "features+model",
                "selection",
                "reasons",
            )
        }
        for q in todo:
            with live.reading():
                marks = [time.perf_counter()]
                org = live.organisations.get_organisation(q)  # as recommend reads it
                feedback = m.store.feedback_about(q)
                blocked = [
                    ctx.profiles.index[o]
                    for o, kinds in feedback.items()
                    if FeedbackKind.BLOCKED in kinds and o in ctx.profiles.index
                ]
                marks.append(time.perf_counter())
                query = ctx.query(ctx.profiles.index[q])
                marks.append(time.perf_counter())
                full = rank(ctx, query, args.k, blocked=blocked, rules=m.rules)
                marks.append(time.perf_counter())
                score_rows(ctx, query, full.rows)
                marks.append(time.perf_counter())
                country = ctx.profiles.country[full.rows]
                select(full.probability, country == query.values.country, country < -1,
                       country < -1, args.k, m.rules)  # fmt: skip
                marks.append(time.perf_counter())
                if explain:
                    present(ctx, live.organisations, org, full, explain_them=True)
                marks.append(time.perf_counter())
            d = [(b - a) * 1e3 for a, b in itertools.pairwise(marks)]
            steps["store reads"].append(d[0])
            steps["neighbourhood"].append(d[1])
            steps["pool+rules"].append(d[2] - d[3] - d[4])  # rank() minus its scoring and selection
            steps["features+model"].append(d[3])
            steps["selection"].append(d[4])
            steps["reasons"].append(d[5])
        share, seconds = gil_share(lambda: [m.recommend(q, args.k, explain=explain) for q in todo])
        pools = []
        degrees = []
        for q in todo[:200]:
            row = ctx.profiles.index[q]
            degrees.append(ctx.graph.degree[row])
            pools.append(len(rank(ctx, ctx.query(row), args.k, rules=m.rules).rows))
    print(f"machine: {describe()}")
    print(
        f"home: {args.home} ({len(ids):,} organisations, {ctx.graph.base.edge_count:,} edges); "
        f"loaded in {load:.1f} s"
    )
    print(
        f"calls: {len(todo)}, k={args.k}, reasons {'on' if explain else 'off'}, one BLAS thread; "
        f"queries' partners: median {statistics.median(degrees):.0f}, max {max(degrees):.0f}; "
        f"pool size median {statistics.median(pools):.0f}, max {max(pools)}"
    )
    print(f"recommend, wall: {quantiles(wall)}")
    print(f"recommend, CPU:  {quantiles(cpu)}")
    print(
        f"organisation cache (up to {cache.size:,} profiles): {hits / max(hits + misses, 1):.0%} "
        f"of the {hits + misses:,} profiles these calls read (askers and suggestions) were in "
        f"memory; {kept:,} kept"
    )
    print("by step (the same calls, step by step):")
    for name, values in steps.items():
        print(f"  {name:<15} {quantiles(values)}  mean {statistics.mean(values):.2f} ms")
    print(
        f"GIL held: {share:.0%} of the wall time ({len(todo)} calls in {seconds:.1f} s, "
        f"a counting thread's rate against its rate with the main thread asleep)"
    )
    if args.two_hop:
        compare_two_hop(m, todo, args.k, explain, [int(x) for x in args.two_hop.split(",")])


def compare_two_hop(m: Matcher, todo: list[str], k: int, explain: bool, cuts: list[int]) -> None:
    """Recommend with each two-hop cut, call by call in turn; print medians and the ratio."""
    ctx = m.live().context
    built = ctx.sizes
    wall: dict[int, list[float]] = {c: [] for c in cuts}
    pools: dict[int, list[int]] = {c: [] for c in cuts}
    try:
        for n, q in enumerate(todo):
            for c in cuts if n % 2 == 0 else cuts[::-1]:
                ctx.sizes = dataclasses.replace(built, two_hop=c)
                t = time.perf_counter()
                m.recommend(q, k, explain=explain)
                wall[c].append((time.perf_counter() - t) * 1e3)
                if n < 200:
                    row = ctx.profiles.index[q]
                    pools[c].append(len(rank(ctx, ctx.query(row), k, rules=m.rules).rows))
    finally:
        ctx.sizes = built
    medians = {c: statistics.median(wall[c]) for c in cuts}
    print(f"two-hop cut, side by side (built with {built.two_hop}; calls interleaved):")
    for c in cuts:
        print(f"  {c:>5}: wall {quantiles(wall[c])}; pool median {statistics.median(pools[c]):.0f}")
    a, b = cuts[0], cuts[-1]
    print(f"  median ratio {b}/{a}: {medians[b] / medians[a]:.2f}")


def answer_digest(rec: object) -> str:
    """A fingerprint of everything an answer shows (ranks, ids, scores, note, reasons)."""
    import hashlib
    import json

    from matcher.app.present import Recommendation

    assert isinstance(rec, Recommendation)
    shown = [
        [s.rank, s.organisation.id, s.score, [list(r.model_dump().values()) for r in s.reasons]]
        for s in rec.suggestions
    ]
    text = json.dumps([shown, rec.note, dataclasses.asdict(rec.left_out)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def worker(home: Path, k: int, explain: bool) -> None:
    """Answer organisation ids from stdin, one a line: wall ms, CPU ms, the answer's digest."""
    import json

    threadpool_limits(limits=1, user_api="blas")
    with Matcher(Settings(home=home)) as m:
        m.live()
        print("ready", flush=True)
        for line in sys.stdin:
            q = line.strip()
            t, c = time.perf_counter(), time.thread_time()
            rec = m.recommend(q, k, explain=explain)
            wall, cpu = (time.perf_counter() - t) * 1e3, (time.thread_time() - c) * 1e3
            print(json.dumps([wall, cpu, answer_digest(rec)]), flush=True)


if __name__ == "__main__":
    main()
