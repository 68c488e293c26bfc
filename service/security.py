"""The API-key dependencies: writes always need the key, reads when the settings say so.

The key comes as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` and is compared
in constant time (:func:`hmac.compare_digest`). It is never logged. Without a configured
key (``MATCHER_API_KEY`` unset) writes are refused with 403 ``writes_disabled``: a
server nobody can write to is a configuration state, not a transient outage, so it is
not a 503.

The key is checked before anything else about a request: :func:`auth_refusal` lets the
validation-error handler answer 401/403 rather than 422 for a body that is not even JSON
sent without a key (FastAPI parses the body before it runs the dependencies).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from matcher.app.settings import Settings
from service.errors import ApiError

__all__ = [
    "auth_refusal",
    "check_read_key",
    "given_key",
    "key_is_valid",
    "require_read_key",
    "require_replication_key",
    "require_write_key",
]

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="the key in MATCHER_API_KEY",
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="Bearer", description="the key in MATCHER_API_KEY"
)

_KeyHeader = Annotated[str | None, Security(_api_key_header)]
_BearerHeader = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def given_key(headers: Mapping[str, str]) -> str:
    """The key a request carries (``X-API-Key`` first, then a Bearer token), or ''."""
    key = headers.get("x-api-key", "")
    if key:
        return key
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def key_is_valid(settings: Settings, given: str) -> bool:
    """Whether ``given`` is the configured key (never, without one)."""
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _check(settings: Settings, given: str, *, what: str) -> None:
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    if not expected:
        raise ApiError(
            403,
            f"{what}_disabled",
            f"{what} are disabled: the server has no API key (set MATCHER_API_KEY)",
        )
    if not given:
        raise ApiError(
            401,
            "missing_api_key",
            f"{what} need an API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not key_is_valid(settings, given):
        raise ApiError(403, "wrong_api_key", "the API key is not valid")


def _given(key: str | None, bearer: HTTPAuthorizationCredentials | None) -> str:
    return key if key else (bearer.credentials if bearer is not None else "")


# The dependencies are coroutines: they never block, and FastAPI runs a plain function
# dependency in its thread pool, a round trip per dependency per request.


async def require_write_key(request: Request, key: _KeyHeader, bearer: _BearerHeader) -> None:
    """Refuse a write without the right key (401 missing, 403 wrong or none configured).

    A follower refuses every write (409 ``read_only_follower``), once the key is right.
    """
    settings = _settings(request)
    _check(settings, _given(key, bearer), what="writes")
    _refuse_on_follower(settings)


def _refuse_on_follower(settings: Settings) -> None:
    if settings.follow:
        raise ApiError(
            409,
            "read_only_follower",
            "this server follows a writer and takes no writes: send them to the writer",
        )


async def require_replication_key(request: Request, key: _KeyHeader, bearer: _BearerHeader) -> None:
    """Refuse the change feed without the right key (the write key: it reads everything)."""
    _check(_settings(request), _given(key, bearer), what="feeds")


async def require_read_key(request: Request, key: _KeyHeader, bearer: _BearerHeader) -> None:
    """Refuse a read without the right key, when ``read_key_required`` is set."""
    settings = _settings(request)
    if settings.read_key_required:
        _check(settings, _given(key, bearer), what="reads")


def check_read_key(request: Request) -> None:
    """:func:`require_read_key` for a handler that reads the headers itself."""
    settings = _settings(request)
    if settings.read_key_required:
        _check(settings, given_key(request.headers), what="reads")


def auth_refusal(request: Request) -> ApiError | None:
    """The refusal the matched route's key dependency would give this request, if any."""
    route: Any = request.scope.get("route")
    needs = {d.dependency for d in getattr(route, "dependencies", ())}
    settings = _settings(request)
    given = given_key(request.headers)
    try:
        if require_write_key in needs:
            _check(settings, given, what="writes")
            _refuse_on_follower(settings)
        elif require_replication_key in needs:
            _check(settings, given, what="feeds")
        elif require_read_key in needs and settings.read_key_required:
            _check(settings, given, what="reads")
    except ApiError as refusal:
        return refusal
    return None
