"""Weighted search over two vector fields equals brute force over flat indexes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings import VectorIndex
from embeddings.fields import search_fields


def unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make(
    seed: int, n: int = 300, dim: int = 16
) -> tuple[dict[str, VectorIndex], list[str], dict[str, npt.NDArray[np.float32]]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, dim))
    ids = [f"org-{i:04d}" for i in range(n)]
    text = unit(centres[rng.integers(0, 6, n)] + 0.4 * rng.normal(size=(n, dim)))
    tags = unit(centres[rng.integers(0, 6, n)] + 0.4 * rng.normal(size=(n, dim)))
    has_tags = rng.random(n) < 0.7  # some organisations have no tags
    fields = {"text": VectorIndex(dim, kind="flat"), "tags": VectorIndex(dim, kind="flat")}
    fields["text"].add(ids, text)
    fields["tags"].add([i for i, h in zip(ids, has_tags, strict=True) if h], tags[has_tags])
    vectors = {"text": text, "tags": np.where(has_tags[:, None], tags, 0.0).astype(np.float32)}
    return fields, ids, vectors


def brute(
    ids: list[str],
    vectors: dict[str, npt.NDArray[np.float32]],
    queries: dict[str, npt.NDArray[np.float32]],
    weights: dict[str, float],
    k: int,
    excluded: set[str],
    allowed: set[str] | None,
) -> list[tuple[str, float]]:
    total = sum(w * (vectors[f].astype(np.float64) @ queries[f]) for f, w in weights.items())
    keep = [n for n, i in enumerate(ids) if i not in excluded and (allowed is None or i in allowed)]
    order = sorted(keep, key=lambda n: (-total[n], ids[n]))
    return [(ids[n], float(total[n])) for n in order[:k]]


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 5),
    tag_weight=st.floats(0.0, 1.0),
    k=st.integers(1, 60),
    query_seed=st.integers(0, 10_000),
    filtered=st.booleans(),
)
def test_weighted_search_equals_brute_force(
    seed: int, tag_weight: float, k: int, query_seed: int, filtered: bool
) -> None:
    fields, ids, vectors = make(seed)
    rng = np.random.default_rng(query_seed)
    queries = {f: unit(rng.normal(size=16)) for f in fields}
    weights = {"text": 1.0 - tag_weight, "tags": tag_weight}
    excluded = set(rng.choice(ids, 5, replace=False).tolist())
    allowed = set(rng.choice(ids, 40, replace=False).tolist()) if filtered else None
    got = search_fields(fields, queries, weights, k, exclude=excluded, allowed=allowed)
    want = brute(ids, vectors, queries, weights, k, excluded, allowed)
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_the_tag_weight_moves_the_answer() -> None:
    fields, ids, vectors = make(1)
    other = next(n for n in range(50, 300) if ids[n] in fields["tags"])
    # Query with organisation 7's text and another organisation's tags.
    queries = {"text": vectors["text"][7], "tags": vectors["tags"][other]}
    assert search_fields(fields, queries, {"text": 1.0}, 1)[0][0] == ids[7]
    assert search_fields(fields, queries, {"tags": 1.0}, 1)[0][0] == ids[other]


def test_bad_weights_are_refused() -> None:
    fields, _, vectors = make(2)
    q = {"text": vectors["text"][0]}
    with pytest.raises(ValueError, match="negative"):
        search_fields(fields, q, {"text": -1.0}, 3)
    with pytest.raises(ValueError, match="'tags'"):
        search_fields(fields, q, {"text": 0.5, "tags": 0.5}, 3)
    assert search_fields(fields, q, {"text": 0.0}, 3) == []
