"""The product itself as an evaluation method: ``default`` calls what ``/recommend`` serves.

For a split with train years up to ``Y``, :class:`ProductHomes` imports the data up to the
end of ``Y`` into a home of its own (kept, so a second run only reads it back) and builds
it with the product's build: the same encoder, candidate lists, features, ranker learnt
from the history before ``Y`` and calibration. The ``default`` method then asks
:meth:`~matcher.app.matcher.Matcher.recommend` for each query, exactly as the service does
(same pool, rules, scorer and cross-border selection), and scores its list: the ten
served suggestions first, then the rest of a longer list (for MRR), then everyone else at
random. Ablations refit the scorer without one feature on the same history and rank the
same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from embeddings import Encoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.evaluation.harness import Scorer, Split, register_method
from matcher.graph import FloatArray, IntArray
from matcher.ranking.scorer import Scorer as PairScorer
from matcher.ranking.training import Labelled
from matcher.store import Store

__all__ = [
    "PRODUCT_METHODS",
    "ProductHomes",
    "copy_until",
    "product_scorer",
    "register_product_methods",
]

logger = logging.getLogger(__name__)

PRODUCT_METHODS: tuple[str, ...] = ("default",)
"""Methods that rank with the product (the ablations ``default-minus-<signal>`` on request,
one per signal of :data:`matcher.ranking.features.SIGNALS`)."""

SERVED = 10
"""How many suggestions a list shows (the metrics' k)."""

LONGER = 100
"""A longer list for the ranks beyond the served ten (MRR)."""


@dataclass
class ProductHomes:
    """Homes holding a data set imported up to a cut-off, built by the product and kept.

    Args:
        root: where the homes live (one sub-folder per source and cut-off).
        importer: imports the source up to a date into a matcher's store.
        source: names the source (part of the folder names).
        encoder: an encoder shared by the homes (loaded once).
        settings: settings the homes' matchers use (their ``home`` is replaced).
    """

    root: Path
    importer: Callable[[Matcher, dt.date], object]
    source: str
    encoder: Encoder | None = None
    settings: Settings | None = None

    def home(self, until: dt.date) -> Path:
        """The home of one cut-off."""
        key = hashlib.sha256(self.source.encode()).hexdigest()[:10]
        return self.root / f"product-{key}-{until.isoformat()}"

    def matcher(self, until: dt.date) -> Matcher:
        """A matcher over the home of a cut-off (imported and built on first use)."""
        home = self.home(until)
        prefix = home.name.rsplit("-", 3)[0]
        siblings = sorted(p for p in self.root.glob(f"{prefix}-*") if p != home)
        base = self.settings or Settings()
        matcher = Matcher(base.model_copy(update={"home": home}), encoder=self.encoder)
        marker = home / "imported"
        if not marker.exists():
            logger.info("importing %s up to %s into %s", self.source, until, home)
            self.importer(matcher, until)
            marker.write_text(until.isoformat())
        matcher.build(cache_from=siblings[-1] if siblings else None)
        if self.encoder is None:
            self.encoder = matcher.encoder
        return matcher

    def for_workers(self) -> ProductHomes:
        """A copy to ship to other processes (Ray actors) once the homes are built.

        It holds no encoder and no store (they do not travel); its settings name the backend
        the homes were built with, so a worker loads them without building anything, and
        its importer refuses to run.
        """
        settings = self.settings or Settings()
        if self.encoder is not None:
            settings = settings.model_copy(update={"backend": self.encoder.backend})
        return replace(self, importer=_not_imported, encoder=None, settings=settings)


def _not_imported(target: Matcher, until: dt.date) -> None:
    raise RuntimeError(
        f"{target.home} was not imported up to {until} before the homes were shipped"
    )


def copy_until(source: Store) -> Callable[[Matcher, dt.date], None]:
    """An importer copying a store's state up to a date into a matcher's home.

    Organisations are copied whole (the platform keeps no creation date); collaborations,
    projects and participations only up to the date.
    """

    def importer(target: Matcher, until: dt.date) -> None:
        store = target.store
        with store.transaction():
            store.upsert_organisations(source.organisations())
            projects = [
                p for p in source.projects() if p.start_date is None or p.start_date <= until
            ]
            store.upsert_projects(projects)
            kept = {p.id for p in projects}
            store.upsert_participations(p for p in source.participations() if p.project_id in kept)
            store.upsert_collaborations(source.collaborations(until=until))

    return importer


def product_scorer(matcher: Matcher, split: Split, *, scorer: PairScorer | None = None) -> Scorer:
    """Scores of every train organisation from the product's lists (see the module).

    Args:
        matcher: the product over the split's cut-off.
        split: the split.
        scorer: rank with this scorer instead of the snapshot's (an ablation).
    """
    ids = split.ids
    row_of = {o: i for i, o in enumerate(ids)}
    n = len(ids)

    def score(rows: IntArray) -> FloatArray:
        out = np.full((len(rows), n), -1e6)
        live = matcher.live()
        with live.lock:
            saved = live.context.scorer
            live.context.scorer = scorer or saved
            try:
                for i, row in enumerate(rows.tolist()):
                    org_id = ids[row]
                    if org_id not in live.context.profiles.index:
                        continue
                    served = matcher.recommend(org_id, SERVED, explain=False)
                    longer = matcher.recommend(org_id, LONGER, explain=False)
                    for weight, suggestions in ((1e4, served), (1e2, longer)):
                        for s in suggestions:
                            j = row_of.get(s.organisation.id)
                            if j is not None and out[i, j] < weight - LONGER:
                                out[i, j] = weight - s.rank
            finally:
                live.context.scorer = saved
        return out

    return score


def register_product_methods(
    split: Split, homes: ProductHomes, *, ablations: Sequence[str] = ()
) -> list[str]:
    """Register ``default`` (and ``default-minus-<feature>`` for each ablation) for a split.

    Returns:
        The names registered.
    """
    until = dt.date(split.train_until, 12, 31)
    cache: dict[str, Matcher] = {}

    def matcher() -> Matcher:
        if "m" not in cache:
            cache["m"] = homes.matcher(until)
        return cache["m"]

    register_method(
        "default",
        lambda s: product_scorer(matcher(), s),
        description="the product: what /recommend serves (learned ranker, rules, selection)",
        replace=True,
    )
    names = ["default"]
    for signal in ablations:
        name = f"default-minus-{signal}"

        def factory(s: Split, signal: str = signal) -> Scorer:
            return product_scorer(matcher(), s, scorer=refit_without(matcher(), signal))

        register_method(
            name,
            factory,
            description=f"the product's ranker refit without the {signal} signal",
            replace=True,
        )
        names.append(name)
    return names


def refit_without(matcher: Matcher, signal: str) -> PairScorer:
    """The snapshot's scorer relearnt on the same history without one signal's features.

    Raises:
        ValueError: an unknown signal, or too little history to learn from.
    """
    from matcher.app.assemble import read_store
    from matcher.app.snapshot import history, previous_cache
    from matcher.ranking.features import SIGNALS
    from matcher.ranking.training import LEARNED_FEATURES, fit_scorer

    if signal not in SIGNALS:
        raise ValueError(f"unknown signal {signal!r}: one of {', '.join(SIGNALS)}")

    key = f"{matcher.home}:{matcher.settings.training_lag}"
    if key not in _HISTORY:
        cache, _ = previous_cache(matcher.home, matcher.encoder)
        _HISTORY[key] = history(read_store(matcher.store), matcher.encoder, cache, matcher.settings)
    pairs = _HISTORY[key]
    if pairs is None:
        raise ValueError("too little history to learn a ranker from")
    train, calibrate = pairs
    keep = tuple(f for f in LEARNED_FEATURES if f not in SIGNALS[signal])
    kind = matcher.live().context.scorer.ranker.kind
    return fit_scorer(
        train.subset(LEARNED_FEATURES, keep),
        calibrate.subset(LEARNED_FEATURES, keep) if calibrate is not None else None,
        kind=kind if kind in ("listwise", "linear") else "listwise",
        features=keep,
        years=matcher.settings.training_lag,
    )


_HISTORY: dict[str, tuple[Labelled, Labelled | None] | None] = {}
