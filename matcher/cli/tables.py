"""``matcher tables``: plan C2LAB workshop tables from a participants CSV.

Exit codes: 0 planned; 1 bad data or a request that cannot be met (one line on stderr
naming the rule, the proof, the largest number of rounds that works and the
alternatives); 2 bad usage (argparse's own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.cli.common import EXIT_OK, DataError, print_json

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["add_parser", "run"]


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
        return value

    return parse


def _theme(text: str) -> tuple[int, str]:
    number, sep, theme = text.partition("=")
    if not sep or not number.strip().isdigit() or not theme.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write TABLE=TEXT, e.g. 2=agri_food")
    return int(number), theme.strip()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tables`` on the CLI's subparsers; its ``run`` default is :func:`run`."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "tables",
        help="plan C2LAB workshop tables, round by round",
        description="Seat a workshop's participants at tables, round by round: no pair "
        "meets twice, existing partners are kept apart, every rule is kept or the request "
        "is refused with the reason and what would work.",
    )
    p.add_argument("participants", type=Path, help="participants CSV (docs/planner.md)")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--table-size",
        type=_positive(int),
        help="people per table (default: the largest up to 8 that the rounds allow)",
    )
    size.add_argument("--tables", type=_positive(int), help="number of tables instead")
    p.add_argument("--rounds", type=_positive(int), default=3, help="rounds (default 3)")
    p.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    p.add_argument(
        "--time-limit",
        type=_positive(float),
        default=10.0,
        metavar="SEC",
        help="search time cap in seconds (default 10; a refusal may take twice as long)",
    )
    p.add_argument("--min-countries", type=int, default=0, help="target: countries per table")
    p.add_argument(
        "--research-and-industry",
        action="store_true",
        help="target: a research and an industry member at each table",
    )
    p.add_argument(
        "--theme", action="append", type=_theme, metavar="N=TEXT", help="theme of table N"
    )
    p.add_argument("--allow-repeats", action="store_true", help="pairs may meet again (costs)")
    p.add_argument(
        "--allow-partners",
        action="store_true",
        help="do not keep organisations that already collaborate apart",
    )
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=2,
        help="CP-SAT threads (2)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write one row per person per round")
    p.add_argument("--agenda", type=Path, metavar="OUT", help="write each person's agenda (CSV)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, matcher: Matcher) -> int:
    """Plan and print.

    Raises:
        DataError: unreadable participants, or a request that cannot be met (the rule, the
            proof, the largest number of rounds that works).
    """
    from matcher.planner import (
        InfeasiblePlanError,
        InvalidParticipantsError,
        MixTargets,
        PlanOptions,
        build_problem,
        read_participants,
        solve,
    )

    try:
        participants = read_participants(args.participants)
        options = PlanOptions(
            rounds=args.rounds,
            table_size=args.table_size,
            tables=args.tables,
            themes=dict(args.theme or []),
            mix=MixTargets(
                min_countries=args.min_countries, research_and_industry=args.research_and_industry
            ),
            no_repeat=not args.allow_repeats,
            avoid_partners=not args.allow_partners,
            seed=args.seed,
            time_limit=args.time_limit,
            workers=args.workers,
        )
        problem = build_problem(matcher, participants, options)
        for note in problem.notes:
            print(f"note: {note}", file=sys.stderr)
        plan = solve(problem)
    except InfeasiblePlanError as exc:
        raise DataError(_refusal(exc)) from None
    except (InvalidParticipantsError, ValueError, OSError) as exc:
        raise DataError(str(exc)) from None
    if args.csv:
        args.csv.write_text(plan.to_csv(), encoding="utf-8")
        print(f"seating written to {args.csv}", file=sys.stderr)
    if args.agenda:
        args.agenda.write_text(plan.agenda_csv(), encoding="utf-8")
        print(f"agendas written to {args.agenda}", file=sys.stderr)
    data = plan.to_json()
    if args.json:
        print_json(data)
        return EXIT_OK
    print(_text(data))
    return EXIT_OK


def _refusal(exc: Any) -> str:
    """One line: the rule and reason, the proof, the largest round count, alternatives."""
    proof = {"counting": "proof: counting bound", "solver": "proof: CP-SAT"}.get(
        exc.proof, "not proven impossible"
    )
    text = f"{exc} ({proof})"
    if exc.max_rounds:
        text += f"; the largest number of rounds that works is {exc.max_rounds}"
    return " ".join(text.split())


def _text(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for rnd in data["rounds"]:
        lines.append(f"Round {rnd['round']}")
        for table in rnd["tables"]:
            lines.append(f"  Table {table['table']} ({table['score']:.2f}): {table['theme']}")
            for m in table["members"]:
                who = f"{m['person']} ({m['name']})" if m["person"] else m["name"]
                host = ", host" if m["host"] else ""
                lines.append(f"    - {who}, {m['country'] or '?'}, {m['kind']}{host}: {m['why']}")
            for reason in table["reasons"]:
                lines.append(f"      why: {reason}")
    for missed in data["missed_targets"]:
        lines.append(
            f"target missed in round {missed['round']}, table {missed['table']}: "
            f"{missed['message']}"
        )
    parts = [f"pairs {data['pair_score']:.3f}"]
    for name, key in (
        ("themes", "theme_score"),
        ("mix shortfall", "mix_penalty"),
        ("partners", "partner_penalty"),
        ("repeats", "repeat_penalty"),
    ):
        if data[key] > 0:
            sign = "+" if key == "theme_score" else "−"
            parts.append(f"{name} {sign}{data[key]:.3f}")
    lines.append(f"score {data['score']:.3f} ({', '.join(parts)})")
    search = data.get("search") or {}
    if search.get("bound") is not None:
        gap = search["gap"]
        lines.append(
            f"bound {search['bound']:.3f} ({search['bound_source']}); gap {100 * gap:.1f} % "
            f"({search['status']}, {search['seconds']:.1f} s)"
        )
    together = data["partners_together"]
    lines.append(
        f"existing partners seated together: {len(together)}"
        + (f" ({'; '.join(' & '.join(p) for p in together)})" if together else "")
    )
    return "\n".join(lines)
