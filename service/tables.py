"""Workshop tables over HTTP: plan, score an edit, re-solve around locks, save, publish.

``router`` is included by the app factory. Every endpoint but the published link needs
what every data endpoint needs: the read key when ``MATCHER_READ_KEY_REQUIRED`` (the
write key for saving and publishing), and a loaded index (503 ``not_ready`` before).

- ``GET /tables``: the organiser page (``static/tables.html`` with its script and style,
  no network beyond this server).
- ``POST /tables``: participants (a list or CSV text), layout, rules → the plan; with
  ``plan`` and ``locks`` the locked seats are kept and the rest re-solved.
- ``POST /tables/score``: the same request plus an edited ``plan`` → that plan scored,
  explained, and the rules it breaks.
- ``GET /tables/plans``, ``GET /tables/plans/{name}``, ``PUT /tables/plans/{name}``
  (write key; each save a new version, scored by the server),
  ``POST /tables/plans/{name}/publish`` (write key) → a read-only link
  ``/tables/published/{token}`` (page) and ``…/plan`` (JSON), open to whoever has it.

Planning runs in a child process (``forkserver``), at most :data:`MAX_PLANNERS` at a
time (more: 503 ``planner_busy``), killed after twice its time limit plus
:data:`GRACE_SECONDS` (503 ``planner_timeout``): a request never holds the server's CPU
beyond its own limit. Building the problem (pair scores from the loaded index) runs in
the request's thread first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext, SpawnContext
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from matcher.app.matcher import Matcher
from matcher.domain.errors import MatcherError
from matcher.domain.schema import Organisation
from matcher.planner import (
    InfeasiblePlanError,
    InvalidParticipantsError,
    MixTargets,
    Participant,
    Plan,
    PlanOptions,
    Problem,
    SearchStats,
    build_problem,
    locks_from_json,
    parse_participants,
    seating_from_json,
    solve_to,
)
from matcher.store.plans import SavedPlan
from service.deps import get_matcher
from service.errors import ApiError, ErrorBody, FieldProblem
from service.security import require_read_key, require_write_key

__all__ = [
    "GRACE_SECONDS",
    "MAX_PARTICIPANTS",
    "MAX_PLANNERS",
    "LocksIn",
    "ParticipantIn",
    "PlanIn",
    "RulesIn",
    "ScoreRequest",
    "TablesRequest",
    "router",
]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
"""The organiser page and its script and style."""

MAX_PARTICIPANTS = 1_000
"""The most participants one request may plan."""

MAX_PLANNERS = 2
"""Plans computed at once (one per core); more are refused with 503 ``planner_busy``."""

GRACE_SECONDS = 15.0
"""Added to twice the time limit before a planning process is killed."""

MAX_CSV_CHARS = 1_000_000
"""The longest participants CSV a request may carry."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,79}$"
TOKEN_PATTERN = r"^[A-Za-z0-9_\-]{20,64}$"
_KEY = 400

router = APIRouter(tags=["tables"])
MatcherDep = Annotated[Matcher, Depends(get_matcher)]
_READ = [Depends(require_read_key)]
_WRITE = [Depends(require_write_key)]
_slots = threading.BoundedSemaphore(MAX_PLANNERS)


def _errors(*statuses: int, html: bool = False) -> dict[int | str, dict[str, Any]]:
    """The documented error answers; on an HTML page's route they are JSON all the same."""
    text = {
        401: "No API key given (saving and publishing; reads when the key is required)",
        403: "Wrong API key, or writes disabled",
        404: "No such saved plan or published link",
        413: "Request body too large",
        422: "Invalid request or participants, or a request that cannot be met "
        "(`infeasible_plan`: `field` names the rule)",
        503: "`not_ready` (index loading), `planner_busy` (all planners in use) or "
        "`planner_timeout` (killed after twice the time limit plus 15 s)",
    }
    if html:
        json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        return {s: {"description": text[s], "content": json_body} for s in (*statuses, 413, 422)}
    return {s: {"model": ErrorBody, "description": text[s]} for s in (*statuses, 413, 422)}


