"""What a follower on another host reads: the change feed and the writer's snapshots.

``GET /replication/changes``: the changes after a sequence number with the current rows
they touched (:mod:`matcher.store.replication`), and the name of the current snapshot; a
follower applies the page to its copy of the store (:mod:`matcher.app.replication`).
``GET /replication/snapshot/{name}`` lists a snapshot's files, each of which
``GET /replication/snapshot/{name}/{path}`` sends. All need the API key: they read
everything.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from matcher.app.replication import current_snapshot, snapshot_files
from matcher.app.settings import Settings
from matcher.store import Store
from matcher.store.replication import MAX_PAGE
from service.errors import ApiError, responses
from service.security import require_replication_key

__all__ = ["ChangePage", "SnapshotFiles", "router"]

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


class SnapshotName(BaseModel):
    """A snapshot, and the store sequence it reflects."""

    name: str
    sequence: int


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
    snapshot: SnapshotName | None = Field(description="the writer's current snapshot")


class SnapshotFile(BaseModel):
    """One file of a snapshot."""

    path: str = Field(description="relative to the snapshot's folder")
    size: int = Field(description="bytes")


class SnapshotFiles(BaseModel):
    """The files of one snapshot, to download one by one."""

    name: str
    files: list[SnapshotFile]


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
    settings: Settings = request.app.state.settings
    page["snapshot"] = await run_in_threadpool(current_snapshot, settings.home_path)
    return JSONResponse(page)


_NAME = Path(
    max_length=40, pattern=r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$", description="a snapshot's name"
)


def _listing(request: Request, name: str) -> list[dict[str, Any]]:
    settings: Settings = request.app.state.settings
    files = snapshot_files(settings.home_path, name)
    if files is None:
        raise ApiError(404, "unknown_snapshot", f"no snapshot {name!r} here (pruned, or never)")
    return files


@router.get(
    "/replication/snapshot/{name}",
    summary="A snapshot's files (for followers)",
    dependencies=[Depends(require_replication_key)],
    response_model=SnapshotFiles,
    responses=responses(401, 403, 404),
)
def snapshot_listing(request: Request, name: Annotated[str, _NAME]) -> SnapshotFiles:
    """The files of the snapshot ``name``: each path and size."""
    return SnapshotFiles.model_validate({"name": name, "files": _listing(request, name)})


@router.get(
    "/replication/snapshot/{name}/{path:path}",
    summary="One file of a snapshot (for followers)",
    dependencies=[Depends(require_replication_key)],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **responses(401, 403, 404)},
)
def snapshot_file(
    request: Request,
    name: Annotated[str, _NAME],
    path: Annotated[str, Path(max_length=200, description="a path from the listing")],
) -> FileResponse:
    """One file of the snapshot ``name`` (only the paths its listing names)."""
    if path not in {f["path"] for f in _listing(request, name)}:
        raise ApiError(404, "unknown_file", f"snapshot {name!r} has no file {path!r}")
    settings: Settings = request.app.state.settings
    return FileResponse(
        settings.home_path / "builds" / name / path, media_type="application/octet-stream"
    )
