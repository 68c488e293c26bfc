"""The HTTP endpoints: each a few lines over a facade method.

Handlers are plain ``def`` so FastAPI runs them in its thread pool: a slow request (a
cold-start encoding, a write that re-indexes) never blocks the event loop, and reads
never wait for a write (the facade swaps its state atomically).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from matcher.app.matcher import Matcher
from matcher.domain.errors import UnknownOrganisationError
from matcher.domain.schema import Collaboration, CountryCode, Organisation
from matcher.domain.vocab import CollaborationKind, Ecosystem, OrganisationKind, Stage
from service.admission import RankingSlots
from service.deps import get_matcher
from service.errors import ApiError, responses
from service.schemas import (
    ID_PATTERN,
    MAX_COUNTRIES,
    MAX_ID_LENGTH,
    MAX_K,
    MAX_LANGUAGES,
    BatchResult,
    CollaborationsAdded,
    CollaborationsIn,
    FeedbackIn,
    FeedbackRecorded,
    FiltersIn,
    Language,
    LeftOutOut,
    OrganisationIn,
    OrganisationsIn,
    OrganisationWritten,
    ProfileRecommendation,
    Recommendation,
    RecommendRequest,
    suggestions_out,
    with_utc,
)
from service.security import check_read_key, require_read_key, require_write_key
from service.workpool import WorkPool

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

MatcherDep = Annotated[Matcher, Depends(get_matcher)]
PathId = Annotated[
    str,
    Path(
        max_length=MAX_ID_LENGTH,
        pattern=ID_PATTERN,
        description="an organisation id",
        examples=["CL-AGRI-ES"],
    ),
]
_READ = [Depends(require_read_key)]
_WRITE = [Depends(require_write_key)]


class RecommendQuery(BaseModel):
    """Query of GET /recommend: the organisation, how many, and the hard filters."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(
        max_length=MAX_ID_LENGTH,
        pattern=ID_PATTERN,
        description="an organisation in the store",
        examples=["CL-AGRI-ES"],
    )
    k: int = Field(default=10, ge=1, le=MAX_K, description="how many suggestions")
    explain: bool = Field(default=False, description="include the reasons of each suggestion")
    countries: list[CountryCode] = Field(
        default_factory=list,
        max_length=MAX_COUNTRIES,
        description="only these countries (repeat the key)",
    )
    exclude_countries: list[CountryCode] = Field(
        default_factory=list, max_length=MAX_COUNTRIES, description="never these countries"
    )
    kinds: list[OrganisationKind] = Field(
        default_factory=list, max_length=len(OrganisationKind), description="only these kinds"
    )
    ecosystems: list[Ecosystem] = Field(
        default_factory=list, max_length=len(Ecosystem), description="only these ecosystems"
    )
    stages: list[Stage] = Field(
        default_factory=list, max_length=len(Stage), description="only these stages"
    )
    languages: list[Language] = Field(
        default_factory=list,
        max_length=MAX_LANGUAGES,
        description="only organisations speaking one",
    )

    def filters(self) -> FiltersIn:
        """The filters part."""
        return FiltersIn(
            countries=self.countries,
            exclude_countries=self.exclude_countries,
            kinds=self.kinds,
            ecosystems=self.ecosystems,
            stages=self.stages,
            languages=self.languages,
        )


async def recommend(
    query: Annotated[RecommendQuery, Query()], matcher: MatcherDep, request: Request
) -> Response:
    """The ``k`` best partners, best first; with ``explain=true`` the reasons of each.

    Hard rules first (the filters; never the organisation itself; blocked pairs never;
    existing partners and 'not interested' pairs left out or flagged, as configured).
    List filters take repeated keys: ``?countries=DE&countries=FR``.
    """
    # The busiest route: one trip to the thread pool for the ranking and the JSON (a plain
    # function would also send its response's validation there), and the answer is the
    # model's own JSON, which FastAPI would otherwise validate and serialise again.
    slots: RankingSlots = request.app.state.rankings
    async with slots.slot():
        return await run_in_threadpool(_recommend, matcher, query)


_LIST_PARAMS = frozenset(
    name for name, f in RecommendQuery.model_fields.items() if get_origin(f.annotation) is list
)


def recommend_query(request: Request) -> RecommendQuery:
    """The query of ``GET /recommend``, validated in one pass, as FastAPI would.

    Raises:
        RequestValidationError: any violation (422), located under ``query``.
    """
    params = request.query_params
    data = {k: params.getlist(k) if k in _LIST_PARAMS else params[k] for k in params}
    try:
        return RecommendQuery.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def _recommend_direct(request: Request) -> Response:
    check_read_key(request)
    matcher = await get_matcher(request)
    return await recommend(recommend_query(request), matcher, request)


