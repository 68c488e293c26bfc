"""The demo's collaboration graph: memberships, joint projects, events and agreements.

Partners are drawn by preferential attachment with homophily: each organisation sits in
urn lists (all, by ecosystem, by country, by both) once per unit of attraction, and every
collaboration adds to the attraction of those in it, so a few clusters become hubs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass

from matcher.domain.schema import Collaboration
from matcher.domain.vocab import CollaborationKind, Ecosystem, OrganisationKind

__all__ = ["GraphBuilder", "Node", "random_date"]

_CONSORTIUM_SIZES = (3, 4, 5, 6, 7, 8)
_CONSORTIUM_WEIGHTS = (30.0, 25.0, 18.0, 12.0, 9.0, 6.0)


@dataclass
class Node:
    """What the graph needs to know of an organisation."""

    id: str
    kind: OrganisationKind
    country: str
    ecosystems: tuple[Ecosystem, ...]
    fitness: int


def random_date(rng: random.Random, start: dt.date, end: dt.date, bias: float = 1.0) -> dt.date:
    """A date in ``[start, end]``; ``bias`` < 1 leans towards ``end``."""
    span = (end - start).days
    return start + dt.timedelta(days=min(span, int(span * rng.random() ** bias)))


class _Pools:
    """Urn lists for preferential attachment: a node appears once per unit of attraction."""

    def __init__(self) -> None:
        self.all: list[int] = []
        self.eco: dict[Ecosystem, list[int]] = {}
        self.country: dict[str, list[int]] = {}
        self.eco_country: dict[tuple[Ecosystem, str], list[int]] = {}

    def add(self, index: int, node: Node, copies: int) -> None:
        items = [index] * copies
        self.all.extend(items)
        self.country.setdefault(node.country, []).extend(items)
        for eco in node.ecosystems:
            self.eco.setdefault(eco, []).extend(items)
            self.eco_country.setdefault((eco, node.country), []).extend(items)


class GraphBuilder:
    """Draws the dated collaboration graph over generated nodes.

    Args:
        rng: the random stream.
        nodes: the organisations, in id order.
        neighbours: each country's neighbours (may be empty).
        related: each ecosystem's related ecosystems.
        start_year: first year of collaboration dates (from 1 January).
        end_year: last year of collaboration dates (up to 30 June).
    """

    def __init__(
        self,
        rng: random.Random,
        nodes: list[Node],
        neighbours: Mapping[str, tuple[str, ...]],
        related: Mapping[Ecosystem, tuple[Ecosystem, ...]],
        start_year: int,
        end_year: int,
    ) -> None:
        self.rng = rng
        self.neighbours = neighbours
        self.related = related
        self.nodes = nodes
        self.start = dt.date(start_year, 1, 1)
        self.end = dt.date(end_year, 6, 30)
        self.anyone = _Pools()
        self.clusters = _Pools()
        for i, node in enumerate(nodes):
            self.anyone.add(i, node, node.fitness)
            if node.kind is OrganisationKind.CLUSTER:
                self.clusters.add(i, node, node.fitness)
        self.out: list[Collaboration] = []
        self.keys: set[tuple[str, str, str, str]] = set()

    def attract(self, index: int, copies: int = 1) -> None:
        """Make ``index`` more likely to be drawn again."""
        node = self.nodes[index]
        self.anyone.add(index, node, copies)
        if node.kind is OrganisationKind.CLUSTER:
            self.clusters.add(index, node, copies)

    def tie(
        self, i: int, j: int, kind: CollaborationKind, date: dt.date, weight: float, ref: str
    ) -> None:
        """Record a collaboration between nodes ``i`` and ``j`` (once per key)."""
        a, b = sorted((self.nodes[i].id, self.nodes[j].id))
        key = (a, b, kind.value, ref)
        if a == b or key in self.keys:
            return
        self.keys.add(key)
        self.out.append(
            Collaboration(
                organisation_a=a,
                organisation_b=b,
                kind=kind,
                date=date,
                weight=min(1.0, weight),
                source_ref=ref,
            )
        )

    def _neighbour(self, country: str) -> str:
        """A random neighbour of ``country``, or the country itself when it has none."""
        options = self.neighbours[country]
        return self.rng.choice(options) if options else country

    def pick(self, pools: _Pools, country: str, eco: Ecosystem) -> int | None:
        """Draw a partner: homophily by ecosystem and geography, then by attraction."""
        rng = self.rng
        r = rng.random()
        pool: list[int] | None
        if r < 0.30:
            pool = pools.eco_country.get((eco, country))
        elif r < 0.45:
            pool = pools.eco_country.get((eco, self._neighbour(country)))
        elif r < 0.80:
            pool = pools.eco.get(eco)
        elif r < 0.88:
            pool = pools.eco.get(rng.choice(self.related[eco]))
        elif r < 0.94:
            pool = pools.country.get(country)
        else:
            pool = pools.all
        if not pool:
            pool = pools.eco.get(eco) or pools.all
        return rng.choice(pool) if pool else None

    def memberships(self) -> None:
        """SMEs join one (sometimes two) clusters of their own country and ecosystem."""
        rng = self.rng
        cl = self.clusters
        for i, node in enumerate(self.nodes):
            if node.kind is not OrganisationKind.SME or not cl.all:
                continue
            n = 2 if rng.random() < 0.15 else 1
            joined: list[int] = []
            for _ in range(n * 4):
                if len(joined) >= n:
                    break
                pool = cl.eco_country.get((node.ecosystems[0], node.country))
                if not pool or (joined and rng.random() < 0.5):
                    eco = rng.choice(node.ecosystems)
                    pool = cl.eco_country.get((eco, node.country)) or cl.country.get(node.country)
                if not pool:
                    nb = self._neighbour(node.country)
                    pool = cl.eco_country.get((node.ecosystems[0], nb)) or cl.eco.get(
                        node.ecosystems[0]
                    )
                if not pool:
                    pool = cl.all
                c = rng.choice(pool)
                if c in joined:
                    continue
                joined.append(c)
                date = random_date(rng, self.start, self.end)
                self.tie(i, c, CollaborationKind.MEMBERSHIP, date, 1.0, "")
            for c in joined:
                self.attract(c)

    def projects(self, count: int) -> None:
        """Joint projects of 3-8 partners, in date order so attachment follows time."""
        rng = self.rng
        dates = sorted(random_date(rng, self.start, self.end, 0.8) for _ in range(count))
        number = 0
        for date in dates:
            lead = rng.choice(self.anyone.all)
            node = self.nodes[lead]
            eco = node.ecosystems[0] if rng.random() < 0.7 else rng.choice(node.ecosystems)
            size = rng.choices(_CONSORTIUM_SIZES, weights=_CONSORTIUM_WEIGHTS)[0]
            members = [lead]
            for _ in range(size * 10):
                if len(members) >= size:
                    break
                cand = self.pick(self.anyone, node.country, eco)
                if cand is not None and cand not in members:
                    members.append(cand)
            if len(members) < 3:
                continue
            number += 1
            ref = f"DEMO-P{number:04d}"
            weight = 1.0 / (len(members) - 1)
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    self.tie(
                        members[x], members[y], CollaborationKind.JOINT_PROJECT, date, weight, ref
                    )
            for m in members:
                self.attract(m)

    def events(self, count: int) -> None:
        """Cluster matchmaking events: a host meets 2-6 clusters, some guests meet too."""
        rng = self.rng
        cl = self.clusters
        if len(set(cl.all)) < 2:
            return
        for number in range(1, count + 1):
            host = rng.choice(cl.all)
            node = self.nodes[host]
            eco = rng.choice(node.ecosystems)
            guests: list[int] = []
            want = rng.randint(2, 6)
            for _ in range(want * 10):
                if len(guests) >= want:
                    break
                cand = self.pick(cl, node.country, eco)
                if cand is not None and cand != host and cand not in guests:
                    guests.append(cand)
            ref = f"DEMO-E{number:04d}"
            date = random_date(rng, self.start, self.end, 0.8)
            for g in guests:
                self.tie(host, g, CollaborationKind.EVENT_MEETING, date, 0.5, ref)
            for x in range(len(guests)):
                for y in range(x + 1, len(guests)):
                    if rng.random() < 0.3:
                        self.tie(
                            guests[x], guests[y], CollaborationKind.EVENT_MEETING, date, 0.25, ref
                        )
            self.attract(host)

    def agreements(self, count: int) -> None:
        """Bilateral cluster cooperation agreements (MoUs)."""
        rng = self.rng
        cl = self.clusters
        if len(set(cl.all)) < 2:
            return
        for number in range(1, count + 1):
            a = rng.choice(cl.all)
            node = self.nodes[a]
            for _ in range(10):
                b = self.pick(cl, node.country, rng.choice(node.ecosystems))
                if b is not None and b != a:
                    date = random_date(rng, self.start, self.end, 0.8)
                    ref = f"DEMO-A{number:04d}"
                    self.tie(a, b, CollaborationKind.AGREEMENT, date, 1.0, ref)
                    self.attract(a)
                    self.attract(b)
                    break
