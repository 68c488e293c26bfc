"""Per-client limits on requests without a valid API key: a token bucket per address.

Each client address without a valid key gets a bucket of ``burst`` tokens that refills at
``rate`` tokens a second; a request takes one, and one that finds the bucket empty gets
429 ``rate_limited`` with ``Retry-After`` (whole seconds until a token is back). Requests
with the valid key, and liveness, readiness and metrics, are never limited.

The address is the ASGI ``client`` (uvicorn's, or the forwarded one when uvicorn is told
to trust a proxy's headers). Buckets live in the process: with several worker processes a
client may make up to that many times the rate. Buckets whose tokens are back in full are
forgotten once more than :data:`MAX_CLIENTS` are held.
"""

from __future__ import annotations

import math
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from matcher.app.settings import Settings
from service.errors import error_response
from service.security import given_key, key_is_valid

__all__ = ["MAX_CLIENTS", "RateLimitMiddleware", "TokenBuckets"]

MAX_CLIENTS = 10_000
"""Buckets held before idle ones are dropped."""


class TokenBuckets:
    """Token buckets by client: ``burst`` tokens each, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str, now: float | None = None) -> float:
        """Take a token for ``client``: 0 when there was one, else the seconds until one."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        full = [
            c for c, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst
        ]
        for client in full:
            del self._buckets[client]
        if len(self._buckets) > MAX_CLIENTS:  # many clients at once: keep the newest half
            newest = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(newest[len(newest) // 2 :])

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    """429 ``rate_limited`` for a client without a valid key that exceeds its bucket."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        exempt: frozenset[str] = frozenset({"/health", "/ready", "/metrics"}),
    ) -> None:
        self.app = app
        self.settings = settings
        self.exempt = exempt
        self.buckets = TokenBuckets(settings.anonymous_rate, settings.anonymous_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if (
            scope["type"] != "http"
            or self.settings.anonymous_rate <= 0
            or scope.get("path") in self.exempt
            or key_is_valid(self.settings, given_key(Headers(scope=scope)))
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(str(client[0]) if client else "unknown")
        if wait > 0:
            response = error_response(
                429,
                "rate_limited",
                "too many requests without an API key from this address: "
                f"{self.settings.anonymous_rate:g} a second, bursts of "
                f"{self.settings.anonymous_burst}",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
