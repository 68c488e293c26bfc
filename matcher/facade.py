"""The Matcher: the one front door that the CLI, the service and notebooks call."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embeddings import (
    EmbeddingCache,
    Encoder,
    Manifest,
    SentenceTransformerEncoder,
    VectorIndex,
    read_manifest,
    text_key,
    write_atomically,
)
from embeddings.artefact import ManifestMismatchError, current_folder
from matcher.errors import StateError
from matcher.importers import ImportReport, import_cordis, import_platform
from matcher.schema import Organisation, Reason, Suggestion
from matcher.settings import Settings
from matcher.store import Store

__all__ = ["BuildReport", "Matcher"]

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
        self._index: VectorIndex | None = None
        self._manifest: Manifest | None = None
        self._loaded_from: Path | None = None

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
        """Import files in the platform's format (see :mod:`matcher.importers.platform`)."""
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
        """Import a directory in CORDIS's schema (see :mod:`matcher.importers.cordis`)."""
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
            self._encoder = SentenceTransformerEncoder(
                self.settings.model,
                batch_size=self.settings.batch_size,
                threads=self.settings.threads,
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

    def build(self, *, full: bool = False, show_progress: bool = True) -> BuildReport:
        """Embed every organisation and write a new index, atomically made current.

        Args:
            full: ignore the embedding cache and the up-to-date check: re-encode everything.
            show_progress: show a progress bar while encoding.

        """
        started = dt.datetime.now(dt.UTC)
        encoder = self.encoder
        texts = self.organisation_texts()
        ids = sorted(i for i, t in texts.items() if t)
        skipped = len(texts) - len(ids)
        keys = {i: [text_key(encoder.model_id, encoder.backend, t) for t in texts[i]] for i in ids}
        digest = hashlib.sha256()
        for i in ids:
            digest.update(i.encode() + b"\x00" + b"".join(keys[i]))
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
        distinct = list(dict.fromkeys(t for i in ids for t in texts[i]))
        vectors = cache.encode(encoder, distinct, show_progress=show_progress)
        row = {t: n for n, t in enumerate(distinct)}
        pooled = np.zeros((len(ids), encoder.dimension), dtype=np.float32)
        for n, i in enumerate(ids):
            pooled[n] = vectors[[row[t] for t in texts[i]]].mean(axis=0)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        index = VectorIndex(encoder.dimension)
        index.add(ids, pooled)
        cache.retain({k for i in ids for k in keys[i]})
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

        def write(folder: Path) -> None:
            index.save(folder)
            cache.save(folder)

        folder = write_atomically(self.home, manifest, write, keep=self.settings.keep_builds)
        self._index, self._manifest, self._loaded_from = index, manifest, folder
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        report = BuildReport(folder, len(ids), len(distinct), cache.misses, skipped, seconds)
        logger.info("build: %s", report.summary())
        return report

    # -- querying --------------------------------------------------------------------------

    def load(self) -> VectorIndex:
        """The current index (re-read when a newer build became current).

        Raises:
            StateError: there is no build, or it was made with another model.

        """
        folder = current_folder(self.home)
        if folder is None:
            raise StateError(f"no index under {self.home}: run `matcher build` first")
        if self._index is not None and folder == self._loaded_from:
            return self._index
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
        self._index, self._manifest, self._loaded_from = index, manifest, folder
        return index

    def vector(self, organisation_id: str) -> npt.NDArray[np.float32]:
        """The indexed vector of an organisation.

        Raises:
            UnknownOrganisationError: not in the store.
            StateError: in the store but not in the index.

        """
        index = self.load()
        if organisation_id in index:
            return index.vector(organisation_id)
        self.store.get_organisation(organisation_id)  # raises when unknown
        raise StateError(
            f"organisation {organisation_id!r} is not in the index: it has no text to match "
            "on, or it changed since the last build (run `matcher build`)"
        )

    def recommend(self, organisation_id: str, k: int = 10) -> list[Suggestion]:
        """The ``k`` best partners for an organisation in the store, best first.

        Ranking (this version): cosine similarity of the organisations' vectors; the
        organisation itself is never suggested; ties are broken by id.

        Raises:
            UnknownOrganisationError: the id is not in the store.
            StateError: no usable index.

        """
        if k < 1:
            raise ValueError("k must be at least 1")
        self.store.get_organisation(organisation_id)
        hits = self.load().search(self.vector(organisation_id), k, exclude=[organisation_id])
        found = self.store.get_organisations(h[0] for h in hits)
        out: list[Suggestion] = []
        for item_id, score in hits:
            org = found.get(item_id)
            if org is None:  # deleted since the build
                continue
            out.append(
                Suggestion(
                    rank=len(out) + 1,
                    organisation=org,
                    score=round(score, 6),
                    reasons=[_text_reason(score)],
                )
            )
        return out

    def organisation(self, organisation_id: str) -> Organisation:
        """One organisation from the store.

        Raises:
            UnknownOrganisationError: the id is not in the store.

        """
        return self.store.get_organisation(organisation_id)


def _text_reason(score: float) -> Reason:
    return Reason(
        signal="text",
        contribution=round(score, 6),
        text=f"their profile describes similar work (text similarity {score:.2f})",
    )
