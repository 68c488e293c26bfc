"""Encoding in process against a local Ray with an actor pool, side by side on real texts.

The texts are distinct CORDIS project texts as the importer builds them (see
``benchmarks/encoding.py``). Each repetition encodes all of them with the default backend
in this process (ONNX Runtime using every core) and then with :class:`RayEncoder` on a
local Ray of ``--actors`` actors of one core each. Each ``encode`` call on Ray, like each
build, starts its actor pool and every actor loads the model once; that is timed. The two
alternate, so a noisy machine slows both alike. Printed: texts/s of each (median of
``--reps``), their ratio, per actor, whether the vectors are identical, and the time to
start Ray.

Usage::

    python benchmarks/ray_encoding.py [--texts 4000] [--actors 2] [--reps 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
from encoding import cordis_texts
from machine import describe

from embeddings import OnnxEncoder
from embeddings.distributed import EncoderSpec, RayEncoder, ray_runtime

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cordis", type=Path, default=REPO.parent / "shared/data/cordis")
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backend", default="onnx")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"# benchmarks/ray_encoding.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ}, commit {commit}"
    )
    print(f"# command: python {' '.join(sys.argv)}")
    print(describe())
    texts = list(dict.fromkeys(cordis_texts(args.cordis, args.texts, 0, seed=0)))[: args.texts]
    print(f"texts: {len(texts):,} distinct CORDIS project texts, backend {args.backend}")
    local = OnnxEncoder(backend=args.backend)
    local.encode(["warm-up"])
    started = time.perf_counter()
    with ray_runtime("local", num_cpus=args.actors):
        ray_started = time.perf_counter() - started
        remote = RayEncoder(EncoderSpec(local.model_id, args.backend), actors=args.actors)
        started = time.perf_counter()
        remote.encode(texts[: 4 * args.actors])  # a first call: actors start, load the model
        warm = time.perf_counter() - started
        rates: dict[str, list[float]] = {"in process": [], f"Ray, {args.actors} actors": []}
        identical = True
        for _ in range(args.reps):
            started = time.perf_counter()
            a = local.encode(texts)
            rates["in process"].append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            b = remote.encode(texts)
            rates[f"Ray, {args.actors} actors"].append(len(texts) / (time.perf_counter() - started))
            identical &= bool(np.array_equal(a, b))
    print(
        f"Ray started in {ray_started:.1f} s; a call of {4 * args.actors} texts took {warm:.1f} s"
    )
    base = statistics.median(rates["in process"])
    print(f"{'':22} {'texts/s (median)':>17} {'runs':>24} {'vs in process':>14}")
    for name, values in rates.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name:22} {median:17.1f} {runs:>24} {median / base:13.2f}x")
    per_actor = statistics.median(rates[f"Ray, {args.actors} actors"]) / args.actors
    print(f"per actor (one core each): {per_actor:.1f} texts/s; vectors identical: {identical}")


if __name__ == "__main__":
    main()
