"""ASGI middleware: request bodies (413, 408), in-flight limit (503) and request metrics.

The order matters (outermost first, see :func:`service.app.create_app`): a request's
body is read whole, within a deadline, *before* the in-flight limit counts the request,
so clients that send headers and then trickle a body (or nothing) hold a connection but
never a place among the ``MATCHER_MAX_IN_FLIGHT`` requests being handled.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import SHED, error_response

__all__ = ["BodyLimitMiddleware", "InFlightLimitMiddleware", "Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "matcher_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "matcher_http_request_duration_seconds",
            "time from request to the end of the response, by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ready = Gauge(
            "matcher_ready", "1 once the index is loaded, else 0", registry=self.registry
        )
        self.index_size = Gauge(
            "matcher_index_size", "vectors in the loaded index", registry=self.registry
        )
        self.organisations = Gauge(
            "matcher_organisations", "organisations in the loaded table", registry=self.registry
        )
        self.last_rebuild = Gauge(
            "matcher_last_rebuild_timestamp_seconds",
            "when the loaded build was made (Unix time)",
            registry=self.registry,
        )


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Count requests and time them by route template (never by raw path: ids vary)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = str(scope.get("method", ""))
            route = _route(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class InFlightLimitMiddleware:
    """Answer 503 ``overloaded`` at once when ``limit`` requests are already in hand.

    Without it an overloaded server queues without bound: measured at 100k profiles and
    100 requests/s offered, answers came after more than a minute. With it a caller gets
    either an answer within the limit's worth of queueing or an immediate 503 with
    ``Retry-After: 1``. ``exempt`` paths (liveness, readiness, metrics) always pass and do
    not count.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        exempt: frozenset[str] = frozenset({"/health", "/ready", "/metrics"}),
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http" or self.limit <= 0 or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            response = error_response(
                503,
                "overloaded",
                f"the service is handling {self.limit} requests already; retry shortly",
                headers=SHED,
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1  # one event loop: no lock needed between awaits
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyLimitMiddleware:
    """Read each request's body whole before the app sees the request; bound it.

    A declared ``Content-Length`` above ``limit`` bytes is refused at once with 413, as is
    a body that grows past it (at most ``limit`` bytes are buffered). A body that has not
    arrived ``timeout`` seconds after the headers gets 408 ``body_timeout`` and the
    connection is closed (a slow sender cannot hold a request slot, nor a socket, for
    longer).
    """

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 20.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "body_too_large", f"the request body is larger than {self.limit} bytes"
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        replay_first: Message | None = None
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        # A disconnect before the body ended: let the app see it.
                        replay_first = message
                        break
                    body = message.get("body", b"")
                    size += len(body)
                    if size > self.limit:
                        await self._refuse(scope, receive, send)
                        return
                    chunks.append(body)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            response = error_response(
                408,
                "body_timeout",
                f"the request body did not arrive within {self.timeout:g} s",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        whole = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                if replay_first is not None:
                    return replay_first
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
