"""The FastAPI app: :func:`create_app` builds it from settings.

Start-up loads the served state in a background thread while the server already answers
``/health``: the newest snapshot, memory-mapped, brought up to the store by applying the
changes logged since (:class:`matcher.app.state.LiveState`), and the text encoder. Until
then ``/ready`` and every data endpoint answer 503 ``not_ready`` saying why. A home with
data but no snapshot gets one built (in a separate process, by whichever worker takes the
compaction lock). Whatever stops the load (a home that cannot be written, a full disk)
the loader retries, backing off from :data:`RETRY_FIRST` to :data:`RETRY_SECONDS`.
Once ready, a compactor builds a new snapshot in the background when the change log
since the current one reaches ``MATCHER_COMPACT_AFTER`` changes. A follower
(``MATCHER_FOLLOW``) builds nothing: it follows the writer's changes and snapshots from
start-up on (:mod:`matcher.app.replication`).

Middleware, outermost first: metrics, security headers, the error guard (an unexpected
exception answered without closing the connection), the per-client limit on requests
without a key, the body reader (413, and 408 past ``MATCHER_BODY_TIMEOUT``), the
in-flight limit (which so counts a request only once its body is in), CORS.

Other routers plug in here: a module ``service/tables.py`` exposing ``router`` (the table
planner) is included when it exists; it gets the facade from ``app.state.matcher``
through :func:`service.deps.get_matcher`.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from threadpoolctl import threadpool_limits

from embeddings import Encoder
from embeddings.artefact import current_folder
from matcher.app.compaction import Compactor
from matcher.app.matcher import Matcher
from matcher.app.replication import Follower, follow_status
from matcher.app.settings import Settings
from matcher.domain.errors import StateError
from service.admission import RankingSlots
from service.errors import ErrorGuardMiddleware, error_response, install_error_handlers, responses
from service.headers import SecurityHeadersMiddleware
from service.middleware import (
    BodyLimitMiddleware,
    InFlightLimitMiddleware,
    Metrics,
    MetricsMiddleware,
)
from service.ratelimit import RateLimitMiddleware
from service.replication import router as replication_router
from service.routes import router
from service.routing import app_routes
from service.schemas import Following, Health, Ready
from service.security import auth_refusal, require_read_key
from service.workpool import WorkPool

__all__ = ["RETRY_FIRST", "RETRY_SECONDS", "SERVICE_THREADS", "create_app"]

logger = logging.getLogger(__name__)

RETRY_FIRST = 1.0
"""The loader's first wait after a failed load, doubled after each failure."""

RETRY_SECONDS = 30.0
"""The loader's longest wait between tries."""

COMPACTION_CHECK_SECONDS = 30.0
"""How often a worker checks whether the change log calls for a new snapshot."""

SERVICE_THREADS = min(2, os.cpu_count() or 1)
"""Encoder threads of each worker unless ``MATCHER_THREADS`` is set (they sleep between
calls; a lone write's text is encoded on two cores when they are free)."""

_DESCRIPTION = """
Partner suggestions for the European Cluster Collaboration Platform, with the reasons
behind each, and the writes that keep them current.

**Auth.** Write endpoints need the key in `MATCHER_API_KEY`, sent as `X-API-Key: <key>`
or `Authorization: Bearer <key>`: 401 without, 403 wrong, 403 `writes_disabled` when the
server has no key. Reads need it too when `MATCHER_READ_KEY_REQUIRED=true`. `/health`,
`/ready` and `/metrics` are always open.

**Errors** all share one shape:
`{"error": {"code": "…", "message": "…", "field": "query.k" | null, "problems": […]}}`.

**Bounds.** Every list and string states its maximum in this schema (`k` ≤ 100, batches
≤ 1000 rows, seed groups ≤ 50, keywords ≤ 50 of ≤ 100 characters, …); bodies ≤
`MATCHER_MAX_BODY_BYTES` (413 above), in by `MATCHER_BODY_TIMEOUT` seconds (408 after).
Requests without a valid key are limited per client address (429 with `Retry-After`).
"""

_TAGS = [
    {"name": "recommend", "description": "partner suggestions"},
    {"name": "organisations", "description": "profiles: read, create, replace, delete"},
    {"name": "collaborations", "description": "the ties behind the graph signals"},
    {"name": "feedback", "description": "what organisations said about suggestions"},
    {"name": "operations", "description": "liveness, readiness, metrics"},
]


