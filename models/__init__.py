"""Learned ranking models (scikit-learn): fit, predict, calibrate, save and load.

Knows nothing of the store or of HTTP.
"""

from models.boosted import (
    BOOSTED_SCHEMA_VERSION,
    BoostedRanker,
    Tree,
    fit_boosted,
    load_any_ranker,
)
from models.ranker import RANKER_SCHEMA_VERSION, LinearRanker, fit_ranker

__all__ = [
    "BOOSTED_SCHEMA_VERSION",
    "RANKER_SCHEMA_VERSION",
    "BoostedRanker",
    "LinearRanker",
    "Tree",
    "fit_boosted",
    "fit_ranker",
    "load_any_ranker",
]
