"""The SQLite store: the single source of truth."""

from matcher.store.store import SCHEMA_VERSION, CollaborationRow, Store

__all__ = ["SCHEMA_VERSION", "CollaborationRow", "Store"]
