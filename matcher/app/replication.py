"""Serving from several hosts: a copy of the writer's home that follows the writer's feed.

One server (the writer) takes every write. A server on another host (a follower,
``MATCHER_FOLLOW`` set to the writer's URL) serves a copy of the writer's home, made once
with :func:`copy_home` (``matcher copy-home DEST``) and shipped to that host. One of its
processes (the one that takes ``follow.lock`` in its home) asks the writer's
``GET /replication/changes`` for the changes after its copy's sequence every
``MATCHER_FOLLOW_INTERVAL`` seconds and applies each page in one transaction
(:meth:`matcher.store.Store.follow`); every worker of the follower then serves them at its
next request, as workers on the writer's host do. A follower refuses writes and builds
nothing: each page names the writer's current snapshot, and when it is new the follower
downloads it (``GET /replication/snapshot``, :func:`snapshot_files`) into its own
``builds/`` and makes it current once its copy of the store has reached the snapshot's
sequence (its workers then switch to it, as after a build), pruning what a build on the
writer prunes. The state of the following is written to ``follow.json`` in the home, for
``/ready``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from embeddings import read_manifest
from embeddings.artefact import current_folder, make_current, prune_builds
from matcher.store import STORE_FILE, Store
from matcher.store.replication import FeedError, FeedGoneError

__all__ = [
    "FOLLOW_LOCK",
    "FOLLOW_STATUS",
    "Follower",
    "copy_home",
    "current_snapshot",
    "follow_status",
    "snapshot_files",
]

logger = logging.getLogger(__name__)

FOLLOW_LOCK = "follow.lock"
"""The file in the home whose lock makes one process of a follower the one that pulls."""
FOLLOW_STATUS = "follow.json"
"""The file in the home saying how far the follower got, for every worker's ``/ready``."""
RETRY_FIRST = 1.0
RETRY_MAX = 30.0


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def copy_home(source: Path, target: Path, *, marker: str | None = None) -> Path:
    """Copy a home's store and current snapshot into an empty folder.

    The store is copied with SQLite's online backup (consistent while others write);
    the snapshot's files are hard-linked where the file system allows (snapshots are
    never written in place), else copied.

    Args:
        source: the home copied.
        target: a new or empty folder.
        marker: a file of the home copied with it when present (e.g. the demo's).

    Raises:
        ValueError: the target exists and is not empty, or the home has no snapshot.
    """
    if target.exists() and any(target.iterdir()):
        raise ValueError(f"{target} is not empty: give a new folder for the copy")
    folder = current_folder(source)
    if folder is None:
        raise ValueError(f"{source} has no snapshot to copy: run `matcher build` first")
    target.mkdir(parents=True, exist_ok=True)
    with (
        sqlite3.connect(f"file:{source / STORE_FILE}?mode=ro", uri=True) as src,
        sqlite3.connect(target / STORE_FILE) as dst,
    ):
        src.backup(dst)
    shutil.copytree(folder, target / "builds" / folder.name, copy_function=_link_or_copy)
    (target / "current").write_text(folder.name)
    if marker is not None and (source / marker).exists():
        shutil.copy2(source / marker, target / marker)
    return target


def current_snapshot(home: Path) -> dict[str, Any] | None:
    """The current snapshot's name and the store sequence it reflects (None: no build)."""
    folder = current_folder(home)
    if folder is None:
        return None
    return {"name": folder.name, "sequence": int(read_manifest(folder).extra.get("seq", 0))}


def snapshot_files(home: Path, name: str) -> list[dict[str, Any]] | None:
    """The files of the build ``name`` (relative paths and sizes), or None if there is none.

    Only a finished build's folder is listed (never a temporary one, never outside
    ``builds/``).
    """
    builds = home / "builds"
    folder = builds / name
    if name.startswith(".") or "/" in name or not folder.is_dir() or folder.parent != builds:
        return None
    return [
        {"path": f.relative_to(folder).as_posix(), "size": f.stat().st_size}
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    ]


