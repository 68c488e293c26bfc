"""IVF-PQ against exact search at a million vectors: recall@10, query time, build time, memory.

Usage:
    python benchmarks/ann.py [--rows 1000000] [--queries 1000] [--clusters 3000]
        [--variants 48,96] [--dir DIR] [--seed 0]

The vectors stand in for sentence embeddings (384 dimensions, unit length): a mixture of
``--clusters`` Gaussian clusters of log-normal sizes, whose centres share a common
direction (random texts have a small positive cosine) and whose spread is anisotropic (a
decaying spectrum in a random basis: a low intrinsic dimension, as text embeddings have).
Their statistics are printed (cosine of random pairs, of the 1st and 10th neighbours).
The queries are 1,000 more draws from the same mixture. The array is written as ``.npy``
and memory-mapped, as a snapshot's is.

Printed: the exact search (FAISS brute force, the path below the threshold), then each
IVF-PQ index (``--variants``: PQ bytes per vector) with its training and filling time,
file size and the resident memory it adds once loaded (memory-mapped) and searched, then
recall@10 against exact and the median time of one query (one thread, the re-rank
included) for several ``nprobe`` and re-rank factors; then the defaults on random subsets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from machine import describe

from embeddings import nearest
from embeddings.ann import AnnParams, ApproximateIndex
from embeddings.artefact import map_array

D = 384
FloatArray = npt.NDArray[np.float32]


def rss() -> int:
    """This process's resident set, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


