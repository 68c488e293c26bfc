"""Do two versions of the code recommend the same partners? Top-k lists, scores and reasons.

Usage: python benchmarks/recommend_equivalence.py --home DIR [--baseline REF] [--queries 200]
       [--baseline-home DIR]  (a copy of the home, when the baseline cannot open this
       tree's newer store schema)

The baseline is a git revision (default HEAD) unpacked into a temporary folder; each
version runs in its own process on the same home and the same random queries, and the
lists are compared: identical lists, overlap of the top k, score and reason differences.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def unpack(ref: str, into: Path) -> Path:
    """The tree of a git revision, unpacked into a folder."""
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO), "archive", ref], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def dump(home: Path, queries: int, k: int) -> None:
    """Print one JSON line per query: the suggestions of the code on sys.path."""
    import matcher
    from matcher.app.matcher import Matcher
    from matcher.app.settings import Settings
    from matcher.ranking.rank import rank

    print(json.dumps({"code": str(Path(matcher.__file__).parent)}), flush=True)
    with Matcher(Settings(home=home)) as m:
        ids = m.store.organisation_ids()
        rng = random.Random(1)
        for q in [rng.choice(ids) for _ in range(queries)]:
            out = m.recommend(q, k=k)
            # The unrounded numbers behind the list, straight from the ranking.
            table = m.state().table
            raw = rank(table, m.ranker, table.query(table.rows[q]), k=k, options=m.options())
            print(
                json.dumps(
                    {
                        "query": q,
                        "ids": [s.organisation.id for s in out],
                        "scores": [s.score for s in out],
                        "reasons": [
                            [(r.signal, r.contribution, r.text) for r in s.reasons] for s in out
                        ],
                        "flags": [s.flags for s in out],
                        "raw": [
                            [r.row, r.score.hex(), r.forward.hex(), r.reverse.hex()]
                            + [float(x).hex() for x in (*r.signals, *r.contributions)]
                            for r in raw
                        ],
                    }
                ),
                flush=True,
            )


def run(tree: Path, home: Path, queries: int, k: int) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(HERE / "recommend_equivalence.py"), "--dump",
           "--home", str(home), "--queries", str(queries), "-k", str(k)]  # fmt: skip
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"  {lines[0]['code']}")
    return lines[1:]


def compare(old: list[dict[str, Any]], new: list[dict[str, Any]], k: int) -> None:
    same_lists = same_scores = same_reasons = same_raw = 0
    overlap: list[float] = []
    max_diff = 0.0
    changed: list[str] = []
    for a, b in zip(old, new, strict=True):
        assert a["query"] == b["query"]
        same_raw += a["raw"] == b["raw"]
        overlap.append(len(set(a["ids"]) & set(b["ids"])) / max(len(a["ids"]), 1))
        if a["ids"] == b["ids"]:
            same_lists += 1
            diffs = [abs(x - y) for x, y in zip(a["scores"], b["scores"], strict=True)]
            max_diff = max([max_diff, *diffs])
            same_scores += a["scores"] == b["scores"]
            same_reasons += a["reasons"] == b["reasons"] and a["flags"] == b["flags"]
        else:
            changed.append(a["query"])
    n = len(old)
    print(f"queries: {n}, k={k}")
    print(f"identical top-{k} lists (ids and order): {same_lists}/{n}")
    print(f"mean overlap of the top-{k} sets: {sum(overlap) / n:.4f} (min {min(overlap):.2f})")
    print(f"identical scores (6 decimals, as returned): {same_scores}/{same_lists}")
    print(f"largest score difference in identical lists: {max_diff:.2e}")
    print(f"identical reasons and flags: {same_reasons}/{same_lists}")
    half = (len(old[0]["raw"][0]) - 4) // 2 if old and old[0]["raw"] else 0
    print(
        "bit-identical ranking internals (rows, both sides' scores, "
        f"{half} signals and {half} contributions): {same_raw}/{n}"
    )
    if changed:
        print(f"queries whose list changed: {', '.join(changed[:20])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument(
        "--baseline-home", type=Path, default=None, help="a copy of --home for the baseline"
    )
    parser.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        dump(args.home, args.queries, args.k)
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"baseline {args.baseline}:")
        old = run(
            unpack(args.baseline, Path(tmp)),
            args.baseline_home or args.home,
            args.queries,
            args.k,
        )
    print("this tree:")
    new = run(REPO, args.home, args.queries, args.k)
    compare(old, new, args.k)


if __name__ == "__main__":
    main()
