"""A workshop's problem from the Matcher's state: profiles, partners, blocks, scores, themes.

Organisations come from the store unless a participant gives an inline profile; pairs an
organisation blocked are must-not-meet; pairs that already collaborate (any
collaboration in the store) are existing partners, kept apart by default; pair scores
come from :func:`matcher.planner.scores.pair_scores`; a table theme naming an ecosystem
matches its members, any other theme matches by text similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation
from matcher.domain.vocab import Ecosystem
from matcher.planner.participants import (
    InvalidParticipantsError,
    Participant,
    participant_problem,
)
from matcher.planner.problem import PlanOptions, Problem, word_affinity
from matcher.planner.scores import pair_scores

if TYPE_CHECKING:
    from matcher.app.matcher import Matcher

__all__ = ["build_problem"]


def build_problem(
    matcher: Matcher,
    participants: Sequence[Participant],
    options: PlanOptions,
    *,
    locked: Mapping[tuple[int, str], int] | None = None,
) -> Problem:
    """Compile a problem whose pair scores come from the Matcher's loaded state.

    Args:
        matcher: the facade (store, loaded index, encoder).
        participants: who comes.
        options: layout, rules, search settings.
        locked: seats to keep: (0-based round, participant key) → 0-based table.

    Raises:
        InvalidParticipantsError: an organisation neither in the store nor given inline.
        InfeasiblePlanError: a hard rule cannot be met.
        StateError: no usable index.
    """
    inline = {p.organisation_id: p.profile for p in participants if p.profile is not None}
    wanted = [p.organisation_id for p in participants if p.organisation_id not in inline]
    found = matcher.store.get_organisations(dict.fromkeys(wanted))
    missing = [p for p in participants if p.profile is None and p.organisation_id not in found]
    if missing:
        raise InvalidParticipantsError(
            [
                participant_problem(
                    p, "organisation_id", "not in the store; give name and kind inline"
                )
                for p in missing
            ]
        )
    organisations = {**found, **inline}
    scores, blocked, vectors = pair_scores(matcher, list(organisations.values()))
    partners = matcher.store.partner_pairs(organisations) if options.avoid_partners else set()
    affinity = _text_affinity(matcher, options, vectors) if options.themes else None
    return Problem.build(
        participants,
        options,
        organisations=organisations,
        scores=scores,
        theme_affinity=affinity,
        blocked=blocked,
        partners=partners,
        locked=locked,
    )


def _text_affinity(
    matcher: Matcher, options: PlanOptions, org_vec: Mapping[str, npt.NDArray[np.float32]]
) -> Callable[[Organisation, str], float]:
    """Affinity: 1 for a member of a named ecosystem, else text similarity to the theme."""
    ecosystems = {e.value: e for e in Ecosystem} | {e.label.lower(): e for e in Ecosystem}
    themes = [t for t in options.themes.values() if t.strip().lower() not in ecosystems]
    theme_vec = dict(zip(themes, matcher.encoder.encode(themes), strict=True)) if themes else {}

    def affinity(org: Organisation, theme: str) -> float:
        eco = ecosystems.get(theme.strip().lower())
        if eco is not None:
            return 1.0 if eco in org.ecosystems else 0.0
        vec = org_vec.get(org.id)
        if vec is None or not vec.any():
            return word_affinity(org, theme)
        return max(float(vec @ theme_vec[theme]), word_affinity(org, theme))

    return affinity
