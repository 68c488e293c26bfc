"""``matcher-serve`` / ``python -m service``: run the service under uvicorn.

``matcher serve`` starts this program by name (imports point one way, service → matcher,
checked by ``tests/test_architecture.py``, so the ``matcher`` package does not import it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from matcher.app.settings import Settings
from service.app import create_app

__all__ = ["MAX_HEADER_BYTES", "main", "uvicorn_options"]

MAX_HEADER_BYTES = 16 * 1024
"""Largest request line and headers uvicorn's h11 parser buffers (httptools has its own)."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings the service runs with, whatever starts it.

    An idle keep-alive connection closes after ``settings.keep_alive_timeout`` seconds;
    a body that has not arrived after ``settings.body_timeout`` is the app's to cut off
    (408, :class:`service.middleware.BodyLimitMiddleware`).
    """
    return {
        "timeout_keep_alive": settings.keep_alive_timeout,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matcher-serve",
        description="Serve the partner matcher's HTTP API on the state in MATCHER_HOME.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (faster)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted; return the exit code."""
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=not args.no_access_log,
        **uvicorn_options(settings),
    )
    return 0
