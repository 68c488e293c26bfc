"""Organisation profiles: country, place, ecosystems, stages, keywords, names and texts.

One :class:`ProfileMaker` holds the random stream of a generation run; each call to
:meth:`ProfileMaker.organisation` draws the next organisation from it, so the same seed
and the same sequence of calls give the same organisations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Sequence

from matcher.domain.schema import Organisation
from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage
from matcher.lab.demo.texts import Profile, TextWriter, slug
from matcher.lab.demo.vocabulary import Vocabulary, load_vocabulary

__all__ = ["ProfileMaker", "cumulative"]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Running sums of ``weights`` (for ``random.choices(cum_weights=...)``)."""
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _weighted_sample(
    rng: random.Random, items: Sequence[str], cum: Sequence[float], k: int
) -> list[str]:
    """Sample up to ``k`` distinct items with the given cumulative weights."""
    out: list[str] = []
    for _ in range(k * 8):
        if len(out) >= k:
            break
        item = rng.choices(items, cum_weights=cum)[0]
        if item not in out:
            out.append(item)
    return out


class ProfileMaker:
    """Draws organisation profiles from one random stream.

    Args:
        rng: the random stream (shared with the caller, who may draw from it in between).
        end_year: profiles are dated in the two years before it.
        vocab: the vocabularies; the bundled ones when omitted.
    """

    def __init__(self, rng: random.Random, end_year: int, vocab: Vocabulary | None = None) -> None:
        self.rng = rng
        self.end_year = end_year
        self.vocab = vocab or load_vocabulary()
        self.texts = TextWriter(rng, self.vocab, end_year)
        countries = self.vocab.countries
        self.codes: list[str] = list(countries)
        self.neighbours = self.vocab.neighbours
        self.country_cum = cumulative([countries[c].weight for c in self.codes])
        self.macros: dict[str, list[str]] = {c: [] for c in self.codes}
        for macro, members in self.vocab.macro_regions.items():
            for code in members:
                self.macros[code].append(macro)
        # Target-market draw per home country: neighbours and big economies preferred.
        self.target_items: dict[str, list[str]] = {}
        self.target_cum: dict[str, list[float]] = {}
        for home in self.codes:
            others = [c for c in self.codes if c != home]
            weights = [
                countries[c].weight * (4.0 if c in self.neighbours[home] else 1.0) for c in others
            ]
            self.target_items[home] = others
            self.target_cum[home] = cumulative(weights)
        self.ecos: list[Ecosystem] = list(Ecosystem)
        self.stages: list[Stage] = list(Stage)

    # -- profile draws ------------------------------------------------------------------

    def _ecosystems(self, country: str, kind: OrganisationKind) -> tuple[Ecosystem, ...]:
        rng = self.rng
        words = self.vocab.ecosystems
        special = self.vocab.countries[country].specialisations
        weights = [words[e].weight * (2.5 if e in special else 1.0) for e in self.ecos]
        primary = rng.choices(self.ecos, weights=weights)[0]
        counts = (0.3, 0.45, 0.25) if kind is OrganisationKind.CLUSTER else (0.55, 0.35, 0.1)
        n = rng.choices((1, 2, 3), weights=counts)[0]
        chosen = [primary]
        while len(chosen) < n:
            if rng.random() < 0.8:
                extra = rng.choice(words[primary].related)
            else:
                extra = rng.choice(self.ecos)
            if extra not in chosen:
                chosen.append(extra)
        return tuple(chosen)

    def _stages(self, primary: Ecosystem, kind: OrganisationKind) -> tuple[Stage, ...]:
        rng = self.rng
        words = self.vocab.stages
        if kind is OrganisationKind.CLUSTER:
            n = rng.choices((1, 2, 3), weights=(0.1, 0.35, 0.55))[0]
            base = {s: words[s].cluster_weight for s in self.stages}
        else:
            n = rng.choices((1, 2), weights=(0.6, 0.4))[0]
            base = {s: words[s].sme_weight for s in self.stages}
        typical = self.vocab.ecosystems[primary].stages
        weights = [base[s] * (6.0 if s in typical else 0.4) for s in self.stages]
        chosen: list[Stage] = []
        while len(chosen) < n:
            stage = rng.choices(self.stages, weights=weights)[0]
            if stage not in chosen:
                chosen.append(stage)
        order = {s: i for i, s in enumerate(self.stages)}
        return tuple(sorted(chosen, key=order.__getitem__))

    def _keywords(self, ecosystems: tuple[Ecosystem, ...]) -> tuple[str, ...]:
        rng = self.rng
        words = self.vocab.ecosystems
        n = rng.randint(3, 8)
        if len(ecosystems) > 1 and n >= 4 and rng.random() < 0.6:
            extra_n = rng.randint(1, min(2, n - 3))
        else:
            extra_n = 0
        chosen = rng.sample(words[ecosystems[0]].keywords, n - extra_n)
        for _ in range(extra_n):
            pool = [k for k in words[rng.choice(ecosystems[1:])].keywords if k not in chosen]
            chosen.append(rng.choice(pool))
        return tuple(chosen)

    def _profile(self, kind: OrganisationKind) -> Profile:
        rng = self.rng
        country = rng.choices(self.codes, cum_weights=self.country_cum)[0]
        info = self.vocab.countries[country]
        place = rng.choice(info.places)
        region = place.region if place.region is not None and rng.random() < 0.85 else None
        ecosystems = self._ecosystems(country, kind)
        stages = self._stages(ecosystems[0], kind)
        keywords = self._keywords(ecosystems)
        if kind is OrganisationKind.CLUSTER:
            n_targets = rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5))
            size = 0  # set from fitness by the caller
            year = rng.randint(1995, self.end_year - 3)
            en_share = 0.9
        else:
            n_targets = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
            size = round(math.exp(rng.gauss(math.log(16.0), 1.0)))
            size = max(3, min(249, size))
            year = self.end_year - 1 - int(rng.expovariate(1 / 12))
            year = max(1950, year)
            en_share = 0.75
        targets = tuple(
            _weighted_sample(rng, self.target_items[country], self.target_cum[country], n_targets)
        )
        langs = list(self.vocab.region_languages.get(place.region or "", info.languages))
        if rng.random() < en_share:
            langs.append("en")
        return Profile(
            kind=kind,
            country=country,
            region=region,
            place=place.name,
            place_adj=place.adjective,
            ecosystems=ecosystems,
            stages=stages,
            keywords=keywords,
            targets=targets,
            size=size,
            languages=tuple(dict.fromkeys(langs)),
            year=year,
        )

    # -- names ------------------------------------------------------------------------

    def _area_word(self, p: Profile) -> str:
        """Pick a place-like word for a cluster name: region adjective, place, nation, macro."""
        rng = self.rng
        r = rng.random()
        if r < 0.12 and self.macros[p.country]:
            return rng.choice(self.macros[p.country])
        if r < 0.30:
            return self.vocab.countries[p.country].adjective
        if p.place_adj and r < 0.65:
            return p.place_adj
        return p.place

    def _cluster_name(self, p: Profile, theme: str) -> str:
        rng = self.rng
        eco = self.vocab.ecosystems[p.ecosystems[0]]
        area = self._area_word(p)
        place = p.place
        acronym = (rng.choice(eco.stems) + rng.choice(self.vocab.names.acronym_tails)).upper()
        patterns = (
            f"{area} {theme} Cluster",
            f"{area} {theme} Innovation Cluster",
            f"{theme} Cluster {place}",
            f"Cluster {theme} {place}",
            f"{area} {theme} Network",
            f"{area} {theme} Alliance",
            f"{place} {theme} Hub",
            f"{area} {theme} Competence Network",
            f"{area} {theme} Association",
            f"{place} {theme} Valley",
            f"{acronym} {area} {theme} Cluster",
            f"{acronym} Cluster",
            f"{theme} Platform {place}",
        )
        weights = (14, 10, 8, 5, 9, 5, 5, 4, 4, 2, 5, 3, 3)
        return rng.choices(patterns, weights=weights)[0]

    def _sme_name(self, p: Profile) -> tuple[str, str]:
        """Return the full legal name and the short trading name."""
        rng = self.rng
        names = self.vocab.names
        eco = self.vocab.ecosystems[p.ecosystems[0]]
        legal = rng.choice(self.vocab.countries[p.country].legal_forms)
        trade = rng.choice(eco.trades) if rng.random() < 0.55 else rng.choice(names.generic_trades)
        coined = rng.choice(eco.stems) + rng.choice(names.sme_tails)
        surnames = names.surnames.get(p.country, ())
        r = rng.random()
        if r < 0.40:
            short = f"{coined} {trade}"
        elif r < 0.55:
            short = coined
        elif r < 0.67 and surnames:
            short = f"{rng.choice(surnames)} {trade}"
        elif r < 0.72 and len(surnames) > 1:
            a, b = rng.sample(surnames, 2)
            short = f"{a} & {b}"
        elif r < 0.84:
            short = f"{p.place} {trade}"
        else:
            adjective = rng.choice(names.nature_adjectives)
            short = f"{adjective} {rng.choice(names.nature_nouns)} {trade}"
        return f"{short} {legal}", short

    # -- organisations ----------------------------------------------------------------

    def organisation(
        self, org_id: str, kind: OrganisationKind, seen: set[str]
    ) -> tuple[Organisation, int]:
        """Draw one organisation and its fitness (how strongly it attracts partners).

        Args:
            org_id: the organisation's id.
            kind: cluster or SME (the vocabularies write for these two kinds).
            seen: descriptions already used; the new one is added (descriptions are unique).

        Returns:
            The organisation, and its fitness: 1 for SMEs, a heavy-tailed 1-40 for clusters
            (cluster member counts grow with it).
        """
        if kind not in (OrganisationKind.CLUSTER, OrganisationKind.SME):
            raise ValueError(f"the demo vocabularies write clusters and SMEs, not {kind.value}")
        rng = self.rng
        texts = self.texts
        p = self._profile(kind)
        theme = rng.choice(self.vocab.ecosystems[p.ecosystems[0]].themes)
        if kind is OrganisationKind.CLUSTER:
            fitness = int(min(40.0, rng.paretovariate(1.3)))
            size = int(20 + 14 * fitness * rng.uniform(0.6, 1.5) + rng.randint(0, 90))
            p = dataclasses.replace(p, size=max(20, min(600, size)))
            name = self._cluster_name(p, theme)
            short = name
        else:
            fitness = 1
            name, short = self._sme_name(p)
        values = texts.values(p, name, short, theme)
        description = texts.description(p, values)
        while description in seen:
            values = texts.values(p, name, short, theme)
            description = texts.description(p, values)
        seen.add(description)
        offers = texts.offers(p, values)
        seeks = texts.seeks(p, values)
        updated = dt.datetime(self.end_year - 2, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(2 * 365 * 86_400)
        )
        org = Organisation(
            id=org_id,
            name=name,
            kind=kind,
            country=p.country,
            region=p.region,
            description=description,
            ecosystems=list(p.ecosystems),
            stages=list(p.stages),
            keywords=list(p.keywords),
            offers=offers,
            seeks=seeks,
            target_countries=list(p.targets),
            size=p.size,
            languages=list(p.languages),
            website=f"https://www.{slug(short)}.example",
            updated_at=updated,
        )
        return org, fitness
