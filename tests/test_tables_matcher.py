"""The planner through the real Matcher: pair scores, partners from the store, the CLI."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.cli.main import main
from matcher.planner import PlanOptions, build_problem, parse_participants, solve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _partners() -> set[frozenset[str]]:
    with (EXAMPLES / "collaborations.csv").open(encoding="utf-8") as f:
        return {frozenset((r["organisation_a"], r["organisation_b"])) for r in csv.DictReader(f)}


def test_the_example_plans_with_default_options_and_no_existing_partners_together(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    people = parse_participants((EXAMPLES / "participants.csv").read_text(), name="p.csv")
    with Matcher(Settings(home=examples_home), encoder=encoder) as m:
        problem = build_problem(m, people, PlanOptions(time_limit=5))
        plan = solve(problem)
        stored = m.store.partner_pairs({p.organisation_id for p in people})
        allowing = build_problem(m, people, PlanOptions(avoid_partners=False, time_limit=3))
    assert problem.rounds == 3 and max(problem.sizes) == 3 and problem.tables == 4
    assert "table size 3 chosen" in problem.notes[0]
    assert plan.evaluation.broken == []
    # The store's partners among the participants are the example file's collaborations.
    assert {frozenset(p) for p in stored} == {
        pair for pair in _partners() if pair <= {p.organisation_id for p in people}
    }
    assert len(problem.partners) >= 6
    orgs = [p.organisation_id for p in people]
    for r in range(problem.rounds):
        for t in range(problem.tables):
            at = [orgs[i] for i in np.flatnonzero(plan.seating[r] == t)]
            assert not any(frozenset(pair) in _partners() for pair in itertools.combinations(at, 2))
    assert plan.evaluation.partners_together == []
    data = plan.to_json()
    anna = next(p for p in data["participants"] if p["person"] == "Anna Holm")
    assert anna["tables"] == [1, 1, 1] and anna["host"]
    els = problem.keys["UNI-FOOD-BE/Els Peeters"]
    lucia = problem.keys["CL-AGRI-ES/Lucía Ortega"]
    assert any(plan.seating[r, els] == plan.seating[r, lucia] for r in range(3))  # must meet
    for rnd in data["rounds"]:
        for table in rnd["tables"]:
            assert table["reasons"] and all(" and " in r for r in table["reasons"])
            assert all(m["why"] for m in table["members"])
            text = " ".join(table["reasons"] + [m["why"] for m in table["members"]]).lower()
            assert " you " not in f" {text} " and " your " not in f" {text} "
    # With partners allowed, nothing keeps them apart and the penalty is off.
    assert allowing.partners == set() and solve(allowing).evaluation.partner_penalty == 0


def test_pair_scores_are_the_mean_of_both_sides_recommend_scores(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    people = parse_participants((EXAMPLES / "participants.csv").read_text(), name="p.csv")
    options = PlanOptions(rounds=3, table_size=3, time_limit=2)
    with Matcher(Settings(home=examples_home), encoder=encoder) as m:
        problem = build_problem(m, people, options)
        found = {s.organisation.id: s.score for s in m.recommend("CL-AGRI-ES", k=50)}
        back = {
            other: {s.organisation.id: s.score for s in m.recommend(other, k=50)}.get("CL-AGRI-ES")
            for other in found
        }
    row = problem.keys["CL-AGRI-ES/Lucía Ortega"]
    present = {p.organisation_id for p in people}
    checked = 0
    for other, score in found.items():
        if other not in present or back[other] is None:
            continue
        j = next(i for i, p in enumerate(problem.participants) if p.organisation_id == other)
        assert problem.scores[row, j] == pytest.approx((score + back[other]) / 2, abs=1e-6)
        checked += 1
    assert checked >= 3
    # Existing partners are not suggested, but the planner still scores them (they may sit
    # together with --allow-partners).
    partner = next(iter(m.store.partner_pairs(present)))
    a, b = (next(i for i, p in enumerate(problem.participants) if p.organisation_id == x)
            for x in partner)  # fmt: skip
    assert 0 < problem.scores[a, b] <= 1
    inline = problem.keys["UNI-FOOD-BE/Els Peeters"]
    assert problem.scores[inline].max() > 0
    assert np.allclose(problem.scores, problem.scores.T)


def test_matcher_tables_cli(
    examples_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MATCHER_HOME", str(examples_home))
    stored = tmp_path / "participants.csv"
    lines = (EXAMPLES / "participants.csv").read_text().splitlines()
    stored.write_text("\n".join(line for line in lines if "UNI-FOOD-BE" not in line) + "\n")
    out_csv, agenda = tmp_path / "seats.csv", tmp_path / "agenda.csv"
    code = main(
        ["tables", str(stored), "--json", "--csv", str(out_csv), "--agenda", str(agenda),
         "--time-limit", "3"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert len(printed["rounds"]) == 3 and printed["broken"] == []
    assert "note: table size 3 chosen" in captured.err
    assert len(out_csv.read_text().splitlines()) == 1 + 3 * 11
    assert len(agenda.read_text().splitlines()) == 1 + 3 * 11
    assert main(["tables", str(stored), "--time-limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "existing partners seated together: 0" in text and "mix shortfall" not in text
    # Refused: one line naming the rule, the proof and the largest round count.
    assert main(["tables", str(stored), "--table-size", "4", "--rounds", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_repeat" in err[0] and "proof: counting bound" in err[0]
    assert "the largest number of rounds that works is 1" in err[0]
    assert "Traceback" not in err[0]
    assert main(["tables", str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err
    assert main(["tables", str(stored), "--rounds", "0"]) == 2
    assert "'0' must be above 0" in capsys.readouterr().err
    assert main(["tables", str(stored), "--table-size", "3", "--tables", "4"]) == 2
    assert "not allowed with" in capsys.readouterr().err
