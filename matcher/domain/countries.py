"""Country codes: ISO 3166-1 alpha-2, with the EU's EL and UK mapped, and "did you mean".

The EU (and so CORDIS) writes Greece as ``EL`` and the United Kingdom as ``UK``; they are
accepted and stored as ``GR`` and ``GB``. Kosovo is ``XK``, as the EU writes it. A name
(``Germany``), an alpha-3 code (``DEU``) or a near spelling (``Germny``) is refused with the
code it probably means. The names come from :mod:`pycountry` (read only to word a refusal).
"""

from __future__ import annotations

import difflib
from functools import cache

from matcher.domain.choices import UnknownCodeError

__all__ = [
    "CORDIS_COUNTRY_ALIASES",
    "COUNTRIES",
    "country_name",
    "normalise_country",
    "suggest_country",
]

# ISO 3166-1 alpha-2, officially assigned codes (tests compare them with pycountry's).
COUNTRIES: frozenset[str] = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE
    DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN
    GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA
    PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK
    SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW""".split()
)
"""Accepted country codes (ISO 3166-1 alpha-2, plus XK for Kosovo as the EU uses it)."""

CORDIS_COUNTRY_ALIASES: dict[str, str] = {"EL": "GR", "UK": "GB"}
"""EU-protocol codes that CORDIS uses in place of ISO ones."""

_EXTRA_NAMES = {"XK": "Kosovo"}
_ALIASES = {
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "macedonia": "MK",
    "turkey": "TR",
    "russia": "RU",
    "usa": "US",
    "united states of america": "US",
}


def normalise_country(code: str) -> str:
    """Return the ISO 3166-1 alpha-2 code for ``code`` (any case; EL and UK accepted).

    Raises:
        UnknownCodeError: the code is not a known country (a ``ValueError``).
    """
    value = code.strip().upper()
    value = CORDIS_COUNTRY_ALIASES.get(value, value)
    if value not in COUNTRIES:
        guess = suggest_country(code)
        name = country_name(guess) if guess else ""
        raise UnknownCodeError(code, "ISO 3166-1 alpha-2 country", guess, name)
    return value


def country_name(code: str) -> str:
    """The English short name of a country code (the code itself if it has none)."""
    return _names().get(code, code)


def suggest_country(text: str) -> str | None:
    """The code a name, an alpha-3 code or a near spelling of a name most likely means.

    ``Germany``, ``deu`` and ``Germny`` give ``DE``; ``United Kingdom`` gives ``GB``. Two
    letters that are not a code get no suggestion (every guess would be as good).
    """
    value = text.strip()
    if not value:
        return None
    upper = value.upper()
    if upper in COUNTRIES or upper in CORDIS_COUNTRY_ALIASES:
        return CORDIS_COUNTRY_ALIASES.get(upper, upper)
    if len(value) <= 2:
        return None
    lookup = _lookup()
    folded = value.casefold()
    if folded in lookup:
        return lookup[folded]
    names = [k for k in lookup if len(k) > 3]
    near = difflib.get_close_matches(folded, names, n=1, cutoff=0.8)
    return lookup[near[0]] if near else None


@cache
def _names() -> dict[str, str]:
    import pycountry

    names = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}
    return {**names, **_EXTRA_NAMES}


@cache
def _lookup() -> dict[str, str]:
    """Folded names, official names, common names and alpha-3 codes to alpha-2 codes."""
    import pycountry

    out: dict[str, str] = {}
    for c in pycountry.countries:
        for key in ("alpha_3", "name", "official_name", "common_name"):
            value = getattr(c, key, None)
            if value:
                out.setdefault(str(value).casefold(), c.alpha_2)
    for code, name in _EXTRA_NAMES.items():
        out.setdefault(name.casefold(), code)
    for alias, code in _ALIASES.items():
        out.setdefault(alias, code)
    return out
