"""Latency of Matcher.recommend in-process: median and p95 of N calls on a built home.

Usage: python benchmarks/recommend.py [--home DIR] [--calls 100] [-k 10]
       [--baseline REF [--rounds 10] [--baseline-home DIR]] [--busy]
(build the demo first: `MATCHER_HOME=DIR matcher demo`).

With ``--baseline``, a git revision (e.g. the commit before an optimisation) is unpacked
into a temporary folder and both versions run side by side: each in its own process, with
the index loaded and warmed up, taking turns (never at the same time) on the same queries
in ``--rounds`` slices, so both see the same machine load. ``--busy`` keeps one core busy
with another process for the whole run, as on a machine shared with another job. Each
call's CPU time (all the process's threads, busy-waiting BLAS threads included) is shown
too: unlike the wall-clock time it does not grow while other processes have the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

HERE = Path(__file__).resolve().parent


def summary(times: list[float]) -> str:
    times = sorted(times)
    return (
        f"median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * len(times)) - 1]:.2f} ms, max {times[-1]:.2f} ms"
    )


def queries(ids: list[str], calls: int) -> list[str]:
    rng = random.Random(0)
    return [rng.choice(ids) for _ in range(calls)]


def single(home: Path | None, calls: int, k: int) -> None:
    """Measure the code on sys.path alone."""
    from matcher.app.matcher import Matcher
    from matcher.app.settings import Settings

    settings = Settings(home=home) if home else Settings()
    with Matcher(settings) as m:
        ids = m.store.organisation_ids()
        todo = queries(ids, calls)
        started = time.perf_counter()
        m.recommend(todo[0], k=k)  # loads the index
        load = time.perf_counter() - started
        times = []
        for q in todo:
            t = time.perf_counter()
            m.recommend(q, k=k)
            times.append((time.perf_counter() - t) * 1000)
    print(f"machine: {describe()}")
    print(f"organisations: {len(ids)}, calls: {len(times)}, k={k}")
    print(f"first call (loads the index): {load * 1000:.1f} ms")
    print(f"recommend latency: {summary(times)}")


def worker(home: Path | None, k: int) -> None:
    """Serve timing requests on stdin: a JSON list of ids in, a JSON list of ms out."""
    import matcher
    from matcher.app.matcher import Matcher
    from matcher.app.settings import Settings

    settings = Settings(home=home) if home else Settings()
    with Matcher(settings) as m:
        ids = m.store.organisation_ids()
        for q in queries(ids, 20):  # load the index and warm up
            m.recommend(q, k=k)
        hello = {"code": str(Path(matcher.__file__).parent), "ids": ids}
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            times, cpu = [], []
            for q in json.loads(line):
                t, c = time.perf_counter(), time.process_time()
                m.recommend(q, k=k)
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
            print(json.dumps([times, cpu]), flush=True)


def unpack(ref: str, into: Path) -> Path:
    """The tree of a git revision, unpacked into a folder."""
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(HERE.parent), "archive", ref], stdout=out, check=True)
    subprocess.run(["tar", "-xf", str(archive), "-C", str(into)], check=True)
    return into


def side_by_side(
    home: Path | None,
    calls: int,
    k: int,
    baseline: str,
    rounds: int,
    busy: bool,
    baseline_home: Path | None = None,
) -> None:
    """Alternate the baseline revision and this tree on the same queries.

    ``baseline_home`` (default ``home``) is a copy of the same state for the baseline, for
    when this tree's store schema is newer than the baseline can open.
    """
    with tempfile.TemporaryDirectory() as tmp:
        trees = {f"baseline {baseline}": unpack(baseline, Path(tmp)), "this tree": HERE.parent}
        homes = {f"baseline {baseline}": baseline_home or home, "this tree": home}
        procs = {}
        for name, tree in trees.items():
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "-k", str(k)]
            if homes[name]:
                cmd += ["--home", str(homes[name])]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            procs[name] = subprocess.Popen(
                cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        hello = {}
        for name, proc in procs.items():
            assert proc.stdout is not None
            hello[name] = json.loads(proc.stdout.readline())
        burner = None
        if busy:
            burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        todo = queries(next(iter(hello.values()))["ids"], calls)
        times: dict[str, list[float]] = {name: [] for name in procs}
        cpu: dict[str, list[float]] = {name: [] for name in procs}
        size = max(1, len(todo) // rounds)
        try:
            for n, start in enumerate(range(0, len(todo), size)):
                chunk = todo[start : start + size]
                order = list(procs) if n % 2 == 0 else list(procs)[::-1]
                for name in order:
                    time.sleep(0.2)  # let the other version's idle BLAS threads go to sleep
                    proc = procs[name]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(chunk) + "\n")
                    proc.stdin.flush()
                    wall, used = json.loads(proc.stdout.readline())
                    times[name] += wall
                    cpu[name] += used
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
            for proc in procs.values():
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait()
    print(f"machine: {describe()}")
    ids = len(next(iter(hello.values()))["ids"])
    load = ", one other process keeping a core busy" if busy else ""
    print(f"organisations: {ids}, calls: {len(todo)} per version in {rounds} alternating "
          f"rounds, k={k}{load}")  # fmt: skip
    for name, values in times.items():
        print(f"{name} ({hello[name]['code']}): {summary(values)}")
        print(f"  CPU time of the process per call: {summary(cpu[name])}")
    base, new = (times[n] for n in procs)
    base_cpu, new_cpu = (cpu[n] for n in procs)
    print(
        f"ratio baseline / this tree: median {ratio(base, new, 0.5):.2f}x, "
        f"p95 {ratio(base, new, 0.95):.2f}x; CPU time median {ratio(base_cpu, new_cpu, 0.5):.2f}x"
    )


def ratio(base: list[float], new: list[float], q: float) -> float:
    def at(values: list[float]) -> float:
        values = sorted(values)
        return statistics.median(values) if q == 0.5 else values[int(q * len(values)) - 1]

    return at(base) / at(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--baseline", default=None, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    parser.add_argument(
        "--baseline-home", type=Path, default=None, help="a copy of --home for the baseline"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.home, args.k)
    elif args.baseline:
        side_by_side(
            args.home,
            args.calls,
            args.k,
            args.baseline,
            args.rounds,
            args.busy,
            args.baseline_home,
        )
    else:
        single(args.home, args.calls, args.k)


if __name__ == "__main__":
    main()
