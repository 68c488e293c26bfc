"""A benchmark home at any size whose collaboration graph has CORDIS's degree distribution.

Profiles come from the demo generator (:class:`~matcher.lab.demo.profiles.ProfileMaker`),
so they read like platform profiles; the graph comes from joint projects drawn by a
bipartite configuration model fitted to the real CORDIS graph (Source: CORDIS, European
Commission):

1. every organisation gets a number of consortium projects, drawn from CORDIS's own
   distribution (projects of 2-50 participants, as the evaluation protocol counts them);
   those with none (13 % in CORDIS: only single-beneficiary or >50-partner projects) have
   no partners;
2. the organisations' project slots are dealt into projects whose sizes follow CORDIS's
   size distribution; a slot stays in the organisation's primary ecosystem with
   probability ``homophily / (1 + projects / spread)`` (active organisations spread over
   ecosystems, as large universities do) and goes to a random ecosystem otherwise;
3. every pair in a project becomes a dated ``joint_project`` collaboration weighted
   1 / (participants - 1), as the CORDIS importer weighs them.

``homophily`` and ``spread`` are chosen by :func:`fit_cordis` so that the degree
quantiles at CORDIS's size match the real ones; the fit ships in ``data/cordis_fit.json``
(aggregate counts only; no CORDIS record). The most active organisations are clusters,
the rest SMEs (``cluster_share``, by activity with noise).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import CollaborationKind, Ecosystem, OrganisationKind
from matcher.ingest.cordis import read_cordis
from matcher.ingest.platform import write_collaborations, write_organisations
from matcher.lab.demo.profiles import ProfileMaker
from matcher.lab.demo.vocabulary import load_vocabulary

__all__ = [
    "FIT_PATH",
    "CordisFit",
    "CordisGraph",
    "DegreeSummary",
    "ScaledHome",
    "degrees",
    "fit_cordis",
    "generate_home",
    "load_fit",
    "measure_cordis",
    "save_fit",
    "simulate_degrees",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

FIT_PATH = Path(__file__).resolve().parent / "data" / "cordis_fit.json"
"""The bundled fit (made by ``benchmarks/make_home.py --refit``)."""

MAX_PARTICIPANTS = 50
"""Projects above this size are left out, as in the evaluation protocol."""

_ECOSYSTEMS = list(Ecosystem)


@dataclass(frozen=True)
class DegreeSummary:
    """Quantiles of the number of distinct partners per organisation."""

    organisations: int
    median: float
    mean: float
    p90: float
    p99: float
    p999: float
    max: int
    zero_share: float

    @classmethod
    def of(cls, values: npt.ArrayLike) -> DegreeSummary:
        """Summarise per-organisation partner counts."""
        a = np.asarray(values, dtype=np.float64)
        if a.size == 0:
            raise ValueError("no organisations to summarise")
        q = np.quantile(a, [0.5, 0.9, 0.99, 0.999])
        return cls(
            organisations=int(a.size),
            median=float(q[0]),
            mean=float(a.mean()),
            p90=float(q[1]),
            p99=float(q[2]),
            p999=float(q[3]),
            max=int(a.max()),
            zero_share=float(np.mean(a == 0)),
        )

    def loss(self, target: DegreeSummary) -> float:
        """Mean absolute log-ratio of median, p90, p99, p99.9 and max to ``target``'s."""
        pairs = [
            (self.median, target.median),
            (self.p90, target.p90),
            (self.p99, target.p99),
            (self.p999, target.p999),
            (self.max, target.max),
        ]
        return sum(abs(math.log((a + 1) / (b + 1))) for a, b in pairs) / len(pairs)


@dataclass(frozen=True)
class CordisFit:
    """What the generator draws from, measured on CORDIS, and the degrees it must match."""

    participations: tuple[tuple[int, int], ...]
    """(consortium projects of an organisation, number of organisations), ascending."""
    project_sizes: tuple[tuple[int, int], ...]
    """(participants, number of projects), for 2-50 participants, ascending."""
    homophily: float
    spread: float
    mixing: float
    """Chance that a slot leaving its ecosystem also leaves its community (a choice)."""
    target: DegreeSummary
    """CORDIS's own degree distribution."""
    fitted: DegreeSummary
    """The generator's at CORDIS's size with ``homophily`` and ``spread`` (seed 0)."""
    source: str = "Source: CORDIS, European Commission (Horizon 2020 projects)"

    @property
    def zero_share(self) -> float:
        """Share of organisations in no consortium project: they get no partner."""
        total = sum(n for _, n in self.participations)
        return sum(n for k, n in self.participations if k == 0) / total

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CordisFit:
        """Read :meth:`to_json`'s output."""
        return cls(
            participations=tuple((int(k), int(n)) for k, n in data["participations"]),
            project_sizes=tuple((int(k), int(n)) for k, n in data["project_sizes"]),
            homophily=float(data["homophily"]),
            spread=float(data["spread"]),
            mixing=float(data["mixing"]),
            target=DegreeSummary(**data["target"]),
            fitted=DegreeSummary(**data["fitted"]),
            source=str(data["source"]),
        )


