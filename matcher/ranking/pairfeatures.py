"""Pair features for the boosted re-ranker: graph structure, activity and text, in bulk.

The 18 :data:`~matcher.ranking.signals.SIGNALS` are built to be explained to people; a tree model
gains from more raw material about the collaboration graph: both sides' degree, recent
degree, repeat collaborations and time since their last collaboration, common neighbours
over recent edges and repeat-weighted edges, paths of length three, and the
normalisations trees cannot form themselves (Jaccard, shares of each side's partners).
Every feature is a pure function of a :class:`~matcher.ranking.signals.ProfileTable`, so the
offline evaluation and the facade compute the same numbers.

Features come in two kinds: symmetric ones (the same seen from either side) and pairs
``x_q`` / ``x_c`` (the query's and the candidate's value), which swap when the pair is
seen from the candidate's side (:data:`SWAPS`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.ranking.signals import ProfileTable

__all__ = ["PAIR_FEATURES", "SWAPS", "NodeStats", "node_stats", "pair_columns", "swapped"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Columns = dict[str, FloatArray]

_DAYS_PER_YEAR = 365.25
NO_HISTORY_YEARS = 5.0
"""'Years since the last collaboration' of an organisation that has none."""

_SIDED = ("degree", "recent_degree", "strength", "years_since", "activity", "kind",
          "degree_pct", "activity_pct", "recent_degree_pct", "strength_pct")  # fmt: skip
_RELATIVE = ("common_neighbours", "adamic_adar", "resource_allocation", "recent_common",
             "recent_adamic_adar", "repeat_common", "paths3")  # fmt: skip

PAIR_FEATURES: tuple[str, ...] = (
    "common_neighbours",
    "adamic_adar",
    "resource_allocation",
    "recent_common",
    "recent_adamic_adar",
    "repeat_common",
    "paths3",
    "jaccard",
    "share_q",
    "share_c",
    "text",
    "same_country",
    "same_kind",
    "degree_product",
    "adamic_adar_x_activity",
    *(f"{s}_{side}" for s in _SIDED for side in ("q", "c")),
    *(f"{s}_rel" for s in _RELATIVE),
    "degree_pct_product",
)
"""The features, in column order.

