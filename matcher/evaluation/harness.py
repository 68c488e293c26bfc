"""Offline evaluation: predict the next years' new partnerships from the past.

The protocol of ``../shared/data/README.md``, for any data in CORDIS's schema or the
platform's dated collaborations:

- train graph: pairs of organisations in the same project (``source_ref``) starting in a
  year up to ``train_until``; projects with more than ``max_consortium`` (50) participants
  are left out, though their members still count as train organisations;
- a new pair: two train organisations, not linked in the train graph, together in a
  project starting in the test years (same size rule);
- queries: ``N`` organisations (2,000) with a new pair, drawn with
  ``np.random.default_rng(seed).choice(rows, N, replace=False)`` from their rows in id
  order, as the reference implementation draws them;
- for each query every other train organisation is ranked, except those it is already
  linked to; metrics over its new partners, averaged over queries.

A method is a :data:`Scorer`: a function from an array of query rows to a
``(len(rows), n)`` array of scores (higher is better), so methods can score a batch of
queries with one sparse product. Methods are registered by name with a factory that makes
the scorer for a split (:func:`register_method`); the built-ins are ``random``,
``popularity``, ``common_neighbours``, ``adamic_adar`` and ``resource_allocation``.
Ties are broken at random (tiny seeded noise), never by row order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.errors import ImportProblem, InvalidImportError, MatcherError
from matcher.domain.schema import Collaboration, Organisation
from matcher.graph import CollaborationGraph, FloatArray, IntArray
from matcher.ingest.cordis import read_cordis_links

if TYPE_CHECKING:
    from matcher.store import CollaborationRow, Store

__all__ = [
    "DEGREE_BUCKETS",
    "EvaluationReport",
    "MethodResult",
    "RankMetrics",
    "Scorer",
    "ScorerFactory",
    "Split",
    "UnknownMethodError",
    "evaluate",
    "gini",
    "method_description",
    "method_names",
    "parse_years",
    "rank_metrics",
    "read_collaborations_file",
    "read_organisations_file",
    "register_method",
    "scorers_for",
]

logger = logging.getLogger(__name__)

Scorer = Callable[[IntArray], FloatArray]
"""Scores of every train organisation for a batch of query rows: ``(len(rows), n)``."""

ScorerFactory = Callable[["Split"], Scorer]
"""Makes a method's scorer for a split (fit on its train graph, never on its truth)."""

DEGREE_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0-2", 0, 2),
    ("3-10", 3, 10),
    (">10", 11, math.inf),
)
"""Query groups by past-partner count: label, lowest, highest (inclusive)."""

TIE_BREAK = 1e-9
"""Scale of the uniform noise added to every score so that ties fall at random."""