class ParticipantIn(BaseModel):
    """One participant (see :class:`matcher.planner.Participant`)."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(min_length=1, max_length=200)
    person: str | None = Field(default=None, max_length=200)
    host_table: int | None = Field(default=None, ge=1, le=500)
    must_meet: list[Annotated[str, Field(max_length=_KEY)]] = Field(
        default_factory=list, max_length=50
    )
    must_not_meet: list[Annotated[str, Field(max_length=_KEY)]] = Field(
        default_factory=list, max_length=50
    )
    profile: Organisation | None = None


class RulesIn(BaseModel):
    """Rules and targets beyond the layout."""

    model_config = ConfigDict(extra="forbid")

    no_repeat: bool = True
    avoid_partners: bool = Field(
        default=True, description="keep organisations that already collaborate apart"
    )
    min_countries: int = Field(default=0, ge=0, le=20)
    research_and_industry: bool = False
    themes: dict[int, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=500, description="table number → theme"
    )


class MemberIn(BaseModel):
    """A member of a table in a plan: its ``key``, or organisation and person."""

    model_config = ConfigDict(extra="ignore")

    key: str | None = Field(default=None, max_length=_KEY)
    organisation_id: str | None = Field(default=None, max_length=200)
    person: str | None = Field(default=None, max_length=200)


class TableIn(BaseModel):
    """A table of a plan (other fields of the plan's JSON are ignored)."""

    model_config = ConfigDict(extra="ignore")

    members: list[MemberIn] = Field(max_length=MAX_PARTICIPANTS)


class RoundIn(BaseModel):
    """A round of a plan."""

    model_config = ConfigDict(extra="ignore")

    tables: list[TableIn] = Field(max_length=500)


class PlanIn(BaseModel):
    """A seating in the shape ``POST /tables`` answers (only who sits where is read)."""

    model_config = ConfigDict(extra="ignore")

    rounds: list[RoundIn] = Field(max_length=20)


class TableLockIn(BaseModel):
    """A table whose members keep their seats in one round."""

    model_config = ConfigDict(extra="forbid")

    round: int = Field(ge=1, le=20)
    table: int = Field(ge=1, le=500)


class LocksIn(BaseModel):
    """Seats to keep when re-solving: people (every round) and tables (one round)."""

    model_config = ConfigDict(extra="forbid")

    people: list[Annotated[str, Field(max_length=_KEY)]] = Field(
        default_factory=list, max_length=MAX_PARTICIPANTS
    )
    tables: list[TableLockIn] = Field(default_factory=list, max_length=1_000)


class TablesRequest(BaseModel):
    """A planning request: participants as a list or as CSV text (docs/planner.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["participants"],
                    "properties": {
                        "participants": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": MAX_PARTICIPANTS,
                        }
                    },
                },
                {
                    "required": ["participants_csv"],
                    "properties": {
                        "participants_csv": {"type": "string", "maxLength": MAX_CSV_CHARS}
                    },
                },
            ]
        },
    )

    participants: list[ParticipantIn] | None = Field(
        default=None, min_length=2, max_length=MAX_PARTICIPANTS
    )
    participants_csv: str | None = Field(default=None, max_length=MAX_CSV_CHARS)
    table_size: int | None = Field(default=None, ge=2, le=100, description="default: chosen")
    tables: int | None = Field(default=None, ge=1, le=500)
    rounds: int = Field(default=3, ge=1, le=20)
    rules: RulesIn = Field(default_factory=RulesIn)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    time_limit: float | None = Field(
        default=None, gt=0, le=120, description="seconds; default 10 (60 at 1,000 people)"
    )
    plan: PlanIn | None = Field(default=None, description="with locks: the plan to re-solve")
    locks: LocksIn | None = None


class ScoreRequest(TablesRequest):
    """A request plus an edited plan in the shape ``POST /tables`` returns."""

    plan: PlanIn


def _participants(body: TablesRequest) -> list[Participant]:
    if (body.participants is None) == (body.participants_csv is None):
        raise ApiError(
            422,
            "invalid_request",
            "give either 'participants' or 'participants_csv'",
            field="body.participants",
        )
    if body.participants_csv is not None:
        people = parse_participants(body.participants_csv, name="participants_csv")
        if len(people) > MAX_PARTICIPANTS:
            raise ApiError(
                422,
                "invalid_request",
                f"{len(people)} participants; at most {MAX_PARTICIPANTS} per request",
                field="body.participants_csv",
            )
        return people
    return [
        Participant(
            organisation_id=p.organisation_id,
            person=p.person,
            host_table=p.host_table,
            must_meet=tuple(p.must_meet),
            must_not_meet=tuple(p.must_not_meet),
            profile=p.profile,
            source=f"participants[{n}]",
        )
        for n, p in enumerate(body.participants or [])
    ]


def _options(body: TablesRequest) -> PlanOptions:
    rules = body.rules
    return PlanOptions(
        rounds=body.rounds,
        table_size=body.table_size if body.tables is None else None,
        tables=body.tables,
        themes=rules.themes,
        mix=MixTargets(
            min_countries=rules.min_countries, research_and_industry=rules.research_and_industry
        ),
        no_repeat=rules.no_repeat,
        avoid_partners=rules.avoid_partners,
        seed=body.seed,
        time_limit=body.time_limit,
    )


def _problem(matcher: Matcher, body: TablesRequest, *, locks: bool = True) -> Problem:
    locked = None
    if locks and body.locks is not None:
        if body.plan is None:
            raise ApiError(422, "invalid_request", "locks need the plan", field="body.plan")
        locked = locks_from_json(
            body.plan.model_dump(),
            people=body.locks.people,
            tables=[(t.round, t.table) for t in body.locks.tables],
        )
    return build_problem(matcher, _participants(body), _options(body), locked=locked)


def _refuse(exc: Exception) -> ApiError:
    """A planner refusal in the service's error shape (the rule in ``field``)."""
    if isinstance(exc, InfeasiblePlanError):
        problems = [FieldProblem(field=exc.rule, message=p) for p in exc.participants]
        problems += [FieldProblem(field="alternatives", message=a) for a in exc.alternatives]
        return ApiError(422, "infeasible_plan", str(exc), field=exc.rule, problems=problems)
    if isinstance(exc, InvalidParticipantsError):
        problems = [FieldProblem(field="participants", message=str(p)) for p in exc.problems]
        return ApiError(
            422, "invalid_participants", str(exc), field="participants", problems=problems
        )
    return ApiError(422, "invalid_request", str(exc))


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["matcher.planner.planning"])
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _planner_slot() -> Iterator[None]:
    """Hold one of :data:`MAX_PLANNERS` slots; 503 ``planner_busy`` when none is free.

    Held while a problem is built (its pair scores cost one ranking per organisation) and
    while it is solved.
    """
    if not _slots.acquire(blocking=False):
        raise ApiError(
            503,
            "planner_busy",
            f"{MAX_PLANNERS} plans are being computed; retry shortly",
            headers={"Retry-After": "10"},
        )
    try:
        yield
    finally:
        _slots.release()


