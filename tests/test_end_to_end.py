"""From files to suggestions through the real model, a real FAISS index and a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embeddings import SentenceTransformerEncoder
from embeddings.artefact import current_folder, read_manifest
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.errors import StateError, UnknownOrganisationError
from matcher.domain.schema import Organisation
from matcher.ranking.rank import RankingOptions
from matcher.ranking.signals import SIGNALS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# The example profiles are written in pairs that need each other (and are partners in
# examples/collaborations.csv); each pair must be the other's best match once existing
# partners are kept and flagged instead of left out: among the best two (a cluster's
# other partner can be as good).
PAIRS = [
    ("CL-AERO-FR", "SME-CFRP-DE"),
    ("CL-AGRI-ES", "SME-COLD-IT"),
    ("CL-HEALTH-NL", "SME-EHEALTH-EE"),
    ("CL-TEXT-PT", "SME-SORT-FI"),
]


def open_examples(home: Path, encoder: SentenceTransformerEncoder) -> Matcher:
    return Matcher(Settings(home=home), encoder=encoder)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_known_pairs_are_each_others_best_match(
    examples_home: Path, encoder: SentenceTransformerEncoder, a: str, b: str
) -> None:
    flagged = RankingOptions(partnered="flag")
    with open_examples(examples_home, encoder) as m:
        for x, y in ((a, b), (b, a)):
            top = m.recommend(x, k=2, options=flagged)
            assert y in {s.organisation.id for s in top}
            assert next(s for s in top if s.organisation.id == y).flags == ["already partners"]
            assert y not in {s.organisation.id for s in m.recommend(x, k=9)}


def test_suggestions_are_ranked_and_never_the_query(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    with open_examples(examples_home, encoder) as m:
        suggestions = m.recommend("CL-AGRI-DK", k=20)
    # Everyone else but its two partners (CL-AGRI-ES, SME-COLD-IT).
    assert len(suggestions) == 7
    assert [s.rank for s in suggestions] == list(range(1, 8))
    found = {s.organisation.id for s in suggestions}
    assert not found & {"CL-AGRI-DK", "CL-AGRI-ES", "SME-COLD-IT"}
    assert all(0.0 <= s.score <= 1.0 for s in suggestions)
    for s in suggestions:
        assert s.reasons
        assert all(r.signal in SIGNALS and r.contribution > 0 for r in s.reasons)


def test_unknown_and_unindexed_organisations(
    matcher: Matcher,
) -> None:
    with pytest.raises(StateError, match="matcher build"):
        matcher.load()
    matcher.import_platform(organisations=EXAMPLES / "organisations.csv")
    matcher.build(show_progress=False)
    with pytest.raises(UnknownOrganisationError, match="NOPE"):
        matcher.recommend("NOPE")
    late = matcher.organisation("CL-AGRI-DK").model_copy(update={"id": "LATE-1"})
    matcher.store.upsert_organisations([late])
    with pytest.raises(StateError, match="not in the index"):
        matcher.recommend("LATE-1")


def test_rebuilds_encode_only_what_changed(matcher: Matcher) -> None:
    matcher.import_platform(organisations=EXAMPLES / "organisations.csv")
    first = matcher.build(show_progress=False)
    # Ten profile texts, ten offers, ten seeks, ten tag lists.
    assert first.encoded == 40 and first.organisations == 10
    again = matcher.build(show_progress=False)
    assert again.up_to_date and again.encoded == 0
    assert current_folder(matcher.home) == first.folder
    before = matcher.vector("SME-COLD-IT")
    org = matcher.organisation("SME-COLD-IT")
    changed = org.model_copy(update={"description": org.description + " We also do drones."})
    matcher.store.upsert_organisations([changed])
    third = matcher.build(show_progress=False)
    assert third.encoded == 1
    assert third.folder != first.folder
    assert read_manifest(third.folder).count == 10
    after = matcher.vector("SME-COLD-IT")  # the new build is the one read
    assert 0.8 < float(before @ after) < 0.9999
    assert matcher.recommend("SME-COLD-IT", k=1)[0].organisation.id.startswith("CL-AGRI")


def test_an_index_of_another_model_is_refused(
    examples_home: Path, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    model_dir = tmp_path / "another-model"
    (model_dir).mkdir()
    (model_dir / "config.json").write_text("{}")
    with (
        Matcher(Settings(home=examples_home, model=str(model_dir)), encoder=encoder) as m,
        pytest.raises(StateError, match="model_id"),
    ):
        m.recommend("CL-AGRI-DK")


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MATCHER_HOME": str(home), "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "matcher", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def test_cli_recommend_stats_and_list(examples_home: Path) -> None:
    out = run_cli(examples_home, "recommend", "SME-SORT-FI", "-k", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"]["id"] == "SME-SORT-FI"
    assert [s["rank"] for s in data["suggestions"]] == [1, 2, 3]
    assert "CL-TEXT-PT" not in {s["organisation"]["id"] for s in data["suggestions"]}
    assert all(s["reasons"] for s in data["suggestions"])

    table = run_cli(examples_home, "recommend", "SME-SORT-FI", "-k", "3")
    assert table.returncode == 0
    first = data["suggestions"][0]["organisation"]["name"]
    assert first in table.stdout.splitlines()[3]
    assert "INFO" not in table.stdout  # logs go to stderr

    missing = run_cli(examples_home, "recommend", "NO-SUCH-ORG")
    assert missing.returncode == 1
    assert "unknown organisation id 'NO-SUCH-ORG'" in missing.stderr
    assert missing.stdout == ""

    stats = json.loads(run_cli(examples_home, "stats", "--json").stdout)
    assert stats["organisations"]["total"] == 10
    assert stats["collaborations"]["total"] == 6
    assert stats["organisations"]["by_kind"] == {"cluster": 6, "sme": 4}

    listed = json.loads(run_cli(examples_home, "list", "--kind", "sme", "--json").stdout)
    assert {o["id"] for o in listed} == {
        "SME-COLD-IT",
        "SME-CFRP-DE",
        "SME-EHEALTH-EE",
        "SME-SORT-FI",
    }
    assert {"id", "name", "kind", "country"} <= set(listed[0])
    by_country = json.loads(run_cli(examples_home, "list", "--country", "pt", "--json").stdout)
    assert [o["id"] for o in by_country] == ["CL-TEXT-PT"]


def test_cli_import_refuses_bad_files_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "orgs.csv"
    lines = (EXAMPLES / "organisations.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",IT,", ",ZZ,")
    bad.write_text("\n".join(lines) + "\n")
    out = run_cli(tmp_path / "home", "import", "--organisations", str(bad))
    assert out.returncode == 1
    assert "orgs.csv, line 4, field 'country'" in out.stderr
    stats = json.loads(run_cli(tmp_path / "home", "stats", "--json").stdout)
    assert stats["organisations"]["total"] == 0


def test_cold_start_profile_and_consortium_completion(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    newcomer = Organisation(
        id="NEW-1",
        name="ColdBox Logistics",
        kind="sme",
        country="PT",
        description="We run refrigerated trucks and cold stores for fruit and vegetable "
        "exporters and monitor temperatures along the fresh food chain.",
        ecosystems=["agri_food", "mobility"],
        stages=["distribution"],
        offers="Refrigerated transport of fresh produce",
        seeks="Fruit exporters and food clusters",
        target_countries=["ES", "DK"],
    )
    with open_examples(examples_home, encoder) as m:
        suggestions = m.recommend_profile(newcomer, k=3)
        assert "NEW-1" not in {s.organisation.id for s in suggestions}
        assert suggestions[0].organisation.id in {"CL-AGRI-ES", "CL-AGRI-DK", "SME-COLD-IT"}
        assert all(s.reasons for s in suggestions)
        assert not any(r.signal in {"common_partners", "adamic_adar"}
                       for s in suggestions for r in s.reasons)  # fmt: skip
        team = m.complete(["CL-AERO-FR"], k=3, topic="recycled carbon fibre for aircraft")
        assert "CL-AERO-FR" not in {s.organisation.id for s in team}
        assert any(r.signal == "topic" for r in team[0].reasons)
        assert team[0].organisation.country != "FR" or team[0].organisation.kind != "cluster"
