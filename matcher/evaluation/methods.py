"""Methods: named scorer factories, and the graph baselines.

A method is a :data:`Scorer`: a function from an array of query rows to a
``(len(rows), n)`` array of scores (higher is better). Methods are registered by name with
a factory that makes the scorer for a split (:func:`register_method`); the built-ins are
``random``, ``popularity``, ``common_neighbours``, ``adamic_adar`` and
``resource_allocation``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.graph import FloatArray, IntArray

if TYPE_CHECKING:
    pass

from matcher.evaluation.split import Split

logger = logging.getLogger(__name__)

__all__ = [
    "Scorer",
    "ScorerFactory",
    "UnknownMethodError",
    "method_description",
    "method_names",
    "register_method",
    "scorers_for",
]

Scorer = Callable[[IntArray], FloatArray]
"""Scores of every train organisation for a batch of query rows: ``(len(rows), n)``."""

ScorerFactory = Callable[["Split"], Scorer]
"""Makes a method's scorer for a split (fit on its train graph, never on its truth)."""


class UnknownMethodError(MatcherError, ValueError):
    """A method name that no one registered."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(
            f"unknown method(s): {', '.join(self.unknown)}; known: {', '.join(self.known)}"
        )


# -- methods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Method:
    factory: ScorerFactory
    description: str


_METHODS: dict[str, _Method] = {}


@overload
def register_method(
    name: str, factory: None = None, *, description: str = "", replace: bool = False
) -> Callable[[ScorerFactory], ScorerFactory]: ...


@overload
def register_method(
    name: str, factory: ScorerFactory, *, description: str = "", replace: bool = False
) -> ScorerFactory: ...


def register_method(
    name: str,
    factory: ScorerFactory | None = None,
    *,
    description: str = "",
    replace: bool = False,
) -> ScorerFactory | Callable[[ScorerFactory], ScorerFactory]:
    """Register a method's scorer factory by name; usable as a decorator.

    Example::

        @register_method("text", description="cosine of profile vectors")
        def _text(split: Split) -> Scorer: ...

    Raises:
        ValueError: the name is taken (unless ``replace``).

    """

    def add(f: ScorerFactory) -> ScorerFactory:
        if name in _METHODS and not replace:
            raise ValueError(f"method {name!r} is already registered")
        _METHODS[name] = _Method(f, description)
        return f

    return add if factory is None else add(factory)


def method_names() -> list[str]:
    """Registered method names, in registration order."""
    return list(_METHODS)


def method_description(name: str) -> str:
    """What a registered method does."""
    return _METHODS[name].description


def scorers_for(split: Split, names: Iterable[str]) -> dict[str, Scorer]:
    """Make the scorers of registered methods for a split.

    Raises:
        UnknownMethodError: a name is not registered (the message lists the known ones).

    """
    names = list(names)
    unknown = [n for n in names if n not in _METHODS]
    if unknown:
        raise UnknownMethodError(unknown, method_names())
    return {n: _METHODS[n].factory(split) for n in names}


@register_method("random", description="uniform random scores (seeded)")
def _random(split: Split) -> Scorer:
    n = split.train_organisations

    def score(rows: IntArray) -> FloatArray:
        # one stream per query row: the same scores whichever batch (or process) asks
        out = np.empty((len(rows), n))
        for i, row in enumerate(rows.tolist()):
            out[i] = np.random.default_rng([split.seed, 0x5EED, row]).random(n)
        return out

    return score


@register_method("popularity", description="the candidate's number of past partners")
def _popularity(split: Split) -> Scorer:
    degree = split.graph.degree()

    def score(rows: IntArray) -> FloatArray:
        return np.broadcast_to(degree, (len(rows), len(degree)))

    return score


@register_method("common_neighbours", description="partners in common")
def _common_neighbours(split: Split) -> Scorer:
    return split.graph.common_neighbours


@register_method("adamic_adar", description="partners in common, weighted 1/log(degree)")
def _adamic_adar(split: Split) -> Scorer:
    return split.graph.adamic_adar


@register_method("resource_allocation", description="partners in common, weighted 1/degree")
def _resource_allocation(split: Split) -> Scorer:
    return split.graph.resource_allocation