class UnknownMethodError(MatcherError, ValueError):
    """A method name that no one registered."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(
            f"unknown method(s): {', '.join(self.unknown)}; known: {', '.join(self.known)}"
        )


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


# -- methods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Method:
    factory: ScorerFactory
    description: str


_METHODS: dict[str, _Method] = {}


@overload
def register_method(
    name: str, factory: None = None, *, description: str = "", replace: bool = False
) -> Callable[[ScorerFactory], ScorerFactory]: ...


@overload
def register_method(
    name: str, factory: ScorerFactory, *, description: str = "", replace: bool = False
) -> ScorerFactory: ...


def register_method(
    name: str,
    factory: ScorerFactory | None = None,
    *,
    description: str = "",
    replace: bool = False,
) -> ScorerFactory | Callable[[ScorerFactory], ScorerFactory]:
    """Register a method's scorer factory by name; usable as a decorator.

    Example::

        @register_method("text", description="cosine of profile vectors")
        def _text(split: Split) -> Scorer: ...

    Raises:
        ValueError: the name is taken (unless ``replace``).

    """

    def add(f: ScorerFactory) -> ScorerFactory:
        if name in _METHODS and not replace:
            raise ValueError(f"method {name!r} is already registered")
        _METHODS[name] = _Method(f, description)
        return f

    return add if factory is None else add(factory)


def method_names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_METHODS)


def method_description(name: str) -> str:
    """What a registered method does."""
    return _METHODS[name].description


def scorers_for(split: Split, names: Iterable[str]) -> dict[str, Scorer]:
    """Make the scorers of registered methods for a split.

    Raises:
        UnknownMethodError: a name is not registered (the message lists the known ones).

    """
    names = list(names)
    unknown = [n for n in names if n not in _METHODS]
    if unknown:
        raise UnknownMethodError(unknown, method_names())
    return {n: _METHODS[n].factory(split) for n in names}


@register_method("random", description="uniform random scores (seeded)")
def _random(split: Split) -> Scorer:
    rng = np.random.default_rng([split.seed, 0x5EED])
    n = split.train_organisations

    def score(rows: IntArray) -> FloatArray:
        return rng.random((len(rows), n))

    return score


@register_method("popularity", description="the candidate's number of past partners")
def _popularity(split: Split) -> Scorer:
    degree = split.graph.degree()

    def score(rows: IntArray) -> FloatArray:
        return np.broadcast_to(degree, (len(rows), len(degree)))

    return score


@register_method("common_neighbours", description="partners in common")
def _common_neighbours(split: Split) -> Scorer:
    return split.graph.common_neighbours


@register_method("adamic_adar", description="partners in common, weighted 1/log(degree)")
def _adamic_adar(split: Split) -> Scorer:
    return split.graph.adamic_adar


@register_method("resource_allocation", description="partners in common, weighted 1/degree")
def _resource_allocation(split: Split) -> Scorer:
    return split.graph.resource_allocation


# -- metrics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankMetrics:
    """Per-query metrics of one batch of rankings."""

    top: IntArray
    """The top-k rows of each query, best first."""
    valid: npt.NDArray[np.bool_]
    """Which entries of ``top`` had a finite score (were recommended at all)."""
    hits: FloatArray
    recall: FloatArray
    precision: FloatArray
    ndcg: FloatArray
    reciprocal_rank: FloatArray


def rank_metrics(scores: FloatArray, relevant: npt.NDArray[np.bool_], k: int) -> RankMetrics:
    """Hits, recall, precision and nDCG at k, and the reciprocal rank, per row.

    Excluded candidates must already score ``-inf``; ties must already be broken (ties
    fall in index order here). nDCG's ideal DCG runs over ``min(|truth|, k)`` positions;
    the reciprocal rank is that of the best-ranked relevant item over the full ranking.
    Rows without any relevant item score 0.

    Args:
        scores: ``(b, n)`` scores, higher first.
        relevant: ``(b, n)`` booleans, the new partners.
        k: list length.

    """
    b, n = scores.shape
    kk = min(k, n)
    part = (
        np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        if kk < n
        else np.tile(np.arange(n), (b, 1))
    )
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1).astype(np.int64)
    valid = np.isfinite(np.take_along_axis(values, order, axis=1))
    rel = np.take_along_axis(relevant, top, axis=1) & valid
    n_true = relevant.sum(axis=1)
    found = rel.sum(axis=1).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = rel.astype(np.float64) @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal[np.minimum(n_true, k)]
    has = n_true > 0
    best = np.where(relevant, scores, -np.inf).max(axis=1)
    rank = (scores > best[:, None]).sum(axis=1) + 1
    return RankMetrics(
        top=top,
        valid=valid,
        hits=(found > 0).astype(np.float64),
        recall=np.divide(found, n_true, out=np.zeros(b), where=has),
        precision=found / k,
        ndcg=np.divide(dcg, idcg, out=np.zeros(b), where=idcg > 0),
        reciprocal_rank=np.where(has, 1.0 / rank, 0.0),
    )


def gini(counts: npt.ArrayLike) -> float:
    """Gini coefficient of non-negative counts: 0 all equal, → 1 all on one."""
    x = np.sort(np.asarray(counts, dtype=np.float64).ravel())
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return 0.0
    i = np.arange(1, len(x) + 1)
    return float((2.0 * (i * x).sum()) / (len(x) * total) - (len(x) + 1) / len(x))


def _distinct(codes: IntArray) -> FloatArray:
    """Distinct non-negative values per row."""
    s = np.sort(codes, axis=1)
    fresh = (s[:, 1:] != s[:, :-1]) & (s[:, 1:] >= 0)
    return np.asarray(fresh.sum(axis=1) + (s[:, 0] >= 0), dtype=np.float64)


def _codes(values: Sequence[str] | None) -> IntArray | None:
    if values is None:
        return None
    names = {v: i for i, v in enumerate(sorted({v for v in values if v}))}
    return np.array([names.get(v, -1) for v in values], dtype=np.int64)


# -- the report --------------------------------------------------------------------------


@dataclass
class MethodResult:
    """One method's figures."""

    name: str
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    by_degree: dict[str, dict[str, float]]
    seconds: float
    per_query: dict[str, FloatArray] = field(repr=False)
    exposure: IntArray = field(repr=False)