def load_fit(path: Path = FIT_PATH) -> CordisFit:
    """Read a fit written by :func:`save_fit` (the bundled one when omitted).

    Raises:
        ValueError: the file is not a fit (its name and the problem are given).
    """
    try:
        return CordisFit.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a CORDIS fit: {exc!r}") from exc


def save_fit(fit: CordisFit, path: Path = FIT_PATH) -> None:
    """Write ``fit`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = (f" {json.dumps(k)}: {json.dumps(v)}" for k, v in fit.to_json().items())
    path.write_text("{\n" + ",\n".join(fields) + "\n}\n", encoding="utf-8")


# -- graphs -------------------------------------------------------------------------------


def degrees(count: int, projects: Sequence[IntArray]) -> IntArray:
    """Distinct partners of each of ``count`` organisations over ``projects`` (member rows)."""
    if not projects:
        return np.zeros(count, dtype=np.int64)
    lengths = np.fromiter((len(p) for p in projects), dtype=np.int64, count=len(projects))
    rows = np.concatenate(projects)
    cols = np.repeat(np.arange(len(projects)), lengths)
    incidence = sparse.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(count, len(projects))
    )
    together = (incidence @ incidence.T).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    indptr: IntArray = np.asarray(together.indptr, dtype=np.int64)
    return indptr[1:] - indptr[:-1]


@dataclass
class CordisGraph:
    """The CORDIS participation graph, as the generator sees it."""

    participations: IntArray  # per organisation, consortium projects of 2-50 participants
    project_sizes: IntArray  # per consortium project of 2-50 participants
    degrees: IntArray  # per organisation, distinct partners over projects of <= 50


def measure_cordis(directory: Path) -> CordisGraph:
    """Read a CORDIS directory (:func:`~matcher.ingest.cordis.read_cordis`) and measure it.

    Raises:
        InvalidImportError: the directory cannot be read.
        ValueError: it holds no organisations.
    """
    problems: list[ImportProblem] = []
    data = read_cordis(directory, problems=problems)
    fatal = [p for p in problems if p.fatal]
    if fatal:
        raise InvalidImportError(fatal)
    if not data.organisations:
        raise ValueError(f"{directory}: no organisations in the CORDIS files")
    index = {o.id: i for i, o in enumerate(data.organisations)}
    members: dict[str, list[int]] = {}
    for p in data.participations:
        members.setdefault(p.project_id, []).append(index[p.organisation_id])
    kept = [np.unique(np.array(m, dtype=np.int64)) for m in members.values()]
    kept = [m for m in kept if len(m) <= MAX_PARTICIPANTS]
    consortia = [m for m in kept if len(m) >= 2]
    count = len(index)
    participations = np.zeros(count, dtype=np.int64)
    if consortia:
        np.add.at(participations, np.concatenate(consortia), 1)
    return CordisGraph(
        participations=participations,
        project_sizes=np.array([len(m) for m in consortia], dtype=np.int64),
        degrees=degrees(count, consortia),
    )


def _histogram(values: IntArray) -> tuple[tuple[int, int], ...]:
    keys, counts = np.unique(values, return_counts=True)
    return tuple((int(k), int(n)) for k, n in zip(keys, counts, strict=True))


def _draw(rng: np.random.Generator, histogram: Sequence[tuple[int, int]], size: int) -> IntArray:
    values = np.array([k for k, _ in histogram], dtype=np.int64)
    weights = np.array([n for _, n in histogram], dtype=np.float64)
    return rng.choice(values, size=size, p=weights / weights.sum())


def _consortia(
    rng: np.random.Generator,
    activity: IntArray,
    primary: IntArray,
    fit: CordisFit,
    homophily: float,
    spread: float,
    mixing: float,
) -> list[IntArray]:
    """Deal the organisations' project slots into consortia (member rows, deduplicated).

    Organisations are split at random into communities of about CORDIS's size, so that a
    larger home repeats CORDIS's structure instead of thinning it; a slot that leaves its
    ecosystem also leaves its community with probability ``mixing``.
    """
    count = activity.size
    slots = np.repeat(np.arange(count, dtype=np.int64), activity)
    if slots.size < 2:
        return []
    communities = max(1, round(count / fit.target.organisations))
    community = rng.integers(0, communities, size=count)
    keep = homophily / (1.0 + activity[slots] / spread)
    eco = primary[slots]
    share = np.bincount(eco, minlength=len(_ECOSYSTEMS)).astype(np.float64)
    moved = rng.random(slots.size) >= keep
    eco = np.where(moved, rng.choice(len(_ECOSYSTEMS), size=slots.size, p=share / share.sum()), eco)
    away = moved & (rng.random(slots.size) < mixing)
    home = np.where(away, rng.integers(0, communities, size=slots.size), community[slots])
    blocks = home * len(_ECOSYSTEMS) + eco
    slots = slots[np.lexsort((rng.random(slots.size), blocks))]
    mean = sum(k * n for k, n in fit.project_sizes) / sum(n for _, n in fit.project_sizes)
    sizes = _draw(rng, fit.project_sizes, int(slots.size / mean * 1.2) + 16)
    while sizes.sum() < slots.size:  # pragma: no cover - 20 % headroom suffices
        sizes = np.concatenate([sizes, _draw(rng, fit.project_sizes, sizes.size)])
    ends = np.minimum(np.cumsum(sizes), slots.size)
    ends = ends[: int(np.searchsorted(ends, slots.size)) + 1]
    out = []
    for part in np.split(slots, ends[:-1]):
        members = np.unique(part)
        if members.size >= 2:
            out.append(members)
    return out


def simulate_degrees(
    count: int,
    fit: CordisFit,
    *,
    seed: int = 0,
    homophily: float | None = None,
    spread: float | None = None,
    mixing: float | None = None,
) -> IntArray:
    """Partners per organisation in a graph the model draws, without profiles (fast).

    Primary ecosystems are drawn in the demo vocabulary's proportions; ``homophily``,
    ``spread`` and ``mixing`` default to the fit's.
    """
    rng = np.random.default_rng(seed)
    activity = _draw(rng, fit.participations, count)
    words = load_vocabulary().ecosystems
    weights = np.array([words[e].weight for e in _ECOSYSTEMS])
    primary = rng.choice(len(_ECOSYSTEMS), size=count, p=weights / weights.sum())
    h = fit.homophily if homophily is None else homophily
    s = fit.spread if spread is None else spread
    m = fit.mixing if mixing is None else mixing
    return degrees(count, _consortia(rng, activity, primary, fit, h, s, m))


def fit_cordis(
    directory: Path,
    *,
    seed: int = 0,
    homophily: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 1.0),
    spread: Sequence[float] = (3.0, 10.0, 30.0, 100.0, 1000.0),
    mixing: float = 0.1,
    repeats: int = 4,
) -> CordisFit:
    """Measure CORDIS and choose ``homophily`` and ``spread`` on a grid.

    Each setting draws ``repeats`` graphs of CORDIS's size (:func:`simulate_degrees`,
    seeds ``seed``, ``seed + 1``, ...); the one whose degree quantiles are closest to
    CORDIS's on average (:meth:`DegreeSummary.loss`) wins. ``mixing`` is not fitted (at CORDIS's
    size there is one community): it is stored as given.
    """
    graph = measure_cordis(directory)
    target = DegreeSummary.of(graph.degrees)
    base = CordisFit(
        participations=_histogram(graph.participations),
        project_sizes=_histogram(graph.project_sizes),
        homophily=0.0,
        spread=1.0,
        mixing=mixing,
        target=target,
        fitted=target,
    )
    count = graph.participations.size
    best: tuple[float, float, float, DegreeSummary] | None = None
    for h in homophily:
        for s in spread:
            summaries = [
                DegreeSummary.of(
                    simulate_degrees(count, base, seed=seed + k, homophily=h, spread=s)
                )
                for k in range(repeats)
            ]
            loss = sum(x.loss(target) for x in summaries) / len(summaries)
            logger.info("homophily %.2f spread %.0f: loss %.4f", h, s, loss)
            if best is None or loss < best[0]:
                best = (loss, h, s, summaries[0])
    if best is None:
        raise ValueError("empty grid")
    return CordisFit(
        participations=base.participations,
        project_sizes=base.project_sizes,
        homophily=best[1],
        spread=best[2],
        mixing=mixing,
        target=target,
        fitted=best[3],
    )


# -- homes --------------------------------------------------------------------------------


@dataclass
class ScaledHome:
    """Organisations and the consortia their collaborations come from."""

    organisations: list[Organisation]
    projects: list[IntArray]  # member rows into ``organisations``
    dates: list[dt.date]  # one per project
    refs: list[str] = field(default_factory=list)  # one per project

    def collaborations(self) -> Iterator[Collaboration]:
        """Every pair of every project, as a dated, weighted ``joint_project``."""
        ids = [o.id for o in self.organisations]
        for members, date, ref in zip(self.projects, self.dates, self.refs, strict=True):
            names = sorted(ids[i] for i in members)
            weight = min(1.0, 1.0 / (len(names) - 1))
            for x, a in enumerate(names):
                for b in names[x + 1 :]:
                    yield Collaboration(
                        organisation_a=a,
                        organisation_b=b,
                        kind=CollaborationKind.JOINT_PROJECT,
                        date=date,
                        weight=weight,
                        source_ref=ref,
                    )

    def pairs(self) -> int:
        """How many collaborations :meth:`collaborations` yields."""
        return sum(len(m) * (len(m) - 1) // 2 for m in self.projects)

    def degrees(self) -> IntArray:
        """Distinct partners per organisation."""
        return degrees(len(self.organisations), self.projects)

    def sample(self, count: int, seed: int = 0) -> ScaledHome:
        """``count`` organisations at random, with the projects' pairs among them."""
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(self.organisations), size=count, replace=False))
        where = np.full(len(self.organisations), -1, dtype=np.int64)
        where[chosen] = np.arange(count)
        out = ScaledHome([self.organisations[i] for i in chosen], [], [], [])
        for members, date, ref in zip(self.projects, self.dates, self.refs, strict=True):
            kept = where[members]
            kept = kept[kept >= 0]
            if kept.size >= 2:
                out.projects.append(kept)
                out.dates.append(date)
                out.refs.append(ref)
        return out

    def write(self, directory: Path) -> tuple[int, int]:
        """Write ``organisations.csv`` and ``collaborations.csv`` (the platform format)."""
        orgs = write_organisations(self.organisations, directory / "organisations.csv")
        collabs = write_collaborations(self.collaborations(), directory / "collaborations.csv")
        return orgs, collabs


