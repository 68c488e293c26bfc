"""One JSON error shape for every refusal, and the handlers that produce it.

Every error the service returns has the body::

    {"error": {"code": "unknown_organisation", "message": "…", "field": null, "problems": []}}

``code`` is stable and machine-readable, ``message`` is for people, ``field`` names the
request field at fault where there is one (``query.k``, ``body.organisations.3.country``,
``path.organisation_id``), and ``problems`` lists every field problem of a 422.

No message carries a filesystem path (:func:`public_message`), and an unexpected
exception is answered by :class:`ErrorGuardMiddleware` without being re-raised: Starlette's
own handler for ``Exception`` re-raises after answering, and uvicorn then closes the
connection, so the next request on a keep-alive connection met a reset.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.domain.errors import (
    BusyError,
    MatcherError,
    ReadOnlyError,
    ReferentialError,
    StateError,
    StoreFullError,
    UnknownOrganisationError,
)
from matcher.store.replication import FeedError, FeedGoneError

__all__ = [
    "ERROR_RESPONSES",
    "SHED",
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "ErrorGuardMiddleware",
    "FieldProblem",
    "error_response",
    "field_name",
    "install_error_handlers",
    "public_message",
    "responses",
    "unexpected_error",
]

SHED = {"Retry-After": "1", "Connection": "close"}
"""Headers of a 503 ``overloaded``: retry in a second, on a new connection.