@dataclass
class EvaluationReport:
    """Methods side by side on one split."""

    methods: dict[str, MethodResult]
    queries: int
    train_organisations: int
    train_pairs: int
    new_pairs: int
    train_until: int
    test_years: tuple[int, int]
    seed: int
    k: int
    bootstrap: int
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""

        def r(x: float) -> float:
            return round(float(x), 6)

        return {
            "methods": {
                name: {
                    **{m: r(v) for m, v in res.metrics.items()},
                    "seconds": round(res.seconds, 3),
                    "ci": {m: [r(lo), r(hi)] for m, (lo, hi) in res.ci.items()},
                    "by_degree": {
                        b: {m: (int(v) if m == "queries" else r(v)) for m, v in ms.items()}
                        for b, ms in res.by_degree.items()
                    },
                }
                for name, res in self.methods.items()
            },
            "queries": self.queries,
            "train_organisations": self.train_organisations,
            "train_pairs": self.train_pairs,
            "new_pairs": self.new_pairs,
            "train_until": self.train_until,
            "test_years": list(self.test_years),
            "seed": self.seed,
            "k": self.k,
            "bootstrap": self.bootstrap,
            "source": self.source,
        }

    def to_text(self) -> str:
        """The comparison as plain-text tables."""
        k = self.k
        first, last = self.test_years
        lines = [
            f"train ≤ {self.train_until}, test {first}–{last}: "
            f"{self.train_organisations:,} train organisations, {self.train_pairs:,} train "
            f"pairs, {self.new_pairs:,} new pairs, {self.queries:,} queries (seed {self.seed})",
            f"k = {k}; "
            + (
                f"95% CIs from {self.bootstrap} bootstrap resamples of the queries"
                if self.bootstrap
                else "no intervals (no bootstrap resamples)"
            ),
            "",
        ]
        cols = [f"hits@{k}", f"recall@{k}", f"precision@{k}", f"ndcg@{k}", "mrr"]
        extra = ["coverage", "gini", f"countries@{k}", f"kinds@{k}"]
        interval = [f"ndcg@{k} 95% CI"] if self.bootstrap else []
        headers = ["method", *cols, *interval, *extra, "s"]
        rows = []
        for name, res in self.methods.items():
            lo, hi = res.ci.get(f"ndcg@{k}", (math.nan, math.nan))
            rows.append(
                [
                    name,
                    *(f"{res.metrics[c]:.3f}" for c in cols),
                    *([f"[{lo:.3f}, {hi:.3f}]"] if self.bootstrap else []),
                    *(f"{res.metrics[c]:.3f}" if c in res.metrics else "-" for c in extra),
                    f"{res.seconds:.1f}",
                ]
            )
        lines.append(_table(rows, headers))
        if self.methods:
            first_result = next(iter(self.methods.values()))
            buckets = list(first_result.by_degree)
            counts = [int(first_result.by_degree[b]["queries"]) for b in buckets]
            lines += ["", f"nDCG@{k} by the query's past partners:"]
            headers = ["method", *(f"{b} ({c})" for b, c in zip(buckets, counts, strict=True))]
            rows = [
                [name, *(f"{res.by_degree[b][f'ndcg@{k}']:.3f}" for b in buckets)]
                for name, res in self.methods.items()
            ]
            lines.append(_table(rows, headers))
        if "CORDIS" in self.source:
            lines += ["", "Source: CORDIS, European Commission."]
        return "\n".join(lines)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in out)


# -- evaluate ----------------------------------------------------------------------------


