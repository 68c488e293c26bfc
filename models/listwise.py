"""A listwise learned ranker: LightGBM's LambdaRank over the pairs of each query.

Fit on the candidates of sampled queries (one group per query), labelled 1 where the pair
went on to collaborate. Saved as LightGBM's own text model beside a JSON model card (no
pickle). Its per-feature contributions are LightGBM's SHAP values (``pred_contrib``): they
add up, with the expected value, to the raw score of each pair.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.forest import Forest

__all__ = ["LISTWISE_SCHEMA_VERSION", "ListwiseRanker", "fit_listwise"]

logger = logging.getLogger(__name__)

LISTWISE_SCHEMA_VERSION = 1

FloatArray = npt.NDArray[np.float64]

EARLY_STOPPING = 15
"""Rounds without a better held-out nDCG@10 after which fitting stops."""

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambdarank_truncation_level": 20,
    "verbose": -1,
}
"""LightGBM settings; the number of trees is at most ``n_estimators``, chosen by early
stopping on held-out queries (:func:`fit_listwise`)."""


class ListwiseRanker:
    """A LightGBM booster scoring pairs from named features.

    Args:
        features: feature names, in column order.
        booster: the fitted LightGBM booster.
        card: the model card (data, date, metrics); free-form JSON.
    """

    kind = "listwise"

    def __init__(self, features: Sequence[str], booster: Any, card: dict[str, Any]) -> None:
        self.features = tuple(features)
        self.booster = booster
        self.card = card
        self.forest = Forest.compile(booster)
        """The booster's trees as flat arrays, evaluated by a compiled loop (None: LightGBM's
        own ``predict``): the same scores, bit for bit, in less time (``models.forest``)."""

    def raw(self, x: FloatArray) -> FloatArray:
        """Raw scores (higher is better; not probabilities)."""
        if len(x) == 0:
            return np.zeros(0)
        if self.forest is not None:
            return self.forest.predict(x)
        out: FloatArray = np.asarray(self.booster.predict(x, num_threads=1), np.float64)
        return out

    def contributions(self, x: FloatArray) -> FloatArray:
        """Each feature's additive share of the raw score (SHAP values), (rows, features)."""
        if len(x) == 0:
            return np.zeros((0, len(self.features)))
        shap = np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=1))
        out: FloatArray = shap[:, : len(self.features)]
        return out

    def save(self, folder: Path) -> None:
        """Write ``ranker.txt`` (LightGBM's text format) and ``ranker.json`` (the card)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "ranker.txt"))
        (folder / "ranker.json").write_text(
            json.dumps(
                {
                    "schema_version": LISTWISE_SCHEMA_VERSION,
                    "kind": self.kind,
                    "features": list(self.features),
                    "card": self.card,
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, folder: Path, meta: dict[str, Any]) -> ListwiseRanker:
        """Read a ranker written by :meth:`save` (``meta``: its ``ranker.json``)."""
        import lightgbm as lgb

        if meta.get("schema_version") != LISTWISE_SCHEMA_VERSION:
            raise ValueError(f"ranker schema version {meta.get('schema_version')!r}")
        booster = lgb.Booster(model_file=str(folder / "ranker.txt"))
        return cls(meta["features"], booster, dict(meta.get("card", {})))


def fit_listwise(
    x: FloatArray,
    y: npt.NDArray[np.int_],
    groups: npt.NDArray[np.int_],
    features: Sequence[str],
    *,
    params: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
    seed: int = 0,
) -> ListwiseRanker:
    """Fit LambdaRank on pairs grouped by query (``groups``: each row's query, contiguous).

    Raises:
        ValueError: no positive pair.
    """
    import lightgbm as lgb

    if not y.any():
        raise ValueError("no positive pair to learn from")
    sizes = np.diff(np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True]))
    settings = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "num_threads": 1}
    rounds = int(settings.pop("n_estimators"))
    # A sixth of the queries holds out for early stopping on nDCG@10: as many trees as help,
    # no more (each tree costs prediction time on every request).
    held = np.random.default_rng(seed).random(len(sizes)) < 1 / 6
    if held.any() and (~held).any():
        rows = np.repeat(held, sizes)
        fitting = lgb.Dataset(x[~rows], y[~rows], group=sizes[~held])
        checking = lgb.Dataset(x[rows], y[rows], group=sizes[held], reference=fitting)
        probe = lgb.train(
            {**settings, "metric": "ndcg", "eval_at": [10]},
            fitting,
            num_boost_round=rounds,
            valid_sets=[checking],
            callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)],
        )
        rounds = max(int(probe.best_iteration or rounds), 1)
    booster = lgb.train(settings, lgb.Dataset(x, y, group=sizes), num_boost_round=rounds)
    settings["n_estimators"] = rounds
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    return ListwiseRanker(
        features,
        booster,
        {
            "kind": "LightGBM LambdaRank",
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "pairs": len(y),
            "positives": int(y.sum()),
            "queries": len(sizes),
            "params": {k: v for k, v in settings.items() if k != "verbose"},
            "feature_importance": {
                f: round(float(g) / total, 4)
                for f, g in sorted(zip(features, gain, strict=True), key=lambda fg: -fg[1])
            },
            **(card or {}),
        },
    )
