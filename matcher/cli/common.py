"""What the commands share: errors with their exit codes, argument checks, output helpers.

Nothing here imports the facade or a model: arguments are checked before anything heavy
loads, so a mistyped option fails at once.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from itertools import islice
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from matcher.domain.choices import UnknownChoiceError, closest, did_you_mean, parse_choice
from matcher.domain.countries import normalise_country
from matcher.domain.languages import normalise_language
from matcher.domain.text import text_table
from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage

if TYPE_CHECKING:
    from matcher.domain.schema import Suggestion
    from matcher.ranking.rules import Filters
    from matcher.store import Store

__all__ = [
    "EXIT_DATA",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_K",
    "CommandError",
    "DataError",
    "Parser",
    "UsageError",
    "add_filter_options",
    "bounded_int",
    "check_filters",
    "check_paths",
    "check_ray",
    "clip",
    "filters_of",
    "print_json",
    "print_reasons",
    "print_suggestions",
    "quiet_onnxruntime",
    "show_progress",
    "split_values",
    "table",
    "unknown_organisation",
]

EXIT_OK = 0
EXIT_DATA = 1
"""Bad data or state: an invalid file, rejected rows, an unknown id, no build yet."""
EXIT_USAGE = 2
"""A bad command line: an unknown option, a value out of range, an unknown code."""

MAX_K = 100
"""The most suggestions one command asks for (the HTTP API's limit too)."""

E = TypeVar("E", bound=StrEnum)


class CommandError(Exception):
    """A failure the command reports in one line and an exit code."""

    code = EXIT_DATA


class UsageError(CommandError):
    """The command line is wrong (exit 2)."""

    code = EXIT_USAGE


class DataError(CommandError):
    """The data or the state is wrong (exit 1)."""

    code = EXIT_DATA


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), raised not printed."""

    def error(self, message: str) -> NoReturn:
        """Raise the problem as a :class:`UsageError` naming the command."""
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if wrong:  # an unknown command or choice: say which are known, and the nearest
            choices = re.findall(r"'([^']*)'", wrong[2])
            message = (
                f"{message[: wrong.start()]}unknown {wrong[1]!r}"
                f"{did_you_mean(wrong[1], choices)}; expected one of {', '.join(choices)}"
            )
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number between ``low`` and ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    parse.__name__ = "number"
    return parse


def check_paths(
    args: argparse.Namespace, *, directory: str = "", files: Sequence[str] = ()
) -> None:
    """Each named input exists: ``--DIRECTORY`` a directory, each ``--FILE`` a file.

    Raises:
        DataError: one does not exist.
    """
    folder = getattr(args, directory, None) if directory else None
    if folder is not None and not folder.is_dir():
        raise DataError(f"--{directory}: {folder} is not a directory")
    for option in files:
        path = getattr(args, option)
        if path is not None and not path.is_file():
            raise DataError(f"--{option}: no such file: {path}")


def split_values(text: str | None) -> list[str]:
    """``'a, b,,c'`` → ``['a', 'b', 'c']``."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


# -- filters -----------------------------------------------------------------------------


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """The candidate filters of ``recommend`` and ``complete``."""
    p.add_argument("--countries", metavar="CC,…", help="only these countries (ISO 3166 codes)")
    p.add_argument("--exclude-countries", metavar="CC,…", help="never these countries")
    p.add_argument("--kinds", metavar="K,…", help="only these kinds (e.g. sme,university)")
    p.add_argument("--ecosystems", metavar="E,…", help="only these ecosystems (e.g. agri_food)")
    p.add_argument("--stages", metavar="S,…", help="only these value-chain stages")
    p.add_argument(
        "--languages", metavar="L,…", help="only organisations speaking one of these (ISO 639-1)"
    )