class _DirectRoute(APIRoute):
    """``GET /recommend``: documented from :func:`recommend`'s signature, handled directly.

    FastAPI reads a query model field by field and solves every dependency on each request;
    under load that was a large part of a read's cost outside the ranking (a py-spy profile
    of a worker; ``benchmarks/load_ab.py`` measures the difference). The direct handler
    runs the same steps in the same order: the read key (401/403), the loaded facade (503),
    one validation of the query model (422, at the same locations), then
    :func:`recommend`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The direct handler."""
        return _recommend_direct


router.add_api_route(
    "/recommend",
    recommend,
    methods=["GET"],
    tags=["recommend"],
    summary="Ranked partners of an organisation in the store",
    dependencies=_READ,
    response_model=Recommendation,
    responses=responses(401, 403, 404, 409, 503),
    route_class_override=_DirectRoute,
)


def _recommend(matcher: Matcher, query: RecommendQuery) -> Response:
    found = matcher.recommend(
        query.organisation_id,
        k=query.k,
        filters=query.filters().to_filters(),
        explain=query.explain,
    )
    out = Recommendation(
        organisation_id=query.organisation_id,
        k=query.k,
        suggestions=suggestions_out(found, explain=query.explain),
        left_out=LeftOutOut(**dataclasses.asdict(found.left_out)),
        calibrated=found.calibrated,
        note=found.note,
    )
    return Response(out.model_dump_json(), media_type="application/json")


@router.post(
    "/recommend",
    tags=["recommend"],
    summary="Ranked partners of a new profile (cold start) or of a seed group (completion)",
    dependencies=_READ,
    responses=responses(401, 403, 404, 409, 503),
)
async def recommend_for(
    body: RecommendRequest, matcher: MatcherDep, request: Request
) -> ProfileRecommendation:
    """Suggestions for a profile not in the store, or to complete a group.

    Give ``profile`` for a profile not in the store (its texts are encoded on the fly;
    graph signals are absent), or ``seed`` (ids of a consortium's members, optionally a
    call ``topic``) for partners that fit every member and fill the group's gaps. A
    completion runs in a pool of its own under ``MATCHER_COMPLETION_TIME_LIMIT``: 503
    ``time_limit`` past it, 503 ``busy`` when the pool is full.
    """
    filters = body.filters.to_filters()
    if body.profile is not None:
        slots: RankingSlots = request.app.state.rankings
        async with slots.slot():
            found = await run_in_threadpool(
                matcher.recommend_profile,
                body.profile.to_domain(),
                k=body.k,
                filters=filters,
                explain=body.explain,
            )
        mode = "profile"
    else:
        pool: WorkPool = request.app.state.completions
        found = await pool.run(
            matcher.complete,
            body.seed or [],
            k=body.k,
            topic=body.topic,
            filters=filters,
            explain=body.explain,
        )
        mode = "consortium"
    return ProfileRecommendation(
        mode=mode,
        k=body.k,
        suggestions=suggestions_out(found, explain=body.explain),
        calibrated=found.calibrated,
        note=found.note,
    )


@router.get(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    summary="One organisation's profile",
    dependencies=_READ,
    responses=responses(401, 403, 404, 503),
)
def get_organisation(organisation_id: PathId, matcher: MatcherDep) -> Organisation:
    """The profile as stored (public data only: the schema holds no contact details)."""
    return with_utc(matcher.organisation(organisation_id))


@router.put(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    summary="Create or replace an organisation",
    dependencies=_WRITE,
    responses={
        201: {"model": OrganisationWritten, "description": "Created"},
        **responses(401, 403, 409, 503),
    },
)
def put_organisation(
    organisation_id: PathId, body: OrganisationIn, matcher: MatcherDep, response: Response
) -> OrganisationWritten:
    """Create (201) or replace (200) the profile; the next read sees it, in suggestions too.

    The body's ``id`` must be the path's (409 ``id_mismatch`` otherwise).
    """
    if body.id != organisation_id:
        raise ApiError(409, "id_mismatch", "the body's id must be the path's id", field="body.id")
    try:
        matcher.organisation(organisation_id)
        created = False
    except UnknownOrganisationError:
        created = True
    matcher.upsert_organisations([body.to_domain()])
    logger.info("organisation %s %s", organisation_id, "created" if created else "replaced")
    if created:
        response.status_code = status.HTTP_201_CREATED
    stored = with_utc(matcher.organisation(organisation_id))
    return OrganisationWritten(created=created, organisation=stored)


