"""The approximate index (IVF-PQ with an exact re-rank) checked against exact search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from embeddings import SentenceTransformerEncoder, nearest
from embeddings.ann import EXACT_SHARE, AnnMismatchError, AnnParams, ApproximateIndex
from embeddings.artefact import current_folder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.app.snapshot import load_snapshot
from matcher.domain.errors import StateError
from matcher.ranking.profiles import SEARCHED
from tests.conftest import EXAMPLES

N, D = 4000, 64


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread() -> Iterator[None]:
    """Tiny trainings on one thread: FAISS's OpenMP threads spin on a busy shared machine."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def clustered(rng: np.random.Generator, n: int, d: int = D, clusters: int = 60) -> np.ndarray:
    """Unit vectors around a few dozen centres, like embeddings of texts on a few topics."""
    centres = rng.normal(size=(clusters, d))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, ApproximateIndex]:
    rng = np.random.default_rng(0)
    base = clustered(rng, N + 100)
    queries, base = base[:100], base[100:]
    return base, queries, ApproximateIndex.train(base)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


def test_approximate_top_ten_overlaps_exact(data: tuple[np.ndarray, ...]) -> None:
    base, queries, index = data
    assert (index.count, index.dimension) == (N, D)
    scores, found = nearest(base, queries, 10, index=index)
    _, exact = nearest(base, queries, 10)
    assert found.shape == (100, 10)
    assert overlap(found, exact) >= 0.95
    # scores are exact inner products, best first
    assert np.allclose(np.einsum("qd,qkd->qk", queries, base[found]), scores, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize("share", [0.5, 0.2, EXACT_SHARE / 2])
def test_a_subset_is_respected(data: tuple[np.ndarray, ...], share: float) -> None:
    base, queries, index = data
    rows = np.sort(np.random.default_rng(1).choice(N, int(share * N), replace=False))
    _, found = nearest(base, queries, 10, rows=rows, index=index)
    _, exact = nearest(base, queries, 10, rows=rows)
    assert found.shape == (100, 10)
    assert np.isin(found, rows).all()
    assert overlap(found, exact) >= 0.95


def test_rows_after_the_index_are_searched_exactly_and_merged(
    data: tuple[np.ndarray, ...],
) -> None:
    base, queries, index = data
    grown = np.concatenate([base, queries[:5]])  # five rows appended after the index
    scores, found = nearest(grown, queries[:5], 10, index=index)
    assert found[:, 0].tolist() == list(range(N, N + 5))
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    rows = np.array([3, 7, N + 1], np.int64)
    _, few = nearest(grown, queries[:5], 10, rows=rows, index=index)
    assert few.shape == (5, 3) and np.isin(few, rows).all()


def test_save_and_load_round_trip(tmp_path: Path, data: tuple[np.ndarray, ...]) -> None:
    base, queries, index = data
    index.save(tmp_path, "text")
    meta = json.loads((tmp_path / "ann_text.json").read_text())
    assert (meta["count"], meta["dimension"], meta["factory"]) == (N, D, index.params.factory())
    back = ApproximateIndex.load(tmp_path, "text", base)
    assert back.params == index.params
    first, again = nearest(base, queries, 10, index=index), nearest(base, queries, 10, index=back)
    assert np.array_equal(first[1], again[1]) and np.allclose(first[0], again[0])


def test_a_mismatched_index_is_refused(tmp_path: Path, data: tuple[np.ndarray, ...]) -> None:
    base, _, index = data
    index.save(tmp_path, "text")
    with pytest.raises(AnnMismatchError, match="row count is 4000, the array has 3999"):
        ApproximateIndex.load(tmp_path, "text", base[:-1])
    with pytest.raises(AnnMismatchError, match="dimension is 64, the array has 32"):
        ApproximateIndex.load(tmp_path, "text", np.ascontiguousarray(base[:, :32]))
    with pytest.raises(AnnMismatchError, match="fingerprint"):
        ApproximateIndex.load(tmp_path, "text", base[::-1].copy())
    with pytest.raises(AnnMismatchError, match="searched over an array of shape"):
        index.search(base[:10], base[:1], 5)
    (tmp_path / "ann_text.json").write_text("{}")
    with pytest.raises(AnnMismatchError, match="cannot read the index parameters"):
        ApproximateIndex.load(tmp_path, "text", base)


def test_defaults_scale_with_the_array() -> None:
    big = AnnParams.for_size(1_000_000, 384)
    assert (big.nlist, big.m, big.nbits) == (4096, 48, 8)
    assert big.factory() == "IVF4096,PQ48x8"
    tiny = AnnParams.for_size(10, 384)
    assert (tiny.nlist, tiny.nbits) == (1, 3)


def test_a_snapshot_above_the_threshold_is_searched_approximately(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    home = tmp_path / "home"
    with Matcher(Settings(home=home, ann_min_rows=5), encoder=encoder) as m:
        m.import_platform(
            organisations=EXAMPLES / "organisations.csv",
            collaborations=EXAMPLES / "collaborations.csv",
        )
        m.build(show_progress=False)
        folder = current_folder(home)
        assert folder is not None
        manifest = json.loads((folder / "manifest.json").read_text())
        assert set(manifest["extra"]["ann"]) == set(SEARCHED)
        snapshot = load_snapshot(folder, model=m.settings.model)
        assert set(snapshot.context.profiles.ann) == set(SEARCHED)
        assert not snapshot.context.profiles.prefilters  # the index, not the codes
        assert manifest["extra"]["prefilter"] == []
        ids = m.store.organisation_ids()
        assert len(m.recommend(ids[0])) > 0  # ranked from the lists built with it
        # a profile written after the snapshot lies outside the index: still found
        twin = m.organisation("CL-AGRI-ES").model_copy(update={"id": "CL-AGRI-PT"})
        m.upsert_organisations([twin])
        found = [s.organisation.id for s in m.recommend("CL-AGRI-DK", k=10)]
        assert "CL-AGRI-PT" in found
    (folder / "ann_text.json").write_text(
        (folder / "ann_text.json").read_text().replace('"count": ', '"count": 1')
    )
    with pytest.raises(StateError, match=r"ann_text\.faiss does not match its array"):
        load_snapshot(folder, model=m.settings.model)


def test_below_the_threshold_a_snapshot_stays_exact(examples_home: Path) -> None:
    folder = current_folder(examples_home)
    assert folder is not None
    assert not list(folder.glob("ann_*"))
    # a write's queries are searched exactly through each searched array's codes
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["extra"]["prefilter"] == sorted(SEARCHED)
    snapshot = load_snapshot(folder, model="all-MiniLM-L6-v2")
    assert set(snapshot.context.profiles.prefilters) == set(SEARCHED)
    (folder / "prefilter_tags.json").write_text(
        (folder / "prefilter_tags.json").read_text().replace('"count": ', '"count": 1')
    )
    try:
        with pytest.raises(StateError, match=r"prefilter_tags\.npy does not match its array"):
            load_snapshot(folder, model="all-MiniLM-L6-v2")
    finally:
        (folder / "prefilter_tags.json").write_text(
            (folder / "prefilter_tags.json").read_text().replace('"count": 1', '"count": ')
        )
