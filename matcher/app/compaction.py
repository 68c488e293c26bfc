"""Compaction: a new snapshot when the change log since the current one grows long.

Every serving process checks now and then (:class:`Compactor`); the first to take the
home's compaction lock runs ``matcher build`` in a separate, lower-priority process, so
serving keeps its cores' share. The build holds the lock too, until it ends. Processes
switch to the new snapshot in the background when it is current
(:meth:`matcher.app.state.LiveState.refresh`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from embeddings import read_manifest
from embeddings.artefact import ManifestMismatchError, current_folder
from matcher.store import Store

__all__ = ["Compactor", "pending_changes"]

logger = logging.getLogger(__name__)


def pending_changes(home: Path, store: Store) -> int:
    """Changes logged since the current snapshot (all of them without one)."""
    folder = current_folder(home)
    seq = 0
    if folder is not None:
        try:
            seq = int(read_manifest(folder).extra.get("seq", 0))
        except ManifestMismatchError:
            seq = 0
    return store.count_changes_since(seq)


class Compactor(threading.Thread):
    """Checks every ``interval`` seconds and builds when ``threshold`` changes are pending.

    Args:
        home: ``MATCHER_HOME``.
        store: the store.
        threshold: pending changes that call for a new snapshot.
        interval: seconds between checks.
    """

    def __init__(self, home: Path, store: Store, *, threshold: int, interval: float) -> None:
        super().__init__(name="compactor", daemon=True)
        self.home, self.store = home, store
        self.threshold, self.interval = threshold, interval
        self.stopped = threading.Event()
        self.builds = 0

    def run(self) -> None:
        """Check every ``interval`` seconds until stopped."""
        while not self.stopped.wait(self.interval):
            try:
                self.check()
            except Exception:  # a failed build leaves the last good snapshot: try later
                logger.exception("compaction failed; serving the last snapshot")

    def check(self) -> bool:
        """Build now if enough changes are pending and no other process is building."""
        if pending_changes(self.home, self.store) < self.threshold:
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "compaction.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process is building
            if pending_changes(self.home, self.store) < self.threshold:
                return False
            logger.info("compacting: a new snapshot of %s", self.home)
            env = {**os.environ, "MATCHER_HOME": str(self.home)}
            # The build inherits the locked file: the home stays locked while it runs, even
            # when this process stops first (a server restarted mid-build would otherwise
            # start a second build of the same home beside the first).
            subprocess.run(
                [sys.executable, "-m", "matcher", "build"],
                env=env,
                check=True,
                preexec_fn=lambda: os.nice(10),
                stdout=subprocess.DEVNULL,
                pass_fds=(lock.fileno(),),
            )
            self.builds += 1
            return True
