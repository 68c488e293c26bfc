from __future__ import annotations

import pycountry
import pytest

from matcher.domain.choices import UnknownCodeError, closest
from matcher.domain.countries import COUNTRIES, normalise_country, suggest_country
from matcher.domain.languages import language_codes, normalise_language


def test_the_codes_are_iso_3166_plus_kosovo() -> None:
    assert {c.alpha_2 for c in pycountry.countries} | {"XK"} == COUNTRIES


@pytest.mark.parametrize(("given", "code"), [("EL", "GR"), ("uk", "GB"), (" de ", "DE")])
def test_eu_spellings_become_iso(given: str, code: str) -> None:
    assert normalise_country(given) == code


@pytest.mark.parametrize(
    ("given", "guess"),
    [("Germany", "DE"), ("deu", "DE"), ("Germny", "DE"), ("Greece", "GR"), ("Holland", "NL"),
     ("United Kingdom", "GB"), ("XX", None), ("Bavaria", None)],
)  # fmt: skip
def test_a_refusal_suggests_the_code_meant(given: str, guess: str | None) -> None:
    assert suggest_country(given) == guess
    with pytest.raises(UnknownCodeError) as info:
        normalise_country(given)
    assert info.value.suggestion == guess
    assert ("did you mean" in str(info.value)) == (guess is not None)


def test_languages_are_iso_639_1() -> None:
    assert len(language_codes()) == len(
        [lang for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    )
    assert normalise_language("DE") == "de"
    for given in ("German", "deu", "germna"):
        with pytest.raises(UnknownCodeError, match=r"did you mean de \(German\)"):
            normalise_language(given)
    with pytest.raises(UnknownCodeError):
        normalise_language("xx")


def test_closest_prefers_spelling_then_a_unique_prefix() -> None:
    assert closest("agri_fod", ["agri_food", "digital"]) == "agri_food"
    assert closest("prod", ["production", "research"]) == "production"
    assert closest("re", ["research", "recycling"]) is None  # too short to guess
    assert closest("ma", ["materials"]) is None
