"""From files to suggestions through the real model, real FAISS search and a real SQLite file."""

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
from matcher.ranking.reasons import REASON_SIGNALS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def open_examples(home: Path, encoder: SentenceTransformerEncoder) -> Matcher:
    return Matcher(Settings(home=home), encoder=encoder)


def test_a_seeker_finds_the_supplier_with_a_true_reason(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    """An exporter seeking cold-chain logistics in Spain is sent to the Andalusian cluster
    that offers them, with the offer as a reason; none of the reasons is popularity."""
    seeker = Organisation(
        id="NEW-FRUIT-NL",
        name="Dutch Fruit Importers",
        kind="sme",
        country="NL",
        description="Importer of Spanish fruit and vegetables for Dutch supermarkets.",
        ecosystems=["agri_food"],
        stages=["distribution"],
        seeks="Cold-chain logistics and temperature monitoring for fresh food from Spain",
        target_countries=["ES"],
    )
    with open_examples(examples_home, encoder) as m:
        found = m.recommend_profile(seeker, k=3)
        assert found[0].organisation.id == "CL-AGRI-ES"
        signals = {r.signal for r in found[0].reasons}
        assert "they_offer" in signals and "target_market" in signals
        assert all(r.signal in {*REASON_SIGNALS, "overall"} for s in found for r in s.reasons)


def test_lists_are_in_score_order_never_the_query_nor_its_partners(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    with open_examples(examples_home, encoder) as m:
        found = m.recommend("CL-AGRI-DK", k=20)
    # Everyone else but its two partners (CL-AGRI-ES, SME-COLD-IT), who are counted.
    assert len(found) == 7
    assert found.left_out.partners == 2
    assert [s.rank for s in found] == list(range(1, 8))
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert not {s.organisation.id for s in found} & {"CL-AGRI-DK", "CL-AGRI-ES", "SME-COLD-IT"}
    assert all(0.0 <= s.score <= 1.0 for s in found)


def test_unknown_organisations_and_missing_snapshots(matcher: Matcher) -> None:
    with pytest.raises(StateError, match="matcher build"):
        matcher.live()
    matcher.import_platform(organisations=EXAMPLES / "organisations.csv")
    matcher.build()
    with pytest.raises(UnknownOrganisationError, match="NOPE"):
        matcher.recommend("NOPE")
    late = matcher.organisation("CL-AGRI-DK").model_copy(update={"id": "LATE-1"})
    matcher.store.upsert_organisations([late])  # written behind the facade's back
    assert len(matcher.recommend("LATE-1", k=3)) == 3  # the change log brings it anyway


def test_rebuilds_encode_only_what_changed(matcher: Matcher) -> None:
    matcher.import_platform(organisations=EXAMPLES / "organisations.csv")
    first = matcher.build()
    # Ten profile texts, ten offers, ten seeks, ten tag lists.
    assert first.encoded == 40 and first.organisations == 10
    again = matcher.build()
    assert again.up_to_date and again.encoded == 0
    assert current_folder(matcher.home) == first.folder
    org = matcher.organisation("SME-COLD-IT")
    changed = org.model_copy(update={"description": org.description + " We also do drones."})
    matcher.store.upsert_organisations([changed])
    third = matcher.build()
    assert third.encoded == 1
    assert third.folder != first.folder
    assert read_manifest(third.folder).count == 10


def test_a_snapshot_of_another_model_is_refused(
    examples_home: Path, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    model_dir = tmp_path / "another-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    with (
        Matcher(Settings(home=examples_home, model=str(model_dir)), encoder=encoder) as m,
        pytest.raises(StateError, match="model_id"),
    ):
        m.recommend("CL-AGRI-DK")


def test_consortium_completion_fills_gaps(
    examples_home: Path, encoder: SentenceTransformerEncoder
) -> None:
    with open_examples(examples_home, encoder) as m:
        team = m.complete(["CL-AERO-FR"], k=3, topic="recycled carbon fibre for aircraft")
        assert "CL-AERO-FR" not in {s.organisation.id for s in team}
        assert all(
            {r.signal for r in s.reasons} & {"new_country", "new_kind", "new_stage"} for s in team
        )
        assert [s.score for s in team] == sorted((s.score for s in team), reverse=True)


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
    assert data["left_out"]["partners"] == 1

    table = run_cli(examples_home, "recommend", "SME-SORT-FI", "-k", "3")
    assert table.returncode == 0
    first = data["suggestions"][0]["organisation"]["name"]
    assert first in table.stdout.splitlines()[3]
    assert "left out: 1 existing partner(s)" in table.stdout

    stats = json.loads(run_cli(examples_home, "stats", "--json").stdout)
    assert stats["organisations"]["total"] == 10
    assert stats["collaborations"]["total"] == 6
    assert stats["organisations"]["by_kind"] == {"cluster": 6, "sme": 4}
