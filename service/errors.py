"""One JSON error shape for every refusal, and the handlers that produce it.

Every error the service returns has the body::

    {"error": {"code": "unknown_organisation", "message": "…", "field": null, "problems": []}}

``code`` is stable and machine-readable, ``message`` is for people, ``field`` names the
request field at fault where there is one (``query.k``, ``body.organisations.3.country``,
``path.organisation_id``), and ``problems`` lists every field problem of a 422.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from matcher.domain.errors import (
    MatcherError,
    ReferentialError,
    StateError,
    UnknownOrganisationError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "FieldProblem",
    "error_response",
    "field_name",
    "install_error_handlers",
    "responses",
]

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


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    problems: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the shared error shape."""
    body = ErrorBody(
        error=ErrorDetail(code=code, message=message, field=field, problems=list(problems))
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def field_name(loc: Sequence[int | str]) -> str:
    """A validation error's location as a dotted name: ``('query', 'k')`` → ``query.k``."""
    return ".".join(str(part) for part in loc) or "body"


_EXAMPLES: dict[int, tuple[str, str, str | None]] = {
    401: ("missing_api_key", "this endpoint needs an API key: X-API-Key or Bearer", None),
    403: ("wrong_api_key", "the API key is not valid", None),
    404: ("unknown_organisation", "unknown organisation id 'CL-NOPE'", None),
    409: ("not_indexed", "organisation 'X' is not in the index: run `matcher build`", None),
    413: ("body_too_large", "the request body is larger than 2000000 bytes", None),
    422: ("invalid_request", "Input should be less than or equal to 100", "query.k"),
    503: ("not_ready", "the service is loading its index; retry shortly", None),
}
_DESCRIPTIONS = {
    401: "No API key given (write endpoints; reads too when MATCHER_READ_KEY_REQUIRED)",
    403: "Wrong API key, or writes disabled because MATCHER_API_KEY is unset",
    404: "Unknown organisation (or collaboration)",
    409: "The organisation is in the store but not in the loaded index",
    413: "Request body too large",
    422: "Invalid request: `field` names the first field at fault, `problems` all of them",
    503: "Not ready (`not_ready`: the index is still loading, or there is no build yet), "
    "or overloaded (`overloaded`: MATCHER_MAX_IN_FLIGHT requests in hand already)",
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
    """The OpenAPI error responses for the given statuses (422 and 413 always included)."""
    wanted = {*statuses, 413, 422}
    return {s: ERROR_RESPONSES[s] for s in sorted(wanted)}


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the shared shape."""

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
        problems = [
            FieldProblem(field=field_name(e.get("loc", ())), message=str(e.get("msg", "invalid")))
            for e in exc.errors()
        ]
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
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(UnknownOrganisationError)
    async def _unknown(request: Request, exc: UnknownOrganisationError) -> JSONResponse:
        return error_response(404, "unknown_organisation", str(exc))

    @app.exception_handler(ReferentialError)
    async def _referential(request: Request, exc: ReferentialError) -> JSONResponse:
        return error_response(404, "unknown_organisation", str(exc), field="body.collaborations")

    @app.exception_handler(StateError)
    async def _state(request: Request, exc: StateError) -> JSONResponse:
        return error_response(409, "not_indexed", str(exc))

    @app.exception_handler(MatcherError)
    async def _matcher(request: Request, exc: MatcherError) -> JSONResponse:
        return error_response(422, "invalid_request", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error(
            "internal error on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return error_response(500, "internal_error", "internal error; see the server log")
