"""Request and response bodies of the HTTP API (the domain's records where they fit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from matcher.domain.schema import Collaboration, CountryCode, Organisation, Reason, Suggestion
from matcher.domain.vocab import Ecosystem, FeedbackKind, OrganisationKind, Stage
from matcher.ranking.rules import Filters

__all__ = [
    "ID_PATTERN",
    "MAX_BATCH",
    "MAX_COUNTRIES",
    "MAX_ID_LENGTH",
    "MAX_K",
    "MAX_LANGUAGES",
    "MAX_SEED",
    "MAX_TOPIC_LENGTH",
    "BatchResult",
    "CollaborationIn",
    "CollaborationsAdded",
    "CollaborationsIn",
    "FeedbackIn",
    "FeedbackRecorded",
    "FiltersIn",
    "Following",
    "Health",
    "Language",
    "OrganisationId",
    "OrganisationIn",
    "OrganisationSummary",
    "OrganisationWritten",
    "OrganisationsIn",
    "ProfileRecommendation",
    "Ready",
    "RecommendRequest",
    "Recommendation",
    "SuggestionOut",
    "suggestions_out",
    "with_utc",
]

MAX_K = 100
"""Most suggestions one request may ask for."""

MAX_BATCH = 1000
"""Most organisations or collaborations in one batch write."""

MAX_SEED = 50
"""Most members of a seed group (consortium completion)."""

MAX_COUNTRIES = 60
"""Most countries in a filter."""

MAX_LANGUAGES = 60
"""Most languages in a filter."""

MAX_TOPIC_LENGTH = 2_000
"""Longest call topic (consortium completion), in characters."""

MAX_ID_LENGTH = 128
"""Longest organisation id."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
"""An organisation id (as in :mod:`matcher.domain.schema`)."""

OrganisationId = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
Language = Annotated[str, StringConstraints(max_length=2, pattern=r"^[A-Za-z]{2}$")]


def _json_type(value: object, types: tuple[type, ...], what: str) -> object:
    """``value`` when it has one of the JSON ``types`` (a bool is not a number).

    A float with no fraction passes for an int, as JSON Schema's ``integer`` has it.
    """
    if isinstance(value, bool) and bool not in types:
        raise ValueError(f"expected {what}, not true or false")
    if isinstance(value, float) and int in types and value.is_integer():
        return value
    if value is not None and not isinstance(value, types):
        raise ValueError(f"expected {what}, not {type(value).__name__}")
    return value


class OrganisationIn(Organisation):
    """An organisation as the API takes it: each field of the JSON type its schema states.

    The domain's :class:`~matcher.domain.schema.Organisation` also reads files, where every
    value is text (``"12"`` for a size); over JSON a size is a number and a date a string.
    """

    @field_validator("size", mode="before")
    @classmethod
    def _json_size(cls, value: object) -> object:
        return _json_type(value, (int,), "a whole number")

    @field_validator("updated_at", mode="before")
    @classmethod
    def _json_updated_at(cls, value: object) -> object:
        return _json_type(value, (str,), "a date-time string (RFC 3339)")

    def to_domain(self) -> Organisation:
        """The same values as the domain's record."""
        return Organisation.model_construct(self.model_fields_set, **dict(self))


class CollaborationIn(Collaboration):
    """A collaboration as the API takes it (JSON types, as :class:`OrganisationIn`).

    Both ends may be the same organisation here: the route refuses that with 409
    ``same_organisation`` (no schema can say that two fields differ).
    """

    @field_validator("organisation_b", mode="after")
    @classmethod
    def _two_ends(cls, value: str, info: ValidationInfo) -> str:
        return value  # checked by the route

    @field_validator("date", mode="before")
    @classmethod
    def _json_date(cls, value: object) -> object:
        return _json_type(value, (str,), "a date string (YYYY-MM-DD)")

    @field_validator("weight", mode="before")
    @classmethod
    def _json_weight(cls, value: object) -> object:
        return _json_type(value, (int, float), "a number")

    def to_domain(self) -> Collaboration:
        """The domain's record (its ends in order)."""
        return Collaboration.model_validate(dict(self))


