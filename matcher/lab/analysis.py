"""Helpers for the analyst notebooks: plain data and matplotlib figures, no logic in cells.

Every function returns plain data (a :class:`Table`, a dataclass of numpy arrays, a list
of tuples) or a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state; a notebook shows it when it is a cell's value). Figures need matplotlib (the
``notebooks`` extra); the other helpers do not.

- :func:`demo_home` builds, once, the small demo home the notebooks share;
- the data: :func:`count_table`, :func:`plot_counts`, :func:`degree_distribution`,
  :func:`plot_degree_distribution`;
- the embedding space: :func:`embedding_map`, :func:`plot_embedding_map`,
  :func:`neighbour_agreement`;
- graph signals: :func:`typical_organisation`, :func:`graph_signals`,
  :func:`graph_signal_table`, :func:`signal_correlations`, :func:`plot_graph_signals`;
- ranking quality: :func:`demo_split`, :func:`as_of_table`, :func:`profile_scorers`,
  :func:`report_table`, :func:`plot_metric`, :func:`plot_by_degree`,
  :func:`plot_ablation`, :func:`cordis_comparison`;
- suggestions: :func:`profile_table`, :func:`suggestions_table`, :func:`reasons_table`,
  :func:`plot_reasons`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from embeddings import Encoder
from embeddings.artefact import current_folder
from matcher.app.matcher import MAX_CONSORTIUM, Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Organisation, Suggestion
from matcher.evaluation.harness import (
    EvaluationReport,
    Scorer,
    Split,
    evaluate,
    read_collaborations_file,
    read_organisations_file,
    scorers_for,
)
from matcher.graph import CollaborationGraph, FloatArray, IntArray
from matcher.ingest import write_collaborations, write_organisations
from matcher.planner import (
    Participant,
    Plan,
    Problem,
    best_bound,
    greedy_seating,
    random_seating,
)
from matcher.ranking.rank import HAND_BIAS, HAND_WEIGHTS, hand_ranker, score_all
from matcher.ranking.signals import COUNT_SIGNALS, SIGNALS, ProfileTable
from models import LinearRanker

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEMO_MARKER",
    "EmbeddingMap",
    "GraphSignals",
    "Table",
    "as_of_table",
    "cordis_comparison",
    "count_table",
    "degree_distribution",
    "demo_files",
    "demo_home",
    "demo_split",
    "embedding_map",
    "graph_signal_table",
    "graph_signals",
    "neighbour_agreement",
    "plan_table",
    "plot_ablation",
    "plot_by_degree",
    "plot_counts",
    "plot_degree_distribution",
    "plot_embedding_map",
    "plot_graph_signals",
    "plot_metric",
    "plot_reasons",
    "plot_seatings",
    "profile_scorers",
    "profile_table",
    "reasons_table",
    "report_table",
    "seating_comparison",
    "signal_correlations",
    "suggestions_table",
    "typical_organisation",
    "workshop_participants",
]

DEMO_MARKER = "demo-home.json"
"""File in a home built by :func:`demo_home`, naming the generator's arguments."""

Cell = str | int | float


