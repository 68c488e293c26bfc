"""Calibration: a ranker's raw score to the probability of a new partnership.

Isotonic regression (scikit-learn) fit on held-out labelled pairs, kept as its breakpoints
in JSON and applied with linear interpolation: monotone, so it never changes an order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Calibration", "fit_calibration"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw scores to probabilities.

    Attributes:
        x: raw-score breakpoints, increasing.
        y: the probability at each breakpoint, non-decreasing.
        card: what it was fit on (pairs, positives, horizon) and how well (Brier score).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    card: dict[str, Any]

    def probability(self, raw: FloatArray) -> FloatArray:
        """Probabilities of raw scores (flat beyond the breakpoints)."""
        out: FloatArray = np.interp(raw, self.x, self.y)
        return out

    def to_json(self) -> dict[str, Any]:
        """The calibration as JSON data."""
        return {"x": list(self.x), "y": list(self.y), "card": self.card}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """Read :meth:`to_json`'s output."""
        return cls(tuple(data["x"]), tuple(data["y"]), dict(data.get("card", {})))

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a file written by :meth:`save`."""
        return cls.from_json(json.loads(path.read_text()))


def fit_calibration(
    raw: FloatArray, y: npt.NDArray[np.int_], *, card: dict[str, Any] | None = None
) -> Calibration:
    """Fit isotonic regression of labels on raw scores.

    Raises:
        ValueError: fewer than two distinct labels.
    """
    from sklearn.isotonic import IsotonicRegression

    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs positive and negative pairs")
    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(raw, y)
    x = np.asarray(model.X_thresholds_, np.float64)
    p = np.asarray(model.y_thresholds_, np.float64)
    brier = float(np.mean((np.interp(raw, x, p) - y) ** 2))
    return Calibration(
        tuple(float(v) for v in x),
        tuple(float(v) for v in p),
        {"pairs": len(y), "positives": int(np.sum(y)), "brier": round(brier, 5), **(card or {})},
    )