def evaluate(
    split: Split,
    methods: Mapping[str, Scorer] | Iterable[str],
    *,
    k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 200,
) -> EvaluationReport:
    """Rank every train organisation for each query with each method; measure.

    Args:
        split: the split.
        methods: scorers by name, or names of registered methods.
        k: list length.
        bootstrap: resamples of the queries for the 95% CIs (0: none).
        seed: seeds the tie-breaking noise (the same for every method) and the bootstrap.
        batch_size: queries scored at once.

    Raises:
        UnknownMethodError: a name is not registered.
        ValueError: a scorer returned an array of the wrong shape.

    """
    scorers = dict(methods) if isinstance(methods, Mapping) else scorers_for(split, methods)
    queries = np.asarray(split.queries, dtype=np.int64)
    nq, n = len(queries), split.train_organisations
    past = split.past_partners()[queries]
    countries, kinds = _codes(split.countries), _codes(split.kinds)
    resamples = (
        np.random.default_rng([seed, 0xB007]).integers(0, nq, size=(bootstrap, nq))
        if bootstrap and nq
        else None
    )
    binary = split.graph.binary
    results: dict[str, MethodResult] = {}
    for name, scorer in scorers.items():
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        per: dict[str, FloatArray] = {
            m: np.zeros(nq) for m in ("hits", "recall", "precision", "ndcg", "rr")
        }
        if countries is not None:
            per["countries"] = np.zeros(nq)
        if kinds is not None:
            per["kinds"] = np.zeros(nq)
        exposure = np.zeros(n, dtype=np.int64)
        for start in range(0, nq, batch_size):
            rows = queries[start : start + batch_size]
            scores = np.array(scorer(rows), dtype=np.float64)
            if scores.shape != (len(rows), n):
                raise ValueError(
                    f"method {name!r} returned scores of shape {scores.shape}, "
                    f"expected {(len(rows), n)}"
                )
            scores[np.isnan(scores)] = -np.inf
            scores[np.arange(len(rows)), rows] = -np.inf
            linked = binary[rows]
            scores[
                np.repeat(np.arange(len(rows)), np.diff(linked.indptr)), linked.indices
            ] = -np.inf
            scores += rng.random(scores.shape) * TIE_BREAK
            relevant = split.truth[rows].toarray() > 0
            got = rank_metrics(scores, relevant, k)
            chunk = slice(start, start + len(rows))
            per["hits"][chunk] = got.hits
            per["recall"][chunk] = got.recall
            per["precision"][chunk] = got.precision
            per["ndcg"][chunk] = got.ndcg
            per["rr"][chunk] = got.reciprocal_rank
            exposure += np.bincount(got.top[got.valid], minlength=n)
            for key, codes in (("countries", countries), ("kinds", kinds)):
                if codes is not None:
                    per[key][chunk] = _distinct(np.where(got.valid, codes[got.top], -1))
        seconds = time.perf_counter() - started
        names = {
            "hits": f"hits@{k}",
            "recall": f"recall@{k}",
            "precision": f"precision@{k}",
            "ndcg": f"ndcg@{k}",
            "rr": "mrr",
            "countries": f"countries@{k}",
            "kinds": f"kinds@{k}",
        }
        metrics = {names[m]: float(v.mean()) if nq else 0.0 for m, v in per.items()}
        metrics["coverage"] = float((exposure > 0).mean()) if n else 0.0
        metrics["gini"] = gini(exposure)
        ci: dict[str, tuple[float, float]] = {}
        if resamples is not None:
            for m, v in per.items():
                means = v[resamples].mean(axis=1)
                lo, hi = np.percentile(means, [2.5, 97.5])
                ci[names[m]] = (float(lo), float(hi))
        by_degree: dict[str, dict[str, float]] = {}
        for label, low, high in DEGREE_BUCKETS:
            mask = (past >= low) & (past <= high)
            group: dict[str, float] = {"queries": float(mask.sum())}
            for m in ("hits", "recall", "precision", "ndcg", "rr"):
                group[names[m]] = float(per[m][mask].mean()) if mask.any() else 0.0
            by_degree[label] = group
        results[name] = MethodResult(
            name=name,
            metrics=metrics,
            ci=ci,
            by_degree=by_degree,
            seconds=seconds,
            per_query={names[m]: v for m, v in per.items()},
            exposure=exposure,
        )
        logger.info(
            "%s: nDCG@%d %.3f, MRR %.3f (%.1f s)",
            name,
            k,
            metrics[f"ndcg@{k}"],
            metrics["mrr"],
            seconds,
        )
    return EvaluationReport(
        methods=results,
        queries=nq,
        train_organisations=n,
        train_pairs=split.train_pairs,
        new_pairs=split.new_pairs,
        train_until=split.train_until,
        test_years=split.test_years,
        seed=split.seed,
        k=k,
        bootstrap=bootstrap,
        source=split.source,
    )
