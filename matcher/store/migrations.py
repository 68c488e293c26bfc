"""The store's schema, as the list of migrations that make it, oldest first."""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE organisations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        country TEXT,
        region TEXT,
        description TEXT NOT NULL DEFAULT '',
        ecosystems TEXT NOT NULL DEFAULT '[]',
        stages TEXT NOT NULL DEFAULT '[]',
        keywords TEXT NOT NULL DEFAULT '[]',
        offers TEXT NOT NULL DEFAULT '',
        seeks TEXT NOT NULL DEFAULT '',
        target_countries TEXT NOT NULL DEFAULT '[]',
        size INTEGER,
        languages TEXT NOT NULL DEFAULT '[]',
        website TEXT,
        updated_at TEXT
    );
    CREATE INDEX organisations_kind_country ON organisations(kind, country);
    CREATE TABLE collaborations (
        organisation_a TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        organisation_b TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        date TEXT NOT NULL,
        weight REAL NOT NULL,
        source_ref TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (organisation_a, organisation_b, kind, date, source_ref),
        CHECK (organisation_a < organisation_b)
    ) WITHOUT ROWID;
    CREATE INDEX collaborations_b ON collaborations(organisation_b);
    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        acronym TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT '',
        topic_title TEXT NOT NULL DEFAULT '',
        objective TEXT NOT NULL DEFAULT '',
        programme TEXT NOT NULL DEFAULT '',
        funding_scheme TEXT NOT NULL DEFAULT '',
        start_date TEXT,
        end_date TEXT
    );
    CREATE TABLE participations (
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        organisation_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        role TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (project_id, organisation_id)
    ) WITHOUT ROWID;
    CREATE INDEX participations_organisation ON participations(organisation_id);
    """,
    # 2: feedback on suggestions, and blocked pairs.
    """
    CREATE TABLE feedback (
        organisation_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        other_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (organisation_id, other_id, kind)
    ) WITHOUT ROWID;
    CREATE INDEX feedback_other ON feedback(other_id);
    """,
    # 3: collaborations by project, for consortium sizes on incremental graph updates.
    """
    CREATE INDEX IF NOT EXISTS collaborations_source ON collaborations(source_ref);
    """,
    # 4: the change log (what changed since any snapshot) and the vectors of organisations
    # written since, so that every process serves exactly the store.
    """
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        organisation_id TEXT NOT NULL DEFAULT '',
        other_id TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE organisation_vectors (
        organisation_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        model TEXT NOT NULL,
        keys BLOB NOT NULL,
        vectors BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX organisation_vectors_seq ON organisation_vectors(seq);
    """,
    # 5: saved workshop plans (matcher/store/plans.py).
    """
    CREATE TABLE IF NOT EXISTS plans (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        document TEXT NOT NULL,
        token TEXT UNIQUE,
        PRIMARY KEY (name, version)
    ) WITHOUT ROWID;
    """,
    # 6: the latest collaboration's date without a scan (every collaboration write asks).
    """
    CREATE INDEX IF NOT EXISTS collaborations_date ON collaborations(date);
    """,
    # 7: the candidate list a write computed, kept with its vectors (JSON ids), so that no
    # other process searches every profile again to apply the write.
    """
    ALTER TABLE organisation_vectors ADD COLUMN candidates TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code writes; older stores are migrated on open."""
