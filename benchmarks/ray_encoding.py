"""Encoding in process against a local Ray with an actor pool, side by side on real texts.

The texts are distinct CORDIS project texts as the importer builds them (see
``benchmarks/encoding.py``). Each repetition encodes all of them with the default backend
in this process (ONNX Runtime using every core) and then with :class:`RayEncoder` on a
local Ray of ``--actors`` actors of one core each. Each ``encode`` call on Ray, like each
build, starts its actor pool and every actor loads the model once; that is timed. The two
alternate, so a noisy machine slows both alike. Printed: texts/s of each (median of
``--reps``), their ratio, per actor, whether the vectors are identical, and the time to
start Ray.

With ``--home DIR`` the texts are instead every distinct text a build of that home encodes
(each field of each profile: its projects' texts or its profile text, its tags, offers and
seeks), e.g. the 100k home's. They are encoded once each way, in halves ordered in
process, Ray, Ray, in process (so a drift of the machine's speed weighs on both alike),
and the totals compared.

Usage::

    python benchmarks/ray_encoding.py [--texts 4000] [--actors 2] [--reps 3]
    python benchmarks/ray_encoding.py --home DIR [--actors 2] [--backend onnx-int8]
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
    parser.add_argument("--home", type=Path, help="encode every text of this home's profiles")
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
    if args.home is not None:
        whole_home(args.home, args.actors, args.backend)
        return
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


def home_texts(home: Path) -> tuple[int, list[str]]:
    """The profiles of a home, and every distinct text a build of it encodes."""
    from matcher.app.vectors import field_texts
    from matcher.store import STORE_FILE, Store

    with Store(home / STORE_FILE) as store:
        projects = store.project_texts()
        texts: dict[str, None] = {}
        profiles = 0
        for org in store.organisations():
            profiles += 1
            for field in field_texts(org, projects.get(org.id, [])).values():
                texts.update(dict.fromkeys(field))
    return profiles, list(texts)


def whole_home(home: Path, actors: int, backend: str) -> None:
    """Encode a home's texts in process and on Ray, in halves: A B B A."""
    profiles, texts = home_texts(home)
    print(
        f"texts: {len(texts):,} distinct texts of {profiles:,} profiles ({home.name}), "
        f"{sum(map(len, texts)) / len(texts):.0f} characters on average, backend {backend}"
    )
    local = OnnxEncoder(backend=backend)
    local.encode(["warm-up"])
    halves = [texts[: len(texts) // 2], texts[len(texts) // 2 :]]
    seconds: dict[str, float] = {"in process": 0.0, f"Ray, {actors} actors": 0.0}
    vectors: dict[tuple[str, int], np.ndarray] = {}
    started = time.perf_counter()
    with ray_runtime("local", num_cpus=actors):
        print(f"Ray started in {time.perf_counter() - started:.1f} s", flush=True)
        remote = RayEncoder(EncoderSpec(local.model_id, backend), actors=actors)
        for name, half in (
            ("in process", 0),
            (f"Ray, {actors} actors", 0),
            (f"Ray, {actors} actors", 1),
            ("in process", 1),
        ):
            encoder = local if name == "in process" else remote
            started = time.perf_counter()
            vectors[(name, half)] = encoder.encode(halves[half])
            took = time.perf_counter() - started
            seconds[name] += took
            print(
                f"{name}, half {half + 1}: {len(halves[half]):,} texts in {took:.0f} s "
                f"({len(halves[half]) / took:.1f} texts/s)",
                flush=True,
            )
    base = len(texts) / seconds["in process"]
    for name, took in seconds.items():
        rate = len(texts) / took
        print(f"{name:22} {took / 60:6.1f} min  {rate:6.1f} texts/s  {rate / base:5.2f}x")
    a = np.vstack([vectors[("in process", h)] for h in (0, 1)])
    b = np.vstack([vectors[(f"Ray, {actors} actors", h)] for h in (0, 1)])
    cosine = np.sum(a * b, axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
    )
    print(
        f"vectors identical: {np.array_equal(a, b)}; max |difference| "
        f"{float(np.abs(a - b).max()):.2e}, cosine min {float(cosine.min()):.6f}, "
        f"median {float(np.median(cosine)):.6f}"
    )


if __name__ == "__main__":
    main()
