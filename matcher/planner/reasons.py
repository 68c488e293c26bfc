"""Why people sit together, in the third person, for organisers and participants.

Every table gets a theme (its given theme, and what its members share) and reason lines
about its strongest pairs; every person at a table gets one reason for being there. The
texts speak about the pair ("both work on cold chain"), never to a reader: the planner
words its own from the profiles (shared ecosystems and keywords), then from the table (a
country or a kind the person brings, the table's theme, the pair's score). The
ranking's reasons (``PairScores.reasons``) are written for one party ("what you seek",
"active: …" about the candidate) and are not shown here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matcher.domain.schema import Organisation

if TYPE_CHECKING:
    from matcher.planner.problem import Problem

__all__ = ["ORDINALS", "describe_table", "label", "pair_reason", "seat_reasons", "shared"]

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
"""Words for the count of countries a person brings to a table."""


def label(problem: Problem, i: int) -> str:
    """A person as organisers read it: ``Name (Organisation)`` or the organisation."""
    p = problem.participants[i]
    name = problem.organisations[i].name
    return f"{p.person} ({name})" if p.person else name


def shared(a: Organisation, b: Organisation) -> list[str]:
    """What two organisations share, in the third person (ecosystems, then keywords)."""
    out = []
    eco = [e.label for e in a.ecosystems if e in b.ecosystems]
    if eco:
        out.append("both in " + ", ".join(eco))
    mine = {k.lower() for k in a.keywords}
    words = [k for k in b.keywords if k.lower() in mine]
    if words:
        out.append("both work on " + ", ".join(words[:3]))
    return out


def _kinds(problem: Problem, a: int, b: int) -> str | None:
    ra, rb = problem.research[a], problem.research[b]
    ia, ib = problem.industry[a], problem.industry[b]
    if (ra and ib) or (ia and rb):
        return "research meets industry"
    ka, kb = problem.organisations[a].kind.value, problem.organisations[b].kind.value
    if "cluster" in (ka, kb) and ka != kb:
        return "a cluster meets a possible member or partner"
    return None


def pair_reason(problem: Problem, a: int, b: int) -> str:
    """Why two people fit, in the third person; never empty."""
    oa, ob = problem.organisations[a], problem.organisations[b]
    texts = shared(oa, ob)
    kinds = _kinds(problem, a, b)
    if kinds and len(texts) < 2:
        texts.append(kinds)
    if oa.country and ob.country and oa.country != ob.country and len(texts) < 2:
        texts.append(f"across borders ({oa.country}–{ob.country})")
    if not texts:
        texts.append(f"their profiles score {problem.scores[a, b]:.2f} as partners")
    return "; ".join(texts)


def describe_table(problem: Problem, members: Sequence[int], t: int) -> tuple[str, list[str]]:
    """A table's theme in words and why its strongest pairs sit together (≥ 1 line)."""
    orgs = [problem.organisations[i] for i in members]
    eco = Counter(e for o in orgs for e in o.ecosystems)
    keywords: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for o in orgs:
        for low, word in {k.lower(): k for k in o.keywords}.items():
            keywords[low] += 1
            shown.setdefault(low, word)
    common_eco = [e.label for e, c in eco.most_common() if c >= 2][:2]
    common_kw = [shown[k] for k, c in keywords.most_common() if c >= 2][:3]
    derived = ", ".join(common_eco)
    if common_kw:
        derived += (" — " if derived else "") + ", ".join(common_kw)
    if not derived:
        top = [e.label for e, _ in eco.most_common(2)]
        derived = "open table" + (f": {', '.join(top)}" if top else "")
    fixed = problem.themes[t]
    theme = f"{fixed} ({derived})" if fixed else derived
    pairs = sorted(
        ((float(problem.scores[a, b]), a, b) for a in members for b in members if a < b),
        reverse=True,
    )[:3]
    reasons = [
        f"{label(problem, a)} and {label(problem, b)} (score {score:.2f}): "
        f"{pair_reason(problem, a, b)}"
        for score, a, b in pairs
    ]
    if not reasons:
        reasons = [f"{label(problem, i)} sits alone at this table" for i in members]
    return theme, reasons


def seat_reasons(problem: Problem, members: Sequence[int], t: int) -> dict[int, str]:
    """One reason per person for sitting at this table, in the third person."""
    out: dict[int, str] = {}
    countries = Counter(problem.organisations[i].country for i in members)
    distinct = [c for c in countries if c]
    research = [i for i in members if problem.research[i]]
    industry = [i for i in members if problem.industry[i]]
    for i in members:
        others = [j for j in members if j != i]
        if i in problem.hosts:
            out[i] = "hosts this table"
            continue
        parts: list[str] = []
        if others:
            j = max(others, key=lambda j: (problem.scores[i, j], -j))
            words = shared(problem.organisations[i], problem.organisations[j])
            if words:
                parts.append(f"{'; '.join(words)} with {label(problem, j)}")
        if problem.themes[t] and problem.theme_affinity[i, t] > 0:
            parts.append(f"fits the table's theme ({problem.themes[t]})")
        country = problem.organisations[i].country
        if not parts and country and countries[country] == 1 and len(distinct) > 1:
            k = len(distinct)
            nth = ORDINALS[k - 1] if k <= len(ORDINALS) else f"{k}th"
            parts.append(f"brings a {nth} country ({country}) to the table")
        if not parts and industry and research and (research == [i] or industry == [i]):
            parts.append("research meets industry at this table")
        if not parts and others:
            j = max(others, key=lambda j: (problem.scores[i, j], -j))
            parts.append(f"strongest fit here: {label(problem, j)} ({pair_reason(problem, i, j)})")
        out[i] = "; ".join(parts) if parts else "the only seat left that keeps every rule"
    return out
