"""The table planner on synthetic scores: hard rules, known designs, refusals, quality."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.domain.schema import Organisation
from matcher.domain.vocab import OrganisationKind
from matcher.planner import (
    RULES,
    InfeasiblePlanError,
    InvalidParticipantsError,
    MixTargets,
    PairScores,
    Participant,
    PlanOptions,
    Problem,
    best_bound,
    choose_table_size,
    counting_bound,
    designs,
    greedy_seating,
    locks_from_json,
    parse_participants,
    random_seating,
    score_plan,
    seating_from_json,
    solve,
)
from matcher.planner.search import improve

KINDS = list(OrganisationKind)
COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "NL", "PT", "FI"]


def organisations(n: int, seed: int = 0) -> dict[str, Organisation]:
    rng = random.Random(seed)
    return {
        f"O{i}": Organisation(
            id=f"O{i}",
            name=f"Organisation {i}",
            kind=KINDS[rng.randrange(len(KINDS))],
            country=rng.choice(COUNTRIES),
        )
        for i in range(n)
    }


def random_scores(n: int, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).random((n, n))
    return (m + m.T) / 2


def problem_of(
    matrix: np.ndarray,
    options: PlanOptions,
    participants: list[Participant] | None = None,
    orgs: dict[str, Organisation] | None = None,
    **extra: object,
) -> Problem:
    orgs = orgs or organisations(len(matrix))
    people = participants or [Participant(o) for o in orgs]
    return Problem.build(
        people, options, organisations=orgs, scores=PairScores(list(orgs), matrix), **extra
    )  # type: ignore[arg-type]


def meetings(seating: np.ndarray) -> Counter[tuple[int, int]]:
    met: Counter[tuple[int, int]] = Counter()
    for row in seating:
        for t in set(row.tolist()):
            members = np.flatnonzero(row == t).tolist()
            met.update(itertools.combinations(members, 2))
    return met


def check_hard_rules(problem: Problem, seating: np.ndarray) -> None:
    """The rules, checked here from the seating itself (not with the planner's checker)."""
    people = problem.participants
    n, rounds = problem.size, problem.rounds
    assert seating.shape == (rounds, n)
    for r in range(rounds):
        sizes = Counter(seating[r].tolist())
        assert max(sizes.values()) - min(sizes.values()) <= 1
        assert len(sizes) == problem.tables
        for t in range(problem.tables):
            orgs = [people[i].organisation_id for i in range(n) if seating[r, i] == t]
            assert len(orgs) == len(set(orgs)), f"round {r}, table {t}: {orgs}"
    met = meetings(seating)
    if problem.options.no_repeat:
        assert max(met.values(), default=0) <= 1
    for pair in problem.must_meet:
        assert met[pair] >= 1
    for pair in problem.must_not_meet:
        assert met[pair] == 0
    for i, t in problem.hosts.items():
        assert all(seating[r, i] == t for r in range(rounds))


@st.composite
def instances(draw: st.DrawFn) -> Problem:
    """Random instances with a planted seating that keeps every rule, rules drawn from it."""
    seed = draw(st.integers(0, 10_000))
    rng = random.Random(seed)
    tables = draw(st.integers(2, 5))
    size = draw(st.integers(2, min(tables, 4)))
    n = draw(st.integers(tables * max(size - 1, 2), tables * size))
    rounds = draw(st.integers(1, 3))
    planted = np.zeros((rounds, n), np.int64)
    for r in range(rounds):
        for _ in range(200):
            order = rng.sample(range(n), n)
            seat = np.array([0] * n)
            for k, i in enumerate(order):
                seat[i] = k % tables
            if all(
                not (seat[a] == seat[b] and any(planted[q][a] == planted[q][b] for q in range(r)))
                for a in range(n)
                for b in range(a + 1, n)
            ):
                planted[r] = seat
                break
        else:
            assume(False)
    met = meetings(planted)
    org = list(range(n))
    members = {i: [i] for i in range(n)}
    for a in range(n):
        for b in range(a + 1, n):
            apart = all(met[(min(m, b), max(m, b))] == 0 for m in members[a])
            if apart and org[b] == b and org[a] == a and rng.random() < 0.1:
                org[b] = a
                members[a].append(b)
    names = {i: f"O{org[i]}" for i in range(n)}
    pairs = list(itertools.combinations(range(n), 2))
    must_meet = [p for p in pairs if met[p] == 1 and rng.random() < 0.05]
    must_not = [p for p in pairs if met[p] == 0 and org[p[0]] != org[p[1]] and rng.random() < 0.05]
    hosts: dict[int, int] = {}
    if draw(st.booleans()):
        for i in range(n):
            stays = all(planted[r, i] == planted[0, i] for r in range(rounds))
            if stays and planted[0, i] not in hosts.values() and rng.random() < 0.5:
                hosts[i] = int(planted[0, i])
    counts = Counter(names.values())

    def ref(b: int) -> str:
        return f"{names[b]}/p{b}" if counts[names[b]] > 1 else names[b]

    people = [
        Participant(
            organisation_id=names[i],
            person=f"p{i}" if counts[names[i]] > 1 else None,
            host_table=hosts[i] + 1 if i in hosts else None,
            must_meet=tuple(ref(b) for a, b in must_meet if a == i),
            must_not_meet=tuple(ref(b) for a, b in must_not if a == i),
        )
        for i in range(n)
    ]
    options = PlanOptions(rounds=rounds, tables=tables, seed=seed, time_limit=3)
    return problem_of(random_scores(n, seed), options, people, organisations(n, seed))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_hard_rules_hold_on_random_instances(problem: Problem) -> None:
    plan = solve(problem)
    check_hard_rules(problem, plan.seating)
    assert plan.evaluation.broken == []
    assert plan.score == pytest.approx(problem.evaluate(plan.seating).score)
    assert plan.stats is not None and plan.stats.bound is not None
    assert plan.score <= plan.stats.bound + 1e-6


@pytest.mark.parametrize(("n", "size", "rounds"), [(16, 4, 5), (20, 4, 5), (9, 3, 4), (15, 3, 7)])
def test_known_feasible_dense_instances_are_planned_with_no_repeated_pair(
    n: int, size: int, rounds: int
) -> None:
    options = PlanOptions(rounds=rounds, table_size=size, time_limit=5)
    problem = problem_of(random_scores(n), options)
    plan = solve(problem)
    check_hard_rules(problem, plan.seating)
    assert plan.evaluation.repeated_pairs == 0
    assert len(meetings(plan.seating)) == rounds * (n // size) * size * (size - 1) // 2


@pytest.mark.parametrize(("n", "size", "rounds"), [(16, 4, 5), (9, 3, 4), (12, 3, 4)])
def test_cp_sat_finds_dense_schedules_without_a_known_design(
    n: int, size: int, rounds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matcher.planner.planning as planning

    monkeypatch.setattr(planning, "design_seating", lambda problem: None)
    problem = problem_of(
        random_scores(n, 1), PlanOptions(rounds=rounds, table_size=size, time_limit=5)
    )
    plan = solve(problem)
    assert plan.stats is not None and "cp-sat" in plan.stats.engines
    assert "design" not in plan.stats.engines
    assert max(meetings(plan.seating).values()) == 1
    check_hard_rules(problem, plan.seating)


def _resolvable(schedule: designs.Schedule, n: int) -> Counter[tuple[int, int]]:
    met: Counter[tuple[int, int]] = Counter()
    for rnd in schedule:
        assert sorted(p for table in rnd for p in table) == list(range(n))
        sizes = [len(t) for t in rnd]
        assert max(sizes) - min(sizes) <= 1
        for table in rnd:
            met.update(itertools.combinations(sorted(table), 2))
    assert max(met.values(), default=1) == 1
    return met


@pytest.mark.parametrize("q", [2, 3, 4, 5, 7, 8, 9])
def test_affine_planes_meet_every_pair_exactly_once(q: int) -> None:
    met = _resolvable(designs.affine_plane(q), q * q)
    assert len(met) == q * q * (q * q - 1) // 2


@pytest.mark.parametrize(("q", "size", "n"), [(5, 4, 20), (5, 4, 18), (7, 3, 19), (4, 3, 12)])
def test_truncated_planes_keep_columns_apart(q: int, size: int, n: int) -> None:
    schedule = designs.truncated_affine(q, size, n)
    met = _resolvable(schedule, n)
    assert len(schedule) == q
    found = designs.schedule_for(n, q, q)
    assert found is not None
    for column in found[1]:
        assert not any((a, b) in met for a, b in itertools.combinations(column, 2))


def test_round_robin_and_kirkman() -> None:
    assert len(_resolvable(designs.round_robin(8), 8)) == 28
    assert len(_resolvable(designs.round_robin(7), 7)) == 21
    assert len(_resolvable(designs.kirkman_15(), 15)) == 105
    assert designs.prime_power(12) is None and designs.prime_power(27) == (3, 3)


@pytest.mark.parametrize(
    ("n", "size", "rounds", "largest"),
    [(9, 3, 5, 4), (16, 4, 6, 5), (12, 4, 2, 1), (25, 5, 7, 6)],
)
def test_infeasible_requests_are_refused_with_the_largest_round_count(
    n: int, size: int, rounds: int, largest: int
) -> None:
    options = PlanOptions(rounds=rounds, table_size=size, time_limit=5)
    problem = problem_of(random_scores(n), options)
    with pytest.raises(InfeasiblePlanError) as err:
        solve(problem)
    assert err.value.rule == "no_repeat" and err.value.proof == "counting"
    assert err.value.max_rounds == largest
    assert f"{largest} round(s) with the same tables" in str(err.value)
    assert any("allow" in a for a in err.value.alternatives)
    plan = solve(problem.with_rounds(largest))
    assert plan.evaluation.broken == []


def test_unproven_requests_say_so_and_still_give_the_largest_round_count() -> None:
    # 20 people at tables of 4: the counting bound allows 6 rounds, 5 are known to work.
    problem = problem_of(random_scores(20), PlanOptions(rounds=6, table_size=4, time_limit=2))
    with pytest.raises(InfeasiblePlanError) as err:
        solve(problem)
    assert err.value.proof in (None, "solver")
    assert err.value.max_rounds == 5


def test_the_solver_proves_what_counting_cannot() -> None:
    orgs = organisations(6)
    people = [
        Participant("O0", must_meet=("O1", "O2")),
        Participant("O1", must_not_meet=("O2",)),
        *[Participant(o) for o in list(orgs)[2:]],
    ]
    problem = problem_of(random_scores(6), PlanOptions(rounds=1, table_size=3), people, orgs)
    with pytest.raises(InfeasiblePlanError) as err:
        solve(problem)
    assert err.value.proof == "solver" and "CP-SAT proved" in str(err.value)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 1000), st.integers(2, 5), st.integers(1, 3))
def test_an_organisation_with_more_people_than_tables_is_refused(
    seed: int, tables: int, rounds: int
) -> None:
    orgs = organisations(tables * 3, seed)
    people = [Participant(o) for o in orgs]
    crowd = [Participant("O0", person=f"person {k}") for k in range(tables + 1)]
    with pytest.raises(InfeasiblePlanError) as err:
        problem_of(
            np.ones((len(orgs), len(orgs))),
            PlanOptions(rounds=rounds, tables=tables),
            [*crowd, *people[1:]],
            orgs,
        )
    assert err.value.rule == "one_per_organisation" and err.value.proof == "counting"
    assert "O0/person 0" in err.value.participants
    assert f"{tables + 1} people" in str(err.value)


@pytest.mark.parametrize(
    ("change", "rule", "who"),
    [
        ({0: {"host_table": 1}, 1: {"host_table": 2}, 2: {"host_table": 3}}, "host", "O2"),
        ({3: {"host_table": 9}}, "host", "O3"),
        ({0: {"must_meet": ("O1",), "must_not_meet": ("O1",)}}, "must_meet", "O1"),
        ({0: {"host_table": 1, "must_meet": ("O1",)}, 1: {"host_table": 2}}, "must_meet", "O0"),
    ],
)
def test_contradictory_rules_are_named_with_who(
    change: dict[int, dict[str, object]], rule: str, who: str
) -> None:
    orgs = organisations(9)
    people = [Participant(o, **change.get(i, {})) for i, o in enumerate(orgs)]  # type: ignore[arg-type]
    tables = 2 if rule == "host" and len(change) == 3 else 3
    with pytest.raises(InfeasiblePlanError) as err:
        problem_of(np.ones((9, 9)), PlanOptions(rounds=2, tables=tables), people, orgs)
    assert err.value.rule == rule
    assert rule in str(err.value) and RULES[rule] in str(err.value)
    assert who in err.value.participants


def test_two_hosts_of_one_table_allow_one_round_only() -> None:
    orgs = organisations(9)
    people = [Participant(o, host_table=1 if i < 2 else None) for i, o in enumerate(orgs)]
    problem = problem_of(random_scores(9), PlanOptions(rounds=2, tables=3), people, orgs)
    with pytest.raises(InfeasiblePlanError) as err:
        solve(problem)
    assert err.value.rule == "no_repeat" and "hosts of table 1" in str(err.value)
    assert err.value.max_rounds == 1


def test_bad_participants_name_line_and_field() -> None:
    text = "organisation_id,person,host_table,must_meet\nA,,x,\nB,Bo,,\n,,,\nC,,,Nobody\n"
    with pytest.raises(InvalidParticipantsError) as err:
        parse_participants(text, name="p.csv")
    assert "p.csv, line 2, field 'host_table'" in str(err.value)
    with pytest.raises(InvalidParticipantsError, match="unknown column"):
        parse_participants("organisation_id,email\nA,a@b.c\n")
    with pytest.raises(InvalidParticipantsError, match="field 'kind'"):
        parse_participants("organisation_id,name\nNEW-1,New Org\n")
    people = parse_participants(
        "organisation_id,must_meet\nO0,Nobody\nO1,\nO2,\nO3,\n", name="q.csv"
    )
    with pytest.raises(InvalidParticipantsError) as err2:
        problem_of(np.ones((4, 4)), PlanOptions(rounds=1, tables=2), people, organisations(4))
    assert "q.csv, line 2, field 'must_meet'" in str(err2.value)
    assert "'Nobody' is not a participant" in str(err2.value)


@pytest.mark.parametrize(
    ("n", "rounds", "size"),
    [(12, 3, 3), (16, 3, 4), (30, 3, 5), (64, 3, 8), (300, 3, 8), (9, 1, 5)],
)
def test_the_table_size_is_chosen_from_the_group(n: int, rounds: int, size: int) -> None:
    assert choose_table_size(n, rounds) == size
    problem = problem_of(random_scores(n), PlanOptions(rounds=rounds))
    assert max(problem.sizes) == size
    assert problem.notes and f"table size {size} chosen" in problem.notes[0]


def latin_groups(k: int) -> list[list[list[int]]]:
    """Rows, columns and diagonals of a k×k grid (k prime): mutually orthogonal partitions.

    (Three rounds of the 5×5 grid are not recovered: CP-SAT reaches 108 of 150 in 30 s, the
    assignment search about 90; see docs/planner.md.)
    """
    cells = [(x, y) for x in range(k) for y in range(k)]
    keys = [lambda c: c[0], lambda c: c[1], lambda c: (c[0] + c[1]) % k]
    return [[[i for i, c in enumerate(cells) if key(c) == g] for g in range(k)] for key in keys]


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([(5, 1), (3, 2), (5, 2), (3, 3)]), st.permutations(range(25)))
def test_planted_structure_is_recovered_and_proven_optimal(
    shape: tuple[int, int], shuffle: list[int]
) -> None:
    k, rounds = shape
    n = k * k
    order = [i for i in shuffle if i < n]
    groups = latin_groups(k)[:rounds]
    matrix = np.zeros((n, n))
    for partition in groups:
        for group in partition:
            for a, b in itertools.permutations(group, 2):
                matrix[order[a], order[b]] = 1.0
    problem = problem_of(matrix, PlanOptions(rounds=rounds, tables=k, time_limit=10))
    plan = solve(problem)
    planted_value = rounds * k * k * (k - 1) / 2
    assert plan.score == pytest.approx(planted_value)
    assert plan.stats is not None and plan.stats.bound == pytest.approx(planted_value, abs=0.01)
    found = {
        frozenset(frozenset(np.flatnonzero(plan.seating[r] == t).tolist()) for t in range(k))
        for r in range(rounds)
    }
    wanted = {
        frozenset(frozenset(order[i] for i in group) for group in partition) for partition in groups
    }
    if rounds <= 2:  # three rounds of a 3×3 grid have other optimal seatings too
        assert found == wanted


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([(9, 3, 2), (12, 4, 2), (10, 4, 2), (12, 3, 1)]))
def test_small_plans_are_proven_optimal_and_the_search_comes_close(
    seed: int, shape: tuple[int, int, int]
) -> None:
    n, tables, rounds = shape
    options = PlanOptions(rounds=rounds, tables=tables, seed=seed, time_limit=60)
    problem = problem_of(random_scores(n, seed), options)
    plan = solve(problem)
    assert plan.stats is not None and plan.stats.status == "optimal"
    assert plan.stats.bound == pytest.approx(plan.score, abs=0.01)  # coefficients rounded up
    searched = improve(problem, greedy_seating(problem), seed=seed)
    assert problem.evaluate(searched.seating).broken == []
    assert searched.value >= plan.score - 0.05 * abs(plan.score)


