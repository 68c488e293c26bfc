"""The ``matcher`` command: results on stdout, logs and errors on stderr.

Exit codes: 0 done; 1 bad data or state (an invalid file, rows rejected by
``--skip-invalid``, an unknown id, no build yet); 2 a bad command line (an unknown option,
a value out of range, an unknown code); 130 interrupted. Every error is one line on stderr,
never a traceback (``-vv`` adds the traceback of an unexpected one).

Quiet by default: warnings only; ``-v`` adds our INFO lines, ``-vv`` our DEBUG lines and
other libraries' INFO lines. Progress bars only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from matcher.cli import data, demo, evaluate, query, serve, tables
from matcher.cli.common import (
    EXIT_DATA,
    EXIT_USAGE,
    CommandError,
    DataError,
    Parser,
    UsageError,
    unknown_organisation,
)

if TYPE_CHECKING:
    from matcher.app.settings import Settings
    from matcher.domain.errors import InvalidImportError

__all__ = ["build_parser", "configure_logging", "main"]

logger = logging.getLogger("matcher")

OWN_LOGGERS = ("matcher", "embeddings", "models", "service")
"""Loggers whose INFO lines ``-v`` shows; every other library's stay at WARNING."""

_SHOWN_PROBLEMS = 20


def _version() -> str:
    try:
        return version("eccp-partner-matcher")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown (not installed)"


def build_parser() -> Parser:
    """The whole command line: one sub-command per verb."""
    parser = Parser(
        prog="matcher",
        description="Partner matchmaking for the European Cluster Collaboration Platform. "
        "State lives under MATCHER_HOME (default ~/.eccp-matcher).",
        epilog="Exit codes: 0 done, 1 bad data or state, 2 bad command line. "
        "Logs go to stderr: warnings only, -v for INFO, -vv for DEBUG.",
    )
    parser.add_argument("--version", action="version", version=f"matcher {_version()}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log lines on stderr: -v INFO, -vv DEBUG (also after the command)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.add_parsers(sub)
    query.add_parsers(sub)
    evaluate.add_parser(sub)
    tables.add_parser(sub)
    demo.add_parser(sub)
    serve.add_parser(sub)
    sub.choices["tables"].set_defaults(run=tables.run)
    for command in sub.choices.values():
        command.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


# -- quiet by default --------------------------------------------------------------------


class _OwnOrLoud(logging.Filter):
    """Pass our loggers' records, and other libraries' only from ``others`` up."""

    def __init__(self, others: int) -> None:
        super().__init__()
        self.others = others

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".", 1)[0] in OWN_LOGGERS or record.levelno >= self.others


def quiet_environment() -> None:
    """Switch off progress bars off a terminal and libraries' chatter, before they load.

    tqdm reads ``TQDM_DISABLE`` when it is first imported, the Hugging Face libraries their
    variables likewise; values already set by the user are kept.
    """
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def configure_logging(verbose: int, explicit_level: str | None = None) -> Callable[[], None]:
    """Log to stderr: WARNING by default, ``-v`` INFO, ``-vv`` DEBUG; others at WARNING.

    Args:
        verbose: how many ``-v``.
        explicit_level: ``MATCHER_LOG_LEVEL`` when the user set it (used without ``-v``).

    Returns:
        A function that puts the root logger back as it was (for ``main`` run in-process).
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    if verbose == 0 and explicit_level:
        named = logging.getLevelName(explicit_level.upper())
        level = named if isinstance(named, int) else logging.WARNING
    detailed = level < logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            ("%(asctime)s " if detailed else "") + "%(levelname)s %(name)s: %(message)s"
        )
    )
    handler.addFilter(_OwnOrLoud(logging.INFO if verbose >= 2 else logging.WARNING))
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)

    def restore() -> None:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(before)

    return restore


# -- running -----------------------------------------------------------------------------


def _settings() -> Settings:
    from pydantic import ValidationError

    from matcher.app.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        about = Settings.model_fields[field].description if field in Settings.model_fields else ""
        raise UsageError(
            f"MATCHER_{field.upper()}={first.get('input')!r} is not valid"
            + (f"; expected {about}" if about else "")
        ) from None


def _print_problems(error: InvalidImportError) -> None:
    for problem in error.problems[:_SHOWN_PROBLEMS]:
        print(f"error: {problem}", file=sys.stderr)
    more = len(error.problems) - _SHOWN_PROBLEMS
    tail = f" ({more} more not shown)" if more > 0 else ""
    print(
        f"error: import refused, nothing written: {len(error.problems)} problem(s){tail}",
        file=sys.stderr,
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import sqlite3

    from matcher.app.matcher import Matcher
    from matcher.domain.errors import (
        InvalidImportError,
        MatcherError,
        UnknownOrganisationError,
    )

    try:
        matcher = Matcher(settings)
    except (OSError, sqlite3.Error) as exc:
        raise DataError(f"cannot open the state under {settings.home_path}: {exc}") from None
    with matcher:
        try:
            code: int = args.run(args, matcher)
            return code
        except UnknownOrganisationError as exc:
            raise DataError(unknown_organisation(matcher.store, exc.organisation_id)) from None
        except InvalidImportError as exc:
            _print_problems(exc)
            return EXIT_DATA
        except BrokenPipeError:
            raise
        except (MatcherError, OSError) as exc:
            raise DataError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    quiet_environment()
    try:
        args = build_parser().parse_args(argv)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    restore: Callable[[], None] | None = None
    try:
        settings = _settings()
        restore = configure_logging(
            args.verbose, settings.log_level if "log_level" in settings.model_fields_set else None
        )
        if args.command == "serve":
            return serve.run(args)
        check = getattr(args, "check", None)
        if check is not None:
            check(args)
        return _run(args, settings)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # the reader went away (`matcher list | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose >= 2:
            traceback.print_exc()
        hint = "" if args.verbose >= 2 else " (run with -vv for the traceback)"
        print(f"error: unexpected {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return EXIT_DATA
    finally:
        if restore is not None:
            restore()


if __name__ == "__main__":
    sys.exit(main())