def generate_home(
    organisations: int,
    seed: int = 0,
    *,
    fit: CordisFit | None = None,
    cluster_share: float = 1 / 3,
    start_year: int = 2015,
    end_year: int = 2026,
) -> ScaledHome:
    """Generate a deterministic home of ``organisations`` CORDIS-shaped organisations.

    Args:
        organisations: how many.
        seed: the same seed and arguments give the same home.
        fit: what to draw from; the bundled CORDIS fit when omitted.
        cluster_share: share of cluster organisations (the most active, with noise).
        start_year: first year of project dates (from 1 January).
        end_year: last year of project dates (to 30 June); profiles dated before it.

    Raises:
        ValueError: a count, share or year range is out of range.
    """
    if organisations < 0:
        raise ValueError("organisations must be non-negative")
    if not 0.0 <= cluster_share <= 1.0:
        raise ValueError("cluster_share must be between 0 and 1")
    if not 1950 < start_year <= end_year:
        raise ValueError("need 1950 < start_year <= end_year")
    fit = fit or load_fit()
    rng = np.random.default_rng(seed)
    activity = _draw(rng, fit.participations, organisations)
    # Clusters: the most active organisations, give or take a factor of e.
    order = np.argsort(-(np.log1p(activity) + rng.normal(0.0, 1.0, organisations)), kind="stable")
    is_cluster = np.zeros(organisations, dtype=bool)
    is_cluster[order[: round(cluster_share * organisations)]] = True

    maker = ProfileMaker(random.Random(seed), end_year)
    seen: set[str] = set()
    orgs: list[Organisation] = []
    counters = {OrganisationKind.CLUSTER: 0, OrganisationKind.SME: 0}
    for i in range(organisations):
        kind = OrganisationKind.CLUSTER if is_cluster[i] else OrganisationKind.SME
        counters[kind] += 1
        prefix = "CL" if kind is OrganisationKind.CLUSTER else "SME"
        org, _ = maker.organisation(f"{prefix}-{counters[kind]:06d}", kind, seen)
        orgs.append(org)
    position = {e: i for i, e in enumerate(_ECOSYSTEMS)}
    primary = np.array([position[o.ecosystems[0]] for o in orgs], dtype=np.int64)

    projects = _consortia(rng, activity, primary, fit, fit.homophily, fit.spread, fit.mixing)
    projects = [projects[i] for i in rng.permutation(len(projects))]  # ecosystems interleaved
    start = dt.date(start_year, 1, 1)
    span = (dt.date(end_year, 6, 30) - start).days
    offsets = np.sort(np.minimum(span, (span * rng.random(len(projects)) ** 0.8).astype(int)))
    dates = [start + dt.timedelta(days=int(d)) for d in offsets]
    refs = [f"SCALE-P{n:06d}" for n in range(1, len(projects) + 1)]
    logger.debug("generated %d organisations, %d projects", organisations, len(projects))
    return ScaledHome(orgs, projects, dates, refs)
