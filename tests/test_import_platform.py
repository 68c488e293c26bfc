from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.ingest import import_platform
from matcher.store import Store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORGS_CSV = EXAMPLES / "organisations.csv"
COLLABS_CSV = EXAMPLES / "collaborations.csv"
ORGS_JSONL = EXAMPLES / "organisations.jsonl"
COLLABS_JSONL = EXAMPLES / "collaborations.jsonl"

Row = dict[str, str]


# -- helpers -------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[Row]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, columns: list[str], rows: list[Row], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def line_of(index: int) -> int:
    """The line of data row ``index`` in a file written by :func:`write_rows`."""
    return index + 2


def snapshot(store: Store) -> dict[str, Any]:
    return {
        "stats": store.stats(),
        "organisations": [o.model_dump(mode="json") for o in store.organisations()],
        "collaborations": sorted(
            (
                c.organisation_a,
                c.organisation_b,
                str(c.kind),
                c.date.isoformat(),
                c.weight,
                c.source_ref,
            )
            for c in store.collaborations()
        ),
        "projects": [p.model_dump(mode="json") for p in store.projects()],
        "participations": sorted(
            (p.project_id, p.organisation_id, p.role) for p in store.participations()
        ),
    }


def updated_orgs() -> tuple[list[str], list[Row]]:
    """The example organisations with new descriptions, plus a new one: all would change."""
    columns, rows = read_rows(ORGS_CSV)
    rows = [{**r, "description": r["description"] + " Updated."} for r in rows]
    rows.append(
        {
            "id": "NEW-OK",
            "name": "New Cluster",
            "kind": "cluster",
            "country": "AT",
            "ecosystems": "digital",
        }
    )
    return columns, rows


def new_collabs() -> tuple[list[str], list[Row]]:
    """The example collaborations moved to new dates: all would be new rows."""
    columns, rows = read_rows(COLLABS_CSV)
    return columns, [{**r, "date": f"2026-01-{i + 10:02d}"} for i, r in enumerate(rows)]


def assert_refused(store: Store, **files: Any) -> InvalidImportError:
    before = snapshot(store)
    with pytest.raises(InvalidImportError) as info:
        import_platform(store, **files)
    assert snapshot(store) == before
    assert "nothing written" in str(info.value)
    return info.value


def only_problem(error: InvalidImportError) -> ImportProblem:
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def assert_valid_rows_would_change(store: Store, **files: Any) -> None:
    """The refused files did carry changes: skipping the bad rows writes something."""
    report = import_platform(store, skip_invalid=True, **files)
    assert report.changed > 0


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "store.sqlite")
    import_platform(s, organisations=ORGS_CSV, collaborations=COLLABS_CSV)
    assert s.count_organisations() == 10
    yield s
    s.close()


@pytest.fixture
def empty_store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "empty.sqlite")
    yield s
    s.close()


# -- the examples --------------------------------------------------------------------------


def test_examples_csv_import_and_reimport_changes_nothing(empty_store: Store) -> None:
    report = import_platform(empty_store, organisations=ORGS_CSV, collaborations=COLLABS_CSV)
    assert (report.organisations, report.collaborations) == (10, 6)
    assert report.changed == 16
    assert report.rejected == []
    assert empty_store.count_organisations() == 10
    assert empty_store.count_collaborations() == 6
    cold = empty_store.get_organisation("SME-COLD-IT")
    assert cold.keywords == ["IoT sensors", "cold chain", "temperature monitoring"]
    assert cold.target_countries == ["ES", "DK"]
    assert cold.website is None
    assert empty_store.partners("CL-AGRI-ES") == {"CL-AGRI-DK", "SME-COLD-IT"}
    first = snapshot(empty_store)

    again = import_platform(empty_store, organisations=ORGS_CSV, collaborations=COLLABS_CSV)
    assert again.changed == 0
    assert (again.organisations, again.collaborations) == (10, 6)
    assert snapshot(empty_store) == first


