"""Pair rankers: a logistic model over named features, hand-set or learned.

Both kinds score a pair as ``sigmoid(bias + Σ wᵢ·tᵢ(xᵢ))`` where ``tᵢ`` is ``log1p`` for
count features and the identity otherwise, so each feature's contribution
``wᵢ·(tᵢ(xᵢ) − tᵢ(baselineᵢ))`` is exact and the reasons shown to people come from the
same numbers as the score. The learned ranker is scikit-learn's logistic regression on
standardised features, calibrated by construction (checked on held-out data in its card);
it is persisted as JSON (coefficients, scaling, card): no pickle.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["RANKER_SCHEMA_VERSION", "LinearRanker", "fit_ranker"]

logger = logging.getLogger(__name__)

RANKER_SCHEMA_VERSION = 1


@dataclass
class LinearRanker:
    """A logistic scorer over named features.

    Args:
        features: feature names, in column order.
        weights: one weight per feature (on the transformed scale).
        bias: the intercept.
        log_features: features seen through log1p.
        card: the model card (data, date, metrics, importances); free-form JSON.
    """

    features: tuple[str, ...]
    weights: npt.NDArray[np.float64]
    bias: float
    log_features: frozenset[str] = frozenset()
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, np.float64)
        if self.weights.shape != (len(self.features),):
            raise ValueError(
                f"{len(self.features)} features but weights of shape {self.weights.shape}"
            )
        self._log = np.array([f in self.log_features for f in self.features])

    @classmethod
    def from_weights(
        cls,
        features: Sequence[str],
        weights: Mapping[str, float],
        *,
        bias: float = 0.0,
        log_features: frozenset[str] = frozenset(),
        card: dict[str, Any] | None = None,
    ) -> LinearRanker:
        """A ranker with hand-set weights; features not named weigh 0.

        Raises:
            ValueError: a weight names an unknown feature.
        """
        unknown = set(weights) - set(features)
        if unknown:
            raise ValueError(f"weights for unknown features: {sorted(unknown)}")
        w = np.array([weights.get(f, 0.0) for f in features], np.float64)
        return cls(tuple(features), w, bias, log_features, card or {"kind": "hand weights"})

    kind = "linear"

    def raw(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Raw scores: the logits."""
        return self.logits(x)

    def transform(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Features on the scale the weights apply to."""
        out = np.nan_to_num(np.array(x, np.float64, copy=True))  # unknown: 0
        out[:, self._log] = np.log1p(np.maximum(out[:, self._log], 0.0))
        return out

    def logits(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``bias + Σ wᵢ·tᵢ(xᵢ)`` per row."""
        result: npt.NDArray[np.float64] = self.transform(x) @ self.weights + self.bias
        return result

    def score(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probability-like scores in (0, 1) per row."""
        return self.probability(self.logits(x))

    @staticmethod
    def probability(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The logistic function."""
        result: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * logits))
        return result

    def logits_of_columns(
        self, columns: Mapping[str, npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.float64]:
        """Logits from features given as named arrays of any one shape (bulk scoring)."""
        total: npt.NDArray[np.float64] | None = None
        for name, weight, log in zip(self.features, self.weights, self._log, strict=True):
            if weight == 0.0:
                continue
            values = columns[name]
            term = weight * (np.log1p(np.maximum(values, 0.0)) if log else values)
            total = term if total is None else total + term
        if total is None:
            shape = next(iter(columns.values())).shape
            return np.full(shape, self.bias)
        result: npt.NDArray[np.float64] = total + self.bias
        return result

    def contributions(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each feature's additive share of the logit (against a pair with all zeros)."""
        result: npt.NDArray[np.float64] = self.transform(x) * self.weights
        return result

    def to_json(self) -> str:
        """The ranker as JSON."""
        return json.dumps(
            {
                "schema_version": RANKER_SCHEMA_VERSION,
                "kind": self.kind,
                "features": list(self.features),
                "weights": [float(w) for w in self.weights],
                "bias": float(self.bias),
                "log_features": sorted(self.log_features),
                "card": self.card,
            },
            indent=2,
        )

    def save(self, folder: Path) -> None:
        """Write the ranker as ``ranker.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ranker.json").write_text(self.to_json())

    @classmethod
    def load(
        cls, folder: Path, data: dict[str, Any], *, features: Sequence[str] | None = None
    ) -> LinearRanker:
        """Read a ranker saved by :meth:`save` (``data``: its ``ranker.json``).

        Args:
            folder: the folder it was saved into.
            data: the parsed ``ranker.json``.
            features: the feature names the caller computes; a ranker trained on others
                is refused.

        Raises:
            ValueError: another schema version or other features.
        """
        path = folder / "ranker.json"
        if data.get("schema_version") != RANKER_SCHEMA_VERSION:
            raise ValueError(
                f"{path}: ranker schema version {data.get('schema_version')!r}, "
                f"this code reads {RANKER_SCHEMA_VERSION}"
            )
        if features is not None and list(features) != data["features"]:
            raise ValueError(
                f"{path}: trained on features {data['features']}, the caller computes "
                f"{list(features)}; retrain"
            )
        return cls(
            tuple(data["features"]),
            np.array(data["weights"], np.float64),
            float(data["bias"]),
            frozenset(data["log_features"]),
            dict(data.get("card", {})),
        )


def fit_ranker(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int_],
    features: Sequence[str],
    *,
    log_features: frozenset[str] = frozenset(),
    groups: npt.NDArray[np.int_] | None = None,
    c: float = 1.0,
    card: dict[str, Any] | None = None,
    seed: int = 0,
) -> LinearRanker:
    """Fit a logistic ranker on labelled pairs and describe it in a model card.

    A fifth of the query groups is held out to measure calibration (expected calibration
    error) and AUC before the final fit on everything.

    Args:
        x: (pairs, features) raw features.
        y: 1 for a pair that went on to collaborate, else 0.
        features: the names of the columns.
        log_features: features to see through log1p.
        groups: the query each pair belongs to (for the held-out split).
        c: inverse regularisation strength.
        card: facts to record in the model card (data, dates).
        seed: for the held-out split.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    prototype = LinearRanker(tuple(features), np.zeros(len(features)), 0.0, log_features)
    t = prototype.transform(x)
    mean, std = t.mean(axis=0), t.std(axis=0)
    std[std == 0] = 1.0

    def fit(rows: npt.NDArray[np.bool_]) -> LinearRanker:
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit((t[rows] - mean) / std, y[rows])
        w = model.coef_[0] / std
        b = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
        return LinearRanker(tuple(features), w, b, log_features)

    rng = np.random.default_rng(seed)
    keys = groups if groups is not None else np.arange(len(y))
    unique = np.unique(keys)
    held = np.isin(keys, rng.choice(unique, max(1, len(unique) // 5), replace=False))
    metrics: dict[str, float] = {}
    if held.any() and (~held).any() and len(np.unique(y[~held])) == 2:
        probe = fit(~held)
        p = probe.score(x[held])
        if len(np.unique(y[held])) == 2:
            metrics["held_out_auc"] = round(float(roc_auc_score(y[held], p)), 4)
        bins = np.minimum((p * 10).astype(int), 9)
        ece = sum(
            abs(p[bins == b].mean() - y[held][bins == b].mean()) * (bins == b).mean()
            for b in range(10)
            if (bins == b).any()
        )
        metrics["held_out_ece"] = round(float(ece), 4)
    final = fit(np.ones(len(y), np.bool_))
    importance = np.abs(final.weights) * std
    final.card = {
        "kind": "logistic regression (scikit-learn)",
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pairs": len(y),
        "positives": int(y.sum()),
        "C": c,
        "metrics": metrics,
        "feature_importance": {
            f: round(float(v), 4)
            for f, v in sorted(zip(features, importance, strict=True), key=lambda fv: -fv[1])
        },
        **(card or {}),
    }
    return final
