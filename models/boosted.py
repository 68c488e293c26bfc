"""A gradient-boosted pair ranker: scikit-learn's histogram boosting, kept as JSON trees.

:func:`fit_boosted` fits :class:`~sklearn.ensemble.HistGradientBoostingClassifier` on
labelled pairs and exports its fitted trees (each node's feature, threshold, children,
value and where missing values go) with the baseline logit into a :class:`BoostedRanker`,
which predicts with numpy alone. Saved as JSON, read back without scikit-learn and without
pickle; the round trip predicts exactly as the fitted estimator does (same comparisons,
same order of additions).

Its reasons come from the trees too: :meth:`BoostedRanker.contributions` splits each
prediction into per-feature shares by following its path through every tree (the change
of the node value at each split is credited to the split's feature), so the shares plus
the baseline add up to the logit exactly.
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

__all__ = [
    "BOOSTED_SCHEMA_VERSION",
    "BoostedRanker",
    "Tree",
    "fit_boosted",
    "load_any_ranker",
]

logger = logging.getLogger(__name__)

BOOSTED_SCHEMA_VERSION = 1
KIND = "boosted-trees"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Tree:
    """One regression tree, as flat node arrays (node 0 is the root)."""

    feature: npt.NDArray[np.int64]
    threshold: FloatArray
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    value: FloatArray
    is_leaf: npt.NDArray[np.bool_]
    missing_left: npt.NDArray[np.bool_]

    @property
    def depth(self) -> int:
        """The longest root-to-leaf path, in edges."""
        depth = np.zeros(len(self.value), np.int64)
        for node in range(len(self.value)):  # children always follow their parent
            if not self.is_leaf[node]:
                depth[self.left[node]] = depth[node] + 1
                depth[self.right[node]] = depth[node] + 1
        return int(depth.max())

    def leaves(self, x: FloatArray) -> npt.NDArray[np.int64]:
        """The leaf each row of ``x`` falls in."""
        node = np.zeros(len(x), np.int64)
        rows = np.arange(len(x))
        active = rows[~self.is_leaf[node]]
        while len(active):
            at = node[active]
            values = x[active, self.feature[at]]
            go_left = np.where(
                np.isnan(values), self.missing_left[at], values <= self.threshold[at]
            )
            node[active] = np.where(go_left, self.left[at], self.right[at])
            active = active[~self.is_leaf[node[active]]]
        return node

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain lists (floats written exactly by JSON's repr)."""
        return {
            "feature": self.feature.tolist(),
            "threshold": [float(t) for t in self.threshold],
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [float(v) for v in self.value],
            "is_leaf": self.is_leaf.astype(int).tolist(),
            "missing_left": self.missing_left.astype(int).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[Any]]) -> Tree:
        """Read :meth:`to_dict`'s output."""
        return cls(
            feature=np.asarray(data["feature"], np.int64),
            threshold=np.asarray(data["threshold"], np.float64),
            left=np.asarray(data["left"], np.int64),
            right=np.asarray(data["right"], np.int64),
            value=np.asarray(data["value"], np.float64),
            is_leaf=np.asarray(data["is_leaf"], np.bool_),
            missing_left=np.asarray(data["missing_left"], np.bool_),
        )


