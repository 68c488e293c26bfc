from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.ensemble import HistGradientBoostingClassifier

from models import BoostedRanker, LinearRanker, Tree, fit_boosted, load_any_ranker

FEATURES = ("a", "b", "c")


def _stump(feature: int, threshold: float, low: float, high: float, *, nan_left: bool) -> Tree:
    return Tree(
        feature=np.array([feature, -1, -1]),
        threshold=np.array([threshold, 0.0, 0.0]),
        left=np.array([1, -1, -1]),
        right=np.array([2, -1, -1]),
        value=np.array([(low + high) / 2, low, high]),
        is_leaf=np.array([False, True, True]),
        missing_left=np.array([nan_left, False, False]),
    )


def _tiny() -> BoostedRanker:
    return BoostedRanker(
        FEATURES,
        0.25,
        [_stump(0, 0.5, -1.0, 1.0, nan_left=True), _stump(2, 10.0, 0.0, 2.0, nan_left=False)],
    )


@pytest.mark.parametrize("accelerate", [True, False])
def test_known_answers_on_two_stumps(accelerate: bool) -> None:
    r = _tiny()
    r.accelerate = accelerate
    x = np.array([[0.3, 0.0, 1.0], [0.5, 9.0, 10.0], [0.7, 0.0, 11.0], [np.nan, 0.0, np.nan]])
    # ≤ threshold goes left; NaN follows missing_left
    assert r.logits(x).tolist() == [-0.75, -0.75, 3.25, 1.25]
    assert np.allclose(r.score(x), 1 / (1 + np.exp(-r.logits(x))))
    c = r.contributions(x)
    assert c[:, 1].tolist() == [0.0] * 4  # b is never split on
    assert c[2].tolist() == [1.0, 0.0, 1.0]
    assert np.allclose(c.sum(axis=1) + r.offset, r.logits(x))
    cols = {f: x[:, i].reshape(2, 2) for i, f in enumerate(FEATURES)}
    assert np.array_equal(r.logits_of_columns(cols), r.logits(x).reshape(2, 2))
    with pytest.raises(KeyError, match="needs columns"):
        r.logits_of_columns({"a": x[:, 0]})
    with pytest.raises(ValueError, match="expected"):
        r.logits(x[:, :2])


def _fitted(seed: int = 0) -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, 3))
    x[:, 2] = np.round(np.abs(x[:, 2]) * 5)  # a count, with ties at thresholds
    x[rng.random(3000) < 0.05, 1] = np.nan  # missing values take the learned side
    logit = 2 * x[:, 0] - np.nan_to_num(x[:, 1]) * x[:, 0] + 0.3 * x[:, 2] - 1
    y = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    model = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=15, random_state=0)
    model.fit(x, y)
    return model, x


def test_json_round_trip_predicts_exactly_like_sklearn(tmp_path: Path) -> None:
    model, x = _fitted()
    ranker = BoostedRanker.from_sklearn(model, FEATURES, {"data": "synthetic"})
    ranker.save(tmp_path / "r.json")
    back = load_any_ranker(tmp_path / "r.json", features=FEATURES)
    assert isinstance(back, BoostedRanker)
    probe = np.vstack([x, x + 1e-9, [[np.nan, np.nan, np.nan]], [[0.0, 0.0, 0.0]]])
    expected = model.decision_function(probe)
    assert np.array_equal(ranker.logits(probe), expected)
    assert np.array_equal(back.logits(probe), expected)
    back.accelerate = False  # the plain numpy walk agrees too
    assert np.array_equal(back.logits(probe), expected)
    assert np.allclose(back.score(probe), model.predict_proba(probe)[:, 1], rtol=0, atol=1e-15)
    assert back.card == {"data": "synthetic"}
    text = (tmp_path / "r.json").read_text()
    assert "pickle" not in text and json.loads(text)["kind"] == "boosted-trees"
    assert np.allclose(back.contributions(probe).sum(axis=1) + back.offset, expected)


def test_loader_picks_the_kind_and_checks_features(tmp_path: Path) -> None:
    LinearRanker.from_weights(FEATURES, {"a": 1.0}).save(tmp_path / "linear.json")
    assert isinstance(load_any_ranker(tmp_path / "linear.json"), LinearRanker)
    _tiny().save(tmp_path / "boosted.json")
    assert isinstance(load_any_ranker(tmp_path / "boosted.json"), BoostedRanker)
    with pytest.raises(ValueError, match="retrain"):
        load_any_ranker(tmp_path / "boosted.json", features=("a", "b"))
    data = json.loads((tmp_path / "boosted.json").read_text())
    data["schema_version"] = 99
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema"):
        load_any_ranker(tmp_path / "bad.json")


def test_export_refuses_what_it_cannot_represent() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    multi = HistGradientBoostingClassifier(max_iter=3).fit(x, rng.integers(0, 3, 300))
    with pytest.raises(ValueError, match="binary"):
        BoostedRanker.from_sklearn(multi, FEATURES)
    model, _ = _fitted()
    with pytest.raises(ValueError, match="named"):
        BoostedRanker.from_sklearn(model, ("a", "b"))
    xc = np.c_[rng.integers(0, 4, 300), x[:, 1:]]
    cat = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0])
    cat.fit(xc, (xc[:, 0] == 2).astype(int))
    with pytest.raises(ValueError, match="categorical"):
        BoostedRanker.from_sklearn(cat, FEATURES)


def test_fit_writes_a_card_with_validation_metrics_and_importances() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 3))
    y = (x[:, 0] + 0.2 * rng.normal(size=4000) > 0.8).astype(int)
    r = fit_boosted(
        x[:3000], y[:3000], FEATURES, groups=np.arange(3000) // 30,
        validation=(x[3000:], y[3000:]), params={"max_iter": 30}, card={"data": "synthetic"},
    )  # fmt: skip
    assert r.card["data"] == "synthetic" and r.card["queries"] == 100
    assert r.card["metrics"]["validation_auc"] > 0.95
    assert next(iter(r.card["feature_importance"])) == "a"
    assert len(r.trees) == 30


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (6, 3), elements=st.floats(-1e9, 1e9) | st.just(np.nan)))
def test_scores_are_finite_probabilities_and_contributions_add_up(x: np.ndarray) -> None:
    r = _tiny()
    p = r.score(x)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    assert np.allclose(r.contributions(x).sum(axis=1) + r.offset, r.logits(x))