def test_jsonl_examples_give_the_same_store(tmp_path: Path) -> None:
    with Store(tmp_path / "csv.sqlite") as from_csv, Store(tmp_path / "jsonl.sqlite") as from_jl:
        import_platform(from_csv, organisations=ORGS_CSV, collaborations=COLLABS_CSV)
        report = import_platform(from_jl, organisations=ORGS_JSONL, collaborations=COLLABS_JSONL)
        assert (report.organisations, report.collaborations, report.changed) == (10, 6, 16)
        assert snapshot(from_jl) == snapshot(from_csv)
        # Either format over the other's store changes nothing.
        assert (
            import_platform(
                from_csv, organisations=ORGS_JSONL, collaborations=COLLABS_JSONL
            ).changed
            == 0
        )
        assert import_platform(from_jl, organisations=ORGS_JSONL).changed == 0
        assert snapshot(from_jl) == snapshot(from_csv)


# -- refusals ------------------------------------------------------------------------------


def test_bad_date_in_collaborations_is_refused(store: Store, tmp_path: Path) -> None:
    columns, rows = new_collabs()
    rows[3]["date"] = "2025-13-40"
    path = write_rows(tmp_path / "collaborations.csv", columns, rows)
    problem = only_problem(assert_refused(store, collaborations=path))
    assert (problem.file, problem.line, problem.field) == ("collaborations.csv", 5, "date")
    assert not problem.fatal
    assert_valid_rows_would_change(store, collaborations=path)


