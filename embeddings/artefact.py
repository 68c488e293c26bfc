"""Artefact folders: written whole to a temporary folder, renamed, then pointed to.

Layout under a builds root::

    builds/<name>/manifest.json   what was built, from what, with which model
    builds/<name>/...             the index, id map and embedding cache
    current                       a one-line file naming the folder readers use

A new build is written to ``builds/.tmp-<name>``, fsynced, renamed to ``builds/<name>``,
and only then is ``current`` replaced (``os.replace`` of a fsynced temporary file), so a
crash at any point leaves the last good build in place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ARTEFACT_SCHEMA_VERSION",
    "Manifest",
    "ManifestMismatchError",
    "current_folder",
    "make_current",
    "map_array",
    "prune_builds",
    "read_manifest",
    "write_atomically",
]

logger = logging.getLogger(__name__)

ARTEFACT_SCHEMA_VERSION = 2
"""Version of the artefact layout this code reads and writes."""


class ManifestMismatchError(ValueError):
    """An artefact that does not match what the reader expects."""


@dataclass(frozen=True)
class Manifest:
    """What an artefact folder holds and how it was made."""

    model_id: str
    model_revision: str
    backend: str
    dimension: int
    metric: str
    count: int
    data_hash: str
    schema_version: int = ARTEFACT_SCHEMA_VERSION
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def check(self, **expected: object) -> None:
        """Refuse a manifest whose fields differ from ``expected``.

        Raises:
            ManifestMismatchError: naming each field that differs.

        """
        wrong = [
            f"{name} is {getattr(self, name)!r}, expected {value!r}"
            for name, value in expected.items()
            if getattr(self, name) != value
        ]
        if wrong:
            raise ManifestMismatchError("artefact does not match: " + "; ".join(wrong))


def read_manifest(folder: Path) -> Manifest:
    """Read and check ``folder/manifest.json``.

    Raises:
        ManifestMismatchError: missing, unreadable, or of another schema version.

    """
    path = folder / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestMismatchError(f"{path}: cannot read the manifest ({exc})") from exc
    version = data.get("schema_version")
    if version != ARTEFACT_SCHEMA_VERSION:
        raise ManifestMismatchError(
            f"{path}: artefact schema version {version!r}, this code reads "
            f"{ARTEFACT_SCHEMA_VERSION}; rebuild with `matcher build`"
        )
    known = {f.name for f in dataclasses.fields(Manifest)}
    try:
        return Manifest(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise ManifestMismatchError(f"{path}: incomplete manifest ({exc})") from exc


def map_array(folder: Path, name: str) -> npt.NDArray[Any]:
    """Memory-map ``folder/name.npy`` read-only, as a plain array (shared page cache).

    The pages are shared by every process that maps the file; a plain ``ndarray`` view is
    returned rather than ``np.memmap`` (whose indexing goes through Python code).
    """
    return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_folder(root: Path) -> Path | None:
    """The folder that ``root/current`` names, or None when there is no build yet."""
    pointer = root / "current"
    if not pointer.exists():
        return None
    name = pointer.read_text().strip()
    folder = root / "builds" / name
    return folder if folder.is_dir() else None


def write_atomically(
    root: Path, manifest: Manifest, write: Callable[[Path], None], *, keep: int = 2
) -> Path:
    """Write a new artefact folder under ``root`` and make it current.

    Args:
        root: the folder holding ``builds/`` and ``current``.
        manifest: written last, as ``manifest.json``.
        write: fills the temporary folder with the artefact's files.
        keep: how many builds to keep, the new one included.

    Returns:
        The new folder.

    """
    builds = root / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    try:
        write(tmp)
        (tmp / "manifest.json").write_text(manifest.to_json())
        for path in sorted(tmp.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                _fsync_dir(path)
                continue
            with path.open("rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        final = builds / name
        os.replace(tmp, final)
        _fsync_dir(builds)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    make_current(root, name)
    logger.info("artefact %s is now current", final)
    prune_builds(root, keep=keep)
    return final


def make_current(root: Path, name: str) -> None:
    """Point ``root/current`` at the finished build ``builds/name``, atomically and durably."""
    pointer_tmp = root / f".current-{name}"
    with pointer_tmp.open("w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer_tmp, root / "current")
    _fsync_dir(root)


def prune_builds(root: Path, *, keep: int = 2) -> None:
    """Delete old builds and abandoned temporary folders, never the current one."""
    builds = root / "builds"
    current = current_folder(root)
    done = sorted(
        (p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    for old in done[:-keep] if keep > 0 else done:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in builds.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for stale in root.glob(".current-*"):
        stale.unlink(missing_ok=True)
