"""Snapshots: immutable, versioned folders derived from the store, shared by every process.

A build (:func:`build_snapshot`) reads the store at one change-log sequence, encodes only
texts it has not seen (the previous snapshot's embedding cache and the vectors that writes
left in the store), assembles the profiles, graph, candidate lists and funding domains,
learns the ranker from the store's own history, measures what random pairs get (for
truthful reasons) and writes everything as ``.npy`` arrays beside a manifest into
``MATCHER_HOME/builds/<name>/``, atomically made ``current``. :func:`load_snapshot`
memory-maps a snapshot back; the pages are shared by every process through the page cache.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import EmbeddingCache, Encoder, Manifest, read_manifest, write_atomically
from embeddings.ann import AnnMismatchError
from embeddings.artefact import ManifestMismatchError, current_folder
from matcher.app.assemble import StoreData, assemble, new_partners, read_store
from matcher.app.settings import Settings
from matcher.domain.errors import StateError
from matcher.graph.graph import CollaborationGraph
from matcher.graph.live import LiveGraph
from matcher.graph.rows import RowSets
from matcher.ranking.candidates import ListSizes
from matcher.ranking.domains import DomainActivity
from matcher.ranking.features import pair_features
from matcher.ranking.profiles import FIELDS, Profiles
from matcher.ranking.rank import Context
from matcher.ranking.reasons import Thresholds
from matcher.ranking.scorer import Scorer
from matcher.ranking.training import LEARNED_FEATURES, Labelled, fit_scorer, labelled_pairs
from matcher.store import Store

__all__ = [
    "BuildReport",
    "Snapshot",
    "build_snapshot",
    "history",
    "learn",
    "load_snapshot",
    "measure_thresholds",
    "previous_cache",
]

logger = logging.getLogger(__name__)

MIN_TRAINING_QUERIES = 30
"""A learned ranker needs at least this many organisations with a new partner in the year
before the snapshot; with fewer the hand weights rank."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    folder: Path
    organisations: int
    texts: int
    encoded: int
    seconds: float
    seq: int
    ranker: str
    up_to_date: bool = False

    def summary(self) -> str:
        """One line for people."""
        if self.up_to_date:
            return f"snapshot up to date ({self.organisations} organisations): nothing to build"
        return (
            f"built a snapshot of {self.organisations} organisations from {self.texts} "
            f"distinct texts ({self.encoded} newly encoded), ranker: {self.ranker}, "
            f"in {self.seconds:.1f} s"
        )


@dataclass
class Snapshot:
    """A loaded snapshot: its folder, manifest and ranking state."""

    folder: Path
    manifest: Manifest
    context: Context

    @property
    def seq(self) -> int:
        """The change-log sequence the snapshot reflects."""
        return int(self.manifest.extra["seq"])


def sizes_of(settings: Settings) -> ListSizes:
    """The candidate-pool sizes the settings ask for."""
    return ListSizes(two_hop=settings.pool_two_hop, three_hop=settings.pool_three_hop)


def _build_settings(settings: Settings) -> dict[str, Any]:
    """The settings a snapshot depends on (a change rebuilds it)."""
    return {
        "ranker": settings.ranker,
        "training_queries": settings.training_queries,
        **({"training_lag": settings.training_lag} if settings.training_lag != 1 else {}),
        "sizes": dataclasses.asdict(sizes_of(settings)),
        # written only when not the default, so that earlier builds stay up to date
        **(
            {"ann_min_rows": settings.ann_min_rows}
            if settings.ann_min_rows != Settings.model_fields["ann_min_rows"].default
            else {}
        ),
    }


def previous_cache(home: Path, encoder: Encoder) -> tuple[EmbeddingCache, Manifest | None]:
    """The current snapshot's embedding cache and its manifest.

    The cache is kept when made by this model and backend; the manifest is None when the
    snapshot is of another layout or model.

    The cache is reused across layout versions: it holds only text keys and vectors.
    """
    cache = EmbeddingCache(encoder.dimension)
    previous = current_folder(home)
    if previous is None:
        return cache, None
    try:
        raw = json.loads((previous / "manifest.json").read_text())
    except (OSError, ValueError):
        return cache, None
    if (raw.get("model_id"), raw.get("backend")) == (encoder.model_id, encoder.backend):
        cache = EmbeddingCache.load(previous, encoder.dimension)
    try:
        manifest = read_manifest(previous)
        manifest.check(model_id=encoder.model_id, backend=encoder.backend)
    except ManifestMismatchError as exc:
        logger.info("the previous snapshot does not match (%s): a full build", exc)
        return cache, None
    return cache, manifest