@router.delete(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    summary="Delete an organisation with its collaborations",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=_WRITE,
    responses=responses(401, 403, 404, 503),
)
def delete_organisation(organisation_id: PathId, matcher: MatcherDep) -> Response:
    """Delete the organisation; it leaves every list at once."""
    matcher.remove_organisation(organisation_id)
    logger.info("organisation %s deleted", organisation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/organisations:batch",
    tags=["organisations"],
    summary="Create or replace many organisations, all or nothing",
    dependencies=_WRITE,
    responses=responses(401, 403, 409, 503),
)
def batch_organisations(body: OrganisationsIn, matcher: MatcherDep) -> BatchResult:
    """Write every organisation, or none.

    Every row is validated first; one bad row refuses the batch with 422 naming the row
    and field, an id given twice with 409 ``duplicate_id``, and nothing is written.
    """
    seen: dict[str, int] = {}
    for n, org in enumerate(body.organisations):
        if org.id in seen:
            raise ApiError(
                409,
                "duplicate_id",
                f"id {org.id!r} is given twice (rows {seen[org.id]} and {n})",
                field=f"body.organisations.{n}.id",
            )
        seen[org.id] = n
    ids = matcher.upsert_organisations([org.to_domain() for org in body.organisations])
    logger.info("batch of %d organisations written", len(ids))
    return BatchResult(count=len(ids), ids=ids)


@router.post(
    "/collaborations",
    tags=["collaborations"],
    summary="Add collaborations, all or nothing",
    status_code=status.HTTP_201_CREATED,
    dependencies=_WRITE,
    responses=responses(401, 403, 404, 409, 503),
)
def add_collaborations(body: CollaborationsIn, matcher: MatcherDep) -> CollaborationsAdded:
    """Add every collaboration, or none.

    Both ends of each must be in the store (404 ``unknown_organisation`` otherwise,
    nothing written) and differ (409 ``same_organisation``). A known collaboration (same
    ends, kind, date, source_ref) only has its weight updated.
    """
    for n, tie in enumerate(body.collaborations):
        if tie.organisation_a == tie.organisation_b:
            raise ApiError(
                409,
                "same_organisation",
                "a collaboration needs two different organisations",
                field=f"body.collaborations.{n}.organisation_b",
            )
    changed = matcher.add_collaborations([tie.to_domain() for tie in body.collaborations])
    logger.info("%d collaborations added or changed", changed)
    return CollaborationsAdded(changed=changed)


class CollaborationKey(BaseModel):
    """What identifies a collaboration: both ends, kind, date and source reference."""

    model_config = ConfigDict(extra="forbid")

    organisation_a: str = Field(
        max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, examples=["CL-AGRI-ES"]
    )
    organisation_b: str = Field(
        max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, examples=["SME-COLD-IT"]
    )
    kind: CollaborationKind = CollaborationKind.JOINT_PROJECT
    date: dt.date = Field(examples=["2026-10-14"])
    source_ref: str = Field(default="", max_length=200)

    def collaboration(self) -> Collaboration:
        """The collaboration with this key."""
        return Collaboration(
            organisation_a=self.organisation_a,
            organisation_b=self.organisation_b,
            kind=self.kind,
            date=self.date,
            source_ref=self.source_ref,
        )


@router.delete(
    "/collaborations",
    tags=["collaborations"],
    summary="Delete one collaboration, named by its key in the query",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=_WRITE,
    responses=responses(401, 403, 404, 503),
)
def delete_collaboration(
    key: Annotated[CollaborationKey, Query()], matcher: MatcherDep
) -> Response:
    """404 ``unknown_collaboration`` when no collaboration has this key."""
    if key.organisation_a == key.organisation_b or not matcher.remove_collaboration(
        key.collaboration()
    ):
        raise ApiError(404, "unknown_collaboration", "no collaboration has this key")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/feedback",
    tags=["feedback"],
    summary="Record what an organisation said about a suggested partner",
    status_code=status.HTTP_201_CREATED,
    dependencies=_WRITE,
    responses=responses(401, 403, 404, 409, 503),
)
def feedback(body: FeedbackIn, matcher: MatcherDep) -> FeedbackRecorded:
    """Record feedback on a suggestion.

    Stored with the time; 'not interested' and 'blocked' feed the exclusion rules at
    once, every kind feeds later training. Feedback about oneself is 409
    ``same_organisation``.
    """
    if body.organisation_id == body.other_id:
        raise ApiError(
            409,
            "same_organisation",
            "feedback is about another organisation",
            field="body.other_id",
        )
    matcher.record_feedback(body.organisation_id, body.other_id, body.kind)
    logger.info("feedback %s recorded", body.kind.value)
    return FeedbackRecorded(
        organisation_id=body.organisation_id,
        other_id=body.other_id,
        kind=body.kind,
        recorded_at=dt.datetime.now(dt.UTC),
    )
