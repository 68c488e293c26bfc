"""The ranker's prediction: LightGBM's ``predict`` against the compiled tree walk, side by side.

Usage: python benchmarks/forest.py --home DIR [--calls 300] [--reps 5]

On a built home, ``--calls`` organisations drawn at random (seed 0) each get one
recommendation with reasons; every feature matrix the ranker is asked to score on the way
(the pool, then the candidates whose contributions the reasons need) is kept. Each matrix
is then scored by LightGBM (``Booster.predict``, one thread) and by
:class:`models.forest.Forest`, in turn, ``--reps`` times (which goes first alternates).
Printed: the median time per matrix for each, their ratio, by kind of matrix (pools of more
than 50 rows, and smaller ones), and whether every score was the same, bit for bit.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
from machine import describe
from threadpoolctl import threadpool_limits

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from models.listwise import ListwiseRanker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    seen: list[np.ndarray[Any, Any]] = []
    scored = ListwiseRanker.raw

    def keep(self: ListwiseRanker, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        seen.append(np.array(x))
        return scored(self, x)

    ListwiseRanker.raw = keep  # type: ignore[method-assign]
    with Matcher(Settings(home=args.home)) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(0)
        for q in [rng.choice(ids) for _ in range(args.calls)]:
            m.recommend(q, 10, explain=True)
        ranker = m.live().context.scorer.ranker
    ListwiseRanker.raw = scored  # type: ignore[method-assign]
    assert isinstance(ranker, ListwiseRanker) and ranker.forest is not None
    booster, forest = ranker.booster, ranker.forest
    same = all(np.array_equal(booster.predict(x, num_threads=1), forest.predict(x)) for x in seen)
    print(f"machine: {describe()}")
    print(
        f"home: {args.home}; {args.calls} recommendations with reasons; "
        f"{forest.features} features, {len(forest.root)} trees, {len(forest.feature)} splits"
    )
    for label, group in (
        ("pools (> 50 rows)", [x for x in seen if len(x) > 50]),
        ("smaller (<= 50 rows)", [x for x in seen if len(x) <= 50]),
    ):
        times: dict[str, list[float]] = {"LightGBM": [], "compiled": []}
        sides = {
            "LightGBM": lambda x: booster.predict(x, num_threads=1),
            "compiled": forest.predict,
        }
        for rep in range(args.reps):
            for i, x in enumerate(group):
                order = ["LightGBM", "compiled"] if (rep + i) % 2 == 0 else ["compiled", "LightGBM"]
                for name in order:
                    t = time.perf_counter()
                    sides[name](x)
                    times[name].append((time.perf_counter() - t) * 1e6)
        lgb, comp = statistics.median(times["LightGBM"]), statistics.median(times["compiled"])
        rows = statistics.median(len(x) for x in group)
        print(
            f"{label:22s} {len(group):4d} matrices, median {rows:.0f} rows: "
            f"LightGBM {lgb:7.1f} us, compiled {comp:7.1f} us, ratio {comp / lgb:.2f}"
        )
    print(f"every score the same, bit for bit: {same}")


if __name__ == "__main__":
    main()
