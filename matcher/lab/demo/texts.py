"""Profile texts: descriptions, offers and seeks written from sentence patterns.

A pattern's ``{placeholders}`` are filled from a per-organisation table of values
(:meth:`TextWriter.values`); a pattern is skipped when one of its values is empty.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage
from matcher.lab.demo.vocabulary import Vocabulary

__all__ = ["Profile", "TextWriter", "fill", "join", "slug"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Profile:
    """Random draws shared by an organisation's name, texts and fields."""

    kind: OrganisationKind
    country: str
    region: str | None
    place: str
    place_adj: str
    ecosystems: tuple[Ecosystem, ...]
    stages: tuple[Stage, ...]
    keywords: tuple[str, ...]
    targets: tuple[str, ...]
    size: int
    languages: tuple[str, ...]
    year: int


def join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(phrase: str) -> str:
    """Prefix ``phrase`` with "a" or "an"."""
    vowel = phrase[:1].lower() in "aeiou" and not phrase.startswith(("Eu", "Uk", "Uni"))
    return ("an " if vowel or phrase.startswith("SME") else "a ") + phrase


def _lower_theme(theme: str) -> str:
    """Lower-case a theme for use inside a sentence, keeping acronyms."""
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in theme.split())


def fill(rng: random.Random, patterns: Sequence[str], values: Mapping[str, str]) -> str:
    """One of ``patterns`` whose placeholders all have values, filled and capitalised."""
    usable = [p for p in patterns if all(values.get(k, "") for k in _PLACEHOLDER.findall(p))]
    pattern = rng.choice(usable)
    return _cap(_PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern))


_ASCII_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d",
     "Đ": "D", "ı": "i", "þ": "th", "ð": "d", "&": "and"}
)  # fmt: skip


