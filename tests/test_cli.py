"""The ``matcher`` command as a user runs it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PYDANTIC_WORDS = ("Value error", "Input should", "validation error", "pydantic")


def run(home: Path, *args: str, tty_env: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m matcher ARGS`` with MATCHER_HOME set and no MATCHER_* or TQDM_* leaking in."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MATCHER_", "TQDM_", "HF_HUB_D"))
    }
    env.update({"MATCHER_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    return subprocess.run(
        [sys.executable, "-m", "matcher", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def one_line_error(out: subprocess.CompletedProcess[str], code: int, *texts: str) -> str:
    """Assert the command failed with ``code`` and exactly one line on stderr; return it."""
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    for text in texts:
        assert text in lines[0]
    assert not any(w in lines[0] for w in PYDANTIC_WORDS)
    return lines[0]


@pytest.fixture(scope="module")
def stored_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the examples, imported through the CLI, not built."""
    home = tmp_path_factory.mktemp("cli-stored")
    out = run(
        home,
        "import",
        "--organisations",
        str(EXAMPLES / "organisations.csv"),
        "--collaborations",
        str(EXAMPLES / "collaborations.csv"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("read 10 organisations, 6 collaborations")
    assert out.stderr == ""  # quiet by default: no INFO line, no progress bar
    return home


def test_version() -> None:
    out = run(REPO / "no-home-needed", "--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"matcher {version('eccp-partner-matcher')}"


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        (["recommend", "CL-AGRI-DK", "-k", "0"], ["argument -k", "between 1 and 100"]),
        (["recommend", "CL-AGRI-DK", "-k", "101"], ["between 1 and 100"]),
        (["recommend", "CL-AGRI-DK", "-k", "ten"], ["'ten' is not a whole number"]),
        (["recommend"], ["required: ORG_ID"]),
        (["recommend", "CL-AGRI-DK", "--countries", "XX"], ["'XX' is not an ISO 3166-1"]),
        (["recommend", "CL-AGRI-DK", "--countries", "DE,Germany"], ["did you mean DE"]),
        (["recommend", "CL-AGRI-DK", "--exclude-countries", "Frnace"], ["did you mean FR"]),
        (["recommend", "CL-AGRI-DK", "--kinds", "nope"], ["unknown kind 'nope'", "university"]),
        (["recommend", "CL-AGRI-DK", "--kinds", "smee"], ["did you mean 'sme'"]),
        (["recommend", "CL-AGRI-DK", "--ecosystems", "agri"], ["did you mean 'agri_food'"]),
        (["recommend", "CL-AGRI-DK", "--stages", "prod"], ["did you mean 'production'"]),
        (["recommend", "CL-AGRI-DK", "--languages", "german"], ["did you mean de (German)"]),
        (
            ["complete", "CL-AGRI-DK", "--countries", "DE,EL", "--exclude-countries", "GR"],
            ["both name GR"],
        ),
        (["list", "--kind", "smee"], ["did you mean 'sme'"]),
        (["build", "--ray-actors", "2"], ["--ray-actors goes with --ray"]),
        (["build", "--ray", "--ray-actors", "0"], ["--ray-actors"]),
        (["list", "--country", "Germany"], ["did you mean DE"]),
        (["recomend", "CL-AGRI-DK"], ["did you mean 'recommend'"]),
        ([], ["required: COMMAND"]),
        (["import"], ["nothing to import"]),
        (["import", "--organisations", "x.csv", "--cordis", "d"], ["not both"]),
        (
            [
                "evaluate",
                "--collaborations",
                "x.csv",
                "--train-until",
                "2015",
                "--test-years",
                "2014",
            ],
            ["must come after"],
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    stored_home: Path, args: list[str], texts: list[str]
) -> None:
    one_line_error(run(stored_home, *args), 2, *texts)


def test_bad_settings_exit_2_with_one_line(stored_home: Path) -> None:
    env_home = stored_home
    out = subprocess.run(
        [sys.executable, "-m", "matcher", "stats"],
        capture_output=True,
        text=True,
        env={**os.environ, "MATCHER_HOME": str(env_home), "MATCHER_BACKEND": "fast"},
        check=False,
    )
    one_line_error(out, 2, "MATCHER_BACKEND='fast' is not valid", "onnx-int8")


def test_unknown_ids_and_missing_build_exit_1(stored_home: Path) -> None:
    line = one_line_error(run(stored_home, "recommend", "cl-agri-dk"), 1)
    assert "unknown organisation id 'cl-agri-dk' (did you mean 'CL-AGRI-DK'?)" in line
    one_line_error(run(stored_home, "show", "NOBODY"), 1, "unknown organisation id 'NOBODY'")
    one_line_error(
        run(stored_home, "complete", "CL-AGRI-DK", "SME-SORT-FX"), 1, "did you mean 'SME-SORT-FI'"
    )
    one_line_error(run(stored_home, "recommend", "CL-AGRI-DK"), 1, "run `matcher build`")
    out = run(stored_home, "import", "--organisations", str(stored_home / "none.csv"))
    one_line_error(out, 1, "no such file")


def test_show_and_list_search(stored_home: Path) -> None:
    shown = run(stored_home, "show", "SME-SORT-FI")
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout.startswith("FibreSort Oy (SME-SORT-FI)")
    assert "country:    FI" in shown.stdout and "partners:   1" in shown.stdout
    profile = json.loads(run(stored_home, "show", "SME-SORT-FI", "--json").stdout)
    with (EXAMPLES / "organisations.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["id"] == "SME-SORT-FI")
    assert profile["name"] == row["name"] and profile["description"] == row["description"]
    assert profile["ecosystems"] == row["ecosystems"].split(";")

    def ids(*args: str) -> list[str]:
        out = run(stored_home, "list", "--json", *args)
        assert out.returncode == 0, out.stderr
        return [o["id"] for o in json.loads(out.stdout)]

    def holding(*words: str) -> list[str]:
        text = {r["id"]: f"{r['id']} {r['name']} {r['description']}".lower() for r in rows}
        return sorted(i for i, t in text.items() if all(w in t for w in words))

    assert len(holding("fibre")) >= 3 and ids("--search", "FIBRE") == holding("fibre")
    both = holding("fibre", "aircraft")  # every word must appear
    assert 0 < len(both) < len(holding("fibre")) and ids("--search", "fibre aircraft") == both
    assert ids("--search", "fibre", "--kind", "sme", "--country", "de") == ["SME-CFRP-DE"]
    assert ids("--search", "100%") == []  # '%' is a character, not a wildcard
    assert ids("--search", "health", "--limit", "1") == ["CL-HEALTH-NL"]
    empty = run(stored_home, "list", "--search", "zeppelin")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr.strip() == "no organisation matches"


def test_import_refusal_names_file_line_value_and_choices(tmp_path: Path) -> None:
    rows = (EXAMPLES / "organisations.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].replace(",sme,IT,", ",smee,Italy,")  # SME-COLD-IT, line 4
    bad = tmp_path / "orgs.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = run(tmp_path / "home", "import", "--organisations", str(bad))
    assert out.returncode == 1 and out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [
        "error: orgs.csv, line 4, field 'kind': unknown kind 'smee': expected one of cluster, "
        "sme, large_company, research, university, public_body, other; did you mean 'sme'?",
        "error: orgs.csv, line 4, field 'country': 'Italy' is not an ISO 3166-1 alpha-2 "
        "country code; did you mean IT (Italy)?",
        "error: import refused, nothing written: 2 problem(s)",
    ]
    stats = json.loads(run(tmp_path / "home", "stats", "--json").stdout)
    assert stats["organisations"]["total"] == 0


def test_skip_invalid_imports_the_rest_and_exits_1(tmp_path: Path) -> None:
    rows = (EXAMPLES / "organisations.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].replace(",IT,", ",Italy,")
    bad = tmp_path / "orgs.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    out = run(home, "import", "--organisations", str(bad), "--skip-invalid", "--json")
    line = one_line_error(out, 1, "1 row(s) rejected", "the valid rows were imported")
    counts = json.loads(out.stdout)
    assert (counts["organisations"], counts["rejected_rows"]) == (9, 1)
    report = Path(counts["report"])
    assert report.is_file() and str(report) in line
    with report.open(newline="", encoding="utf-8") as f:
        listed = list(csv.reader(f))
    assert listed[1][:3] == ["orgs.csv", "4", "country"] and "did you mean IT" in listed[1][3]
    stats = json.loads(run(home, "stats", "--json").stdout)
    assert stats["organisations"]["total"] == 9


def test_unknown_column_is_reported_once(tmp_path: Path) -> None:
    rows = (EXAMPLES / "organisations.csv").read_text(encoding="utf-8").splitlines()
    rows = [rows[0].replace("country", "contry"), *rows[1:]]
    path = tmp_path / "orgs.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = run(tmp_path / "home", "import", "--organisations", str(path), "--skip-invalid")
    assert out.returncode == 1
    assert out.stderr.count("unknown column") == 1
    assert "line 1, field 'contry': unknown column (did you mean 'country'?)" in out.stderr


def _dated_collaborations(path: Path) -> Path:
    """Sixty organisations in small projects over 2012-2016, triangles closing over time."""
    rng = random.Random(7)
    ids = [f"ORG-{i:02d}" for i in range(60)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["organisation_a", "organisation_b", "kind", "date", "weight", "source_ref"]
        )
        for n in range(240):
            year = 2012 + n // 48
            members = rng.sample(ids[: 20 + 8 * (n // 48)], 3)
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    writer.writerow([a, b, "joint_project", f"{year}-03-01", 0.5, f"P{n}"])
    return path


def test_evaluate_messages_and_no_nan_interval(tmp_path: Path) -> None:
    data = _dated_collaborations(tmp_path / "collaborations.csv")
    base = ["evaluate", "--collaborations", str(data), "--train-until", "2015", "--test-years"]
    home = tmp_path / "home"
    one_line_error(
        run(home, *base, "2016", "--methods", "adamic_adar,default"),
        2,
        "'default' ranks with organisation profiles: give --organisations FILE",
    )
    one_line_error(
        run(home, *base, "2016", "--methods", "adamic_adar,hybrid"), 2, "unknown method 'hybrid'"
    )
    one_line_error(
        run(home, *base, "2016", "--methods", "adamic_adr"),
        2,
        "unknown method 'adamic_adr' (did you mean 'adamic_adar'?)",
    )
    bare = run(home, *base, "2016", "--methods", "random,adamic_adar", "--bootstrap", "0")
    assert bare.returncode == 0, bare.stderr
    assert "nan" not in bare.stdout and "95% CI" not in bare.stdout
    assert "no intervals" in bare.stdout and "adamic_adar" in bare.stdout
    with_ci = run(home, *base, "2016", "--methods", "adamic_adar", "--bootstrap", "50")
    assert with_ci.returncode == 0 and "ndcg@10 95% CI" in with_ci.stdout
    one_line_error(run(home, *base, "2016", "--bootstrap", "-1"), 2, "between 0 and")


def test_recommend_filters_and_complete_explain(examples_home: Path) -> None:
    greek = run(examples_home, "recommend", "SME-SORT-FI", "--countries", "EL,DE", "--json")
    assert greek.returncode == 0, greek.stderr  # EL, CORDIS's Greece, is accepted as GR
    found = [s["organisation"]["country"] for s in json.loads(greek.stdout)["suggestions"]]
    assert found == ["DE"]
    nobody = run(examples_home, "recommend", "CL-AGRI-DK", "--countries", "GR")
    assert (nobody.returncode, nobody.stderr.strip()) == (
        0,
        "note: no organisation passes the filters and rules",
    )
    assert "excluded by the filters" in nobody.stdout

    plain = run(examples_home, "complete", "CL-AGRI-DK", "SME-COLD-IT", "-k", "3")
    assert plain.returncode == 0 and plain.stderr == ""
    assert "   - " not in plain.stdout
    explained = run(examples_home, "complete", "CL-AGRI-DK", "SME-COLD-IT", "-k", "3", "--explain")
    assert explained.returncode == 0
    table = plain.stdout.splitlines()
    assert explained.stdout.splitlines()[: len(table)] == table
    reasons = [line for line in explained.stdout.splitlines() if line.startswith("   - ")]
    assert len(reasons) >= 3


def test_first_build_on_a_fresh_home_is_quiet_with_the_default_onnx_backend(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    imported = run(home, "import", "--organisations", str(EXAMPLES / "organisations.csv"))
    assert imported.returncode == 0 and imported.stderr == ""
    built = run(home, "build")  # exports the model to ONNX first: fusion logs once shouted
    assert built.returncode == 0, built.stderr
    assert built.stderr == ""
    assert built.stdout.startswith("built a snapshot of 10 organisations")
    assert (home / "models" / "all-MiniLM-L6-v2-onnx" / "model.onnx").is_file()
    again = run(home, "build", "--full", "-v")
    assert again.returncode == 0
    logged = again.stderr.splitlines()
    assert any(
        " INFO matcher.app.snapshot: build: built a snapshot of 10" in line for line in logged
    )
    assert all(line.split(" ", 3)[3].startswith(("matcher.", "embeddings.")) for line in logged)
    assert "\r" not in again.stderr  # no progress bar off a terminal
    recommended = run(home, "recommend", "SME-COLD-IT", "-k", "2", "--json")
    assert recommended.returncode == 0, recommended.stderr
    assert len(json.loads(recommended.stdout)["suggestions"]) == 2


def test_copy_home_refuses_a_home_without_a_build_or_a_used_folder_and_exits_1(
    stored_home: Path, examples_home: Path, tmp_path: Path
) -> None:
    """``copy-home``: one line naming what is wrong; a good copy holds the same store."""
    one_line_error(run(stored_home, "copy-home", str(tmp_path / "a")), 1, "no snapshot")
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    one_line_error(run(examples_home, "copy-home", str(used)), 1, "not empty", str(used))
    done = run(examples_home, "copy-home", str(tmp_path / "copy"))
    assert done.returncode == 0, done.stderr
    listed = [run(home, "list", "--json").stdout for home in (examples_home, tmp_path / "copy")]
    assert listed[0] == listed[1] and listed[0].count('"id"') == 10
