"""The ``serve`` command: the HTTP service, started in this process's place."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any

from matcher.cli.common import EXIT_DATA, bounded_int

__all__ = ["add_parser", "add_ray_options", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``."""
    p = sub.add_parser(
        "serve",
        help="run the HTTP service on the state in MATCHER_HOME (extra 'service')",
        description="Run the HTTP service: the same program as `matcher-serve` and "
        "`python -m service`, started in this process's place.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=bounded_int(1, 65535), default=8000, help="port (default 8000)")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.add_argument(
        "--workers",
        type=bounded_int(1, 256),
        default=None,
        help="worker processes (default: one per core); 1 runs the server in this process",
    )
    add_ray_options(p, replicas=None)


def add_ray_options(p: argparse.ArgumentParser, *, replicas: int | None) -> None:
    """Add ``--ray [ADDRESS]`` and ``--replicas N`` (also the service program's own).

    Args:
        p: the parser.
        replicas: the default of ``--replicas``.
    """
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run as a Ray Serve deployment (extra 'ray'): a local Ray, or join ADDRESS",
    )
    p.add_argument(
        "--replicas",
        type=bounded_int(1, 256),
        default=replicas,
        help="with --ray: copies of the app, one CPU each (default: one per core)",
    )


def run(args: argparse.Namespace) -> int:
    """Replace this process by the service's own entry point.

    The matcher package never imports the service (imports point service → matcher); it
    starts the installed program ``python -m service`` by name instead. Returns only when
    the service is not installed.
    """
    if importlib.util.find_spec("service") is None or importlib.util.find_spec("fastapi") is None:
        print(
            "error: the HTTP service is not installed: pip install 'eccp-partner-matcher[service]'",
            file=sys.stderr,
        )
        return EXIT_DATA
    argv = [sys.executable, "-m", "service", "--host", args.host, "--port", str(args.port)]
    if args.no_access_log:
        argv.append("--no-access-log")
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.ray is not None:
        argv += ["--ray", args.ray] if args.ray else ["--ray"]
    if args.replicas is not None:
        argv += ["--replicas", str(args.replicas)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
