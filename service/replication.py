"""The change feed a follower on another host reads (``GET /replication/changes``).

A page is the changes after a sequence number with the current rows they touched
(:mod:`matcher.store.replication`); a follower applies it to its copy of the store
(:mod:`matcher.app.replication`). It needs the API key: it reads every table.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from matcher.app.settings import Settings
from matcher.store import Store
from matcher.store.replication import MAX_PAGE
from service.errors import responses
from service.security import require_replication_key

__all__ = ["ChangePage", "router"]

router = APIRouter(tags=["operations"])

_opening = threading.Lock()


def _store(request: Request) -> Store:
    """The store the feed reads, opened on first use (no loaded index needed)."""
    with _opening:
        store: Store | None = getattr(request.app.state, "feed_store", None)
        if store is None:
            settings: Settings = request.app.state.settings
            store = request.app.state.feed_store = Store(settings.store_path)
        return store


class Rows(BaseModel):
    """Rows of one table: its columns, then each row's values in that order."""

    columns: list[str] = Field(description="the table's columns")
    rows: list[list[Any]] = Field(description="values; a BLOB is {'b64': base64}")


class ChangePage(BaseModel):
    """One page of the change feed."""

    schema_version: int = Field(alias="schema", description="the store's schema version")
    sequence: int = Field(description="the writer's latest sequence number")
    after: int = Field(description="the sequence the page starts after")
    changes: list[list[Any]] = Field(
        description="[seq, at, kind, organisation_id, other_id] per change, oldest first"
    )
    tables: dict[str, Rows] = Field(description="the current rows the changes touched")
    plans_mark: str = Field(description="a digest of the saved plans")


@router.get(
    "/replication/changes",
    summary="Change feed (for followers)",
    dependencies=[Depends(require_replication_key)],
    response_class=JSONResponse,
    responses={200: {"model": ChangePage}, **responses(401, 403, 409, 410)},
)
async def changes(
    request: Request,
    after: Annotated[int, Query(ge=0, le=2**62, description="the follower's sequence")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="changes at most")] = 500,
    plans: Annotated[
        str, Query(max_length=64, pattern="^[0-9a-f]*$", description="the follower's plans mark")
    ] = "",
) -> JSONResponse:
    """The changes after ``after`` with the rows they touched (410: pruned, copy again)."""
    store = _store(request)
    page = await run_in_threadpool(store.feed, after, limit=limit, plans_mark=plans)
    return JSONResponse(page)
