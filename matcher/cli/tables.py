"""The ``tables`` command: plan C2LAB workshop tables, round by round."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.cli.common import EXIT_OK, DataError, UsageError, print_json

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``tables``."""
    p = sub.add_parser("tables", help="plan C2LAB workshop tables, round by round")
    p.add_argument("participants", type=Path, help="participants CSV (see the docs)")
    p.add_argument("--table-size", type=int, default=8, help="people per table (default 8)")
    p.add_argument("--tables", type=int, help="number of tables (instead of --table-size)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    p.add_argument(
        "--time-limit", type=float, default=10.0, metavar="SEC", help="search time cap (10)"
    )
    p.add_argument("--min-countries", type=int, default=0, help="target: countries per table")
    p.add_argument(
        "--research-and-industry",
        action="store_true",
        help="target: a research and an industry member at each table",
    )
    p.add_argument(
        "--theme", action="append", metavar="N=TEXT", help="theme of table N (repeatable)"
    )
    p.add_argument("--allow-repeats", action="store_true", help="pairs may meet twice")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write one row per person per round")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, matcher: Matcher) -> int:
    """Read the participants, solve the seating, print it (and write the CSV).

    Raises:
        UsageError: a ``--theme`` not written ``N=TEXT``.
        DataError: options the participants cannot satisfy.
    """
    from matcher.planner.tables import (
        MixTargets,
        PlanOptions,
        build_problem,
        read_participants,
        solve,
    )

    themes: dict[int, str] = {}
    for item in args.theme or []:
        number, sep, text = item.partition("=")
        if not sep or not number.strip().isdigit() or not text.strip():
            raise UsageError(f"--theme {item!r}: write TABLE=TEXT, e.g. 2=agri_food")
        themes[int(number)] = text.strip()
    participants = read_participants(args.participants)
    try:
        options = PlanOptions(
            rounds=args.rounds,
            table_size=args.table_size if args.tables is None else None,
            tables=args.tables,
            themes=themes,
            mix=MixTargets(
                min_countries=args.min_countries, research_and_industry=args.research_and_industry
            ),
            no_repeat=not args.allow_repeats,
            seed=args.seed,
            time_limit=args.time_limit,
        )
        plan = solve(build_problem(matcher, participants, options))
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if args.csv:
        args.csv.write_text(plan.to_csv(), encoding="utf-8")
        print(f"seating written to {args.csv}", file=sys.stderr)
    data = plan.to_json()
    if args.json:
        print_json(data)
        return EXIT_OK
    for rnd in data["rounds"]:
        print(f"Round {rnd['round']}")
        for table in rnd["tables"]:
            print(f"  Table {table['table']} ({table['score']:.2f}): {table['theme']}")
            for m in table["members"]:
                who = f"{m['person']} ({m['name']})" if m["person"] else m["name"]
                host = ", host" if m["host"] else ""
                print(f"    - {who}, {m['country'] or '?'}, {m['kind']}{host}")
            for reason in table["reasons"]:
                print(f"      why: {reason}")
    for missed in data["missed_targets"]:
        print(
            f"target missed in round {missed['round']}, table {missed['table']}: "
            f"{missed['message']}"
        )
    print(
        f"score {data['score']:.3f} (pairs {data['pair_score']:.3f}, themes "
        f"{data['theme_score']:.3f}, mix shortfall −{data['mix_penalty']:.3f})"
    )
    return EXIT_OK
