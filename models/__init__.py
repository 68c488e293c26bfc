"""Learned ranking models: fit, predict, calibrate, save and load (no pickle).

Knows features and labels, not the store or HTTP.
"""

from models.calibration import Calibration, fit_calibration
from models.listwise import ListwiseRanker, fit_listwise
from models.ranker import RANKER_SCHEMA_VERSION, LinearRanker, fit_ranker

__all__ = [
    "RANKER_SCHEMA_VERSION",
    "Calibration",
    "LinearRanker",
    "ListwiseRanker",
    "fit_calibration",
    "fit_listwise",
    "fit_ranker",
]