A keep-alive connection stays with the worker process that accepted it. Connections
opened together (a client's pool) often all land on one worker, which then queues and
refuses while the other idles (measured at 100k: 8 connections of the load test, 8 and 0
per worker, answered 171.7 req/s; 7 and 1, 273.6 req/s). Closing the connection of a
refused request lets the client's retry be accepted by whichever worker takes it first.
"""

logger = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    """One problem with one request field."""

    field: str = Field(description="where: 'query.k', 'body.organisations.0.country', …")
    message: str


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="stable machine-readable code, e.g. 'unknown_organisation'")
    message: str = Field(description="what went wrong, for people")
    field: str | None = Field(default=None, description="the request field at fault, if any")
    problems: list[FieldProblem] = Field(
        default_factory=list, description="every field problem (422 only)"
    )


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """An error to answer with the shared shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        problems: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.problems = list(problems)
        self.headers = dict(headers or {})


_PATH = re.compile(r"(?<![\w:/.~-])~?/(?:[\w.@+-]+/)+[\w.@+-]*")


def public_message(message: str) -> str:
    """``message`` with filesystem paths (two components or more) replaced by ``<path>``."""
    return _PATH.sub("<path>", message)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    problems: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the shared error shape (paths left out of every message)."""
    shown = [
        p.model_copy(update={"message": public_message(p.message)}) for p in list(problems)[:50]
    ]
    body = ErrorBody(
        error=ErrorDetail(code=code, message=public_message(message), field=field, problems=shown)
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def field_name(loc: Sequence[int | str]) -> str:
    """A validation error's location as a dotted name: ``('query', 'k')`` → ``query.k``."""
    return ".".join(str(part) for part in loc) or "body"


_EXAMPLES: dict[int, tuple[str, str, str | None]] = {
    401: ("missing_api_key", "this endpoint needs an API key: X-API-Key or Bearer", None),
    403: ("wrong_api_key", "the API key is not valid", None),
    404: ("unknown_organisation", "unknown organisation id 'CL-NOPE'", None),
    408: ("body_timeout", "the request body did not arrive within 20 s", None),
    409: ("not_indexed", "organisation 'X' is not in the index: run `matcher build`", None),
    410: (
        "changes_pruned",
        "the changes after 12 were pruned: copy the writer's home again",
        "query.after",
    ),
    413: ("body_too_large", "the request body is larger than 2000000 bytes", None),
    422: ("invalid_request", "Input should be less than or equal to 100", "query.k"),
    429: ("rate_limited", "too many requests without an API key from this address", None),
    500: ("internal_error", "internal error; see the server log", None),
    503: ("not_ready", "the service is loading its index; retry shortly", None),
    507: ("disk_full", "the server's disk is full; nothing was written", None),
}
_DESCRIPTIONS = {
    401: "No API key given (write endpoints; reads too when MATCHER_READ_KEY_REQUIRED)",
    403: "Wrong API key, or writes disabled because MATCHER_API_KEY is unset",
    404: "Unknown organisation (or collaboration)",
    408: "The request body did not arrive within MATCHER_BODY_TIMEOUT seconds "
    "(`body_timeout`); the connection is closed",
    409: "The request contradicts itself (`id_mismatch`: the body's id is not the path's; "
    "`duplicate_id`: an id twice in a batch; `same_organisation`: both ends of a "
    "collaboration, or feedback about oneself), or the organisation is in the store but "
    "not yet in the loaded index (`not_indexed`); a write to a follower "
    "(`read_only_follower`: MATCHER_FOLLOW is set); a change feed asked for from beyond this "
    "store's sequence (`not_this_store`)",
    410: "The change feed after this sequence was pruned (`changes_pruned`): the follower "
    "needs a new copy of the writer's home",
    413: "Request body too large",
    422: "Invalid request: `field` names the first field at fault, `problems` all of them",
    429: "Too many requests without a valid API key from this client address "
    "(`rate_limited`, MATCHER_ANONYMOUS_RATE); `Retry-After` says when to try again",
    500: "An unexpected error (`internal_error`); the server log has the details",
    503: "Not ready (`not_ready`: the index is still loading, or there is no build yet), "
    "overloaded (`overloaded`: MATCHER_MAX_IN_FLIGHT requests in hand already), "
    "`busy` or `time_limit` (consortium completion), `store_busy`, `store_read_only`",
    507: "The disk holding MATCHER_HOME is full (`disk_full`); nothing was written",
}


def _response(status: int) -> dict[str, Any]:
    code, message, field = _EXAMPLES[status]
    return {
        "model": ErrorBody,
        "description": _DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "example": {
                    "error": {"code": code, "message": message, "field": field, "problems": []}
                }
            }
        },
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {s: _response(s) for s in _EXAMPLES}
"""OpenAPI descriptions of every error status, for routes' ``responses=``."""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI error responses for the given statuses.

    408, 413, 422, 429, 500 and 507 are always included: any endpoint may answer them.
    """
    wanted = {*statuses, 408, 413, 422, 429, 500, 507}
    return {s: ERROR_RESPONSES[s] for s in sorted(wanted)}


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unexpected_error(exc: BaseException) -> JSONResponse:
    """The answer to an exception no handler took: 507 for a full disk, else 5xx.

    A full disk (SQLite's 'database or disk is full', ENOSPC, EDQUOT) is 507 ``disk_full``;
    a store locked past its busy timeout 503 ``store_busy``; a read-only store 503
    ``store_read_only``; anything else 500 ``internal_error``.
    """
    for cause in _causes(exc):
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(cause, sqlite3.Error) and code is not None:
            primary = code & 0xFF
            if primary == sqlite3.SQLITE_FULL:
                return error_response(507, "disk_full", "the server's disk is full; retry later")
            if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return error_response(
                    503, "store_busy", "the store is busy; retry", headers={"Retry-After": "1"}
                )
            if primary == sqlite3.SQLITE_READONLY:
                return error_response(
                    503, "store_read_only", "the store cannot be written (read-only)"
                )
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return error_response(507, "disk_full", "the server's disk is full; retry later")
        if isinstance(cause, OSError) and cause.errno == errno.EROFS:
            return error_response(503, "store_read_only", "the server's disk is read-only")
    return error_response(500, "internal_error", "internal error; see the server log")


class ErrorGuardMiddleware:
    """Answer an exception no handler took, and keep the connection open.

    Starlette's handler for ``Exception`` re-raises after answering, and uvicorn then closes
    the connection: a client reusing it met a reset. Here the exception is logged and
    answered (:func:`unexpected_error`) and not re-raised. Once a response has started
    nothing else can be said, so the exception goes on and the connection is closed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            logger.error(
                "internal error on %s %s: %s",
                scope.get("method", ""),
                scope.get("path", ""),
                type(exc).__name__,
                exc_info=exc,
            )
            await unexpected_error(exc)(scope, receive, send)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
}


