"""Learned ranking models (scikit-learn): fit, predict, calibrate, save and load.

Knows nothing of the store or of HTTP. Empty until the ranking issue lands.
"""

__all__: list[str] = []
