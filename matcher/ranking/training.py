"""Learning the ranker from the store's own history, with the product's own ranking path.

The ranker learns what happened next: on the state as of a year before the snapshot
(graph, texts and funding domains up to then), sampled organisations that formed new
partnerships in the following year are ranked exactly as a request would rank them (same
pool, same rules, same features); each pool member is labelled by whether the pair then
formed. The calibration maps the ranker's raw score to the probability of a new
partnership within two years, measured the same way on the state two years before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from matcher.ranking.features import FEATURES, stack
from matcher.ranking.rank import Context, rank
from matcher.ranking.scorer import Scorer
from matcher.ranking.select import SelectionRules
from models import LinearRanker, ListwiseRanker, fit_calibration, fit_listwise, fit_ranker

__all__ = ["LEARNED_FEATURES", "Labelled", "fit_scorer", "labelled_pairs"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

LEARNED_FEATURES: tuple[str, ...] = FEATURES
"""The features a learned ranker reads."""


_NO_RULES = SelectionRules(max_same_country=None, max_hubs=None, target_share=0.0)


@dataclass(frozen=True)
class Labelled:
    """Labelled pairs from one historical state.

    Attributes:
        x: (pairs, features) feature matrix.
        y: 1 where the pair formed a partnership afterwards.
        groups: each pair's query (contiguous runs).
        found: positives that were in a pool.
        wanted: positives of the sampled queries (the pool's recall is found / wanted).
    """

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int_]
    groups: npt.NDArray[np.int_]
    found: int
    wanted: int

    def subset(self, names: tuple[str, ...], keep: tuple[str, ...]) -> Labelled:
        """The same pairs with only the ``keep`` columns (``names``: the current columns)."""
        columns = [names.index(k) for k in keep]
        return Labelled(self.x[:, columns], self.y, self.groups, self.found, self.wanted)


def labelled_pairs(
    ctx: Context,
    new_partners: Mapping[int, set[int]],
    features: tuple[str, ...],
    *,
    queries: int = 2000,
    seed: int = 0,
    show_progress: bool = False,
) -> Labelled:
    """Rank sampled queries of a historical state and label every pool member.

    Args:
        ctx: the state as of the cut-off.
        new_partners: per query row, the rows it formed a new partnership with after it.
        features: the columns to keep.
        queries: how many queries to sample (those with a new partner).
        seed: the sample's seed.
        show_progress: show a progress bar.
    """
    rows = np.array(sorted(r for r, s in new_partners.items() if s), np.int64)
    rng = np.random.default_rng(seed)
    if len(rows) > queries:
        rows = np.sort(rng.choice(rows, queries, replace=False))
    xs, ys, gs = [], [], []
    found = wanted = 0
    for g, row in enumerate(tqdm(rows.tolist(), desc="labelling", disable=not show_progress)):
        ranking = rank(ctx, ctx.query(row), 10, rules=_NO_RULES)
        if not len(ranking.rows):
            continue
        truth = new_partners[row]
        label = np.fromiter((int(r) in truth for r in ranking.rows.tolist()), np.int_)
        wanted += len(truth)
        found += int(label.sum())
        xs.append(stack(ranking.columns, features))
        ys.append(label)
        gs.append(np.full(len(label), g))
    if not xs:
        width = len(features)
        return Labelled(np.zeros((0, width)), np.zeros(0, np.int_), np.zeros(0, np.int_), 0, 0)
    return Labelled(np.vstack(xs), np.concatenate(ys), np.concatenate(gs), found, wanted)


def fit_scorer(
    train: Labelled,
    calibrate: Labelled | None,
    *,
    kind: str = "listwise",
    features: tuple[str, ...] = LEARNED_FEATURES,
    card: Mapping[str, object] | None = None,
    seed: int = 0,
    years: int = 1,
) -> Scorer:
    """Fit the ranker on ``train`` and its calibration on ``calibrate``.

    Args:
        train: labelled pairs of the state a year before.
        calibrate: labelled pairs of the state two years before (two years of outcomes);
            None: the training pairs (a one-year horizon, said in the card).
        kind: ``listwise`` (LightGBM LambdaRank) or ``linear`` (logistic regression).
        features: the columns of the pairs.
        card: facts for the model card.
        seed: for LightGBM's sampling.
        years: the years of outcomes the training pairs' labels span (the calibration
            pairs' one more); the calibration's card states its horizon.

    Raises:
        ValueError: an unknown kind, or no positive pair.
    """
    facts = {
        "pool_recall": round(train.found / max(train.wanted, 1), 4),
        **(card or {}),
    }
    ranker: ListwiseRanker | LinearRanker
    if kind == "listwise":
        ranker = fit_listwise(train.x, train.y, train.groups, features, card=facts, seed=seed)
    elif kind == "linear":
        ranker = fit_ranker(
            train.x,
            train.y,
            features,
            log_features=frozenset(
                {"common_partners", "activity", "degree", "query_degree", "domain_activity"}
            ),
            groups=train.groups,
            card=facts,
            seed=seed,
        )
    else:
        raise ValueError(f"unknown ranker kind {kind!r}: listwise or linear")
    held = calibrate if calibrate is not None and calibrate.y.any() else train
    horizon = years + 1 if held is calibrate else years
    raw = ranker.raw(held.x)
    calibration = fit_calibration(raw, held.y, card={"horizon_years": horizon})
    return Scorer(ranker, calibration)
