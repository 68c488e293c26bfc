"""Workshop tables over HTTP: plan, score an edited plan, and the organiser page.

``router`` is included by the app factory; it reads the loaded
:class:`~matcher.app.matcher.Matcher` from ``request.app.state.matcher``.

- ``POST /tables``: participants (a list, or CSV text), layout, rules, seed, time limit →
  the plan as JSON (:meth:`matcher.planner.tables.Plan.to_json`).
- ``POST /tables/score``: the same request plus an edited ``plan`` → that plan's score,
  themes, reasons and the rules it breaks (same JSON shape).
- ``GET /tables``: the organiser page (self-contained HTML, no network).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
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
    build_problem,
    parse_participants,
    seating_from_json,
    solve,
)
from service.errors import ApiError, FieldProblem

__all__ = ["PAGE", "ParticipantIn", "RulesIn", "ScoreRequest", "TablesRequest", "router"]

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parent / "static" / "tables.html"
"""The organiser page."""

router = APIRouter()


class ParticipantIn(BaseModel):
    """One participant (see :class:`matcher.planner.tables.Participant`)."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str
    person: str | None = None
    host_table: int | None = Field(default=None, ge=1)
    must_meet: list[str] = Field(default_factory=list)
    must_not_meet: list[str] = Field(default_factory=list)
    profile: Organisation | None = None


class RulesIn(BaseModel):
    """Rules and targets beyond the layout."""

    model_config = ConfigDict(extra="forbid")

    no_repeat: bool = True
    min_countries: int = Field(default=0, ge=0)
    research_and_industry: bool = False
    themes: dict[int, str] = Field(default_factory=dict, description="table number → theme")


class TablesRequest(BaseModel):
    """A planning request: participants as a list or as CSV text (README columns)."""

    model_config = ConfigDict(extra="forbid")

    participants: list[ParticipantIn] | None = None
    participants_csv: str | None = None
    table_size: int | None = Field(default=None, ge=2)
    tables: int | None = Field(default=None, ge=1)
    rounds: int = Field(default=3, ge=1, le=20)
    rules: RulesIn = Field(default_factory=RulesIn)
    seed: int = 0
    time_limit: float = Field(default=10.0, gt=0, le=120)


class ScoreRequest(TablesRequest):
    """A request plus an edited plan in the shape ``POST /tables`` returns."""

    plan: dict[str, Any]


def _participants(request: TablesRequest) -> list[Participant]:
    if (request.participants is None) == (request.participants_csv is None):
        raise ApiError(
            422,
            "invalid_request",
            "give either 'participants' or 'participants_csv'",
            field="body.participants",
        )
    if request.participants_csv is not None:
        return parse_participants(request.participants_csv, name="participants_csv")
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
        for n, p in enumerate(request.participants or [])
    ]


def _options(request: TablesRequest) -> PlanOptions:
    rules = request.rules
    return PlanOptions(
        rounds=request.rounds,
        table_size=request.table_size if request.tables is None else None,
        tables=request.tables,
        themes=rules.themes,
        mix=MixTargets(
            min_countries=rules.min_countries, research_and_industry=rules.research_and_industry
        ),
        no_repeat=rules.no_repeat,
        seed=request.seed,
        time_limit=request.time_limit,
    )


def _problem(request: Request, body: TablesRequest) -> Problem:
    matcher: Matcher = request.app.state.matcher
    return build_problem(matcher, _participants(body), _options(body))


def _refuse(exc: Exception) -> ApiError:
    """A planner refusal in the service's error shape (the rule in ``field``)."""
    if isinstance(exc, InfeasiblePlanError):
        problems = [FieldProblem(field=exc.rule, message=p) for p in exc.participants]
        return ApiError(422, "infeasible_plan", str(exc), field=exc.rule, problems=problems)
    if isinstance(exc, InvalidParticipantsError):
        problems = [FieldProblem(field="participants", message=str(p)) for p in exc.problems]
        return ApiError(
            422, "invalid_participants", str(exc), field="participants", problems=problems
        )
    return ApiError(422, "invalid_request", str(exc))


@router.post("/tables")
def plan_tables(request: Request, body: TablesRequest) -> dict[str, Any]:
    """Plan the tables; 422 names the rule and the participants when none can be kept."""
    try:
        return solve(_problem(request, body)).to_json()
    except (MatcherError, ValueError) as exc:
        raise _refuse(exc) from None


@router.post("/tables/score")
def score_tables(request: Request, body: ScoreRequest) -> dict[str, Any]:
    """Score an edited plan: its objective, themes, reasons and the rules it breaks."""
    try:
        problem = _problem(request, body)
        return Plan.of(problem, seating_from_json(problem, body.plan)).to_json()
    except (MatcherError, ValueError) as exc:
        raise _refuse(exc) from None


@router.get("/tables", response_class=HTMLResponse)
def tables_page() -> HTMLResponse:
    """The organiser page: load participants, plan, move people, export, print."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
