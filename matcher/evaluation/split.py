"""Temporal splits: the train graph, the new pairs to find, and the queries.

The protocol of ``../shared/data/README.md`` (see :mod:`matcher.evaluation.harness`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.domain.schema import Collaboration, Organisation
from matcher.graph import CollaborationGraph, FloatArray, IntArray
from matcher.ingest.cordis import read_cordis_links

if TYPE_CHECKING:
    from matcher.store import CollaborationRow, Store

logger = logging.getLogger(__name__)

__all__ = [
    "Split",
    "parse_years",
    "read_collaborations_file",
    "read_organisations_file",
]


def parse_years(text: str) -> tuple[int, int]:
    """``'2017-2018'`` → (2017, 2018); ``'2017'`` → (2017, 2017).

    Raises:
        ValueError: not a year or a range of years, or a range that runs backwards.

    """
    parts = text.replace("–", "-").split("-")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a year or a range of years such as 2017-2018")
    first, last = int(parts[0]), int(parts[-1])
    if last < first:
        raise ValueError(f"{text!r}: the range runs backwards")
    return first, last


# -- the split ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Split:
    """A temporal split: the train graph, the new pairs to find, and the queries.

    Attributes:
        graph: the train graph (binary edges); its rows are the train organisations.
        truth: symmetric CSR matrix over the graph's rows, 1 for each new pair.
        queries: the sampled query rows.
        train_until: last train year.
        test_years: first and last test year.
        seed: the seed of the query sample.
        max_consortium: larger projects were left out.
        countries: each row's country ('' unknown), for diversity metrics; optional.
        kinds: each row's kind ('' unknown), for diversity metrics; optional.
        source: where the data came from, for reports.

    """

    graph: CollaborationGraph
    truth: sp.csr_matrix
    queries: IntArray
    train_until: int
    test_years: tuple[int, int]
    seed: int = 0
    max_consortium: int = 50
    countries: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    source: str = ""

    # -- sizes -----------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Train organisation ids, one per row."""
        return self.graph.ids

    @property
    def train_organisations(self) -> int:
        """How many organisations the train graph holds."""
        return len(self.graph)

    @property
    def train_pairs(self) -> int:
        """How many distinct pairs the train graph links."""
        return self.graph.edge_count

    @property
    def new_pairs(self) -> int:
        """How many new pairs the test years bring."""
        return int(self.truth.nnz // 2)

    def past_partners(self) -> FloatArray:
        """Each row's number of train partners."""
        return self.graph.degree()

    def new_partners(self, row: int) -> IntArray:
        """The rows a query row newly partners with in the test years."""
        start, end = self.truth.indptr[row], self.truth.indptr[row + 1]
        return np.asarray(self.truth.indices[start:end], dtype=np.int64)

    def query_candidates(self) -> IntArray:
        """Rows with at least one new pair (those queries are drawn from), in id order."""
        return np.flatnonzero(np.diff(self.truth.indptr) > 0).astype(np.int64)

    def with_queries(self, count: int, seed: int = 0) -> Split:
        """The same split with another query sample."""
        return replace(self, queries=_sample(self.query_candidates(), count, seed), seed=seed)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_cordis(
        cls,
        directory: str | Path,
        train_until: int,
        test_years: tuple[int, int],
        *,
        queries: int = 2000,
        seed: int = 0,
        max_consortium: int = 50,
    ) -> Split:
        """Build the split from a directory in CORDIS's schema.

        Reads ``project.csv[.gz]`` (``id``, ``startDate``) and ``organization.csv[.gz]``
        (``projectID``, ``organisationID``; ``country`` and ``activityType`` where present)
        as they are: a row whose project is unknown or undated, or whose organisation id
        is empty, is left out. Works on the shared subset and on full official downloads.

        Raises:
            InvalidImportError: a file or a required column is missing or unreadable.

        """
        directory = Path(directory)
        problems: list[ImportProblem] = []
        started = time.perf_counter()
        first, last = test_years
        links = read_cordis_links(directory, problems=problems)
        fatal = [p for p in problems if p.fatal]
        if fatal:
            raise InvalidImportError(fatal)
        if problems:
            logger.warning("%d malformed row(s) left out, e.g. %s", len(problems), problems[0])
        dates = {
            pid: (start.year, start.isoformat())
            for pid, start in links.starts.items()
            if start.year <= train_until or first <= start.year <= last
        }
        members: dict[str, dict[str, None]] = {}
        meta: dict[str, tuple[str, str]] = {}
        for pid, participants in links.members.items():
            if pid not in dates:
                continue
            members[pid] = dict.fromkeys(participants)
            if dates[pid][0] <= train_until:
                for pic, who in participants.items():
                    if pic not in meta:
                        meta[pic] = (who.country, who.kind.value if who.kind else "")
        nodes: set[str] = set()
        rows: list[tuple[str, str, str, str, float, str]] = []
        test_pairs: list[tuple[str, str]] = []
        for pid, group in members.items():
            year, date = dates[pid]
            ids = sorted(group)
            if year <= train_until:
                nodes.update(ids)
            if len(ids) < 2 or len(ids) > max_consortium:
                continue
            if year <= train_until:
                weight = 1.0 / (len(ids) - 1)
                rows.extend(
                    (a, b, "joint_project", date, weight, pid) for a, b in combinations(ids, 2)
                )
            else:
                test_pairs.extend(combinations(ids, 2))
        graph = CollaborationGraph.from_rows(rows, organisations=nodes)
        split = cls._assemble(
            graph,
            test_pairs,
            train_until=train_until,
            test_years=test_years,
            queries=queries,
            seed=seed,
            max_consortium=max_consortium,
            countries=[meta.get(o, ("", ""))[0] for o in graph.ids],
            kinds=[meta.get(o, ("", ""))[1] for o in graph.ids],
            source=f"CORDIS directory {directory}",
        )
        logger.info("split read in %.1f s: %s", time.perf_counter() - started, split.summary())
        return split

    @classmethod
    def from_collaborations(
        cls,
        rows: Iterable[CollaborationRow | Collaboration],
        train_until: int,
        test_years: tuple[int, int],
        *,
        organisations: Iterable[Organisation] | None = None,
        consortium_sizes: Mapping[str, int] | None = None,
        queries: int = 2000,
        seed: int = 0,
        max_consortium: int = 50,
        source: str = "collaborations",
    ) -> Split:
        """Build the split from dated collaborations (the platform's own history).

        A collaboration's ``source_ref`` is its project: the consortium size is
        ``consortium_sizes[ref]`` where given, else the number of distinct organisations
        that the ref's collaborations name; a collaboration without a ref is a project of
        two. Train organisations are the ends of every collaboration up to
        ``train_until`` (large projects included).

        Args:
            rows: collaboration rows ``(a, b, kind, iso_date, weight, source_ref)`` or
                :class:`~matcher.domain.schema.Collaboration` objects.
            train_until: last train year.
            test_years: first and last test year.
            organisations: profiles giving countries and kinds (optional).
            consortium_sizes: participants per ``source_ref`` (optional).
            queries: how many queries to draw.
            seed: the seed of the query sample.
            max_consortium: leave out projects with more participants.
            source: a label for reports.

        """
        first, last = test_years
        train_rows: list[CollaborationRow] = []
        test_rows: list[CollaborationRow] = []
        nodes: set[str] = set()
        members: dict[str, set[str]] = {}
        for raw in rows:
            row = _row(raw)
            year = int(row[3][:4])
            if year <= train_until:
                train_rows.append(row)
                nodes.update(row[:2])
            elif first <= year <= last:
                test_rows.append(row)
            else:
                continue
            if row[5]:
                group = members.setdefault(row[5], set())
                group.update(row[:2])
        sizes = {ref: len(m) for ref, m in members.items()}
        sizes.update(consortium_sizes or {})
        graph = CollaborationGraph.from_rows(
            train_rows, max_consortium=max_consortium, consortium_sizes=sizes
        )
        test_pairs = [
            (r[0], r[1]) for r in test_rows if not r[5] or sizes.get(r[5], 2) <= max_consortium
        ]
        countries: list[str] | None = None
        kinds: list[str] | None = None
        if organisations is not None:
            known = {o.id: o for o in organisations}
            countries = [(known[o].country or "") if o in known else "" for o in graph.ids]
            kinds = [known[o].kind.value if o in known else "" for o in graph.ids]
        return cls._assemble(
            graph,
            test_pairs,
            train_until=train_until,
            test_years=test_years,
            queries=queries,
            seed=seed,
            max_consortium=max_consortium,
            countries=countries,
            kinds=kinds,
            source=source,
        )

    @classmethod
    def from_store(
        cls,
        store: Store,
        train_until: int,
        test_years: tuple[int, int],
        *,
        queries: int = 2000,
        seed: int = 0,
        max_consortium: int = 50,
    ) -> Split:
        """Build the split from a store's collaborations, participations and profiles."""
        sizes: dict[str, int] = {}
        for p in store.participations():
            sizes[p.project_id] = sizes.get(p.project_id, 0) + 1
        return cls.from_collaborations(
            store.collaborations(),
            train_until,
            test_years,
            organisations=store.organisations(),
            consortium_sizes=sizes,
            queries=queries,
            seed=seed,
            max_consortium=max_consortium,
            source=f"store {store.path}",
        )

    @classmethod
    def _assemble(
        cls,
        graph: CollaborationGraph,
        test_pairs: Iterable[tuple[str, str]],
        *,
        train_until: int,
        test_years: tuple[int, int],
        queries: int,
        seed: int,
        max_consortium: int,
        countries: Sequence[str] | None,
        kinds: Sequence[str] | None,
        source: str,
    ) -> Split:
        n = len(graph)
        index = graph.index
        ends = [(index[a], index[b]) for a, b in test_pairs if a in index and b in index]
        pairs = np.array(ends, dtype=np.int64).reshape(-1, 2)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        keys = np.unique(lo * max(n, 1) + hi)
        binary = graph.binary
        train_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(binary.indptr))
        train_keys = train_rows * max(n, 1) + binary.indices
        keys = keys[~np.isin(keys, train_keys)]
        a, b = keys // max(n, 1), keys % max(n, 1)
        truth = sp.csr_matrix(
            (np.ones(2 * len(keys)), (np.concatenate([a, b]), np.concatenate([b, a]))),
            shape=(n, n),
        )
        candidates = np.flatnonzero(np.diff(truth.indptr) > 0).astype(np.int64)
        return cls(
            graph=graph,
            truth=truth,
            queries=_sample(candidates, queries, seed),
            train_until=train_until,
            test_years=test_years,
            seed=seed,
            max_consortium=max_consortium,
            countries=countries,
            kinds=kinds,
            source=source,
        )

    def summary(self) -> str:
        """One line for people."""
        first, last = self.test_years
        return (
            f"train ≤ {self.train_until}, test {first}–{last}: "
            f"{self.train_organisations:,} organisations, {self.train_pairs:,} train pairs, "
            f"{self.new_pairs:,} new pairs, {len(self.queries):,} queries (seed {self.seed})"
        )


def _row(value: CollaborationRow | Collaboration) -> CollaborationRow:
    if isinstance(value, Collaboration):
        return (
            value.organisation_a,
            value.organisation_b,
            str(getattr(value.kind, "value", value.kind)),
            value.date.isoformat(),
            float(value.weight),
            value.source_ref,
        )
    return value


def _sample(candidates: IntArray, count: int, seed: int) -> IntArray:
    """The reference's draw: ``default_rng(seed).choice(sorted rows, size, replace=False)``."""
    if not len(candidates):
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    return np.asarray(chosen, dtype=np.int64)


# -- platform files ----------------------------------------------------------------------


def read_collaborations_file(path: str | Path) -> list[CollaborationRow]:
    """Collaborations from a platform CSV or JSON Lines file, validated, as rows.

    Raises:
        InvalidImportError: any row or the file is invalid.

    """
    from matcher.ingest.platform import read_collaborations

    return [_row(c) for c in read_collaborations(Path(path))]


def read_organisations_file(path: str | Path) -> list[Organisation]:
    """Organisations from a platform CSV or JSON Lines file, validated.

    Raises:
        InvalidImportError: any row or the file is invalid.

    """
    from matcher.ingest.platform import read_organisations

    return read_organisations(Path(path))
