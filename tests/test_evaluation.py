from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from conftest import need_cordis
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.cli.main import main
from matcher.domain.errors import InvalidImportError
from matcher.evaluation.harness import (
    Scorer,
    Split,
    UnknownMethodError,
    evaluate,
    gini,
    method_names,
    parse_years,
    rank_metrics,
    register_method,
    scorers_for,
)
from matcher.graph import FloatArray, IntArray
from matcher.store import CollaborationRow

CORDIS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cordis"
BASELINES = ["random", "popularity", "common_neighbours", "adamic_adar", "resource_allocation"]


def project_rows(pid: str, members: list[str], date: str) -> list[CollaborationRow]:
    ids = sorted(members)
    w = 1 / (len(ids) - 1)
    return [(a, b, "joint_project", date, w, pid) for a, b in combinations(ids, 2)]


# -- metrics -------------------------------------------------------------------------------


def test_parse_years() -> None:
    assert parse_years("2017-2018") == (2017, 2018)
    assert parse_years("2019") == (2019, 2019)
    for bad in ("2018-2017", "soon", "2017-2018-2019"):
        with pytest.raises(ValueError):
            parse_years(bad)


def test_rank_metrics_by_hand() -> None:
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0, -np.inf]])
    relevant = np.zeros((2, 6), dtype=bool)
    relevant[0, [1, 3]] = True  # ranks 2 and 4
    relevant[1, 0] = True  # rank 5 of the 5 finite scores
    m = rank_metrics(scores, relevant, k=3)
    assert m.top.tolist() == [[0, 1, 2], [4, 3, 2]]
    assert m.hits.tolist() == [1.0, 0.0]
    assert m.recall.tolist() == [0.5, 0.0]
    assert m.precision.tolist() == pytest.approx([1 / 3, 0.0])
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg.tolist() == pytest.approx([(1 / math.log2(3)) / ideal, 0.0])
    assert m.reciprocal_rank.tolist() == pytest.approx([1 / 2, 1 / 5])
    # One relevant item at rank 1: every metric is perfect but precision.
    one = rank_metrics(scores[:1], np.eye(1, 6, dtype=bool), k=3)
    assert (one.ndcg[0], one.reciprocal_rank[0], one.precision[0]) == pytest.approx((1, 1, 1 / 3))


