"""The load test under two settings of the environment, in alternating rounds.

Usage:
    python benchmarks/load_settings_ab.py --home DIR --a MATCHER_WRITE_NICE=0 \\
        --b MATCHER_WRITE_NICE=10 [--rounds 3] [--rates 100 | --closed 8] [--seconds 60]

Each round copies ``--home`` (side b: ``--b-home`` when given) afresh for each side (the
load test writes to its home) and runs ``benchmarks/load.py`` (two workers, the open
loop at ``--rates``) with ``--a``'s settings, then with ``--b``'s. Printed per round and
side (the open loop at ``--rates``, or with ``--closed N`` the closed loop of N
connections instead): the line for all requests (p50, p99, share over 50 ms), the reads' and
the profile writes' lines, and the server's CPU per request, and the requests answered
per second, failed and refused. The host's speed drifts between runs by more than some
of the differences this is for: compare the two sides of a round, and the rounds'
medians.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe

HERE = Path(__file__).resolve().parent
_ALL = re.compile(r"^\s+all\s+p50\s+([0-9.]+) ms\s+p99\s+([0-9.]+) ms\s+over 50 ms: ([0-9.]+)%")
_KIND = re.compile(r"^\s+(read|organisations)\s+n=\d+\s+p50\s+([0-9.]+) ms\s+p99\s+([0-9.]+) ms")
_CPU = re.compile(r"CPU per answered request: server ([0-9.]+) ms")
_WHY = {
    "a ranking's expected wait above the budget": "refused at once",
    "a ranking still waiting at twice the budget": "refused after waiting",
}
_OPEN = re.compile(
    r"^(?:open|closed) loop, .* = ([0-9.]+) req/s, errors: (\d+)"
    r"(?:, refused 503 overloaded: (\d+))?"
)


def run(home: Path, settings: list[str], loop: list[str], seconds: float) -> dict[str, float]:
    """One load test on a fresh copy of ``home``: its figures by name.

    ``loop``: the load test's arguments naming the loop (``--only open --rates R`` or
    ``--only closed --concurrency N``).
    """
    env = os.environ | dict(s.split("=", 1) for s in settings)
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        copy = Path(tmp) / "home"
        shutil.copytree(home, copy, symlinks=True)
        out = Path(tmp) / "load.txt"
        subprocess.run(
            [
                sys.executable, str(HERE / "load.py"), "--home", str(copy), "--workers", "2",
                *loop, "--seconds", str(seconds), "--out", str(out),
            ],
            env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        figures: dict[str, float] = {}
        for line in out.read_text().splitlines():
            if m := _OPEN.match(line):
                figures |= {"answered req/s": float(m[1]), "errors": float(m[2])}
                figures["refused"] = float(m[3] or 0)
            elif m := _ALL.match(line):
                figures |= {"all p50": float(m[1]), "all p99": float(m[2])}
                figures["over 50 ms %"] = float(m[3])
            elif m := _KIND.match(line):
                figures |= {f"{m[1]} p50": float(m[2]), f"{m[1]} p99": float(m[3])}
            elif line.strip().startswith("refused because:"):
                for cause, short in _WHY.items():
                    if m := re.search(re.escape(cause) + r" (\d+)", line):
                        figures[short] = float(m[1])
            elif m := _CPU.search(line):
                figures["server CPU ms"] = float(m[1])
        for short in _WHY.values():  # a cause no request was refused for: none
            figures.setdefault(short, 0.0)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--a", nargs="+", required=True, help="NAME=VALUE settings of side a")
    parser.add_argument("--b", nargs="+", required=True, help="NAME=VALUE settings of side b")
    parser.add_argument("--b-home", type=Path, default=None, help="side b's home (default: --home)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rates", default="100", help="one open-loop rate")
    parser.add_argument("--closed", type=int, default=0, help="closed loop of N connections")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    print(f"machine: {describe()} (the load client runs on the same cores)")
    homes = {"a": args.home, "b": args.b_home or args.home}
    if args.closed:
        loop = ["--only", "closed", "--concurrency", str(args.closed)]
        what = f"closed loop of {args.closed} connections"
    else:
        loop = ["--only", "open", "--rates", args.rates]
        what = f"open loop at {args.rates} req/s offered"
    print(f"home: a {homes['a']}, b {homes['b']}; {what}, {args.seconds:.0f} s")
    sides = {"a": args.a, "b": args.b}
    results: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    for n in range(1, args.rounds + 1):
        for side, settings in sides.items():
            figures = run(homes[side], settings, loop, args.seconds)
            results[side].append(figures)
            shown = ", ".join(f"{k} {v:g}" for k, v in figures.items())
            print(f"round {n} {side} ({' '.join(settings)}): {shown}", flush=True)
    for side, settings in sides.items():
        names = results[side][0].keys()
        medians = ", ".join(
            f"{k} {statistics.median(r[k] for r in results[side]):g}" for k in names
        )
        print(f"median {side} ({' '.join(settings)}): {medians}")


if __name__ == "__main__":
    main()
