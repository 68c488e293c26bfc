"""Which historical states a build learns its ranker and calibration from (``training_lag``)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from matcher.app import snapshot
from matcher.app.assemble import StoreData
from matcher.app.settings import Settings
from matcher.ranking.training import Labelled


def _data(first: str, last: str) -> StoreData:
    rows = [("a", "b", "project", first, 1.0, "p1"), ("a", "c", "project", last, 1.0, "p2")]
    return StoreData(1, [], rows, {"p1": 2, "p2": 2}, {}, [])


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dt.date, dt.date]]:
    """Replace the heavy steps of ``history`` by stand-ins that record each window."""
    windows: list[tuple[dt.date, dt.date]] = []

    ctx = SimpleNamespace(profiles=SimpleNamespace(ids=["a", "b", "c"]))

    def assemble(*_: Any, as_of: dt.date, **__: Any) -> tuple[Any, None, None]:
        return ctx, None, None

    def new_partners(
        data: StoreData, ids: Any, graph: Any, after: dt.date, until: dt.date
    ) -> dict[int, set[int]]:
        windows.append((after, until))
        return {i: {i + 1} for i in range(40)}

    def labelled_pairs(*_: Any, **__: Any) -> Labelled:
        return Labelled(np.zeros((2, 1)), np.array([1, 0]), np.zeros(2, np.int_), 1, 1)

    monkeypatch.setattr(snapshot, "assemble", assemble)
    monkeypatch.setattr(snapshot, "new_partners", new_partners)
    monkeypatch.setattr(snapshot, "labelled_pairs", labelled_pairs)
    return windows


def test_by_default_the_ranker_learns_from_the_year_before_the_latest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    windows = _record(monkeypatch)
    out = snapshot.history(_data("2014-03-01", "2016-11-30"), None, None, Settings())  # type: ignore[arg-type]
    assert out is not None and out[1] is not None
    last = dt.date(2016, 11, 30)
    assert windows == [(dt.date(2015, 11, 30), last), (dt.date(2014, 11, 30), last)]


def test_a_lag_of_two_learns_from_two_years_before_with_two_years_of_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    windows = _record(monkeypatch)
    settings = Settings(training_lag=2)
    out = snapshot.history(_data("2014-03-01", "2016-11-30"), None, None, settings)  # type: ignore[arg-type]
    last = dt.date(2016, 11, 30)
    # the calibration's state (2013) precedes every collaboration: none (the training
    # pairs calibrate instead)
    assert windows == [(dt.date(2014, 11, 30), last)]
    assert out is not None and out[1] is None
    assert snapshot._build_settings(settings)["training_lag"] == 2
    assert "training_lag" not in snapshot._build_settings(Settings())  # old builds stay valid


def test_a_lag_reaching_before_all_history_learns_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _record(monkeypatch)
    settings = Settings(training_lag=3)
    assert snapshot.history(_data("2014-03-01", "2016-11-30"), None, None, settings) is None  # type: ignore[arg-type]