class _Loader:
    """Loads the facade off the event loop, retrying while there is no build."""

    def __init__(self, app: FastAPI, settings: Settings, encoder: Encoder | None) -> None:
        self.app = app
        self.settings = settings
        self.encoder = encoder
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="matcher-loader", daemon=True)

    def _fail(self, exc: Exception, wait: float, last: str) -> str:
        """Say why the load failed in ``/ready`` (and the log, when it changed)."""
        if isinstance(exc, StateError):
            why = f"no usable index yet: {exc}"
        else:
            why = f"loading failed: {type(exc).__name__}: {exc}"
            if why != last:
                logger.error("loading the matcher failed", exc_info=exc)
        why = why.replace(str(self.settings.home_path), "MATCHER_HOME")
        self.app.state.not_ready_reason = f"{why} (next try in {wait:.0f} s)"
        if why != last:
            logger.warning("not ready: %s (retrying, next in %.0f s)", why, wait)
        return why

    def _serving_settings(self) -> Settings:
        """The settings, with two encoder threads unless set: the workers share the cores.

        An encoder on every core in every worker ran its thread team (and its spinning
        between calls) against the other workers' requests (``benchmarks/load.py`` at 100k
        with 5 % writes: ``benchmarks/results/load-2026-12-05*.txt``). Two threads that
        sleep between calls (a set number does) encode a profile write's text on both
        cores when they are free: at 100 req/s offered, profile writes' median 39.8 ms
        against 46.4 on one thread, no change at 250
        (``benchmarks/results/load-encoder-threads-ab-*-2026-12-05.txt``).
        """
        if self.settings.threads:
            return self.settings
        return self.settings.model_copy(update={"threads": SERVICE_THREADS})

    def _run(self) -> None:
        wait, last = RETRY_FIRST, ""
        while not self.stop.is_set():
            matcher: Matcher | None = None
            try:
                matcher = Matcher(self._serving_settings(), encoder=self.encoder)
                if (
                    current_folder(matcher.home) is None
                    and matcher.store.count_organisations()
                    and not self.settings.follow  # a follower's snapshots are the writer's
                ):
                    Compactor(matcher.home, matcher.store, threshold=1, interval=0).check()
                live = matcher.live()
                if self.encoder is None:
                    matcher.encoder.encode(["warm-up"])  # cold start and topics need it
            except Exception as exc:  # any failure: say why, back off, try again
                if matcher is not None:
                    matcher.close()
                last = self._fail(exc, wait, last)
                self.stop.wait(wait)
                wait = min(2 * wait, RETRY_SECONDS)
                continue
            if self.stop.is_set():
                matcher.close()
                return
            # The loaded state is hundreds of thousands of long-lived objects at 100k
            # profiles; a full garbage collection walking them took ~0.5 s, stalling
            # whatever request triggered it. Frozen, collections skip them.
            gc.collect()
            gc.freeze()
            self.app.state.matcher = matcher
            if not self.settings.follow:  # a follower's snapshots are the writer's
                compactor = Compactor(
                    matcher.home,
                    matcher.store,
                    threshold=self.settings.compact_after,
                    interval=COMPACTION_CHECK_SECONDS,
                )
                compactor.start()
                self.app.state.compactor = compactor
            snapshot = live.snapshot
            assert snapshot is not None
            logger.info(
                "ready: %d organisations, snapshot %s, store sequence %d",
                int(live.context.profiles.alive.sum()),
                snapshot.folder.name,
                live.seq,
            )
            return


def _follower(settings: Settings) -> Follower:
    """Start following the writer at ``settings.follow`` (see :mod:`matcher.app.replication`)."""
    assert settings.follow is not None
    key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    follower = Follower(
        settings.home_path,
        settings.follow,
        key,
        interval=settings.follow_interval,
        keep=settings.keep_builds,
    )
    follower.start()
    return follower


def _include_optional_routers(app: FastAPI) -> None:
    """Include ``service.tables.router`` (the table planner) when that module exists."""
    try:
        module = importlib.import_module("service.tables")
    except ModuleNotFoundError as exc:
        if exc.name != "service.tables":
            raise
        return
    tables: APIRouter = module.router
    app.include_router(tables)


