"""The Matcher: the one front door that the CLI, the service and notebooks call."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embeddings import (
    EmbeddingCache,
    Encoder,
    Manifest,
    VectorIndex,
    make_encoder,
    read_manifest,
    text_key,
    write_atomically,
)
from embeddings.artefact import ManifestMismatchError, current_folder
from embeddings.fields import search_fields
from matcher.app.settings import Settings
from matcher.domain.errors import StateError
from matcher.domain.schema import Collaboration, Organisation, Reason, Suggestion
from matcher.domain.vocab import FeedbackKind
from matcher.graph import CollaborationGraph
from matcher.ingest import ImportReport, import_cordis, import_platform
from matcher.ranking.domains import DomainActivity
from matcher.ranking.rank import (
    DOMAIN_SIGNAL,
    Filters,
    Ranked,
    RankingOptions,
    add_domain_columns,
    combine,
    eligible,
    hand_ranker,
    rank,
)
from matcher.ranking.reasons import explain
from matcher.ranking.signals import SIGNALS, ProfileTable, signal_columns
from matcher.store import CollaborationRow, Store
from models import LinearRanker

_FIELDS = ("text", "offers", "seeks")
_MAX_WRITTEN = 20_000  # texts encoded by writes kept for the next build's cache

__all__ = ["COVERAGE_BONUS", "MAX_CONSORTIUM", "TOPIC_WEIGHT", "BuildReport", "Matcher"]

COVERAGE_BONUS = 0.05
"""Score added for each gap a candidate fills in a consortium (country, kind, stage)."""

TOPIC_WEIGHT = 0.3
"""Weight of a candidate's text similarity to the call topic in consortium completion."""

MAX_CONSORTIUM = 50
"""Projects with more participants make no graph edges (weak links; the CORDIS protocol)."""

_ACTIVITY_DAYS = 730

