"""The ``evaluate`` command: predict the next years' new partners from the past."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.cli.common import (
    EXIT_OK,
    MAX_K,
    DataError,
    UsageError,
    bounded_int,
    check_paths,
    check_ray,
    print_json,
    quiet_onnxruntime,
    split_values,
)
from matcher.domain.choices import did_you_mean

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher
    from matcher.store import Store

__all__ = ["add_parser", "check", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``evaluate``."""
    p = sub.add_parser(
        "evaluate",
        help="offline evaluation: predict the next years' new partners from the past "
        "(on the home's own data, CORDIS, or platform files)",
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
        help="comma-separated methods (default: random, popularity, adamic_adar, default; "
        "without default for --collaborations alone); 'default' is the product itself, as "
        "/recommend serves it",
    )
    p.add_argument(
        "--ablations",
        action="store_true",
        help="add default-minus-<signal>: the product's ranker refit without each signal",
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
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="score the batches on Ray actors: a cluster's address, or a local Ray when none "
        "is given (the same figures)",
    )
    p.add_argument("--ray-actors", type=bounded_int(1, 4096), help="actors (default: one per CPU)")
    p.set_defaults(run=run, check=check)


DEFAULT_METHODS = ("random", "popularity", "adamic_adar", "default")


def check(args: argparse.Namespace) -> None:
    """Check the sources, the years and the method names before any data is read.

    Raises:
        UsageError: two sources, years out of order, an unknown method.
        DataError: a named file or directory does not exist.
    """
    from matcher.evaluation.harness import method_names, parse_years
    from matcher.evaluation.product import PRODUCT_METHODS
    from matcher.ranking.features import SIGNALS

    check_ray(args)
    if args.cordis and args.collaborations:
        raise UsageError("give --cordis DIR or --collaborations FILE, not both")
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
    names = split_values(args.methods) or [
        m
        for m in DEFAULT_METHODS
        if m != "default" or not (args.collaborations and not args.organisations)
    ]
    ablations = [f"default-minus-{s}" for s in SIGNALS]
    every = [*method_names(), *PRODUCT_METHODS, *ablations]
    for name in names:
        if name not in every:
            raise UsageError(
                f"--methods: unknown method {name!r}{did_you_mean(name, every)}; "
                f"known: {', '.join([*method_names(), *PRODUCT_METHODS])} and "
                f"default-minus-<signal> for a signal among {', '.join(SIGNALS)}"
            )
    if args.ablations:
        names += ablations
    args.method_names = list(dict.fromkeys(names))
    product = [n for n in args.method_names if n == "default" or n.startswith("default-minus-")]
    if product and args.collaborations and not args.organisations:
        raise UsageError(
            f"--methods: {product[0]!r} ranks with organisation profiles: give --organisations "
            "FILE with --collaborations (the graph baselines need only the collaborations)"
        )


def run(args: argparse.Namespace, matcher: Matcher) -> int:
    """Read the split, build the product's homes where a method needs them, evaluate."""
    from matcher.evaluation.harness import Split, evaluate, read_collaborations_file
    from matcher.evaluation.product import (
        ProductHomes,
        copy_until,
        register_product_methods,
    )

    quiet_onnxruntime()
    options = {"queries": args.queries, "seed": args.seed, "max_consortium": args.max_consortium}
    root = matcher.home / "evaluation"
    importer: Callable[[Matcher, dt.date], None]
    if args.cordis:
        split = Split.from_cordis(args.cordis, args.train_until, args.test_years, **options)
        source = str(args.cordis.resolve())

        def importer(target: Matcher, until: dt.date) -> None:
            target.import_cordis(args.cordis, until=until)

    elif args.collaborations and not args.organisations:  # the graph baselines alone
        split = Split.from_collaborations(
            read_collaborations_file(args.collaborations),
            args.train_until,
            args.test_years,
            source=str(args.collaborations),
            **options,
        )
        source, importer = str(args.collaborations), copy_until(matcher.store)
    else:
        store = matcher.store
        if args.collaborations:
            store = _files_store(matcher, args.organisations, args.collaborations)
        split = Split.from_store(store, args.train_until, args.test_years, **options)
        source = str(store.path)
        importer = copy_until(store)
    if not len(split.queries):
        raise DataError(
            f"no organisation has a new partner in {args.test_years[0]}–{args.test_years[1]} "
            "among those active by --train-until: nothing to evaluate"
        )
    wanted = [n for n in args.method_names if n == "default" or n.startswith("default-minus-")]
    setup: Callable[[Split], object] | None = None
    if wanted:
        homes = ProductHomes(root, importer, source, settings=matcher.settings)
        signals = [n.removeprefix("default-minus-") for n in wanted if n != "default"]
        register_product_methods(split, homes, ablations=signals)
        if args.ray:  # build the home here once; each actor then only loads it
            homes.matcher(dt.date(split.train_until, 12, 31)).close()
            setup = partial(register_product_methods, homes=homes.for_workers(), ablations=signals)
    runner = None
    if args.ray:
        from matcher.evaluation.distributed import ray_runner

        runner = ray_runner(setup=setup, actors=args.ray_actors, address=args.ray)
    report = evaluate(
        split, args.method_names, k=args.k, bootstrap=args.bootstrap, seed=args.seed,
        runner=runner,
    )  # fmt: skip
    if args.json:
        print_json(report.to_json())
    else:
        print(report.to_text())
    return EXIT_OK


def _files_store(matcher: Matcher, organisations: Path | None, collaborations: Path) -> Store:
    """A store holding platform files, imported once under the home's evaluation folder.

    Raises:
        DataError: collaborations name organisations that no file gives.
    """
    from matcher.store import Store

    key = hashlib.sha256(f"{organisations}|{collaborations}".encode()).hexdigest()[:10]
    path = matcher.home / "evaluation" / f"files-{key}.sqlite"
    fresh = not path.exists()
    store = Store(path)
    if fresh:
        from matcher.ingest import import_platform

        try:
            import_platform(store, organisations=organisations, collaborations=collaborations)
        except Exception:
            store.close()
            path.unlink(missing_ok=True)
            raise
    return store
