"""VectorIndex: exact and approximate search, filters, updates, persistence."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings.index import IndexParams, VectorIndex

KINDS = ("flat", "hnsw", "ivf")


def clustered(n: int, d: int, *, seed: int, centres: int = 0) -> np.ndarray:
    """Unit vectors from a Gaussian mixture (Zipf-sized clusters, anisotropic spread)."""
    rng = np.random.default_rng(seed)
    nc = centres or max(8, n // 100)
    c = rng.normal(size=(nc, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    w = 1.0 / np.arange(1, nc + 1) ** 0.7
    spectrum = np.arange(1, d + 1) ** -0.6
    spectrum *= np.sqrt(d / np.sum(spectrum**2))
    noise = rng.normal(size=(n, d)) * spectrum @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    x = c[rng.choice(nc, n, p=w / w.sum())] + rng.uniform(0.8, 1.3, (n, 1)) / np.sqrt(d) * noise
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def names(n: int) -> list[str]:
    return [f"org-{i:05d}" for i in range(n)]


def brute(
    x: np.ndarray, ids: Sequence[str], q: np.ndarray, k: int, mask: np.ndarray | None = None
) -> list[tuple[str, float]]:
    """Top k by score then id, over rows where ``mask``."""
    scores = (x @ q).astype(np.float64)
    rows = np.arange(len(ids)) if mask is None else np.flatnonzero(mask)
    order = rows[np.lexsort((np.array(ids)[rows], -scores[rows]))][:k]
    return [(ids[i], float(scores[i])) for i in order]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [g[0] for g in got] == [w[0] for w in want]
    assert np.allclose([g[1] for g in got], [w[1] for w in want], atol=1e-5)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, list[str], np.ndarray]:
    x = clustered(20_200, 64, seed=11)
    return x[:20_000], names(20_000), x[20_000:]


@pytest.fixture(scope="module")
def built(data: tuple[np.ndarray, list[str], np.ndarray]) -> dict[str, VectorIndex]:
    x, ids, _ = data
    out = {}
    for kind in KINDS:
        index = VectorIndex(64, kind=kind)  # type: ignore[arg-type]
        index.add(ids, x)
        out[kind] = index
    return out


# -- exact search ------------------------------------------------------------------------


def test_exact_search_equals_brute_force_with_ties() -> None:
    x = clustered(3000, 32, seed=5)
    x[100:120] = x[7]  # 21 identical vectors: ties at the cut must go by id
    ids = names(3000)
    rng = np.random.default_rng(0)
    rng.shuffle(ids)  # ids not in insertion order
    index = VectorIndex(32, kind="flat")
    index.add(ids, x)
    for q in [7, *rng.choice(3000, 15, replace=False)]:
        for k in (1, 10, 30):
            assert_same(index.search(x[q], k), brute(x, ids, x[q], k))
        mask = np.ones(3000, bool)
        mask[[q, 100, 101]] = False
        got = index.search(x[q], 10, exclude=[ids[q], ids[100], ids[101]])
        assert_same(got, brute(x, ids, x[q], 10, mask))
        allowed = set(rng.choice(ids, 300, replace=False).tolist()) | {ids[110], ids[111]}
        mask = np.isin(ids, list(allowed))
        assert_same(index.search(x[q], 10, allowed=allowed), brute(x, ids, x[q], 10, mask))
    batch = index.search_batch(x[:40], 10, exclude=[[i] for i in ids[:40]])
    for n, got in enumerate(batch):
        mask = np.ones(3000, bool)
        mask[n] = False
        assert_same(got, brute(x, ids, x[n], 10, mask))


def test_auto_picks_the_kind_by_size() -> None:
    x = clustered(2000, 16, seed=2)
    ids = names(2000)
    index = VectorIndex(16, threshold=1000)
    assert index.kind == "flat"
    index.add(ids[:600], x[:600])
    assert index.kind == "flat"
    index.add(ids[600:], x[600:])  # crosses the threshold: becomes approximate
    assert index.kind == "ivf" and len(index) == 2000
    assert index.search(x[5], 1)[0][0] == ids[5]
    index.remove(ids[:1500])
    assert index.kind == "ivf" and index.needs_rebuild
    index.rebuild()
    assert index.kind == "flat" and index.ids == ids[1500:]
    assert VectorIndex(16, threshold=10, approximate="hnsw").kind == "flat"
    big = VectorIndex(16, threshold=10, approximate="hnsw")
    big.add(ids[:50], x[:50])
    assert big.kind == "hnsw"


# -- approximate search ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_recall_at_10(
    kind: str, data: tuple[np.ndarray, list[str], np.ndarray], built: dict[str, VectorIndex]
) -> None:
    _, _, queries = data
    truth = built["flat"].search_batch(queries, 10)
    got = built[kind].search_batch(queries, 10)
    pairs = zip(truth, got, strict=True)
    recall = np.mean([len({h[0] for h in a} & {h[0] for h in b}) / 10 for a, b in pairs])
    assert recall >= 0.98
    single = [built[kind].search(q, 10) for q in queries[:50]]
    assert [[h[0] for h in s] for s in single] == [[h[0] for h in b] for b in got[:50]]


@pytest.mark.parametrize("kind", KINDS)
def test_filtered_search_is_never_short(
    kind: str, data: tuple[np.ndarray, list[str], np.ndarray], built: dict[str, VectorIndex]
) -> None:
    x, ids, queries = data
    rng = np.random.default_rng(3)
    tiny = set(rng.choice(ids, 20, replace=False).tolist())  # 0.1 %
    mask = np.isin(ids, list(tiny))
    index = built[kind]
    # exact_subset=0 disables the "small subset: exact" shortcut, so the approximate search
    # with the selector starves and the fallback must fill in.
    starved = VectorIndex(64, kind=kind, exact_subset=0)  # type: ignore[arg-type]
    starved._index, starved._built = index._index, index._built
    starved._names, starved._labels, starved._alive = index._names, index._labels, index._alive
    for q in queries[:10]:
        for ix in (index, starved):
            got = ix.search(q, 10, allowed=tiny)
            assert_same(got, brute(x, ids, q, 10, mask))
            assert len(ix.search(q, 25, allowed=tiny)) == 20
    for got in index.search_batch(queries[:10], 10, allowed=tiny):
        assert len(got) == 10 and {h[0] for h in got} <= tiny
    few = set(ids[:5])
    assert len(index.search(queries[0], 10, allowed=few | {"unknown"})) == 5
    assert index.search(queries[0], 10, allowed=few, exclude=few) == []
    # 25 %: still at most `exact_subset` items, so exact, by a scan with the selector
    broad = set(rng.choice(ids, 5000, replace=False).tolist())
    mask = np.isin(ids, list(broad))
    for q, got in zip(
        queries[:20], index.search_batch(queries[:20], 10, allowed=broad), strict=True
    ):
        assert_same(got, brute(x, ids, q, 10, mask))
    # with exact_subset=0 the approximate index searches with its selector, effort scaled
    for got in starved.search_batch(queries[:20], 10, allowed=broad):
        assert len(got) == 10 and {h[0] for h in got} <= broad


def test_prepared_subset(built: dict[str, VectorIndex]) -> None:
    index = built["ivf"]
    allowed = names(20_000)[::50]
    prepared = index.subset([*allowed, "unknown"])
    assert len(prepared) == 400
    q = index.vector("org-00007")
    assert index.search(q, 10, allowed=prepared) == index.search(q, 10, allowed=allowed)
    assert index.search(q, 10, allowed=prepared, exclude=["org-00000"])[0][0] != "org-00000"
    small = VectorIndex(4, kind="flat")
    small.add(["a", "b"], np.eye(2, 4, dtype=np.float32))
    stale = small.subset(["a"])
    small.remove(["b"])
    with pytest.raises(ValueError, match="make it again"):
        small.search(np.ones(4, np.float32), 1, allowed=stale)
    with pytest.raises(ValueError, match="make it again"):
        index.search(q, 1, allowed=stale)


# -- updates -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_update_and_remove(kind: str) -> None:
    x = clustered(3000, 32, seed=8)
    ids = names(3000)
    index = VectorIndex(32, kind=kind, max_dead_fraction=None)  # type: ignore[arg-type]
    index.add(ids, x)
    gone = ids[:300]
    assert index.remove([*gone, "never-there", gone[0]]) == 300
    assert len(index) == 2700 and gone[5] not in index
    for q in range(0, 300, 7):  # their own vectors: they would be the top hit
        assert not {h[0] for h in index.search(x[q], 20)} & set(gone)
    for got in index.search_batch(x[:300], 20):
        assert not {h[0] for h in got} & set(gone)
    moved = ids[1000:1010]
    target = clustered(10, 32, seed=99)
    index.update(moved, target)
    for n, item in enumerate(moved):
        assert np.allclose(index.vector(item), target[n])
        top = index.search(target[n], 1)[0]
        assert top[0] == item and top[1] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(KeyError):
        index.update([gone[0]], x[:1])
    index.add(gone[:10], x[:10])  # removed ids can come back
    assert index.search(x[3], 1)[0][0] == gone[3]
    expected_dead = {"flat": 300, "hnsw": 310, "ivf": 0}[kind]
    assert index.tombstones == expected_dead
    before = {i: index.vector(i) for i in ("org-01000", "org-02999", gone[3])}
    index.rebuild()
    assert index.tombstones == 0 and len(index) == 2710
    for item, vec in before.items():
        assert np.allclose(index.vector(item), vec)
    assert index.search(target[0], 1)[0][0] == moved[0]


def test_tombstones_trigger_a_rebuild() -> None:
    x = clustered(1000, 16, seed=4)
    ids = names(1000)
    index = VectorIndex(16, kind="flat", max_dead_fraction=0.2)
    index.add(ids, x)
    index.remove(ids[:150])
    assert index.tombstones == 150
    index.remove(ids[150:250])  # 250 > 0.2 * 1000
    assert index.tombstones == 0 and index.ids == ids[250:]
    assert_same(index.search(x[0], 5), brute(x, ids, x[0], 5, np.arange(1000) >= 250))


# -- persistence -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    x = clustered(2000, 32, seed=6)
    ids = names(2000)
    index = VectorIndex(32, kind=kind, nprobe=7, ef_search=50, max_dead_fraction=None)  # type: ignore[arg-type]
    index.add(ids, x)
    index.remove(ids[:20])
    index.update([ids[30]], x[31:32])
    index.save(tmp_path)
    back = VectorIndex.load(tmp_path)
    assert back.kind == kind and back.requested_kind == kind and back.params == index.params
    assert back.ids == index.ids and len(back) == 1980 and back.tombstones == index.tombstones
    for q in x[:30]:
        assert back.search(q, 10, exclude=[ids[40]]) == index.search(q, 10, exclude=[ids[40]])
    assert np.allclose(back.vector(ids[30]), x[31])
    back.add(["new"], x[:1])
    assert "new" in back and ids[0] not in back


def test_empty_index_round_trip(tmp_path: Path) -> None:
    VectorIndex(8, kind="ivf").save(tmp_path)
    back = VectorIndex.load(tmp_path)
    assert len(back) == 0 and back.search(np.ones(8, np.float32), 3) == []
    back.add(["a", "b"], np.eye(2, 8, dtype=np.float32))
    assert back.kind == "ivf" and back.search(np.eye(1, 8, dtype=np.float32)[0], 1)[0][0] == "a"


def test_load_refuses_inconsistent_files(tmp_path: Path) -> None:
    x = clustered(500, 16, seed=1)
    index = VectorIndex(16, kind="ivf")
    index.add(names(500), x)
    index.save(tmp_path)

    def tampered(change: dict[str, object]) -> Path:
        folder = tmp_path / f"t{len(list(tmp_path.iterdir()))}"
        shutil.copytree(tmp_path, folder, ignore=shutil.ignore_patterns("t*"))
        meta = json.loads((folder / "index.json").read_text())
        meta.update(change)
        (folder / "index.json").write_text(json.dumps(meta))
        return folder

    with pytest.raises(ValueError, match=r"index\.json says 'hnsw', index\.faiss holds 'ivf'"):
        VectorIndex.load(tampered({"kind": "hnsw"}))
    with pytest.raises(ValueError, match="counts 499 items"):
        VectorIndex.load(tampered({"count": 499}))
    with pytest.raises(ValueError, match="format 9"):
        VectorIndex.load(tampered({"format": 9}))
    with pytest.raises(ValueError, match="unreadable"):
        VectorIndex.load(tampered({"params": {"nprobe": 0}}))
    folder = tampered({})
    (folder / "ids.json").write_text(json.dumps(names(499)))
    with pytest.raises(ValueError, match=r"ids\.json names 499"):
        VectorIndex.load(folder)
    folder = tampered({})
    (folder / "ids.json").write_text(json.dumps([*names(499), "org-00001"]))
    with pytest.raises(ValueError, match="repeats ids"):
        VectorIndex.load(folder)


def test_loads_the_earlier_flat_format(tmp_path: Path) -> None:
    x = clustered(100, 8, seed=0)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(8))
    old.add_with_ids(x, np.arange(100, dtype=np.int64))
    faiss.write_index(old, str(tmp_path / "index.faiss"))
    (tmp_path / "ids.json").write_text(json.dumps(names(100)))
    back = VectorIndex.load(tmp_path)
    assert back.kind == "flat" and back.ids == names(100)
    assert_same(back.search(x[3], 5), brute(x, names(100), x[3], 5))


def test_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        VectorIndex(8, efsearch=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="kind"):
        VectorIndex(8, kind="annoy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nprobe"):
        IndexParams(nprobe=0)
    with pytest.raises(ValueError, match="max_dead_fraction"):
        VectorIndex(8, max_dead_fraction=0)
    index = VectorIndex(8)
    with pytest.raises(ValueError, match="shape"):
        index.add(["a"], np.ones((2, 8), np.float32))
    with pytest.raises(ValueError, match="dimension 8"):
        index.search(np.ones(7, np.float32), 3)


# -- properties --------------------------------------------------------------------------

SMALL = clustered(400, 16, seed=21)
SMALL_IDS = names(400)
SMALL_INDEXES: dict[str, VectorIndex] = {}


def small(kind: str) -> VectorIndex:
    if kind not in SMALL_INDEXES:
        index = VectorIndex(16, kind=kind, exact_subset=50)  # type: ignore[arg-type]
        index.add(SMALL_IDS, SMALL)
        index.remove(SMALL_IDS[::9])
        SMALL_INDEXES[kind] = index
    return SMALL_INDEXES[kind]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    row=st.integers(0, 399),
    k=st.integers(0, 40),
    exclude=st.sets(st.integers(0, 399), max_size=30),
    allowed=st.none() | st.sets(st.integers(0, 399), max_size=120),
)
def test_results_respect_filters(
    kind: str, row: int, k: int, exclude: set[int], allowed: set[int] | None
) -> None:
    index = small(kind)
    ex = {SMALL_IDS[i] for i in exclude}
    ok = None if allowed is None else {SMALL_IDS[i] for i in allowed}
    got = index.search(SMALL[row], k, exclude=ex, allowed=ok)
    eligible = set(index.ids) - ex if ok is None else (set(index.ids) & ok) - ex
    assert len(got) == min(k, len(eligible))
    assert {h[0] for h in got} <= eligible
    scores = [h[1] for h in got]
    assert scores == sorted(scores, reverse=True)
    assert got == sorted(got, key=lambda h: (-h[1], h[0]))
    if kind == "flat" or (ok is not None and len(eligible) <= 50):  # exact paths
        mask = np.isin(SMALL_IDS, list(eligible))
        assert_same(got, brute(SMALL, SMALL_IDS, SMALL[row], k, mask))
    [batch] = index.search_batch(SMALL[row : row + 1], k, exclude=[ex], allowed=ok)
    assert [h[0] for h in batch] == [h[0] for h in got] or kind != "flat"
    assert len(batch) == len(got) and {h[0] for h in batch} <= eligible