def test_gini() -> None:
    assert gini([3, 3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([0, 0]) == 0.0
    assert gini([1, 2, 3]) == pytest.approx(2 / 9)


@st.composite
def rankings(draw: st.DrawFn) -> tuple[FloatArray, np.ndarray, int]:
    n = draw(st.integers(2, 30))
    b = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    scores = rng.random((b, n))
    relevant = rng.random((b, n)) < draw(st.floats(0.05, 0.9))
    relevant[np.arange(b), rng.integers(0, n, b)] = True
    return scores, relevant, draw(st.integers(1, 12))


@settings(max_examples=60, deadline=None)
@given(rankings())
def test_metrics_lie_in_unit_interval(case: tuple[FloatArray, np.ndarray, int]) -> None:
    scores, relevant, k = case
    m = rank_metrics(scores, relevant, k)
    for values in (m.hits, m.recall, m.precision, m.ndcg, m.reciprocal_rank):
        assert ((values >= 0) & (values <= 1 + 1e-12)).all()
    assert (m.recall <= m.hits).all()


@settings(max_examples=60, deadline=None)
@given(rankings())
def test_a_perfect_ranking_scores_perfectly(case: tuple[FloatArray, np.ndarray, int]) -> None:
    scores, relevant, k = case
    perfect = scores + 10.0 * relevant  # every relevant item above every other
    m = rank_metrics(perfect, relevant, k)
    size = relevant.sum(axis=1)
    np.testing.assert_allclose(m.recall, np.minimum(size, k) / size)
    np.testing.assert_allclose(m.ndcg, 1.0)
    np.testing.assert_allclose(m.reciprocal_rank, 1.0)


# -- splits --------------------------------------------------------------------------------


def planted(seed: int = 3) -> list[CollaborationRow]:
    """Ten groups of eight; train projects of three inside a group (2015), test projects
    of two closing pairs inside a group (2016-2017): the answer is a friend of friends."""
    rng = np.random.default_rng(seed)
    rows: list[CollaborationRow] = []
    n = 0
    for g in range(10):
        members = [f"g{g}m{i}" for i in range(8)]
        for _ in range(6):
            rows += project_rows(f"T{n}", list(rng.choice(members, 3, replace=False)), "2015-06-01")
            n += 1
        for _ in range(4):
            rows += project_rows(f"N{n}", list(rng.choice(members, 2, replace=False)), "2016-06-01")
            n += 1
    return rows


def test_planted_triangles_adamic_adar_beats_random() -> None:
    split = Split.from_collaborations(planted(), 2015, (2016, 2017), queries=1000)
    assert split.train_organisations > 60
    assert len(split.queries) == len(split.query_candidates())
    report = evaluate(split, ["random", "adamic_adar", "common_neighbours"], bootstrap=200)
    aa, rnd = report.methods["adamic_adar"], report.methods["random"]
    assert aa.metrics["ndcg@10"] > 2 * rnd.metrics["ndcg@10"]
    assert aa.metrics["hits@10"] > rnd.metrics["hits@10"]
    assert aa.ci["ndcg@10"][0] > rnd.ci["ndcg@10"][1]
    assert aa.metrics["mrr"] > rnd.metrics["mrr"]


def test_new_pairs_follow_the_protocol() -> None:
    rows = project_rows("P1", ["A", "B", "C"], "2015-02-01") + project_rows(
        "P2", ["C", "D"], "2016-03-01"
    )
    rows += project_rows("P3", ["A", "B", "D", "X"], "2017-01-01")  # A-B known, X unseen
    rows += project_rows("P4", ["C", "D"], "2017-05-01")  # already linked
    rows += project_rows("P5", ["A", "E"], "2019-01-01")  # after the test years
    split = Split.from_collaborations(rows, 2016, (2017, 2018), queries=10)
    assert split.ids == ["A", "B", "C", "D"]
    assert split.train_pairs == 4 and split.new_pairs == 2  # A-D, B-D
    assert [split.ids[r] for r in split.new_partners(3)] == ["A", "B"]
    assert sorted(split.ids[q] for q in split.queries) == ["A", "B", "D"]


def test_a_sixty_member_project_is_ignored() -> None:
    big = [f"M{i:02d}" for i in range(60)]
    rows = project_rows("P1", ["A", "B", "C"], "2015-02-01")
    rows += project_rows("BIG", [*big, "A"], "2016-01-01")
    rows += project_rows("P2", ["M00", "M01"], "2016-02-01")
    rows += project_rows("BIG2", ["B", *big], "2017-01-01")
    rows += project_rows("P3", ["C", "M00"], "2017-06-01")
    split = Split.from_collaborations(rows, 2016, (2017, 2017))
    assert split.train_organisations == 63  # members of the big project still count
    assert split.train_pairs == 4  # A-B, A-C, B-C, M00-M01
    assert split.new_pairs == 1  # C-M00 only: BIG2 is too large
    loose = Split.from_collaborations(rows, 2016, (2017, 2017), max_consortium=100)
    assert loose.train_pairs == 4 + 61 * 60 // 2 - 1


def write_cordis(folder: Path, projects: dict[str, str], members: dict[str, list[str]]) -> None:
    folder.mkdir()
    with gzip.open(folder / "project.csv.gz", "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\r\n")
        w.writerow(["id", "acronym", "startDate", "objective"])
        for pid, date in projects.items():
            w.writerow([pid, f"ACR{pid}", date, "text; with a semicolon"])
    with (folder / "organization.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["projectID", "organisationID", "activityType", "country"])
        for pid, pics in members.items():
            for i, pic in enumerate(pics):
                w.writerow([pid, pic, "PRC" if i % 2 else "HES", "EL" if i % 3 else "DE"])


def test_cordis_directory_matches_the_collaborations_route(tmp_path: Path) -> None:
    big = [f"9{i:08d}" for i in range(60)]
    projects = {
        "1": "2014-01-01",
        "2": "2015-03-01",
        "3": "2016-01-01",
        "4": "2017-07-01",
        "5": "2018-02-01",
        "6": "2019-02-01",
        "7": "not a date",
    }
    members = {
        "1": ["100", "101", "102"],
        "2": ["102", "103"],
        "3": ["100", *big],
        "4": ["100", "103", "104"],
        "5": ["101", "103", "900000001", "900000002"],
        "6": ["100", "101"],
        "7": ["100", "104"],
        "99": ["101", "102"],  # not in project.csv
    }
    write_cordis(tmp_path / "c", projects, members)
    split = Split.from_cordis(tmp_path / "c", 2016, (2017, 2018))
    rows = [
        r
        for pid, pics in members.items()
        if pid in projects and projects[pid][:4].isdigit()
        for r in project_rows(pid, pics, projects[pid])
    ]
    other = Split.from_collaborations(rows, 2016, (2017, 2018))
    assert split.ids == other.ids and len(split.ids) == 64
    assert split.train_pairs == other.train_pairs == 4
    # 100-103 (2017; 104 is no train organisation), then all six pairs of 101, 103, 900000001
    # and 900000002 (2018): the last two met only in project 3, too large to count.
    assert split.new_pairs == other.new_pairs == 7
    assert (split.truth != other.truth).nnz == 0
    assert split.queries.tolist() == other.queries.tolist()
    assert split.countries is not None and split.kinds is not None
    assert split.countries[0] == "DE" and split.kinds[0] == "university"
    with pytest.raises(InvalidImportError):
        Split.from_cordis(tmp_path / "missing", 2016, (2017, 2018))


def test_query_sample_is_the_references() -> None:
    split = Split.from_collaborations(planted(), 2015, (2016, 2017), queries=5, seed=11)
    expected = np.random.default_rng(11).choice(sorted(split.query_candidates()), 5, replace=False)
    assert split.queries.tolist() == expected.tolist()
    assert split.with_queries(7, seed=2).queries.tolist() == (
        np.random.default_rng(2).choice(split.query_candidates(), 7, replace=False).tolist()
    )


# -- evaluate ------------------------------------------------------------------------------


def tiny_split() -> Split:
    return Split.from_collaborations(planted(), 2015, (2016, 2017), queries=1000)


def test_an_oracle_is_perfect_and_exclusions_hold() -> None:
    split = tiny_split()
    seen: list[IntArray] = []

    def oracle(rows: IntArray) -> FloatArray:
        seen.append(rows)
        return np.asarray(split.truth[rows].toarray(), dtype=np.float64)

    report = evaluate(split, {"oracle": oracle}, k=10, bootstrap=50, batch_size=7)
    res = report.methods["oracle"]
    sizes = np.diff(split.truth.indptr)[split.queries]
    assert res.metrics["mrr"] == pytest.approx(1.0)
    assert res.metrics["ndcg@10"] == pytest.approx(1.0)
    assert res.metrics["recall@10"] == pytest.approx(np.mean(np.minimum(sizes, 10) / sizes))
    assert res.metrics["hits@10"] == 1.0
    assert sum(len(r) for r in seen) == len(split.queries) and max(len(r) for r in seen) == 7
    lo, hi = res.ci["mrr"]
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    # Coverage: share of organisations recommended at least once (oracle lists only truths
    # at the top but fills the rest of each list with random ties).
    assert 0 < res.metrics["coverage"] <= 1 and 0 <= res.metrics["gini"] <= 1


def test_ties_do_not_favour_low_rows() -> None:
    split = tiny_split()
    n = split.train_organisations
    report = evaluate(split, {"flat": lambda rows: np.zeros((len(rows), n))}, k=5, bootstrap=0)
    res = report.methods["flat"]
    # In row order the ten lowest rows would fill nearly every list.
    assert res.exposure[:10].sum() < 0.4 * res.exposure.sum()
    assert res.ci == {}


def test_json_and_text_reports() -> None:
    split = tiny_split()
    report = evaluate(split, BASELINES, k=5, bootstrap=100)
    data = report.to_json()
    assert list(data["methods"]) == BASELINES
    aa = data["methods"]["adamic_adar"]
    for key in ("hits@5", "recall@5", "precision@5", "ndcg@5", "mrr", "coverage", "gini"):
        assert 0 <= aa[key] <= 1
    assert set(aa["by_degree"]) == {"0-2", "3-10", ">10"}
    assert sum(b["queries"] for b in aa["by_degree"].values()) == data["queries"]
    lo, hi = aa["ci"]["ndcg@5"]
    assert lo <= aa["ndcg@5"] <= hi
    assert data["train_pairs"] == split.train_pairs and data["new_pairs"] == split.new_pairs
    assert data["test_years"] == [2016, 2017] and data["train_until"] == 2015
    json.dumps(data)
    text = report.to_text()
    assert "adamic_adar" in text and "ndcg@5" in text and "by the query's past partners" in text


def test_registry() -> None:
    assert method_names()[:5] == BASELINES
    split = tiny_split()
    with pytest.raises(UnknownMethodError, match="known: random, popularity"):
        scorers_for(split, ["adamic_adar", "nope"])

    @register_method("test-two-hop", replace=True)
    def _two_hop(s: Split) -> Scorer:
        return lambda rows: (s.graph.common_neighbours(rows) > 0).astype(float)

    report = evaluate(split, ["test-two-hop", "random"], bootstrap=0)
    assert (
        report.methods["test-two-hop"].metrics["hits@10"]
        > report.methods["random"].metrics["hits@10"]
    )
    with pytest.raises(ValueError, match="already registered"):
        register_method("test-two-hop", _two_hop)
    with pytest.raises(ValueError, match="shape"):
        evaluate(split, {"bad": lambda rows: np.zeros((len(rows), 3))}, bootstrap=0)


def test_cli_evaluate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MATCHER_HOME", str(tmp_path / "home"))
    path = tmp_path / "collaborations.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["organisation_a", "organisation_b", "kind", "date", "weight", "source_ref"])
        for a, b, kind, date, weight, ref in planted():
            w.writerow([a, b, kind, date, weight, ref])
    args = ["evaluate", "--collaborations", str(path), "--train-until", "2015"]
    assert (
        main(
            [
                *args,
                "--test-years",
                "2016-2017",
                "--methods",
                "adamic_adar,random",
                "--json",
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert list(data["methods"]) == ["adamic_adar", "random"] and data["queries"] > 0
    assert main([*args, "--test-years", "2016", "--k", "5"]) == 0
    assert "ndcg@5" in capsys.readouterr().out
    assert main([*args, "--test-years", "2016", "--methods", "adamic_adar,magic"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'magic'" in err and "known: random" in err


# -- the real CORDIS subset ------------------------------------------------------------------


def independent_counts(train_until: int, test: tuple[int, int]) -> tuple[int, int, int]:
    """Train organisations, train pairs and new pairs, counted in plain Python."""
    with gzip.open(CORDIS / "project.csv.gz", "rt", encoding="utf-8", newline="") as f:
        years = {
            r["id"]: int(r["startDate"][:4])
            for r in csv.DictReader(f, delimiter=";")
            if r["startDate"]
        }
    groups: dict[str, set[str]] = {}
    with gzip.open(CORDIS / "organization.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter=";"):
            if r["projectID"] in years and r["organisationID"]:
                groups.setdefault(r["projectID"], set()).add(r["organisationID"])

    def pairs(lo: int, hi: int) -> Iterator[tuple[str, str]]:
        for pid, g in groups.items():
            if lo <= years[pid] <= hi and 2 <= len(g) <= 50:
                yield from combinations(sorted(g), 2)

    orgs = {o for pid, g in groups.items() if years[pid] <= train_until for o in g}
    train = set(pairs(0, train_until))
    new = {p for p in pairs(*test) if p not in train and p[0] in orgs and p[1] in orgs}
    return len(orgs), len(train), len(new)


def test_real_cordis_slice() -> None:
    need_cordis(CORDIS)
    split = Split.from_cordis(CORDIS, 2014, (2015, 2015), queries=300)
    counts = independent_counts(2014, (2015, 2015))
    assert (split.train_organisations, split.train_pairs, split.new_pairs) == counts
    report = evaluate(split, ["random", "popularity", "adamic_adar"], bootstrap=200)
    m = {name: r.metrics for name, r in report.methods.items()}
    assert m["adamic_adar"]["ndcg@10"] > 3 * m["random"]["ndcg@10"]
    assert m["popularity"]["hits@10"] > m["random"]["hits@10"]
    assert 1 < m["adamic_adar"]["countries@10"] <= 10


def test_a_split_without_new_pairs() -> None:
    split = Split.from_collaborations(
        project_rows("P", ["A", "B"], "2015-01-01"), 2015, (2016, 2017)
    )
    assert split.new_pairs == 0 and len(split.queries) == 0
    report = evaluate(split, BASELINES, bootstrap=10)
    assert report.queries == 0 and report.methods["adamic_adar"].metrics["ndcg@10"] == 0.0
