"""The C2LAB table planner: who sits with whom, round by round.

Modules, by concept: :mod:`~matcher.planner.participants` (reading who comes),
:mod:`~matcher.planner.problem` (the model and its rules), :mod:`~matcher.planner.feasibility`
(contradictions and counting bounds), :mod:`~matcher.planner.evaluation` (scoring a seating),
:mod:`~matcher.planner.designs` (known no-repeat schedules), :mod:`~matcher.planner.search`
(the assignment search for large events), :mod:`~matcher.planner.solver` (the CP-SAT model),
:mod:`~matcher.planner.bounds`, :mod:`~matcher.planner.planning` (:func:`solve`),
:mod:`~matcher.planner.plan` (JSON, CSV, agendas), :mod:`~matcher.planner.reasons`,
:mod:`~matcher.planner.scores` (pair scores from the ranking) and
:mod:`~matcher.planner.workshop` (a problem from the Matcher's state).
"""

from matcher.planner.bounds import best_bound, counting_bound, matching_bound
from matcher.planner.designs import design_seating
from matcher.planner.evaluation import BrokenRule, Evaluation
from matcher.planner.feasibility import round_limit
from matcher.planner.participants import (
    PARTICIPANT_COLUMNS,
    InvalidParticipantsError,
    Participant,
    parse_participants,
    read_participants,
)
from matcher.planner.plan import (
    Plan,
    SearchStats,
    locks_from_json,
    score_plan,
    seating_from_json,
)
from matcher.planner.planning import largest_rounds, solve, solve_to
from matcher.planner.problem import (
    INDUSTRY_KINDS,
    RESEARCH_KINDS,
    RULES,
    InfeasiblePlanError,
    MixTargets,
    PairScores,
    PlanOptions,
    Problem,
    Seating,
    choose_table_size,
    default_time_limit,
)
from matcher.planner.search import greedy_seating, random_seating
from matcher.planner.workshop import build_problem

__all__ = [
    "INDUSTRY_KINDS",
    "PARTICIPANT_COLUMNS",
    "RESEARCH_KINDS",
    "RULES",
    "BrokenRule",
    "Evaluation",
    "InfeasiblePlanError",
    "InvalidParticipantsError",
    "MixTargets",
    "PairScores",
    "Participant",
    "Plan",
    "PlanOptions",
    "Problem",
    "SearchStats",
    "Seating",
    "best_bound",
    "build_problem",
    "choose_table_size",
    "counting_bound",
    "default_time_limit",
    "design_seating",
    "greedy_seating",
    "largest_rounds",
    "locks_from_json",
    "matching_bound",
    "parse_participants",
    "random_seating",
    "read_participants",
    "round_limit",
    "score_plan",
    "seating_from_json",
    "solve",
    "solve_to",
]