class OrganisationSummary(BaseModel):
    """An organisation as a suggestion shows it (the full profile: GET /organisations/{id})."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    kind: OrganisationKind
    country: str | None = None
    region: str | None = None
    ecosystems: list[Ecosystem] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    website: str | None = None

    @classmethod
    def of(cls, org: Organisation) -> OrganisationSummary:
        """The summary of a profile."""
        return cls(
            id=org.id,
            name=org.name,
            kind=org.kind,
            country=org.country,
            region=org.region,
            ecosystems=org.ecosystems,
            stages=org.stages,
            keywords=org.keywords,
            website=org.website,
        )


class SuggestionOut(BaseModel):
    """One ranked partner; ``reasons`` are empty unless ``explain`` was asked for."""

    rank: int = Field(ge=1)
    organisation: OrganisationSummary
    score: float
    reasons: list[Reason] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="e.g. 'already partners'")


def with_utc(org: Organisation) -> Organisation:
    """The profile with ``updated_at`` given an offset (UTC where the store has none).

    The store accepts times without an offset; OpenAPI's ``date-time`` (RFC 3339) needs one.
    """
    if org.updated_at is None or org.updated_at.tzinfo is not None:
        return org
    return org.model_copy(update={"updated_at": org.updated_at.replace(tzinfo=dt.UTC)})


class LeftOutOut(BaseModel):
    """How many organisations a list left out, and why."""

    partners: int = Field(ge=0, description="existing partners (never suggested again)")
    blocked: int = Field(ge=0, description="pairs where either side blocked the other")
    not_interested: int = Field(ge=0, description="pairs where either side said 'not interested'")
    filtered: int = Field(ge=0, description="organisations the request's filters excluded")


def suggestions_out(suggestions: Sequence[Suggestion], *, explain: bool) -> list[SuggestionOut]:
    """The API's view of the facade's suggestions."""
    return [
        SuggestionOut(
            rank=s.rank,
            organisation=OrganisationSummary.of(s.organisation),
            score=s.score,
            reasons=s.reasons if explain else [],
            flags=s.flags,
        )
        for s in suggestions
    ]


_REASON_EXAMPLE: dict[str, Any] = {
    "signal": "complementarity",
    "contribution": 0.41,
    "text": "complements your stage in Agri-food: you do production, they do distribution",
}
_SUGGESTION_EXAMPLE: dict[str, Any] = {
    "rank": 1,
    "organisation": {
        "id": "SME-COLD-IT",
        "name": "FreddoLog Srl",
        "kind": "sme",
        "country": "IT",
        "region": "ITH5",
        "ecosystems": ["agri_food"],
        "stages": ["distribution"],
        "keywords": ["cold chain", "logistics"],
        "website": "https://freddolog.example.it",
    },
    "score": 0.734,
    "reasons": [_REASON_EXAMPLE],
    "flags": [],
}


class Recommendation(BaseModel):
    """The ranked partners of an organisation in the store."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": "CL-AGRI-ES",
                    "k": 1,
                    "suggestions": [_SUGGESTION_EXAMPLE],
                    "left_out": {"partners": 2, "blocked": 0, "not_interested": 0, "filtered": 0},
                    "calibrated": True,
                    "note": None,
                }
            ]
        }
    )

    organisation_id: str
    k: int
    suggestions: list[SuggestionOut]
    left_out: LeftOutOut
    calibrated: bool = Field(
        description="scores are the probability of a new partnership within two years, "
        "calibrated on the store's history (false: ranking scores of the hand weights)"
    )
    note: str | None = Field(default=None, description="e.g. 'no good match: …'")