def test_the_same_seed_gives_the_same_plan() -> None:
    options = PlanOptions(
        rounds=3,
        table_size=6,
        seed=11,
        mix=MixTargets(min_countries=3),
        time_limit=60,
        steps=5_000,
    )
    one = solve(problem_of(random_scores(60, 3), options))
    two = solve(problem_of(random_scores(60, 3), options))
    assert one.stats is not None and not one.stats.stopped_early
    assert one.stats.engines == ("assignment search",)
    assert np.array_equal(one.seating, two.seating)
    assert one.to_json()["score"] == two.to_json()["score"]


def test_existing_partners_are_kept_apart_unless_allowed() -> None:
    n = 24
    matrix = random_scores(n, 5) * 0.3
    partners = [(f"O{i}", f"O{i + 1}") for i in range(0, n, 2)]
    for a, b in partners:
        i, j = int(a[1:]), int(b[1:])
        matrix[i, j] = matrix[j, i] = 1.0  # partners look like the best pairs
    options = PlanOptions(rounds=3, table_size=4, time_limit=3)
    kept = solve(problem_of(matrix, options, partners=partners))
    assert kept.evaluation.partners_together == [] and kept.evaluation.partner_penalty == 0
    allowed = solve(problem_of(matrix, PlanOptions(rounds=3, table_size=4, avoid_partners=False,
                                                   time_limit=3), partners=partners))  # fmt: skip
    assert len(allowed.evaluation.partners_together) >= n // 4
    assert allowed.evaluation.partner_penalty == 0
    assert allowed.to_json()["partners_together"]