common_neighbours / adamic_adar / resource_allocation: the classic scores on the binary
graph; recent_common / recent_adamic_adar: the same through edges whose latest
collaboration is at most a year old (Adamic–Adar's weights stay the full degree's);
repeat_common: common neighbours over edges weighted by how many collaborations they
carry; paths3: walks of length three; jaccard: common over the union of partners;
share_q / share_c: common neighbours over each side's degree; text: cosine of the
profile vectors; same_country, same_kind: 0/1; degree_product: the preferential-attachment
score; adamic_adar_x_activity: Adamic–Adar times log1p of the candidate's activity.
Per side (``_q`` the query, ``_c`` the candidate): degree; recent_degree (partners linked
in the last year); strength (collaborations over all edges); years_since (since the last
collaboration); activity (collaborations in the two years before the table's date);
kind (the organisation kind's code); degree_pct, activity_pct (percentile among all
organisations, stable as the graph grows between cut-offs).
"""

SWAPS: dict[str, str] = {
    **{f"{s}_q": f"{s}_c" for s in _SIDED},
    **{f"{s}_c": f"{s}_q" for s in _SIDED},
    "share_q": "share_c",
    "share_c": "share_q",
}
"""Features that swap when the pair is seen from the candidate's side."""


class NodeStats:
    """Per-organisation arrays and graph matrices the pair features are read from."""

    def __init__(self, table: ProfileTable) -> None:
        g = table.graph
        binary = sp.csr_matrix(g.binary, dtype=np.float64)
        binary.sort_indices()
        n = len(table)
        self.binary = binary
        as_of = g.as_of.toordinal()
        edge_day = np.asarray(g._edge_day, np.float64)
        rows = np.repeat(np.arange(n), np.diff(binary.indptr))
        age = (as_of - edge_day) / _DAYS_PER_YEAR
        self.recent = self._with(binary, (age <= 1.0).astype(np.float64))
        first = np.asarray(g._first, np.int64)
        repeats = np.diff(np.append(first, len(g._row_day))).astype(np.float64)
        self.repeats = self._with(binary, repeats)
        self.degree = np.diff(binary.indptr).astype(np.float64)
        inv_log = 1.0 / np.log(np.maximum(self.degree, 2.0))
        inv_deg = 1.0 / np.maximum(self.degree, 1.0)
        self.aa_right = sp.csr_matrix(sp.diags(inv_log) @ binary)
        self.ra_right = sp.csr_matrix(sp.diags(inv_deg) @ binary)
        self.recent_degree = np.asarray(self.recent.sum(axis=1), np.float64).ravel()
        self.strength = np.asarray(self.repeats.sum(axis=1), np.float64).ravel()
        last = np.full(n, -np.inf)
        np.maximum.at(last, rows, edge_day)
        self.years_since = np.where(
            np.isfinite(last), (as_of - last) / _DAYS_PER_YEAR, NO_HISTORY_YEARS
        )
        self.activity = np.asarray(table.activity, np.float64)
        self.kind = np.asarray(table.kind, np.float64)
        self.country = np.asarray(table.country, np.int64)
        self.degree_pct = _percentile(self.degree)
        self.activity_pct = _percentile(self.activity)
        self.recent_degree_pct = _percentile(self.recent_degree)
        self.strength_pct = _percentile(self.strength)
        self.text = table.text

    @staticmethod
    def _with(binary: sp.csr_matrix, values: FloatArray) -> sp.csr_matrix:
        out = sp.csr_matrix(
            (values, binary.indices.copy(), binary.indptr.copy()), shape=binary.shape
        )
        out.eliminate_zeros()
        return out

    def side(self, name: str) -> FloatArray:
        """A per-organisation array by its feature stem."""
        value: FloatArray = getattr(self, name)
        return value


def _percentile(x: FloatArray) -> FloatArray:
    if len(x) == 0:
        return x.copy()
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    # average rank of ties, in (0, 1]
    low = np.searchsorted(sorted_x, x, side="left")
    high = np.searchsorted(sorted_x, x, side="right")
    result: FloatArray = (low + high + 1) / (2.0 * len(x))
    return result


_STATS: dict[int, tuple[weakref.ref[ProfileTable], NodeStats]] = {}


def node_stats(table: ProfileTable) -> NodeStats:
    """The table's :class:`NodeStats` (computed once per table, kept while it lives)."""
    found = _STATS.get(id(table))
    if found is not None and found[0]() is table:
        return found[1]
    stats = NodeStats(table)
    key = id(table)
    _STATS[key] = (weakref.ref(table, lambda _: _STATS.pop(key, None)), stats)
    return stats


def pair_columns(
    table: ProfileTable,
    rows: npt.NDArray[np.int64],
    candidates: npt.NDArray[np.int64] | None = None,
) -> Columns:
    """Every pair feature of each query row against each candidate, as the query sees it.

    Args:
        table: the organisations.
        rows: query rows of the table.
        candidates: candidate rows; every row when None.

    Returns:
        Each feature a ``(len(rows), len(candidates))`` array.
    """
    st = node_stats(table)
    rows = np.asarray(rows, np.int64)
    cand = np.arange(len(table), dtype=np.int64) if candidates is None else candidates
    b, m = len(rows), len(cand)

    top: Columns = {}

    def dense(name: str, product: sp.spmatrix) -> FloatArray:
        full = np.asarray(sp.csr_matrix(product).toarray(), np.float64).reshape(b, -1)
        full[np.arange(b), rows] = 0.0
        # the row's largest value over every organisation: the same whichever
        # candidates are asked for, so relative values agree between callers
        top[name] = full.max(axis=1, initial=0.0)
        return full if candidates is None else full[:, cand]

    bq = st.binary[rows]
    two = bq @ st.binary
    cols: Columns = {"common_neighbours": dense("common_neighbours", two)}
    cols["adamic_adar"] = dense("adamic_adar", bq @ st.aa_right)
    cols["resource_allocation"] = dense("resource_allocation", bq @ st.ra_right)
    rq = st.recent[rows]
    cols["recent_common"] = dense("recent_common", rq @ st.recent)
    cols["recent_adamic_adar"] = dense("recent_adamic_adar", rq @ st.aa_right)
    cols["repeat_common"] = dense("repeat_common", st.repeats[rows] @ st.repeats)
    cols["paths3"] = dense("paths3", two @ st.binary)
    for name in _RELATIVE:
        scale = top[name][:, None]
        cols[f"{name}_rel"] = np.divide(cols[name], scale, out=np.zeros((b, m)), where=scale > 0)
    cn = cols["common_neighbours"]
    dq = st.degree[rows][:, None]
    dc = st.degree[cand][None, :]
    union = dq + dc - cn
    cols["jaccard"] = np.divide(cn, union, out=np.zeros((b, m)), where=union > 0)
    full_dq, full_dc = np.broadcast_to(dq, (b, m)), np.broadcast_to(dc, (b, m))
    cols["share_q"] = np.divide(cn, full_dq, out=np.zeros((b, m)), where=full_dq > 0)
    cols["share_c"] = np.divide(cn, full_dc, out=np.zeros((b, m)), where=full_dc > 0)
    cols["text"] = (st.text[rows] @ st.text[cand].T).astype(np.float64).reshape(b, m)
    cq, cc = st.country[rows][:, None], st.country[cand][None, :]
    cols["same_country"] = ((cq == cc) & (cq >= 0)).astype(np.float64)
    cols["same_kind"] = (st.kind[rows][:, None] == st.kind[cand][None, :]).astype(np.float64)
    cols["degree_product"] = dq * dc
    cols["degree_pct_product"] = st.degree_pct[rows][:, None] * st.degree_pct[cand][None, :]
    cols["adamic_adar_x_activity"] = cols["adamic_adar"] * np.log1p(st.activity[cand])[None, :]
    for s in _SIDED:
        values = st.side(s)
        cols[f"{s}_q"] = np.broadcast_to(values[rows][:, None], (b, m))
        cols[f"{s}_c"] = np.broadcast_to(values[cand][None, :], (b, m))
    return cols


def swapped(columns: Mapping[str, FloatArray]) -> Columns:
    """The same pairs seen from the candidates' side (query and candidate features swap)."""
    return {name: columns[SWAPS.get(name, name)] for name in columns}
