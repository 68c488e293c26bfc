"""Cross-border outcomes of the served lists: share abroad, coverage, target-market hits.

:func:`suggestion_lists` asks the product for the lists of a sample of organisations
(:meth:`~matcher.app.matcher.Matcher.recommend`, as the service does) and keeps, beside
each list, the countries of every organisation the list could have held (all live
organisations but the asker and its partners). The other functions read only that plain
data, so they can be checked by hand:

- :func:`cross_border_table`: per asking kind, the mean share of each list's suggestions
  in another country than the asker's, against the same share among its candidates;
- :func:`coverage_table`: per country or kind, how many organisations appear in any list;
- :func:`target_market_table`: for askers naming target countries, the share of their
  suggestions there against the share of their candidates there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matcher.domain.schema import Organisation
from matcher.lab.analysis.homes import Home
from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.ranking.profiles import COUNTRY_CODES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SuggestionLists",
    "TargetHit",
    "abroad_share",
    "coverage_table",
    "cross_border_table",
    "plot_coverage",
    "plot_cross_border",
    "plot_target_hits",
    "rule_aims",
    "sample_ids",
    "suggestion_lists",
    "target_hits",
    "target_market_table",
]


@dataclass(frozen=True)
class SuggestionLists:
    """The lists of a sample of askers, and what each could have held.

    Attributes:
        queries: the asking organisations.
        suggested: each asker's suggestions, best first.
        candidates: per asker, the countries of the organisations its list could have
            held ('' where unknown), counted.
        population: every live organisation (the denominators of coverage).
        k: the length asked for.
    """

    queries: list[Organisation]
    suggested: list[list[Organisation]]
    candidates: list[Counter[str]]
    population: list[Organisation]
    k: int


def rule_aims(home: Home) -> tuple[float | None, float]:
    """What the selection rules aim at: the least share abroad, the share for targets.

    The first is None when the settings put no limit on the asker's own country.
    """
    s = home.matcher.settings
    floor = None if s.max_same_country is None else 1.0 - s.max_same_country / 10
    return floor, s.target_share


def sample_ids(home: Home, sample: int, *, seed: int = 0) -> list[str]:
    """A seeded sample of live organisation ids, in the order drawn (all when fewer)."""
    p = home.context.profiles
    alive = np.flatnonzero(p.alive)
    drawn = np.random.default_rng(seed).permutation(alive)[:sample]
    return [p.ids[int(r)] for r in drawn.tolist()]


def suggestion_lists(
    home: Home,
    ids: Sequence[str] | None = None,
    *,
    k: int = 10,
    sample: int = 300,
    seed: int = 0,
) -> SuggestionLists:
    """The product's lists for some askers (default: a seeded sample of ``sample``)."""
    asked = list(ids) if ids is not None else sample_ids(home, sample, seed=seed)
    ctx = home.context
    p = ctx.profiles
    alive = np.flatnonzero(p.alive)
    codes = p.country[alive].astype(np.int64)
    everyone = Counter(COUNTRY_CODES[c] if c >= 0 else "" for c in codes.tolist())
    orgs = home.organisations
    queries, suggested, candidates = [], [], []
    for org_id in asked:
        rec = home.matcher.recommend(org_id, k, explain=False)
        row = p.index[org_id]
        taken = [row, *(int(r) for r in ctx.graph.partners(row).tolist())]
        left = Counter(
            COUNTRY_CODES[int(p.country[r])] if p.country[r] >= 0 else ""
            for r in taken
            if p.alive[r]
        )
        queries.append(orgs[org_id])
        suggested.append([s.organisation for s in rec])
        candidates.append(everyone - left)
    population = [orgs[p.ids[int(r)]] for r in alive.tolist()]
    return SuggestionLists(queries, suggested, candidates, population, k)


def abroad_share(query: Organisation, suggested: Sequence[Organisation]) -> float | None:
    """Share of suggestions (of known country) in another country than the asker's.

    None where the asker's country is unknown or no suggestion has a known country.
    """
    known = [o.country for o in suggested if o.country]
    if not query.country or not known:
        return None
    return sum(c != query.country for c in known) / len(known)


def _candidates_abroad(query: Organisation, counts: Counter[str]) -> float | None:
    known = sum(n for c, n in counts.items() if c)
    if not query.country or not known:
        return None
    return (known - counts.get(query.country, 0)) / known