def test_repeats_when_allowed_cost_and_are_counted() -> None:
    # 12 people at tables of 4 over 2 rounds cannot avoid repeats: allowed, they cost.
    problem = problem_of(
        random_scores(12), PlanOptions(rounds=2, table_size=4, no_repeat=False, time_limit=5)
    )
    plan = solve(problem)
    assert plan.evaluation.broken == []
    repeated = sum(1 for c in meetings(plan.seating).values() if c > 1)
    assert plan.evaluation.repeated_pairs == repeated >= 3
    assert plan.evaluation.repeat_penalty == pytest.approx(repeated * problem.repeat_weight)


def test_reasons_are_in_the_third_person_and_every_line_has_one() -> None:
    orgs = organisations(18, 2)
    orgs["O0"] = orgs["O0"].model_copy(update={"keywords": ["hydrogen", "fuel cells"]})
    orgs["O1"] = orgs["O1"].model_copy(update={"keywords": ["Hydrogen"]})
    scores = PairScores(
        list(orgs), random_scores(18, 2), reasons=lambda a, b: ["which matches what you seek"]
    )
    problem = Problem.build(
        [Participant(o) for o in orgs],
        PlanOptions(rounds=2, table_size=3, time_limit=5),
        organisations=orgs,
        scores=scores,
    )
    data = solve(problem).to_json()
    texts = []
    for rnd in data["rounds"]:
        for table in rnd["tables"]:
            assert table["reasons"] and all(table["reasons"])
            texts += table["reasons"]
            for m in table["members"]:
                assert m["why"]
                texts.append(m["why"])
    assert not any(w in t.lower().split() for t in texts for w in ("you", "your"))
    pair = [
        t
        for t in texts
        if t.startswith(
            ("Organisation 0 and Organisation 1 (", "Organisation 1 and Organisation 0 (")
        )
    ]
    assert all("both work on Hydrogen" in t or "both work on hydrogen" in t for t in pair)


