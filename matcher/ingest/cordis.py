"""CORDIS's official CSV schema: projects, participating organisations and topics.

Reads ``project.csv``, ``organization.csv`` and optionally ``topics.csv`` (each plain or
``.gz``, ``;``-separated, UTF-8, CRLF tolerated) and, when present, the SME-instrument
descriptions of ``sme_water_projects.json``. Organisations (by PIC) become profiles:

- kind from ``activityType``: HES → university, REC → research, PUB → public body,
  OTH → other, PRC → SME unless an ``SME`` column says otherwise (then large company);
- country from ``country`` (EL and UK become GR and GB; empty stays unknown);
- description from the titles, topic titles and objectives of its projects up to the
  cut-off date, most recent first; ecosystems from the projects' call topics.

Each project's text stays its own record, tied to its participants, so embedding encodes
each distinct text once. Two organisations in one project become a dated
``joint_project`` collaboration, weighted 1 / (participants − 1).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from tqdm.auto import tqdm

from matcher.domain.choices import UnknownChoiceError
from matcher.domain.errors import ImportProblem
from matcher.domain.schema import Organisation, Participation, Project
from matcher.domain.vocab import CollaborationKind, Ecosystem, OrganisationKind, normalise_country
from matcher.ingest.files import CsvRows, find_file, open_text
from matcher.ingest.report import ImportReport, finish_validation
from matcher.store import CollaborationRow, Store

__all__ = [
    "ACTIVITY_KINDS",
    "CordisData",
    "CordisFiles",
    "CordisLinks",
    "Participant",
    "import_cordis",
    "kind_of",
    "parse_date",
    "read_cordis",
    "read_cordis_links",
]

logger = logging.getLogger(__name__)

ACTIVITY_KINDS: dict[str, OrganisationKind] = {
    "HES": OrganisationKind.UNIVERSITY,
    "REC": OrganisationKind.RESEARCH,
    "PUB": OrganisationKind.PUBLIC_BODY,
    "OTH": OrganisationKind.OTHER,
    "PRC": OrganisationKind.SME,
}
"""CORDIS ``activityType`` codes to kinds; PRC is an SME unless an ``SME`` column says no
(see :func:`kind_of`). The importer and the offline evaluation both read kinds through it."""

_NO = frozenset({"false", "0", "n", "no"})

# Call-topic prefixes (before the first '-' or '.') to ecosystems; editable.
TOPIC_ECOSYSTEMS: dict[str, Ecosystem] = {
    **dict.fromkeys(["ICT", "IT", "EINFRA", "FETHPC", "DS", "EUJ", "EUB"], Ecosystem.DIGITAL),
    **dict.fromkeys(["ECSEL"], Ecosystem.ELECTRONICS),
    **dict.fromkeys(["PHC", "SC1", "HCO", "BIOTEC", "HEALTH", "IMI2"], Ecosystem.HEALTH),
    **dict.fromkeys(["NMP", "NMBP", "FOF", "SPIRE", "WASTE", "CIRC"], Ecosystem.ENERGY_INTENSIVE),
    **dict.fromkeys(["SFS", "BG", "BBI", "RUR"], Ecosystem.AGRI_FOOD),
    **dict.fromkeys(["LCE", "EE", "FCH", "ENERGY", "SCC", "NFRP"], Ecosystem.RENEWABLE_ENERGY),
    **dict.fromkeys(["MG", "GV", "ART", "TRANSPORT", "S2R", "CS2"], Ecosystem.MOBILITY),
    **dict.fromkeys(["SPACE", "COMPET", "GALILEO", "EO", "PROTEC"], Ecosystem.AEROSPACE_DEFENCE),
    **dict.fromkeys(
        ["DRS", "SEC", "FCT", "BES", "SECURITY", "INSO", "YOUNG", "SC6"],
        Ecosystem.PROXIMITY_SOCIAL,
    ),
    **dict.fromkeys(["REFLECTIVE", "CULT-COOP"], Ecosystem.CULTURAL_CREATIVE),
    **dict.fromkeys(["EEB"], Ecosystem.CONSTRUCTION),
    **dict.fromkeys(["WATER"], Ecosystem.AGRI_FOOD),
}

# Programme parts (a fallback where the topic says nothing) to ecosystems.
PROGRAMME_ECOSYSTEMS: dict[str, Ecosystem] = {
    "SC1": Ecosystem.HEALTH,
    "SC2": Ecosystem.AGRI_FOOD,
    "SC3": Ecosystem.RENEWABLE_ENERGY,
    "SC4": Ecosystem.MOBILITY,
    "SC6": Ecosystem.PROXIMITY_SOCIAL,
    "SC7": Ecosystem.PROXIMITY_SOCIAL,
}

_PROGRAMME_LABELS = {
    "ERC": "frontier research (European Research Council)",
    "MSCA": "researcher training and mobility (Marie Skłodowska-Curie Actions)",
    "FET": "future and emerging technologies",
    "RI": "research infrastructures",
    "LEIT": "leadership in enabling and industrial technologies",
    "Innovation in SMEs": "innovation in SMEs",
    "SC1": "health, demographic change and wellbeing",
    "SC2": "food security, sustainable agriculture, marine research and the bioeconomy",
    "SC3": "secure, clean and efficient energy",
    "SC4": "smart, green and integrated transport",
    "SC5": "climate action, environment, resource efficiency and raw materials",
    "SC6": "inclusive, innovative and reflective societies",
    "SC7": "secure societies",
    "SEWP": "spreading excellence and widening participation",
    "SWAFS": "science with and for society",
    "Euratom": "nuclear research and training (Euratom)",
}


def parse_date(value: str) -> dt.date:
    """A date as CORDIS writes it: ISO (optionally with a time) or dd/mm/yyyy.

    Raises:
        ValueError: not a date (the message quotes the value).
    """
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None


def kind_of(activity_type: str, sme: str = "") -> OrganisationKind | None:
    """The kind of a CORDIS ``activityType`` code (None if unknown; '' is OTHER).

    Args:
        activity_type: HES, REC, PUB, OTH or PRC (any case).
        sme: the ``SME`` column where present: a PRC marked false/0/n/no is a large company.
    """
    code = activity_type.strip().upper()
    if not code:
        return OrganisationKind.OTHER
    kind = ACTIVITY_KINDS.get(code)
    if kind is OrganisationKind.SME and sme.strip().lower() in _NO:
        return OrganisationKind.LARGE_COMPANY
    return kind


def _topic_prefix(code: str) -> str:
    return re.split(r"[-.]", code, maxsplit=1)[0].upper() if code else ""


@dataclass
class CordisData:
    """Everything read from a CORDIS directory, validated."""

    organisations: list[Organisation] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    participations: list[Participation] = field(default_factory=list)
    collaborations: list[CollaborationRow] = field(default_factory=list)


@dataclass
class _OrgRows:
    first_line: int
    kind_code: str
    country: str
    sme_flag: str
    names: list[tuple[dt.date, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CordisFiles:
    """The files of a CORDIS directory, each read ``;``-separated with its required columns."""

    directory: Path
    project: Path
    organization: Path
    topics: Path | None

    @classmethod
    def locate(cls, directory: Path, problems: list[ImportProblem]) -> CordisFiles | None:
        """Find the files; a missing required one is a fatal problem (and None)."""
        project, org = find_file(directory, "project"), find_file(directory, "organization")
        for stem, path in (("project", project), ("organization", org)):
            if path is None:
                problems.append(
                    ImportProblem(
                        f"{directory}/{stem}.csv", 0, "", "file not found (.csv or .csv.gz)", True
                    )
                )
        if project is None or org is None:
            return None
        return cls(directory, project, org, find_file(directory, "topics"))

    def projects(self, problems: list[ImportProblem]) -> CsvRows:
        """Rows of ``project.csv``: ``id`` and ``startDate`` required."""
        return CsvRows(self.project, delimiter=";", required=("id", "startDate"), problems=problems)

    def participants(self, problems: list[ImportProblem]) -> CsvRows:
        """Rows of ``organization.csv``: ``projectID`` and ``organisationID`` required."""
        return CsvRows(
            self.organization,
            delimiter=";",
            required=("projectID", "organisationID"),
            problems=problems,
        )


@dataclass(frozen=True)
class Participant:
    """An organisation as one participation row describes it."""

    country: str
    """ISO code ('' where not given; the raw code, upper case, where not a country)."""
    kind: OrganisationKind | None
    """None where the activity type is not a known code."""


@dataclass
class CordisLinks:
    """Who took part in which dated project: the light read of a CORDIS directory."""

    starts: dict[str, dt.date] = field(default_factory=dict)
    """Start date of each dated project (the first row of a repeated id)."""
    members: dict[str, dict[str, Participant]] = field(default_factory=dict)
    """Participants of each dated project, by organisation id, in file order."""


def read_cordis_links(directory: Path, *, problems: list[ImportProblem]) -> CordisLinks:
    """Project dates and participants, as they are: for the offline evaluation.

    Unlike :func:`read_cordis` nothing is refused but the files: an undated project, a
    participation with an empty organisation id or an unknown project is left out, and a
    date that is not one is appended to ``problems`` (not fatal). Countries and kinds are
    read as the importer reads them (EL and UK become GR and GB; :func:`kind_of`).
    """
    links = CordisLinks()
    files = CordisFiles.locate(Path(directory), problems)
    if files is None:
        return links
    for line, row in files.projects(problems):
        if not row["id"] or not row["startDate"]:
            continue
        try:
            start = parse_date(row["startDate"])
        except ValueError as exc:
            problems.append(ImportProblem(files.project.name, line, "startDate", str(exc)))
            continue
        links.starts.setdefault(row["id"], start)
    countries: dict[str, str] = {}
    for _, row in files.participants(problems):
        pid, pic = row["projectID"], row["organisationID"]
        if not pic or pid not in links.starts:
            continue
        group = links.members.setdefault(pid, {})
        if pic in group:
            continue
        raw = row.get("country", "")
        if raw not in countries:
            try:
                countries[raw] = normalise_country(raw) if raw else ""
            except ValueError:
                countries[raw] = raw.upper()
        kind = kind_of(row.get("activityType", ""), row.get("SME", ""))
        group[pic] = Participant(countries[raw], kind)
    return links


def _read_topics(path: Path | None, problems: list[ImportProblem]) -> dict[str, str]:
    if path is None:
        return {}
    rows = CsvRows(path, delimiter=";", required=("title",), problems=problems)
    out: dict[str, str] = {}
    for _, row in rows:
        code = row.get("code") or row.get("topic") or ""
        if code and row["title"]:
            out.setdefault(code, row["title"])
    return out


def _read_sme_texts(directory: Path) -> dict[str, str]:
    path = directory / "sme_water_projects.json"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    with open_text(path) as f:
        records = json.load(f)
    for record in records:
        grant = record.get("Project_ID")
        grant = grant[0] if isinstance(grant, list) and grant else grant
        text = record.get("Technology_Description") or ""
        if grant and isinstance(text, str) and text.strip():
            out[str(grant)] = text.strip()
    return out


def _project_text_fallback(acronym: str, programme: str) -> str:
    parts = [_PROGRAMME_LABELS.get(p.strip(), "") for p in programme.split(";")]
    labels = [p for p in parts if p]
    if not labels:
        return ""
    return f"{acronym}: " + "; ".join(labels) if acronym else "; ".join(labels)


def read_cordis(
    directory: Path, *, until: dt.date | None = None, problems: list[ImportProblem]
) -> CordisData:
    """Read and validate a CORDIS directory; problems are appended, valid data returned.

    Args:
        directory: holds ``project.csv[.gz]`` and ``organization.csv[.gz]``.
        until: keep only projects starting on or before this date.
        problems: receives every problem found.

    """
    files = CordisFiles.locate(Path(directory), problems)
    if files is None:
        return CordisData()
    project_path, org_path = files.project, files.organization
    topics = _read_topics(files.topics, problems)
    sme_texts = _read_sme_texts(directory)

    # Projects.
    projects: dict[str, tuple[int, Project]] = {}
    bad_projects: set[str] = set()
    pname = project_path.name
    for line, row in tqdm(files.projects(problems), desc=f"reading {pname}", unit=" rows"):
        pid = row["id"]
        if not pid:
            problems.append(ImportProblem(pname, line, "id", "empty project id"))
            continue
        try:
            start = parse_date(row["startDate"]) if row["startDate"] else None
        except ValueError as exc:
            problems.append(ImportProblem(pname, line, "startDate", str(exc)))
            bad_projects.add(pid)
            continue
        try:
            end = parse_date(row["endDate"]) if row.get("endDate") else None
        except ValueError as exc:
            problems.append(ImportProblem(pname, line, "endDate", str(exc)))
            bad_projects.add(pid)
            continue
        topic = row.get("topics", "").split(";")[0].strip()
        acronym = row.get("acronym", "")
        objective = row.get("objective", "") or sme_texts.get(row.get("grantId", ""), "")
        project = Project(
            id=pid,
            acronym=acronym,
            title=row.get("title", ""),
            topic=topic,
            topic_title=topics.get(topic, ""),
            objective=objective,
            programme=row.get("programmePart", ""),
            funding_scheme=row.get("fundingScheme", ""),
            start_date=start,
            end_date=end,
        )
        if not project.text():
            fallback = _project_text_fallback(acronym, project.programme)
            project = project.model_copy(update={"title": fallback})
        if pid in projects:
            first_line, first = projects[pid]
            if first != project:
                problems.append(
                    ImportProblem(
                        pname,
                        line,
                        "id",
                        f"duplicate project id {pid!r} with data that differs from line "
                        f"{first_line}",
                    )
                )
                bad_projects.add(pid)
            continue
        projects[pid] = (line, project)
    for pid in bad_projects:
        projects.pop(pid, None)
    listed = set(projects) | bad_projects
    if until is not None:
        projects = {
            k: v for k, v in projects.items() if v[1].start_date and v[1].start_date <= until
        }

    # Participations and organisations.
    oname = org_path.name
    orgs: dict[str, _OrgRows] = {}
    bad_orgs: set[str] = set()
    members: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for line, row in tqdm(files.participants(problems), desc=f"reading {oname}", unit=" rows"):
        pid, pic = row["projectID"], row["organisationID"]
        if not pic:
            problems.append(ImportProblem(oname, line, "organisationID", "empty organisation id"))
            continue
        if not pid:
            problems.append(ImportProblem(oname, line, "projectID", "empty project id"))
            continue
        if pid in bad_projects:
            problems.append(
                ImportProblem(oname, line, "projectID", f"project {pid!r} was rejected")
            )
            continue
        raw_country = row.get("country", "")
        try:
            country = normalise_country(raw_country) if raw_country else ""
        except ValueError as exc:
            problems.append(ImportProblem(oname, line, "country", str(exc)))
            bad_orgs.add(pic)
            continue
        kind_code = row.get("activityType", "").upper()
        if kind_code and kind_code not in ACTIVITY_KINDS:
            problems.append(
                ImportProblem(
                    oname,
                    line,
                    "activityType",
                    str(UnknownChoiceError("activity type", kind_code, ACTIVITY_KINDS)),
                )
            )
            bad_orgs.add(pic)
            continue
        known = orgs.get(pic)
        sme_flag = row.get("SME", "").strip().lower()
        if known is None:
            known = orgs[pic] = _OrgRows(line, kind_code, country, sme_flag)
        else:
            for column, value, seen in (
                ("activityType", kind_code, known.kind_code),
                ("country", country, known.country),
            ):
                if value and seen and value != seen:
                    problems.append(
                        ImportProblem(
                            oname,
                            line,
                            column,
                            f"organisation {pic!r} has {column} {value!r} here but {seen!r} "
                            f"on line {known.first_line}",
                        )
                    )
                    bad_orgs.add(pic)
            known.kind_code = known.kind_code or kind_code
            known.country = known.country or country
            known.sme_flag = known.sme_flag or sme_flag
        if pid not in projects:
            if pid not in listed:
                problems.append(
                    ImportProblem(
                        oname,
                        line,
                        "projectID",
                        f"project {pid!r} is not in {pname}",
                    )
                )
            continue
        role = row.get("role", "")
        previous = members[pid].get(pic)
        if previous is not None and previous[1] != role:
            problems.append(
                ImportProblem(
                    oname,
                    line,
                    "role",
                    f"organisation {pic!r} is in project {pid!r} twice with different roles "
                    f"(see line {previous[0]})",
                )
            )
            bad_orgs.add(pic)
        members[pid].setdefault(pic, (line, role))
        start = projects[pid][1].start_date or dt.date.min
        name = row.get("name") or row.get("shortName") or ""
        if name:
            known.names.append((start, name))

    # Assemble.
    data = CordisData()
    by_org: dict[str, list[Project]] = defaultdict(list)
    for pid, participants in members.items():
        project = projects[pid][1]
        for pic, (_, role) in participants.items():
            if pic in bad_orgs:
                continue
            by_org[pic].append(project)
            data.participations.append(
                Participation(project_id=pid, organisation_id=pic, role=role)
            )
    used_projects = {p.project_id for p in data.participations}
    data.projects = [p for pid, (_, p) in projects.items() if pid in used_projects]
    for pic, own in tqdm(sorted(by_org.items()), desc="building profiles", unit=" orgs"):
        data.organisations.append(_profile(pic, orgs[pic], own))
    for pid, participants in tqdm(members.items(), desc="pairing partners", unit=" projects"):
        project = projects[pid][1]
        ids = sorted(p for p in participants if p not in bad_orgs)
        if len(ids) < 2 or project.start_date is None:
            continue
        weight = min(1.0, 1.0 / (len(ids) - 1))
        date = project.start_date.isoformat()
        kind = CollaborationKind.JOINT_PROJECT.value
        data.collaborations.extend((a, b, kind, date, weight, pid) for a, b in combinations(ids, 2))
    return data


def _profile(pic: str, rows: _OrgRows, projects: list[Project]) -> Organisation:
    projects = sorted(projects, key=lambda p: (p.start_date or dt.date.min, p.id), reverse=True)
    names = sorted(rows.names, key=lambda n: n[0])
    name = names[-1][1] if names else f"Organisation {pic}"
    kind = kind_of(rows.kind_code, rows.sme_flag) or OrganisationKind.OTHER
    ecosystems: Counter[Ecosystem] = Counter()
    for p in projects:
        eco = TOPIC_ECOSYSTEMS.get(_topic_prefix(p.topic))
        if eco is None:
            for part in p.programme.split(";"):
                eco = eco or PROGRAMME_ECOSYSTEMS.get(part.strip())
        if eco is not None:
            ecosystems[eco] += 1
    texts: list[str] = []
    for p in projects:
        for text in (p.title, p.topic_title):
            if text and text not in texts:
                texts.append(text)
    years = [p.start_date.year for p in projects if p.start_date]
    span = ""
    if years:
        span = f", {min(years)}" if min(years) == max(years) else f", {min(years)}–{max(years)}"
    description = f"Horizon 2020 participant in {len(projects)} project(s){span}. " + "; ".join(
        texts
    )
    return Organisation(
        id=pic,
        name=name[:300],
        kind=kind,
        country=rows.country or None,
        description=description[:2000],
        ecosystems=[e for e, _ in sorted(ecosystems.items(), key=lambda x: (-x[1], x[0]))][:3],
    )


def import_cordis(
    store: Store,
    directory: Path,
    *,
    until: dt.date | None = None,
    skip_invalid: bool = False,
    report_path: Path | None = None,
) -> ImportReport:
    """Validate a CORDIS directory, then write it to the store in one transaction.

    Raises:
        InvalidImportError: any problem when not ``skip_invalid``, or a file-level problem;
            nothing is written.

    """
    problems: list[ImportProblem] = []
    data = read_cordis(Path(directory), until=until, problems=problems)
    report = ImportReport(
        organisations=len(data.organisations),
        collaborations=len(data.collaborations),
        projects=len(data.projects),
        participations=len(data.participations),
    )
    report.report_path = finish_validation(
        problems, skip_invalid=skip_invalid, report_path=report_path
    )
    report.rejected = problems
    with store.transaction():
        report.changed += store.upsert_organisations(data.organisations)
        report.changed += store.upsert_projects(data.projects)
        report.changed += store.upsert_participations(data.participations)
        report.changed += store.upsert_collaboration_rows(data.collaborations)
    logger.info("CORDIS import: %s", report.summary())
    return report