def cross_border_table(lists: SuggestionLists) -> Table:
    """Per asking kind: the mean share of each list abroad, against its candidates'.

    Lists without a known share (asker's country unknown, or empty) are left out.
    """
    groups: dict[str, list[tuple[float, float, int]]] = {}
    for q, got, cands in zip(lists.queries, lists.suggested, lists.candidates, strict=True):
        share, base = abroad_share(q, got), _candidates_abroad(q, cands)
        if share is None or base is None:
            continue
        entry = (share, base, len(got))
        groups.setdefault(q.kind.value, []).append(entry)
        groups.setdefault("all", []).append(entry)
    rows: list[tuple[Cell, ...]] = []
    for kind in sorted(groups, key=lambda g: (g == "all", -len(groups[g]), g)):
        entries = groups[kind]
        shares = [e[0] for e in entries]
        rows.append(
            (
                kind,
                len(entries),
                sum(e[2] for e in entries),
                round(float(np.mean(shares)), 3),
                round(float(min(shares)), 3),
                round(float(np.mean([e[1] for e in entries])), 3),
            )
        )
    return Table(
        ("asking kind", "lists", "suggestions", "abroad (mean share)", "lowest list",
         "candidates abroad"),
        rows,
        f"Suggestions in another country than the asker's ({lists.k} asked per list)",
    )  # fmt: skip


def coverage_table(lists: SuggestionLists, *, by: str = "country", top: int | None = None) -> Table:
    """Per country or kind: organisations, how many appear in any list, their appearances.

    Args:
        lists: the lists.
        by: ``country`` or ``kind``.
        top: keep the largest groups (by organisations) only.

    Raises:
        ValueError: ``by`` is neither.
    """
    if by not in ("country", "kind"):
        raise ValueError(f"coverage by {by!r}: use 'country' or 'kind'")

    def key(o: Organisation) -> str:
        return (o.country or "(unknown)") if by == "country" else o.kind.value

    size = Counter(key(o) for o in lists.population)
    shown = [o for got in lists.suggested for o in got]
    appearances = Counter(key(o) for o in shown)
    covered = Counter(key(o) for o in {o.id: o for o in shown}.values())
    total = max(len(shown), 1)
    population = max(len(lists.population), 1)
    order = sorted(size, key=lambda g: (-size[g], g))[:top]
    rows: list[tuple[Cell, ...]] = [
        (
            g,
            size[g],
            covered[g],
            round(covered[g] / size[g], 3),
            appearances[g],
            round(appearances[g] / total, 3),
            round(size[g] / population, 3),
        )
        for g in order
    ]
    return Table(
        (by, "organisations", "in any list", "covered", "appearances", "share of appearances",
         "share of organisations"),
        rows,
        f"Coverage by {by}: {len(lists.queries)} lists of {lists.k}",
    )  # fmt: skip


@dataclass(frozen=True)
class TargetHit:
    """One asker with target countries: its suggestions there, against its candidates."""

    organisation: str
    kind: str
    targets: tuple[str, ...]
    suggestions: int
    in_targets: int
    candidate_share: float
    """Share of the candidates (of known country) in the target countries."""

    @property
    def share(self) -> float:
        """Share of the suggestions in the target countries."""
        return self.in_targets / self.suggestions if self.suggestions else 0.0


def target_hits(lists: SuggestionLists) -> list[TargetHit]:
    """Every asker naming target countries, with a non-empty list."""
    out: list[TargetHit] = []
    for q, got, cands in zip(lists.queries, lists.suggested, lists.candidates, strict=True):
        targets = tuple(sorted(set(q.target_countries)))
        if not targets or not got:
            continue
        known = sum(n for c, n in cands.items() if c)
        there = sum(cands.get(c, 0) for c in targets)
        out.append(
            TargetHit(
                q.id,
                q.kind.value,
                targets,
                len(got),
                sum(o.country in targets for o in got),
                there / known if known else 0.0,
            )
        )
    return out


