"""Closed vocabularies: organisation kinds, EU ecosystems, value-chain stages, countries."""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path

from matcher.domain import countries as _countries
from matcher.domain.countries import CORDIS_COUNTRY_ALIASES, COUNTRIES

__all__ = [
    "ASSOCIATED",
    "CORDIS_COUNTRY_ALIASES",
    "COUNTRIES",
    "EU27",
    "STAGE_ORDER",
    "CollaborationKind",
    "Ecosystem",
    "FeedbackKind",
    "OrganisationKind",
    "Stage",
    "load_complementarity",
    "load_neighbours",
    "normalise_country",
]


class OrganisationKind(StrEnum):
    """What an organisation is."""

    CLUSTER = "cluster"
    SME = "sme"
    LARGE_COMPANY = "large_company"
    RESEARCH = "research"
    UNIVERSITY = "university"
    PUBLIC_BODY = "public_body"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    OrganisationKind.CLUSTER: "cluster organisation",
    OrganisationKind.SME: "SME",
    OrganisationKind.LARGE_COMPANY: "large company",
    OrganisationKind.RESEARCH: "research organisation",
    OrganisationKind.UNIVERSITY: "university",
    OrganisationKind.PUBLIC_BODY: "public body",
    OrganisationKind.OTHER: "other",
}


class CollaborationKind(StrEnum):
    """How two organisations worked together."""

    JOINT_PROJECT = "joint_project"
    EVENT_MEETING = "event_meeting"
    MEMBERSHIP = "membership"
    AGREEMENT = "agreement"
    OTHER = "other"


class FeedbackKind(StrEnum):
    """What an organisation said about a suggested partner."""

    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    MET = "met"
    AGREEMENT_SIGNED = "agreement_signed"
    BLOCKED = "blocked"


class Ecosystem(StrEnum):
    """The 14 industrial ecosystems of the EU industrial strategy (2021 update)."""

    AEROSPACE_DEFENCE = "aerospace_defence"
    AGRI_FOOD = "agri_food"
    CONSTRUCTION = "construction"
    CULTURAL_CREATIVE = "cultural_creative"
    DIGITAL = "digital"
    ELECTRONICS = "electronics"
    ENERGY_INTENSIVE = "energy_intensive"
    HEALTH = "health"
    MOBILITY = "mobility"
    PROXIMITY_SOCIAL = "proximity_social"
    RENEWABLE_ENERGY = "renewable_energy"
    RETAIL = "retail"
    TEXTILE = "textile"
    TOURISM = "tourism"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return _ECOSYSTEM_LABELS[self]


_ECOSYSTEM_LABELS = {
    Ecosystem.AEROSPACE_DEFENCE: "Aerospace & Defence",
    Ecosystem.AGRI_FOOD: "Agri-food",
    Ecosystem.CONSTRUCTION: "Construction",
    Ecosystem.CULTURAL_CREATIVE: "Cultural & Creative Industries",
    Ecosystem.DIGITAL: "Digital",
    Ecosystem.ELECTRONICS: "Electronics",
    Ecosystem.ENERGY_INTENSIVE: "Energy-Intensive Industries",
    Ecosystem.HEALTH: "Health",
    Ecosystem.MOBILITY: "Mobility, Transport & Automotive",
    Ecosystem.PROXIMITY_SOCIAL: "Proximity, Social Economy & Civil Security",
    Ecosystem.RENEWABLE_ENERGY: "Renewable Energy",
    Ecosystem.RETAIL: "Retail",
    Ecosystem.TEXTILE: "Textile",
    Ecosystem.TOURISM: "Tourism",
}


class Stage(StrEnum):
    """Value-chain stages, upstream to downstream.

    research: basic and applied research, testing; design: product and process design,
    engineering; materials: supply of raw materials and components; production:
    manufacturing and processing; integration: system integration and assembly;
    distribution: logistics, wholesale and trade; services: services to businesses and
    consumers (consulting, software, maintenance, training); end_use: operators and final
    users; recycling: reuse, repair, recycling and waste treatment.
    """

    RESEARCH = "research"
    DESIGN = "design"
    MATERIALS = "materials"
    PRODUCTION = "production"
    INTEGRATION = "integration"
    DISTRIBUTION = "distribution"
    SERVICES = "services"
    END_USE = "end_use"
    RECYCLING = "recycling"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.RESEARCH: "research",
    Stage.DESIGN: "design",
    Stage.MATERIALS: "supply of materials and components",
    Stage.PRODUCTION: "production",
    Stage.INTEGRATION: "integration",
    Stage.DISTRIBUTION: "distribution",
    Stage.SERVICES: "services",
    Stage.END_USE: "end use",
    Stage.RECYCLING: "recycling",
}

EU27: tuple[str, ...] = (
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
)
"""EU member states, ISO 3166-1 alpha-2 (Greece as GR)."""

ASSOCIATED: tuple[str, ...] = (
    "AL",
    "AM",
    "BA",
    "FO",
    "GB",
    "GE",
    "IL",
    "IS",
    "MD",
    "ME",
    "MK",
    "NO",
    "RS",
    "TN",
    "TR",
    "UA",
    "CH",
)
"""Countries associated with EU programmes (Horizon Europe / COSME / SMP), plus CH."""


def normalise_country(code: str) -> str:
    """Return the ISO 3166-1 alpha-2 code for ``code`` (accepts EL and UK).

    See :func:`matcher.domain.countries.normalise_country`.

    Raises:
        ValueError: the code is not a known country (the message suggests one).

    """
    return _countries.normalise_country(code)


# -- relations between vocabulary items -------------------------------------------------

_DATA = Path(__file__).resolve().parent / "data"

STAGE_ORDER: tuple[Stage, ...] = (
    Stage.RESEARCH,
    Stage.DESIGN,
    Stage.MATERIALS,
    Stage.PRODUCTION,
    Stage.INTEGRATION,
    Stage.DISTRIBUTION,
    Stage.SERVICES,
    Stage.END_USE,
    Stage.RECYCLING,
)
"""Stages upstream to downstream; recycling closes the loop back to materials."""


def load_complementarity(path: Path | None = None) -> dict[frozenset[Ecosystem], str]:
    """The editable table of ecosystems that supply or buy from each other.

    Args:
        path: a CSV with columns ``ecosystem_a``, ``ecosystem_b``, ``relation``; the
            bundled ``matcher/domain/data/complementarity.csv`` when omitted.

    Raises:
        ValueError: a row names an unknown ecosystem (with its line).
    """
    path = path or _DATA / "complementarity.csv"
    out: dict[frozenset[Ecosystem], str] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                pair = frozenset((Ecosystem(row["ecosystem_a"]), Ecosystem(row["ecosystem_b"])))
            except ValueError as exc:
                raise ValueError(f"{path.name}, line {line}: {exc}") from exc
            out[pair] = row["relation"]
    return out


def load_neighbours(path: Path | None = None) -> dict[str, frozenset[str]]:
    """Countries sharing a border (or a short sea link), symmetric.

    Args:
        path: a CSV with columns ``country`` and ``neighbours`` (``;``-separated ISO
            codes); the bundled ``matcher/domain/data/neighbours.csv`` when omitted.
    """
    path = path or _DATA / "neighbours.csv"
    pairs: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            country = normalise_country(row["country"])
            for other in filter(None, (row["neighbours"] or "").split(";")):
                other = normalise_country(other)
                pairs.setdefault(country, set()).add(other)
                pairs.setdefault(other, set()).add(country)
    return {k: frozenset(v) for k, v in pairs.items()}