class Mixture:
    """Clustered unit vectors that look like text embeddings (see the module docstring)."""

    def __init__(
        self, clusters: int, seed: int, *, decay: float = 0.7, spread: float = 0.8
    ) -> None:
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.basis, _ = np.linalg.qr(rng.normal(size=(D, D)))
        scale = (np.arange(D) + 1.0) ** -decay
        self.scale = scale / np.sqrt((scale**2).sum())
        common = rng.normal(size=D)
        common /= np.linalg.norm(common)
        own = self._anisotropic(clusters)
        own /= np.linalg.norm(own, axis=1, keepdims=True)
        centres = 0.35 * common + own
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        weights = rng.lognormal(0, 1, clusters)
        self.weights = weights / weights.sum()
        self.spread = spread * rng.lognormal(0, 0.25, clusters)

    def _anisotropic(self, n: int) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = (self.rng.normal(size=(n, D)) * self.scale) @ self.basis.T
        return out

    def draw(self, n: int) -> FloatArray:
        """``n`` unit vectors."""
        label = self.rng.choice(len(self.centres), n, p=self.weights)
        x = self.centres[label] + self.spread[label, None] * self._anisotropic(n)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def median_ms(fn: object, queries: FloatArray) -> float:
    """Median wall time of ``fn(one query)`` over the queries, in ms."""
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q[None, :])  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def recall(found: npt.NDArray[np.int64], exact: npt.NDArray[np.int64]) -> float:
    """Mean share of the exact top 10 found."""
    return float(
        np.mean(
            [
                len(set(a.tolist()) & set(b.tolist())) / len(b)
                for a, b in zip(found, exact, strict=True)
            ]
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=3000)
    parser.add_argument("--variants", default="48,96", help="PQ bytes per vector to build")
    parser.add_argument("--exact-timed", type=int, default=20, help="single exact queries timed")
    parser.add_argument("--dir", type=Path, default=None, help="where the array is written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    now = dt.datetime.now(dt.UTC)
    print(f"# {now:%Y-%m-%dT%H:%MZ} python benchmarks/ann.py {' '.join(sys.argv[1:])}")
    print(f"# commit {commit}; faiss {faiss.__version__}")
    print(f"machine: {describe()}")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="ann-bench-"))
    mixture = Mixture(args.clusters, args.seed)
    started = time.perf_counter()
    out = np.lib.format.open_memmap(folder / "vectors.npy", "w+", np.float32, (args.rows, D))
    for start in range(0, args.rows, 100_000):
        out[start : start + 100_000] = mixture.draw(min(100_000, args.rows - start))
    out.flush()
    del out
    queries = mixture.draw(args.queries)
    base = map_array(folder, "vectors")
    print(
        f"data: {args.rows:,} × {D} float32 ({base.nbytes / 2**20:,.0f} MiB, memory-mapped), "
        f"{args.clusters} clusters, {args.queries} queries; made in "
        f"{time.perf_counter() - started:.0f} s"
    )
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    exact_scores, exact = nearest(base, queries, 10)
    batch = time.perf_counter() - started
    pairs = np.random.default_rng(1).integers(0, args.rows, (5000, 2))
    random_cos = float(np.mean(np.einsum("nd,nd->n", base[pairs[:, 0]], base[pairs[:, 1]])))
    print(
        f"cosine: random pairs mean {random_cos:.3f}; a query's 1st neighbour median "
        f"{np.median(exact_scores[:, 0]):.3f}, 10th {np.median(exact_scores[:, 9]):.3f}"
    )
    faiss.omp_set_num_threads(1)
    one = median_ms(lambda q: nearest(base, q, 10), queries[: args.exact_timed])
    print(
        f"exact (flat, brute force): recall@10 1.000; one query {one:.1f} ms (median of "
        f"{args.exact_timed}, one thread); all {args.queries} at once {batch:.1f} s "
        f"({os.cpu_count()} threads); memory: the array only"
    )
    default = AnnParams.for_size(args.rows, D)
    for m in [int(x) for x in args.variants.split(",")]:
        params = AnnParams(
            nlist=default.nlist, m=m, train_size=default.train_size, nbits=default.nbits
        )
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        before = rss()
        started = time.perf_counter()
        built = ApproximateIndex.train(base, params)
        took = time.perf_counter() - started
        grew = rss() - before
        built.save(folder, f"m{m}")
        del built
        size = (folder / f"ann_m{m}.faiss").stat().st_size
        before = rss()
        index = ApproximateIndex.load(folder, f"m{m}", base)
        loaded = rss() - before
        print(
            f"\n{params.factory()} (train on {params.train_size:,} rows, "
            f"{os.cpu_count()} threads): trained and filled in {took:.0f} s (RSS +"
            f"{grew / 2**20:,.0f} MiB while building); file {size / 2**20:,.1f} MiB "
            f"({size / args.rows:.1f} bytes/row); loaded memory-mapped: RSS "
            f"+{loaded / 2**20:,.1f} MiB"
        )
        faiss.omp_set_num_threads(1)
        print("  nprobe rerank  recall@10  one query (median, ms)")
        before = rss()
        for nprobe in (16, 32, 64, 128):
            for rerank in (1, 4, 8, 16):
                _, found = index.search(base, queries, 10, nprobe=nprobe, rerank=rerank)
                ms = median_ms(
                    lambda q, p=nprobe, r=rerank, ix=index: ix.search(
                        base, q, 10, nprobe=p, rerank=r
                    ),
                    queries,
                )
                mark = (
                    "  <- default"
                    if (m, nprobe, rerank) == (default.m, params.nprobe, params.rerank)
                    else ""
                )
                print(f"  {nprobe:6d} {rerank:6d}  {recall(found, exact):9.3f}  {ms:8.2f}{mark}")
        print(
            f"  RSS after the {32 * args.queries:,} searches: +{(rss() - before) / 2**20:,.0f} "
            "MiB (index pages and re-ranked rows touched)"
        )
        if m == default.m:
            _, truth = nearest(base, queries, 100)
            _, found = index.search(base, queries, 100)
            print(
                "  defaults, k=100 (a candidate list's size): recall@100 "
                f"{recall(found, truth):.3f}"
            )
            rng = np.random.default_rng(2)
            for share in (0.5, 0.1, 0.06):
                rows = np.sort(rng.choice(args.rows, int(share * args.rows), replace=False))
                _, truth = nearest(base, queries, 10, rows=rows)
                _, found = index.search(base, queries, 10, rows=rows)
                ms = median_ms(
                    lambda q, r=rows, ix=index: ix.search(base, q, 10, rows=r), queries[:200]
                )
                print(
                    f"  defaults on a random {share:.0%} subset: recall@10 "
                    f"{recall(found, truth):.3f}, outside the subset "
                    f"{int((~np.isin(found, rows)).sum())}, one query {ms:.2f} ms"
                )
        del index


if __name__ == "__main__":
    main()
