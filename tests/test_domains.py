"""Domain activity (matcher.ranking.domains): known answers on hand-made projects."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Organisation, Participation, Project
from matcher.graph import CollaborationGraph
from matcher.ranking.domains import DomainActivity, domain_keys
from matcher.ranking.rank import DOMAIN_SIGNAL, HAND_DOMAIN_WEIGHT, hand_ranker, score_all
from matcher.ranking.signals import SIGNALS, ProfileTable
from models import LinearRanker

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


# -- the facade ----------------------------------------------------------------------------

_PROJECT_HEADER = "id;acronym;title;startDate;topics;programmePart;fundingScheme;objective"
_ORG_HEADER = "projectID;projectAcronym;organisationID;name;activityType;country;role"
# A works in LEIT / ICT / RIA with B. C and F are equally active (one project of two each,
# same text), neither linked to A: C in A's domains, F elsewhere.
_PROJECTS = [
    "1;ROBO1;Robots;2015-01-01;ICT-01-2014;LEIT;RIA;robot arms for factories",
    "2;ROBO2;Robots;2015-02-01;ICT-01-2014;LEIT;RIA;robot arms for factories",
    "3;ROBO3;Robots;2015-03-01;SFS-01-2014;SC2;CSA;robot arms for factories",
]
_ORGS = [
    "1;ROBO1;alpha;Alpha;PRC;DE;coordinator",
    "1;ROBO1;beta;Beta;PRC;DE;participant",
    "2;ROBO2;gamma;Gamma;PRC;DE;coordinator",
    "2;ROBO2;delta;Delta;PRC;DE;participant",
    "3;ROBO3;phi;Phi;PRC;DE;coordinator",
    "3;ROBO3;psi;Psi;PRC;DE;participant",
]


def _cordis(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "project.csv").write_text("\n".join([_PROJECT_HEADER, *_PROJECTS]) + "\n")
    (directory / "organization.csv").write_text("\n".join([_ORG_HEADER, *_ORGS]) + "\n")
    return directory


def _built(tmp_path: Path, encoder: SentenceTransformerEncoder) -> Matcher:
    """A matcher weighing the domain activity, built on the hand-made CORDIS files."""
    settings = Settings(home=tmp_path / "home", domain_activity=True, reciprocity="forward")
    m = Matcher(settings, encoder=encoder)
    m.import_cordis(_cordis(tmp_path / "cordis"))
    m.build(show_progress=False)
    return m


def test_facade_recommends_with_the_domain_activity(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    with _built(tmp_path, encoder) as m:
        assert DOMAIN_SIGNAL in m.ranker.features
        names = [s.organisation.name for s in m.recommend("alpha", k=4)]
        # Gamma and Delta (in Alpha's domains) before Phi and Psi (elsewhere)
        assert set(names[:2]) == {"Gamma", "Delta"}
        # a learned ranker with the domain activity is read back from JSON
        learned = LinearRanker.from_weights(
            (*SIGNALS, DOMAIN_SIGNAL), {DOMAIN_SIGNAL: 1.0}, card={"kind": "test"}
        )
        learned.save(m.home / "ranker.json")
    with Matcher(Settings(home=tmp_path / "home"), encoder=encoder) as m:
        assert m.ranker.features == (*SIGNALS, DOMAIN_SIGNAL)
        top = m.recommend("alpha", k=4)
        assert {s.organisation.name for s in top[:2]} == {"Gamma", "Delta"}
        assert any(r.signal == DOMAIN_SIGNAL for r in top[0].reasons)
    (tmp_path / "home" / "ranker.json").unlink()
    with Matcher(Settings(home=tmp_path / "home"), encoder=encoder) as m:  # the default
        assert DOMAIN_SIGNAL not in m.ranker.features
        assert m.state().table.domains is None
        assert len(m.recommend("alpha", k=4)) == 4


def test_a_new_organisation_is_ranked_with_the_domain_activity(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    with _built(tmp_path, encoder) as m:
        m.state()  # loaded before the write, as in the service
        new = Organisation(id="omega", name="Omega", kind="sme", country="DE",
                           description="robot arms for factories")  # fmt: skip
        m.upsert_organisations([new])
        table = m.state().table
        assert table.domains is not None and list(table.domains.ids) == table.ids
        assert "omega" in table.rows
        assert "Omega" in [s.organisation.name for s in m.recommend("alpha", k=5)]
        assert len(m.recommend("omega", k=3)) == 3