def _solve_apart(problem: Problem) -> Plan:
    """:func:`~matcher.planner.solve` in a child process under a hard time limit.

    Called inside the caller's :func:`_planner_slot`.
    """
    limit = 2 * problem.options.seconds(problem.size) + GRACE_SECONDS
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    light = dataclasses.replace(problem, pair_reasons=None)
    process = ctx.Process(target=solve_to, args=(send, light), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(limit):
            process.kill()
            raise ApiError(
                503,
                "planner_timeout",
                f"planning was stopped after {limit:.0f} s (twice the time limit plus "
                f"{GRACE_SECONDS:.0f} s)",
            )
        kind, payload, stats = receive.recv()
    except EOFError:
        raise ApiError(503, "planner_timeout", "the planning process ended early") from None
    finally:
        receive.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
    if kind == "refused":
        raise _refuse(
            InfeasiblePlanError(
                payload["rule"],
                payload["participants"],
                payload["message"],
                proof=payload["proof"],
                max_rounds=payload["max_rounds"],
                alternatives=payload["alternatives"],
            )
        )
    if kind != "ok":
        raise RuntimeError(f"planning failed: {payload}")
    found = SearchStats(**{**stats, "engines": tuple(stats["engines"])}) if stats else None
    return Plan.of(problem, np.array(payload, np.int64), found)


def _scored(matcher: Matcher, body: TablesRequest, plan: PlanIn) -> Plan:
    with _planner_slot():
        problem = _problem(matcher, body, locks=False)
    return Plan.of(problem, seating_from_json(problem, plan.model_dump()))


@router.get(
    "/tables",
    response_class=HTMLResponse,
    dependencies=_READ,
    responses=_errors(401, 403, html=True),
)
def tables_page() -> HTMLResponse:
    """The organiser page: upload, plan, swap, undo, lock and re-solve, save, publish."""
    return HTMLResponse((STATIC / "tables.html").read_text(encoding="utf-8"))


@router.get("/tables/tables.js", include_in_schema=False)
def tables_script() -> Response:
    """The organiser page's script (no data: open like the page's published view)."""
    text = (STATIC / "tables.js").read_text(encoding="utf-8")
    return Response(text, media_type="text/javascript")


@router.get("/tables/tables.css", include_in_schema=False)
def tables_style() -> Response:
    """The organiser page's style."""
    return Response((STATIC / "tables.css").read_text(encoding="utf-8"), media_type="text/css")


@router.post("/tables", dependencies=_READ, responses=_errors(401, 403, 503))
def plan_tables(body: TablesRequest, matcher: MatcherDep) -> dict[str, Any]:
    """Plan the tables; with ``plan`` and ``locks``, keep the locked seats and re-solve.

    A request that cannot be met is refused (422 ``infeasible_plan``) with the rule,
    the proof, the largest number of rounds that works and the alternatives.
    """
    try:
        with _planner_slot():
            return _solve_apart(_problem(matcher, body)).to_json()
    except (MatcherError, ValueError) as exc:
        raise _refuse(exc) from None


@router.post("/tables/score", dependencies=_READ, responses=_errors(401, 403, 503))
def score_tables(body: ScoreRequest, matcher: MatcherDep) -> dict[str, Any]:
    """Score an edited plan: its objective, themes, reasons and the rules it breaks."""
    try:
        return _scored(matcher, body, body.plan).to_json()
    except (MatcherError, ValueError) as exc:
        raise _refuse(exc) from None


def _saved_json(saved: SavedPlan) -> dict[str, Any]:
    return {
        "name": saved.name,
        "version": saved.version,
        "created_at": saved.created_at,
        "published": f"/tables/published/{saved.token}" if saved.token else None,
        **saved.document,
    }


Name = Annotated[str, PathParam(pattern=NAME_PATTERN, max_length=80, description="the plan's name")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="default: the latest")]