def slug(text: str) -> str:
    """A lower-case ASCII slug of ``text`` (at most 50 characters) for web addresses."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return out[:50].strip("-") or "org"


class TextWriter:
    """Writes an organisation's texts from its profile, drawing from a shared stream."""

    def __init__(self, rng: random.Random, vocab: Vocabulary, end_year: int) -> None:
        self.rng = rng
        self.vocab = vocab
        self.end_year = end_year

    def values(self, p: Profile, name: str, short: str, theme: str) -> dict[str, str]:
        """The placeholder values of one organisation (a fresh draw at each call)."""
        rng = self.rng
        vocab = self.vocab
        info = vocab.countries[p.country]
        eco = vocab.ecosystems[p.ecosystems[0]]
        stages = vocab.stages
        secondary = p.ecosystems[1] if len(p.ecosystems) > 1 else rng.choice(eco.related)
        products = rng.sample(eco.products, 2)
        customers = rng.sample(eco.customers, 2)
        kws = list(p.keywords)
        rng.shuffle(kws)
        country_name = info.name
        where_options = [p.place, f"{p.place}, {country_name}"]
        if p.place != country_name:
            where_options.append(f"{p.place} ({country_name})")
        where = rng.choice(where_options) if rng.random() < 0.85 else country_name
        nb = vocab.neighbours[p.country]
        nb_names = [vocab.countries[c].name for c in rng.sample(nb, min(2, len(nb)))]
        size = p.size
        n_large = max(1, round(size * rng.uniform(0.05, 0.15)))
        n_rto = max(2, round(size * rng.uniform(0.05, 0.15)))
        n_sme = max(1, size - n_large - n_rto - round(size * rng.uniform(0.0, 0.12)))
        if p.kind is OrganisationKind.CLUSTER:
            size_adj = ""
            company_noun = ""
        else:
            size_adj = "small" if size < 50 else "medium-sized"
            if p.year >= self.end_year - 5 and size < 30:
                company_noun = "start-up"
            elif Stage.PRODUCTION in p.stages:
                company_noun = rng.choice(("manufacturer", "company", "SME"))
            elif Stage.SERVICES in p.stages:
                company_noun = rng.choice(("service provider", "company", "SME"))
            else:
                company_noun = rng.choice(("company", "SME", "technology company"))
        langs = [vocab.language_names.get(code, code) for code in p.languages]
        cluster_noun = rng.choice(vocab.names.cluster_nouns)
        return {
            "name": name,
            "short": short,
            "where": where,
            "place": p.place,
            "country": country_name,
            "cadj": info.adjective,
            "eco": eco.text,
            "eco2": vocab.ecosystems[secondary].text,
            "theme": _lower_theme(theme),
            "product": products[0],
            "product2": products[1],
            "customer": customers[0],
            "customer2": customers[1],
            "kw1": kws[0],
            "kw2": kws[1],
            "kw3": kws[2],
            "kws": join(kws[:3]),
            "stage_acts": join([stages[s].activity for s in p.stages]),
            "stage_labels": join([s.label for s in p.stages]),
            "stage_label": rng.choice(p.stages).label,
            "stage_verb": stages[p.stages[0]].verb,
            "year": str(p.year),
            "year2": str(self.end_year + rng.randint(2, 5)),
            "year3": str(rng.randint(max(p.year, self.end_year - 12), self.end_year - 1)),
            "size": str(size),
            "size_adj": size_adj,
            "company_noun": company_noun,
            "cluster_noun": cluster_noun,
            "a_cluster_noun": _article(cluster_noun),
            "a_cadj": _article(info.adjective),
            "a_company_noun": _article(company_noun) if company_noun else "",
            "rank": "largest" if size >= 250 else "most active",
            "n_sme": str(n_sme),
            "n_large": str(n_large),
            "n_rto": str(n_rto),
            "pct_sme": str(round(100 * n_sme / max(1, size))),
            "pct": str(rng.randrange(15, 75, 5)),
            "label": rng.choice(("Bronze", "Bronze", "Silver", "Silver", "Gold")),
            "n_proj": str(
                rng.randint(2, 25) if p.kind is OrganisationKind.CLUSTER else rng.randint(1, 6)
            ),
            "staff": str(rng.randint(3, 15)),
            "langs": join(langs),
            "targets": join([vocab.countries[c].name for c in p.targets]),
            "neighbours": join(nb_names),
            "partner": stages[rng.choice(stages[p.stages[0]].complements)].partners,
            "offer": stages[rng.choice(p.stages)].offer,
            "need": self.need(p),
            "purpose": rng.choice(vocab.purposes),
        }

    def need(self, p: Profile) -> str:
        """Describe a complementary partner, ecosystem-specific where possible."""
        rng = self.rng
        stages = self.vocab.stages
        eco = self.vocab.ecosystems[p.ecosystems[0]]
        wanted = [s for s in stages[rng.choice(p.stages)].complements if s not in p.stages]
        wanted = wanted or list(stages[p.stages[0]].complements)
        stage = rng.choice(wanted)
        if stage in eco.needs and rng.random() < 0.8:
            return rng.choice(eco.needs[stage])
        if rng.random() < 0.5:
            other = self.vocab.ecosystems[rng.choice(eco.related)]
            return f"{stages[stage].partners} from the {other.text} ecosystem"
        return f"{stages[stage].partners} working in {eco.text}"

    def description(self, p: Profile, values: Mapping[str, str]) -> str:
        """A description of 3-6 sentences and about 50-110 words."""
        rng = self.rng
        pat = self.vocab.patterns
        cluster = p.kind is OrganisationKind.CLUSTER
        own = "cluster" if cluster else "sme"
        intro = fill(rng, pat[f"{own}_intros"], values)
        activity = fill(rng, pat[f"{own}_activity"], values)
        groups: list[tuple[str, ...]] = [
            pat["tech_common"] + pat[f"tech_{own}"],
            pat[f"market_{own}"],
            pat["ambition_common"] + pat[f"ambition_{own}"],
            pat[f"extra_{own}"],
        ]
        if cluster:
            groups.append(pat["membership_cluster"])
        rng.shuffle(groups)
        extras = [fill(rng, g, values) for g in groups]
        want = rng.randint(3, 6) - 2
        body = [intro, activity]
        chosen = extras[:want]
        spare = extras[want:]

        def words(parts: list[str]) -> int:
            return sum(len(s.split()) for s in body + parts)

        while words(chosen) < 50 and spare:
            chosen.append(spare.pop(0))
        while words(chosen) > 110 and len(chosen) > 1:
            chosen.pop()
        if rng.random() < 0.5 and chosen:
            # Closing sentences first sometimes, for structural variety.
            chosen.insert(0, chosen.pop())
        sentences = body[:1] + chosen + body[1:] if rng.random() < 0.2 else body + chosen
        return " ".join(sentences)

    def offers(self, p: Profile, values: Mapping[str, str]) -> str:
        """What the organisation offers, in one sentence."""
        own = "cluster" if p.kind is OrganisationKind.CLUSTER else "sme"
        return fill(self.rng, self.vocab.patterns[f"{own}_offers"], values)

    def seeks(self, p: Profile, values: Mapping[str, str]) -> str:
        """What the organisation seeks, in one sentence."""
        own = "cluster" if p.kind is OrganisationKind.CLUSTER else "sme"
        return fill(self.rng, self.vocab.patterns[f"{own}_seeks"], values)
