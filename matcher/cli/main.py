"""The ``matcher`` command: results on stdout, logs on stderr, ``--json`` where output is data."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.cli import tables as tables_cli
from matcher.domain.errors import MatcherError
from matcher.domain.schema import Suggestion
from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage
from matcher.ranking.rank import Filters

__all__ = ["main"]

logger = logging.getLogger("matcher")


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_suggestions(suggestions: list[Suggestion]) -> None:
    rows = [
        [
            str(s.rank),
            _clip(s.organisation.name, 48),
            s.organisation.country or "?",
            s.organisation.kind.label,
            f"{s.score:.3f}",
            s.organisation.id,
        ]
        for s in suggestions
    ]
    print(_table(rows, ["#", "name", "country", "kind", "score", "id"]))


def _cmd_import(args: argparse.Namespace, matcher: Matcher) -> int:
    if args.cordis:
        if args.organisations or args.collaborations:
            raise SystemExit("use either --cordis or --organisations/--collaborations")
        until = dt.date.fromisoformat(args.until) if args.until else None
        report = matcher.import_cordis(args.cordis, until=until, skip_invalid=args.skip_invalid)
    elif args.organisations or args.collaborations:
        report = matcher.import_platform(
            organisations=args.organisations,
            collaborations=args.collaborations,
            skip_invalid=args.skip_invalid,
        )
    else:
        raise SystemExit("nothing to import: give --cordis DIR or --organisations FILE")
    if args.json:
        _print_json(
            {
                "organisations": report.organisations,
                "collaborations": report.collaborations,
                "projects": report.projects,
                "changed": report.changed,
                "rejected": len(report.rejected),
                "report": str(report.report_path) if report.report_path else None,
            }
        )
    else:
        print(report.summary())
    return 0


def _cmd_build(args: argparse.Namespace, matcher: Matcher) -> int:
    report = matcher.build(full=args.full)
    if args.json:
        _print_json(
            {
                "folder": str(report.folder),
                "organisations": report.organisations,
                "texts": report.texts,
                "encoded": report.encoded,
                "without_text": report.skipped,
                "seconds": round(report.seconds, 3),
                "up_to_date": report.up_to_date,
            }
        )
    else:
        print(report.summary())
    return 0


def _filters(args: argparse.Namespace) -> Filters:
    def split(value: str | None) -> frozenset[str]:
        return frozenset(v.strip() for v in (value or "").split(",") if v.strip())

    try:
        return Filters(
            countries=frozenset(c.upper() for c in split(getattr(args, "countries", None))),
            exclude_countries=frozenset(
                c.upper() for c in split(getattr(args, "exclude_countries", None))
            ),
            kinds=frozenset(OrganisationKind(v) for v in split(getattr(args, "kinds", None))),
            ecosystems=frozenset(Ecosystem(v) for v in split(getattr(args, "ecosystems", None))),
            stages=frozenset(Stage(v) for v in split(getattr(args, "stages", None))),
            languages=frozenset(v.lower() for v in split(getattr(args, "languages", None))),
        )
    except ValueError as exc:
        raise SystemExit(f"error: bad filter: {exc}") from None


def _add_filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--countries", metavar="CC,…", help="only these countries (ISO codes)")
    p.add_argument("--exclude-countries", metavar="CC,…", help="never these countries")
    p.add_argument("--kinds", metavar="K,…", help="only these kinds (e.g. sme,university)")
    p.add_argument("--ecosystems", metavar="E,…", help="only these ecosystems (e.g. agri_food)")
    p.add_argument("--stages", metavar="S,…", help="only these value-chain stages")
    p.add_argument("--languages", metavar="L,…", help="only organisations speaking one of these")


def _print_reasons(suggestions: list[Suggestion]) -> None:
    for s in suggestions:
        flags = f" [{', '.join(s.flags)}]" if s.flags else ""
        print(f"\n{s.rank}. {s.organisation.name}{flags}")
        for r in s.reasons:
            print(f"   - {r.text}")


def _cmd_recommend(args: argparse.Namespace, matcher: Matcher) -> int:
    query = matcher.organisation(args.organisation_id)
    suggestions = matcher.recommend(args.organisation_id, k=args.k, filters=_filters(args))
    if args.json:
        _print_json(
            {
                "query": query.model_dump(mode="json"),
                "suggestions": [s.model_dump(mode="json") for s in suggestions],
            }
        )
        return 0
    print(f"Partners for {query.name} ({query.kind.label}, {query.country or '?'}, {query.id}):")
    _print_suggestions(suggestions)
    if args.explain:
        _print_reasons(suggestions)
    return 0


def _cmd_complete(args: argparse.Namespace, matcher: Matcher) -> int:
    suggestions = matcher.complete(
        args.organisation_ids, k=args.k, topic=args.topic, filters=_filters(args)
    )
    if args.json:
        _print_json({"suggestions": [s.model_dump(mode="json") for s in suggestions]})
        return 0
    names = ", ".join(matcher.organisation(i).name for i in args.organisation_ids)
    print(f"Partners to complete the consortium of {names}:")
    _print_suggestions(suggestions)
    _print_reasons(suggestions)
    return 0


def _cmd_stats(args: argparse.Namespace, matcher: Matcher) -> int:
    stats = matcher.store.stats()
    if args.json:
        _print_json(stats)
        return 0
    orgs, collabs = stats["organisations"], stats["collaborations"]
    print(
        f"organisations: {orgs['total']}   collaborations: {collabs['total']}   "
        f"projects: {stats['projects']}"
    )
    for title, counts in (
        ("by kind", orgs["by_kind"]),
        ("by country (top 15)", dict(list(orgs["by_country"].items())[:15])),
        ("by ecosystem", orgs["by_ecosystem"]),
        ("collaborations by kind", collabs["by_kind"]),
    ):
        print(f"\n{title}:")
        for key, n in counts.items():
            print(f"  {key:<28} {n:>8}")
    return 0


def _cmd_list(args: argparse.Namespace, matcher: Matcher) -> int:
    orgs = matcher.store.organisations(kind=args.kind, country=args.country)
    chosen = (
        [o for _, o in zip(range(args.limit), orgs, strict=False)] if args.limit else list(orgs)
    )
    if args.json:
        _print_json(
            [
                {
                    "id": o.id,
                    "name": o.name,
                    "kind": o.kind.value,
                    "country": o.country,
                    "ecosystems": [e.value for e in o.ecosystems],
                }
                for o in chosen
            ]
        )
        return 0
    rows = [[o.id, _clip(o.name, 50), o.kind.label, o.country or "?"] for o in chosen]
    print(_table(rows, ["id", "name", "kind", "country"]))
    return 0


def _cmd_demo(args: argparse.Namespace, matcher: Matcher) -> int:
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
    build = matcher.build()
    print(build.summary(), file=sys.stderr)
    query = next(o for o in data.organisations if o.kind is OrganisationKind.CLUSTER)
    print(f"demo ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    args.organisation_id = query.id
    args.explain = True
    return _cmd_recommend(args, matcher)


def _cmd_evaluate(args: argparse.Namespace, matcher: Matcher) -> int:
    from matcher.evaluation.harness import (
        Split,
        UnknownMethodError,
        evaluate,
        method_names,
        parse_years,
        read_collaborations_file,
        read_organisations_file,
        scorers_for,
    )

    if bool(args.cordis) == bool(args.collaborations):
        raise SystemExit("give either --cordis DIR or --collaborations FILE")
    try:
        test_years = parse_years(args.test_years)
    except ValueError as exc:
        raise SystemExit(f"--test-years: {exc}") from None
    if test_years[0] <= args.train_until:
        raise SystemExit("--test-years must come after --train-until")
    from matcher.evaluation.offline import (
        DEFAULT_METHODS,
        PROFILE_METHODS,
        CordisStates,
        register_profile_methods,
    )

    names = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else []
    if not names:
        names = [*DEFAULT_METHODS] if args.cordis else method_names()
    if args.ablations:
        names += [m for m in PROFILE_METHODS if m.startswith("hybrid-minus-")]
    known = method_names() + ([*PROFILE_METHODS] if args.cordis else [])
    unknown = [m for m in names if m not in known]
    if unknown:
        raise SystemExit(f"error: {UnknownMethodError(unknown, known)}")
    options = {"queries": args.queries, "seed": args.seed, "max_consortium": args.max_consortium}
    if args.cordis:
        split = Split.from_cordis(args.cordis, args.train_until, test_years, **options)
        states = CordisStates(args.cordis, matcher.home / "evaluation")
        register_profile_methods(states, split)
    else:
        organisations = read_organisations_file(args.organisations) if args.organisations else None
        split = Split.from_collaborations(
            read_collaborations_file(args.collaborations),
            args.train_until,
            test_years,
            organisations=organisations,
            source=str(args.collaborations),
            **options,
        )
    report = evaluate(
        split, scorers_for(split, names), k=args.k, bootstrap=args.bootstrap, seed=args.seed
    )
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.to_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matcher",
        description="Partner matchmaking for the European Cluster Collaboration Platform. "
        "State lives under MATCHER_HOME (default ~/.eccp-matcher).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import organisations and collaborations")
    p.add_argument("--cordis", type=Path, metavar="DIR", help="a directory in CORDIS's schema")
    p.add_argument("--until", metavar="DATE", help="CORDIS: only projects starting by DATE")
    p.add_argument("--organisations", type=Path, metavar="FILE", help="platform CSV or JSONL")
    p.add_argument("--collaborations", type=Path, metavar="FILE", help="platform CSV or JSONL")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows and write a report of the rejected ones",
    )
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(run=_cmd_import)

    p = sub.add_parser("build", help="embed profiles and build the vector index")
    p.add_argument("--full", action="store_true", help="re-encode everything, ignore the cache")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser("recommend", help="ranked partner suggestions for an organisation")
    p.add_argument("organisation_id", help="the organisation's id")
    p.add_argument("-k", type=int, default=10, help="how many suggestions (default 10)")
    p.add_argument("--json", action="store_true", help="print suggestions as JSON")
    p.add_argument("--explain", action="store_true", help="print the reasons under the table")
    _add_filter_options(p)
    p.set_defaults(run=_cmd_recommend)

    p = sub.add_parser("complete", help="partners that complete a consortium")
    p.add_argument("organisation_ids", nargs="+", metavar="ORG_ID", help="the members so far")
    p.add_argument("-k", type=int, default=10, help="how many suggestions (default 10)")
    p.add_argument("--topic", help="the call topic, in words")
    p.add_argument("--json", action="store_true", help="print suggestions as JSON")
    _add_filter_options(p)
    p.set_defaults(run=_cmd_complete)

    p = sub.add_parser("demo", help="generate the demo data set, import it, build, recommend")
    p.add_argument("--seed", type=int, default=2026, help="generator seed (default 2026)")
    p.add_argument("--clusters", type=int, default=1500, help="cluster organisations")
    p.add_argument("--smes", type=int, default=3000, help="SMEs")
    p.add_argument("-k", type=int, default=10, help="suggestions shown at the end")
    p.add_argument("--json", action="store_true", help="print the final suggestions as JSON")
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser("stats", help="counts by country, kind and ecosystem")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=_cmd_stats)

    p = sub.add_parser("list", help="list organisations")
    p.add_argument("--kind", choices=[k.value for k in OrganisationKind], help="filter by kind")
    p.add_argument("--country", help="filter by country (ISO code)")
    p.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=_cmd_list)
    tables_cli.add_parser(sub)

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
    p.add_argument("--train-until", type=int, required=True, metavar="YEAR", help="last train year")
    p.add_argument("--test-years", required=True, metavar="Y1-Y2", help="e.g. 2017-2018")
    p.add_argument("--queries", type=int, default=2000, help="queries drawn (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of query draw and ties (default 0)")
    p.add_argument(
        "--methods",
        metavar="A,B,…",
        help="comma-separated methods (default with --cordis: random, popularity, adamic_adar, "
        "text, graph, hybrid, learned; otherwise the graph baselines)",
    )
    p.add_argument(
        "--ablations", action="store_true", help="add hybrid-minus-<signal> for every signal"
    )
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% CIs (0: none)")
    p.add_argument(
        "--max-consortium", type=int, default=50, help="leave out larger projects (default 50)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser(
        "serve",
        help="run the HTTP service on the state in MATCHER_HOME (extra 'service')",
        description="Run the HTTP service: the same program as `matcher-serve` and "
        "`python -m service`, started in this process's place.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    return parser


def _serve(args: argparse.Namespace) -> int:
    """Replace this process by the service's own entry point.

    The matcher package never imports the service (imports point service → matcher); it
    starts the installed program ``python -m service`` by name instead.
    """
    if importlib.util.find_spec("service") is None or importlib.util.find_spec("fastapi") is None:
        print(
            "error: the HTTP service is not installed: pip install 'eccp-partner-matcher[service]'",
            file=sys.stderr,
        )
        return 1
    argv = [sys.executable, "-m", "service", "--host", args.host, "--port", str(args.port)]
    if args.no_access_log:
        argv.append("--no-access-log")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = _parser().parse_args(argv)
    settings = Settings()
    level = logging.DEBUG if args.verbose else settings.log_level.upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return _serve(args)
    if getattr(args, "country", None):
        args.country = args.country.upper()
    try:
        with Matcher(settings) as matcher:
            code: int = args.run(args, matcher)
            return code
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