def test_plan_json_csv_agendas_and_an_edited_plan() -> None:
    orgs = organisations(12, 5)
    orgs["O0"] = orgs["O0"].model_copy(update={"keywords": ["hydrogen", "fuel cells"]})
    people = [
        Participant("O0", person="Ann"),
        Participant("O0", person="Bo"),
        *[Participant(o) for o in list(orgs)[1:]],
    ]
    m = random_scores(12, 1)
    problem = problem_of(
        m, PlanOptions(rounds=2, table_size=3, themes={1: "hydrogen"}, time_limit=5), people, orgs
    )
    plan = solve(problem)
    data = json.loads(json.dumps(plan.to_json()))
    assert [len(r["tables"]) for r in data["rounds"]] == [5, 5]
    assert {p["key"] for p in data["participants"]} == {p.key for p in people}
    assert data["rounds"][0]["tables"][0]["theme"].startswith("hydrogen")
    assert data["search"]["bound"] >= data["score"] and 0 <= data["search"]["gap"] <= 1
    rows = list(csv.DictReader(io.StringIO(plan.to_csv())))
    assert len(rows) == 2 * 13
    agenda = list(csv.DictReader(io.StringIO(plan.agenda_csv())))
    assert len(agenda) == 2 * 13 and all(r["with"] and r["why"] for r in agenda)
    ann = next(a for a in plan.agendas() if a["key"] == "O0/Ann")
    bo_key = "Bo (Organisation 0)"
    assert all(bo_key not in r["with"] for r in ann["rounds"])
    # The same plan read back scores the same; swapping keeps sizes, moving Bo to Ann breaks.
    seating = seating_from_json(problem, data)
    assert np.array_equal(seating, plan.seating)
    ann_i, bo_i = problem.keys["O0/Ann"], problem.keys["O0/Bo"]
    t_ann, t_bo = int(seating[0, ann_i]), int(seating[0, bo_i])
    tables = data["rounds"][0]["tables"]
    bo = next(x for x in tables[t_bo]["members"] if x["key"] == "O0/Bo")
    other = next(x for x in tables[t_ann]["members"] if x["key"] != "O0/Ann")
    tables[t_bo]["members"].remove(bo)
    tables[t_ann]["members"].remove(other)
    tables[t_ann]["members"].append(bo)
    tables[t_bo]["members"].append(other)
    edited = score_plan(problem, data)
    rules = {b.rule for b in edited.broken}
    assert "one_per_organisation" in rules and "table_size" not in rules
    with pytest.raises(ValueError, match="not seated: O0/Bo"):
        tables[t_ann]["members"].remove(bo)
        seating_from_json(problem, data)


