"""The ``evaluate`` command: predict the next years' new partners from the past."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.cli.common import (
    EXIT_OK,
    MAX_K,
    DataError,
    UsageError,
    bounded_int,
    check_paths,
    print_json,
    quiet_onnxruntime,
    split_values,
)
from matcher.domain.choices import did_you_mean

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["add_parser", "check", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``evaluate``."""
    p = sub.add_parser(
        "evaluate", help="offline evaluation: predict the next years' new partners from the past"
    )
    p.add_argument("--cordis", type=Path, metavar="DIR", help="a directory in CORDIS's schema")
    p.add_argument(
        "--collaborations", type=Path, metavar="FILE", help="platform CSV or JSONL, dated"
    )
    p.add_argument(
        "--organisations", type=Path, metavar="FILE", help="with --collaborations: profiles"
    )
    p.add_argument(
        "--train-until",
        type=bounded_int(1900, 2100),
        required=True,
        metavar="YEAR",
        help="last train year",
    )
    p.add_argument("--test-years", required=True, metavar="Y1-Y2", help="e.g. 2017-2018")
    p.add_argument(
        "--queries", type=bounded_int(1, 10**7), default=2000, help="queries drawn (2000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of query draw and ties (default 0)")
    p.add_argument(
        "--methods",
        metavar="A,B,…",
        help="comma-separated methods (default with --cordis: random, popularity, adamic_adar, "
        "text, graph, hybrid, hybrid-forward, learned; otherwise the graph baselines); the "
        "profile methods need --cordis",
    )
    p.add_argument(
        "--ablations", action="store_true", help="add hybrid-minus-<signal> for every signal"
    )
    p.add_argument("--k", type=bounded_int(1, MAX_K), default=10, help="list length (10)")
    p.add_argument(
        "--bootstrap",
        type=bounded_int(0, 100_000),
        default=1000,
        help="resamples for the 95%% intervals (1000; 0: no intervals)",
    )
    p.add_argument(
        "--max-consortium",
        type=bounded_int(2, 10**6),
        default=50,
        help="leave out larger projects (default 50)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Check the sources, the years and the method names before any data is read.

    Raises:
        UsageError: a missing or doubled source, years out of order, an unknown method or
            one that needs profiles where there are none.
        DataError: a named file or directory does not exist.
    """
    from matcher.evaluation.harness import method_names, parse_years

    if bool(args.cordis) == bool(args.collaborations):
        raise UsageError("give either --cordis DIR or --collaborations FILE")
    if args.organisations and not args.collaborations:
        raise UsageError("--organisations goes with --collaborations")
    try:
        args.test_years = parse_years(args.test_years)
    except ValueError as exc:
        raise UsageError(f"--test-years: {exc}") from None
    if args.test_years[0] <= args.train_until:
        raise UsageError(
            f"--test-years {args.test_years[0]} must come after --train-until {args.train_until}"
        )
    check_paths(args, directory="cordis", files=("collaborations", "organisations"))
    from matcher.evaluation.offline import DEFAULT_METHODS, PROFILE_METHODS

    names = split_values(args.methods)
    if not names:
        names = [*DEFAULT_METHODS] if args.cordis else method_names()
    if args.ablations:
        names += [m for m in PROFILE_METHODS if m.startswith("hybrid-minus-")]
    graph_only = method_names()
    known = graph_only + ([*PROFILE_METHODS] if args.cordis else [])
    for name in names:
        if name in known:
            continue
        if name in PROFILE_METHODS:
            raise UsageError(
                f"--methods: {name!r} needs organisation profiles and project texts, which "
                f"only --cordis DIR provides; with --collaborations the methods are "
                f"{', '.join(graph_only)}"
            )
        every = [*graph_only, *PROFILE_METHODS]
        raise UsageError(
            f"--methods: unknown method {name!r}{did_you_mean(name, every)}; "
            f"known: {', '.join(every)}"
        )
    args.method_names = list(dict.fromkeys(names))


def run(args: argparse.Namespace, matcher: Matcher) -> int:
    """Read the split, register the profile methods with --cordis, evaluate, report."""
    from matcher.evaluation.harness import (
        Split,
        evaluate,
        read_collaborations_file,
        read_organisations_file,
        scorers_for,
    )

    options = {"queries": args.queries, "seed": args.seed, "max_consortium": args.max_consortium}
    if args.cordis:
        from matcher.evaluation.offline import CordisStates, register_profile_methods

        quiet_onnxruntime()
        split = Split.from_cordis(args.cordis, args.train_until, args.test_years, **options)
        states = CordisStates(args.cordis, matcher.home / "evaluation")
        register_profile_methods(states, split)
    else:
        organisations = read_organisations_file(args.organisations) if args.organisations else None
        split = Split.from_collaborations(
            read_collaborations_file(args.collaborations),
            args.train_until,
            args.test_years,
            organisations=organisations,
            source=str(args.collaborations),
            **options,
        )
    if not len(split.queries):
        raise DataError(
            f"no organisation has a new partner in {args.test_years[0]}–{args.test_years[1]} "
            "among those active by --train-until: nothing to evaluate"
        )
    report = evaluate(
        split,
        scorers_for(split, args.method_names),
        k=args.k,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(report.to_text())
    return EXIT_OK
