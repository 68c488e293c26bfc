"""The notebook helpers on hand-made data, against answers worked out by hand (no model)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from matcher.domain.schema import Collaboration, Organisation
from matcher.lab.analysis import (
    SuggestionLists,
    Table,
    abroad_share,
    count_table,
    coverage_table,
    cross_border_table,
    degree_distribution,
    degree_table,
    history_years,
    link_scores,
    target_hits,
    target_market_table,
    typical_organisation,
)
from matcher.store import Store
from tests.builders import context, org

# A–B, A–C, B–C, C–D, D–E; F has no partner. Degrees: A 2, B 2, C 3, D 2, E 1, F 0.
ORGS = [org(i) for i in "ABCDEF"]
EDGES = [
    ("A", "B", "2020-01-01"),
    ("A", "C", "2020-01-01"),
    ("B", "C", "2021-01-01"),
    ("C", "D", "2021-01-01"),
    ("D", "E", "2022-01-01"),
]


def test_degree_distribution_of_a_hand_made_graph() -> None:
    ctx = context(ORGS, EDGES)
    assert degree_distribution(ctx) == [(0, 1), (1, 1), (2, 3), (3, 1)]
    table = degree_table(ctx)
    assert table.column("organisations") == [1, 1, 3, 1]
    assert table.row(2)["share"] == 0.5


def test_degree_distribution_leaves_deleted_organisations_out() -> None:
    ctx = context(ORGS, EDGES)
    row = ctx.profiles.index["E"]
    ctx.profiles.remove_row(row)
    ctx.graph.remove_row(row)
    assert degree_distribution(ctx) == [(0, 1), (1, 1), (2, 2), (3, 1)]  # D lost E


def test_typical_organisation_is_the_median_degree_and_falls_back() -> None:
    ctx = context(ORGS, EDGES)
    assert typical_organisation(ctx, min_degree=3) == "C"
    # degree ≥ 2: A, B, D (2) and C (3), sorted by (degree, id): the middle one is D.
    assert typical_organisation(ctx, min_degree=2) == "D"
    # nobody has 5 partners: those with at least one count (E, A, B, D, C) → B.
    assert typical_organisation(ctx, min_degree=5) == "B"
    lonely = context([org("X"), org("Y")])
    with pytest.raises(ValueError, match="no organisation has a partner"):
        typical_organisation(lonely)


def test_link_scores_of_a_hand_made_graph() -> None:
    ctx = context(ORGS, EDGES)
    got = link_scores(ctx, "A")
    assert sorted(got.partners) == ["B", "C"]
    assert got.ids == ["D", "E", "F"]  # not A, not its partners
    s = got.scores
    assert "domain_activity" not in s  # the home has no projects
    # D shares C (degree 3) with A; E and F share nobody.
    assert s["common_partners"].tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(s["adamic_adar"], [1 / math.log(3), 0.0, 0.0])
    np.testing.assert_allclose(s["resource_allocation"], [1 / 3, 0.0, 0.0])
    # walk(c) = Σ over c's partners y of RA(A, y) / deg y, with RA(A, C) = 1/2 (via B),
    # RA(A, D) = 1/3 (via C): D ← C: (1/2)/3; E ← D: (1/3)/2; F: nothing.
    np.testing.assert_allclose(s["walk"], [1 / 6, 1 / 6, 0.0])
    assert s["degree"].tolist() == [2.0, 1.0, 0.0]
    assert got.reached("walk") == 2


def _o(
    i: str, country: str | None, kind: str = "sme", targets: tuple[str, ...] = ()
) -> Organisation:
    return org(i, country=country, kind=kind, target_countries=list(targets))


Q1 = _o("q1", "DE", "cluster", ("FR",))
Q2 = _o("q2", "FR")
Q3 = _o("q3", None)
X, Y, Z, W, V = _o("x", "FR"), _o("y", "DE"), _o("z", "IT"), _o("w", "FR"), _o("v", "ES")
LISTS = SuggestionLists(
    queries=[Q1, Q2, Q3],
    suggested=[[X, Y, Z, W], [X, Y], [X]],
    candidates=[
        Counter({"FR": 3, "DE": 2, "IT": 1, "": 2}),
        Counter({"FR": 1, "DE": 3}),
        Counter(),
    ],
    population=[X, Y, Z, W, V, Q1, Q2, Q3],
    k=4,
)


def test_abroad_share_counts_known_countries_only() -> None:
    assert abroad_share(Q1, [X, Y, Z, W]) == 0.75
    assert abroad_share(Q2, [X, Y]) == 0.5
    assert abroad_share(Q3, [X]) is None  # the asker's country is unknown
    assert abroad_share(Q1, [_o("u", None)]) is None
    assert abroad_share(Q1, [X, _o("u", None)]) == 1.0


def test_cross_border_table_by_hand() -> None:
    table = cross_border_table(LISTS)
    assert table.column("asking kind") == ["cluster", "sme", "all"]  # q3 has no share
    cluster, sme, everyone = table.as_dicts()
    assert (cluster["lists"], cluster["suggestions"]) == (1, 4)
    assert cluster["abroad (mean share)"] == 0.75
    assert cluster["candidates abroad"] == round(4 / 6, 3)
    assert (sme["abroad (mean share)"], sme["candidates abroad"]) == (0.5, 0.75)
    assert everyone["abroad (mean share)"] == 0.625
    assert everyone["lowest list"] == 0.5
    assert everyone["candidates abroad"] == round((4 / 6 + 3 / 4) / 2, 3)


def test_coverage_by_country_and_kind_by_hand() -> None:
    table = coverage_table(LISTS, by="country")
    assert table.column("country") == ["FR", "DE", "(unknown)", "ES", "IT"]
    fr = table.row("FR")
    # FR: x, w, q2; x is suggested three times and w once.
    assert (fr["organisations"], fr["in any list"], fr["appearances"]) == (3, 2, 4)
    assert fr["covered"] == round(2 / 3, 3)
    assert fr["share of appearances"] == round(4 / 7, 3)
    assert table.row("ES")["in any list"] == 0
    assert table.row("DE")["appearances"] == 2
    kinds = coverage_table(LISTS, by="kind")
    assert kinds.row("sme")["organisations"] == 7
    assert kinds.row("cluster")["in any list"] == 0
    with pytest.raises(ValueError, match="by 'region'"):
        coverage_table(LISTS, by="region")


def test_target_market_hits_by_hand() -> None:
    (hit,) = target_hits(LISTS)  # only q1 names target countries
    assert (hit.organisation, hit.targets, hit.suggestions, hit.in_targets) == (
        "q1",
        ("FR",),
        4,
        2,
    )
    assert hit.share == 0.5
    assert hit.candidate_share == 0.5  # 3 of the 6 candidates of known country are in FR
    table = target_market_table(LISTS)
    assert table.column("asking kind") == ["cluster", "all"]
    row = table.row("all")
    assert (row["lists with targets"], row["lift"], row["lists with a hit"]) == (1, 1.0, 1)


def test_history_years_come_from_the_collaboration_dates(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.upsert_organisations(ORGS)
    dates = ["2019-05-01", "2020-02-01", "2021-07-01", "2022-03-01"]
    store.upsert_collaborations(
        Collaboration(organisation_a=a, organisation_b=b, date=dt.date.fromisoformat(d))
        for (a, b), d in zip([("A", "B"), ("A", "C"), ("B", "C"), ("C", "D")], dates, strict=True)
    )
    assert history_years(store) == (2020, (2021, 2022))
    assert history_years(store, test_span=1) == (2021, (2022, 2022))
    with pytest.raises(ValueError, match="too short"):
        history_years(store, test_span=4)
    store.close()
    with pytest.raises(ValueError, match="no collaborations"):
        history_years(Store(tmp_path / "empty.sqlite"))


def test_table_checks_its_shape_and_prints_aligned() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 values for 2 columns"):
        Table(("a", "b"), [(1,)])
    table = count_table({"x": 3, "y": 1, "z": 1}, "value", top=2, title="Counts")
    assert table.rows == [("x", 3, 0.6), ("y", 1, 0.2), ("other (1)", 1, 0.2)]
    assert str(table).splitlines()[:3] == [
        "Counts",
        "value      count  share",
        "---------  -----  -----",
    ]
    assert "<caption>Counts</caption>" in table._repr_html_()
    with pytest.raises(KeyError, match="no column 'nope'"):
        table.column("nope")
