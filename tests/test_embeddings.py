from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings import EmbeddingCache, Manifest, SentenceTransformerEncoder, nearest
from embeddings.artefact import (
    ManifestMismatchError,
    current_folder,
    map_array,
    read_manifest,
    write_atomically,
)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    centres = rng.normal(size=(8, d))
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.sampled_from(["all", "few", "most"]))
def test_nearest_equals_brute_force(seed: int, k: int, subset: str) -> None:
    """FAISS's exact search against numpy's brute force: all rows, a small subset (copied
    and searched) or most rows (searched in place, the rest dropped from the results)."""
    rng = np.random.default_rng(seed)
    x = unit_rows(rng, 300, 32)
    size = {"all": 0, "few": 120, "most": 290}[subset]
    rows = np.sort(rng.choice(300, size, replace=False)) if size else None
    queries = x[rng.choice(300, 5, replace=False)]
    scores, found = nearest(x, queries, k, rows=rows)
    pool = np.arange(300) if rows is None else rows
    for q, got, got_scores in zip(queries, found, scores, strict=True):
        exact = x[pool] @ q
        best = np.sort(exact)[::-1][: min(k, len(pool))]
        assert np.allclose(got_scores, best, atol=1e-5)
        assert len(got) == min(k, len(pool))
        assert set(got.tolist()) <= set(pool.tolist())
        assert np.allclose(x[got] @ q, got_scores, atol=1e-5)


def test_memory_mapped_arrays_are_shared_views(tmp_path: Path) -> None:
    x = unit_rows(np.random.default_rng(1), 50, 16)
    np.save(tmp_path / "vectors.npy", x)
    mapped = map_array(tmp_path, "vectors")
    assert type(mapped) is np.ndarray and isinstance(mapped.base, np.memmap)
    assert not mapped.flags.writeable
    _, found = nearest(mapped, x[:3], 1)
    assert found[:, 0].tolist() == [0, 1, 2]


def test_cache_keys_survive_save_and_load(tmp_path: Path) -> None:
    cache = EmbeddingCache(4)
    keys = [b"\x00" * 16, b"a" * 15 + b"\x00", b"\x01" * 16]  # trailing NULs must survive
    vectors = np.eye(3, 4, dtype=np.float32)
    cache.add(keys, vectors)
    cache.save(tmp_path)
    back = EmbeddingCache.load(tmp_path, 4)
    assert len(back) == 3
    for key, vector in zip(keys, vectors, strict=True):
        assert np.array_equal(back.get(key), vector)
    assert len(EmbeddingCache.load(tmp_path, 8)) == 0  # another dimension is not reused


def test_cache_encodes_each_distinct_text_once(encoder: SentenceTransformerEncoder) -> None:
    cache = EmbeddingCache(encoder.dimension)
    texts = ["cold-chain logistics", "aerospace composites", "cold-chain logistics"]
    first = cache.encode(encoder, texts)
    assert cache.misses == 2
    again = cache.encode(encoder, ["aerospace composites", "cold-chain logistics"])
    assert cache.misses == 2
    assert np.array_equal(first[1], again[0])
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_pooled_not_cut(encoder: SentenceTransformerEncoder) -> None:
    head = "Our cluster gathers dairy farmers and cheese makers in the Alps. " * 30
    tail = "Our members build satellite antennas and radar electronics for space. " * 30
    long = head + tail
    n_tokens = len(encoder.model.tokenizer(long, add_special_tokens=False)["input_ids"])
    assert n_tokens > 2 * encoder.max_tokens
    pooled, head_v, tail_v = encoder.encode([long, head, tail])
    # Truncation would keep only the dairy half; pooling keeps the space half too.
    assert float(pooled @ tail_v) > 0.5
    assert float(pooled @ head_v) > 0.5
    truncated = encoder.model.encode([long], normalize_embeddings=True)[0]
    assert float(truncated @ tail_v) < float(pooled @ tail_v)


def test_manifest_checks(tmp_path: Path) -> None:
    manifest = Manifest("m", "rev", "torch", 384, "inner_product", 3, "abc")
    folder = write_atomically(tmp_path, manifest, lambda f: (f / "x.bin").write_bytes(b"1"))
    assert current_folder(tmp_path) == folder
    back = read_manifest(folder)
    assert back.count == 3
    back.check(model_id="m", dimension=384)
    with pytest.raises(ManifestMismatchError, match="dimension is 384, expected 768"):
        back.check(dimension=768)
    data = json.loads((folder / "manifest.json").read_text())
    data["schema_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestMismatchError, match="schema version 99"):
        read_manifest(folder)


def test_failed_write_keeps_the_last_good_build(tmp_path: Path) -> None:
    manifest = Manifest("m", "rev", "torch", 4, "inner_product", 1, "abc")
    good = write_atomically(tmp_path, manifest, lambda f: (f / "x.bin").write_bytes(b"good"))

    def crash(folder: Path) -> None:
        (folder / "x.bin").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(tmp_path, manifest, crash)
    assert current_folder(tmp_path) == good
    assert (good / "x.bin").read_bytes() == b"good"
    assert not list((tmp_path / "builds").glob(".tmp-*"))


def test_killed_writer_leaves_the_last_good_build(tmp_path: Path) -> None:
    manifest = Manifest("m", "rev", "torch", 4, "inner_product", 1, "abc")
    good = write_atomically(tmp_path, manifest, lambda f: (f / "x.bin").write_bytes(b"good"))
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from embeddings.artefact import Manifest, write_atomically\n"
        "def write(folder):\n"
        "    (folder / 'x.bin').write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"root = Path({str(tmp_path)!r})\n"
        "write_atomically(root, Manifest('m', 'r', 'torch', 4, 'ip', 1, 'x'), write)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    assert current_folder(tmp_path) == good
    assert read_manifest(good).data_hash == "abc"


def test_a_search_of_few_queries_runs_faiss_on_the_calling_thread_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import faiss

    from embeddings.index import FEW_QUERIES

    x = unit_rows(np.random.default_rng(7), 500, 16)
    seen: list[int] = []
    search = faiss.knn

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(faiss.omp_get_max_threads())
        return search(*args, **kwargs)

    monkeypatch.setattr(faiss, "knn", watched)
    out: dict[str, object] = {}

    def run() -> None:  # a thread started later, as a request's: OpenMP counts per thread
        out["before"] = faiss.omp_get_max_threads()
        out["few"] = nearest(x, x[:3], 5)
        out["many"] = nearest(x, x[:FEW_QUERIES], 5)
        out["after"] = faiss.omp_get_max_threads()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [1, out["before"]]  # few queries: one thread; a batch: the thread's count
    assert out["after"] == out["before"]  # the thread's count is restored
    few, many = out["few"], out["many"]
    assert isinstance(few, tuple) and isinstance(many, tuple)
    assert np.array_equal(few[1], many[1][:3])  # the same neighbours either way