class ProfileRecommendation(BaseModel):
    """The ranked partners of a profile (cold start) or of a seed group (completion)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "profile",
                    "k": 1,
                    "suggestions": [_SUGGESTION_EXAMPLE],
                    "calibrated": True,
                    "note": None,
                }
            ]
        }
    )

    mode: Literal["profile", "consortium"]
    k: int
    suggestions: list[SuggestionOut]
    calibrated: bool = Field(description="as in GET /recommend")
    note: str | None = Field(default=None, description="e.g. 'no good match: …'")


class FiltersIn(BaseModel):
    """Hard filters on candidates; an empty list means no filter on that field."""

    model_config = ConfigDict(extra="forbid")

    countries: list[CountryCode] = Field(default_factory=list, max_length=MAX_COUNTRIES)
    exclude_countries: list[CountryCode] = Field(default_factory=list, max_length=MAX_COUNTRIES)
    kinds: list[OrganisationKind] = Field(default_factory=list, max_length=len(OrganisationKind))
    ecosystems: list[Ecosystem] = Field(default_factory=list, max_length=len(Ecosystem))
    stages: list[Stage] = Field(default_factory=list, max_length=len(Stage))
    languages: list[Language] = Field(default_factory=list, max_length=MAX_LANGUAGES)

    def to_filters(self) -> Filters:
        """The ranking's filters."""
        return Filters(
            countries=frozenset(self.countries),
            exclude_countries=frozenset(self.exclude_countries),
            kinds=frozenset(self.kinds),
            ecosystems=frozenset(self.ecosystems),
            stages=frozenset(self.stages),
            languages=frozenset(v.lower() for v in self.languages),
        )


_RECOMMEND_EXAMPLES: list[dict[str, Any]] = [
    {
        "profile": {
            "id": "new-member-1",
            "name": "Nordic Cold Chain Start-up",
            "kind": "sme",
            "country": "SE",
            "description": "Sensors and software that monitor food in transit.",
            "ecosystems": ["agri_food", "digital"],
            "offers": "IoT temperature monitoring for refrigerated transport",
            "seeks": "food producers and logistics clusters for pilots",
        },
        "k": 5,
        "explain": True,
    },
    {
        "seed": ["CL-AGRI-ES", "SME-COLD-IT"],
        "topic": "Reducing food loss in cold chains with digital monitoring",
        "k": 5,
        "explain": True,
        "filters": {"kinds": ["research", "university"]},
    },
]


def _one_of_two_modes(schema: dict[str, Any]) -> None:
    """State the two modes in the schema: ``profile``, or ``seed`` with an optional topic.

    The three fields are optional but never null, and exactly one mode is given.
    """
    properties = schema["properties"]
    for name in ("profile", "seed", "topic"):
        field = properties[name]
        branches = [b for b in field.pop("anyOf", []) if b.get("type") != "null"]
        field.pop("default", None)
        if branches:
            field.update(branches[0])
    schema["anyOf"] = [
        {
            "required": ["profile"],
            "not": {"anyOf": [{"required": ["seed"]}, {"required": ["topic"]}]},
        },
        {"required": ["seed"], "not": {"required": ["profile"]}},
    ]
    schema["examples"] = _RECOMMEND_EXAMPLES


