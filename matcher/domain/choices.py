"""Checking a value against a closed list of choices, with a "did you mean" when it is close."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "UnknownChoiceError",
    "UnknownCodeError",
    "closest",
    "did_you_mean",
    "parse_choice",
]

E = TypeVar("E", bound=StrEnum)


def closest(value: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice nearest to ``value`` by spelling (case-insensitive), or None.

    Near spellings first (``agri_fod``), then a unique choice that begins with or holds
    what was written (``prod`` → ``production``, ``meeting`` → ``event_meeting``).

    Args:
        value: what was written.
        choices: the allowed values.
        cutoff: the lowest similarity (0 to 1, :mod:`difflib`'s ratio) worth suggesting.
    """
    by_folded = {c.casefold(): c for c in choices}
    folded = value.strip().casefold()
    if folded in by_folded:
        return by_folded[folded]
    found = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=cutoff)
    if found:
        return by_folded[found[0]]
    if len(folded) >= 3:  # a unique choice that starts with, then contains, what was written
        for test in (str.startswith, str.__contains__):
            hits = [c for f, c in by_folded.items() if test(f, folded)]
            if len(hits) == 1:
                return hits[0]
    return None


def did_you_mean(value: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` when a choice is near ``value``, else ``""``."""
    hit = closest(value, choices, cutoff=cutoff)
    return f" (did you mean {hit!r}?)" if hit is not None else ""


class UnknownChoiceError(ValueError):
    """A value outside a closed list; the message names the value, the choices and a guess.

    Attributes:
        value: what was written.
        choices: the allowed values.
        suggestion: the nearest allowed value, if one is near.
    """

    def __init__(self, what: str, value: str, choices: Iterable[str]) -> None:
        self.value = value
        self.choices = list(choices)
        self.suggestion = closest(value, self.choices)
        guess = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        super().__init__(
            f"unknown {what} {value!r}: expected one of {', '.join(self.choices)}{guess}"
        )


class UnknownCodeError(ValueError):
    """A value that is not a code of a standard; the message names the code probably meant.

    Attributes:
        value: what was written.
        suggestion: the code it probably means, if any.
    """

    def __init__(self, value: str, standard: str, suggestion: str | None, name: str = "") -> None:
        self.value = value
        self.suggestion = suggestion
        guess = ""
        if suggestion is not None:
            guess = f"; did you mean {suggestion}{f' ({name})' if name else ''}?"
        super().__init__(f"{value!r} is not an {standard} code{guess}")


def parse_choice(enum: type[E], value: str, what: str) -> E:
    """The member of a string enum spelled ``value`` (surrounding blanks and case ignored).

    Raises:
        UnknownChoiceError: no member is spelled so.
    """
    text = value.strip()
    for member in enum:
        if member.value == text or member.value.casefold() == text.casefold():
            return member
    raise UnknownChoiceError(what, value, [m.value for m in enum])
