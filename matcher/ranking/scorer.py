"""The scorer: a ranker over named features and the calibration of its scores.

What a score means: the probability that the pair forms a new partnership within the
calibration's horizon (two years by default), estimated on the store's own history at
build time (:mod:`matcher.ranking.training`). Without enough history the hand weights
score pairs and the logistic function maps them to (0, 1): a ranking score, not a
calibrated probability (the manifest says which).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from matcher.ranking.features import stack
from models import Calibration, LinearRanker, ListwiseRanker

__all__ = ["HAND_BIAS", "HAND_WEIGHTS", "Scorer", "compile_medians", "contributions_reference"]

FloatArray = npt.NDArray[np.float64]
Ranker = LinearRanker | ListwiseRanker

HAND_WEIGHTS: dict[str, float] = {
    "text": 2.5,
    "tags": 1.0,
    "they_offer": 2.0,
    "you_offer": 1.0,
    "ecosystems": 1.0,
    "keywords": 1.0,
    "complementarity": 0.5,
    "common_partners": 0.8,
    "resource_allocation": 10.0,
    "walk": 20.0,
    "domain_activity": 1.5,
    "target_market": 1.0,
    "their_target": 0.5,
    "neighbour_country": 0.1,
    "activity": 0.55,
}
"""Weights for a home without history to learn from (set by judgement on the scale of the
weights once fitted on CORDIS; never measured as the best: a learned ranker replaces them
as soon as the store's history allows)."""

HAND_BIAS = -5.7
_COUNTS = frozenset({"common_partners", "activity"})


@dataclass
class Scorer:
    """A ranker and, when fitted on history, the calibration of its raw scores."""

    ranker: Ranker
    calibration: Calibration | None = None

    @property
    def features(self) -> tuple[str, ...]:
        """The features the ranker reads, in column order."""
        return self.ranker.features

    @cached_property
    def _columns(self) -> dict[str, int]:
        """Each feature's column in the ranker's matrix."""
        return {name: j for j, name in enumerate(self.features)}

    @property
    def calibrated(self) -> bool:
        """Whether scores are calibrated probabilities."""
        return self.calibration is not None

    @classmethod
    def hand(cls) -> Scorer:
        """The hand-weighted scorer."""
        names = tuple(HAND_WEIGHTS)
        ranker = LinearRanker.from_weights(
            names,
            HAND_WEIGHTS,
            bias=HAND_BIAS,
            log_features=_COUNTS,
            card={"kind": "hand weights", "weights": HAND_WEIGHTS, "bias": HAND_BIAS},
        )
        return cls(ranker)

    def raw(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """Raw ranker scores of every candidate."""
        return self.ranker.raw(stack(columns, self.features))

    def probability(self, raw: FloatArray) -> FloatArray:
        """Scores in [0, 1]: calibrated probabilities when fitted, else the logistic."""
        if self.calibration is not None:
            return self.calibration.probability(raw)
        return LinearRanker.probability(raw)

    def contributions(
        self,
        columns: Mapping[str, FloatArray],
        rows: list[int],
        groups: Mapping[str, tuple[str, ...]],
        *,
        x: FloatArray | None = None,
        raw: FloatArray | None = None,
        needed: Sequence[Collection[str]] | None = None,
    ) -> dict[str, FloatArray]:
        """How much each group of features raises some candidates' raw scores.

        A group's contribution is the raw score minus the raw score with the group's
        features set to their median over the pool (a typical candidate for this query):
        one batch of predictions for all groups, for any kind of ranker.

        ``x``, ``raw``: the pool's feature matrix (``stack(columns, self.features)``) and
        raw scores when already at hand. A tree ranker scores each row on its own, so the
        candidates' own scores are taken from ``raw`` and a candidate whose group already
        holds the typical values is not scored again: its contribution is exactly 0, as it
        would be (:func:`contributions_reference` is the plain version, for the tests).

        ``needed``: per row of ``rows``, the groups whose contribution the caller will read
        (e.g. the reasons a pair can give); a tree ranker scores no other, and they read 0.
        """
        x = stack(columns, self.features) if x is None else x
        column = self._columns
        named = {g: [column[f] for f in fs if f in column] for g, fs in groups.items()}
        named = {g: cols for g, cols in named.items() if cols}
        listwise = isinstance(self.ranker, ListwiseRanker)
        asked = set(named) if needed is None or not listwise else set().union(*needed)
        typical = _typical(x, sorted({j for g, cols in named.items() if g in asked for j in cols}))
        chosen = x[rows]
        if not listwise:
            return _contributions_batch(self.ranker, chosen, typical, named)
        changed = np.repeat(chosen[None, :, :], len(named), axis=0)
        for g, (name, cols) in enumerate(named.items()):
            if name in asked:
                changed[g][:, cols] = typical[cols]
        same = (changed == chosen) | (np.isnan(changed) & np.isnan(chosen))
        moved = ~same.all(axis=2)  # (groups, rows): the candidates a substitution changes
        if needed is not None:
            moved &= np.array([[g in wanted for wanted in needed] for g in named], np.bool_)
        known = raw is not None
        scored = self.ranker.raw(changed[moved] if known else np.vstack([chosen, changed[moved]]))
        base = np.asarray(raw, np.float64)[rows] if raw is not None else scored[: len(rows)]
        other = np.repeat(base[None, :], len(named), axis=0)
        other[moved] = scored if known else scored[len(rows) :]
        return {g: base - other[i] for i, g in enumerate(named)}

    def save(self, folder: Path) -> None:
        """Write the ranker and the calibration into ``folder``."""
        self.ranker.save(folder)
        if self.calibration is not None:
            self.calibration.save(folder / "calibration.json")

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        """Read a scorer written by :meth:`save`.

        Raises:
            ValueError: an unknown ranker kind or schema.
        """
        meta = json.loads((folder / "ranker.json").read_text())
        kind = meta.get("kind")
        ranker: Ranker
        if kind == ListwiseRanker.kind:
            ranker = ListwiseRanker.load(folder, meta)
        elif kind == LinearRanker.kind:
            ranker = LinearRanker.load(folder, meta)
        else:
            raise ValueError(f"{folder.name}/ranker.json: unknown ranker kind {kind!r}")
        path = folder / "calibration.json"
        return cls(ranker, Calibration.load(path) if path.exists() else None)


def compile_medians() -> None:
    """Compile the pool's medians now (numba; or read its disk cache), not in a request.

    A serving process calls this while loading: compiling takes seconds, reading the cache
    a few hundred milliseconds, either of which the first list with reasons would wait.
    """
    _typical(np.zeros((2, 1)), [0])


def _typical(x: FloatArray, needed: list[int]) -> FloatArray:
    """Per column, its median over the pool (unknown values left out), for ``needed`` only."""
    typical = np.zeros(x.shape[1]) if not len(x) else np.full(x.shape[1], np.nan)
    if len(x) and needed:
        _medians(np.asarray(x, np.float64), np.array(needed, np.int64), typical)
    return typical


@numba.njit(cache=True, nogil=True)
def _medians(
    x: FloatArray, columns: npt.NDArray[np.int64], out: FloatArray
) -> None:  # pragma: no cover - compiled; tested against NumPy's median
    """``out[j]``: the median of column ``j``'s known (not NaN) values, NaN if none.

    NumPy's ``median`` of the same values, bit for bit: the middle value, or the mean of
    the two middle values, ``(a + b) / 2``.
    """
    buf = np.empty(x.shape[0])
    for j in columns:
        m = 0
        for i in range(x.shape[0]):
            v = x[i, j]
            if not np.isnan(v):
                buf[m] = v
                m += 1
        if m == 0:
            out[j] = np.nan
            continue
        half = m // 2
        part = np.partition(buf[:m], half)
        if m % 2:
            out[j] = part[half]
        else:
            below = part[0]
            for i in range(1, half):
                below = max(below, part[i])
            out[j] = (below + part[half]) / 2.0


def _contributions_batch(
    ranker: Ranker, chosen: FloatArray, typical: FloatArray, named: Mapping[str, list[int]]
) -> dict[str, FloatArray]:
    batch = [chosen]
    for cols in named.values():
        changed = chosen.copy()
        changed[:, cols] = typical[cols]
        batch.append(changed)
    raw = ranker.raw(np.vstack(batch)).reshape(len(batch), len(chosen))
    return {g: raw[0] - raw[i + 1] for i, g in enumerate(named)}


def contributions_reference(
    scorer: Scorer,
    columns: Mapping[str, FloatArray],
    rows: list[int],
    groups: Mapping[str, tuple[str, ...]],
) -> dict[str, FloatArray]:
    """:meth:`Scorer.contributions` the plain way: every row and group scored, every median.

    Kept as the definition the fast path is tested against.
    """
    x = stack(columns, scorer.features)
    typical = np.median(x, axis=0) if len(x) else np.zeros(len(scorer.features))
    for j in np.flatnonzero(np.isnan(typical)).tolist():
        known = x[:, j][~np.isnan(x[:, j])]
        typical[j] = np.median(known) if len(known) else np.nan
    named = {
        g: [scorer.features.index(f) for f in fs if f in scorer.features]
        for g, fs in groups.items()
    }
    named = {g: cols for g, cols in named.items() if cols}
    return _contributions_batch(scorer.ranker, x[rows], typical, named)