class RecommendRequest(BaseModel):
    """Either a ``profile`` not in the store (cold start) or a ``seed`` group to complete."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_of_two_modes)

    profile: OrganisationIn | None = Field(
        default=None, description="a profile not in the store: cold-start suggestions"
    )
    seed: list[OrganisationId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SEED,
        description="ids of a consortium's members: partners that complete it",
    )
    topic: str | None = Field(
        default=None, max_length=MAX_TOPIC_LENGTH, description="with seed: the call topic, in words"
    )
    k: int = Field(default=10, ge=1, le=MAX_K, description="how many suggestions")
    explain: bool = Field(default=False, strict=True, description="include the reasons")
    filters: FiltersIn = Field(default_factory=FiltersIn)

    @field_validator("k", mode="before")
    @classmethod
    def _json_k(cls, value: object) -> object:
        return _json_type(value, (int,), "a whole number")

    @field_validator("profile", "seed", "topic", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out rather than send null")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> RecommendRequest:
        if (self.profile is None) == (self.seed is None):
            raise ValueError("give exactly one of 'profile' (cold start) or 'seed' (a group)")
        if self.topic is not None and self.seed is None:
            raise ValueError("'topic' goes with 'seed' (consortium completion)")
        return self


_ORG_EXAMPLE: dict[str, Any] = {
    "id": "SME-COLD-IT",
    "name": "FreddoLog Srl",
    "kind": "sme",
    "country": "IT",
    "region": "ITH5",
    "description": "Cold-chain logistics for fresh produce across southern Europe.",
    "ecosystems": ["agri_food"],
    "stages": ["distribution"],
    "keywords": ["cold chain", "logistics"],
    "offers": "refrigerated transport and warehousing",
    "seeks": "producers' clusters exporting fresh food",
    "languages": ["it", "en"],
    "website": "https://freddolog.example.it",
}


class OrganisationsIn(BaseModel):
    """A batch of organisations, written all or nothing."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"organisations": [_ORG_EXAMPLE]}]}
    )

    organisations: list[OrganisationIn] = Field(min_length=1, max_length=MAX_BATCH)


class OrganisationWritten(BaseModel):
    """The organisation as stored."""

    created: bool = Field(description="true when the id was new")
    organisation: Organisation


class BatchResult(BaseModel):
    """What a batch upsert wrote."""

    count: int
    ids: list[str]


class CollaborationsIn(BaseModel):
    """Collaborations to add, all or nothing; both ends must be in the store."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "collaborations": [
                        {
                            "organisation_a": "CL-AGRI-ES",
                            "organisation_b": "SME-COLD-IT",
                            "kind": "event_meeting",
                            "date": "2026-10-14",
                            "source_ref": "C2LAB-2026-10",
                        }
                    ]
                }
            ]
        },
    )

    collaborations: list[CollaborationIn] = Field(min_length=1, max_length=MAX_BATCH)


class CollaborationsAdded(BaseModel):
    """How many collaborations were new or changed."""

    changed: int


class FeedbackIn(BaseModel):
    """What an organisation said about a suggested partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": "CL-AGRI-ES",
                    "other_id": "SME-COLD-IT",
                    "kind": "interested",
                }
            ]
        },
    )

    organisation_id: OrganisationId = Field(description="who gives the feedback")
    other_id: OrganisationId = Field(
        description="the suggested partner it is about (another organisation: 409 if the same)"
    )
    kind: FeedbackKind


class FeedbackRecorded(BaseModel):
    """The feedback as recorded."""

    organisation_id: str
    other_id: str
    kind: FeedbackKind
    recorded_at: dt.datetime


class Health(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class Following(BaseModel):
    """A follower's progress in the writer's change feed (``docs/operations.md``)."""

    writer_sequence: int | None = Field(
        description="the writer's sequence at the last answer (None: no answer yet)"
    )
    behind: int | None = Field(description="changes of the writer not in this copy yet")
    checked_at: str | None = Field(description="when the feed last answered (ISO 8601)")
    error: str | None = Field(description="why the last ask failed, if it did")


class Ready(BaseModel):
    """The state is loaded and serves exactly the store."""

    status: Literal["ready"] = "ready"
    organisations: int = Field(description="organisations this process serves")
    store_organisations: int = Field(description="organisations in the store")
    sequence: int = Field(description="the store's change-log sequence this process serves")
    snapshot: str = Field(description="the snapshot's folder name")
    snapshot_sequence: int = Field(description="the change-log sequence the snapshot reflects")
    built_at: str = Field(description="when the snapshot was built (ISO 8601)")
    worker: int = Field(description="the answering worker's process id")
    following: Following | None = Field(
        default=None, description="a follower (MATCHER_FOLLOW): how far it follows the writer"
    )
