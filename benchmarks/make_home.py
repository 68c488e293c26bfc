"""Write a CORDIS-shaped benchmark home in the platform's import format.

Usage:
    python benchmarks/make_home.py --organisations 100000 --seed 0 --out DIR
        [--cordis DIR] [--refit] [--sample 5000] [--no-old] [--repeat 1]

Generates ``--organisations`` profiles with the demo generator's machinery over a
collaboration graph whose degree distribution is CORDIS's (matcher/lab/scale.py), writes
``DIR/organisations.csv`` and ``DIR/collaborations.csv``, and prints the distribution of
partners per organisation side by side: the real CORDIS graph (projects of at most 50
participants, all years), the generator at CORDIS's size, the new home, and the old
hub-free 100k set of benchmarks/load.py (``synthetic(size, 2000)``, as the load and
recommend benchmarks built it). ``--refit`` re-fits the generator to ``--cordis`` first and
rewrites matcher/lab/data/cordis_fit.json; ``--sample N`` also writes N organisations at
random with the collaborations among them to ``DIR/sample-N/`` (to try ``matcher import``);
``--repeat N`` generates N times (same seed, same home) and reports the median time.
Nothing is encoded or built: import the files, then ``matcher build``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: no progress bars

import numpy as np
from machine import describe

from matcher.lab.scale import (
    FIT_PATH,
    DegreeSummary,
    degrees,
    fit_cordis,
    generate_home,
    load_fit,
    measure_cordis,
    save_fit,
    simulate_degrees,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORDIS = REPO.parent / "shared" / "data" / "cordis"

_ROWS = [
    ("organisations", "organisations", "{:,.0f}"),
    ("median partners", "median", "{:,.0f}"),
    ("mean", "mean", "{:,.1f}"),
    ("p90", "p90", "{:,.0f}"),
    ("p99", "p99", "{:,.0f}"),
    ("p99.9", "p999", "{:,.0f}"),
    ("max", "max", "{:,.0f}"),
    ("share with 0 partners", "zero_share", "{:.3f}"),
]


def old_hub_free(size: int) -> DegreeSummary:
    """Degrees of the old synthetic set of benchmarks/load.py (``--combos`` 2000, seed 0)."""
    from load import synthetic

    orgs, collabs = synthetic(size, 2_000)
    index = {o.id: i for i, o in enumerate(orgs)}
    pairs = [np.array([index[c.organisation_a], index[c.organisation_b]]) for c in collabs]
    return DegreeSummary.of(degrees(len(orgs), pairs))


def table(columns: dict[str, DegreeSummary], reference: str) -> str:
    """The summaries side by side, then each column's ratio to ``reference``'s."""
    names = list(columns)
    width = max(14, *(len(n) for n in names))
    lines = [f"{'':<22}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for label, attr, fmt in _ROWS:
        cells = "".join(f"{fmt.format(getattr(columns[n], attr)):>{width + 2}}" for n in names)
        lines.append(f"{label:<22}{cells}")
    ref = columns[reference]
    lines.append(f"ratio to {reference}:")
    for label, attr, _ in _ROWS[1:7]:
        base = getattr(ref, attr)
        cells = "".join(
            f"{getattr(columns[n], attr) / base if base else float('nan'):>{width + 2}.2f}"
            for n in names
        )
        lines.append(f"  {label:<20}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organisations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cordis", type=Path, default=DEFAULT_CORDIS)
    parser.add_argument("--refit", action="store_true", help=f"re-fit and rewrite {FIT_PATH}")
    parser.add_argument("--sample", type=int, default=0, help="also write a sample of N")
    parser.add_argument("--no-old", action="store_true", help="skip the old hub-free set")
    parser.add_argument("--repeat", type=int, default=1, help="time the generation N times")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    print(f"# benchmarks/make_home.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ}")
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"machine: {describe()}")
    if args.refit:
        started = time.perf_counter()
        save_fit(fit_cordis(args.cordis))
        print(f"re-fitted to {args.cordis} in {time.perf_counter() - started:.1f} s")
    fit = load_fit()
    print(
        f"fit: homophily {fit.homophily}, spread {fit.spread} "
        f"(participations per organisation and project sizes from CORDIS; {fit.source})"
    )

    times = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        home = generate_home(args.organisations, args.seed)
        times.append(time.perf_counter() - started)
    made = statistics.median(times)
    if len(times) > 1:
        print("generation times: " + ", ".join(f"{t:.1f} s" for t in times))
    started = time.perf_counter()
    n_orgs, n_collabs = home.write(args.out)
    written = time.perf_counter() - started
    print(
        f"generated {n_orgs:,} organisations and {len(home.projects):,} projects in {made:.1f} s"
        f"{' (median)' if len(times) > 1 else ''}; "
        f"wrote {n_collabs:,} collaborations to {args.out} in {written:.1f} s"
    )
    if args.sample:
        started = time.perf_counter()
        part = home.sample(args.sample, args.seed)
        s_orgs, s_collabs = part.write(args.out / f"sample-{args.sample}")
        print(
            f"sample: {s_orgs:,} organisations and {s_collabs:,} collaborations in "
            f"{args.out / f'sample-{args.sample}'} ({time.perf_counter() - started:.1f} s)"
        )

    columns: dict[str, DegreeSummary] = {}
    if (args.cordis / "organization.csv.gz").is_file() or (
        args.cordis / "organization.csv"
    ).is_file():
        columns["CORDIS"] = DegreeSummary.of(measure_cordis(args.cordis).degrees)
    else:
        print(f"(no CORDIS data at {args.cordis}: its column is the fit's stored target)")
        columns["CORDIS"] = fit.target
    columns["model@CORDIS"] = DegreeSummary.of(
        simulate_degrees(fit.target.organisations, fit, seed=args.seed)
    )
    columns["new home"] = DegreeSummary.of(home.degrees())
    if not args.no_old:
        columns["old hub-free"] = old_hub_free(args.organisations)
    print()
    print("## Partners per organisation (distinct; CORDIS: projects of <= 50 participants)")
    print(table(columns, "CORDIS"))


if __name__ == "__main__":
    main()
