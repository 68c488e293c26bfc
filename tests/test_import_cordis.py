from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from matcher.domain.errors import ImportProblem, InvalidImportError
from matcher.ingest import import_cordis, import_platform
from matcher.ingest.report import ImportReport
from matcher.store import Store

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CORDIS = REPO.parent / "shared" / "data" / "cordis"

if not (CORDIS / "project.csv.gz").is_file():  # CI fails instead of skipping
    if os.environ.get("CI"):
        pytest.fail(f"the CORDIS subset is not at {CORDIS} (CI needs it)", pytrace=False)
    pytest.skip(f"the CORDIS subset is not at {CORDIS}", allow_module_level=True)

KINDS = {
    "HES": "university",
    "REC": "research",
    "PUB": "public_body",
    "OTH": "other",
    "PRC": "sme",
}


# -- fixtures built at run time from the real files ----------------------------------------


def parse(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=";"))


def unparse(values: list[str], delimiter: str = ";") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(values)
    return out.getvalue()


@dataclass
class Table:
    """A CORDIS file as lines without terminators: header first, one line per row."""

    lines: list[str]

    @property
    def columns(self) -> list[str]:
        return parse(self.lines[0])

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, row) for every data row."""
        for number, text in enumerate(self.lines[1:], start=2):
            yield number, dict(zip(self.columns, parse(text), strict=True))

    def copy(self) -> Table:
        return Table(list(self.lines))

    def set(self, line: int, column: str, value: str) -> None:
        values = parse(self.lines[line - 1])
        values[self.columns.index(column)] = value
        self.lines[line - 1] = unparse(values)

    def append(self, row: dict[str, str]) -> int:
        self.lines.append(unparse([row[c] for c in self.columns]))
        return len(self.lines)

    def drop(self, *columns: str) -> Table:
        keep = [i for i, c in enumerate(self.columns) if c not in columns]
        return Table([unparse([parse(t)[i] for i in keep]) for t in self.lines])

    def with_delimiter(self, delimiter: str) -> Table:
        return Table([unparse(parse(t), delimiter) for t in self.lines])


@dataclass
class Source:
    projects: Table
    organisations: Table
    topics: Table


@dataclass
class Expected:
    start: dict[str, dt.date] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    country: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)

    @property
    def pics(self) -> set[str]:
        return set().union(*self.members.values())

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return {(pid, pic) for pid, pics in self.members.items() for pic in pics}

    @property
    def collaborations(self) -> int:
        return sum(len(m) * (len(m) - 1) // 2 for m in self.members.values())


def expected(projects: Table, organisations: Table, until: dt.date | None = None) -> Expected:
    out = Expected()
    for _, row in projects.rows():
        start = dt.date.fromisoformat(row["startDate"])
        if until is None or start <= until:
            out.start[row["id"]] = start
    for _, row in organisations.rows():
        if row["projectID"] in out.start:
            out.members[row["projectID"]].add(row["organisationID"])
            out.country[row["organisationID"]] = row["country"]
            out.kind[row["organisationID"]] = row["activityType"]
    return out


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        return f.read().replace("\r\n", "\n").rstrip("\n").split("\n")


def build_source(first: int = 120, every: int = 250) -> Source:
    """The first projects of project.csv plus every ``every``-th one (so that start dates
    run from 2014 to 2018), the organization.csv rows of those projects, and topics.csv.
    Lines are copied as they are."""
    project_lines = read_lines(CORDIS / "project.csv.gz")
    picked = [project_lines[0]] + [
        text for i, text in enumerate(project_lines[1:], start=1) if i <= first or i % every == 0
    ]
    projects = Table(picked)
    width = len(projects.columns)
    # A row spanning lines would break the line arithmetic of the tests.
    assert all(len(parse(t)) == width for t in picked)
    ids = {row["id"] for _, row in projects.rows()}
    org_lines = read_lines(CORDIS / "organization.csv.gz")
    organisations = Table([org_lines[0]] + [t for t in org_lines[1:] if t.split(";", 1)[0] in ids])
    assert all(len(parse(t)) == len(organisations.columns) for t in organisations.lines)
    return Source(projects, organisations, Table(read_lines(CORDIS / "topics.csv")))


def write_cordis(
    directory: Path,
    projects: Table | None,
    organisations: Table,
    topics: Table | None = None,
    *,
    gz: bool = False,
    crlf: bool = False,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    end = "\r\n" if crlf else "\n"
    for stem, table in (("project", projects), ("organization", organisations), ("topics", topics)):
        if table is None:
            continue
        data = (end.join(table.lines) + end).encode("utf-8")
        if gz:
            (directory / f"{stem}.csv.gz").write_bytes(gzip.compress(data))
        else:
            (directory / f"{stem}.csv").write_bytes(data)
    return directory


def snapshot(store: Store) -> dict[str, Any]:
    return {
        "stats": store.stats(),
        "organisations": [o.model_dump(mode="json") for o in store.organisations()],
        "collaborations": sorted(
            (c.organisation_a, c.organisation_b, str(c.kind), str(c.date), c.weight, c.source_ref)
            for c in store.collaborations()
        ),
        "projects": [p.model_dump(mode="json") for p in store.projects()],
        "participations": sorted(
            (p.project_id, p.organisation_id, p.role) for p in store.participations()
        ),
    }


def assert_store_holds(store: Store, exp: Expected) -> None:
    assert {p.id for p in store.projects()} == set(exp.start)
    assert {(p.project_id, p.organisation_id) for p in store.participations()} == exp.pairs
    assert set(store.organisation_ids()) == exp.pics
    assert store.count_collaborations() == exp.collaborations
    for c in store.collaborations():
        n = len(exp.members[c.source_ref])
        assert c.date == exp.start[c.source_ref]
        assert math.isclose(c.weight, 1 / (n - 1))
        assert {c.organisation_a, c.organisation_b} <= exp.members[c.source_ref]


def assert_refused(store: Store, directory: Path, **kwargs: Any) -> InvalidImportError:
    before = snapshot(store)
    with pytest.raises(InvalidImportError) as info:
        import_cordis(store, directory, **kwargs)
    assert snapshot(store) == before
    return info.value


def problems_in(error: InvalidImportError, file: str) -> list[ImportProblem]:
    return [p for p in error.problems if p.file == file]


def org_lines_of(organisations: Table, pid: str) -> list[int]:
    return [line for line, row in organisations.rows() if row["projectID"] == pid]


def pick_project(source: Source, *, skip: int = 5) -> tuple[int, str]:
    """A plain (unquoted) project row with at least three participants: (line, id)."""
    exp = expected(source.projects, source.organisations)
    for line, row in list(source.projects.rows())[skip:]:
        if '"' not in source.projects.lines[line - 1] and len(exp.members[row["id"]]) >= 3:
            return line, row["id"]
    raise AssertionError("no suitable project row")


@pytest.fixture(scope="module")
def source() -> Source:
    return build_source()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store already holding the platform examples, so that "unchanged" means something."""
    with Store(tmp_path / "store.sqlite") as s:
        import_platform(
            s,
            organisations=EXAMPLES / "organisations.csv",
            collaborations=EXAMPLES / "collaborations.csv",
        )
        yield s


