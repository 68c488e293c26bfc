"""The one-byte codes' search: the same rows as brute force, checked like FAISS's own tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.index import nearest
from embeddings.prefilter import Prefilter, PrefilterMismatchError


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1), 0).astype(np.float32)


def _clustered(n: int, d: int, seed: int) -> np.ndarray:
    """Rows around a few centres, some repeated exactly (equal scores), some zero."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d))
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, d))
    x[rng.choice(n, n // 10, replace=False)] = x[0]  # a tenth of the rows equal to row 0
    x[rng.choice(n, n // 20, replace=False)] = 0
    return _unit(x)


def _brute(base: np.ndarray, query: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    scores = base[rows].astype(np.float64) @ query
    return np.sort(scores)[::-1][:k]


def _check(base: np.ndarray, codes: Prefilter, query: np.ndarray, k: int, rows: np.ndarray | None):
    scores, found = codes.search(base, query[None], k, rows=rows)  # type: ignore[misc]
    allowed = np.arange(len(base)) if rows is None else rows
    want = _brute(base, query, k, allowed)
    assert found.shape == (1, min(k, len(allowed)))
    assert len(set(found[0].tolist())) == found.shape[1]  # distinct
    assert set(found[0].tolist()) <= set(allowed.tolist())
    # the true scores of the rows returned, best first, are the best k scores
    true = base[found[0]].astype(np.float64) @ query
    np.testing.assert_allclose(scores[0], true, atol=1e-5)
    np.testing.assert_allclose(true, want, atol=1e-5)
    assert np.all(np.diff(true) <= 1e-6)


@pytest.mark.parametrize("k", [1, 10, 101])
@pytest.mark.parametrize("subset", [False, True])
def test_the_codes_find_the_rows_brute_force_finds(k: int, subset: bool) -> None:
    base = _clustered(3000, 48, seed=k)
    codes = Prefilter.build(base)
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(len(base), 2000, replace=False)) if subset else None
    queries = [base[0], base[5], _unit(rng.normal(size=(1, 48)))[0]]
    for query in queries:
        _check(base, codes, query, k, rows)


def test_equal_rows_past_the_margin_are_searched_exactly() -> None:
    """Half the rows equal: more rows within the margin than rescoring is worth."""
    base = _clustered(1000, 16, seed=3)
    base[::2] = base[1]
    codes = Prefilter.build(base)
    _check(base, codes, base[1], 50, None)
    _check(base, codes, base[1], 50, np.arange(0, 1000, 3))


def test_ties_come_in_row_order() -> None:
    base = _unit(np.tile(np.eye(4, dtype=np.float32), (5, 1)))  # each direction 5 times
    codes = Prefilter.build(base)
    _, found = codes.search(base, base[2][None], 3)  # type: ignore[misc]
    assert found[0].tolist() == [2, 6, 10]


def test_a_row_asked_twice_counts_once() -> None:
    base = _clustered(200, 8, seed=9)
    codes = Prefilter.build(base)
    rows = np.array([3, 3, 7, 7, 11])
    scores, found = codes.search(base, base[3][None], 5, rows=rows)  # type: ignore[misc]
    assert sorted(found[0].tolist()) == [3, 7, 11]
    assert np.isfinite(scores).all()


def test_wide_vectors_do_not_overflow() -> None:
    """Above 516 columns the weights get fewer steps, so a row's sum fits int32."""
    rng = np.random.default_rng(11)
    base = _unit(rng.choice([-1.0, 1.0], size=(600, 1024)))  # every value at full scale
    codes = Prefilter.build(base)
    approx, error = codes.approximate(base[4])
    assert np.all(np.abs(approx - base.astype(np.float64) @ base[4]) <= error)
    _check(base, codes, base[4], 25, None)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 50.0]),
)
def test_the_error_bound_holds(n: int, d: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    base = _unit(rng.normal(size=(n, d)))
    query = (scale * rng.normal(size=d)).astype(np.float32)
    codes = Prefilter.build(base)
    approx, error = codes.approximate(query)
    true = base.astype(np.float64) @ query
    assert np.all(np.abs(approx - true) <= error)


def test_nearest_uses_the_codes_for_few_queries_only(tmp_path: Path) -> None:
    base = _clustered(2000, 32, seed=5)
    codes = Prefilter.build(base)
    one = base[:3]
    _, exact = nearest(base, one, 20)
    _, coded = nearest(base, one, 20, prefilter=codes)
    for a, b in zip(exact, coded, strict=True):  # equal scores may come in another order
        np.testing.assert_allclose(np.sort(base[a] @ one[0]), np.sort(base[b] @ one[0]))
    tiny = np.arange(10)  # a small subset is copied and searched, not coded
    _, found = nearest(base, one, 5, rows=tiny, prefilter=codes)
    assert set(found.ravel().tolist()) <= set(tiny.tolist())


def test_codes_are_saved_and_refused_for_another_array(tmp_path: Path) -> None:
    base = _clustered(500, 16, seed=7)
    Prefilter.build(base).save(tmp_path, "text")
    assert Prefilter.exists(tmp_path, "text")
    loaded = Prefilter.load(tmp_path, "text", base)
    np.testing.assert_array_equal(np.asarray(loaded.codes), Prefilter.build(base).codes)
    _check(base, loaded, base[3], 10, None)
    other = base.copy()
    other[0] = other[1]
    with pytest.raises(PrefilterMismatchError, match="fingerprint"):
        Prefilter.load(tmp_path, "text", other)
    with pytest.raises(PrefilterMismatchError, match="row count"):
        Prefilter.load(tmp_path, "text", base[:400])
    meta = tmp_path / "prefilter_text.json"
    meta.write_text(json.dumps({"count": 500}))
    with pytest.raises(PrefilterMismatchError, match=r"prefilter_text\.json"):
        Prefilter.load(tmp_path, "text", base)
