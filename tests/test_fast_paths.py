"""The per-request shortcuts give exactly what the plain computations give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from matcher.graph.live import Scratch
from matcher.graph.scores import Neighbourhood
from matcher.ranking.domains import DomainActivity
from matcher.ranking.features import FEATURES, members
from matcher.ranking.reasons import REASON_SIGNALS
from matcher.ranking.scorer import Scorer, _typical, contributions_reference
from models import fit_listwise, fit_ranker


def _pool(rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
    """A pool's feature columns: many exact zeros and repeats (as on CORDIS), some NaN."""
    columns = {}
    for j, name in enumerate(FEATURES):
        values = rng.random(m)
        if j % 3 == 0:
            values[rng.random(m) < 0.7] = 0.0  # mostly absent: the median is 0
        if j % 4 == 1:
            values = np.round(values * 3)  # few distinct values
        columns[name] = values
    columns["walk"][rng.random(m) < 0.1] = np.nan  # hubs: unknown
    columns["walk_share"][np.isnan(columns["walk"])] = np.nan
    return columns


@pytest.fixture(scope="module")
def scorers() -> list[Scorer]:
    rng = np.random.default_rng(0)
    m, queries = 60, 40
    pools = [_pool(rng, m) for _ in range(queries)]
    x = np.vstack([np.column_stack([p[f] for f in FEATURES]) for p in pools])
    signal = np.nan_to_num(x[:, 0] + x[:, 7] + 0.5 * x[:, 10]) + 0.3 * rng.random(len(x))
    y = (signal > np.quantile(signal, 0.9)).astype(np.int_)
    groups = np.repeat(np.arange(queries), m)
    listwise = fit_listwise(x, y, groups, FEATURES)
    linear = fit_ranker(np.nan_to_num(x), y, FEATURES, groups=groups)
    return [Scorer(listwise), Scorer(linear)]


@pytest.mark.parametrize("which", [0, 1], ids=["listwise", "linear"])
def test_contributions_equal_the_plain_computation_exactly(
    scorers: list[Scorer], which: int
) -> None:
    scorer = scorers[which]
    rng = np.random.default_rng(1)
    for _ in range(20):
        columns = _pool(rng, int(rng.integers(12, 80)))
        rows = sorted(rng.choice(len(columns["text"]), 10, replace=False).tolist())
        plain = contributions_reference(scorer, columns, rows, REASON_SIGNALS)
        x = np.column_stack([columns[f] for f in scorer.features])
        for fast in (
            scorer.contributions(columns, rows, REASON_SIGNALS),
            scorer.contributions(columns, rows, REASON_SIGNALS, x=x, raw=scorer.ranker.raw(x)),
        ):
            assert fast.keys() == plain.keys()
            for name in plain:
                assert np.array_equal(fast[name], plain[name]), name  # bit for bit


def test_shared_domains_with_the_query_keys_at_hand_equal_the_plain_lookup() -> None:
    rng = np.random.default_rng(2)
    families = []
    vocab = []
    for size in (5, 9, 3):
        indptr = np.zeros(31, np.int64)
        rows = [
            np.sort(rng.choice(size, int(rng.integers(0, size)), replace=False)) for _ in range(30)
        ]
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        indices = np.concatenate(rows).astype(np.int32)
        counts = rng.integers(1, 9, len(indices)).astype(np.int32)
        families.append((indptr, indices, counts))
        vocab.append([f"k{size}-{i}" for i in range(size)])
    domains = DomainActivity(families, vocab)
    for query in range(30):
        keys = domains.keys_of(query)
        for candidate in range(32):  # two rows past the arrays
            assert domains.shared(query, candidate, keys=keys) == domains.shared(query, candidate)


def test_resource_allocation_alone_equals_the_third_link_score() -> None:
    rows = np.array([2, 5, 7, 11], np.int64)
    nb = Neighbourhood(
        0, rows, np.array([1.0, 2, 1, 3]), np.array([0.5, 0.9, 0.4, 1.2]),
        np.array([0.1, 0.25, 0.05, 0.4]),
    )  # fmt: skip
    asked = np.array([1, 2, 5, 6, 11, 12], np.int64)
    assert np.array_equal(nb.resource_allocation_of(asked), nb.scores(asked)[2])
    scratch = Scratch()
    dense = Neighbourhood(
        0, rows, nb.common_partners, nb.adamic_adar, nb.resource_allocation, scratch
    )
    values = scratch.claim(13)
    values[:, rows] = [nb.common_partners, nb.adamic_adar, nb.resource_allocation]
    scratch.owner = dense
    assert np.array_equal(dense.resource_allocation_of(asked), nb.scores(asked)[2])


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.integers(1, 4)),
        elements=st.one_of(st.sampled_from([0.0, 1.0, -1.0, np.nan]), st.floats(-1e9, 1e9)),
    )
)
def test_pool_medians_equal_numpys_median_of_the_known_values(x: np.ndarray) -> None:
    columns = list(range(x.shape[1]))
    got = _typical(x, columns)
    for j in columns:
        known = x[:, j][~np.isnan(x[:, j])]
        want = np.median(known) if len(known) else np.nan
        assert np.array_equal(got[j], want, equal_nan=True), (x[:, j], got[j], want)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.int64, st.integers(0, 60), elements=st.integers(-3, 40)),
    arrays(np.int64, st.integers(0, 30), elements=st.integers(-3, 60)),
)
def test_members_equals_numpys_isin(values: np.ndarray, wanted: np.ndarray) -> None:
    for v, w in ((values, wanted), (values.astype(np.int32), np.abs(wanted).astype(np.int32))):
        assert np.array_equal(members(v, w), np.isin(v, w))