@dataclass
class BoostedRanker:
    """A sum of regression trees over named features, through the logistic function.

    Args:
        features: feature names, in column order.
        baseline: the logit every prediction starts from.
        trees: the trees, in boosting order.
        card: the model card (data, date, metrics, importances); free-form JSON.
    """

    features: tuple[str, ...]
    baseline: float
    trees: list[Tree]
    card: dict[str, Any] = field(default_factory=dict)
    accelerate: bool = field(default=True, compare=False)
    _fast: list[Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for n, tree in enumerate(self.trees):
            inner = tree.feature[~tree.is_leaf]
            if len(inner) and (inner.min() < 0 or inner.max() >= len(self.features)):
                raise ValueError(f"tree {n} splits on a feature outside the {len(self.features)}")

    # -- scoring ---------------------------------------------------------------------------

    def _check(self, x: FloatArray) -> FloatArray:
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"expected (rows, {len(self.features)}) features, got {x.shape}")
        return x

    def logits(self, x: FloatArray) -> FloatArray:
        """The raw prediction (log-odds) of each row.

        The leaves' values are added tree by tree, in boosting order, onto the baseline,
        as scikit-learn adds them, so the result is bit for bit the estimator's.
        """
        x = self._check(x)
        out = np.zeros(len(x), np.float64) + self.baseline
        fast = self._compiled() if self.accelerate else None
        if fast is not None:
            contiguous = np.ascontiguousarray(x)
            no_categories = np.zeros((0, 8), np.uint32)
            index_map = np.zeros(len(self.features), np.uint32)
            for predictor in fast:
                out += predictor.predict(contiguous, no_categories, index_map, 1)
            return out
        for tree in self.trees:
            out += tree.value[tree.leaves(x)]
        return out

    def _compiled(self) -> list[Any] | None:
        """scikit-learn's compiled tree predictors over the same nodes, if importable.

        They walk the same nodes with the same comparisons (tested to agree exactly with
        the numpy walk), only faster; without them the numpy walk is used.
        """
        if self._fast is None:
            try:
                from sklearn.ensemble._hist_gradient_boosting.common import (
                    PREDICTOR_RECORD_DTYPE,
                )
                from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
            except ImportError:  # pragma: no cover - another scikit-learn layout
                self._fast = []
                return None
            empty = np.zeros((0, 8), np.uint32)
            built = []
            for tree in self.trees:
                nodes = np.zeros(len(tree.value), PREDICTOR_RECORD_DTYPE)
                nodes["value"] = tree.value
                nodes["feature_idx"] = np.maximum(tree.feature, 0)
                nodes["num_threshold"] = tree.threshold
                nodes["missing_go_to_left"] = tree.missing_left
                nodes["left"] = np.maximum(tree.left, 0)
                nodes["right"] = np.maximum(tree.right, 0)
                nodes["is_leaf"] = tree.is_leaf
                built.append(TreePredictor(nodes, empty, empty))
            self._fast = built
        return self._fast or None

    def score(self, x: FloatArray) -> FloatArray:
        """Probability-like scores in (0, 1) per row."""
        return self.probability(self.logits(x))

    @staticmethod
    def probability(logits: FloatArray) -> FloatArray:
        """The logistic function."""
        result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * logits))
        return result

    def logits_of_columns(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """Logits from features given as named arrays of any one shape (bulk scoring).

        Raises:
            KeyError: a feature the model needs is not among the columns.
        """
        missing = [f for f in self.features if f not in columns]
        if missing:
            raise KeyError(f"the boosted ranker needs columns {missing}")
        shape = np.shape(columns[self.features[0]])
        x = np.stack([np.asarray(columns[f], np.float64).reshape(-1) for f in self.features], 1)
        return self.logits(x).reshape(shape)

    def contributions(self, x: FloatArray) -> FloatArray:
        """Each feature's additive share of the logit, from the path through every tree.

        At each split on the way to a leaf, the change from the node's value to the
        child's value goes to the split's feature; the root values are the trees' own
        baselines. So ``contributions(x).sum(1) + baseline + Σ root values == logits(x)``
        up to rounding. Node values of inner nodes are the trees' weighted leaf means.
        """
        x = self._check(x)
        out = np.zeros(x.shape, np.float64)
        rows = np.arange(len(x))
        for tree in self.trees:
            node = np.zeros(len(x), np.int64)
            active = rows[~tree.is_leaf[node]]
            while len(active):
                at = node[active]
                f = tree.feature[at]
                values = x[active, f]
                go_left = np.where(
                    np.isnan(values), tree.missing_left[at], values <= tree.threshold[at]
                )
                nxt = np.where(go_left, tree.left[at], tree.right[at])
                np.add.at(out, (active, f), tree.value[nxt] - tree.value[at])
                node[active] = nxt
                active = active[~tree.is_leaf[nxt]]
        return out

    @property
    def offset(self) -> float:
        """The logit of a row with no contributions: baseline plus every root's value."""
        return float(self.baseline + sum(float(t.value[0]) for t in self.trees))

    # -- persistence -----------------------------------------------------------------------

    @classmethod
    def from_sklearn(
        cls, model: Any, features: Sequence[str], card: dict[str, Any] | None = None
    ) -> BoostedRanker:
        """Export a fitted binary :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.

        Raises:
            ValueError: not binary, categorical splits, or another number of features.
        """
        if getattr(model, "n_trees_per_iteration_", 1) != 1:
            raise ValueError("only binary classifiers export (one tree per iteration)")
        if model.n_features_in_ != len(features):
            raise ValueError(f"{model.n_features_in_} features fitted, {len(features)} named")
        baseline = np.asarray(model._baseline_prediction, np.float64).ravel()
        trees = []
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits do not export")
            inner = nodes["is_leaf"] == 0
            left = np.where(inner, nodes["left"], -1).astype(np.int64)
            right = np.where(inner, nodes["right"], -1).astype(np.int64)
            # Leaves keep sklearn's values; an inner node's value is the mean output of the
            # training rows reaching it (children follow parents, so fill from the end).
            value = np.array(nodes["value"], np.float64)
            count = np.maximum(np.asarray(nodes["count"], np.float64), 1e-12)
            for node in np.flatnonzero(inner)[::-1]:
                a, b = left[node], right[node]
                value[node] = (value[a] * count[a] + value[b] * count[b]) / (count[a] + count[b])
            trees.append(
                Tree(
                    feature=np.where(inner, nodes["feature_idx"], -1).astype(np.int64),
                    threshold=np.asarray(nodes["num_threshold"], np.float64),
                    left=left,
                    right=right,
                    value=value,
                    is_leaf=~inner,
                    missing_left=np.asarray(nodes["missing_go_to_left"], np.bool_),
                )
            )
        return cls(tuple(features), float(baseline[0]), trees, dict(card or {}))

    def to_json(self) -> str:
        """The ranker as JSON (``"kind": "boosted-trees"``)."""
        return json.dumps(
            {
                "kind": KIND,
                "schema_version": BOOSTED_SCHEMA_VERSION,
                "features": list(self.features),
                "baseline": float(self.baseline),
                "trees": [t.to_dict() for t in self.trees],
                "card": self.card,
            }
        )

    def save(self, path: Path) -> None:
        """Write the ranker as JSON."""
        path.write_text(self.to_json())

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "JSON") -> BoostedRanker:
        """Read :meth:`to_json`'s data.

        Raises:
            ValueError: another kind or schema version.
        """
        if data.get("kind") != KIND or data.get("schema_version") != BOOSTED_SCHEMA_VERSION:
            raise ValueError(
                f"{source}: {data.get('kind')!r} schema {data.get('schema_version')!r}, this "
                f"code reads {KIND!r} schema {BOOSTED_SCHEMA_VERSION}"
            )
        return cls(
            tuple(data["features"]),
            float(data["baseline"]),
            [Tree.from_dict(t) for t in data["trees"]],
            dict(data.get("card", {})),
        )

    @classmethod
    def load(cls, path: Path, *, features: Sequence[str] | None = None) -> BoostedRanker:
        """Read a ranker saved by :meth:`save`.

        Args:
            path: the JSON file.
            features: the feature names the caller computes; a model needing others is
                refused.

        Raises:
            ValueError: another kind, schema version or features.
        """
        ranker = cls.from_json(json.loads(path.read_text()), source=str(path))
        if features is not None and not set(ranker.features) <= set(features):
            raise ValueError(
                f"{path}: needs features {sorted(set(ranker.features) - set(features))} "
                "that the caller does not compute; retrain"
            )
        return ranker


