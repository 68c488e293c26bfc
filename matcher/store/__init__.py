"""The SQLite store: the single source of truth."""

from matcher.store.store import SCHEMA_VERSION, STORE_FILE, CollaborationRow, Store

__all__ = ["SCHEMA_VERSION", "STORE_FILE", "CollaborationRow", "Store"]