def fresh(tmp_path: Path, name: str) -> Store:
    return Store(tmp_path / f"{name}.sqlite")


# -- the whole real subset, imported once --------------------------------------------------


@dataclass
class Full:
    store: Store
    report: ImportReport
    exp: Expected


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Full]:
    exp = expected(
        Table(read_lines(CORDIS / "project.csv.gz")),
        Table(read_lines(CORDIS / "organization.csv.gz")),
    )
    path = tmp_path_factory.mktemp("cordis-full") / "store.sqlite"
    with Store(path) as s:
        report = import_cordis(s, CORDIS)
        yield Full(s, report, exp)


@pytest.mark.slow
def test_full_subset_imports_as_is(full: Full) -> None:
    r, s = full.report, full.store
    assert (r.organisations, r.projects, r.participations) == (27_411, 20_073, 91_334)
    assert r.rejected == []
    assert s.count_organisations() == 27_411
    assert s.count_projects() == 20_073
    assert len(full.exp.pairs) == 91_334
    assert sum(1 for _ in s.participations()) == 91_334
    assert r.collaborations == s.count_collaborations() == full.exp.collaborations


@pytest.mark.slow
def test_full_collaborations_are_dated_and_weighted(full: Full) -> None:
    # Read the file directly: iterating 660k models through the API would take seconds.
    with closing(sqlite3.connect(f"file:{full.store.path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT source_ref, kind, COUNT(*), MIN(date), MAX(date), MIN(weight), MAX(weight) "
            "FROM collaborations GROUP BY source_ref, kind"
        ).fetchall()
    exp = full.exp
    consortia = {pid for pid, m in exp.members.items() if len(m) >= 2}
    assert {r[0] for r in rows} == consortia
    for pid, kind, count, first, last, low, high in rows:
        n = len(exp.members[pid])
        assert kind == "joint_project"
        assert count == n * (n - 1) // 2
        assert first == last == exp.start[pid].isoformat()
        assert math.isclose(low, 1 / (n - 1)) and math.isclose(high, 1 / (n - 1))


@pytest.mark.slow
def test_full_countries_and_kinds(full: Full) -> None:
    exp = full.exp
    by_country = full.store.stats()["organisations"]["by_country"]
    assert "EL" not in by_country and "UK" not in by_country
    assert by_country["GR"] == sum(1 for c in exp.country.values() if c == "EL") > 0
    assert by_country["GB"] == sum(1 for c in exp.country.values() if c == "UK") > 0
    aliases = {"EL": "GR", "UK": "GB"}
    for org in full.store.organisations():
        raw = exp.country[org.id]
        assert org.country == (aliases.get(raw, raw) or None)
        assert org.kind == KINDS[exp.kind[org.id]]


# -- small fixtures: what imports ----------------------------------------------------------


def test_fixture_imports_what_the_files_say(source: Source, tmp_path: Path) -> None:
    directory = write_cordis(
        tmp_path / "plain", source.projects, source.organisations, source.topics
    )
    exp = expected(source.projects, source.organisations)
    with fresh(tmp_path, "s") as s:
        report = import_cordis(s, directory)
        assert (report.projects, report.participations) == (len(exp.start), len(exp.pairs))
        assert (report.organisations, report.collaborations) == (len(exp.pics), exp.collaborations)
        assert report.rejected == []
        assert_store_holds(s, exp)
        for org in s.organisations():
            assert org.kind == KINDS[exp.kind[org.id]]
            assert org.country not in {"EL", "UK"}


def test_gz_crlf_and_plain_give_the_same_store(source: Source, tmp_path: Path) -> None:
    tables = (source.projects, source.organisations, source.topics)
    snaps = {}
    for name, options in {
        "plain": {},
        "gz": {"gz": True},
        "crlf": {"crlf": True},
        "gz-crlf": {"gz": True, "crlf": True},
    }.items():
        directory = write_cordis(tmp_path / name, *tables, **options)
        with fresh(tmp_path, name) as s:
            import_cordis(s, directory)
            snaps[name] = snapshot(s)
    assert snaps["plain"]["stats"]["projects"] == len(source.projects.lines) - 1
    assert snaps["gz"] == snaps["plain"]
    assert snaps["crlf"] == snaps["plain"]
    assert snaps["gz-crlf"] == snaps["plain"]


def test_reimport_changes_nothing(source: Source, tmp_path: Path) -> None:
    plain = write_cordis(tmp_path / "plain", source.projects, source.organisations, source.topics)
    gz = write_cordis(
        tmp_path / "gz", source.projects, source.organisations, source.topics, gz=True
    )
    with fresh(tmp_path, "s") as s:
        first = import_cordis(s, plain)
        assert first.changed > 0
        after = snapshot(s)
        again = import_cordis(s, plain)
        assert again.changed == 0
        assert (again.projects, again.organisations) == (first.projects, first.organisations)
        assert snapshot(s) == after
        assert import_cordis(s, gz).changed == 0
        assert snapshot(s) == after


def test_until_keeps_only_projects_started_by_then(source: Source, tmp_path: Path) -> None:
    until = dt.date(2016, 12, 31)
    directory = write_cordis(tmp_path / "d", source.projects, source.organisations, source.topics)
    every = expected(source.projects, source.organisations)
    exp = expected(source.projects, source.organisations, until)
    later_only = every.pics - exp.pics
    assert 0 < len(exp.start) < len(every.start) and later_only  # the cut-off bites
    with fresh(tmp_path, "s") as s:
        report = import_cordis(s, directory, until=until)
        assert report.projects == len(exp.start)
        assert_store_holds(s, exp)
        assert all(p.start_date and p.start_date <= until for p in s.projects())
        assert max(c.date for c in s.collaborations()) <= until
        assert s.has_organisations(later_only) == set()


def test_missing_optional_columns_are_tolerated(source: Source, tmp_path: Path) -> None:
    projects = source.projects.drop("objective", "topics", "title", "acronym")
    organisations = source.organisations.drop("name")
    assert "title" not in projects.columns and "name" not in organisations.columns
    directory = write_cordis(tmp_path / "d", projects, organisations)
    with fresh(tmp_path, "s") as s:
        report = import_cordis(s, directory)
        assert report.rejected == []
        assert_store_holds(s, expected(source.projects, source.organisations))


# -- small fixtures: what is refused -------------------------------------------------------


@pytest.mark.parametrize("variant", ["plain", "gz", "crlf"])
def test_bad_start_date_is_refused(
    source: Source, store: Store, tmp_path: Path, variant: str
) -> None:
    line, pid = pick_project(source)
    projects = source.projects.copy()
    projects.set(line, "startDate", "2015-02-30")
    directory = write_cordis(
        tmp_path / "d", projects, source.organisations, source.topics,
        gz=variant == "gz", crlf=variant == "crlf",
    )  # fmt: skip
    error = assert_refused(store, directory)
    suffix = ".gz" if variant == "gz" else ""
    bad = problems_in(error, f"project.csv{suffix}")
    assert [(p.line, p.field) for p in bad] == [(line, "startDate")]
    assert "2015-02-30" in bad[0].message
    # The rows of the refused project in organization.csv are named too.
    orgs = problems_in(error, f"organization.csv{suffix}")
    assert [(p.line, p.field) for p in orgs] == [
        (n, "projectID") for n in org_lines_of(source.organisations, pid)
    ]
    assert len(error.problems) == len(bad) + len(orgs)


def test_missing_organisation_id_column_is_fatal(
    source: Source, store: Store, tmp_path: Path
) -> None:
    directory = write_cordis(
        tmp_path / "d", source.projects, source.organisations.drop("organisationID")
    )
    for skip in (False, True):
        error = assert_refused(store, directory, skip_invalid=skip)
        assert len(error.problems) == 1
        p = error.problems[0]
        assert (p.file, p.line, p.field, p.fatal) == ("organization.csv", 1, "organisationID", True)


def test_duplicate_project_with_conflicting_data_is_refused(
    source: Source, store: Store, tmp_path: Path
) -> None:
    line, pid = pick_project(source)
    projects = source.projects.copy()
    row = dict(zip(projects.columns, parse(projects.lines[line - 1]), strict=True))
    later = projects.append({**row, "title": "A different title"})
    directory = write_cordis(tmp_path / "d", projects, source.organisations)
    error = assert_refused(store, directory)
    bad = problems_in(error, "project.csv")
    assert [(p.line, p.field) for p in bad] == [(later, "id")]
    assert pid in bad[0].message and f"line {line}" in bad[0].message
    assert import_cordis(store, directory, skip_invalid=True).changed > 0


def test_duplicate_project_with_identical_data_is_accepted(source: Source, tmp_path: Path) -> None:
    line, _ = pick_project(source)
    projects = source.projects.copy()
    projects.lines.append(projects.lines[line - 1])
    directory = write_cordis(tmp_path / "d", projects, source.organisations)
    with fresh(tmp_path, "s") as s:
        import_cordis(s, directory)
        assert_store_holds(s, expected(source.projects, source.organisations))


def test_participation_in_unlisted_project_is_refused(
    source: Source, store: Store, tmp_path: Path
) -> None:
    organisations = source.organisations.copy()
    _, row = next(organisations.rows())
    line = organisations.append({**row, "projectID": "999999999"})
    directory = write_cordis(tmp_path / "d", source.projects, organisations)
    error = assert_refused(store, directory)
    assert [(p.file, p.line, p.field) for p in error.problems] == [
        ("organization.csv", line, "projectID")
    ]
    assert "999999999" in error.problems[0].message
    assert import_cordis(store, directory, skip_invalid=True).changed > 0


def test_organisation_with_two_countries_is_refused(
    source: Source, store: Store, tmp_path: Path
) -> None:
    seen: dict[str, int] = {}
    for line, row in source.organisations.rows():
        pic = row["organisationID"]
        if pic in seen and row["country"]:
            first, second = seen[pic], line
            country = row["country"]
            break
        if row["country"]:
            seen.setdefault(pic, line)
    else:
        raise AssertionError("no organisation on two rows")
    organisations = source.organisations.copy()
    organisations.set(second, "country", "FR" if country != "FR" else "DE")
    directory = write_cordis(tmp_path / "d", source.projects, organisations)
    error = assert_refused(store, directory)
    assert [(p.file, p.line, p.field) for p in error.problems] == [
        ("organization.csv", second, "country")
    ]
    assert f"line {first}" in error.problems[0].message
    assert pic in error.problems[0].message
    report = import_cordis(store, directory, skip_invalid=True)
    assert report.changed > 0
    assert store.has_organisations([pic]) == set()


def test_wrong_delimiter_is_refused_with_a_hint(
    source: Source, store: Store, tmp_path: Path
) -> None:
    directory = write_cordis(
        tmp_path / "d", source.projects.with_delimiter(","), source.organisations
    )
    error = assert_refused(store, directory, skip_invalid=True)
    bad = problems_in(error, "project.csv")
    assert sorted((p.line, p.field) for p in bad) == [(1, "id"), (1, "startDate")]
    for p in bad:
        assert p.fatal
        assert "delimiter" in p.message


def test_missing_project_file_is_fatal(source: Source, store: Store, tmp_path: Path) -> None:
    directory = write_cordis(tmp_path / "d", None, source.organisations, source.topics)
    for skip in (False, True):
        error = assert_refused(store, directory, skip_invalid=skip)
        assert len(error.problems) == 1
        p = error.problems[0]
        assert Path(p.file).name == "project.csv"
        assert p.fatal
        assert "not found" in p.message


# -- skip_invalid --------------------------------------------------------------------------


def test_skip_invalid_drops_the_bad_project_only(
    source: Source, store: Store, tmp_path: Path
) -> None:
    line, pid = pick_project(source)
    projects = source.projects.copy()
    projects.set(line, "startDate", "not a date")
    directory = write_cordis(tmp_path / "d", projects, source.organisations, source.topics)
    report_path = tmp_path / "rejected.csv"
    platform_ids = set(store.organisation_ids())

    report = import_cordis(store, directory, skip_invalid=True, report_path=report_path)

    exp = expected(source.projects, source.organisations)
    del exp.start[pid]
    del exp.members[pid]
    assert report.projects == len(exp.start)
    assert report.participations == len(exp.pairs)
    stored = {p.id for p in store.projects()}
    assert stored == set(exp.start)
    parts = {(p.project_id, p.organisation_id) for p in store.participations()}
    assert parts == exp.pairs
    assert set(store.organisation_ids()) == exp.pics | platform_ids
    assert all(c.source_ref != pid for c in store.collaborations())
    cordis_collabs = sum(1 for c in store.collaborations() if c.source_ref in exp.start)
    assert cordis_collabs == exp.collaborations

    with report_path.open(newline="", encoding="utf-8") as f:
        listed = list(csv.reader(f))
    assert listed[0] == ["file", "line", "field", "problem"]
    assert ["project.csv", str(line), "startDate"] == listed[1][:3]
    assert "not a date" in listed[1][3]
    assert [r[:3] for r in listed[2:]] == [
        ["organization.csv", str(n), "projectID"] for n in org_lines_of(source.organisations, pid)
    ]
    assert report.report_path == report_path


# -- one reader and one kind map for the importer and the evaluation -----------------------


def test_unknown_activity_type_names_the_codes(
    source: Source, store: Store, tmp_path: Path
) -> None:
    organisations = source.organisations.copy()
    organisations.set(2, "activityType", "PRV")
    directory = write_cordis(tmp_path / "d", source.projects, organisations, source.topics)
    error = assert_refused(store, directory)
    bad = [p for p in error.problems if p.field == "activityType"]
    assert [p.line for p in bad] == [2]
    assert "'PRV'" in bad[0].message and "HES, REC, PUB, OTH, PRC" in bad[0].message
    assert "did you mean 'PRC'" in bad[0].message


def test_the_evaluation_reads_kinds_and_countries_as_the_importer(
    source: Source, tmp_path: Path
) -> None:
    from matcher.evaluation.harness import Split

    organisations = source.organisations.copy()
    organisations.lines[0] += ";SME"
    organisations.lines[1:] = [t + ";false" for t in organisations.lines[1:]]
    directory = write_cordis(tmp_path / "d", source.projects, organisations, source.topics)
    store = fresh(tmp_path, "eval")
    import_cordis(store, directory)
    split = Split.from_cordis(directory, 2016, (2017, 2018), queries=10)
    assert split.kinds is not None and split.countries is not None
    stored = {o.id: o for o in store.organisations()}
    assert len(split.ids) > 100
    for row, pic in enumerate(split.ids):
        assert split.kinds[row] == stored[pic].kind.value
        assert split.countries[row] == (stored[pic].country or "")
    assert "large_company" in split.kinds and "sme" not in split.kinds  # SME column: false
    assert "GR" in split.countries or "GB" in split.countries  # EL and UK mapped
    assert not {"EL", "UK"} & set(split.countries)
    store.close()
