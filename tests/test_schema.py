from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from matcher.domain.schema import Collaboration, Organisation
from matcher.domain.vocab import EU27, Ecosystem, normalise_country


def org(**kw: object) -> Organisation:
    data: dict[str, object] = {"id": "X1", "name": "X", "kind": "sme", "country": "DE"}
    data.update(kw)
    return Organisation.model_validate(data)


def test_cordis_country_codes_become_iso() -> None:
    assert normalise_country("EL") == "GR"
    assert normalise_country("uk") == "GB"
    assert org(country="EL").country == "GR"
    assert len(EU27) == 27 and "GR" in EU27


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "XX"),
        ("kind", "startup"),
        ("ecosystems", ["agri_food", "space_mining"]),
        ("stages", ["manufacturing"]),
        ("region", "Bavaria"),
        ("languages", ["german"]),
        ("website", "ftp://x"),
        ("size", -1),
        ("id", "has space"),
        ("email", "someone@example.org"),  # no personal contact fields
    ],
)
def test_invalid_fields_are_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        org(**{field: value})
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


def test_lists_are_deduplicated_and_profile_text_has_the_parts() -> None:
    o = org(
        description="We grow tomatoes.",
        keywords=["greenhouse", "greenhouse ", "LED"],
        ecosystems=["agri_food", "agri_food"],
        offers="Fresh produce",
        seeks="Cold chain",
    )
    assert o.keywords == ["greenhouse", "LED"]
    assert o.ecosystems == [Ecosystem.AGRI_FOOD]
    text = o.profile_text()
    for part in (
        "We grow tomatoes.",
        "greenhouse, LED",
        "Offers: Fresh produce",
        "Seeks: Cold chain",
        "Agri-food",
    ):
        assert part in text
    assert "X" not in text.split()  # the name is not part of the text


def test_collaboration_is_ordered_and_needs_two_ends() -> None:
    c = Collaboration(organisation_a="B", organisation_b="A", date=dt.date(2020, 1, 1))
    assert (c.organisation_a, c.organisation_b) == ("A", "B")
    with pytest.raises(ValidationError):
        Collaboration(organisation_a="A", organisation_b="A", date=dt.date(2020, 1, 1))
    with pytest.raises(ValidationError):
        Collaboration(organisation_a="A", organisation_b="B", date=dt.date(2020, 1, 1), weight=0)