def target_market_table(lists: SuggestionLists) -> Table:
    """Per asking kind: the share of suggestions in the target countries against chance."""
    hits = target_hits(lists)
    groups: dict[str, list[TargetHit]] = {"all": hits}
    for h in hits:
        groups.setdefault(h.kind, []).append(h)
    rows: list[tuple[Cell, ...]] = []
    for kind in sorted(groups, key=lambda g: (g == "all", -len(groups[g]), g)):
        group = groups[kind]
        if not group:
            continue
        share = float(np.mean([h.share for h in group]))
        base = float(np.mean([h.candidate_share for h in group]))
        rows.append(
            (
                kind,
                len(group),
                round(share, 3),
                round(base, 3),
                round(share / base, 2) if base > 0 else float("nan"),
                sum(h.in_targets > 0 for h in group),
            )
        )
    askers = len(lists.queries)
    return Table(
        ("asking kind", "lists with targets", "in targets (mean share)", "candidates there",
         "lift", "lists with a hit"),
        rows,
        f"Target-market hits: {len(hits)} of {askers} askers name target countries",
    )  # fmt: skip


def _kinds(lists: SuggestionLists) -> list[str]:
    counts = Counter(q.kind.value for q in lists.queries)
    return sorted(counts, key=lambda k: (-counts[k], k))


def plot_cross_border(lists: SuggestionLists, *, floor: float | None = None) -> Figure:
    """Histogram of each list's share abroad, stacked by asking kind.

    Args:
        lists: the lists.
        floor: the share abroad the cross-border rule aims at (drawn when given).
    """
    bins = [i / 10 for i in range(11)]
    fig = figure(8.0, 4.5)
    ax = fig.add_subplot()
    data, labels = [], []
    for kind in _kinds(lists):
        shares = [
            s
            for q, got in zip(lists.queries, lists.suggested, strict=True)
            if q.kind.value == kind and (s := abroad_share(q, got)) is not None
        ]
        if shares:
            data.append(shares)
            labels.append(f"{kind} ({len(shares)})")
    if data:
        ax.hist(data, bins=bins, stacked=True, label=labels)
    bases = [
        b
        for q, c in zip(lists.queries, lists.candidates, strict=True)
        if (b := _candidates_abroad(q, c)) is not None
    ]
    if bases:
        ax.axvline(float(np.mean(bases)), color="black", linestyle="--",
                   label="candidates abroad (mean)")  # fmt: skip
    if floor is not None:
        ax.axvline(floor, color="tab:red", linestyle=":", label=f"the rule's aim ({floor:.0%})")
    ax.set_xlabel("share of the list in another country than the asker's")
    ax.set_ylabel("lists")
    ax.set_title(f"How cross-border are the lists? ({len(lists.queries)} askers)")
    ax.legend(title="asking kind", loc="upper left")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_coverage(lists: SuggestionLists, *, by: str = "country", top: int = 15) -> Figure:
    """Organisations per group beside those that appear in any list."""
    table = coverage_table(lists, by=by, top=top)
    groups = [str(g) for g in table.column(by)]
    size = np.array([float(v) for v in table.column("organisations")])
    covered = np.array([float(v) for v in table.column("in any list")])
    fig = figure(max(6.0, 0.5 * len(groups) + 3.0), 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    ax.bar(x - 0.2, size, 0.4, label="organisations", color="tab:gray")
    ax.bar(x + 0.2, covered, 0.4, label="in any list", color="tab:blue")
    ax.set_xticks(x, groups, rotation=30 if by == "kind" else 0)
    ax.set_ylabel("organisations")
    ax.set_title(f"Coverage by {by} ({len(lists.queries)} lists of {lists.k})")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_target_hits(lists: SuggestionLists, *, target_share: float | None = None) -> Figure:
    """Each asker with targets: share of its list there (y) against its candidates' (x)."""
    hits = target_hits(lists)
    fig = figure(6.5, 5.5)
    ax = fig.add_subplot()
    for kind in _kinds(lists):
        group = [h for h in hits if h.kind == kind]
        if group:
            ax.scatter([h.candidate_share for h in group], [h.share for h in group], s=28,
                       alpha=0.75, label=f"{kind} ({len(group)})")  # fmt: skip
    ax.plot([0, 1], [0, 1], color="black", linewidth=0.8, label="no better than chance")
    if target_share is not None:
        ax.axhline(target_share, color="tab:red", linestyle=":",
                   label=f"share reserved ({target_share:.0%})")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("share of the candidates in the target countries")
    ax.set_ylabel("share of the suggestions in the target countries")
    ax.set_title(f"Target-market hits ({len(hits)} askers with target countries)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig
