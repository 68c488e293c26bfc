"""The demo generator's vocabularies, read from the JSON files in ``data/``.

Countries, places, languages, ecosystem words, value-chain stage words, name parts and
sentence patterns live in ``matcher/lab/demo/data/*.json`` (each file says what its fields
mean under ``about``). Country neighbours are not among them: they are the domain's table,
:func:`matcher.domain.vocab.load_neighbours`, the one ranking uses.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from matcher.domain.vocab import ASSOCIATED, EU27, Ecosystem, Stage, load_neighbours

__all__ = [
    "DATA",
    "PATTERN_GROUPS",
    "PLACEHOLDERS",
    "CountryWords",
    "EcosystemWords",
    "NameParts",
    "Place",
    "StageWords",
    "Vocabulary",
    "load_vocabulary",
]

DATA = Path(__file__).resolve().parent / "data"
"""The bundled vocabulary files."""

PATTERN_GROUPS: tuple[str, ...] = (
    "cluster_intros",
    "sme_intros",
    "cluster_activity",
    "sme_activity",
    "tech_common",
    "tech_cluster",
    "tech_sme",
    "market_cluster",
    "market_sme",
    "ambition_common",
    "ambition_cluster",
    "ambition_sme",
    "membership_cluster",
    "extra_cluster",
    "extra_sme",
    "cluster_offers",
    "cluster_seeks",
    "sme_offers",
    "sme_seeks",
)
"""The groups of sentence patterns ``sentences.json`` must define."""

PLACEHOLDERS: frozenset[str] = frozenset(
    """name short where place country cadj eco eco2 theme product product2 customer customer2
    kw1 kw2 kw3 kws stage_acts stage_labels stage_label stage_verb year year2 year3 size
    size_adj company_noun cluster_noun a_cluster_noun a_cadj a_company_noun rank n_sme
    n_large n_rto pct_sme pct label n_proj staff langs targets neighbours partner offer
    need purpose""".split()
)
"""The ``{placeholder}`` names a sentence pattern may use (filled in ``texts.py``)."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_E = TypeVar("_E", Ecosystem, Stage)


@dataclass(frozen=True)
class Place:
    """A place organisations are based in."""

    region: str | None  # NUTS code, when the place has one
    name: str
    adjective: str  # for names ("Bavarian"), or ""


@dataclass(frozen=True)
class CountryWords:
    """A country's names, languages, legal forms, places and strengths."""

    code: str
    name: str
    adjective: str
    languages: tuple[str, ...]
    legal_forms: tuple[str, ...]
    weight: float
    places: tuple[Place, ...]
    specialisations: tuple[Ecosystem, ...]


@dataclass(frozen=True)
class EcosystemWords:
    """The words of one industrial ecosystem."""

    text: str
    weight: float
    themes: tuple[str, ...]
    stems: tuple[str, ...]
    trades: tuple[str, ...]
    keywords: tuple[str, ...]
    products: tuple[str, ...]
    customers: tuple[str, ...]
    needs: Mapping[Stage, tuple[str, ...]]
    related: tuple[Ecosystem, ...]
    stages: tuple[Stage, ...]


@dataclass(frozen=True)
class StageWords:
    """The words of one value-chain stage and how common it is."""

    activity: str
    verb: str
    offer: str
    partners: str
    complements: tuple[Stage, ...]
    sme_weight: float
    cluster_weight: float


@dataclass(frozen=True)
class NameParts:
    """Pieces that organisation names are made of."""

    surnames: Mapping[str, tuple[str, ...]]
    sme_tails: tuple[str, ...]
    generic_trades: tuple[str, ...]
    nature_adjectives: tuple[str, ...]
    nature_nouns: tuple[str, ...]
    acronym_tails: tuple[str, ...]
    cluster_nouns: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """Everything the demo generator draws words from."""

    countries: Mapping[str, CountryWords]
    macro_regions: Mapping[str, tuple[str, ...]]
    neighbours: Mapping[str, tuple[str, ...]]
    language_names: Mapping[str, str]
    region_languages: Mapping[str, tuple[str, ...]]
    ecosystems: Mapping[Ecosystem, EcosystemWords]
    stages: Mapping[Stage, StageWords]
    names: NameParts
    patterns: Mapping[str, tuple[str, ...]]
    purposes: tuple[str, ...]


class _File:
    """Typed access to one JSON file, with errors naming the file and the key."""

    def __init__(self, path: Path) -> None:
        bundled = path.parent == DATA
        self.name = f"matcher/lab/demo/data/{path.name}" if bundled else str(path)
        try:
            self.root: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{self.name}: cannot read: {exc}") from exc

    def fail(self, where: str, message: str) -> ValueError:
        return ValueError(f"{self.name}: {where}: {message}")

    def get(self, where: str) -> Any:
        value = self.root
        for key in where.split("."):
            if not isinstance(value, dict) or key not in value:
                raise self.fail(where, "missing")
            value = value[key]
        return value

    def mapping(self, where: str) -> dict[str, Any]:
        value = self.get(where)
        if not isinstance(value, dict):
            raise self.fail(where, "expected an object")
        return value

    def text(self, where: str) -> str:
        value = self.get(where)
        if not isinstance(value, str):
            raise self.fail(where, "expected a string")
        return value

    def number(self, where: str) -> float:
        value = self.get(where)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, "expected a non-negative number")
        return float(value)

    def texts(self, where: str, *, empty: bool = False) -> tuple[str, ...]:
        value = self.get(where)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "expected a list of strings")
        if not value and not empty:
            raise self.fail(where, "expected at least one entry")
        return tuple(value)

    def ecosystems(self, where: str) -> tuple[Ecosystem, ...]:
        return tuple(self.enum(Ecosystem, where, v) for v in self.texts(where))

    def stages(self, where: str) -> tuple[Stage, ...]:
        return tuple(self.enum(Stage, where, v) for v in self.texts(where))

    def enum(self, kind: type[_E], where: str, value: str) -> _E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(kind)
            raise self.fail(where, f"unknown value {value!r} (allowed: {allowed})") from None


def _countries(f: _File) -> dict[str, CountryWords]:
    found = f.mapping("countries")
    expected = [*EU27, *ASSOCIATED]
    if sorted(found) != sorted(expected):
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise f.fail("countries", f"expected EU27 and associated; missing {missing}, extra {extra}")
    out: dict[str, CountryWords] = {}
    for code in expected:  # the domain's order, which the draws depend on
        at = f"countries.{code}"
        places: list[Place] = []
        for i, item in enumerate(f.get(f"{at}.places")):
            ok = isinstance(item, list) and len(item) == 3
            if not ok or not all(isinstance(v, str) for v in item[1:]):
                raise f.fail(f"{at}.places[{i}]", "expected [NUTS code or null, name, adjective]")
            region = item[0]
            prefix = {"GR": "EL", "GB": "UK"}.get(code, code)
            if region is not None and not (isinstance(region, str) and region.startswith(prefix)):
                raise f.fail(f"{at}.places[{i}]", f"{region!r} is not a NUTS code of {code}")
            places.append(Place(region, item[1], item[2]))
        if not places:
            raise f.fail(f"{at}.places", "expected at least one place")
        out[code] = CountryWords(
            code=code,
            name=f.text(f"{at}.name"),
            adjective=f.text(f"{at}.adjective"),
            languages=f.texts(f"{at}.languages"),
            legal_forms=f.texts(f"{at}.legal_forms"),
            weight=f.number(f"{at}.weight"),
            places=tuple(places),
            specialisations=f.ecosystems(f"{at}.specialisations"),
        )
    return out


