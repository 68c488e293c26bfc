"""The query commands: ``recommend`` and ``complete``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from matcher.cli.common import (
    EXIT_OK,
    MAX_K,
    add_filter_options,
    bounded_int,
    check_filters,
    filters_of,
    print_json,
    print_reasons,
    print_suggestions,
    quiet_onnxruntime,
)

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher, Recommendation
    from matcher.domain.schema import Organisation

__all__ = ["add_parsers", "print_recommendation", "run_complete", "run_recommend"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``recommend`` and ``complete``."""
    p = sub.add_parser("recommend", help="ranked partner suggestions for an organisation")
    p.add_argument("organisation_id", metavar="ORG_ID", help="the organisation's id")
    p.add_argument(
        "-k", type=bounded_int(1, MAX_K), default=10, help=f"how many suggestions, 1-{MAX_K} (10)"
    )
    p.add_argument("--json", action="store_true", help="print suggestions as JSON")
    p.add_argument("--explain", action="store_true", help="print the reasons under the table")
    add_filter_options(p)
    p.set_defaults(run=run_recommend, check=check_filters)

    p = sub.add_parser("complete", help="partners that complete a consortium")
    p.add_argument("organisation_ids", nargs="+", metavar="ORG_ID", help="the members so far")
    p.add_argument(
        "-k", type=bounded_int(1, MAX_K), default=10, help=f"how many suggestions, 1-{MAX_K} (10)"
    )
    p.add_argument("--topic", help="the call topic, in words")
    p.add_argument("--json", action="store_true", help="print suggestions as JSON")
    p.add_argument("--explain", action="store_true", help="print the reasons under the table")
    add_filter_options(p)
    p.set_defaults(run=run_complete, check=check_filters)


def print_recommendation(
    query: Organisation, found: Recommendation, *, as_json: bool, explain: bool
) -> None:
    """A query's suggestions as a table (with reasons) or as JSON, with what was left out."""
    if as_json:
        print_json(
            {
                "query": query.model_dump(mode="json"),
                "suggestions": [s.model_dump(mode="json") for s in found],
                "left_out": dataclasses.asdict(found.left_out),
                "calibrated": found.calibrated,
                "note": found.note,
            }
        )
        return
    print(f"Partners for {query.name} ({query.kind.label}, {query.country or '?'}, {query.id}):")
    _print(found, explain=explain)


def run_recommend(args: argparse.Namespace, matcher: Matcher) -> int:
    """The best partners for one stored organisation."""
    query = matcher.organisation(args.organisation_id)
    found = matcher.recommend(
        args.organisation_id, k=args.k, filters=filters_of(args), explain=args.explain or args.json
    )
    print_recommendation(query, found, as_json=args.json, explain=args.explain)
    return EXIT_OK


def run_complete(args: argparse.Namespace, matcher: Matcher) -> int:
    """Partners that fit every member of a consortium and fill its gaps."""
    members = [matcher.organisation(i) for i in dict.fromkeys(args.organisation_ids)]
    if args.topic:
        quiet_onnxruntime()  # the topic is encoded
    found = matcher.complete(
        [m.id for m in members],
        k=args.k,
        topic=args.topic,
        filters=filters_of(args),
        explain=args.explain or args.json,
    )
    if args.json:
        print_json({"suggestions": [s.model_dump(mode="json") for s in found]})
        return EXIT_OK
    print(f"Partners to complete the consortium of {', '.join(m.name for m in members)}:")
    _print(found, explain=args.explain)
    return EXIT_OK


def _print(found: Recommendation, *, explain: bool) -> None:
    if found.suggestions:
        print_suggestions(found)
        if explain:
            print_reasons(found)
    left = found.left_out
    parts = [
        f"{n} {what}"
        for n, what in (
            (left.partners, "existing partner(s)"),
            (left.blocked, "blocked"),
            (left.not_interested, "marked not interested"),
            (left.filtered, "excluded by the filters"),
        )
        if n
    ]
    if parts:
        print(f"\nleft out: {', '.join(parts)}")
    if found.calibrated:
        print("chance: the probability of a new partnership within two years")
    if found.note:
        print(f"note: {found.note}", file=sys.stderr)
