"""The data commands: ``import``, ``build``, ``copy-home``, ``stats``, ``list``, ``show``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import textwrap
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.cli.common import (
    EXIT_DATA,
    EXIT_OK,
    DataError,
    UsageError,
    bounded_int,
    check_paths,
    check_ray,
    clip,
    print_json,
    quiet_onnxruntime,
    show_progress,
    table,
)
from matcher.domain.choices import UnknownChoiceError, parse_choice
from matcher.domain.countries import normalise_country
from matcher.domain.vocab import OrganisationKind

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher
    from matcher.domain.schema import Organisation

__all__ = [
    "add_parsers",
    "check_import",
    "run_build",
    "run_copy_home",
    "run_import",
    "run_list",
    "run_show",
    "run_stats",
]


def _kind(text: str) -> str:
    try:
        return parse_choice(OrganisationKind, text, "kind").value
    except UnknownChoiceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _country(text: str) -> str:
    try:
        return normalise_country(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``import``, ``build``, ``copy-home``, ``stats``, ``list`` and ``show``."""
    p = sub.add_parser(
        "import",
        help="import organisations and collaborations",
        description="Import files in the platform's format, or a directory in CORDIS's. "
        "Every row is checked first; one bad row refuses the whole import unless "
        "--skip-invalid is given (then the valid rows are written, the rejected ones listed "
        "in a report, and the exit code is 1).",
    )
    p.add_argument("--cordis", type=Path, metavar="DIR", help="a directory in CORDIS's schema")
    p.add_argument("--until", metavar="DATE", help="CORDIS: only projects starting by DATE")
    p.add_argument("--organisations", type=Path, metavar="FILE", help="platform CSV or JSONL")
    p.add_argument("--collaborations", type=Path, metavar="FILE", help="platform CSV or JSONL")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows and write a report of the rejected ones (exit code 1)",
    )
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(run=run_import, check=check_import)

    p = sub.add_parser("build", help="embed profiles and build the vector index")
    p.add_argument("--full", action="store_true", help="re-encode everything, ignore the cache")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="encode on Ray actors: a cluster's address, or a local Ray when none is given",
    )
    p.add_argument(
        "--ray-actors", type=bounded_int(1, 4096), help="encoder actors (default: one per CPU)"
    )
    p.set_defaults(run=run_build, check=check_ray)

    p = sub.add_parser(
        "copy-home",
        help="copy the store and current snapshot, e.g. to start a follower on another host",
        description="Copy MATCHER_HOME's store (SQLite's online backup: consistent while the "
        "server writes) and its current snapshot into a new folder. Ship the folder to "
        "another host and serve it there with MATCHER_FOLLOW set to this server's URL: it "
        "follows this server's changes from the copy's sequence on (docs/operations.md).",
    )
    p.add_argument("target", type=Path, metavar="DEST", help="a new or empty folder")
    p.set_defaults(run=run_copy_home)

    p = sub.add_parser("stats", help="counts by country, kind and ecosystem")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run_stats)

    p = sub.add_parser("list", help="list or search organisations")
    p.add_argument(
        "--search",
        metavar="TEXT",
        help="only those whose id, name or description holds every word of TEXT",
    )
    p.add_argument("--kind", type=_kind, help="only this kind (e.g. sme)")
    p.add_argument("--country", type=_country, help="only this country (ISO 3166 code)")
    p.add_argument(
        "--limit", type=bounded_int(0, 10**9), default=0, help="at most this many (0: all)"
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run_list)

    p = sub.add_parser("show", help="one organisation's stored profile")
    p.add_argument("organisation_id", metavar="ORG_ID", help="the organisation's id")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(run=run_show)


# -- import ------------------------------------------------------------------------------


def check_import(args: argparse.Namespace) -> None:
    """One source, existing files, a real date.

    Raises:
        UsageError: no source, two kinds of source, or a bad ``--until``.
        DataError: a named file or directory does not exist.
    """
    platform = args.organisations or args.collaborations
    if args.cordis and platform:
        raise UsageError("give either --cordis DIR or --organisations/--collaborations, not both")
    if not args.cordis and not platform:
        raise UsageError("nothing to import: give --cordis DIR or --organisations FILE")
    if args.until and not args.cordis:
        raise UsageError("--until applies to --cordis only")
    if args.until:
        try:
            args.until = dt.date.fromisoformat(args.until)
        except ValueError:
            raise UsageError(f"--until: {args.until!r} is not a date (YYYY-MM-DD)") from None
    check_paths(args, directory="cordis", files=("organisations", "collaborations"))