def _ecosystems(f: _File) -> dict[Ecosystem, EcosystemWords]:
    found = f.mapping("ecosystems")
    out: dict[Ecosystem, EcosystemWords] = {}
    for eco in Ecosystem:
        at = f"ecosystems.{eco.value}"
        if eco.value not in found:
            raise f.fail(at, "missing")
        needs = {
            f.enum(Stage, f"{at}.needs", key): f.texts(f"{at}.needs.{key}")
            for key in f.mapping(f"{at}.needs")
        }
        out[eco] = EcosystemWords(
            text=f.text(f"{at}.text"),
            weight=f.number(f"{at}.weight"),
            themes=f.texts(f"{at}.themes"),
            stems=f.texts(f"{at}.stems"),
            trades=f.texts(f"{at}.trades"),
            keywords=f.texts(f"{at}.keywords"),
            products=f.texts(f"{at}.products"),
            customers=f.texts(f"{at}.customers"),
            needs=needs,
            related=f.ecosystems(f"{at}.related"),
            stages=f.stages(f"{at}.stages"),
        )
        if len(out[eco].keywords) < 8 or len(out[eco].products) < 2:
            raise f.fail(at, "needs at least 8 keywords and 2 products")
        if len(out[eco].customers) < 2:
            raise f.fail(at, "needs at least 2 customers")
    unknown = sorted(set(found) - {e.value for e in Ecosystem})
    if unknown:
        raise f.fail("ecosystems", f"unknown ecosystems {unknown}")
    return out


def _stages(f: _File) -> dict[Stage, StageWords]:
    out: dict[Stage, StageWords] = {}
    for stage in Stage:
        at = f"stages.{stage.value}"
        out[stage] = StageWords(
            activity=f.text(f"{at}.activity"),
            verb=f.text(f"{at}.verb"),
            offer=f.text(f"{at}.offer"),
            partners=f.text(f"{at}.partners"),
            complements=f.stages(f"{at}.complements"),
            sme_weight=f.number(f"{at}.sme_weight"),
            cluster_weight=f.number(f"{at}.cluster_weight"),
        )
    return out


def _patterns(f: _File) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for group in PATTERN_GROUPS:
        at = f"patterns.{group}"
        out[group] = f.texts(at)
        for pattern in out[group]:
            unknown = sorted(set(_PLACEHOLDER.findall(pattern)) - PLACEHOLDERS)
            if unknown:
                raise f.fail(at, f"unknown placeholders {unknown} in {pattern!r}")
    return out


@functools.cache
def load_vocabulary(directory: Path = DATA) -> Vocabulary:
    """Read and check the vocabularies (cached per directory).

    Args:
        directory: holds the JSON files; the bundled ``data/`` when omitted.

    Raises:
        ValueError: a file is unreadable or a field is missing or wrong (file and key named).
    """
    countries_file = _File(directory / "countries.json")
    languages_file = _File(directory / "languages.json")
    names_file = _File(directory / "names.json")
    sentences_file = _File(directory / "sentences.json")
    countries = _countries(countries_file)
    macro_regions = {
        name: countries_file.texts(f"macro_regions.{name}")
        for name in countries_file.mapping("macro_regions")
    }
    for name, members in macro_regions.items():
        if not set(members) <= set(countries):
            raise countries_file.fail(f"macro_regions.{name}", "names an unknown country")
    domain = load_neighbours()
    neighbours = {
        code: tuple(sorted(c for c in domain.get(code, ()) if c in countries)) for code in countries
    }
    surnames = names_file.mapping("surnames")
    return Vocabulary(
        countries=countries,
        macro_regions=macro_regions,
        neighbours=neighbours,
        language_names={
            code: languages_file.text(f"names.{code}") for code in languages_file.mapping("names")
        },
        region_languages={
            code: languages_file.texts(f"region_languages.{code}")
            for code in languages_file.mapping("region_languages")
        },
        ecosystems=_ecosystems(_File(directory / "ecosystems.json")),
        stages=_stages(_File(directory / "stages.json")),
        names=NameParts(
            surnames={c: names_file.texts(f"surnames.{c}") for c in surnames},
            sme_tails=names_file.texts("sme_tails"),
            generic_trades=names_file.texts("generic_trades"),
            nature_adjectives=names_file.texts("nature_adjectives"),
            nature_nouns=names_file.texts("nature_nouns"),
            acronym_tails=names_file.texts("acronym_tails"),
            cluster_nouns=names_file.texts("cluster_nouns"),
        ),
        patterns=_patterns(sentences_file),
        purposes=sentences_file.texts("purposes"),
    )