def test_locked_people_and_tables_keep_their_seats_when_re_solved() -> None:
    options = PlanOptions(rounds=3, table_size=4, time_limit=3, seed=2)
    problem = problem_of(random_scores(20, 4), options)
    first = solve(problem).to_json()
    locks = locks_from_json(first, people=["O3", "O7"], tables=[(2, 1)])
    at_table = {m["key"] for m in first["rounds"][1]["tables"][0]["members"]}
    assert len(locks) == 2 * 3 + len(at_table - {"O3", "O7"})
    other = np.random.default_rng(9).random((20, 20))
    again = solve(problem_of((other + other.T) / 2, options, locked=locks))
    for (r, key), t in locks.items():
        assert again.seating[r, again.problem.keys[key]] == t
    assert again.evaluation.broken == []
    assert not np.array_equal(again.seating, seating_from_json(problem, first))


def test_the_plan_beats_random_and_greedy_seating_and_stays_under_its_bound() -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 8))
    vectors = centres[rng.integers(0, 6, 90)] + 0.6 * rng.normal(size=(90, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    m = np.clip(vectors @ vectors.T, 0, None)
    problem = problem_of(m, PlanOptions(rounds=3, table_size=8, seed=1, time_limit=10))
    plan = solve(problem)
    randomly = np.mean([problem.evaluate(random_seating(problem, s)).pair_score for s in range(5)])
    assert plan.score > 1.15 * randomly
    greedy = problem.evaluate(greedy_seating(problem))
    assert greedy.broken or plan.score >= greedy.score
    assert plan.stats is not None and plan.stats.bound_source == "b-matching"
    assert plan.score <= best_bound(problem) <= counting_bound(problem) + 1e-9
