"""Batch work on a local Ray (2 CPUs): the same vectors, the same snapshot, the same figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import OnnxEncoder
from embeddings.artefact import current_folder
from embeddings.distributed import EncoderSpec, RayEncoder, ray_runtime
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.cli.main import main
from matcher.evaluation.distributed import ray_runner
from matcher.evaluation.harness import EvaluationReport, Split, evaluate
from tests.test_evaluation import planted

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TEXTS = [
    "Cold-chain logistics for fresh food exporters in the Baltic region.",
    "Battery recycling and second-life storage for electric buses. " * 40,  # several windows
    "Textile yarn spinning capacity and technical fabrics for automotive interiors.",
    "",
    "Photonics sensors for precision agriculture and water monitoring.",
] * 9


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray with 2 CPUs for the module (as CI runs it)."""
    with ray_runtime("local", num_cpus=2):
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX export folder for the module (the default backend's model, exported once)."""
    folder = tmp_path_factory.mktemp("models")
    OnnxEncoder(backend="onnx", cache_dir=folder).encode(["warm-up"])
    return folder


def test_ray_encoder_gives_the_local_encoders_vectors_bit_for_bit(
    local_ray: None, models: Path
) -> None:
    spec = EncoderSpec("all-MiniLM-L6-v2", "onnx", cache_dir=str(models))
    ray_encoder = RayEncoder(spec, actors=2, texts_per_batch=7)  # batches unlike the local ones
    local = OnnxEncoder(backend="onnx", cache_dir=models)
    assert (ray_encoder.model_id, ray_encoder.backend, ray_encoder.revision) == (
        local.model_id,
        local.backend,
        local.revision,
    )
    got, want = ray_encoder.encode(TEXTS), local.encode(TEXTS)
    assert got.shape == (len(TEXTS), local.dimension) and got.dtype == np.float32
    assert np.array_equal(got, want)
    assert ray_encoder.encode([]).shape == (0, local.dimension)


def _snapshot_arrays(home: Path) -> dict[str, np.ndarray]:
    folder = current_folder(home)
    assert folder is not None
    return {str(p.relative_to(folder)): np.load(p) for p in sorted(folder.glob("**/*.npy"))}


def test_build_on_ray_writes_the_same_snapshot(
    local_ray: None,
    models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    homes = {}
    for name in ("local", "ray"):
        home = tmp_path / name
        (home / "models").mkdir(parents=True)
        for item in models.iterdir():  # the export, so that neither home exports again
            (home / "models" / item.name).symlink_to(item)
        with Matcher(Settings(home=home, backend="onnx")) as m:
            m.import_platform(
                organisations=EXAMPLES / "organisations.csv",
                collaborations=EXAMPLES / "collaborations.csv",
            )
            if name == "local":
                report = m.build()
                assert report.encoded > 0
        homes[name] = home
    monkeypatch.setenv("MATCHER_HOME", str(homes["ray"]))
    monkeypatch.setenv("MATCHER_BACKEND", "onnx")
    capsys.readouterr()
    assert main(["build", "--ray", "--ray-actors", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoded"] > 0  # encoded on Ray, no cache
    local, remote = _snapshot_arrays(homes["local"]), _snapshot_arrays(homes["ray"])
    assert local.keys() == remote.keys() and any("vector" in k for k in local)
    for name, array in local.items():
        assert np.array_equal(array, remote[name]), name
    with Matcher(Settings(home=homes["ray"], backend="onnx")) as m:
        assert m.recommend("CL-AGRI-DK", 3)


def _figures(report: EvaluationReport) -> dict[str, Any]:
    data = report.to_json()
    for method in data["methods"].values():
        method.pop("seconds", None)
    return dict(data)


def test_evaluation_on_ray_gives_the_same_figures(local_ray: None) -> None:
    split = Split.from_collaborations(planted(), 2015, (2016, 2017))
    names = ["random", "popularity", "adamic_adar", "common_neighbours"]
    here = evaluate(split, names, bootstrap=200, seed=3, batch_size=4)
    there = evaluate(split, names, bootstrap=200, seed=3, batch_size=4, runner=ray_runner(actors=2))
    assert len(range(0, len(split.queries), 4)) > 2  # several batches, on two actors
    assert _figures(there) == _figures(here)
    assert there.methods["adamic_adar"].metrics["ndcg@10"] > 0
    with pytest.raises(ValueError, match="by name"):
        evaluate(split, {"x": lambda rows: np.zeros((len(rows), 1))}, runner=ray_runner())