def create_app(settings: Settings | None = None, *, encoder: Encoder | None = None) -> FastAPI:
    """The service over the state in ``settings.home``.

    Args:
        settings: configuration; read from the environment when omitted.
        encoder: an already loaded encoder to share (tests); else the settings' model.

    """
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run side by side in the thread pool: BLAS and OpenMP teams of their own
        # per request oversubscribe the cores (measured: 6x slower with 8 concurrent
        # recommends on 2 cores), so numeric libraries run one thread per request.
        limits = threadpool_limits(limits=1)
        if settings.follow:  # pulls before the state loads: a home may start empty
            app.state.follower = _follower(settings)
        loader = _Loader(app, settings, encoder)
        loader.thread.start()
        try:
            yield
        finally:
            limits.restore_original_limits()
            app.state.completions.shutdown()
            loader.stop.set()
            loader.thread.join(timeout=30)
            compactor: Compactor | None = app.state.compactor
            if compactor is not None:
                compactor.stopped.set()
            follower: Follower | None = app.state.follower
            if follower is not None:
                follower.stopped.set()
                follower.join(timeout=30)
            matcher: Matcher | None = app.state.matcher
            app.state.matcher = None
            if matcher is not None:
                matcher.close()
            if app.state.feed_store is not None:
                app.state.feed_store.close()

    app = FastAPI(
        title="ECCP partner matcher",
        version="0.1.0",
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        lifespan=lifespan,
        # '/recommend/' is 404, not a redirect built from the request's Host header.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.matcher = None
    app.state.compactor = None
    app.state.follower = None
    app.state.feed_store = None
    app.state.not_ready_reason = "loading the index; retry shortly"
    app.state.metrics = metrics
    app.state.rankings = RankingSlots(settings.ranking_slots, settings.queue_budget)
    app.state.completions = WorkPool(
        settings.completion_workers, settings.completion_time_limit, name="completion"
    )
    install_error_handlers(app, auth_refusal)
    app.include_router(router)
    app.include_router(replication_router)
    app.include_router(_operations())
    _include_optional_routers(app)
    _document_optional_read_key(app, settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    # add_middleware wraps: the last added is the outermost.
    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_in_flight)
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_body_bytes, timeout=settings.body_timeout
    )
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(ErrorGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _document_optional_read_key(app: FastAPI, settings: Settings) -> None:
    """State in the OpenAPI schema that reads take the key but do not need it.

    Unless ``read_key_required``, a read's security requirements include ``{}`` (none).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        if settings.read_key_required:
            return schema
        reads = {
            (method.lower(), r.path)
            for r in app_routes(app.routes)
            if isinstance(r.route, APIRoute)
            and any(d.dependency is require_read_key for d in r.route.dependencies)
            for method in r.methods
        }
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                if (method, path) in reads and "security" in operation:
                    operation["security"] = [*operation["security"], {}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _following(settings: Settings, matcher: Matcher) -> Following | None:
    """A follower's progress, from what its pulling process last wrote (None: a writer)."""
    if not settings.follow:
        return None
    status = follow_status(matcher.home) or {}
    writer = int(status.get("writer_sequence", -1))
    return Following(
        writer_sequence=writer if writer >= 0 else None,
        behind=max(writer - matcher.store.sequence(), 0) if writer >= 0 else None,
        checked_at=status.get("at"),
        error=status.get("error"),
    )


def _operations() -> APIRouter:
    ops = APIRouter(tags=["operations"])

    @ops.get("/health", summary="Alive")
    def health() -> Health:
        """200 as long as the process answers."""
        return Health()

    @ops.get(
        "/ready",
        summary="Loaded and serving",
        response_model=Ready,
        responses={503: responses(503)[503]},
    )
    def ready(request: Request) -> Ready | JSONResponse:
        """200 once the index is loaded; 503 ``not_ready`` until then."""
        matcher: Matcher | None = request.app.state.matcher
        if matcher is None:
            return error_response(
                503, "not_ready", request.app.state.not_ready_reason, headers={"Retry-After": "5"}
            )
        try:
            live = matcher.live()
        except StateError as exc:
            return error_response(503, "not_ready", str(exc), headers={"Retry-After": "5"})
        snapshot = live.snapshot
        assert snapshot is not None
        return Ready(
            organisations=int(live.context.profiles.alive.sum()),
            store_organisations=matcher.store.count_organisations(),
            sequence=live.seq,
            snapshot=snapshot.folder.name,
            snapshot_sequence=snapshot.seq,
            built_at=snapshot.manifest.created_at,
            worker=os.getpid(),
            following=_following(request.app.state.settings, matcher),
        )

    @ops.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics_text(request: Request) -> PlainTextResponse:
        """Requests by route and status, latency histogram, index size, last rebuild."""
        metrics: Metrics = request.app.state.metrics
        matcher: Matcher | None = request.app.state.matcher
        metrics.ready.set(0 if matcher is None else 1)
        if matcher is not None:
            live = matcher.live()
            assert live.snapshot is not None
            served = int(live.context.profiles.alive.sum())
            metrics.index_size.set(served)
            metrics.organisations.set(served)
            built = dt.datetime.fromisoformat(live.snapshot.manifest.created_at)
            metrics.last_rebuild.set(built.timestamp())
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return ops