def run_import(args: argparse.Namespace, matcher: Matcher) -> int:
    """Import; exit 1 when ``--skip-invalid`` left rows out."""
    if args.cordis:
        report = matcher.import_cordis(
            args.cordis, until=args.until, skip_invalid=args.skip_invalid
        )
    else:
        report = matcher.import_platform(
            organisations=args.organisations,
            collaborations=args.collaborations,
            skip_invalid=args.skip_invalid,
        )
    rows = len({(p.file, p.line) for p in report.rejected})
    if args.json:
        print_json(
            {
                "organisations": report.organisations,
                "collaborations": report.collaborations,
                "projects": report.projects,
                "changed": report.changed,
                "rejected_rows": rows,
                "problems": len(report.rejected),
                "report": str(report.report_path) if report.report_path else None,
            }
        )
    else:
        print(report.summary())
    if not report.rejected:
        return EXIT_OK
    print(
        f"error: {rows} row(s) rejected ({len(report.rejected)} problem(s)); the valid rows "
        f"were imported; the rejected ones are listed in {report.report_path}",
        file=sys.stderr,
    )
    return EXIT_DATA


# -- build and stats ---------------------------------------------------------------------


def run_build(args: argparse.Namespace, matcher: Matcher) -> int:
    """Embed and index; a progress bar only on a terminal."""
    quiet_onnxruntime()
    report = matcher.build(
        full=args.full, show_progress=show_progress(), ray=args.ray, ray_actors=args.ray_actors
    )
    if args.json:
        print_json(
            {
                "folder": str(report.folder),
                "organisations": report.organisations,
                "texts": report.texts,
                "encoded": report.encoded,
                "seq": report.seq,
                "ranker": report.ranker,
                "seconds": round(report.seconds, 3),
                "up_to_date": report.up_to_date,
            }
        )
    else:
        print(report.summary())
    return EXIT_OK


def run_copy_home(args: argparse.Namespace, matcher: Matcher) -> int:
    """``matcher copy-home DEST``."""
    from matcher.app.replication import copy_home
    from matcher.store import STORE_FILE, Store

    try:
        target = copy_home(matcher.home, args.target)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    with Store(target / STORE_FILE) as copied:
        sequence = copied.sequence()
    print(f"copied the store (at sequence {sequence}) and the current snapshot to {target}")
    return 0


def run_stats(args: argparse.Namespace, matcher: Matcher) -> int:
    """Counts by kind, country and ecosystem."""
    stats = matcher.store.stats()
    if args.json:
        print_json(stats)
        return EXIT_OK
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
    return EXIT_OK


# -- list and show -----------------------------------------------------------------------


def run_list(args: argparse.Namespace, matcher: Matcher) -> int:
    """Organisations in id order, filtered and searched."""
    found = matcher.store.organisations(kind=args.kind, country=args.country, text=args.search)
    chosen = list(islice(found, args.limit) if args.limit else found)
    if args.json:
        print_json(
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
        return EXIT_OK
    if not chosen:
        print("no organisation matches", file=sys.stderr)
        return EXIT_OK
    rows = [[o.id, clip(o.name, 50), o.kind.label, o.country or "?"] for o in chosen]
    print(table(rows, ["id", "name", "kind", "country"]))
    return EXIT_OK


def run_show(args: argparse.Namespace, matcher: Matcher) -> int:
    """One stored profile, as text or JSON."""
    org = matcher.organisation(args.organisation_id)
    if args.json:
        print_json(org.model_dump(mode="json"))
        return EXIT_OK
    print(_profile_text(org, len(matcher.store.partners(org.id))))
    return EXIT_OK


def _profile_text(org: Organisation, partners: int) -> str:
    facts = [
        ("kind", org.kind.label),
        ("country", org.country or "?"),
        ("region", org.region or ""),
        ("size", "" if org.size is None else str(org.size)),
        ("ecosystems", ", ".join(e.label for e in org.ecosystems)),
        ("stages", ", ".join(s.label for s in org.stages)),
        ("keywords", ", ".join(org.keywords)),
        ("targets", ", ".join(org.target_countries)),
        ("languages", ", ".join(org.languages)),
        ("website", org.website or ""),
        ("updated", org.updated_at.isoformat() if org.updated_at else ""),
        ("partners", str(partners)),
    ]
    lines = [f"{org.name} ({org.id})"]
    lines += [f"  {name + ':':<12}{value}" for name, value in facts if value]
    for title, text in (("", org.description), ("offers", org.offers), ("seeks", org.seeks)):
        if text:
            lines += ["", textwrap.fill(f"{title}: {text}" if title else text, width=88)]
    return "\n".join(lines)