def _allowed(request: Request) -> str:
    """Every method some route takes at this request's path (for a 405's ``Allow``)."""
    from service.routing import app_routes

    path = request.url.path
    methods: set[str] = set()
    for route in app_routes(request.app.routes):
        if route.regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def install_error_handlers(
    app: FastAPI, auth_refusal: Callable[[Request], ApiError | None] | None = None
) -> None:
    """Answer every error with the shared shape.

    Args:
        app: the app.
        auth_refusal: the key check of the matched route; a request it refuses gets that
            refusal (401, 403) instead of a 422 (the key is checked first).
    """

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            field=exc.field,
            problems=exc.problems,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = auth_refusal(request) if auth_refusal is not None else None
        if refusal is not None:
            return await _api_error(request, refusal)
        problems = [
            FieldProblem(field=field_name(e.get("loc", ())), message=str(e.get("msg", "invalid")))
            for e in exc.errors()
        ]
        media = request.headers.get("content-type", "")
        if problems and problems[0].field == "body" and "json" not in media.lower():
            problems[0] = FieldProblem(
                field="body", message="send the body as JSON, with Content-Type: application/json"
            )
        first = problems[0] if problems else FieldProblem(field="body", message="invalid request")
        return error_response(
            422,
            "invalid_request",
            f"{first.field}: {first.message}",
            field=first.field,
            problems=problems[:50],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI: a body it could not decode (not UTF-8 JSON)
            refusal = auth_refusal(request) if auth_refusal is not None else None
            if refusal is not None:
                return await _api_error(request, refusal)
            problem = FieldProblem(field="body", message="the body is not JSON in UTF-8")
            return error_response(
                422, "invalid_request", problem.message, field="body", problems=[problem]
            )
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        return error_response(exc.status_code, code, message, headers=headers)

    @app.exception_handler(UnknownOrganisationError)
    async def _unknown(request: Request, exc: UnknownOrganisationError) -> JSONResponse:
        return error_response(404, "unknown_organisation", str(exc))

    @app.exception_handler(ReferentialError)
    async def _referential(request: Request, exc: ReferentialError) -> JSONResponse:
        return error_response(404, "unknown_organisation", str(exc), field="body.collaborations")

    @app.exception_handler(StateError)
    async def _state(request: Request, exc: StateError) -> JSONResponse:
        message = str(exc).replace(str(request.app.state.settings.home_path), "MATCHER_HOME")
        return error_response(503, "not_ready", message, headers={"Retry-After": "5"})

    @app.exception_handler(StoreFullError)
    async def _full(request: Request, exc: StoreFullError) -> JSONResponse:
        return error_response(507, "disk_full", "the server's disk is full; nothing was written")

    @app.exception_handler(BusyError)
    async def _busy(request: Request, exc: BusyError) -> JSONResponse:
        return error_response(503, "overloaded", str(exc), headers=SHED)

    @app.exception_handler(ReadOnlyError)
    async def _read_only(request: Request, exc: ReadOnlyError) -> JSONResponse:
        return error_response(409, "read_only_follower", str(exc))

    @app.exception_handler(FeedGoneError)
    async def _gone(request: Request, exc: FeedGoneError) -> JSONResponse:
        return error_response(410, "changes_pruned", str(exc), field="query.after")

    @app.exception_handler(FeedError)
    async def _feed(request: Request, exc: FeedError) -> JSONResponse:
        return error_response(409, "not_this_store", str(exc), field="query.after")

    @app.exception_handler(MatcherError)
    async def _matcher(request: Request, exc: MatcherError) -> JSONResponse:
        return error_response(422, "invalid_request", str(exc))