def follow_status(home: Path) -> dict[str, Any] | None:
    """What the follower of this home last wrote (None before it wrote anything)."""
    try:
        data: dict[str, Any] = json.loads((home / FOLLOW_STATUS).read_text())
    except (OSError, ValueError):
        return None
    return data


class _BusyError(Exception):
    """The writer refused for now (503 or 429) and said when to ask again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"busy; retry after {retry_after} s")
        self.retry_after = retry_after


class Follower(threading.Thread):
    """Pulls the writer's feed into this home's store until stopped (one per home).

    Args:
        home: this follower's ``MATCHER_HOME`` (a copy of the writer's); its store is
            opened by the thread (retried while it cannot be).
        url: the writer's base URL (``http://writer:8000``).
        key: the API key the writer's feed asks for.
        interval: seconds between asks once caught up.
        page: changes asked for at a time.
        timeout: seconds one ask may take.
        keep: builds kept on disk (``MATCHER_KEEP_BUILDS``).
    """

    def __init__(
        self,
        home: Path,
        url: str,
        key: str,
        *,
        interval: float = 0.2,
        page: int = 500,
        timeout: float = 30.0,
        keep: int = 2,
    ) -> None:
        super().__init__(name="follower", daemon=True)
        self.home = home
        self.store: Store | None = None
        self.url, self.key = url.rstrip("/"), key
        self.interval, self.page, self.timeout, self.keep = interval, page, timeout, keep
        self.stopped = threading.Event()
        self._last: tuple[int, int, str | None] | None = None
        self._serving: str | None = None
        """The writer's snapshot this home serves, once known (only this thread moves it)."""
        self._written = 0.0

    def run(self) -> None:
        """Open the store, take the home's follow lock (wait while another holds it), pull."""
        wait = RETRY_FIRST
        while self.store is None:
            try:
                self.store = Store(self.home / STORE_FILE)
            except Exception as exc:  # e.g. a home that cannot be written: say so, retry
                logger.error("a follower cannot open its store (retry in %.0f s): %s", wait, exc)
                if self.stopped.wait(wait):
                    return
                wait = min(2 * wait, RETRY_MAX)
        try:
            self._pull()
        finally:
            self.store.close()

    def _pull(self) -> None:
        with (self.home / FOLLOW_LOCK).open("w") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another process pulls; take over if it stops
                    if self.stopped.wait(5.0):
                        return
            logger.info("following the writer's change feed")
            wait = RETRY_FIRST
            while not self.stopped.is_set():
                try:
                    applied = self.step()
                except _BusyError as exc:  # the writer is loaded: as long as it asks, no back-off
                    self.stopped.wait(exc.retry_after)
                    continue
                except Exception as exc:  # unreachable, refused, gone: say so, back off
                    pause = RETRY_MAX if isinstance(exc, FeedGoneError) else wait
                    self._write_status(None, f"{type(exc).__name__}: {exc}")
                    logger.warning("following the writer failed (retry in %.0f s): %s", pause, exc)
                    self.stopped.wait(pause)
                    wait = min(2 * wait, RETRY_MAX)
                    continue
                wait = RETRY_FIRST
                if not applied:
                    self.stopped.wait(self.interval)

    def step(self) -> int:
        """Ask for and apply one page; return how many changes it held."""
        assert self.store is not None
        page = self._fetch(self.store.sequence(), self.store.plans_mark())
        applied = self.store.follow(page)
        if applied:
            logger.debug("applied %d changes, now at %d", applied, self.store.sequence())
        self._follow_snapshot(page.get("snapshot"))
        self._write_status(int(page["sequence"]), None)
        return applied

    def _fetch(self, after: int, plans_mark: str) -> dict[str, Any]:
        query = urllib.parse.urlencode({"after": after, "limit": self.page, "plans": plans_mark})
        with self._open(f"/replication/changes?{query}") as response:
            page: dict[str, Any] = json.loads(response.read())
        return page

    def _open(self, path: str) -> Any:
        """GET ``path`` from the writer (the response, to read or stream).

        Raises:
            FeedGoneError: 410 (the log was pruned).
            FeedError: another refusal.
        """
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"X-API-Key": self.key, "Accept": "application/json"}
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = exc.reason
            if exc.code == 410:
                raise FeedGoneError(message) from exc
            if exc.code in (429, 503):
                try:
                    told = float(exc.headers.get("Retry-After", "1"))
                except ValueError:
                    told = 1.0
                raise _BusyError(min(max(told, 0.1), RETRY_MAX)) from exc
            raise FeedError(f"the writer answered {exc.code}: {message}") from exc

    def _follow_snapshot(self, wanted: dict[str, Any] | None) -> None:
        """Download the writer's current snapshot when new; make it current once reached."""
        assert self.store is not None
        if not wanted:
            return
        name = str(wanted["name"])
        if name == self._serving:
            return
        here = current_folder(self.home)
        if here is not None and here.name == name:
            self._serving = name
            return
        folder = self.home / "builds" / name
        if not folder.is_dir():
            self._download(name, folder)
        if self.store.sequence() < int(wanted["sequence"]):
            return  # made current once the copy of the store has reached it
        make_current(self.home, name)
        self._serving = name
        logger.info("serving the writer's snapshot %s", name)
        prune_builds(self.home, keep=self.keep)
        if here is not None:  # as a build on the writer does: two generations stay served
            self.store.prune_changes(int(read_manifest(here).extra.get("seq", 0)))

    def _download(self, name: str, folder: Path) -> None:
        started = time.perf_counter()
        quoted = urllib.parse.quote(name)
        with self._open(f"/replication/snapshot/{quoted}") as response:
            files: list[dict[str, Any]] = json.loads(response.read())["files"]
        partial = folder.parent / f".tmp-{name}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            for entry in files:
                target = partial / entry["path"]
                if partial.resolve() not in target.resolve().parents:
                    raise FeedError(f"the writer listed a file outside the snapshot: {entry}")
                target.parent.mkdir(parents=True, exist_ok=True)
                path = urllib.parse.quote(entry["path"])
                with (
                    self._open(f"/replication/snapshot/{quoted}/{path}") as response,
                    target.open("wb") as out,
                ):
                    shutil.copyfileobj(response, out, 1 << 20)
                    out.flush()
                    os.fsync(out.fileno())
                if target.stat().st_size != int(entry["size"]):
                    raise FeedError(f"{entry['path']} of snapshot {name} arrived incomplete")
            read_manifest(partial)  # a snapshot of another schema is refused here
            os.replace(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        size = sum(int(e["size"]) for e in files)
        logger.info(
            "downloaded the writer's snapshot %s (%d files, %.0f MiB) in %.1f s",
            name,
            len(files),
            size / 2**20,
            time.perf_counter() - started,
        )

    def _write_status(self, writer_sequence: int | None, error: str | None) -> None:
        """Write ``follow.json`` when something in it changed, else every few seconds."""
        assert self.store is not None
        if writer_sequence is None:  # a failed ask: the last answer's, if any
            writer_sequence = self._last[0] if self._last is not None else -1
        sequence = self.store.sequence()
        now = (writer_sequence, sequence, error)
        if now == self._last and error is None and time.monotonic() - self._written < 5.0:
            return
        self._last, self._written = now, time.monotonic()
        status = {
            "writer_sequence": writer_sequence,
            "sequence": sequence,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "error": error,
        }
        temporary = self.home / f".{FOLLOW_STATUS}.{os.getpid()}"
        temporary.write_text(json.dumps(status))
        os.replace(temporary, self.home / FOLLOW_STATUS)