def load_any_ranker(path: Path, *, features: Sequence[str] | None = None) -> Any:
    """A saved ranker of either kind: boosted trees or the logistic :class:`LinearRanker`.

    The JSON's ``kind`` picks the class; files without one are logistic rankers.
    """
    from models.ranker import LinearRanker

    data = json.loads(path.read_text())
    if data.get("kind") == KIND:
        return BoostedRanker.load(path, features=features)
    return LinearRanker.load(path, features=features)


def fit_boosted(
    x: FloatArray,
    y: npt.NDArray[np.int_],
    features: Sequence[str],
    *,
    sample_weight: FloatArray | None = None,
    groups: npt.NDArray[np.int_] | None = None,
    validation: tuple[FloatArray, npt.NDArray[np.int_]] | None = None,
    params: Mapping[str, Any] | None = None,
    card: dict[str, Any] | None = None,
    seed: int = 0,
) -> BoostedRanker:
    """Fit boosted trees on labelled pairs; export them with a model card.

    Args:
        x: (pairs, features) raw features (no transformation needed: trees are invariant
            to monotone rescaling).
        y: 1 for a pair that went on to collaborate, else 0.
        features: the names of the columns.
        sample_weight: per-pair weights (e.g. inverse sampling rates of the negatives).
        groups: the query each pair belongs to (recorded only).
        validation: held-out ``(x, y)`` to report AUC and permutation importances on.
        params: overrides of :data:`BOOSTED_PARAMS`.
        card: facts to record in the model card (data, dates).
        seed: the estimator's random state.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    settings = {**BOOSTED_PARAMS, **(params or {})}
    model = HistGradientBoostingClassifier(random_state=seed, **settings)
    model.fit(x, y, sample_weight=sample_weight)
    metrics: dict[str, float] = {}
    importance: dict[str, float] = {}
    if validation is not None and len(np.unique(validation[1])) == 2:
        vx, vy = validation
        metrics["validation_auc"] = round(
            float(roc_auc_score(vy, model.predict_proba(vx)[:, 1])), 4
        )
        from sklearn.inspection import permutation_importance

        found = permutation_importance(
            model, vx, vy, scoring="roc_auc", n_repeats=3, random_state=seed
        )
        importance = {
            f: round(float(v), 5)
            for f, v in sorted(
                zip(features, found.importances_mean, strict=True), key=lambda fv: -fv[1]
            )
        }
    ranker = BoostedRanker.from_sklearn(model, features)
    ranker.card = {
        "kind": "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier)",
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pairs": len(y),
        "positives": int(np.sum(y)),
        "queries": len(np.unique(groups)) if groups is not None else None,
        "params": settings,
        "trees": len(ranker.trees),
        "metrics": metrics,
        "feature_importance": importance,
        **(card or {}),
    }
    return ranker


BOOSTED_PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.08,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
"""The estimator's settings (chosen on the year before the cut-off)."""
