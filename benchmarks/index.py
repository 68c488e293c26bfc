"""Benchmark of embeddings.index.VectorIndex: exact (flat), IVF and HNSW on clustered vectors.

Data: unit vectors of dimension 384 from one fixed Gaussian mixture at every size (2,000
centres grouped in 100 topics, Zipf-sized clusters, anisotropic per-cluster spread), so
neighbours are meaningful (random uniform vectors have none); 1,000 held-out queries
from the same mixture. Ground truth: exact top-10 by FAISS's flat index.

Per size and index: build time, RSS growth and file size; single-query latency p50/p99
through ``VectorIndex.search``; batch throughput (``search_batch`` of 1,000 queries);
recall@10 against exact search; filtered search with a 1 % and a 10 % allowed subset
(latency, recall against exact search over the subset, fewest results returned). Also the
single-query exact engines side by side: numpy matmul, FAISS flat on all threads and on one.

Usage: python benchmarks/index.py [--sizes 10000,30000,100000,1000000] [--hnsw-max 100000]
       [--out benchmarks/results/index-DATE.txt]
HNSW is built only up to --hnsw-max items (at 1M its build takes over ten minutes here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from embeddings.index import DEFAULT_PARAMS, VectorIndex

DIM = 384
QUERIES = 1000
K = 10


# -- data --------------------------------------------------------------------------------


def clustered(n: int, d: int = DIM, *, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors from one fixed mixture (the mixture depends on the seed only)."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(100, d)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    nc = 2000
    centres = topics[rng.integers(0, 100, nc)] + rng.normal(size=(nc, d)).astype(
        np.float32
    ) / np.sqrt(d)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, nc + 1) ** 0.7
    weights /= weights.sum()
    spread = rng.uniform(0.8, 1.3, nc).astype(np.float32)
    spectrum = (np.arange(1, d + 1) ** -0.6).astype(np.float32)
    spectrum *= np.sqrt(d / np.sum(spectrum**2))
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    data_rng = np.random.default_rng(seed + 1 + n)
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        label = data_rng.choice(nc, stop - start, p=weights)
        noise = data_rng.standard_normal((stop - start, d), dtype=np.float32) * spectrum
        x = centres[label] + (spread[label, None] / np.sqrt(d)) * (noise @ rotation)
        out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


# -- measuring ---------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def file_mb(index: VectorIndex) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp))
        return sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def recall(
    truth: np.ndarray, got: Sequence[Sequence[tuple[str, float]]], row: dict[str, int]
) -> float:
    hits = [len(set(truth[n].tolist()) & {row[h[0]] for h in g}) for n, g in enumerate(got)]
    return float(np.mean(hits)) / truth.shape[1]


def latencies(index: VectorIndex, queries: np.ndarray, **kw: Any) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for q in queries:
        t, r = timed(lambda q=q: index.search(q, K, **kw))
        times.append(t * 1000)
        results.append(r)
    return times, results


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def machine() -> list[str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return [
        f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"machine: {cpu}, {os.cpu_count()} cores, {mem} RAM, {platform.platform()}",
        f"python {platform.python_version()}, faiss {faiss.__version__}, numpy {np.__version__}, "
        f"FAISS OpenMP threads {faiss.omp_get_max_threads()}",
        f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
        "(a shared machine: other jobs run; ratios side by side are what counts)",
    ]


# -- the benchmark -----------------------------------------------------------------------


def exact_engines(report: Report, x: np.ndarray, queries: np.ndarray, rounds: int = 3) -> None:
    """Single-query exact search: numpy matmul vs FAISS flat, side by side in rounds."""
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    threads = faiss.omp_get_max_threads()

    def numpy_search(q: np.ndarray) -> None:
        s = x @ q
        top = np.argpartition(-s, K)[:K]
        top[np.argsort(-s[top])]

    def faiss_search(q: np.ndarray) -> None:
        flat.search(q[None], K)

    def faiss_one(q: np.ndarray) -> None:
        faiss.omp_set_num_threads(1)
        try:
            flat.search(q[None], K)
        finally:
            faiss.omp_set_num_threads(threads)

    engines = {
        "numpy x @ q (BLAS threads)": numpy_search,
        f"faiss flat ({threads} threads)": faiss_search,
        "faiss flat (1 thread)": faiss_one,
    }
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            for q in queries:
                t, _ = timed(lambda q=q, fn=fn: fn(q))
                times[name].append(t * 1000)
    parts = [f"{name} p50 {statistics.median(t):.2f} ms" for name, t in times.items()]
    report(f"  exact single query, {len(x):,} rows: " + "; ".join(parts))


def run_size(
    report: Report, n: int, hnsw_max: int, rows: list[list[str]], frows: list[list[str]]
) -> None:
    t0 = time.perf_counter()
    data = clustered(n + QUERIES)
    x, queries = data[:n], data[n:]
    ids = [f"org-{i:07d}" for i in range(n)]
    row = {item: i for i, item in enumerate(ids)}
    gen = time.perf_counter() - t0
    truth_index = faiss.IndexFlatIP(DIM)
    truth_index.add(x)
    scores, truth = truth_index.search(queries, K)
    del truth_index
    rng = np.random.default_rng(5)
    pair = np.sum(x[rng.integers(0, n, 5000)] * x[rng.integers(0, n, 5000)], axis=1)
    report(
        f"n={n:,}: generated in {gen:.0f} s; mean cosine to the nearest neighbour "
        f"{scores[:, 0].mean():.3f}, to the 10th {scores[:, K - 1].mean():.3f}, "
        f"of random pairs {pair.mean():.3f}"
    )
    single_n = 200 if n <= 100_000 else 100
    exact_engines(report, x, queries[: (50 if n <= 100_000 else 10)])

    subsets = {}
    for share in (0.01, 0.10):
        chosen = np.sort(rng.choice(n, max(K, int(n * share)), replace=False))
        _, sub_rows = faiss.knn(queries, x[chosen], K, metric=faiss.METRIC_INNER_PRODUCT)
        subsets[share] = ([ids[i] for i in chosen], chosen[sub_rows])

    configs: list[tuple[str, str, dict[str, Any], str, list[int]]] = [
        ("flat", "flat", {}, "", [0]),
        ("ivf", "ivf", {}, "nprobe", [4, 8, 16, 32, 64]),
    ]
    if n <= hnsw_max:
        configs.append(("hnsw", "hnsw", {"hnsw_m": 32}, "ef_search", [32, 64, 128, 256]))
    else:
        report(f"  hnsw (M=32) not built at {n:,}: over --hnsw-max {hnsw_max:,}")
    for name, kind, extra, knob, values in configs:
        gc.collect()
        before = rss_mb()
        build, index = timed(lambda kind=kind, extra=extra: _build(kind, extra, ids, x))
        grown = rss_mb() - before
        size = file_mb(index)
        described = (
            f"nlist={index._index.nlist}" if kind == "ivf" else ("M=32" if kind == "hnsw" else "")
        )
        report(
            f"  {name}: built in {build:.1f} s {described}, RSS +{grown:.0f} MB, "
            f"files {size:.0f} MB"
        )
        for value in values:
            if knob:
                index.params = replace(index.params, **{knob: value})
            count = single_n if kind != "flat" or n <= 100_000 else 30
            times, _ = latencies(index, queries[:count])
            batch_time, got = timed(lambda index=index: index.search_batch(queries, K))
            rows.append(
                [
                    f"{n:,}",
                    name,
                    f"{knob}={value}" if knob else "exact",
                    f"{build:.1f}",
                    f"{grown:.0f}",
                    f"{size:.0f}",
                    f"{statistics.median(times):.3f}",
                    f"{pct(times, 99):.3f}",
                    f"{QUERIES / batch_time:,.0f}",
                    f"{recall(truth, got, row):.4f}",
                ]
            )
            report("  " + " | ".join(rows[-1]))
        if knob:
            index.params = replace(index.params, **{knob: getattr(DEFAULT_PARAMS, knob)})
        modes = [("policy", DEFAULT_PARAMS.exact_subset)]
        if kind != "flat":
            modes.append(("selector", 0))
        label = name + (f" {knob}={getattr(index.params, knob)}" if knob else "")
        for share, (allowed_ids, sub_truth) in subsets.items():
            resolve, prepared = timed(lambda a=allowed_ids, index=index: index.subset(a))
            for mode, threshold in modes:
                index.params = replace(index.params, exact_subset=threshold)
                fallbacks = _count_fallbacks(index)
                count = 100 if n <= 100_000 else 50
                times, got = latencies(index, queries[:count], allowed=prepared)
                frows.append(
                    [
                        f"{n:,}",
                        label,
                        f"{share:.0%} ({len(allowed_ids):,})",
                        mode,
                        f"{resolve * 1000:.1f}",
                        f"{statistics.median(times):.3f}",
                        f"{pct(times, 99):.3f}",
                        f"{recall(sub_truth[:count], got, row):.4f}",
                        str(min(len(g) for g in got)),
                        str(fallbacks[0]),
                    ]
                )
                report("  filtered " + " | ".join(frows[-1]))
            index.params = replace(index.params, exact_subset=DEFAULT_PARAMS.exact_subset)
        del index
        gc.collect()


def _build(kind: str, extra: dict[str, Any], ids: list[str], x: np.ndarray) -> VectorIndex:
    index = VectorIndex(DIM, kind=kind, **extra)  # type: ignore[arg-type]
    index.add(ids, x)
    return index


def _count_fallbacks(index: VectorIndex) -> list[int]:
    """Count approximate searches answered exactly because they came back short."""
    counter = [0]
    original = VectorIndex._exact_subset

    def counting(q: np.ndarray, subset: Any, want: int) -> Any:
        if len(subset) > index.params.exact_subset:
            counter[0] += 1
        return original(index, q, subset, want)

    index._exact_subset = counting  # type: ignore[method-assign]
    return counter


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,30000,100000,1000000", help="comma-separated")
    parser.add_argument(
        "--hnsw-max", type=int, default=100_000, help="largest size to build HNSW at"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default: benchmarks/results/index-DATE.txt)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    out = args.out or Path(__file__).parent / "results" / f"index-{dt.date.today().isoformat()}.txt"
    report = Report()
    for line in machine():
        report(line)
    report(
        f"sizes {sizes}, dimension {DIM}, {QUERIES} queries, k={K}; HNSW up to {args.hnsw_max:,}"
    )
    report()
    rows: list[list[str]] = []
    frows: list[list[str]] = []
    started = time.perf_counter()
    for n in sizes:
        run_size(report, n, args.hnsw_max, rows, frows)
        report()
    report("Unfiltered (single-query latency through VectorIndex.search, one FAISS thread;")
    report("batch: search_batch of 1,000 queries, all threads; recall@10 against exact search):")
    report()
    for line in table(
        [
            "n",
            "index",
            "params",
            "build s",
            "RSS MB",
            "file MB",
            "p50 ms",
            "p99 ms",
            "batch q/s",
            "recall@10",
        ],
        rows,
    ):
        report(line)
    report()
    report("Filtered (allowed = a random 1 % / 10 % subset, passed as a prepared IdSubset;")
    report("'policy': the defaults, a subset of at most `exact_subset` items searched exactly;")
    report(
        "'selector': the approximate index with the IDSelectorBitmap, exact fallback when short;"
    )
    report("resolve: VectorIndex.subset(ids) once; recall against exact search over the subset):")
    report()
    for line in table(
        [
            "n",
            "index",
            "subset",
            "path",
            "resolve ms",
            "p50 ms",
            "p99 ms",
            "recall@10",
            "min results",
            "fallbacks",
        ],
        frows,
    ):
        report(line)
    report()
    report(
        f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(report.lines) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