REANCHOR_DAYS = 30
"""A collaboration dated up to this many days after the loaded graph's ``as_of`` is added
in place as if dated ``as_of``; a later one reads the graph from the store again, which
moves ``as_of`` to it."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    folder: Path
    organisations: int
    texts: int
    encoded: int
    skipped: int
    seconds: float
    up_to_date: bool = False

    def summary(self) -> str:
        """One line for people."""
        if self.up_to_date:
            return f"index up to date ({self.organisations} organisations): nothing to build"
        return (
            f"indexed {self.organisations} organisations from {self.texts} distinct texts "
            f"({self.encoded} newly encoded, {self.skipped} organisations without text) "
            f"in {self.seconds:.1f} s"
        )


class Matcher:
    """Build, load and query the partner index over the store in ``settings.home``.

    Args:
        settings: configuration; read from the environment when omitted.
        encoder: an encoder to use instead of the one the settings name (e.g. one already
            loaded, shared between several matchers).

    """

    def __init__(self, settings: Settings | None = None, *, encoder: Encoder | None = None) -> None:
        self.settings = settings or Settings()
        self.home = self.settings.home_path
        self.store = Store(self.settings.store_path)
        self._encoder: Encoder | None = encoder
        self._state: _State | None = None
        self._ranker: LinearRanker | None = None
        self._write_lock = threading.RLock()
        self._index_lock = threading.Lock()
        self._written: EmbeddingCache | None = None

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- importing -------------------------------------------------------------------------

    def import_platform(
        self,
        *,
        organisations: Path | None = None,
        collaborations: Path | None = None,
        skip_invalid: bool = False,
    ) -> ImportReport:
        """Import files in the platform's format (see :mod:`matcher.ingest.platform`)."""
        return import_platform(
            self.store,
            organisations=organisations,
            collaborations=collaborations,
            skip_invalid=skip_invalid,
            report_path=self._report_path(),
        )

    def import_cordis(
        self, directory: Path, *, until: dt.date | None = None, skip_invalid: bool = False
    ) -> ImportReport:
        """Import a directory in CORDIS's schema (see :mod:`matcher.ingest.cordis`)."""
        return import_cordis(
            self.store,
            directory,
            until=until,
            skip_invalid=skip_invalid,
            report_path=self._report_path(),
        )

    def _report_path(self) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.home / "reports" / f"rejected-{stamp}.csv"

    # -- building --------------------------------------------------------------------------

    @property
    def encoder(self) -> Encoder:
        """The text encoder named by the settings (the model loads on first use)."""
        if self._encoder is None:
            self._encoder = make_encoder(
                self.settings.model,
                backend=self.settings.backend,
                batch_size=self.settings.batch_size,
                threads=self.settings.threads,
                cache_dir=self.home / "models",
            )
        return self._encoder

    def organisation_texts(self) -> dict[str, list[str]]:
        """The texts each organisation is matched on.

        An organisation with projects is represented by its projects' texts (so each
        distinct text is encoded once, however many organisations share it); one without,
        by its profile text (description, technologies, offers, seeks, ecosystems).
        """
        texts = self.store.project_texts()
        for org in self.store.organisations():
            if org.id not in texts:
                profile = org.profile_text()
                texts[org.id] = [profile] if profile else []
        return texts

    def build(
        self, *, full: bool = False, show_progress: bool = True, cache_from: Path | None = None
    ) -> BuildReport:
        """Embed every organisation and write a new index, atomically made current.

        Args:
            full: ignore the embedding cache and the up-to-date check: re-encode everything.
            show_progress: show a progress bar while encoding.
            cache_from: another home whose current build's embedding cache seeds this one
                (same model and backend only), e.g. the same data at another cut-off.

        """
        started = dt.datetime.now(dt.UTC)
        encoder = self.encoder
        texts = self.organisation_texts()
        ids = sorted(i for i, t in texts.items() if t)
        skipped = len(texts) - len(ids)
        keys = {i: [text_key(encoder.model_id, encoder.backend, t) for t in texts[i]] for i in ids}
        side = self._side_texts(ids)
        digest = hashlib.sha256()
        for i in ids:
            digest.update(i.encode() + b"\x00" + b"".join(keys[i]))
        for name, side_texts in side.items():
            digest.update(name.encode() + "\x00".join(side_texts).encode())
        data_hash = digest.hexdigest()
        previous = current_folder(self.home)
        cache: EmbeddingCache | None = None
        if previous is not None and not full:
            try:
                old = read_manifest(previous)
                old.check(model_id=encoder.model_id, backend=encoder.backend)
                if old.data_hash == data_hash and old.model_revision == encoder.revision:
                    return BuildReport(previous, len(ids), 0, 0, skipped, 0.0, up_to_date=True)
                cache = EmbeddingCache.load(previous, old.dimension)
            except ManifestMismatchError as exc:
                logger.info("not reusing the previous build: %s", exc)
        if cache is None:
            cache = EmbeddingCache(encoder.dimension)
        if self._written is not None and self._written.dimension == encoder.dimension:
            cache.merge(self._written)  # texts encoded by incremental writes since
        other = current_folder(cache_from) if cache_from is not None and not full else None
        if other is not None:
            try:
                seed = read_manifest(other)
                seed.check(model_id=encoder.model_id, backend=encoder.backend)
                cache.merge(EmbeddingCache.load(other, seed.dimension))
            except ManifestMismatchError as exc:
                logger.info("not seeding the cache from %s: %s", other, exc)
        distinct = list(dict.fromkeys(t for i in ids for t in texts[i]))
        vectors = cache.encode(encoder, distinct, show_progress=show_progress)
        row = {t: n for n, t in enumerate(distinct)}
        pooled = np.zeros((len(ids), encoder.dimension), dtype=np.float32)
        for n, i in enumerate(ids):
            pooled[n] = vectors[[row[t] for t in texts[i]]].mean(axis=0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        index = VectorIndex(encoder.dimension)
        index.add(ids, pooled)
        side_vectors = {
            name: self._encode_optional(cache, texts, encoder) for name, texts in side.items()
        }
        kept = {k for i in ids for k in keys[i]}
        kept |= {text_key(encoder.model_id, encoder.backend, t) for v in side.values() for t in v}
        cache.retain(kept)
        manifest = Manifest(
            model_id=encoder.model_id,
            model_revision=encoder.revision,
            backend=encoder.backend,
            dimension=encoder.dimension,
            metric="inner_product",
            count=len(ids),
            data_hash=data_hash,
            extra={"texts": len(distinct), "without_text": skipped},
        )

        tags = side_vectors.pop("tags")
        has_tags = np.asarray(tags.any(axis=1), np.bool_)
        tags_index = VectorIndex(encoder.dimension)
        tags_index.add([i for i, h in zip(ids, has_tags, strict=True) if h], tags[has_tags])

        def write(folder: Path) -> None:
            index.save(folder)
            tags_index.save(folder / "tags")
            cache.save(folder)
            for name, vectors in side_vectors.items():
                np.save(folder / f"{name}.npy", vectors, allow_pickle=False)

        folder = write_atomically(self.home, manifest, write, keep=self.settings.keep_builds)
        self._state = None
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        report = BuildReport(folder, len(ids), len(distinct), cache.misses, skipped, seconds)
        logger.info("build: %s", report.summary())
        return report

    def _side_texts(self, ids: list[str]) -> dict[str, list[str]]:
        """Offers and seeks texts aligned with ``ids`` ('' where none)."""
        found = self.store.get_organisations(ids)
        return {
            "offers": [found[i].offers for i in ids],
            "seeks": [found[i].seeks for i in ids],
            "tags": [found[i].tags_text() for i in ids],
        }

    @staticmethod
    def _encode_optional(
        cache: EmbeddingCache, texts: list[str], encoder: Encoder
    ) -> npt.NDArray[np.float32]:
        """Vectors for texts, zero rows where a text is empty."""
        out = np.zeros((len(texts), encoder.dimension), np.float32)
        present = [n for n, t in enumerate(texts) if t]
        if present:
            out[present] = cache.encode(encoder, [texts[n] for n in present], show_progress=False)
        return out

    # -- querying --------------------------------------------------------------------------

    def state(self) -> _State:
        """The loaded state: index, profile table and graph (re-read after a new build).

        Raises:
            StateError: there is no build, or it was made with another model.
        """
        folder = current_folder(self.home)
        if folder is None:
            raise StateError(f"no index under {self.home}: run `matcher build` first")
        old = self._state
        if old is not None and folder == old.folder:
            return old
        # One thread loads a new build, under the write lock (so no write swaps an older
        # state back in); readers meanwhile keep answering from the state they have.
        if not self._write_lock.acquire(blocking=old is None):
            assert old is not None  # a blocking acquire never fails
            return old
        try:
            if self._state is not None and self._state.folder == folder:
                return self._state
            return self._load_state(folder)
        finally:
            self._write_lock.release()

    def _load_state(self, folder: Path) -> _State:
        try:
            manifest = read_manifest(folder)
            manifest.check(model_id=self.settings.model)
        except ManifestMismatchError as exc:
            raise StateError(f"{exc}; run `matcher build`") from exc
        index = VectorIndex.load(folder)
        if len(index) != manifest.count or index.dimension != manifest.dimension:
            raise StateError(
                f"{folder}: the index holds {len(index)} vectors of dimension "
                f"{index.dimension}, the manifest says {manifest.count} of "
                f"{manifest.dimension}; run `matcher build`"
            )
        table = self._load_table(folder, index)
        tags = (
            VectorIndex.load(folder / "tags")
            if (folder / "tags").is_dir()
            else VectorIndex(index.dimension)
        )
        self._state = _State(folder, manifest, index, table, tags)
        logger.info("loaded %s: %d organisations", folder, len(table))
        return self._state

    def load(self) -> VectorIndex:
        """The current vector index (see :meth:`state`)."""
        return self.state().index

    def _load_table(self, folder: Path, index: VectorIndex) -> ProfileTable:
        orgs = list(self.store.organisations())
        dim = index.dimension
        vectors = {name: np.zeros((len(orgs), dim), np.float32) for name in _FIELDS}
        side = {
            name: np.load(folder / f"{name}.npy", allow_pickle=False)
            if (folder / f"{name}.npy").exists()
            else None
            for name in ("offers", "seeks")
        }
        index_row = {item_id: n for n, item_id in enumerate(index.ids)}
        for r, org in enumerate(orgs):
            n = index_row.get(org.id)
            if n is None:
                continue
            vectors["text"][r] = index.vector(org.id)
            for name, saved in side.items():
                if saved is not None:
                    vectors[name][r] = saved[n]
        return self._make_table(orgs, vectors)

    def _make_table(
        self,
        orgs: list[Organisation],
        vectors: dict[str, npt.NDArray[np.float32]],
        graph: CollaborationGraph | None = None,
        activity: npt.NDArray[np.float64] | None = None,
    ) -> ProfileTable:
        """A profile table over ``orgs`` (in id order), reading the graph from the store."""
        as_of = self.store.latest_collaboration() or dt.date.today()
        if graph is None:
            graph = CollaborationGraph.from_store(
                self.store, max_consortium=MAX_CONSORTIUM, include_isolated=True, as_of=as_of
            )
        if activity is None:
            recent = self.store.activity(
                since=as_of - dt.timedelta(days=_ACTIVITY_DAYS), until=as_of
            )
            activity = np.array([recent.get(o.id, 0) for o in orgs], np.float64)
        domains = None
        if DOMAIN_SIGNAL in self.ranker.features:
            domains = DomainActivity.build(
                [o.id for o in orgs],
                self.store.projects(),
                self.store.participations(),
                as_of=as_of,
            )
        return ProfileTable(
            orgs,
            vectors["text"],
            vectors["offers"],
            vectors["seeks"],
            graph,
            as_of,
            activity,
            domains,
        )

    @property
    def ranker(self) -> LinearRanker:
        """The learned ranker in ``MATCHER_HOME/ranker.json``, else the hand weights.

        A learned ranker weighs the signals, or the signals and the domain activity
        (:data:`~matcher.ranking.DOMAIN_SIGNAL`); the hand weights add the domain activity
        when ``MATCHER_DOMAIN_ACTIVITY`` is set.

        Raises:
            ValueError: the saved ranker weighs other features (retrain it).
        """
        if self._ranker is None:
            path = self.home / "ranker.json"
            if path.exists():
                found = LinearRanker.load(path)
                if found.features not in (SIGNALS, (*SIGNALS, DOMAIN_SIGNAL)):
                    raise ValueError(
                        f"{path}: trained on features {list(found.features)}, this code "
                        f"computes {list(SIGNALS)} (and optionally {DOMAIN_SIGNAL}); retrain"
                    )
                self._ranker = found
                logger.info("using the learned ranker %s", path)
            else:
                self._ranker = hand_ranker(domain=self.settings.domain_activity)
        return self._ranker

    def options(self) -> RankingOptions:
        """Ranking options from the settings."""
        s = self.settings
        return RankingOptions(
            reciprocity=s.reciprocity,
            partnered=s.partnered,
            not_interested=s.not_interested,
            diversity=s.diversity,
            max_hubs=s.max_hubs,
        )

    def vector(self, organisation_id: str) -> npt.NDArray[np.float32]:
        """The indexed vector of an organisation.

        Raises:
            UnknownOrganisationError: not in the store.
            StateError: in the store but not in the index.
        """
        index = self.load()
        with self._index_lock:
            if organisation_id in index:
                return index.vector(organisation_id)
        self.store.get_organisation(organisation_id)  # raises when unknown
        raise StateError(
            f"organisation {organisation_id!r} is not in the index: it has no text to match "
            "on, or it changed since the last build (run `matcher build`)"
        )

    def _row(self, state: _State, organisation_id: str) -> int:
        row = state.table.rows.get(organisation_id)
        if row is None:
            self.store.get_organisation(organisation_id)  # raises when unknown
            raise StateError(
                f"organisation {organisation_id!r} is not in the index: it was added after "
                "the last build (run `matcher build`)"
            )
        return row

    def recommend(
        self,
        organisation_id: str,
        k: int = 10,
        *,
        filters: Filters | None = None,
        options: RankingOptions | None = None,
    ) -> list[Suggestion]:
        """The ``k`` best partners for an organisation in the store, best first.

        Hard rules first (filters; never the organisation itself; blocked pairs never;
        existing partners and 'not interested' pairs excluded or flagged by the settings),
        then the pair signals scored from both sides, combined (harmonic mean by default),
        re-ranked for variety, each with the reasons behind its largest contributions.

        Raises:
            UnknownOrganisationError: the id is not in the store.
            StateError: no usable index, or the organisation came after the last build.
            ValueError: ``k`` below 1.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        state = self.state()
        row = self._row(state, organisation_id)
        table = state.table
        query = table.query(row)
        feedback = self.store.feedback_about(organisation_id)
        rows = table.rows
        not_interested = [
            rows[o] for o, kinds in feedback.items()
            if FeedbackKind.NOT_INTERESTED in kinds and o in rows
        ]  # fmt: skip
        blocked = [rows[o] for o, kinds in feedback.items() if FeedbackKind.BLOCKED in kinds]
        neighbours = None
        opts = options or self.options()
        if len(table) > opts.full_scan_limit and organisation_id in state.index:
            # Candidates only (every one is then scored exactly on all signals): the
            # nearest texts, and the nearest tag lists in proportion to the tag weight.
            w = self.settings.tag_weight
            with self._index_lock:
                hits = state.index.search(query.text, opts.candidates, exclude=[organisation_id])
                if w > 0.0 and organisation_id in state.tags:
                    hits += state.tags.search(
                        state.tags.vector(organisation_id),
                        max(1, round(opts.candidates * w)),
                        exclude=[organisation_id],
                    )
            neighbours = np.array([rows[h[0]] for h in hits if h[0] in rows], np.int64)
        ranked = rank(
            table,
            self.ranker,
            query,
            k=k,
            filters=filters or Filters(),
            options=opts,
            not_interested=not_interested,
            blocked=blocked,
            text_neighbours=neighbours,
        )
        return self._suggestions(table, table.organisations[row], row, ranked)

    def search(
        self,
        text: str = "",
        *,
        tags: Sequence[str] = (),
        k: int = 10,
        tag_weight: float | None = None,
        exclude: Sequence[str] = (),
    ) -> list[tuple[Organisation, float]]:
        """Organisations whose texts and tags are nearest to a free text and a list of tags.

        The score is ``(1 - w)·cos(text) + w·cos(tags)`` over the text index and the tags
        index (ecosystems, stages, keywords), ``w`` being ``tag_weight`` (default: the
        setting ``tag_weight``); with only a text, or only tags, the other field is left
        out. Exact over exact indexes (see :func:`embeddings.fields.search_fields`).

        Raises:
            ValueError: neither a text nor tags, ``k`` below 1, or a weight outside [0, 1].
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        w = self.settings.tag_weight if tag_weight is None else tag_weight
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"tag_weight must be between 0 and 1, not {w}")
        tag_text = "; ".join(t.strip() for t in tags if t.strip())
        if not text.strip() and not tag_text:
            raise ValueError("give a text, tags or both")
        if not tag_text:
            w = 0.0
        elif not text.strip():
            w = 1.0
        present = [t for t in (text, tag_text) if t.strip()]
        encoded = dict(zip(present, self.encoder.encode(present), strict=True))
        state = self.state()
        fields = {"text": state.index, "tags": state.tags}
        queries = {
            name: encoded[t] for name, t in (("text", text), ("tags", tag_text)) if t in encoded
        }
        with self._index_lock:
            hits = search_fields(fields, queries, {"text": 1.0 - w, "tags": w}, k, exclude=exclude)
        found = self.store.get_organisations([i for i, _ in hits])
        return [(found[i], score) for i, score in hits if i in found]

    def recommend_profile(
        self, profile: Organisation, k: int = 10, *, filters: Filters | None = None
    ) -> list[Suggestion]:
        """Suggestions for a profile that is not in the store (cold start).

        Its texts are encoded on the fly; graph signals are absent.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        state = self.state()
        table = state.table
        texts = [profile.profile_text() or profile.name, profile.offers, profile.seeks]
        present = [t for t in texts if t]
        vectors = self.encoder.encode(present)
        found = dict(zip(present, vectors, strict=True))
        zero = np.zeros(state.index.dimension, np.float32)
        query = table.profile_query(
            profile,
            found.get(texts[0], zero),
            found.get(texts[1], zero) if texts[1] else zero,
            found.get(texts[2], zero) if texts[2] else zero,
        )
        same = [table.rows[profile.id]] if profile.id in table.rows else []
        ranked = rank(
            table,
            self.ranker,
            query,
            k=k,
            filters=filters or Filters(),
            options=self.options(),
            blocked=same,
        )
        return self._suggestions(table, profile, None, ranked)

    def complete(
        self,
        seed_ids: Sequence[str],
        k: int = 10,
        *,
        topic: str | None = None,
        filters: Filters | None = None,
    ) -> list[Suggestion]:
        """Partners that complete a consortium: fit with every member, and fill gaps.

        A candidate's score is its mean reciprocal score with the seed members, plus a
        bonus for each gap it fills (a country, a kind, a value-chain stage the group
        lacks: :data:`COVERAGE_BONUS`) and, with a call topic, for its text similarity to
        the topic (:data:`TOPIC_WEIGHT`). Reasons: the gaps filled, the topic fit, and
        the pair reasons with the member it fits best.

        Raises:
            UnknownOrganisationError: a seed id is not in the store.
            StateError: no usable index, or a seed came after the last build.
            ValueError: no seed, or ``k`` below 1.
        """
        if not seed_ids:
            raise ValueError("a consortium needs at least one member")
        if k < 1:
            raise ValueError("k must be at least 1")
        state = self.state()
        table = state.table
        seeds = [self._row(state, i) for i in dict.fromkeys(seed_ids)]
        allowed = eligible(table, filters or Filters())
        allowed[seeds] = False
        for seed in seeds:
            for other, kinds in self.store.feedback_about(table.ids[seed]).items():
                if FeedbackKind.BLOCKED in kinds and other in table.rows:
                    allowed[table.rows[other]] = False
        candidates = np.flatnonzero(allowed).astype(np.int64)
        if len(candidates) == 0:
            return []
        ranker = self.ranker
        fwd, rev = signal_columns(table, [table.query(r) for r in seeds], candidates)
        if DOMAIN_SIGNAL in ranker.features:
            add_domain_columns(table, [table.query(r) for r in seeds], candidates, fwd, rev)
        pair = combine(
            ranker.probability(ranker.logits_of_columns(fwd)),
            ranker.probability(ranker.logits_of_columns(rev)),
            self.settings.reciprocity,
        )
        members = [table.organisations[r] for r in seeds]
        have_countries = {o.country for o in members}
        have_kinds = {o.kind for o in members}
        have_stages = {s for o in members for s in o.stages}
        topic_vector = self.encoder.encode([topic])[0] if topic else None
        extra: list[list[Reason]] = []
        score = pair.mean(axis=0)
        for j, row in enumerate(candidates):
            org = table.organisations[row]
            reasons: list[Reason] = []
            if org.country and org.country not in have_countries:
                reasons.append(
                    Reason(
                        signal="new_country",
                        contribution=COVERAGE_BONUS,
                        text=f"adds a country to the consortium: {org.country}",
                    )
                )
            if org.kind not in have_kinds:
                reasons.append(
                    Reason(
                        signal="new_kind",
                        contribution=COVERAGE_BONUS,
                        text=f"adds a kind of partner: {org.kind.label}",
                    )
                )
            new_stages = [s for s in org.stages if s not in have_stages]
            if new_stages:
                reasons.append(
                    Reason(
                        signal="new_stage",
                        contribution=COVERAGE_BONUS,
                        text="adds value-chain stages: " + ", ".join(s.label for s in new_stages),
                    )
                )
            if topic_vector is not None:
                fit = max(float(table.text[row] @ topic_vector), 0.0)
                reasons.append(
                    Reason(
                        signal="topic",
                        contribution=round(TOPIC_WEIGHT * fit, 6),
                        text=f"fits the call topic (text similarity {fit:.2f})",
                    )
                )
            score[j] += sum(r.contribution for r in reasons)
            extra.append(reasons)  # fmt: skip
        order = np.lexsort((np.array([table.ids[r] for r in candidates]), -score))[:k]
        out = []
        for n, j in enumerate(order, start=1):
            best = int(np.argmax(pair[:, j]))
            x_fwd = np.stack([fwd[s][best, j] for s in ranker.features])[None, :]
            ranked = Ranked(
                row=int(candidates[j]),
                score=float(pair[best, j]),
                forward=0.0,
                reverse=0.0,
                signals=np.array([fwd[s][best, j] for s in SIGNALS]),
                contributions=ranker.contributions(x_fwd)[0],
            )
            member = members[best]
            pair_reasons = [
                r.model_copy(update={"text": f"with {member.name}: {r.text}"})
                for r in explain(table, member, seeds[best], ranked)[:2]
            ]
            out.append(
                Suggestion(
                    rank=n,
                    organisation=table.organisations[int(candidates[j])],
                    score=round(float(score[j]), 6),
                    reasons=[*extra[j], *pair_reasons],
                )
            )
        return out

    def _suggestions(
        self, table: ProfileTable, query: Organisation, row: int | None, ranked: list[Ranked]
    ) -> list[Suggestion]:
        return [
            Suggestion(
                rank=n,
                organisation=table.organisations[r.row],
                score=round(r.score, 6),
                reasons=explain(table, query, row, r),
                flags=r.flags,
            )
            for n, r in enumerate(ranked, start=1)
        ]

    # -- writing -------------------------------------------------------------------------

    def upsert_organisations(self, organisations: Sequence[Organisation]) -> list[str]:
        """Insert or replace organisations, all or none; the next query sees them.

        The changed texts are encoded first (so a failure leaves everything as it was), then
        the store is written in one transaction, then the loaded index and profile table are
        updated in place of a rebuild and swapped in for readers. Without a build yet, only
        the store is written (the first ``build`` indexes them).

        Returns:
            The ids written, in the order given.

        Raises:
            ValueError: an id appears twice in the batch.
        """
        orgs = list(organisations)
        ids = [o.id for o in orgs]
        seen: set[str] = set()
        for org_id in ids:
            if org_id in seen:
                raise ValueError(f"organisation {org_id!r} appears twice in the batch")
            seen.add(org_id)
        with self._write_lock:
            state = self._current_state()
            if state is None:
                self.store.upsert_organisations(orgs)
                return ids
            changed = self._changed_vectors(state, orgs)
            self.store.upsert_organisations(orgs)
            table = state.table
            new_ids = [i for i in ids if i not in table.rows]
            if not new_ids and self._update_in_place(state, orgs, changed):
                return ids
            if new_ids and self._insert_in_place(state, orgs, changed):
                logger.info("upserted %d organisations (%d new)", len(ids), len(new_ids))
                return ids
            merged = {o.id: o for o in table.organisations}
            merged.update((o.id, o) for o in orgs)
            self._swap(state, sorted(merged.values(), key=lambda o: o.id), changed, [])
        logger.info("upserted %d organisations (%d new)", len(ids), len(new_ids))
        return ids

    def remove_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations; the next query no longer sees it.

        Raises:
            UnknownOrganisationError: the id is not in the store.
        """
        with self._write_lock:
            self.store.delete_organisation(organisation_id)
            state = self._current_state()
            if state is None:
                return
            orgs = [o for o in state.table.organisations if o.id != organisation_id]
            self._swap(state, orgs, {}, [organisation_id])
        logger.info("removed organisation %s", organisation_id)

    def add_collaborations(self, collaborations: Sequence[Collaboration]) -> int:
        """Record collaborations, all or none; return how many rows changed.

        Raises:
            ReferentialError: an organisation of a collaboration is not in the store.
        """
        rows = [_collaboration_row(c) for c in collaborations]
        with self._write_lock:
            fresh = self.store.unknown_collaboration_rows(rows)
            changed = self.store.upsert_collaboration_rows(rows)
            state = self._current_state()
            if changed and state is not None and not self._add_edges(state, fresh):
                self._swap(state, state.table.organisations, {}, [], graph_changed=True)
        return changed

    def _add_edges(self, state: _State, fresh: list[CollaborationRow]) -> bool:
        """Add new collaborations to the loaded graph without reading it from the store.

        Exact when no collaboration is dated after the graph's ``as_of`` and no project
        grows past :data:`MAX_CONSORTIUM` (its earlier collaborations would then leave the
        graph). A collaboration dated up to :data:`REANCHOR_DAYS` after ``as_of`` (the
        platform records today's) is added as if dated ``as_of``: moving ``as_of`` would
        move every recency feature, by a common factor of at most 0.5 ** (30 / 730) =
        0.97, and cost a rebuild per write. Returns False otherwise, for a rebuild from
        the store. Weight changes of known collaborations do not change the (binary) graph.
        """
        table = state.table
        if not fresh:
            return True
        if table.graph.edge_count == 0:  # its as_of was not a collaboration's date
            return False
        latest = table.as_of + dt.timedelta(days=REANCHOR_DAYS)
        if any(dt.date.fromisoformat(r[3][:10]) > latest for r in fresh):
            return False
        anchor = table.as_of.isoformat()
        fresh = [
            (a, b, kind, min(date, anchor, key=lambda d: d[:10]), weight, ref)
            for a, b, kind, date, weight, ref in fresh
        ]
        refs = {r[5] for r in fresh if r[5]}
        if any(self.store.consortium_size(ref) > MAX_CONSORTIUM for ref in refs):
            return False
        if any(r[0] not in table.rows or r[1] not in table.rows for r in fresh):
            return False
        graph = table.graph.with_collaborations(fresh)
        activity = table.activity.copy()
        since = table.as_of - dt.timedelta(days=_ACTIVITY_DAYS)
        for a, b, _, date, _, _ in fresh:
            if dt.date.fromisoformat(date[:10]) >= since:
                activity[table.rows[a]] += 1.0
                activity[table.rows[b]] += 1.0
        new = table.with_graph(graph, activity)
        self._state = _State(state.folder, state.manifest, state.index, new, state.tags)
        logger.info("added %d collaborations to the graph in place", len(fresh))
        return True

    def remove_collaboration(self, collaboration: Collaboration) -> bool:
        """Delete one collaboration; return whether it existed."""
        with self._write_lock:
            existed = self.store.delete_collaboration(collaboration)
            state = self._current_state()
            if existed and state is not None:
                self._swap(state, state.table.organisations, {}, [], graph_changed=True)
        return existed

    def record_feedback(
        self,
        organisation_id: str,
        other_id: str,
        kind: FeedbackKind,
        at: dt.datetime | None = None,
    ) -> None:
        """Store what an organisation said about a partner; the next ranking applies it.

        Raises:
            UnknownOrganisationError: either id is not in the store.
        """
        self.store.add_feedback(organisation_id, other_id, kind, at or dt.datetime.now(dt.UTC))

    def _current_state(self) -> _State | None:
        """The loaded state, loading the current build if needed; None without a build."""
        if current_folder(self.home) is None:
            return None
        return self.state()

    def _changed_vectors(
        self, state: _State, orgs: list[Organisation]
    ) -> dict[str, dict[str, npt.NDArray[np.float32]]]:
        """The text, offers and seeks vectors of organisations whose texts changed."""
        table = state.table
        with_projects = self.store.project_texts([o.id for o in orgs])
        wanted: dict[str, dict[str, str]] = {}
        for org in orgs:
            row = table.rows.get(org.id)
            old = table.organisations[row] if row is not None else None
            fields = {
                "text": "" if org.id in with_projects else org.profile_text(),
                "offers": org.offers,
                "seeks": org.seeks,
                "tags": org.tags_text(),
            }
            if old is not None:
                before = {
                    "text": old.profile_text(),
                    "offers": old.offers,
                    "seeks": old.seeks,
                    "tags": old.tags_text(),
                }
                fields = {
                    k: v
                    for k, v in fields.items()
                    if v != before[k] and not (k == "text" and org.id in with_projects)
                }
            if fields or old is None:
                wanted[org.id] = fields
        texts = list(dict.fromkeys(t for f in wanted.values() for t in f.values() if t))
        encoded = {}
        if texts:
            dim = table.text.shape[1]
            if self._written is None or len(self._written) > _MAX_WRITTEN:
                self._written = EmbeddingCache(dim)
            vectors = self._written.encode(self.encoder, texts, show_progress=False)
            encoded = dict(zip(texts, vectors, strict=True))
        zero = np.zeros(table.text.shape[1], np.float32)
        return {
            org_id: {k: encoded[t] if t else zero for k, t in fields.items()}
            for org_id, fields in wanted.items()
        }

    def _update_in_place(
        self,
        state: _State,
        orgs: list[Organisation],
        changed: dict[str, dict[str, npt.NDArray[np.float32]]],
    ) -> bool:
        """Apply profile changes of organisations already in the table without a rebuild.

        The changed rows' vectors are overwritten in the arrays the readers share (a reader
        in the middle of a query may see one changed row's new vector); everything else is
        copy-on-write. Returns False when the table needs a rebuild instead.
        """
        table = state.table
        new = table.with_profiles({table.rows[o.id]: o for o in orgs})
        if new is None:
            return False
        self._install(state, new, changed)
        return True

    def _insert_in_place(
        self,
        state: _State,
        orgs: list[Organisation],
        changed: dict[str, dict[str, npt.NDArray[np.float32]]],
    ) -> bool:
        """Insert new organisations (and apply changes to known ones) without a rebuild.

        The other rows' arrays are moved into the new table, not rebuilt from their
        profiles; the graph gains rows without edges. Returns False when that does not
        apply (a new organisation already has collaborations in the store or names a
        country the table has no code for, or the table carries domain activity): the
        caller then builds the table whole.
        """
        table = state.table
        fresh = [o for o in orgs if o.id not in table.rows]
        known = {table.rows[o.id]: o for o in orgs if o.id in table.rows}
        if any(self.store.partners(o.id) for o in fresh):
            return False
        base = table.with_profiles(known) if known else table
        if base is None:
            return False
        ids = sorted([*table.ids, *(o.id for o in fresh)])
        graph = table.graph.with_collaborations([], ids=ids)
        at = np.array([bisect.bisect_left(table.ids, o.id) for o in fresh], np.int64)
        vectors = {name: np.stack([changed[o.id][name] for o in fresh]) for name in _FIELDS}
        activity = np.insert(table.activity, np.sort(at), 0.0)
        new = base.with_new_organisations(fresh, vectors, graph, activity)
        if new is None:
            return False
        known_changes = {i: fields for i, fields in changed.items() if i in table.rows}
        self._install(state, new, changed, vectors_of=known_changes)  # new rows hold theirs
        return True

    def _install(
        self,
        state: _State,
        new: ProfileTable,
        changed: dict[str, dict[str, npt.NDArray[np.float32]]],
        *,
        vectors_of: dict[str, dict[str, npt.NDArray[np.float32]]] | None = None,
    ) -> None:
        """Write changed vectors into ``new``'s rows, update the indexes, swap ``new`` in.

        Args:
            state: the loaded state.
            new: the table to swap in.
            changed: each organisation's new vectors, for the indexes.
            vectors_of: the vectors to write into ``new`` (default: all of ``changed``).
        """
        for org_id, fields in (changed if vectors_of is None else vectors_of).items():
            for name, vector in fields.items():
                if name in _FIELDS:
                    getattr(new, name)[new.rows[org_id]] = vector
        self._apply_index_changes(state, [], changed)
        self._state = _State(state.folder, state.manifest, state.index, new, state.tags)

    def _apply_index_changes(
        self,
        state: _State,
        removed: list[str],
        changed: dict[str, dict[str, npt.NDArray[np.float32]]],
    ) -> None:
        with self._index_lock:
            for name, index in (("text", state.index), ("tags", state.tags)):
                _apply_changes(
                    index, removed, {i: f[name] for i, f in changed.items() if name in f}
                )

    def _swap(
        self,
        state: _State,
        orgs: list[Organisation],
        changed: dict[str, dict[str, npt.NDArray[np.float32]]],
        removed: list[str],
        *,
        graph_changed: bool = False,
    ) -> None:
        """Make a new state from the old one with these changes and swap it in for readers.

        Readers holding the old state keep a consistent view (its arrays are not touched);
        the shared index is changed under a short lock that searches also take.
        """
        old = state.table
        take = np.array([old.rows.get(o.id, -1) for o in orgs], np.int64)
        vectors = {}
        for name in _FIELDS:
            array = getattr(old, name)[np.maximum(take, 0)]
            array[take < 0] = 0.0
            vectors[name] = array
        rows = {o.id: r for r, o in enumerate(orgs)}
        for org_id, fields in changed.items():
            for name, vector in fields.items():
                if name in vectors:
                    vectors[name][rows[org_id]] = vector
        ids = [o.id for o in orgs]
        graph, activity = None, None  # None: read from the store
        if not graph_changed and ids == old.ids:
            graph, activity = old.graph, old.activity
        elif (
            not graph_changed
            and not removed
            and len(ids) - len(old.ids) == int((take < 0).sum())
            and not any(self.store.partners(ids[r]) for r in np.flatnonzero(take < 0))
        ):
            # Only new organisations, none of them in a collaboration yet: new rows.
            graph = old.graph.with_collaborations([], ids=ids)
            activity = np.where(take >= 0, old.activity[np.maximum(take, 0)], 0.0)
        table = self._make_table(orgs, vectors, graph, activity)
        self._apply_index_changes(state, removed, changed)
        self._state = _State(state.folder, state.manifest, state.index, table, state.tags)

    def organisation(self, organisation_id: str) -> Organisation:
        """One organisation from the store.

        Raises:
            UnknownOrganisationError: the id is not in the store.
        """
        return self.store.get_organisation(organisation_id)


def _collaboration_row(c: Collaboration) -> CollaborationRow:
    kind = c.kind.value if hasattr(c.kind, "value") else str(c.kind)
    return (c.organisation_a, c.organisation_b, kind, c.date.isoformat(), c.weight, c.source_ref)


def _apply_changes(
    index: VectorIndex, removed: list[str], changes: dict[str, npt.NDArray[np.float32]]
) -> None:
    """Remove, update and add items of an index; a zero vector removes an item."""
    index.remove([i for i in removed if i in index])
    index.remove([i for i, v in changes.items() if not v.any() and i in index])
    update = [i for i, v in changes.items() if v.any() and i in index]
    add = [i for i, v in changes.items() if v.any() and i not in index]
    if update:
        index.update(update, np.stack([changes[i] for i in update]))
    if add:
        index.add(add, np.stack([changes[i] for i in add]))


@dataclass
class _State:
    """What a query needs, loaded once per build."""

    folder: Path
    manifest: Manifest
    index: VectorIndex
    table: ProfileTable
    tags: VectorIndex
