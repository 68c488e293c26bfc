"""The demo data set: organisations drawn by :mod:`profiles`, then their collaborations."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.lab.demo.network import GraphBuilder, Node
from matcher.lab.demo.profiles import ProfileMaker

__all__ = ["DemoData", "generate_demo"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoData:
    """A generated demo data set: organisations and the collaborations between them."""

    organisations: list[Organisation]
    collaborations: list[Collaboration]


def generate_demo(
    seed: int = 2026,
    clusters: int = 1500,
    smes: int = 3000,
    start_year: int = 2015,
    end_year: int = 2026,
) -> DemoData:
    """Generate a deterministic, synthetic demo data set.

    Args:
        seed: Seed of the random stream; the same arguments give identical output.
        clusters: Number of cluster organisations.
        smes: Number of SMEs.
        start_year: First year of collaboration dates (from 1 January).
        end_year: Last year of collaboration dates (up to 30 June); profiles are
            updated in the two years before it.

    Returns:
        The organisations (clusters first, then SMEs) and their collaborations.

    Raises:
        ValueError: a count is negative or the years are out of order.

    """
    if clusters < 0 or smes < 0:
        raise ValueError("clusters and smes must be non-negative")
    if not 1950 < start_year <= end_year:
        raise ValueError("need 1950 < start_year <= end_year")
    rng = random.Random(seed)
    maker = ProfileMaker(rng, end_year)
    organisations: list[Organisation] = []
    nodes: list[Node] = []
    seen: set[str] = set()
    plan = [(OrganisationKind.CLUSTER, "CL", clusters), (OrganisationKind.SME, "SME", smes)]
    for kind, prefix, count in plan:
        for i in range(1, count + 1):
            org, fitness = maker.organisation(f"{prefix}-{i:05d}", kind, seen)
            organisations.append(org)
            assert org.country is not None  # the demo always draws one
            nodes.append(Node(org.id, kind, org.country, tuple(org.ecosystems), fitness))

    related = {eco: words.related for eco, words in maker.vocab.ecosystems.items()}
    graph = GraphBuilder(rng, nodes, maker.neighbours, related, start_year, end_year)
    if len(nodes) >= 2:
        graph.memberships()
        graph.projects(round(0.4 * len(nodes)))
        graph.events(round(0.3 * clusters))
        graph.agreements(round(0.5 * clusters))
    _LOG.debug(
        "generated %d organisations and %d collaborations (seed %d)",
        len(organisations),
        len(graph.out),
        seed,
    )
    return DemoData(organisations=organisations, collaborations=graph.out)