def measure_thresholds(ctx: Context, *, queries: int = 300, per_query: int = 60) -> Thresholds:
    """What random pairs get for each signal a reason may cite (seeded, deterministic)."""
    p = ctx.profiles
    alive = np.flatnonzero(p.alive).astype(np.int64)
    rng = np.random.default_rng(0)
    if len(alive) < 2:
        return Thresholds({}, 0)
    samples: dict[str, list[np.ndarray[Any, Any]]] = {}
    has = {f: np.abs(p.vectors(f, alive)).max(axis=1) > 0 for f in ("offers", "seeks")}
    offers_of = dict(zip(alive.tolist(), has["offers"].tolist(), strict=True))
    seeks_of = dict(zip(alive.tolist(), has["seeks"].tolist(), strict=True))
    for row in rng.choice(alive, min(queries, len(alive)), replace=False).tolist():
        others = rng.choice(alive, min(per_query, len(alive)), replace=False)
        others = others[others != row]
        q = ctx.query(row)
        cols = pair_features(p, ctx.graph, ctx.domains, q, others)
        offers = np.array([offers_of[int(o)] for o in others], np.bool_)
        seeks = np.array([seeks_of[int(o)] for o in others], np.bool_)
        picks = {
            "text": cols["text"],
            "ecosystems": cols["ecosystems"],
            "walk": cols["walk"],
            "domain_activity": cols["domain_activity"],
            "they_offer": cols["they_offer"][offers] if seeks_of[row] else cols["text"][:0],
            "you_offer": cols["you_offer"][seeks] if offers_of[row] else cols["text"][:0],
            "offers_alike": (
                (p.vectors("offers", others[offers]) @ q.vectors["offers"]).astype(np.float64)
                if offers_of[row]
                else cols["text"][:0]
            ),
        }
        for name, values in picks.items():
            samples.setdefault(name, []).append(values)
    return Thresholds.measure({k: np.concatenate(v) for k, v in samples.items()})


def _year_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def history(
    data: StoreData,
    encoder: Encoder,
    cache: EmbeddingCache,
    settings: Settings,
    *,
    show_progress: bool = False,
) -> tuple[Labelled, Labelled | None] | None:
    """Labelled pairs to learn from: ``training_lag`` years before the snapshot, and one more.

    Returns:
        The training pairs (features ``settings.training_lag`` years before the latest
        collaboration, default one, labels from then to it) and the calibration pairs (a
        year further back, a year more of outcomes; None without any), or None when the
        history is too short.
    """
    if data.latest is None:
        return None
    date = data.latest
    lag = settings.training_lag
    out: list[Labelled] = []
    first = min(r[3][:10] for r in data.collaborations)
    for years in (lag, lag + 1):
        cut = _year_before(date, years)
        if cut.isoformat() < first:  # nothing known yet at the cut
            if years == lag:
                return None
            break
        ctx, graph, _ = assemble(
            data,
            encoder,
            cache,
            as_of=cut,
            sizes=sizes_of(settings),
            ann_min_rows=settings.ann_min_rows,
        )
        labels = new_partners(data, ctx.profiles.ids, graph, cut, date)
        if years == lag and len([r for r, s in labels.items() if s]) < MIN_TRAINING_QUERIES:
            return None
        out.append(
            labelled_pairs(
                ctx,
                labels,
                LEARNED_FEATURES,
                queries=settings.training_queries,
                seed=years - lag,
                show_progress=show_progress,
            )
        )
    return out[0], out[1] if len(out) > 1 and out[1].y.any() else None


def learn(
    data: StoreData,
    encoder: Encoder,
    cache: EmbeddingCache,
    settings: Settings,
    *,
    show_progress: bool = False,
) -> tuple[Scorer, dict[str, Any]]:
    """The scorer learnt from the store's history, or the hand weights without enough."""
    if settings.ranker == "hand":
        return Scorer.hand(), {"ranker": "hand weights", "why": "asked for"}
    pairs = history(data, encoder, cache, settings, show_progress=show_progress)
    if pairs is None:
        return Scorer.hand(), {"ranker": "hand weights", "why": "too little history"}
    train, calibrate = pairs
    kind = "listwise" if settings.ranker == "auto" else settings.ranker
    assert data.latest is not None
    cut = _year_before(data.latest, settings.training_lag)
    card = {"features_until": cut.isoformat(), "labels": f"{cut} < date <= {data.latest}"}
    scorer = fit_scorer(train, calibrate, kind=kind, card=card, years=settings.training_lag)
    return scorer, {
        "ranker": scorer.ranker.card.get("kind", kind),
        "pool_recall": round(train.found / max(train.wanted, 1), 4),
        "training_pairs": len(train.y),
        "calibration": scorer.calibration.card if scorer.calibration else None,
    }


