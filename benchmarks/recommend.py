"""Latency of Matcher.recommend in-process: median and p95 of N calls on a built home.

Usage: python benchmarks/recommend.py [--home DIR] [--calls 100] [-k 10]
(build the demo first: `MATCHER_HOME=DIR matcher demo`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from machine import describe

from matcher.facade import Matcher
from matcher.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    settings = Settings(home=args.home) if args.home else Settings()
    with Matcher(settings) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(0)
        queries = [rng.choice(ids) for _ in range(args.calls)]
        started = time.perf_counter()
        m.recommend(queries[0], k=args.k)  # loads the index
        load = time.perf_counter() - started
        times = []
        for q in queries:
            t = time.perf_counter()
            m.recommend(q, k=args.k)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"machine: {describe()}")
    print(f"organisations: {len(ids)}, calls: {len(times)}, k={args.k}")
    print(f"first call (loads the index): {load * 1000:.1f} ms")
    print(
        f"recommend latency: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * len(times)) - 1]:.2f} ms, max {times[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
