from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from matcher.domain.schema import Organisation
from matcher.domain.vocab import (
    Ecosystem,
    FeedbackKind,
    load_complementarity,
    load_neighbours,
)
from matcher.store import Store
from models import (
    Calibration,
    LinearRanker,
    ListwiseRanker,
    fit_calibration,
    fit_listwise,
    fit_ranker,
)
from models.forest import Forest

FEATURES = ("a", "b", "count")


def test_contributions_add_up_to_the_logit() -> None:
    r = LinearRanker.from_weights(
        FEATURES, {"a": 2.0, "count": 0.5}, bias=-1.0, log_features=frozenset({"count"})
    )
    x = np.array([[1.0, 5.0, np.e - 1], [0.0, 0.0, 0.0]])
    assert np.allclose(r.contributions(x).sum(axis=1) + r.bias, r.logits(x))
    assert np.allclose(r.logits(x), [2.0 + 0.5 - 1.0, -1.0])
    with pytest.raises(ValueError, match="unknown features"):
        LinearRanker.from_weights(FEATURES, {"z": 1.0})


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (5, 3), elements=st.floats(0, 1e6)))
def test_scores_are_finite_probabilities(x: np.ndarray) -> None:
    r = LinearRanker.from_weights(
        FEATURES, {"a": 3.0, "b": -2.0, "count": 1.0}, log_features=frozenset({"count"})
    )
    p = r.score(x)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))


def test_save_load_round_trip_and_feature_check(tmp_path: Path) -> None:
    r = LinearRanker.from_weights(FEATURES, {"a": 1.5}, bias=0.2)
    r.save(tmp_path)
    data = json.loads((tmp_path / "ranker.json").read_text())
    back = LinearRanker.load(tmp_path, data, features=FEATURES)
    assert back.features == r.features and np.allclose(back.weights, r.weights)
    assert back.bias == r.bias
    with pytest.raises(ValueError, match="retrain"):
        LinearRanker.load(tmp_path, data, features=("a", "b"))


def ranking_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries of 40 candidates each; the label follows feature a, then b, plus noise."""
    rng = np.random.default_rng(seed)
    n = 8000
    x = rng.normal(size=(n, 3))
    logit = 2.0 * x[:, 0] - 1.0 * x[:, 1] - 3.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y, np.arange(n) // 40


def test_listwise_ranker_learns_the_order_and_round_trips(tmp_path: Path) -> None:
    x, y, groups = ranking_data()
    r = fit_listwise(x, y, groups, FEATURES, card={"data": "synthetic"})
    test_x, test_y, _ = ranking_data(1)
    raw = r.raw(test_x)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test_y, raw) > 0.8
    assert next(iter(r.card["feature_importance"])) == "a"
    r.save(tmp_path)
    back = ListwiseRanker.load(tmp_path, json.loads((tmp_path / "ranker.json").read_text()))
    assert np.array_equal(back.raw(test_x), raw)
    assert b"pickle" not in (tmp_path / "ranker.txt").read_bytes()[:200]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000))
def test_calibration_is_monotone_and_in_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * raw))).astype(int)
    if len(set(y.tolist())) < 2:
        return
    cal = fit_calibration(raw, y, card={"horizon_years": 2})
    grid = np.linspace(-5, 5, 200)
    p = cal.probability(grid)
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    assert Calibration.from_json(cal.to_json()).probability(grid).tolist() == p.tolist()
    assert cal.card["brier"] <= float(np.mean((y - y.mean()) ** 2)) + 1e-9  # beats the base rate


def test_fit_recovers_the_signal_and_writes_a_card() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.normal(size=(n, 3))
    x[:, 2] = np.abs(x[:, 2]) * 10
    logit = 2.0 * x[:, 0] - 1.0 * x[:, 1] - 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    groups = np.arange(n) // 20
    r = fit_ranker(
        x, y, FEATURES, log_features=frozenset({"count"}), groups=groups, card={"data": "synthetic"}
    )
    assert r.weights[0] > 1.0 and r.weights[1] < -0.5 and abs(r.weights[2]) < 0.3
    assert r.card["data"] == "synthetic"
    assert r.card["metrics"]["held_out_auc"] > 0.75
    assert r.card["metrics"]["held_out_ece"] < 0.05
    assert next(iter(r.card["feature_importance"])) == "a"


def test_relation_tables_load_and_are_symmetric() -> None:
    links = load_complementarity()
    assert frozenset((Ecosystem.AGRI_FOOD, Ecosystem.MOBILITY)) in links
    near = load_neighbours()
    assert "AT" in near["DE"] and "DE" in near["AT"]
    assert all(a in near[b] for a, others in near.items() for b in others)


def test_feedback_is_stored_both_ways(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.upsert_organisations(
        [Organisation(id=i, name=i, kind="sme", country="DE") for i in ("A", "B", "C")]
    )
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    s.add_feedback("A", "B", FeedbackKind.NOT_INTERESTED, at)
    s.add_feedback("C", "A", FeedbackKind.BLOCKED, at)
    assert s.feedback_about("A") == {
        "B": {FeedbackKind.NOT_INTERESTED},
        "C": {FeedbackKind.BLOCKED},
    }
    assert s.feedback_about("B") == {"A": {FeedbackKind.NOT_INTERESTED}}
    s.add_feedback("A", "B", FeedbackKind.NOT_INTERESTED, at)  # idempotent
    assert s.feedback_about("B") == {"A": {FeedbackKind.NOT_INTERESTED}}


def _probe_values(forest: Forest, n: int, seed: int) -> np.ndarray:
    """Rows whose values sit at, just above and just below the forest's thresholds, with
    NaN, exact zeros and values inside LightGBM's zero threshold mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, forest.features))
    for j in range(forest.features):
        th = forest.threshold[forest.feature == j]
        if len(th):
            at = rng.choice(th, n)
            pick = rng.integers(0, 5, n)
            x[:, j] = np.select(
                [pick == 0, pick == 1, pick == 2],
                [at, np.nextafter(at, np.inf), np.nextafter(at, -np.inf)],
                x[:, j],
            )
    mask = rng.random(x.shape)
    x[mask < 0.06] = np.nan
    x[(mask >= 0.06) & (mask < 0.12)] = 0.0
    x[(mask >= 0.12) & (mask < 0.15)] = 1e-36
    x[(mask >= 0.15) & (mask < 0.17)] = -1e-36
    return x


