"""Server CPU per read, this checkout against another, in alternating rounds.

Usage:
    python benchmarks/load_ab.py --home DIR --against REV [--rounds 6] [--seconds 20]

Each round runs ``benchmarks/load.py`` (one worker, reads only, closed loop, 4 connections,
``--seconds`` long) from the other checkout and then from this one, on the same home, and
reads the server's CPU per answered request from each. ``--against`` is a commit (checked
out into a temporary ``git worktree``) or a folder holding another checkout. Printed: each
round's two figures and their ratio, and the median ratio. The host's speed drifts between
runs by more than the differences this is for, so only the ratios of neighbouring runs are
compared, not the runs' absolute figures.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe

REPO = Path(__file__).resolve().parent.parent
_CPU = re.compile(r"CPU per answered request: server ([0-9.]+) ms")


def cpu_per_read(checkout: Path, home: Path, seconds: float, port: int) -> float:
    """One closed-loop run of reads from ``checkout``'s code: server CPU ms per request."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "load.txt"
        subprocess.run(
            [
                sys.executable, str(checkout / "benchmarks" / "load.py"), "--home", str(home),
                "--workers", "1", "--writes", "0", "--only", "closed", "--concurrency", "4",
                "--seconds", str(seconds), "--port", str(port), "--out", str(out),
            ],
            env={**os.environ, "PYTHONPATH": str(checkout)},
            cwd=checkout,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        found = _CPU.search(out.read_text())
        if found is None:
            raise RuntimeError(f"no CPU figure in the output of {checkout}")
        return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--against", required=True, help="a commit or a checkout folder")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8772)
    args = parser.parse_args()
    worktree: Path | None = None
    other = Path(args.against)
    if not other.is_dir():
        worktree = Path(tempfile.mkdtemp(prefix="load-ab-"))
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), args.against],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        other = worktree
    print(f"machine: {describe()}")
    print(f"home: {args.home}; against: {args.against}; {args.rounds} rounds of {args.seconds:g} s")
    ratios = []
    try:
        for n in range(1, args.rounds + 1):
            theirs = cpu_per_read(other, args.home, args.seconds, args.port)
            ours = cpu_per_read(REPO, args.home, args.seconds, args.port)
            ratios.append(ours / theirs)
            print(
                f"round {n}: against {theirs:.1f} ms, this checkout {ours:.1f} ms, "
                f"ratio {ours / theirs:.3f}",
                flush=True,
            )
    finally:
        if worktree is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False
            )
    print(f"median ratio (this checkout / against): {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
