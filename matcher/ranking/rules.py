"""Hard rules: filters on candidates, as masks built once per filter value.

A mask is a boolean array over the rows, built the first time a filter value is asked for
and kept current by :meth:`Masks.update` when rows are written; a request combines the
masks of its filter values with a few vectorised ANDs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.domain.vocab import Ecosystem, OrganisationKind, Stage
from matcher.ranking.profiles import KINDS, Profiles, country_code, language_code, mask_of

__all__ = ["Filters", "Masks"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Filters:
    """Hard filters on candidates; an empty set means no filter on that field."""

    countries: frozenset[str] = frozenset()
    exclude_countries: frozenset[str] = frozenset()
    kinds: frozenset[OrganisationKind] = frozenset()
    ecosystems: frozenset[Ecosystem] = frozenset()
    stages: frozenset[Stage] = frozenset()
    languages: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return any(
            (
                self.countries,
                self.exclude_countries,
                self.kinds,
                self.ecosystems,
                self.stages,
                self.languages,
            )
        )


Key = tuple[str, str]


class Masks:
    """Row masks per filter value, built on first use and kept current on writes.

    Args:
        profiles: the organisations.
    """

    def __init__(self, profiles: Profiles) -> None:
        self.profiles = profiles
        self._masks: dict[Key, BoolArray] = {}
        self._lock = threading.Lock()

    def _row_passes(self, key: Key, rows: npt.NDArray[np.int64]) -> BoolArray:
        field, value = key
        p = self.profiles
        if field == "country":
            return np.asarray(p.country[rows] == country_code(value), np.bool_)
        if field == "kind":
            return np.asarray(p.kind[rows] == KINDS.index(OrganisationKind(value)), np.bool_)
        if field == "ecosystem":
            return np.asarray((p.ecosystems[rows] & mask_of([Ecosystem(value)])) != 0, np.bool_)
        if field == "stage":
            return np.asarray((p.stages[rows] & mask_of([Stage(value)])) != 0, np.bool_)
        code = language_code(value)
        return np.array([code in p.languages.row(int(r)) for r in rows.tolist()], np.bool_)

    def mask(self, field: str, value: str) -> BoolArray:
        """Rows whose ``field`` (country, kind, ecosystem, stage, language) is ``value``."""
        key = (field, value)
        got = self._masks.get(key)
        if got is not None and len(got) == len(self.profiles):
            return got
        with self._lock:
            got = self._masks.get(key)
            n = len(self.profiles)
            if got is None:
                if field == "language":
                    got = self.profiles.languages.rows_having(language_code(value), n)
                else:
                    got = self._row_passes(key, np.arange(n, dtype=np.int64))
            elif len(got) < n:
                extra = np.arange(len(got), n, dtype=np.int64)
                got = np.concatenate([got, self._row_passes(key, extra)])
            self._masks[key] = got
            return got

    def update(self, rows: Iterable[int]) -> None:
        """Recompute the kept masks at rows whose profile was written."""
        changed = np.array(sorted(set(rows)), np.int64)
        with self._lock:
            for key, mask in list(self._masks.items()):
                inside = changed[changed < len(mask)]
                if len(inside):
                    mask[inside] = self._row_passes(key, inside)

    def allowed(self, filters: Filters) -> BoolArray:
        """Alive rows that pass every filter."""
        ok = self.profiles.alive.copy()

        def any_of(field: str, values: Iterable[str]) -> BoolArray:
            out = np.zeros(len(ok), np.bool_)
            for value in values:
                out |= self.mask(field, value)[: len(ok)]
            return out

        if filters.countries:
            ok &= any_of("country", filters.countries)
        if filters.exclude_countries:
            ok &= ~any_of("country", filters.exclude_countries)
        if filters.kinds:
            ok &= any_of("kind", (k.value for k in filters.kinds))
        if filters.ecosystems:
            ok &= any_of("ecosystem", (e.value for e in filters.ecosystems))
        if filters.stages:
            ok &= any_of("stage", (s.value for s in filters.stages))
        if filters.languages:
            ok &= any_of("language", filters.languages)
        return ok
