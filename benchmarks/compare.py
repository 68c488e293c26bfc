"""Two checkouts' ``recommend`` side by side (``benchmarks/recommend.py --compare REV``).

Each checkout runs ``recommend.py --worker`` in a process of its own (its code first on the
path); both load the same home. Every query goes to both in turn, the order alternating,
so load from elsewhere falls on both alike. Printed: the commits, the medians of wall and
CPU time of each side and their ratios, and how many answers differ (none should).
``before_home`` gives the older checkout a copy of the home of its own (needed when the
newer code has migrated the store past what the older one opens).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings

HERE = Path(__file__).resolve().parent.parent


def _describe_tree(tree: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tree, capture_output=True, text=True, check=True
        ).stdout.strip()

    changed = git("status", "--porcelain", "--", "matcher", "models", "benchmarks")
    dirty = " (with uncommitted changes)" if changed else ""
    return f"{git('rev-parse', '--short', 'HEAD')} {git('log', '-1', '--format=%s')[:70]!r}{dirty}"


class Side:
    """One checkout's worker process."""

    def __init__(self, name: str, tree: Path, home: Path, k: int, explain: bool) -> None:
        self.name, self.tree = name, tree
        env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'benchmarks'}"}
        command = [sys.executable, str(HERE / "benchmarks" / "recommend.py"), "--worker"]
        command += ["--home", str(home), "-k", str(k)] + ([] if explain else ["--no-explain"])
        self.proc = subprocess.Popen(
            command, cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        line = self.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{name}: the worker did not start ({line!r})")
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def ask(self, q: str, record: bool) -> str:
        self.stdin.write(q + "\n")
        self.stdin.flush()
        wall, cpu, digest = json.loads(self.stdout.readline())
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)
        return str(digest)

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(timeout=60)


def compare_checkouts(
    home: Path, other: str, calls: int, k: int, explain: bool, before_home: Path | None = None
) -> None:
    """Time this checkout against ``other`` (a commit or a folder), call by call in turn."""
    with Matcher(Settings(home=home)) as m:
        ids = m.store.organisation_ids()
    rng = random.Random(0)
    todo = [rng.choice(ids) for _ in range(calls)]
    made: Path | None = None
    if Path(other).is_dir():
        tree = Path(other).resolve()
    else:
        made = Path(tempfile.mkdtemp(prefix="recommend-compare-")) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(made), other],
            cwd=HERE, check=True, capture_output=True,
        )  # fmt: skip
        tree = made
    try:
        before = f"{_describe_tree(tree)} ({'a temporary worktree' if made else tree})"
        old = Side("before", tree, before_home or home, k, explain)
        new = Side("after", HERE, home, k, explain)
        differ = []
        for n, q in enumerate([*todo[:20], *todo]):
            record = n >= 20
            pair = (old, new) if n % 2 == 0 else (new, old)
            got = {side.name: side.ask(q, record) for side in pair}
            if got["before"] != got["after"]:
                differ.append(q)
        old.close()
        new.close()
    finally:
        if made is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(made)], cwd=HERE, check=False
            )
    print(f"machine: {describe()}")
    print(f"home: {home} ({len(ids):,} organisations)")
    if before_home is not None:
        print(f"before's home: {before_home} (a copy of the same home, for the older code)")
    print(f"before: {before}")
    print(f"after:  {_describe_tree(HERE)} ({HERE})")
    print(
        f"calls: {calls} per side after 20 warm-up calls, k={k}, reasons "
        f"{'on' if explain else 'off'}, one BLAS thread; each query to both sides in turn, "
        "the first side alternating"
    )
    for label, attr in (("wall", "wall"), ("CPU", "cpu")):
        for side in (old, new):
            v = sorted(getattr(side, attr))
            p90 = v[int(0.9 * len(v))]
            print(
                f"  {side.name:<6} {label:<4} median {statistics.median(v):6.2f}  "
                f"p90 {p90:6.2f}  mean {statistics.mean(v):6.2f} ms"
            )
        ratio = statistics.median(getattr(new, attr)) / statistics.median(getattr(old, attr))
        print(f"  median ratio after/before ({label}): {ratio:.2f}")
    print(
        f"answers (ranks, ids, scores, notes, reasons) that differ: {len(differ)} of "
        f"{len(todo) + 20}" + (f", e.g. {differ[:5]}" if differ else "")
    )
