"""The API-key dependencies: writes always need the key, reads when the settings say so.

The key comes as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` and is compared
in constant time (:func:`hmac.compare_digest`). It is never logged. Without a configured
key (``MATCHER_API_KEY`` unset) writes are refused with 403 ``writes_disabled``: a
server nobody can write to is a configuration state, not a transient outage, so it is
not a 503.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from matcher.app.settings import Settings
from service.errors import ApiError

__all__ = ["require_read_key", "require_write_key"]

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


def _check(
    settings: Settings,
    key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
    *,
    what: str,
) -> None:
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    if not expected:
        raise ApiError(
            403,
            f"{what}_disabled",
            f"{what} are disabled: the server has no API key (set MATCHER_API_KEY)",
        )
    given = key if key else (bearer.credentials if bearer is not None else "")
    if not given:
        raise ApiError(
            401,
            "missing_api_key",
            f"{what} need an API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "wrong_api_key", "the API key is not valid")


def require_write_key(
    settings: Annotated[Settings, Depends(_settings)], key: _KeyHeader, bearer: _BearerHeader
) -> None:
    """Refuse a write without the right key (401 missing, 403 wrong or none configured)."""
    _check(settings, key, bearer, what="writes")


def require_read_key(
    settings: Annotated[Settings, Depends(_settings)], key: _KeyHeader, bearer: _BearerHeader
) -> None:
    """Refuse a read without the right key, when ``read_key_required`` is set."""
    if settings.read_key_required:
        _check(settings, key, bearer, what="reads")
