"""Shared dependencies: the loaded Matcher (503 until it is loaded).

Other routers (e.g. the table planner's ``service/tables.py``) get the facade with
``matcher: Annotated[Matcher, Depends(get_matcher)]``; it lives in ``app.state.matcher``
(``None`` while loading).
"""

from __future__ import annotations

from fastapi import Request

from matcher.app.matcher import Matcher
from service.errors import ApiError

__all__ = ["get_matcher"]


async def get_matcher(request: Request) -> Matcher:
    """The loaded facade (a coroutine: FastAPI runs plain functions in its thread pool).

    Raises:
        ApiError: 503 ``not_ready`` while the index is loading or missing.
    """
    matcher: Matcher | None = request.app.state.matcher
    if matcher is None:
        reason: str = request.app.state.not_ready_reason
        raise ApiError(503, "not_ready", reason, headers={"Retry-After": "5"})
    return matcher