# -- tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Rows under named columns: shown as HTML in a notebook, as text by ``str``."""

    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    title: str = ""

    def as_dicts(self) -> list[dict[str, Cell]]:
        """The rows as dictionaries keyed by column."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[Cell]:
        """The values of one column."""
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    @staticmethod
    def _cell(value: Cell) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    def __str__(self) -> str:
        cells = [list(self.columns), *([self._cell(v) for v in r] for r in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(self._cell(v))}</td>" for v in r) + "</tr>"
            for r in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(width: float = 8.0, height: float = 5.0) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# -- the demo home -----------------------------------------------------------------------


def demo_files(home: Path) -> tuple[Path, Path]:
    """The organisations and collaborations files :func:`demo_home` wrote under ``home``."""
    folder = Path(home) / "demo"
    return folder / "organisations.csv", folder / "collaborations.csv"


def demo_home(
    path: Path | str | None = None,
    *,
    seed: int = 2026,
    clusters: int = 60,
    smes: int = 120,
    encoder: Encoder | None = None,
) -> Path:
    """A home holding a small demo data set, imported and built (reused when it is).

    The folder is ``path``, else ``$MATCHER_HOME``, else a new temporary folder. The demo
    files go to ``<home>/demo/`` in the platform's format; the build uses the real model.
    A second call with the same arguments on a built home does nothing (the model is not
    even loaded).

    Args:
        path: the home folder.
        seed: the generator's seed.
        clusters: how many clusters the generator makes.
        smes: how many SMEs.
        encoder: an encoder already loaded (default: the one the settings name).

    Raises:
        ValueError: the folder holds other data, or a demo made with other arguments.

    """
    from matcher.lab.demo import generate_demo

    chosen = path if path is not None else os.environ.get("MATCHER_HOME")
    home = (
        Path(chosen).expanduser() if chosen else Path(tempfile.mkdtemp(prefix="matcher-demo-home-"))
    )
    wanted = {"seed": seed, "clusters": clusters, "smes": smes}
    marker = home / DEMO_MARKER
    if marker.exists():
        found = json.loads(marker.read_text(encoding="utf-8"))
        if found != wanted:
            raise ValueError(f"{home} holds a demo made with {found}, not {wanted}")
        if current_folder(home) is not None:
            return home
    home.mkdir(parents=True, exist_ok=True)
    with Matcher(Settings(home=home), encoder=encoder) as matcher:
        if not marker.exists() and matcher.store.count_organisations():
            raise ValueError(
                f"{home} already holds other data: give an empty folder for the demo home"
            )
        data = generate_demo(seed=seed, clusters=clusters, smes=smes)
        organisations, collaborations = demo_files(home)
        organisations.parent.mkdir(parents=True, exist_ok=True)
        write_organisations(data.organisations, organisations)
        write_collaborations(data.collaborations, collaborations)
        matcher.import_platform(organisations=organisations, collaborations=collaborations)
        marker.write_text(json.dumps(wanted), encoding="utf-8")
        matcher.build(show_progress=False)
    return home


# -- the data ----------------------------------------------------------------------------


def count_table(
    counts: Mapping[str, int], label: str, *, top: int | None = None, title: str = ""
) -> Table:
    """Counts as a table, largest first, with each value's share; the rest as 'other'.

    Args:
        counts: value → count (e.g. one of ``Store.stats()``'s groups).
        label: the name of the value column.
        top: keep this many rows and sum the rest into one.
        title: the table's caption.

    """
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(counts.values()) or 1
    kept = ordered if top is None else ordered[:top]
    rest = sum(n for _, n in ordered[len(kept) :])
    rows: list[tuple[Cell, ...]] = [(k or "(none)", n, round(n / total, 3)) for k, n in kept]
    if rest:
        rows.append((f"other ({len(ordered) - len(kept)})", rest, round(rest / total, 3)))
    return Table((label, "count", "share"), rows, title)


def plot_counts(
    counts: Mapping[str, int], *, title: str, xlabel: str, ylabel: str, top: int | None = None
) -> Figure:
    """A horizontal bar chart of counts, largest on top."""
    table = count_table(counts, ylabel, top=top)
    labels = [str(v) for v in table.column(ylabel)]
    values = [float(v) for v in table.column("count")]
    fig = _figure(8.0, max(2.5, 0.32 * len(labels) + 1.2))
    ax = fig.add_subplot()
    ax.barh(labels[::-1], values[::-1], color="tab:blue")
    for y, v in enumerate(values[::-1]):
        ax.annotate(f"{v:.0f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.margins(x=0.1)
    return fig


def degree_distribution(graph: CollaborationGraph) -> list[tuple[int, int]]:
    """``(degree, organisations with that many partners)``, by degree; degree 0 included."""
    counts = Counter(int(d) for d in graph.degree())
    return sorted(counts.items())


def plot_degree_distribution(graph: CollaborationGraph, *, title: str = "") -> Figure:
    """The degree distribution on log-log axes, with its complementary cumulative form.

    Organisations without partners cannot sit on a log axis: their number is in the title.
    """
    dist = [(d, n) for d, n in degree_distribution(graph) if d > 0]
    isolated = sum(n for d, n in degree_distribution(graph) if d == 0)
    degrees = np.array([d for d, _ in dist], np.float64)
    counts = np.array([n for _, n in dist], np.float64)
    fig = _figure(10.0, 4.2)
    left, right = fig.subplots(1, 2)
    left.loglog(degrees, counts, "o", color="tab:blue")
    left.set_title("organisations per degree")
    left.set_xlabel("partners (degree, log)")
    left.set_ylabel("organisations (log)")
    ccdf = counts[::-1].cumsum()[::-1] / max(counts.sum(), 1.0)
    right.loglog(degrees, ccdf, "-o", color="tab:orange", markersize=3)
    right.set_title("share with at least this degree")
    right.set_xlabel("partners (degree, log)")
    right.set_ylabel("P(degree ≥ k) (log)")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        title
        or f"Degree distribution: {len(graph)} organisations, {graph.edge_count} partner "
        f"pairs, {isolated} without partners"
    )
    return fig


# -- the embedding space -----------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingMap:
    """Organisations placed in two dimensions by a projection of their text vectors."""

    ids: list[str]
    names: list[str]
    kinds: list[str]
    ecosystems: list[str]
    """Each organisation's primary (first listed) ecosystem, 'none' where it has none."""
    xy: npt.NDArray[np.float64]
    explained: tuple[float, float]
    """Share of the vectors' variance along each axis."""
    method: str


def embedding_map(table: ProfileTable, *, method: str = "pca", seed: int = 0) -> EmbeddingMap:
    """Project the organisations' text vectors to 2-D (organisations without text left out).

    Args:
        table: the profile table (``Matcher.state().table``).
        method: ``pca`` (centred) or ``svd`` (truncated SVD, uncentred).
        seed: the SVD's random state.

    Raises:
        ValueError: an unknown method, or fewer than 3 organisations with text.

    """
    from sklearn.decomposition import PCA, TruncatedSVD

    keep = np.flatnonzero(np.linalg.norm(table.text, axis=1) > 0)
    if len(keep) < 3:
        raise ValueError("need at least 3 organisations with text to draw a map")
    vectors = table.text[keep].astype(np.float64)
    if method == "pca":
        model = PCA(n_components=2, random_state=seed)
    elif method == "svd":
        model = TruncatedSVD(n_components=2, random_state=seed)
    else:
        raise ValueError(f"unknown method {method!r}: use 'pca' or 'svd'")
    xy = np.asarray(model.fit_transform(vectors), np.float64)
    ratio = [float(r) for r in model.explained_variance_ratio_]
    orgs = [table.organisations[int(r)] for r in keep]
    return EmbeddingMap(
        ids=[o.id for o in orgs],
        names=[o.name for o in orgs],
        kinds=[o.kind.value for o in orgs],
        ecosystems=[o.ecosystems[0].value if o.ecosystems else "none" for o in orgs],
        xy=xy,
        explained=(ratio[0], ratio[1]),
        method=method,
    )


def plot_embedding_map(emap: EmbeddingMap, *, title: str = "") -> Figure:
    """The map as a scatter plot coloured by primary ecosystem (o clusters, ^ others)."""
    from matplotlib import colormaps

    groups = sorted(set(emap.ecosystems), key=lambda e: (-emap.ecosystems.count(e), e))
    palette = colormaps["tab20"]
    fig = _figure(10.0, 7.0)
    ax = fig.add_subplot()
    eco = np.array(emap.ecosystems)
    cluster = np.array([k == "cluster" for k in emap.kinds])
    for i, name in enumerate(groups):
        label: str | None = f"{name} ({int((eco == name).sum())})"
        for mask, marker in ((cluster, "o"), (~cluster, "^")):
            sel = (eco == name) & mask
            if not sel.any():
                continue
            ax.scatter(
                emap.xy[sel, 0],
                emap.xy[sel, 1],
                color=palette((2 * i) % 20 + (i // 10) % 2),
                marker=marker,
                s=36,
                alpha=0.8,
                edgecolors="white",
                linewidths=0.4,
                label=label,
            )
            label = None
    axis = "PC" if emap.method == "pca" else "SVD "
    ax.set_xlabel(f"{axis}1 ({emap.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"{axis}2 ({emap.explained[1]:.0%} of variance)")
    ax.set_title(
        title
        or f"Profile embeddings of {len(emap.ids)} organisations ({emap.method.upper()})\n"
        "colour: primary ecosystem; o cluster, ^ other kinds"
    )
    ax.legend(title="primary ecosystem", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, alpha=0.3)
    return fig


def neighbour_agreement(table: ProfileTable, *, k: int = 5) -> Table:
    """How often an organisation's nearest text neighbours share its primary ecosystem.

    Per primary ecosystem: organisations, the share of their ``k`` nearest neighbours
    (cosine of text vectors, itself excluded) with the same primary ecosystem, and that
    share at random (the ecosystem's frequency among the others).
    """
    keep = np.flatnonzero(np.linalg.norm(table.text, axis=1) > 0)
    primary = np.array(
        [
            o.ecosystems[0].value if o.ecosystems else "none"
            for o in (table.organisations[int(r)] for r in keep)
        ]
    )
    vectors = table.text[keep].astype(np.float64)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    kk = min(k, len(keep) - 1)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :kk]
    same = (primary[nearest] == primary[:, None]).mean(axis=1)
    rows: list[tuple[Cell, ...]] = []
    for name in sorted(set(primary.tolist()), key=lambda e: (-(primary == e).sum(), e)):
        mask = primary == name
        count = int(mask.sum())
        rows.append(
            (
                name,
                count,
                round(float(same[mask].mean()), 3),
                round((count - 1) / max(len(keep) - 1, 1), 3),
            )
        )
    rows.append(
        ("all", len(keep), round(float(same.mean()), 3), round(_random_agreement(primary), 3))
    )
    return Table(
        ("primary ecosystem", "organisations", f"same ecosystem among {kk} nearest", "at random"),
        rows,
        f"Do the {kk} nearest profiles share the primary ecosystem?",
    )


def _random_agreement(labels: npt.NDArray[np.str_]) -> float:
    n = len(labels)
    if n < 2:
        return 0.0
    counts = np.array(list(Counter(labels.tolist()).values()), np.float64)
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


# -- graph signals -----------------------------------------------------------------------


def typical_organisation(
    graph: CollaborationGraph, *, min_degree: int = 3, prefix: str = ""
) -> str:
    """The organisation of median degree among those with at least ``min_degree`` partners.

    Deterministic (ties by id); ``prefix`` restricts the choice to ids starting with it
    (e.g. ``'CL-'`` for the demo's clusters).

    Raises:
        ValueError: no organisation qualifies.

    """
    degree = graph.degree()
    found = sorted(
        (int(degree[r]), i)
        for r, i in enumerate(graph.ids)
        if degree[r] >= min_degree and i.startswith(prefix)
    )
    if not found:
        raise ValueError(f"no organisation with at least {min_degree} partners")
    return found[len(found) // 2][1]


@dataclass(frozen=True)
class GraphSignals:
    """Graph signals of one organisation against every candidate (not itself or partners)."""

    organisation: str
    partners: list[str]
    ids: list[str]
    degree: FloatArray
    common_partners: FloatArray
    adamic_adar: FloatArray
    resource_allocation: FloatArray
    pagerank: FloatArray
    """Personalised PageRank from the organisation, times the number of organisations."""
    hops: FloatArray
    """Shortest-path length (inf beyond 3)."""

    def columns(self) -> dict[str, FloatArray]:
        """The signals by name."""
        return {
            "common_partners": self.common_partners,
            "adamic_adar": self.adamic_adar,
            "resource_allocation": self.resource_allocation,
            "pagerank": self.pagerank,
            "hops": self.hops,
            "degree": self.degree,
        }


def graph_signals(graph: CollaborationGraph, organisation_id: str) -> GraphSignals:
    """Adamic–Adar, common partners, resource allocation, PageRank and hops for one query.

    Raises:
        UnknownOrganisationError: the id is not in the graph.

    """
    row = graph.row(organisation_id)
    partners = graph.neighbours(organisation_id)
    linked = set(graph.rows(partners).tolist()) | {row}
    keep = np.array([r for r in range(len(graph)) if r not in linked], np.int64)
    n = len(graph)
    return GraphSignals(
        organisation=organisation_id,
        partners=partners,
        ids=[graph.ids[int(r)] for r in keep],
        degree=graph.degree()[keep],
        common_partners=graph.common_neighbours(row)[keep],
        adamic_adar=graph.adamic_adar(row)[keep],
        resource_allocation=graph.resource_allocation(row)[keep],
        pagerank=graph.personalised_pagerank(row)[keep] * n,
        hops=graph.shortest_path_lengths(row)[keep],
    )


def graph_signal_table(
    signals: GraphSignals, *, k: int = 10, by: str = "adamic_adar", names: Mapping[str, str]
) -> Table:
    """The ``k`` best candidates by one signal, with every signal beside it.

    Args:
        signals: from :func:`graph_signals`.
        k: rows.
        by: the signal to sort by (ties: PageRank, then id).
        names: id → name, for the table.

    """
    cols = signals.columns()
    order = sorted(
        range(len(signals.ids)),
        key=lambda i: (-cols[by][i], -signals.pagerank[i], signals.ids[i]),
    )[:k]
    rows: list[tuple[Cell, ...]] = []
    for i in order:
        hops = signals.hops[i]
        rows.append(
            (
                signals.ids[i],
                names.get(signals.ids[i], ""),
                int(signals.common_partners[i]),
                round(float(signals.adamic_adar[i]), 3),
                round(float(signals.pagerank[i]), 3),
                int(hops) if math.isfinite(hops) else ">3",
                int(signals.degree[i]),
            )
        )
    return Table(
        ("id", "name", "common partners", "Adamic–Adar", "PageRank ×n", "hops", "degree"),
        rows,
        f"Top {k} candidates of {signals.organisation} by {by}",
    )


def signal_correlations(
    graph: CollaborationGraph, rows: Sequence[int] | IntArray | None = None
) -> Table:
    """Spearman correlations of the graph signals over (query, candidate) pairs.

    Pairs are every query row (default: every organisation with a partner) against every
    organisation it is not linked to, itself excluded.
    """
    from scipy.stats import spearmanr

    degree = graph.degree()
    queries = np.flatnonzero(degree > 0) if rows is None else np.asarray(rows, np.int64)
    n = len(graph)
    mask = np.ones((len(queries), n), bool)
    mask[np.arange(len(queries)), queries] = False
    mask &= graph.binary[queries].toarray() == 0
    named = {
        "common partners": graph.common_neighbours(queries),
        "Adamic–Adar": graph.adamic_adar(queries),
        "resource allocation": graph.resource_allocation(queries),
        "PageRank": graph.personalised_pagerank(queries),
        "candidate degree": np.broadcast_to(degree, (len(queries), n)),
    }
    data = np.column_stack([v[mask] for v in named.values()])
    rho = np.atleast_2d(spearmanr(data).statistic)
    labels = list(named)
    table_rows: list[tuple[Cell, ...]] = [
        (a, *(round(float(rho[i, j]), 3) for j in range(len(labels)))) for i, a in enumerate(labels)
    ]
    return Table(
        ("signal", *labels),
        table_rows,
        f"Spearman correlation over {int(mask.sum()):,} (query, candidate) pairs",
    )


def plot_graph_signals(signals: GraphSignals, *, title: str = "") -> Figure:
    """How the signals relate for one query, each candidate coloured by its degree.

    Left: Adamic–Adar against common partners; right: Adamic–Adar against PageRank.
    """
    fig = _figure(11.0, 4.6)
    left, right = fig.subplots(1, 2)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.12, 0.12, len(signals.ids))
    points = left.scatter(
        signals.common_partners + jitter,
        signals.adamic_adar,
        c=signals.degree,
        cmap="viridis",
        s=22,
        alpha=0.8,
    )
    left.set_xlabel("common partners (jittered)")
    left.set_ylabel("Adamic–Adar")
    left.set_title("Adamic–Adar discounts partners shared via hubs")
    right.scatter(
        signals.pagerank,
        signals.adamic_adar,
        c=signals.degree,
        cmap="viridis",
        s=22,
        alpha=0.8,
    )
    right.set_xscale("log")
    right.set_xlabel("personalised PageRank × organisations (log)")
    right.set_ylabel("Adamic–Adar")
    right.set_title("PageRank also reaches candidates 3+ hops away")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.colorbar(points, ax=[left, right], label="candidate's degree")
    fig.suptitle(
        title
        or f"Graph signals of {signals.organisation} ({len(signals.partners)} partners) "
        f"against {len(signals.ids)} candidates"
    )
    return fig


# -- ranking quality ---------------------------------------------------------------------


def demo_split(
    home: Path,
    *,
    train_until: int = 2023,
    test_years: tuple[int, int] = (2024, 2025),
    queries: int = 200,
    seed: int = 0,
) -> Split:
    """The temporal split of a demo home's platform-format files (dated collaborations)."""
    organisations, collaborations = demo_files(home)
    return Split.from_collaborations(
        read_collaborations_file(collaborations),
        train_until,
        test_years,
        organisations=read_organisations_file(organisations),
        queries=queries,
        seed=seed,
        source=str(collaborations),
    )


def as_of_table(matcher: Matcher, until: dt.date) -> ProfileTable:
    """The built profile table with its graph and activity cut at ``until``.

    Profiles and vectors stay as built: right for data whose texts do not come from the
    collaborations (the platform's profiles, the demo), not for CORDIS, whose texts are
    the projects' (use :func:`cordis_comparison` there).
    """
    table = matcher.state().table
    graph = CollaborationGraph.from_store(
        matcher.store,
        until=until,
        max_consortium=MAX_CONSORTIUM,
        include_isolated=True,
        as_of=until,
    )
    recent = matcher.store.activity(since=until - dt.timedelta(days=730), until=until)
    activity = np.array([recent.get(i, 0) for i in table.ids], np.float64)
    return ProfileTable(
        table.organisations, table.text, table.offers, table.seeks, graph, until, activity
    )


def _aligned(split: Split, table: ProfileTable) -> IntArray:
    missing = [i for i in split.ids if i not in table.rows]
    if missing:
        raise ValueError(f"{len(missing)} train organisations are not in the profile table")
    return np.array([table.rows[i] for i in split.ids], np.int64)


def profile_scorers(
    split: Split, table: ProfileTable, *, ablations: bool = True
) -> dict[str, Scorer]:
    """Scorers that need profiles, for :func:`~matcher.evaluation.evaluate` on ``split``.

    ``text`` (cosine of the vectors), ``hybrid`` (every signal, the hand weights, both
    sides) and, with ``ablations``, ``hybrid-minus-<signal>`` (the hand weights with one
    signal's weight set to 0, for every signal that has a weight). ``table`` must hold
    the state as of the split's last train year (:func:`as_of_table`).

    Raises:
        ValueError: a train organisation is not in the table.

    """
    to_table = _aligned(split, table)

    def text(rows: IntArray) -> FloatArray:
        result: FloatArray = (table.text[to_table[rows]] @ table.text[to_table].T).astype(
            np.float64
        )
        return result

    def with_ranker(ranker: LinearRanker) -> Scorer:
        def score(rows: IntArray) -> FloatArray:
            result: FloatArray = score_all(table, ranker, to_table[rows])[:, to_table]
            return result

        return score

    out: dict[str, Scorer] = {"text": text, "hybrid": with_ranker(hand_ranker())}
    if ablations:
        for signal in SIGNALS:
            if HAND_WEIGHTS.get(signal, 0.0) == 0.0:
                continue
            weights = {s: w for s, w in HAND_WEIGHTS.items() if s != signal}
            ranker = LinearRanker.from_weights(
                SIGNALS, weights, bias=HAND_BIAS, log_features=COUNT_SIGNALS
            )
            out[f"hybrid-minus-{signal}"] = with_ranker(ranker)
    return out


def report_table(report: EvaluationReport, *, metrics: Sequence[str] | None = None) -> Table:
    """The report's methods as rows: the metrics and nDCG@k's 95 % CI."""
    k = report.k
    names = list(metrics or (f"hits@{k}", f"recall@{k}", f"ndcg@{k}", "mrr", "coverage", "gini"))
    rows: list[tuple[Cell, ...]] = []
    for name, res in report.methods.items():
        lo, hi = res.ci.get(f"ndcg@{k}", (math.nan, math.nan))
        rows.append(
            (
                name,
                *(round(res.metrics.get(m, math.nan), 3) for m in names),
                f"[{lo:.3f}, {hi:.3f}]",
            )
        )
    return Table(
        ("method", *names, f"ndcg@{k} 95% CI"),
        rows,
        f"{report.queries} queries; train ≤ {report.train_until}, "
        f"test {report.test_years[0]}–{report.test_years[1]}",
    )


def plot_metric(
    report: EvaluationReport,
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """One metric per method as bars with their bootstrap 95 % confidence intervals."""
    metric = metric or f"ndcg@{report.k}"
    names = list(methods or report.methods)
    values = np.array([report.methods[n].metrics[metric] for n in names])
    cis = [report.methods[n].ci.get(metric, (math.nan, math.nan)) for n in names]
    lower = np.nan_to_num(values - np.array([c[0] for c in cis]))
    upper = np.nan_to_num(np.array([c[1] for c in cis]) - values)
    fig = _figure(max(5.0, 1.1 * len(names) + 2.0), 4.5)
    ax = fig.add_subplot()
    ax.bar(names, values, yerr=[lower, upper], capsize=5, color="tab:blue", alpha=0.85)
    for x, v in enumerate(values):
        ax.annotate(f"{v:.3f}", (x, v), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set_xlabel("method")
    ax.set_ylabel(f"{metric} (mean over queries)")
    ax.set_title(
        title
        or f"{metric} with 95% bootstrap CIs ({report.queries} queries, "
        f"test {report.test_years[0]}–{report.test_years[1]})"
    )
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_by_degree(
    report: EvaluationReport,
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """One metric per method, grouped by how many past partners the query had."""
    metric = metric or f"ndcg@{report.k}"
    names = list(methods or report.methods)
    first = report.methods[names[0]]
    buckets = list(first.by_degree)
    width = 0.8 / len(names)
    fig = _figure(max(6.0, 1.6 * len(buckets) + 3.0), 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        values = [report.methods[name].by_degree[b][metric] for b in buckets]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(
        x, [f"{b} partners\n({int(first.by_degree[b]['queries'])} queries)" for b in buckets]
    )
    ax.set_xlabel("the query's past partners")
    ax.set_ylabel(f"{metric} (mean over the bucket's queries)")
    ax.set_title(title or f"{metric} by the query's number of past partners")
    ax.legend(title="method", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_ablation(
    report: EvaluationReport,
    *,
    base: str = "hybrid",
    metric: str | None = None,
    prefix: str = "hybrid-minus-",
    title: str = "",
) -> Figure:
    """Change of a metric when one signal is dropped (``<prefix><signal>`` against ``base``).

    Raises:
        ValueError: the report has no ablation rows.

    """
    metric = metric or f"ndcg@{report.k}"
    reference = report.methods[base].metrics[metric]
    deltas = sorted(
        (
            (res.metrics[metric] - reference, name.removeprefix(prefix))
            for name, res in report.methods.items()
            if name.startswith(prefix)
        ),
        key=lambda t: (-t[0], t[1]),
    )
    if not deltas:
        raise ValueError(f"no methods named {prefix}<signal> in the report")
    fig = _figure(8.0, 0.3 * len(deltas) + 1.8)
    ax = fig.add_subplot()
    colours = ["tab:red" if d < 0 else "tab:green" for d, _ in deltas]
    ax.barh([s for _, s in deltas], [d for d, _ in deltas], color=colours)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{metric} without the signal − {metric} of {base} ({reference:.3f})")
    ax.set_ylabel("signal dropped")
    ax.set_title(
        title
        or f"Ablation: {metric} change when one signal is dropped "
        f"({report.queries} queries; most needed at the top)"
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def cordis_comparison(
    directory: Path | str,
    root: Path | str,
    *,
    train_until: int = 2016,
    test_years: tuple[int, int] = (2017, 2018),
    queries: int = 2000,
    seed: int = 0,
    methods: Sequence[str] | None = None,
    ablations: bool = False,
    bootstrap: int = 1000,
    encoder: Encoder | None = None,
) -> EvaluationReport:
    """The full comparison on a CORDIS directory, as ``matcher evaluate --cordis`` runs it.

    Profile methods need the state as of each cut-off: imported and built under ``root``
    (kept, so a second run only reads it back). Slow on a first run (minutes).
    """
    from matcher.evaluation.offline import (
        DEFAULT_METHODS,
        PROFILE_METHODS,
        CordisStates,
        register_profile_methods,
    )

    split = Split.from_cordis(Path(directory), train_until, test_years, queries=queries, seed=seed)
    states = CordisStates(Path(directory), Path(root), encoder)
    register_profile_methods(states, split)
    names = list(methods or DEFAULT_METHODS)
    if ablations:
        names += [m for m in PROFILE_METHODS if m.startswith("hybrid-minus-")]
    return evaluate(split, scorers_for(split, names), bootstrap=bootstrap, seed=seed)


# -- suggestions -------------------------------------------------------------------------


def profile_table(organisation: Organisation) -> Table:
    """An organisation's profile, one field a row (empty fields left out)."""
    rows: list[tuple[Cell, ...]] = []
    for name, value in organisation.model_dump(mode="json").items():
        if value in (None, "", []):
            continue
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        rows.append((name, text))
    return Table(("field", "value"), rows, f"{organisation.name} ({organisation.id})")


def suggestions_table(suggestions: Iterable[Suggestion], *, title: str = "") -> Table:
    """One row per suggestion: rank, partner, kind, country, score, reasons and flags."""
    rows: list[tuple[Cell, ...]] = [
        (
            s.rank,
            s.organisation.id,
            s.organisation.name,
            s.organisation.kind.value,
            s.organisation.country or "",
            round(s.score, 3),
            "; ".join(r.text for r in s.reasons),
            ", ".join(s.flags),
        )
        for s in suggestions
    ]
    return Table(
        ("rank", "id", "name", "kind", "country", "score", "reasons", "flags"), rows, title
    )


def reasons_table(suggestions: Iterable[Suggestion]) -> Table:
    """One row per reason: which signal, its contribution, and the text shown to people."""
    rows: list[tuple[Cell, ...]] = [
        (s.rank, s.organisation.name, r.signal, round(r.contribution, 3), r.text)
        for s in suggestions
        for r in s.reasons
    ]
    return Table(("rank", "partner", "signal", "contribution", "reason"), rows)


def plot_reasons(suggestions: Sequence[Suggestion], *, title: str = "") -> Figure:
    """Each suggestion's score and the contributions of its reasons' signals, stacked."""
    from matplotlib import colormaps

    order: list[str] = []
    for s in suggestions:
        order += [r.signal for r in s.reasons if r.signal not in order]
    palette = colormaps["tab20"]
    labels = [f"{s.rank}. {s.organisation.name[:40]}" for s in suggestions][::-1]
    fig = _figure(11.0, 0.45 * len(suggestions) + 2.0)
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(2, 1))
    start = np.zeros(len(suggestions))
    for i, signal in enumerate(order):
        values = np.array(
            [sum(r.contribution for r in s.reasons if r.signal == signal) for s in suggestions]
        )[::-1]
        left.barh(
            labels, values, left=start, color=palette((2 * i) % 20 + (i // 10) % 2), label=signal
        )
        start += values
    left.set_xlabel("contribution to the logit (reasons shown)")
    left.set_ylabel("suggestion")
    left.set_title("what each suggestion's reasons contribute")
    fig.legend(title="signal", loc="outside lower center", ncol=min(len(order), 5) or 1)
    scores = [s.score for s in suggestions][::-1]
    right.barh(labels, scores, color="tab:gray")
    for y, v in enumerate(scores):
        right.annotate(f"{v:.3f}", (v, y), xytext=(3, 0), textcoords="offset points",
                       va="center", fontsize=8)  # fmt: skip
    right.margins(x=0.25)
    right.set_xlabel("score")
    right.set_title("final score")
    for ax in (left, right):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title or "Suggestions and the reasons behind them")
    return fig


# -- workshop tables (notebook 06) ---------------------------------------------------------


def workshop_participants(
    table: ProfileTable, n: int, *, seed: int = 0, two_people_every: int = 6
) -> list[Participant]:
    """``n`` registrations drawn from the table's organisations, as an organiser gets them.

    Every ``two_people_every``-th organisation sends two people (so the one-per-table rule
    has work to do); the rest one each.
    """
    rng = np.random.default_rng(seed)
    participants: list[Participant] = []
    for n_org, row in enumerate(rng.permutation(len(table)).tolist()):
        org_id = table.ids[row]
        people = 2 if n_org % two_people_every == 0 else 1
        for k in range(min(people, n - len(participants))):
            participants.append(Participant(org_id, person=f"delegate {k + 1}"))
        if len(participants) >= n:
            break
    return participants


def plan_table(plan: Plan, round_number: int = 1) -> Table:
    """One round of a plan: each table's theme, members and countries."""
    data = plan.to_json()["rounds"][round_number - 1]["tables"]
    rows: list[tuple[Cell, ...]] = [
        (
            t["table"],
            t["theme"],
            "; ".join(m["name"] for m in t["members"]),
            ", ".join(t["countries"]),
        )
        for t in data
    ]
    return Table(("table", "theme", "members", "countries"), rows, f"Round {round_number}")


def seating_comparison(problem: Problem, plan: Plan, *, seed: int = 0) -> Table:
    """The plan's objective beside a random seating, a greedy one and the upper bound.

    The bound is the plan's own (CP-SAT's proven bound for small events), else
    :func:`matcher.planner.best_bound`.
    """
    rows: list[tuple[Cell, ...]] = []
    bound = plan.stats.bound if plan.stats and plan.stats.bound else best_bound(problem)
    for name, seating in (
        ("random", random_seating(problem, seed)),
        ("greedy", greedy_seating(problem)),
        ("planned", plan.seating),
    ):
        evaluation = problem.evaluate(seating)
        rows.append(
            (
                name,
                round(evaluation.score, 3),
                len(evaluation.broken),
                round(evaluation.score / bound, 3),
            )
        )
    rows.append(("upper bound", round(bound, 3), 0, 1.0))
    return Table(("seating", "objective", "broken rules", "of the bound"), rows, "Seatings")


def plot_seatings(comparison: Table, *, title: str = "") -> Figure:
    """The objectives of :func:`seating_comparison` as bars, broken rules noted."""
    fig = _figure(7.0, 4.0)
    ax = fig.subplots()
    names = [str(v) for v in comparison.column("seating")]
    values = [float(v) for v in comparison.column("objective")]
    broken = comparison.column("broken rules")
    bars = ax.bar(names, values, color=["tab:gray", "tab:orange", "tab:blue", "tab:green"])
    for bar, b in zip(bars, broken, strict=True):
        label = f"{bar.get_height():.2f}" + (f"\n{b} broken" if b else "")
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylabel("objective (pair scores + themes − mix shortfall)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title or "The planner against simpler seatings")
    return fig
