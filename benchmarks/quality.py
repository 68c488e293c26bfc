"""Ranking quality on CORDIS: the product (``default``) against the baselines, by variant.

Usage:
    python benchmarks/quality.py [--cordis DIR] [--train-until 2016] [--test-years 2017-2018]
        [--queries 2000] [--ablations] [--variant NAME:SETTING=VALUE,...] ... [--root DIR]

Each variant is the product built with some settings changed (``MATCHER_*`` names without
the prefix, e.g. ``--variant pool600:POOL_TWO_HOP=600``); ``--variant base`` is the
defaults. The CORDIS directory is imported once up to the end of the train year into a
home under ``--root`` (kept between runs); each variant rebuilds it with its settings (the
product's build, which learns its ranker from the history before that year; texts are
encoded once) and is evaluated with the
protocol of ``../shared/data/README.md`` through ``matcher.evaluation`` (the same code as
``matcher evaluate``). Printed: the harness's table for the first variant (with the
ablations of each signal when asked), then one line per variant with nDCG@10 and its 95 %
interval, and the machine. Source: CORDIS, European Commission.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from machine import describe

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.evaluation.harness import Split, evaluate, parse_years
from matcher.evaluation.product import ProductHomes, register_product_methods
from matcher.ranking.features import SIGNALS

REPO = Path(__file__).resolve().parent.parent
BASELINES = ["random", "popularity", "common_neighbours", "adamic_adar"]


def variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition(":")
    changes = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, {k.lower(): v for k, v in changes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cordis", type=Path, default=REPO.parent / "shared/data/cordis")
    parser.add_argument("--train-until", type=int, default=2016)
    parser.add_argument("--test-years", default="2017-2018")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--variant", action="append", type=variant, default=[])
    parser.add_argument("--root", type=Path, default=Path("/tmp/matcher-quality"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    variants = args.variant or [("base", {})]
    first, last = parse_years(args.test_years)
    split = Split.from_cordis(args.cordis, args.train_until, (first, last), queries=args.queries)
    print(f"# benchmarks/quality.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%MZ}")
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"machine: {describe()}")
    print(split.summary())
    lines = []
    for n, (name, changes) in enumerate(variants):
        started = time.perf_counter()
        settings = Settings(**changes)  # type: ignore[arg-type]
        homes = ProductHomes(
            args.root,
            lambda m, until: m.import_cordis(args.cordis, until=until),
            str(args.cordis.resolve()),
            settings=settings,
        )
        ablations = list(SIGNALS) if args.ablations and n == 0 else []
        names = register_product_methods(split, homes, ablations=ablations)
        report = evaluate(split, [*BASELINES, *names] if n == 0 else names, bootstrap=1000)
        if n == 0:
            print()
            print(report.to_text())
        result = report.methods["default"]
        lo, hi = result.ci["ndcg@10"]
        matcher: Matcher = homes.matcher(dt.date(args.train_until, 12, 31))
        scorer = matcher.live().context.scorer
        lines.append(
            f"{name:<16} nDCG@10 {result.metrics['ndcg@10']:.3f} [{lo:.3f}, {hi:.3f}]  "
            f"MRR {result.metrics['mrr']:.3f}  hits@10 {result.metrics['hits@10']:.3f}  "
            f"ranker {scorer.ranker.card.get('kind')}  settings {changes or 'defaults'}  "
            f"({time.perf_counter() - started:.0f} s)"
        )
    print("\nvariants (the product, 'default', built with each):")
    for line in lines:
        print(line)
    print("\nSource: CORDIS, European Commission.")


if __name__ == "__main__":
    main()