def test_missing_id_column_is_fatal(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    path = write_rows(tmp_path / "organisations.csv", [c for c in columns if c != "id"], rows)
    for skip in (False, True):
        problem = only_problem(
            assert_refused(
                store, organisations=path, skip_invalid=skip, report_path=tmp_path / "report.csv"
            )
        )
        assert (problem.file, problem.line, problem.field) == ("organisations.csv", 1, "id")
        assert problem.fatal
        assert "missing required column" in problem.message
    assert not (tmp_path / "report.csv").exists()


def test_duplicate_id_with_conflicting_data_is_refused(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows.append({**rows[2], "name": "FrescoTrack Renamed S.r.l."})
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    problem = only_problem(assert_refused(store, organisations=path))
    assert (problem.file, problem.line, problem.field) == (
        "organisations.csv",
        line_of(len(rows) - 1),
        "id",
    )
    assert "SME-COLD-IT" in problem.message
    assert f"line {line_of(2)}" in problem.message
    assert_valid_rows_would_change(store, organisations=path)
    # Neither version of the conflicting organisation was written.
    assert store.get_organisation("SME-COLD-IT").name == "FrescoTrack S.r.l."


def test_duplicate_id_with_identical_data_is_accepted(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows.append(dict(rows[2]))
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    report = import_platform(store, organisations=path)
    assert report.organisations == 11
    assert report.changed == 11


def test_collaboration_with_unknown_organisation_is_refused(store: Store, tmp_path: Path) -> None:
    columns, rows = new_collabs()
    rows[4] = {**rows[4], "organisation_a": "CL-AGRI-DK", "organisation_b": "ZZ-UNKNOWN"}
    path = write_rows(tmp_path / "collaborations.csv", columns, rows)
    problem = only_problem(assert_refused(store, collaborations=path))
    assert (problem.file, problem.line, problem.field) == (
        "collaborations.csv",
        6,
        "organisation_b",
    )
    assert "ZZ-UNKNOWN" in problem.message
    assert_valid_rows_would_change(store, collaborations=path)


def test_wrong_delimiter_is_refused_with_a_hint(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    path = write_rows(tmp_path / "organisations.csv", columns, rows, delimiter=";")
    error = assert_refused(store, organisations=path, skip_invalid=True)
    assert {p.field for p in error.problems} == {"id", "name", "kind"}
    for problem in error.problems:
        assert (problem.file, problem.line) == ("organisations.csv", 1)
        assert problem.fatal
        assert "delimiter" in problem.message


def test_unknown_country_is_refused(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows[6]["country"] = "XX"
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    problem = only_problem(assert_refused(store, organisations=path))
    assert (problem.file, problem.line, problem.field) == ("organisations.csv", 8, "country")
    assert "XX" in problem.message
    assert_valid_rows_would_change(store, organisations=path)


def test_unknown_ecosystem_is_refused(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows[4]["ecosystems"] = "aerospace_defence;space_tourism"
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    problem = only_problem(assert_refused(store, organisations=path))
    assert (problem.file, problem.line) == ("organisations.csv", 6)
    assert problem.field.split(".")[0] == "ecosystems"
    assert_valid_rows_would_change(store, organisations=path)


def test_bad_jsonl_line_is_refused(store: Store, tmp_path: Path) -> None:
    lines = ORGS_JSONL.read_text(encoding="utf-8").splitlines()
    records = [json.loads(text) for text in lines]
    lines = [
        json.dumps({**r, "description": r["description"] + " Updated."}, ensure_ascii=False)
        for r in records
    ]
    lines[2] = '{"id": "SME-COLD-IT", "name": oops'
    lines[5] = json.dumps({"id": "NO-NAME"})
    path = tmp_path / "organisations.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = assert_refused(store, organisations=path)
    where = sorted((p.file, p.line, p.field) for p in error.problems)
    assert where == [
        ("organisations.jsonl", 3, ""),  # not JSON: no field to name
        ("organisations.jsonl", 6, "kind"),
        ("organisations.jsonl", 6, "name"),
    ]
    assert "not valid JSON" in next(p.message for p in error.problems if p.line == 3)
    assert_valid_rows_would_change(store, organisations=path)


# -- skip_invalid --------------------------------------------------------------------------


def test_skip_invalid_writes_valid_rows_and_reports_the_rest(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows[2]["country"] = "XX"  # SME-COLD-IT: rejected, the stored version stays
    rows.append({"id": "ZZ-BAD", "name": "Bad Kind Ltd", "kind": "spaceship", "country": "DE"})
    orgs = write_rows(tmp_path / "organisations.csv", columns, rows)
    ccols, _ = read_rows(COLLABS_CSV)
    collab_rows = [
        {"organisation_a": "CL-AGRI-DK", "organisation_b": "NEW-OK", "date": "2026-02-01"},
        {"organisation_a": "CL-AGRI-DK", "organisation_b": "ZZ-BAD", "date": "2026-02-02"},
        {"organisation_a": "CL-AGRI-ES", "organisation_b": "CL-TEXT-PT", "date": "2025-13-40"},
        {"organisation_a": "CL-AGRI-ES", "organisation_b": "SME-COLD-IT", "date": "2026-02-03"},
    ]
    collabs = write_rows(tmp_path / "collaborations.csv", ccols, collab_rows)
    report_path = tmp_path / "out" / "rejected.csv"
    old_cold = store.get_organisation("SME-COLD-IT")

    report = import_platform(
        store,
        organisations=orgs,
        collaborations=collabs,
        skip_invalid=True,
        report_path=report_path,
    )

    expected = {
        ("organisations.csv", line_of(2), "country"),
        ("organisations.csv", line_of(len(rows) - 1), "kind"),
        ("collaborations.csv", 3, "organisation_b"),
        ("collaborations.csv", 4, "date"),
    }
    assert {(p.file, p.line, p.field) for p in report.rejected} == expected
    assert report.report_path == report_path
    with report_path.open(newline="", encoding="utf-8") as f:
        listed = list(csv.reader(f))
    assert listed[0] == ["file", "line", "field", "problem"]
    assert {(r[0], int(r[1]), r[2]) for r in listed[1:]} == expected
    assert len(listed) == 1 + len(expected)
    assert all(r[3] for r in listed[1:])

    assert (report.organisations, report.collaborations) == (10, 2)
    assert report.changed == 9 + 1 + 2
    assert store.get_organisation("SME-COLD-IT") == old_cold
    assert store.get_organisation("CL-AGRI-DK").description.endswith(" Updated.")
    assert store.get_organisation("NEW-OK").country == "AT"
    assert store.has_organisations(["ZZ-BAD"]) == set()
    assert store.count_collaborations() == 6 + 2
    assert store.partners("NEW-OK") == {"CL-AGRI-DK"}
    after = snapshot(store)

    again = import_platform(
        store,
        organisations=orgs,
        collaborations=collabs,
        skip_invalid=True,
        report_path=report_path,
    )
    assert again.changed == 0
    assert snapshot(store) == after


def test_missing_required_column_is_fatal_even_with_skip_invalid(
    store: Store, tmp_path: Path
) -> None:
    columns, rows = new_collabs()
    path = write_rows(tmp_path / "collaborations.csv", [c for c in columns if c != "date"], rows)
    report_path = tmp_path / "rejected.csv"
    error = assert_refused(store, collaborations=path, skip_invalid=True, report_path=report_path)
    problem = only_problem(error)
    assert (problem.file, problem.line, problem.field) == ("collaborations.csv", 1, "date")
    assert problem.fatal
    assert not report_path.exists()


# -- collaborations against the store ------------------------------------------------------


def test_collaborations_alone_when_their_ends_are_stored(empty_store: Store) -> None:
    import_platform(empty_store, organisations=ORGS_CSV)
    assert empty_store.count_collaborations() == 0
    report = import_platform(empty_store, collaborations=COLLABS_CSV)
    assert (report.organisations, report.collaborations, report.changed) == (0, 6, 6)
    assert empty_store.count_collaborations() == 6
    assert empty_store.partners("CL-AERO-FR") == {"SME-CFRP-DE"}


def test_collaboration_between_stored_and_imported_organisations(
    store: Store, tmp_path: Path
) -> None:
    columns, _ = read_rows(ORGS_CSV)
    new = {"id": "NEW-OK", "name": "New Cluster", "kind": "cluster", "country": "AT"}
    orgs = write_rows(tmp_path / "organisations.csv", columns, [new])
    ccols, _ = read_rows(COLLABS_CSV)
    collabs = write_rows(
        tmp_path / "collaborations.csv",
        ccols,
        [{"organisation_a": "NEW-OK", "organisation_b": "CL-ENERGY-PL", "date": "2026-03-01"}],
    )
    report = import_platform(store, organisations=orgs, collaborations=collabs)
    assert report.changed == 2
    assert store.partners("CL-ENERGY-PL") == {"NEW-OK"}


# -- edge cases ----------------------------------------------------------------------------


def test_bad_multiline_row_is_named_by_its_first_line(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows[1]["description"] = "A valid row\non three\nlines."  # lines 3-5
    rows[3]["description"] = "First line.\nSecond line.\nThird line."  # lines 7-9
    rows[3]["country"] = "XX"
    rows[5]["kind"] = "spaceship"  # line 11
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    error = assert_refused(store, organisations=path)
    assert [(p.line, p.field) for p in error.problems] == [(7, "country"), (11, "kind")]


@pytest.mark.parametrize("case", ["not-utf8", "missing"])
def test_unreadable_jsonl_is_refused_like_csv(store: Store, tmp_path: Path, case: str) -> None:
    path = tmp_path / "organisations.jsonl"
    if case == "not-utf8":
        path.write_bytes(b'{"id": "X-1", "name": "Caf\xe9", "kind": "sme"}\n')
    problem = only_problem(assert_refused(store, organisations=path))
    assert problem.file == "organisations.jsonl"
    assert problem.fatal


def test_duplicate_collaboration_with_conflicting_weight_is_refused(
    store: Store, tmp_path: Path
) -> None:
    columns, rows = new_collabs()
    rows.append({**rows[1], "weight": "0.25"})
    path = write_rows(tmp_path / "collaborations.csv", columns, rows)
    problem = only_problem(assert_refused(store, collaborations=path))
    assert problem.line == line_of(len(rows) - 1)
    assert f"line {line_of(1)}" in problem.message


def test_self_collaboration_names_a_field(store: Store, tmp_path: Path) -> None:
    columns, rows = new_collabs()
    rows[0] = {**rows[0], "organisation_b": rows[0]["organisation_a"]}
    path = write_rows(tmp_path / "collaborations.csv", columns, rows)
    problem = only_problem(assert_refused(store, collaborations=path))
    assert problem.line == 2
    assert problem.field in {"organisation_a", "organisation_b"}


# -- messages in our own words -------------------------------------------------------------

PYDANTIC_WORDS = ("Value error", "Input should", "validation error", "pydantic")


@pytest.mark.parametrize(
    ("column", "value", "wanted"),
    [
        ("kind", "smee", ["'smee'", "cluster, sme, large_company", "did you mean 'sme'"]),
        ("ecosystems", "agri_fod", ["'agri_fod'", "tourism", "did you mean 'agri_food'"]),
        ("stages", "prod", ["'prod'", "recycling", "did you mean 'production'"]),
        ("country", "Germany", ["'Germany'", "ISO 3166-1", "did you mean DE"]),
        ("languages", "german", ["'german'", "ISO 639-1", "did you mean de"]),
        ("size", "many", ["'many'", "whole number"]),
        ("name", "x" * 301, ["301 characters", "at most 300"]),
    ],
)
def test_organisation_messages_name_value_and_choices(
    store: Store, tmp_path: Path, column: str, value: str, wanted: list[str]
) -> None:
    columns, rows = updated_orgs()
    rows[4][column] = value
    path = write_rows(tmp_path / "organisations.csv", columns, rows)
    problem = only_problem(assert_refused(store, organisations=path))
    assert (problem.file, problem.line, problem.field) == ("organisations.csv", 6, column)
    for text in wanted:
        assert text in problem.message
    assert not any(w in problem.message for w in PYDANTIC_WORDS)


@pytest.mark.parametrize(
    ("column", "value", "wanted"),
    [
        ("kind", "meeting", ["'meeting'", "joint_project", "did you mean 'event_meeting'"]),
        ("date", "2025-13-40", ["'2025-13-40'", "YYYY-MM-DD"]),
        ("weight", "2", ["'2'", "at most 1"]),
        ("weight", "heavy", ["'heavy'", "not a number"]),
    ],
)
def test_collaboration_messages_name_value_and_choices(
    store: Store, tmp_path: Path, column: str, value: str, wanted: list[str]
) -> None:
    columns, rows = new_collabs()
    rows[1][column] = value
    path = write_rows(tmp_path / "collaborations.csv", columns, rows)
    problem = only_problem(assert_refused(store, collaborations=path))
    assert (problem.line, problem.field) == (3, column)
    for text in wanted:
        assert text in problem.message
    assert not any(w in problem.message for w in PYDANTIC_WORDS)


def test_unknown_column_is_reported_once_and_refuses_the_file(store: Store, tmp_path: Path) -> None:
    columns, rows = updated_orgs()
    rows = [{**r, "contry": r.get("country", "")} for r in rows]
    path = write_rows(tmp_path / "organisations.csv", [*columns, "contry"], rows)
    for skip in (False, True):
        problem = only_problem(
            assert_refused(
                store, organisations=path, skip_invalid=skip, report_path=tmp_path / "r.csv"
            )
        )
        assert (problem.line, problem.field, problem.fatal) == (1, "contry", True)
        assert "unknown column (did you mean 'country'?)" in problem.message
    assert not (tmp_path / "r.csv").exists()


def test_unknown_jsonl_key_is_reported_once(store: Store, tmp_path: Path) -> None:
    records = [json.loads(t) for t in ORGS_JSONL.read_text(encoding="utf-8").splitlines()]
    records[3]["tags"] = ["x"]
    records[5]["tags"] = ["y"]
    records[6]["emial"] = "a@b.eu"
    path = tmp_path / "organisations.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    error = assert_refused(store, organisations=path, skip_invalid=True)
    assert [(p.line, p.field, p.fatal) for p in error.problems] == [
        (4, "tags", True),
        (7, "emial", True),
    ]
