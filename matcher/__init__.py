"""Partner matchmaking for the European Cluster Collaboration Platform.

The :class:`Matcher` facade is the front door that the CLI, the service and notebooks use.
"""

from matcher.app.settings import Settings
from matcher.domain.errors import (
    ImportProblem,
    InvalidImportError,
    MatcherError,
    StateError,
    UnknownOrganisationError,
)
from matcher.domain.schema import (
    Collaboration,
    Organisation,
    Participation,
    Project,
    Reason,
    Suggestion,
)
from matcher.store import Store

__all__ = [
    "Collaboration",
    "ImportProblem",
    "InvalidImportError",
    "MatcherError",
    "Organisation",
    "Participation",
    "Project",
    "Reason",
    "Settings",
    "StateError",
    "Store",
    "Suggestion",
    "UnknownOrganisationError",
]
