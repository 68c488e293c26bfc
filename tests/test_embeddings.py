from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import EmbeddingCache, Manifest, SentenceTransformerEncoder, VectorIndex
from embeddings.artefact import (
    ManifestMismatchError,
    current_folder,
    read_manifest,
    write_atomically,
)


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    centres = rng.normal(size=(8, d))
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_equals_brute_force() -> None:
    rng = np.random.default_rng(7)
    x = unit_rows(rng, 500, 32)
    ids = [f"org-{i:04d}" for i in range(500)]
    index = VectorIndex(32)
    index.add(ids, x)
    for q in rng.choice(500, 20, replace=False):
        got = index.search(x[q], 10, exclude=[ids[q]])
        scores = x @ x[q]
        scores[q] = -np.inf
        order = np.lexsort((np.array(ids), -scores))[:10]
        assert [g[0] for g in got] == [ids[i] for i in order]
        assert np.allclose([g[1] for g in got], scores[order], atol=1e-5)


def test_index_round_trip_and_mismatch(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = unit_rows(rng, 50, 16)
    index = VectorIndex(16)
    index.add([str(i) for i in range(50)], x)
    index.save(tmp_path)
    back = VectorIndex.load(tmp_path)
    assert back.ids == index.ids
    assert np.allclose(back.vector("7"), x[7])
    with pytest.raises(ValueError, match="already"):
        back.add(["7"], x[:1])
    (tmp_path / "ids.json").write_text(json.dumps(["1", "2"]))
    with pytest.raises(ValueError, match=r"ids\.json names 2"):
        VectorIndex.load(tmp_path)


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
