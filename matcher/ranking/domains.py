"""Domain activity: how active a candidate is in the funding domains the query works in.

Popularity predicts new partnerships on CORDIS, but global popularity recommends the same
hubs to everyone. Popularity *within the query's domains* keeps that signal and makes it
the query's own: a candidate scores high when it took part in many projects of the
programme parts, call-topic families and funding schemes of the query's own projects.

For each key family (programme part such as ``SC1``; call-topic prefix such as ``ICT``;
funding scheme such as ``RIA``) the query's projects give it a share ``s_q(key)`` of each
key and the candidate's counts ``n_c(key)`` give

    family score(q, c) = log1p( Σ_key s_q(key) · log1p(n_c(key)) )

and the domain activity is the sum of the families' scores. Only projects that started on
or before the snapshot's date count. Organisations without projects score 0.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embeddings.artefact import map_array
from matcher.domain.schema import Participation, Project
from matcher.graph.graph import entries

__all__ = ["DOMAIN_FAMILIES", "DomainActivity", "domain_keys"]

FloatArray = npt.NDArray[np.float64]

DOMAIN_FAMILIES: tuple[str, ...] = ("programme", "topic_prefix", "funding_scheme", "topic_line")
"""The key families, in the order :func:`domain_keys` returns them."""


def domain_keys(project: Project) -> tuple[list[str], ...]:
    """A project's keys in each family: programme parts, call-topic prefix, scheme, line.

    The call-topic prefix is the code up to the first '-' (``ICT-12-2015`` → ``ICT``); the
    call line its first two parts (``ICT-12``), shared by a topic's calls across years.
    """
    programme = [p.strip() for p in project.programme.split(";") if p.strip()]
    parts = [x.strip() for x in project.topic.split("-")]
    prefix = parts[0]
    line = "-".join(parts[:2]) if len(parts) > 1 and parts[1] else ""
    scheme = project.funding_scheme.strip()
    return (
        programme,
        [prefix] if prefix else [],
        [scheme] if scheme else [],
        [line] if line else [],
    )


class DomainActivity:
    """Per-organisation project counts by domain key, row-aligned with a snapshot.

    Args:
        families: per family, CSR arrays (indptr, indices, counts) over its keys.
        vocab: per family, the keys by code.
    """

    def __init__(
        self,
        families: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]],
        vocab: Sequence[Sequence[str]],
    ) -> None:
        self.families = list(families)
        self.vocab = [list(v) for v in vocab]
        self._leaders: list[list[npt.NDArray[np.int64]]] | None = None
        self._leaders_per_key = 0

    @classmethod
    def build(
        cls,
        index: dict[str, int],
        projects: Iterable[Project],
        participations: Iterable[Participation],
        *,
        as_of: dt.date | None = None,
    ) -> DomainActivity:
        """Count each organisation's projects per key.

        Args:
            index: organisation id → row (others are ignored).
            projects: the projects (their topic, programme and scheme).
            participations: who took part in which project.
            as_of: leave out projects starting after this date (undated ones count).
        """
        keys_of = {
            p.id: domain_keys(p)
            for p in projects
            if as_of is None or p.start_date is None or p.start_date <= as_of
        }
        vocab: list[dict[str, int]] = [{} for _ in DOMAIN_FAMILIES]
        counts: list[dict[tuple[int, int], int]] = [{} for _ in DOMAIN_FAMILIES]
        for part in participations:
            keys = keys_of.get(part.project_id)
            r = index.get(part.organisation_id)
            if keys is None or r is None:
                continue
            for family, family_keys in enumerate(keys):
                for key in family_keys:
                    cell = (r, vocab[family].setdefault(key, len(vocab[family])))
                    counts[family][cell] = counts[family].get(cell, 0) + 1
        n = len(index)
        families = []
        for cells in counts:
            ordered = sorted(cells.items())
            rows = np.array([r for (r, _), _ in ordered], np.int64)
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
            families.append(
                (
                    indptr,
                    np.array([c for (_, c), _ in ordered], np.int32),
                    np.array([v for _, v in ordered], np.float32),
                )
            )
        return cls(families, [list(v) for v in vocab])

    def save(self, folder: Path) -> None:
        """Write ``domains_*.npy`` and ``domains.json`` into a snapshot folder."""
        (folder / "domains.json").write_text(json.dumps(self.vocab, ensure_ascii=False))
        for f, (indptr, indices, counts) in enumerate(self.families):
            np.save(folder / f"domains_{f}_indptr.npy", indptr, allow_pickle=False)
            np.save(folder / f"domains_{f}_indices.npy", indices, allow_pickle=False)
            np.save(folder / f"domains_{f}_counts.npy", counts, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> DomainActivity:
        """Memory-map arrays written by :meth:`save`."""

        def read(name: str) -> npt.NDArray[Any]:
            return map_array(folder, f"{name}")

        vocab = json.loads((folder / "domains.json").read_text())
        families = [
            (read(f"domains_{f}_indptr"), read(f"domains_{f}_indices"), read(f"domains_{f}_counts"))
            for f in range(len(vocab))
        ]
        return cls(families, vocab)

    def scores(self, query: int, candidates: npt.NDArray[np.int64]) -> FloatArray:
        """Domain activity of each candidate row for the query row."""
        total = np.zeros(len(candidates))
        for (indptr, indices, counts), names in zip(self.families, self.vocab, strict=True):
            n = len(indptr) - 1
            if query >= n or indptr[query] == indptr[query + 1]:
                continue
            own = slice(int(indptr[query]), int(indptr[query + 1]))
            share = np.zeros(max(len(names), 1))
            share[np.asarray(indices[own])] = np.asarray(counts[own], np.float64)
            share /= share.sum()
            inside = candidates[candidates < n]
            positions, owner = entries(indptr, inside)
            weights = share[np.asarray(indices[positions])] * np.log1p(
                np.asarray(counts[positions], np.float64)
            )
            part = np.zeros(len(candidates))
            part[candidates < n] = np.bincount(owner, weights=weights, minlength=len(inside))
            total += np.log1p(part)
        return total

    def keys_of(self, row: int) -> list[set[int]]:
        """Per family, the domain keys a row works in (for :meth:`shared`)."""
        return [
            set(np.asarray(indices[indptr[row] : indptr[row + 1]]).tolist())
            if row < len(indptr) - 1
            else set()
            for indptr, indices, _ in self.families
        ]

    def shared(
        self, query: int, candidate: int, *, keys: list[set[int]] | None = None
    ) -> list[tuple[str, int]]:
        """Keys both work in, with the candidate's project count, most projects first.

        ``keys``: :meth:`keys_of` the query, when already at hand (several candidates).
        """
        out: list[tuple[str, int]] = []
        mine_all = self.keys_of(query) if keys is None else keys
        for (indptr, indices, counts), names, mine in zip(
            self.families, self.vocab, mine_all, strict=True
        ):
            n = len(indptr) - 1
            if query >= n or candidate >= n:
                continue
            span = slice(int(indptr[candidate]), int(indptr[candidate + 1]))
            for key, count in zip(
                np.asarray(indices[span]).tolist(), np.asarray(counts[span]).tolist(), strict=True
            ):
                if key in mine:
                    out.append((names[key], int(count)))
        return sorted(out, key=lambda kc: (-kc[1], kc[0]))

    def leaders(self, query: int, per_key: int) -> npt.NDArray[np.int64]:
        """The most active organisations in each of the query's domain keys (its own too)."""
        if self._leaders is None or self._leaders_per_key != per_key:
            self._leaders = [self._rank_keys(f, per_key) for f in range(len(self.families))]
            self._leaders_per_key = per_key
        out = [np.zeros(0, np.int64)]
        for (indptr, indices, _), leaders in zip(self.families, self._leaders, strict=True):
            if query + 1 < len(indptr):
                for key in np.asarray(indices[indptr[query] : indptr[query + 1]]).tolist():
                    out.append(leaders[key])
        return np.unique(np.concatenate(out))

    def _rank_keys(self, family: int, per_key: int) -> list[npt.NDArray[np.int64]]:
        indptr, indices, counts = self.families[family]
        owner = np.repeat(np.arange(len(indptr) - 1), np.diff(np.asarray(indptr)))
        keys = np.asarray(indices, np.int64)
        order = np.lexsort((owner, -np.asarray(counts), keys))
        keys, owner = keys[order], owner[order]
        starts = np.searchsorted(keys, np.arange(len(self.vocab[family]) + 1))
        return [
            owner[starts[k] : min(starts[k + 1], starts[k] + per_key)].astype(np.int64)
            for k in range(len(self.vocab[family]))
        ]