def build_snapshot(
    store: Store,
    encoder: Encoder,
    settings: Settings,
    *,
    full: bool = False,
    show_progress: bool = False,
    cache_from: Path | None = None,
) -> BuildReport:
    """Build a snapshot of the store and make it current.

    Args:
        store: the store (read in one consistent view).
        encoder: the text encoder.
        settings: where the home is, which ranker, how many builds to keep.
        full: rebuild even when the current snapshot reflects the store already, and
            re-encode every text.
        show_progress: progress bars for the long steps.
        cache_from: another home whose current snapshot's embedding cache seeds this one
            (same model and backend only), e.g. the same data at another cut-off.
    """
    started = time.perf_counter()
    home = settings.home_path
    cache, previous = previous_cache(home, encoder)
    if full:
        cache = EmbeddingCache(encoder.dimension)
    elif cache_from is not None:
        cache.merge(previous_cache(cache_from, encoder)[0])
    seq_now = store.sequence()
    wanted = _build_settings(settings)
    if (
        previous is not None
        and not full
        and previous.extra.get("seq") == seq_now
        and previous.extra.get("build") == wanted
    ):
        folder = current_folder(home)
        assert folder is not None
        return BuildReport(folder, previous.count, 0, 0, 0.0, seq_now, "", up_to_date=True)
    for stored in store.all_stored_vectors(
        model=encoder.model_id, dimension=encoder.dimension
    ).values():
        cache.add(list(stored.keys), stored.vectors)
    data = read_store(store)
    ctx, graph, encoded = assemble(
        data,
        encoder,
        cache,
        as_of=None,
        sizes=sizes_of(settings),
        ann_min_rows=settings.ann_min_rows,
        show_progress=show_progress,
    )
    ctx.thresholds = measure_thresholds(ctx)
    ctx.scorer, learnt = learn(data, encoder, cache, settings, show_progress=show_progress)
    digest = hashlib.sha256(str(data.seq).encode())
    for org_id, keys in zip(ctx.profiles.ids, encoded.keys, strict=True):
        digest.update(org_id.encode() + b"\x00" + keys.tobytes())
    manifest = Manifest(
        model_id=encoder.model_id,
        model_revision=encoder.revision,
        backend=encoder.backend,
        dimension=encoder.dimension,
        metric="inner_product",
        count=len(ctx.profiles),
        data_hash=digest.hexdigest(),
        extra={
            "seq": data.seq,
            "build": wanted,
            "as_of": graph.as_of.isoformat(),
            "edges": graph.edge_count,
            "texts": len(cache),
            "domains": ctx.domains is not None,
            "thresholds": ctx.thresholds.to_json(),
            "scorer": learnt,
            "calibrated": ctx.scorer.calibrated,
            "ann": {
                name: {"factory": index.params.factory(), **dataclasses.asdict(index.params)}
                for name, index in ctx.profiles.ann.items()
            },
            "prefilter": sorted(ctx.profiles.prefilters),
        },
    )
    misses = cache.misses

    def write(folder: Path) -> None:
        ctx.profiles.save(folder)
        graph.save(folder)
        ctx.lists.save(folder, "candidates")
        if ctx.domains is not None:
            ctx.domains.save(folder)
        ctx.scorer.save(folder)
        cache.save(folder)

    folder = write_atomically(home, manifest, write, keep=settings.keep_builds)
    if previous is not None and "seq" in previous.extra:
        store.prune_changes(int(previous.extra["seq"]))  # two generations stay served
    report = BuildReport(
        folder,
        len(ctx.profiles),
        len(cache),
        misses,
        time.perf_counter() - started,
        data.seq,
        str(learnt.get("ranker")),
    )
    logger.info("build: %s", report.summary())
    return report


def load_snapshot(folder: Path, *, model: str) -> Snapshot:
    """Memory-map a snapshot folder into a ranking state.

    Raises:
        StateError: a snapshot of another schema or model, or an incomplete one.
    """
    try:
        manifest = read_manifest(folder)
        manifest.check(model_id=model)
    except ManifestMismatchError as exc:
        raise StateError(str(exc)) from exc
    extra = manifest.extra
    try:
        profiles = Profiles.load(folder)
    except AnnMismatchError as exc:
        raise StateError(f"{folder.name}: {exc}") from exc
    if len(profiles) != manifest.count:
        raise StateError(f"{folder.name}: {len(profiles)} rows, the manifest says {manifest.count}")
    graph = CollaborationGraph.load(
        folder, profiles.ids, dt.date.fromisoformat(extra["as_of"]), index=profiles.index
    )
    ctx = Context(
        profiles,
        LiveGraph(graph),
        DomainActivity.load(folder) if extra.get("domains") else None,
        RowSets.load(folder, "candidates"),
        Scorer.load(folder),
        Thresholds.from_json(extra["thresholds"]),
        ListSizes(**extra["build"]["sizes"]),
    )
    for f in FIELDS:
        profiles.present(f)
    return Snapshot(folder, manifest, ctx)