@pytest.mark.parametrize(
    ("missing", "zero_as_missing"), [("none", False), ("nan", False), ("zero", True)]
)
def test_the_compiled_forest_scores_as_lightgbm_bit_for_bit(
    missing: str, zero_as_missing: bool
) -> None:
    import lightgbm as lgb

    rng = np.random.default_rng(3)
    x, y, groups = ranking_data(2)
    x = np.column_stack([x, rng.integers(0, 3, len(x)).astype(float)])
    if missing == "nan":
        x[rng.random(x.shape) < 0.1] = np.nan
    sizes = np.bincount(groups)
    booster = lgb.train(
        {"objective": "lambdarank", "num_leaves": 15, "min_data_in_leaf": 20, "verbose": -1,
         "zero_as_missing": zero_as_missing, "num_threads": 1, "seed": 0},
        lgb.Dataset(x, y, group=sizes), num_boost_round=25,
    )  # fmt: skip
    forest = Forest.compile(booster)
    assert forest is not None
    kinds = {0: "none", 1: "zero", 2: "nan"}
    assert missing in {kinds[int(k)] for k in forest.missing}  # the case under test is there
    probe = _probe_values(forest, 20_000, seed=4)
    assert np.array_equal(forest.predict(probe), booster.predict(probe, num_threads=1))
    ranker = ListwiseRanker(("a", "b", "count", "d"), booster, {})
    assert ranker.forest is not None
    assert np.array_equal(ranker.raw(probe[:50]), booster.predict(probe[:50], num_threads=1))
    with pytest.raises(ValueError, match="features"):
        forest.predict(probe[:, :3])


def test_a_booster_with_categorical_splits_is_left_to_lightgbm() -> None:
    import lightgbm as lgb

    rng = np.random.default_rng(5)
    x = np.column_stack([rng.integers(0, 6, 3000), rng.normal(size=3000)]).astype(float)
    y = ((x[:, 0] % 2 == 0) & (x[:, 1] > 0)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_per_group": 5,
         "cat_smooth": 1.0, "min_data_in_leaf": 5},
        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=5,
    )  # fmt: skip
    assert "==" in json.dumps(booster.dump_model())  # it did split on the category
    assert Forest.compile(booster) is None
    ranker = ListwiseRanker(("c", "v"), booster, {})
    assert ranker.forest is None
    assert np.array_equal(ranker.raw(x[:100]), booster.predict(x[:100], num_threads=1))
