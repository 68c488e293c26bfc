"""The ``demo`` command: generate the demo data, import it, build, and recommend."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from matcher.cli.common import (
    EXIT_OK,
    MAX_K,
    bounded_int,
    quiet_onnxruntime,
    show_progress,
)
from matcher.cli.query import print_recommendation
from matcher.domain.vocab import OrganisationKind

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``demo``."""
    p = sub.add_parser("demo", help="generate the demo data set, import it, build, recommend")
    p.add_argument("--seed", type=int, default=2026, help="generator seed (default 2026)")
    p.add_argument(
        "--clusters", type=bounded_int(1, 10**6), default=1500, help="cluster organisations"
    )
    p.add_argument("--smes", type=bounded_int(0, 10**6), default=3000, help="SMEs")
    p.add_argument(
        "-k", type=bounded_int(1, MAX_K), default=10, help="suggestions shown at the end (10)"
    )
    p.add_argument("--json", action="store_true", help="print the final suggestions as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, matcher: Matcher) -> int:
    """Write the demo files under the home, import and build them, recommend for a cluster."""
    from matcher.ingest import write_collaborations, write_organisations
    from matcher.lab.demo import generate_demo

    started = time.perf_counter()
    data = generate_demo(seed=args.seed, clusters=args.clusters, smes=args.smes)
    folder = matcher.home / "demo"
    orgs_path = folder / "organisations.csv"
    collabs_path = folder / "collaborations.csv"
    write_organisations(data.organisations, orgs_path)
    write_collaborations(data.collaborations, collabs_path)
    print(f"demo data written to {folder}", file=sys.stderr)
    report = matcher.import_platform(organisations=orgs_path, collaborations=collabs_path)
    print(report.summary(), file=sys.stderr)
    quiet_onnxruntime()
    build = matcher.build(show_progress=show_progress())
    print(build.summary(), file=sys.stderr)
    query = next(o for o in data.organisations if o.kind is OrganisationKind.CLUSTER)
    print(f"demo ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    suggestions = matcher.recommend(query.id, k=args.k)
    print_recommendation(
        matcher.organisation(query.id), suggestions, as_json=args.json, explain=True
    )
    return EXIT_OK
