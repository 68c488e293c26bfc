"""The Matcher: the one front door that the CLI, the service and notebooks call.

Its methods are the use cases: import, build, recommend (for a stored organisation, for a
profile, for a consortium), write, read. Everything it serves is derived from the store in
``settings.home`` (:mod:`matcher.app.snapshot`, :mod:`matcher.app.state`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path

from embeddings import Encoder, make_encoder
from matcher.app.groups import GroupScorer, GroupScores
from matcher.app.present import Recommendation, present, present_completions
from matcher.app.settings import Settings
from matcher.app.snapshot import BuildReport, build_snapshot
from matcher.app.state import LiveState
from matcher.app.vectors import prepare_vectors
from matcher.app.writes import Writer
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import FeedbackKind
from matcher.ingest import ImportReport, import_cordis, import_platform
from matcher.ranking.consortium import complete
from matcher.ranking.features import Query
from matcher.ranking.profiles import FIELDS, RowValues
from matcher.ranking.rank import Context, rank
from matcher.ranking.rules import Filters
from matcher.ranking.select import SelectionRules
from matcher.store import Store

__all__ = ["BuildReport", "GroupScores", "Matcher", "Recommendation"]


class Matcher:
    """Build, load and query the partner index over the store in ``settings.home``.

    Args:
        settings: configuration; read from the environment when omitted.
        encoder: an encoder to use instead of the one the settings name.
    """

    def __init__(self, settings: Settings | None = None, *, encoder: Encoder | None = None) -> None:
        self.settings = settings or Settings()
        self.home = self.settings.home_path
        self.store = Store(self.settings.store_path)
        self._encoder = encoder
        self._live: LiveState | None = None
        self._live_lock = threading.Lock()
        self._groups = GroupScorer()
        self.writer = Writer(
            self.store, lambda: self.encoder, lambda: self._live, nice=self.settings.write_nice,
            read_only=bool(self.settings.follow),
        )  # fmt: skip

    def close(self) -> None:
        """Close the store and stop the writes' background thread."""
        self.writer.close()
        self.store.close()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The text encoder named by the settings (the model loads on first use)."""
        if self._encoder is None:
            s = self.settings
            self._encoder = make_encoder(
                s.model, backend=s.backend, batch_size=s.batch_size, threads=s.threads,
                cache_dir=self.home / "models",
            )  # fmt: skip
        return self._encoder

    @property
    def rules(self) -> SelectionRules:
        """The cross-border and exposure rules from the settings."""
        s = self.settings
        return SelectionRules(s.max_same_country, s.target_share, s.max_hubs)

    # -- importing and building ------------------------------------------------------------

    def _report_path(self) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        return self.home / "reports" / f"rejected-{stamp}.csv"

    def import_platform(
        self, *, organisations: Path | None = None, collaborations: Path | None = None,
        skip_invalid: bool = False,
    ) -> ImportReport:  # fmt: skip
        """Import files in the platform's format (see :mod:`matcher.ingest.platform`)."""
        self.writer.check_writable()
        return import_platform(
            self.store, organisations=organisations, collaborations=collaborations,
            skip_invalid=skip_invalid, report_path=self._report_path(),
        )  # fmt: skip

    def import_cordis(
        self, directory: Path, *, until: dt.date | None = None, skip_invalid: bool = False
    ) -> ImportReport:
        """Import a directory in CORDIS's schema (see :mod:`matcher.ingest.cordis`)."""
        self.writer.check_writable()
        return import_cordis(
            self.store, directory, until=until, skip_invalid=skip_invalid,
            report_path=self._report_path(),
        )  # fmt: skip

    def build(
        self, *, full: bool = False, show_progress: bool = False, cache_from: Path | None = None,
        ray: str | None = None, ray_actors: int | None = None,
    ) -> BuildReport:  # fmt: skip
        """Build a snapshot of the store and make it current (see :func:`build_snapshot`).

        ``ray``: encode on a pool of ``ray_actors`` Ray actors (default: one per CPU) of the
        cluster at that address, or of a Ray started here for ``"local"``; same vectors.
        """
        encoder: Encoder
        runtime: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if ray is None:
            encoder = self.encoder
        else:
            from embeddings.distributed import EncoderSpec, RayEncoder, ray_runtime

            s = self.settings
            models = str(self.home / "models")
            spec = EncoderSpec(s.model, s.backend, s.batch_size, cache_dir=models)
            encoder, runtime = RayEncoder(spec, actors=ray_actors, address=ray), ray_runtime(ray)
        with runtime:
            return build_snapshot(
                self.store, encoder, self.settings, full=full, show_progress=show_progress,
                cache_from=cache_from,
            )  # fmt: skip

    # -- the served state ------------------------------------------------------------------

    def live(self) -> LiveState:
        """The state this process serves, caught up with the store.

        Raises:
            StateError: no snapshot has been built yet.
        """
        with self._live_lock:
            if self._live is None:
                s = self.settings
                live = LiveState(
                    self.home, s.model, self.store, self.encoder, cached=s.organisation_cache
                )
                live.refresh(wait_for_snapshot=True)
                self._live = live
        self._live.refresh()
        return self._live

    def _query(self, ctx: Context, organisation: Organisation) -> Query:
        row = ctx.profiles.index.get(organisation.id)
        if row is not None:
            return ctx.query(row)
        prepared = prepare_vectors([organisation], self.store, self.encoder)
        values = RowValues.of(organisation)
        return Query(
            row=None,
            vectors={f: prepared.vectors[0, j] for j, f in enumerate(FIELDS)},
            values=values,
            keyword_codes=ctx.profiles.keyword_codes(values.keywords),
        )

    # -- recommending ----------------------------------------------------------------------

    def recommend(
        self, organisation_id: str, k: int = 10, *, filters: Filters | None = None,
        explain: bool = True,
    ) -> Recommendation:  # fmt: skip
        """The ``k`` best partners for an organisation in the store, in score order.

        Raises:
            UnknownOrganisationError: the id is not in the store.
            StateError: no snapshot yet.
            ValueError: ``k`` below 1.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        feedback = self.store.feedback_about(organisation_id)
        with (live := self.live()).reading() as ctx:
            org = live.organisations.get_organisation(organisation_id)
            rows = ctx.profiles.index
            blocked = [
                rows[o] for o, s in feedback.items() if FeedbackKind.BLOCKED in s and o in rows
            ]
            tired = [
                rows[o]
                for o, s in feedback.items()
                if FeedbackKind.NOT_INTERESTED in s and o in rows
            ]
            ranking = rank(
                ctx, self._query(ctx, org), k, filters=filters or Filters(), blocked=blocked,
                not_interested=tired, rules=self.rules,
            )  # fmt: skip
            return present(ctx, live.organisations, org, ranking, explain_them=explain)

    def recommend_profile(
        self, profile: Organisation, k: int = 10, *, filters: Filters | None = None,
        explain: bool = True,
    ) -> Recommendation:  # fmt: skip
        """Suggestions for a profile that is not in the store (cold start; nothing stored)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        live = self.live()
        with live.reading() as ctx:
            query = self._query(ctx, profile.model_copy(update={"id": f"profile:{profile.id}"}))
            same = [ctx.profiles.index[profile.id]] if profile.id in ctx.profiles.index else []
            ranking = rank(
                ctx, query, k, filters=filters or Filters(), blocked=same, rules=self.rules
            )
            return present(ctx, live.organisations, profile, ranking, explain_them=explain)

    def complete(
        self, seed_ids: Sequence[str], k: int = 10, *, topic: str | None = None,
        filters: Filters | None = None, explain: bool = True,
    ) -> Recommendation:  # fmt: skip
        """Partners that complete a consortium: fit with every member, and fill gaps.

        Raises:
            UnknownOrganisationError: a seed id is not in the store.
            ValueError: no seed, or ``k`` below 1.
        """
        if not seed_ids:
            raise ValueError("a consortium needs at least one member")
        if k < 1:
            raise ValueError("k must be at least 1")
        members = [self.store.get_organisation(i) for i in dict.fromkeys(seed_ids)]
        topic_vector = self.encoder.encode([topic])[0] if topic else None
        with (live := self.live()).reading() as ctx:
            rows = [ctx.profiles.index[m.id] for m in members]
            blocked = {
                ctx.profiles.index[o]
                for m in members
                for o, kinds in self.store.feedback_about(m.id).items()
                if FeedbackKind.BLOCKED in kinds and o in ctx.profiles.index
            }
            ids = ctx.profiles.ids

            def profiles(wanted: Sequence[int]) -> dict[int, Organisation]:
                found = live.organisations.get_organisations(ids[r] for r in wanted)
                return {r: found[ids[r]] for r in wanted if ids[r] in found}

            done, columns = complete(
                ctx, rows, profiles, k,
                topic=topic_vector, filters=filters or Filters(), blocked=blocked,
            )  # fmt: skip
            return present_completions(
                ctx, live.organisations, members, done, columns, explain_them=explain
            )

    def score_group(self, organisations: Sequence[Organisation]) -> GroupScores:
        """Scores between every two organisations (stored or not), as ``/recommend`` scores.

        The last few groups are kept until the state changes (:mod:`matcher.app.groups`).

        Raises:
            StateError: no snapshot yet.
        """
        return self._groups.score(self.live(), organisations, self._query)

    # -- writing and reading ---------------------------------------------------------------

    def upsert_organisations(self, organisations: Sequence[Organisation]) -> list[str]:
        """Insert or replace organisations, all or none (see :class:`Writer`)."""
        return self.writer.upsert_organisations(organisations)

    def remove_organisation(self, organisation_id: str) -> None:
        """Delete an organisation with its collaborations."""
        self.writer.remove_organisation(organisation_id)

    def add_collaborations(self, collaborations: Sequence[Collaboration]) -> int:
        """Record collaborations, all or none; return how many pairs changed."""
        return self.writer.add_collaborations(collaborations)

    def remove_collaboration(self, collaboration: Collaboration) -> bool:
        """Delete one collaboration; return whether it existed."""
        return self.writer.remove_collaboration(collaboration)

    def record_feedback(
        self, organisation_id: str, other_id: str, kind: FeedbackKind,
        at: dt.datetime | None = None,
    ) -> None:  # fmt: skip
        """Store feedback about a suggested partner; the next ranking applies it."""
        self.writer.record_feedback(organisation_id, other_id, kind, at)

    def organisation(self, organisation_id: str) -> Organisation:
        """One organisation from the store.

        Raises:
            UnknownOrganisationError: the id is not in the store.
        """
        return self.store.get_organisation(organisation_id)
