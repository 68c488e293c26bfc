"""``matcher-serve`` / ``python -m service``: run the service, in one process or several.

With ``--workers 1`` the app runs under uvicorn in this process. With more (the default:
one per core) gunicorn runs them: it imports the app once before forking (``--preload``:
the libraries' code and data are shared copy-on-write, and frozen out of the garbage
collector), replaces a worker that dies, and each worker serves uvicorn's event loop. Each
worker loads the served state itself: the snapshot's arrays are memory-mapped, so their
pages are shared by every worker through the page cache, and each follows the store's
change log (a write through any worker is seen by the next request of every worker).

With ``--ray [ADDRESS]`` the app runs as a Ray Serve deployment of ``--replicas`` copies
instead (:mod:`service.rayserve`).

``matcher serve`` starts this program by name (imports point one way, service → matcher,
checked by ``tests/test_architecture.py``, so the ``matcher`` package does not import it).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import uvicorn
from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from matcher.app.settings import Settings
from matcher.cli.serve import add_ray_options
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
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: one per core); 1 runs in this process",
    )
    add_ray_options(parser, replicas=os.cpu_count() or 1)
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
    if args.ray is not None:
        from service.rayserve import serve_on_ray

        serve_on_ray(
            settings,
            address=args.ray or None,
            host=args.host,
            port=args.port,
            replicas=args.replicas,
        )
        return 0
    if args.workers > 1:
        _Gunicorn(settings, args).run()
        return 0
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


class Worker(UvicornWorker):  # type: ignore[misc]
    """gunicorn's uvicorn worker with the service's uvicorn settings."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "auto",
        "http": "auto",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "server_header": False,
    }


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn over :func:`service.app.create_app`, configured from the settings."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        super().__init__()

    def load_config(self) -> None:
        options = {
            "bind": f"{self.args.host}:{self.args.port}",
            "workers": self.args.workers,
            "worker_class": f"{__name__}.Worker",
            "preload_app": True,
            "keepalive": self.settings.keep_alive_timeout,
            "graceful_timeout": 10,
            "timeout": 120,  # a worker silent this long (not a slow request) is replaced
            "accesslog": None if self.args.no_access_log else "-",
            "errorlog": "-",
            "when_ready": _freeze,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.settings)


def _freeze(server: Any) -> None:
    """Leave what the master imported out of the workers' garbage collections."""
    gc.collect()
    gc.freeze()
