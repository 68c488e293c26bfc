"""Learned ranking models (scikit-learn): fit, predict, calibrate, save and load.

Knows nothing of the store or of HTTP.
"""

from models.ranker import RANKER_SCHEMA_VERSION, LinearRanker, fit_ranker

__all__ = ["RANKER_SCHEMA_VERSION", "LinearRanker", "fit_ranker"]
