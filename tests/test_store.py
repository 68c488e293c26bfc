from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from matcher.domain.errors import ReferentialError, UnknownOrganisationError
from matcher.domain.schema import Collaboration, Organisation
from matcher.store import SCHEMA_VERSION, Store


def org(i: str, **kw: object) -> Organisation:
    data: dict[str, object] = {"id": i, "name": f"Org {i}", "kind": "cluster", "country": "FR"}
    data.update(kw)
    return Organisation.model_validate(data)


def collab(a: str, b: str, day: int = 1) -> Collaboration:
    return Collaboration(organisation_a=a, organisation_b=b, date=dt.date(2024, 1, day))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite")
    s.upsert_organisations([org("A"), org("B"), org("C", kind="sme", country="DE")])
    s.upsert_collaborations([collab("A", "B"), collab("B", "C")])
    return s


def test_file_is_wal_and_versioned(store: Store) -> None:
    mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.schema_version == SCHEMA_VERSION >= 1


def test_upsert_round_trips_and_is_idempotent(store: Store) -> None:
    o = org("D", ecosystems=["digital"], keywords=["AI"], target_countries=["EL"], size=12)
    assert store.upsert_organisations([o]) == 1
    assert store.get_organisation("D") == o
    assert store.upsert_organisations([o]) == 0
    assert store.upsert_organisations([o.model_copy(update={"size": 13})]) == 1
    assert store.get_organisation("D").size == 13
    assert store.upsert_collaborations([collab("A", "B")]) == 0


def test_delete_cascades(store: Store) -> None:
    store.delete_organisation("B")
    assert store.count_collaborations() == 0
    with pytest.raises(UnknownOrganisationError, match="'B'"):
        store.get_organisation("B")
    with pytest.raises(UnknownOrganisationError):
        store.delete_organisation("B")


def test_collaboration_with_unknown_end_changes_nothing(store: Store) -> None:
    before = list(store.collaborations())
    with pytest.raises(ReferentialError, match="ZZZ"):
        store.upsert_collaborations([collab("A", "C"), collab("A", "ZZZ")])
    assert list(store.collaborations()) == before


def test_failed_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_organisations([org("E")])
        store.upsert_collaborations([collab("A", "E")])
        raise RuntimeError("crash mid-write")
    assert store.count_organisations() == 3
    assert store.count_collaborations() == 2


def test_filters_stats_and_partners(store: Store) -> None:
    assert [o.id for o in store.organisations(kind="sme")] == ["C"]
    assert [o.id for o in store.organisations(country="FR")] == ["A", "B"]
    assert store.partners("B") == {"A", "C"}
    stats = store.stats()
    assert stats["organisations"]["by_country"] == {"FR": 2, "DE": 1}
    assert stats["collaborations"]["total"] == 2


def test_older_schema_is_migrated_and_newer_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).close()  # an empty file at version 0
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(path)
