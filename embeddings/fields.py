"""Search over several vector fields at once (e.g. profile text and tags), weighted per query.

Each field is its own :class:`~embeddings.index.VectorIndex` over (a subset of) the same ids.
An item's score is ``sum(weight[f] * <query[f], vector[f][item]>)``, an item without a
vector in a field scoring 0 there. The search is Fagin's threshold algorithm over the
fields' own nearest-neighbour lists: fetch each field's best ``depth`` items, rescore every
item seen in any list on all fields from the stored vectors, and stop once the k-th best
combined score reaches the best score an unseen item could still have
(``sum(weight[f] * max(0, depth-th score of f))``); otherwise double ``depth``. Over exact
(flat) indexes the result equals brute force; over approximate ones it is as good as their
lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import numpy.typing as npt

from embeddings.index import Hit, VectorIndex

__all__ = ["search_fields"]

_FIRST_DEPTH = 32


def search_fields(
    fields: Mapping[str, VectorIndex],
    queries: Mapping[str, npt.NDArray[np.float32]],
    weights: Mapping[str, float],
    k: int,
    *,
    exclude: Iterable[str] = (),
    allowed: Collection[str] | None = None,
) -> list[Hit]:
    """The ``k`` items with the highest weighted sum of field similarities, best first.

    Args:
        fields: an index per field name.
        queries: a query vector per field (fields without one, or with weight 0, are
            left out).
        weights: non-negative weight per field.
        k: how many results at most.
        exclude: ids never to return.
        allowed: if given, only these ids may be returned.

    Returns:
        ``(id, score)`` pairs by descending score, then id.

    Raises:
        ValueError: a negative weight, or a weighted field without an index or a query.
    """
    used = {name: float(w) for name, w in weights.items() if w != 0.0}
    for name, w in used.items():
        if w < 0.0:
            raise ValueError(f"weight of field {name!r} is negative ({w})")
        if name not in fields or name not in queries:
            raise ValueError(f"field {name!r} has a weight but no index or no query vector")
    if k <= 0 or not used:
        return []
    excluded = set(exclude)
    depth = max(_FIRST_DEPTH, 2 * k)
    while True:
        seen: set[str] = set()
        bound = 0.0
        complete = True
        for name, w in used.items():
            hits = fields[name].search(queries[name], depth, exclude=excluded, allowed=allowed)
            seen.update(item for item, _ in hits)
            if len(hits) == depth:
                complete = False
                bound += w * max(0.0, hits[-1][1])
        scored = _rescore(fields, queries, used, sorted(seen))
        if complete:
            # Every list held all of its field's items: the items seen nowhere have no
            # vector in any weighted field and score 0 (an item in any field is a candidate).
            universe = {i for index in fields.values() for i in index.ids} - excluded - seen
            if allowed is not None:
                universe &= set(allowed)
            rest = [(item, 0.0) for item in universe]
            return sorted(scored + rest, key=lambda hit: (-hit[1], hit[0]))[:k]
        if len(scored) >= k and scored[k - 1][1] > bound:
            return scored[:k]
        depth *= 2


def _rescore(
    fields: Mapping[str, VectorIndex],
    queries: Mapping[str, npt.NDArray[np.float32]],
    weights: Mapping[str, float],
    items: list[str],
) -> list[Hit]:
    """Exact weighted scores of ``items`` from the stored vectors, best first, then id."""
    total = np.zeros(len(items), np.float64)
    for name, w in weights.items():
        index = fields[name]
        q = np.asarray(queries[name], np.float64).reshape(-1)
        for n, item in enumerate(items):
            if item in index:
                total[n] += w * float(index.vector(item).astype(np.float64) @ q)
    order = sorted(range(len(items)), key=lambda n: (-total[n], items[n]))
    return [(items[n], float(total[n])) for n in order]