@router.get("/tables/plans", dependencies=_READ, responses=_errors(401, 403, 503))
def list_plans(matcher: MatcherDep) -> list[dict[str, Any]]:
    """Saved plans: each name with its latest version and when it was saved."""
    return [
        {"name": p.name, "version": p.version, "created_at": p.created_at}
        for p in matcher.store.list_plans()
    ]


@router.get("/tables/plans/{name}", dependencies=_READ, responses=_errors(401, 403, 404, 503))
def get_plan(name: Name, matcher: MatcherDep, version: Version = None) -> dict[str, Any]:
    """A saved plan (the latest version by default): its request and the scored plan."""
    saved = matcher.store.get_plan(name, version)
    if saved is None:
        raise ApiError(404, "unknown_plan", f"no saved plan {name!r}" + (
            f" version {version}" if version else ""), field="path.name")  # fmt: skip
    return _saved_json(saved)


@router.put("/tables/plans/{name}", dependencies=_WRITE, responses=_errors(401, 403, 503))
def save_plan(name: Name, body: ScoreRequest, matcher: MatcherDep) -> dict[str, Any]:
    """Save a plan as a new version of ``name``: the server scores it and keeps the request."""
    try:
        plan = _scored(matcher, body, body.plan).to_json()
    except (MatcherError, ValueError) as exc:
        raise _refuse(exc) from None
    request = body.model_dump(mode="json", exclude={"plan", "locks"})
    saved = matcher.store.save_plan(name, {"request": request, "plan": plan})
    return _saved_json(saved)


@router.post(
    "/tables/plans/{name}/publish", dependencies=_WRITE, responses=_errors(401, 403, 404, 503)
)
def publish_plan(name: Name, matcher: MatcherDep, version: Version = None) -> dict[str, Any]:
    """A read-only link to a saved version (the latest by default); the same on repeat."""
    saved = matcher.store.get_plan(name, version)
    token = matcher.store.publish_plan(name, saved.version) if saved else None
    if saved is None or token is None:
        raise ApiError(404, "unknown_plan", f"no saved plan {name!r}", field="path.name")
    path = f"/tables/published/{token}"
    return {"name": name, "version": saved.version, "token": token, "page": path,
            "plan": f"{path}/plan"}  # fmt: skip


Token = Annotated[
    str, PathParam(pattern=TOKEN_PATTERN, max_length=64, description="the link's token")
]


@router.get(
    "/tables/published/{token}", response_class=HTMLResponse, responses=_errors(404, html=True)
)
def published_page(token: Token, matcher: MatcherDep) -> HTMLResponse:
    """The read-only page of a published plan (the token is the access)."""
    if matcher.store.published_plan(token) is None:
        raise ApiError(404, "unknown_link", "no plan is published under this link")
    return HTMLResponse((STATIC / "tables.html").read_text(encoding="utf-8"))


@router.get("/tables/published/{token}/plan", responses=_errors(404, 503))
def published_plan(token: Token, matcher: MatcherDep) -> dict[str, Any]:
    """A published plan as JSON (read-only; the token is the access)."""
    saved = matcher.store.published_plan(token)
    if saved is None:
        raise ApiError(404, "unknown_link", "no plan is published under this link")
    return {
        "name": saved.name,
        "version": saved.version,
        "created_at": saved.created_at,
        "plan": saved.document.get("plan"),
    }
