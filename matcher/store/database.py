"""One SQLite file in WAL mode: a connection per thread, migrations, transactions."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from matcher.domain.errors import StoreFullError
from matcher.store.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Database"]

logger = logging.getLogger(__name__)


class Database:
    """The SQLite file behind the store.

    Every thread gets its own connection (so transactions never mix); several processes
    may open the same file (WAL lets readers go on while one writer writes).

    Args:
        path: the database file; created with the current schema if missing.
        migrate: bring an older schema up to date on open (read-only users pass False).
    """

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        if migrate:
            self._migrate()

    @property
    def _db(self) -> sqlite3.Connection:
        """The calling thread's connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
            self._local.depth = 0
            with self._connections_lock:
                self._connections.append(db)
        return db

    @property
    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @_depth.setter
    def _depth(self, value: int) -> None:
        self._local.depth = value

    def close(self) -> None:
        """Close every thread's connection."""
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path.name}: schema version {version} is newer than this code's "
                f"({SCHEMA_VERSION}); upgrade the package"
            )
        for number in range(version, SCHEMA_VERSION):
            logger.info("migrating %s to schema version %d", self.path, number + 1)
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one write transaction (nested blocks join the outer one).

        Raises:
            StoreFullError: the disk is full; nothing of the block was written.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            _raise_if_full(exc)
            raise
        self._depth = 1
        try:
            yield
        except BaseException as exc:
            self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                _raise_if_full(exc)
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                _raise_if_full(exc)
                raise
        finally:
            self._depth = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the block's reads on one consistent view of the file (a read transaction)."""
        if self._depth:
            yield
            return
        self._db.execute("BEGIN")
        self._depth = 1
        try:
            yield
        finally:
            self._db.execute("COMMIT")
            self._depth = 0


def _raise_if_full(exc: sqlite3.OperationalError) -> None:
    if "full" in str(exc).lower():
        raise StoreFullError("the disk holding the store is full; nothing was written") from exc
