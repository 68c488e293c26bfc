"""The domain's records: organisations, collaborations, projects, suggestions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from matcher.domain.languages import language_codes, normalise_language
from matcher.domain.vocab import (
    CORDIS_COUNTRY_ALIASES,
    COUNTRIES,
    CollaborationKind,
    Ecosystem,
    OrganisationKind,
    Stage,
    normalise_country,
)

__all__ = [
    "MAX_KEYWORDS",
    "MAX_KEYWORD_LENGTH",
    "MAX_SIZE",
    "Collaboration",
    "CountryCode",
    "Organisation",
    "Participation",
    "Project",
    "Reason",
    "Suggestion",
]

_NUTS = re.compile(r"^[A-Z]{2}[0-9A-Z]{0,3}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

# Whitespace as pydantic strips it (Unicode White_Space), spelled out: "\s" differs between
# the regex engines that read these patterns (pydantic's, Python's, ECMAScript's).
_SPACE = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_URL = rf"^(https?://[^\x00-\x1f\x7f{_SPACE}]+)?$"

MAX_KEYWORDS = 50
"""Most keywords of one organisation."""

MAX_KEYWORD_LENGTH = 100
"""Longest keyword, in characters."""

MAX_SIZE = 10_000_000
"""Largest ``size`` (members or employees); SQLite integers end at 2**63."""


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            "an id is 1-128 characters of letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return value


def _check_region(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("region must be a string (a NUTS code)")
    value = value.strip().upper()
    if not _NUTS.match(value):
        raise ValueError(f"region {value!r} is not a NUTS code (e.g. 'DE21', 'FR101')")
    return value


OrganisationId = Annotated[
    str, StringConstraints(max_length=128, pattern=_ID.pattern), AfterValidator(_check_id)
]
CountryCode = Annotated[
    str,
    AfterValidator(normalise_country),
    WithJsonSchema(
        {"type": "string", "enum": sorted(COUNTRIES | set(CORDIS_COUNTRY_ALIASES))},
        mode="validation",
    ),
]
Keyword = Annotated[str, StringConstraints(max_length=MAX_KEYWORD_LENGTH)]
LanguageCode = Annotated[
    str,
    BeforeValidator(lambda v: normalise_language(v) if isinstance(v, str) else v),
    StringConstraints(max_length=2, pattern=r"^[A-Za-z]{2}$"),
    WithJsonSchema({"type": "string", "enum": sorted(language_codes())}, mode="validation"),
]
"""An ISO 639-1 code (any case): checked (with a "did you mean") before its length and
pattern; the JSON schema lists the codes."""


def _dedupe(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return list(seen)


class Organisation(BaseModel):
    """A cluster organisation, company, research body or public body looking for partners.

    No personal contact data is held: only what the organisation publishes about itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: OrganisationId
    name: str = Field(min_length=1, max_length=300, pattern=rf"[^{_SPACE}]")
    kind: OrganisationKind
    country: CountryCode | None = Field(
        default=None, description="ISO 3166-1 alpha-2; None only where a source does not say"
    )
    region: str | None = Field(
        default=None,
        max_length=5,
        pattern=r"^([A-Za-z]{2}[0-9A-Za-z]{0,3})?$",
        description="NUTS code, e.g. DE21",
    )
    description: str = Field(default="", max_length=20_000)
    ecosystems: list[Ecosystem] = Field(default_factory=list, max_length=len(Ecosystem))
    stages: list[Stage] = Field(default_factory=list, max_length=len(Stage))
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    offers: str = Field(default="", max_length=2_000)
    seeks: str = Field(default="", max_length=2_000)
    target_countries: list[CountryCode] = Field(default_factory=list, max_length=60)
    size: int | None = Field(
        default=None, ge=0, le=MAX_SIZE, description="cluster members or employees"
    )
    languages: list[LanguageCode] = Field(
        default_factory=list, max_length=30, description="ISO 639-1 codes"
    )
    website: str | None = Field(
        default=None,
        max_length=2_000,
        pattern=_URL,
        description="an http(s) URL; '' for none",
    )
    updated_at: dt.datetime | None = None

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return _check_region(value)

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("size must be a whole number, not true or false")
        return value

    @field_validator("keywords", mode="after")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return _dedupe(value)

    @field_validator("ecosystems", "stages", "target_countries", mode="after")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("languages", mode="after")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        out = _dedupe([v.lower() for v in value])
        for code in out:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"language {code!r} is not an ISO 639-1 code (e.g. 'de')")
        return out

    @field_validator("website", mode="after")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return value or None  # the pattern is checked first

    def tags_text(self) -> str:
        """Ecosystems, value-chain stages and keywords as one short text ('' if none)."""
        parts = [
            ", ".join(e.label for e in self.ecosystems),
            ", ".join(st.label for st in self.stages),
            ", ".join(self.keywords),
        ]
        return "; ".join(p for p in parts if p)

    def profile_text(self) -> str:
        """The text that describes this organisation for embedding (name excluded)."""
        parts = [self.description]
        if self.keywords:
            parts.append("Technologies: " + ", ".join(self.keywords) + ".")
        if self.offers:
            parts.append("Offers: " + self.offers)
        if self.seeks:
            parts.append("Seeks: " + self.seeks)
        if self.ecosystems:
            parts.append("Ecosystems: " + ", ".join(e.label for e in self.ecosystems) + ".")
        return "\n".join(p for p in parts if p).strip()


class Collaboration(BaseModel):
    """A dated tie between two organisations; stored with the smaller id first."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    organisation_a: OrganisationId
    organisation_b: OrganisationId
    kind: CollaborationKind = CollaborationKind.JOINT_PROJECT
    date: dt.date
    weight: float = Field(default=1.0, gt=0.0, le=1.0)
    source_ref: str = Field(default="", max_length=200, description="e.g. a project id")

    @field_validator("organisation_b", mode="after")
    @classmethod
    def _two_ends(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("organisation_a"):
            raise ValueError("a collaboration needs two different organisations")
        return value

    @model_validator(mode="after")
    def _order(self) -> Collaboration:
        if self.organisation_a > self.organisation_b:
            a, b = self.organisation_b, self.organisation_a
            object.__setattr__(self, "organisation_a", a)
            object.__setattr__(self, "organisation_b", b)
        return self


class Project(BaseModel):
    """A funded project whose text describes what its participants work on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    acronym: str = ""
    title: str = ""
    topic: str = ""
    topic_title: str = ""
    objective: str = ""
    programme: str = ""
    funding_scheme: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    def text(self) -> str:
        """The project's own text: title, topic title and objective, deduplicated."""
        parts = _dedupe([self.title, self.topic_title, self.objective])
        return "\n".join(parts)


class Participation(BaseModel):
    """An organisation's part in a project."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_id: str
    organisation_id: str
    role: str = ""


class Reason(BaseModel):
    """Why a suggestion was made, tied to the signal that produced it."""

    model_config = ConfigDict(frozen=True)

    signal: str = Field(description="the named signal, e.g. 'text'")
    contribution: float = Field(description="its share of the score")
    text: str = Field(description="the reason in words a cluster manager reads")


class Suggestion(BaseModel):
    """One ranked partner suggestion."""

    model_config = ConfigDict(frozen=True)

    rank: int
    organisation: Organisation
    score: float
    reasons: list[Reason] = Field(default_factory=list)
    flags: list[str] = Field(
        default_factory=list, description="e.g. 'already partners' when such pairs are kept"
    )
