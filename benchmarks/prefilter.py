"""One query's exact search: FAISS over the array against the one-byte codes first.

Usage:
    python benchmarks/prefilter.py --home DIR [--queries 50] [--k 101]

For each searched field of the home's current snapshot: the codes are made in memory
(:meth:`embeddings.prefilter.Prefilter.build`, what a build writes), then ``--queries``
rows' own vectors (non-zero) are searched for their ``--k`` nearest rows (a candidate
list's text source asks 101) with FAISS's brute force on one thread and through the
codes, in turn. Printed: the median time of each, the rows rescored exactly through the
codes (median), and how many answers differ in their rows (0 expected; rows of exactly
equal score may come in another order, so sets are compared with their scores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import faiss
import numpy as np
from machine import describe

from embeddings.artefact import current_folder
from embeddings.prefilter import Prefilter, compile_prefilter
from matcher.ranking.profiles import SEARCHED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=101)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = current_folder(args.home)
    if folder is None:
        raise SystemExit(f"{args.home}: no snapshot")
    faiss.omp_set_num_threads(1)
    compile_prefilter()
    print(f"machine: {describe()}")
    print(f"snapshot: {folder.name}; {args.queries} queries per field, k={args.k}, one thread")
    rng = np.random.default_rng(args.seed)
    for name in SEARCHED:
        base = np.load(folder / f"vectors_{name}.npy", mmap_mode="r")
        started = time.perf_counter()
        codes = Prefilter.build(base)
        built = time.perf_counter() - started
        present = np.flatnonzero(np.abs(base).max(axis=1) > 0)
        exact_ms, coded_ms, rescored, differ = [], [], [], 0
        for row in rng.choice(present, args.queries, replace=False):
            query = np.asarray(base[row], np.float32)[None]
            t = time.perf_counter()
            want, _ = faiss.knn(query, np.asarray(base), args.k, metric=faiss.METRIC_INNER_PRODUCT)
            exact_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            found = codes.search(base, query, args.k)
            coded_ms.append((time.perf_counter() - t) * 1e3)
            assert found is not None
            got, got_rows = found
            approx, error = codes.approximate(query[0])
            kth = np.sort(approx)[-args.k]
            rescored.append(int((approx >= kth - 2 * error).sum()))
            same_scores = np.allclose(np.sort(got[0]), np.sort(want[0]), atol=1e-5)
            at_kth = base[got_rows[0]] @ query[0] >= want[0][-1] - 1e-5
            if not (same_scores and at_kth.all()):
                differ += 1
        print(
            f"{name:<7} {len(base):,} rows: FAISS {statistics.median(exact_ms):.2f} ms, codes "
            f"first {statistics.median(coded_ms):.2f} ms "
            f"({statistics.median(exact_ms) / statistics.median(coded_ms):.1f}×), rows scored "
            f"exactly {statistics.median(rescored):.0f} (median), answers differing {differ}; "
            f"codes made in {built:.1f} s, {codes.codes.nbytes / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()
