"""Run every benchmark of the project and write a dated report with the machine's description.

Usage: python benchmarks/run_all.py [--out docs/benchmarks.md] [--only NAME,…] [--cordis DIR]

Each benchmark is a script in this folder that prints its own figures; this runs them one
after another (never side by side: the machine has two cores) and gathers their output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def benchmarks(cordis: Path, demo_home: Path) -> dict[str, list[str]]:
    py = sys.executable
    env_home = ["env", f"MATCHER_HOME={demo_home}"]
    return {
        "demo build": [*env_home, str(Path(py).parent / "matcher"), "demo"],
        "recommend latency": [py, str(HERE / "recommend.py"), "--home", str(demo_home)],
        "encoding backends": [py, str(HERE / "encoding.py")],
        "vector index": [py, str(HERE / "index.py")],
        "table planner": [py, str(HERE / "tables.py")],
        "evaluation (CORDIS, train ≤ 2016, test 2017–2018)": [
            *env_home, str(Path(py).parent / "matcher"), "evaluate", "--cordis", str(cordis),
            "--train-until", "2016", "--test-years", "2017-2018",
        ],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--only", help="comma-separated benchmark names (substrings)")
    parser.add_argument("--cordis", type=Path, default=REPO.parent / "shared/data/cordis")
    args = parser.parse_args()
    demo_home = Path(tempfile.mkdtemp(prefix="matcher-bench-"))
    chosen = benchmarks(args.cordis, demo_home)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        chosen = {k: v for k, v in chosen.items() if any(w in k for w in wanted)}
    lines = [
        f"# Benchmarks, {dt.date.today().isoformat()}",
        "",
        f"Machine: {describe()}.",
        "",
        "Produced by `python benchmarks/run_all.py`; each section is one script's output.",
    ]
    for name, command in chosen.items():
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=REPO,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )  # fmt: skip
        seconds = time.perf_counter() - started
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        lines += ["", f"## {name}", "", f"{status}, {seconds:.0f} s wall.", "", "```"]
        lines += [proc.stdout.rstrip() or proc.stderr.rstrip()[-3000:], "```"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"report written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
