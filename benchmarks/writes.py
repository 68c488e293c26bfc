"""What a write costs at scale: the writer's part, and every other worker's part.

Usage:
    python benchmarks/writes.py --home DIR [--writes 20] [--seed 0]

Two Matchers on the same home stand for two server workers. The first writes (through the
facade, as ``PUT /organisations`` and ``POST /collaborations`` do); the second then
catches up with the change log (``Matcher.live()``), as every other worker does before its
next request. Printed per kind of write: the writer's wall time (store transaction,
encoding new texts, applying the change to its own state) and the other worker's time to
apply it, medians over ``--writes`` writes, and the CPU time of the process during the
writer's part (every thread: the encoding runs on a background thread). Profile writes
change an organisation's description (a new text to encode); collaboration writes link
two random organisations today. The home is changed (as by the load test). The settings
come from the environment: ``MATCHER_THREADS=1`` encodes on one thread, as the service
does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from machine import describe
from threadpoolctl import threadpool_limits

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Collaboration
from matcher.domain.vocab import CollaborationKind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    settings = Settings(home=args.home)
    with Matcher(settings) as writer, Matcher(settings) as other:
        ids = writer.store.organisation_ids()
        rng = random.Random(args.seed)
        writer.recommend(ids[0])
        other.recommend(ids[0])
        times: dict[str, tuple[list[float], list[float]]] = {
            "profile (new description)": ([], []),
            "collaboration": ([], []),
        }
        cpu: dict[str, list[float]] = {name: [] for name in times}
        stamp = time.time_ns()
        for n in range(args.writes):
            org = writer.store.get_organisation(rng.choice(ids))
            changed = org.model_copy(
                update={"description": f"{org.description[:1500]} We now also work on {n}."}
            )
            a, b = sorted(rng.sample(ids, 2))
            tie = Collaboration(
                organisation_a=a, organisation_b=b, kind=CollaborationKind.EVENT_MEETING,
                date=dt.date.today(), source_ref=f"writes-{stamp}-{n}",
            )  # fmt: skip
            for name, write in (
                (
                    "profile (new description)",
                    functools.partial(writer.upsert_organisations, [changed]),
                ),
                ("collaboration", functools.partial(writer.add_collaborations, [tie])),
            ):
                t, c = time.perf_counter(), time.process_time()
                write()
                mine = time.perf_counter() - t
                cpu[name].append((time.process_time() - c) * 1e3)
                t = time.perf_counter()
                other.live()
                theirs = time.perf_counter() - t
                times[name][0].append(mine * 1e3)
                times[name][1].append(theirs * 1e3)
    print(f"machine: {describe()}")
    print(
        f"home: {args.home} ({len(ids):,} organisations); {args.writes} writes of each kind; "
        f"encoder threads: {settings.threads or 'every core'}"
    )
    for name, (mine, theirs) in times.items():
        print(
            f"{name:<27} writer: median {statistics.median(mine):7.1f} ms, max "
            f"{max(mine):7.1f} (CPU median {statistics.median(cpu[name]):7.1f}); another "
            f"worker applying it: median {statistics.median(theirs):7.1f} ms, max "
            f"{max(theirs):7.1f}"
        )


if __name__ == "__main__":
    main()
