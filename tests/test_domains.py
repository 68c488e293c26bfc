"""Domain activity (matcher.domains): known answers on hand-made projects."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from matcher.domains import DomainActivity, domain_keys
from matcher.graph import CollaborationGraph
from matcher.ranking import DOMAIN_SIGNAL, HAND_DOMAIN_WEIGHT, hand_ranker, score_all
from matcher.schema import Organisation, Participation, Project
from matcher.signals import ProfileTable

PROJECTS = [
    Project(id="p1", topic="ICT-12-2015", programme="LEIT", funding_scheme="RIA",
            start_date=dt.date(2015, 3, 1)),
    Project(id="p2", topic="ICT-01-2014", programme="Innovation in SMEs;LEIT",
            funding_scheme="SME-1", start_date=dt.date(2014, 6, 1)),
    Project(id="p3", topic="SFS-02-2015", programme="SC2", funding_scheme="RIA",
            start_date=dt.date(2015, 5, 1)),
    Project(id="late", topic="ICT-99-2017", programme="LEIT", funding_scheme="RIA",
            start_date=dt.date(2017, 1, 1)),
]  # fmt: skip
PARTS = [
    Participation(project_id=p, organisation_id=o)
    for p, o in [("p1", "a"), ("p1", "b"), ("p2", "b"), ("p3", "c"), ("late", "c"),
                 ("p3", "x")]  # x is not in the table: ignored
]  # fmt: skip
IDS = ["a", "b", "c", "d"]


def test_domain_keys() -> None:
    assert domain_keys(PROJECTS[1]) == (["Innovation in SMEs", "LEIT"], ["ICT"], ["SME-1"])
    assert domain_keys(Project(id="e")) == ([], [], [])


def test_known_answer() -> None:
    d = DomainActivity.build(IDS, PROJECTS, PARTS, as_of=dt.date(2015, 12, 31))
    got = d.scores(np.array([0]))  # a: one project, LEIT / ICT / RIA
    # b: LEIT 2, ICT 2, RIA 1 → log1p(log 3) + log1p(log 3) + log1p(log 2)
    b = 2 * math.log1p(math.log(3)) + math.log1p(math.log(2))
    # c: only p3 counts (the 2017 project is after the cut-off): RIA 1
    c = math.log1p(math.log(2))
    a = 3 * math.log1p(math.log(2))
    np.testing.assert_allclose(got, [[a, b, c, 0.0]])
    # a subset of candidates gives the same numbers
    np.testing.assert_allclose(
        d.scores(np.array([0, 3]), np.array([2, 1])), np.array([[c, b], [0.0, 0.0]])
    )
    # without a cut-off the 2017 project counts: c gains LEIT and ICT
    later = DomainActivity.build(IDS, PROJECTS, PARTS).scores(np.array([0]))
    assert later[0, 2] > c


def _table() -> ProfileTable:
    orgs = [Organisation(id=i, name=i, kind="sme", country="DE") for i in IDS]
    graph = CollaborationGraph.from_rows([], organisations=IDS)
    z = np.zeros((len(IDS), 4), np.float32)
    return ProfileTable(orgs, z, z.copy(), z.copy(), graph, dt.date(2016, 1, 1), np.zeros(4))


def test_hand_ranker_with_domains_ranks_the_active_candidate_first() -> None:
    table = _table()
    d = DomainActivity.build(IDS, PROJECTS, PARTS, as_of=dt.date(2015, 12, 31))
    ranker = hand_ranker(domain=True)
    assert dict(zip(ranker.features, ranker.weights, strict=True))[DOMAIN_SIGNAL] == (
        HAND_DOMAIN_WEIGHT
    )
    scores = score_all(table, ranker, np.array([0]), reciprocity="forward", domains=d)
    assert list(np.argsort(-scores[0])[:3]) == [1, 2, 3]
    both = score_all(table, ranker, np.array([0]), domains=d)  # harmonic: both sides
    assert both[0, 1] > both[0, 3]
    with pytest.raises(ValueError, match=DOMAIN_SIGNAL):
        score_all(table, ranker, np.array([0]))