def _members(enum: type[E], option: str, what: str, text: str | None) -> frozenset[E]:
    try:
        return frozenset(parse_choice(enum, v, what) for v in split_values(text))
    except UnknownChoiceError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _codes(option: str, parse: Callable[[str], str], text: str | None) -> frozenset[str]:
    try:
        return frozenset(parse(v) for v in split_values(text))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def check_filters(args: argparse.Namespace) -> None:
    """Check every filter value; keep the parsed values on ``args.filter_values``.

    Raises:
        UsageError: an unknown code or name (the message suggests the nearest one).
    """
    args.filter_values = {
        "countries": _codes("--countries", normalise_country, args.countries),
        "exclude_countries": _codes(
            "--exclude-countries", normalise_country, args.exclude_countries
        ),
        "kinds": _members(OrganisationKind, "--kinds", "kind", args.kinds),
        "ecosystems": _members(Ecosystem, "--ecosystems", "ecosystem", args.ecosystems),
        "stages": _members(Stage, "--stages", "stage", args.stages),
        "languages": _codes("--languages", normalise_language, args.languages),
    }
    both = args.filter_values["countries"] & args.filter_values["exclude_countries"]
    if both:
        raise UsageError(f"--countries and --exclude-countries both name {', '.join(sorted(both))}")


def filters_of(args: argparse.Namespace) -> Filters:
    """The ranking filters of checked arguments (see :func:`check_filters`)."""
    from matcher.ranking.rules import Filters

    return Filters(**args.filter_values)


# -- the state ---------------------------------------------------------------------------


def unknown_organisation(store: Store, organisation_id: str) -> str:
    """'unknown organisation id …' with the nearest stored id, where one is near.

    Spelling neighbours are looked for among up to 20,000 stored ids; in a larger store
    only among the ids that hold the text (any case), which SQLite finds without a scan
    in Python.
    """
    message = f"unknown organisation id {organisation_id!r}"
    if store.count_organisations() <= 20_000:
        ids = store.organisation_ids()
    else:
        ids = [o.id for o in islice(store.organisations(text=organisation_id), 1000)]
    hit = closest(organisation_id, ids, cutoff=0.75)
    if hit is not None and hit != organisation_id:
        message += f" (did you mean {hit!r}?)"
    return message + "; `matcher list --search TEXT` finds ids by name"


def show_progress() -> bool:
    """Progress bars only on a terminal (never carriage returns in a redirected log)."""
    return sys.stderr.isatty()


def quiet_onnxruntime() -> None:
    """Keep ONNX Runtime's own (C++) log to errors; call before a model may load."""
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - a core dependency
        return
    onnxruntime.set_default_logger_severity(3)


# -- output ------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    """Data on stdout as indented JSON."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


table = text_table
"""Rows as a plain-text table (:func:`matcher.domain.text.text_table`)."""


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def print_suggestions(suggestions: Sequence[Suggestion]) -> None:
    """Suggestions as a table: rank, name, country, kind, score (a probability), id."""
    rows = [
        [
            str(s.rank),
            clip(s.organisation.name, 48),
            s.organisation.country or "?",
            s.organisation.kind.label,
            f"{s.score:.3f}",
            s.organisation.id,
        ]
        for s in suggestions
    ]
    print(table(rows, ["#", "name", "country", "kind", "chance", "id"]))


def print_reasons(suggestions: Sequence[Suggestion]) -> None:
    """Each suggestion's reasons, under its rank and name."""
    for s in suggestions:
        flags = f" [{', '.join(s.flags)}]" if s.flags else ""
        print(f"\n{s.rank}. {s.organisation.name}{flags}")
        for r in s.reasons:
            print(f"   - {r.text}")


def check_ray(args: argparse.Namespace) -> None:
    """``--ray`` needs the ``ray`` extra; ``--ray-actors`` needs ``--ray``.

    Raises:
        UsageError: Ray is not installed, or ``--ray-actors`` without ``--ray``.
    """
    import importlib.util

    if getattr(args, "ray_actors", None) is not None and args.ray is None:
        raise UsageError("--ray-actors goes with --ray")
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        raise UsageError(
            "--ray needs Ray: pip install 'eccp-partner-matcher[ray]' (or 'ray[data]')"
        )
