"""Language codes: ISO 639-1 (two letters), with "did you mean" for names and near codes."""

from __future__ import annotations

import difflib
from functools import cache

from matcher.domain.choices import UnknownCodeError

__all__ = ["language_codes", "normalise_language", "suggest_language"]


def language_codes() -> frozenset[str]:
    """Every ISO 639-1 code (from :mod:`pycountry`)."""
    return frozenset(_names())


def normalise_language(code: str) -> str:
    """Return the ISO 639-1 code for ``code`` (any case).

    Raises:
        UnknownCodeError: not a two-letter ISO 639-1 code (a ``ValueError``).
    """
    value = code.strip().lower()
    if value not in _names():
        guess = suggest_language(code)
        name = _names()[guess] if guess else ""
        raise UnknownCodeError(code, "ISO 639-1 language", guess, name)
    return value


def suggest_language(text: str) -> str | None:
    """The code that a name (``German``, ``Germna``) or an ISO 639-2 code (``deu``) means."""
    value = text.strip().casefold()
    if value in _names():
        return value
    lookup = _lookup()
    if value in lookup:
        return lookup[value]
    if len(value) <= 3:
        return None
    near = difflib.get_close_matches(value, [k for k in lookup if len(k) > 3], n=1, cutoff=0.75)
    return lookup[near[0]] if near else None


@cache
def _names() -> dict[str, str]:
    import pycountry

    return {
        str(lang.alpha_2): str(lang.name)
        for lang in pycountry.languages
        if getattr(lang, "alpha_2", None)
    }


@cache
def _lookup() -> dict[str, str]:
    import pycountry

    out: dict[str, str] = {}
    for lang in pycountry.languages:
        code = getattr(lang, "alpha_2", None)
        if not code:
            continue
        for key in ("alpha_3", "bibliographic", "name"):
            value = getattr(lang, key, None)
            if value:
                out.setdefault(str(value).casefold(), str(code))
    return out
