"""Organisations as arrays aligned by row: what ranking reads about each one.

:class:`Profiles` holds, for every row, the four vectors (profile text, tags, offers,
seeks; a zero row where a text is absent), the codes of country and kind, bit masks of
ecosystems and value-chain stages, sparse rows of keywords, target countries and
languages, and the recent activity. A snapshot saves them as ``.npy`` files that every
process memory-maps, with an approximate index per searched field when the snapshot is
large, one-byte codes of each searched field otherwise (:meth:`Profiles.build_indexes`,
:mod:`embeddings.prefilter`: exact search of a write's few queries); the rows written
since (new organisations, changed profiles) live in an overlay of the process
(:meth:`Profiles.set_rows`), so reads stay O(rows asked for).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embeddings.ann import ApproximateIndex
from embeddings.artefact import map_array
from embeddings.prefilter import Prefilter
from matcher.domain.schema import Organisation
from matcher.domain.vocab import COUNTRIES, STAGE_ORDER, Ecosystem, OrganisationKind
from matcher.graph.rows import RowSets

__all__ = [
    "COUNTRY_CODES",
    "FIELDS",
    "KINDS",
    "SEARCHED",
    "Profiles",
    "RowValues",
    "country_code",
    "language_code",
    "mask_of",
]

FIELDS: tuple[str, ...] = ("text", "tags", "offers", "seeks")
"""The vector fields of a profile, in the order of the arrays."""

SEARCHED: tuple[str, ...] = ("text", "tags", "offers")
"""The fields whose arrays candidate lists search (``seeks`` only asks)."""

logger = logging.getLogger(__name__)

COUNTRY_CODES: tuple[str, ...] = tuple(sorted(COUNTRIES))
"""Every accepted country, in code order (a country's code is its position)."""

KINDS: tuple[OrganisationKind, ...] = tuple(OrganisationKind)
"""Organisation kinds in code order."""

_ECOSYSTEMS = list(Ecosystem)
_STAGES = list(STAGE_ORDER)
_COUNTRY = {c: i for i, c in enumerate(COUNTRY_CODES)}

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def country_code(country: str | None) -> int:
    """A country's code, -1 when unknown."""
    return _COUNTRY.get(country or "", -1)


def language_code(language: str) -> int:
    """An ISO 639-1 code as a number in [0, 676)."""
    code = language.lower()
    return (ord(code[0]) - 97) * 26 + (ord(code[1]) - 97)


def mask_of(values: Iterable[Any]) -> int:
    """Bit mask of ecosystems or stages (each bit a position in its vocabulary)."""
    out = 0
    for v in values:
        out |= 1 << (_ECOSYSTEMS.index(v) if isinstance(v, Ecosystem) else _STAGES.index(v))
    return out


@dataclass(frozen=True)
class RowValues:
    """One organisation's per-row values, encoded (no vectors)."""

    country: int
    kind: int
    ecosystems: int
    stages: int
    keywords: tuple[str, ...]
    targets: tuple[int, ...]
    languages: tuple[int, ...]

    @classmethod
    def of(cls, org: Organisation) -> RowValues:
        """Encode an organisation's profile."""
        return cls(
            country=country_code(org.country),
            kind=KINDS.index(org.kind),
            ecosystems=mask_of(org.ecosystems),
            stages=mask_of(org.stages),
            keywords=tuple(sorted({k.lower() for k in org.keywords})),
            targets=tuple(sorted({country_code(c) for c in org.target_countries} - {-1})),
            languages=tuple(sorted({language_code(x) for x in org.languages})),
        )


class Profiles:
    """Every organisation's ranking-relevant values, row-aligned with the ids.

    Args:
        ids: organisation ids; row ``i`` is ``ids[i]`` (sorted in a snapshot).
        vectors: per field of :data:`FIELDS`, an (n, dimension) float32 array.
        keys: (n, fields, 16) uint8 text keys of what each vector encodes (zeros: none).
        columns: ``country`` (int16), ``kind`` (int8), ``ecosystems`` and ``stages``
            (int64 masks), ``activity`` (float32).
        keywords: CSR arrays (indptr, indices) into ``keyword_vocab``.
        keyword_vocab: the keywords, lower case, by code.
        targets: CSR arrays of target-country codes.
        languages: CSR arrays of language codes.
    """

    def __init__(
        self,
        ids: Sequence[str],
        vectors: Mapping[str, npt.NDArray[np.float32]],
        keys: npt.NDArray[np.uint8],
        columns: Mapping[str, npt.NDArray[Any]],
        keywords: RowSets,
        keyword_vocab: Sequence[str],
        targets: RowSets,
        languages: RowSets,
    ) -> None:
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = {o: i for i, o in enumerate(self.ids)}
        self.base_count = len(self.ids)
        self._base = {f: vectors[f] for f in FIELDS}
        self.dimension = int(self._base["text"].shape[1])
        self._base_keys = keys
        # Small per-row columns are private writable copies (a few bytes per row).
        self.country = np.array(columns["country"], np.int16)
        self.kind = np.array(columns["kind"], np.int8)
        self.ecosystems = np.array(columns["ecosystems"], np.int64)
        self.stages = np.array(columns["stages"], np.int64)
        self.activity = np.array(columns["activity"], np.float32)
        self.alive = np.ones(len(self.ids), np.bool_)
        self.keywords = keywords
        self.keyword_vocab: list[str] = list(keyword_vocab)
        self._keyword_code = {k: i for i, k in enumerate(self.keyword_vocab)}
        self.targets = targets
        self.languages = languages
        # The overlay: rows written since the snapshot keep their vectors here.
        self._slot = np.full(len(self.ids), -1, np.int32)
        self._extra = np.zeros((0, len(FIELDS), self.dimension), np.float32)
        self._extra_keys: list[npt.NDArray[np.uint8]] = []
        self._present: dict[str, IntArray] = {}
        self.changed_rows: list[int] = []
        """Rows added or changed since the snapshot, in order (for candidate pools)."""
        self._written: IntArray | None = None
        self.ann: dict[str, ApproximateIndex] = {}
        """Approximate indexes over the snapshot's arrays, by field (large snapshots only)."""
        self.prefilters: dict[str, Prefilter] = {}
        """One-byte codes of the snapshot's arrays, by field (where no approximate index)."""

    # -- construction and persistence ------------------------------------------------------

    @classmethod
    def build(
        cls,
        organisations: Sequence[Organisation],
        vectors: Mapping[str, npt.NDArray[np.float32]],
        keys: npt.NDArray[np.uint8],
        activity: npt.NDArray[np.float64],
    ) -> Profiles:
        """Encode organisations (in row order) with their vectors."""
        values = [RowValues.of(o) for o in organisations]
        vocab: dict[str, int] = {}
        kw_rows = [[vocab.setdefault(k, len(vocab)) for k in v.keywords] for v in values]
        sparse = {
            name: RowSets.of(rows)
            for name, rows in (
                ("keywords", kw_rows),
                ("targets", [list(v.targets) for v in values]),
                ("languages", [list(v.languages) for v in values]),
            )
        }
        columns: dict[str, npt.NDArray[Any]] = {
            "country": np.array([v.country for v in values], np.int16),
            "kind": np.array([v.kind for v in values], np.int8),
            "ecosystems": np.array([v.ecosystems for v in values], np.int64),
            "stages": np.array([v.stages for v in values], np.int64),
            "activity": np.asarray(activity, np.float32),
        }
        return cls(
            [o.id for o in organisations],
            vectors,
            keys,
            columns,
            sparse["keywords"],
            list(vocab),
            sparse["targets"],
            sparse["languages"],
        )

    def save(self, folder: Path) -> None:
        """Write the arrays into a snapshot folder (the overlay must be empty)."""
        if self.changed_rows or len(self.ids) != self.base_count:
            raise ValueError("only a profile table without written rows can be saved")
        (folder / "ids.json").write_text(json.dumps(self.ids))
        (folder / "keywords.json").write_text(json.dumps(self.keyword_vocab, ensure_ascii=False))
        arrays: dict[str, npt.NDArray[Any]] = {
            **{f"vectors_{f}": self._base[f] for f in FIELDS},
            "text_keys": self._base_keys,
            "country": self.country,
            "kind": self.kind,
            "ecosystems": self.ecosystems,
            "stages": self.stages,
            "activity": self.activity,
        }
        for name in ("keywords", "targets", "languages"):
            getattr(self, name).save(folder, name)
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        for name, index in self.ann.items():
            index.save(folder, name)
        for name, codes in self.prefilters.items():
            codes.save(folder, name)

    @classmethod
    def load(cls, folder: Path) -> Profiles:
        """Memory-map a snapshot's arrays (read-only, shared by every process).

        Raises:
            AnnMismatchError: an approximate index or codes that do not match their array.
        """

        def read(name: str) -> npt.NDArray[Any]:
            return map_array(folder, f"{name}")

        ids = json.loads((folder / "ids.json").read_text())
        profiles = cls(
            ids,
            {f: read(f"vectors_{f}") for f in FIELDS},
            read("text_keys"),
            {c: read(c) for c in ("country", "kind", "ecosystems", "stages", "activity")},
            RowSets.load(folder, "keywords"),
            json.loads((folder / "keywords.json").read_text()),
            RowSets.load(folder, "targets"),
            RowSets.load(folder, "languages"),
        )
        for name in SEARCHED:
            if ApproximateIndex.exists(folder, name):
                profiles.ann[name] = ApproximateIndex.load(folder, name, profiles._base[name])
            elif Prefilter.exists(folder, name):
                profiles.prefilters[name] = Prefilter.load(folder, name, profiles._base[name])
        return profiles

    def build_indexes(self, min_rows: int) -> None:
        """An approximate index per searched field when there are ``min_rows`` rows, else codes.

        Args:
            min_rows: the threshold (``MATCHER_ANN_MIN_ROWS``); 0: never (codes always).
        """
        large = min_rows > 0 and self.base_count >= min_rows
        for name in SEARCHED:
            started = time.perf_counter()
            if not large:
                self.prefilters[name] = Prefilter.build(self._base[name])
                continue
            self.ann[name] = ApproximateIndex.train(
                self._base[name], sample_from=self.present(name)
            )
            logger.info(
                "approximate index of %s (%s, %d rows) in %.1f s",
                name,
                self.ann[name].params.factory(),
                self.base_count,
                time.perf_counter() - started,
            )

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def vectors(self, field: str, rows: IntArray) -> FloatArray:
        """The ``field`` vectors of ``rows``, as an (len(rows), dimension) copy."""
        base = self._base[field]
        slots = self._slot[rows]
        patched = slots >= 0
        out: FloatArray
        if not patched.any() and (len(rows) == 0 or int(rows.max()) < self.base_count):
            # ``np.take`` gathers rows of a memory map faster than indexing does, with the
            # same values (one of the cuts of recommend-100k-compare-2026-12-05-forest.txt).
            out = np.take(base, rows, axis=0)
            return out
        out = np.zeros((len(rows), self.dimension), np.float32)
        read = ~patched & (rows < self.base_count)  # written rows are not read twice
        out[read] = np.take(base, rows[read], axis=0)
        out[patched] = self._extra[slots[patched], FIELDS.index(field)]
        return out

    def written_scores(
        self, field: str, query: npt.NDArray[np.float32]
    ) -> tuple[IntArray, npt.NDArray[np.float32]]:
        """The rows written since the snapshot (sorted) and their ``field`` vectors · ``query``.

        One product over the overlay's vectors where they lie, not a gather of them.
        """
        rows = self.written_rows()
        used = len(self._extra_keys)
        near = self._extra[:used, FIELDS.index(field)] @ query
        return rows, near[self._slot[rows]]

    def vector(self, field: str, row: int) -> FloatArray:
        """One row's ``field`` vector."""
        out: FloatArray = self.vectors(field, np.array([row], np.int64))[0]
        return out

    def row_vectors(self, row: int) -> tuple[FloatArray, npt.NDArray[np.uint8]]:
        """One row's vectors of every field, (fields, d), and its text keys."""
        return np.stack([self.vector(f, row) for f in FIELDS]), self.keys(row)

    def all_vectors(self, field: str) -> tuple[npt.NDArray[np.float32], IntArray]:
        """The snapshot's ``field`` array (memory-mapped) and the rows overridden since.

        For whole-table passes (a search without candidates): score the array, then the
        rows in :attr:`changed_rows` from :meth:`vectors`.
        """
        return self._base[field], self.written_rows()

    def written_rows(self) -> IntArray:
        """The rows added or changed since the snapshot, sorted (kept until the next one)."""
        if self._written is None:
            self._written = np.array(sorted(set(self.changed_rows)), np.int64)
        return self._written

    def written(self, rows: IntArray) -> npt.NDArray[np.bool_]:
        """Which of ``rows`` were added or changed since the snapshot (O(len(rows)))."""
        return self._slot[rows] >= 0

    def present(self, field: str) -> IntArray:
        """The snapshot's rows that have a ``field`` vector (not all zeros), computed once."""
        got = self._present.get(field)
        if got is None:
            base = self._base[field]
            found = [
                np.flatnonzero(np.abs(np.asarray(base[s : s + 8192])).max(axis=1) > 0) + s
                for s in range(0, self.base_count, 8192)
            ]
            got = self._present[field] = (
                np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)
            )
        return got

    def keys(self, row: int) -> npt.NDArray[np.uint8]:
        """The text keys of one row, (fields, 16)."""
        slot = int(self._slot[row])
        if slot >= 0:
            return self._extra_keys[slot]
        return np.asarray(self._base_keys[row])

    def keyword_codes(self, keywords: Iterable[str]) -> npt.NDArray[np.int32]:
        """Codes of known keywords (lower case); unknown ones are left out."""
        codes = {self._keyword_code.get(k.lower(), -1) for k in keywords} - {-1}
        return np.array(sorted(codes), np.int32)

    # -- writing (this process's overlay) --------------------------------------------------

    def add_rows(self, ids: Sequence[str]) -> IntArray:
        """Append rows for new organisations (alive, empty until :meth:`set_rows`)."""
        start = len(self.ids)
        count = len(ids)
        self.ids.extend(ids)
        for offset, org_id in enumerate(ids):
            self.index[org_id] = start + offset
        grow = {"country": -1, "kind": 0, "ecosystems": 0, "stages": 0, "activity": 0.0}
        for name, fill in grow.items():
            column = getattr(self, name)
            setattr(self, name, np.concatenate([column, np.full(count, fill, column.dtype)]))
        self.alive = np.concatenate([self.alive, np.ones(count, np.bool_)])
        self._slot = np.concatenate([self._slot, np.full(count, -1, np.int32)])
        return np.arange(start, start + count, dtype=np.int64)

    def set_rows(
        self,
        rows: Sequence[int],
        organisations: Sequence[Organisation],
        vectors: npt.NDArray[np.float32],
        keys: npt.NDArray[np.uint8],
    ) -> None:
        """Write new profiles and their vectors ((rows, fields, dimension)) into rows."""
        for r, org, vec, key in zip(rows, organisations, vectors, keys, strict=True):
            values = RowValues.of(org)
            self.country[r] = values.country
            self.kind[r] = values.kind
            self.ecosystems[r] = values.ecosystems
            self.stages[r] = values.stages
            codes = [
                self._keyword_code.setdefault(k, len(self._keyword_code)) for k in values.keywords
            ]
            if len(self._keyword_code) > len(self.keyword_vocab):
                self.keyword_vocab = list(self._keyword_code)
            self.keywords.set(r, codes)
            self.targets.set(r, values.targets)
            self.languages.set(r, values.languages)
            slot = int(self._slot[r])
            if slot < 0:
                slot = len(self._extra_keys)
                if slot == len(self._extra):  # grow by doubling: appends stay O(1) amortised
                    bigger = np.zeros((max(16, 2 * slot), *self._extra.shape[1:]), np.float32)
                    bigger[:slot] = self._extra
                    self._extra = bigger
                self._extra_keys.append(np.asarray(key, np.uint8))
                self._slot[r] = slot
                self._written = None
            self._extra[slot] = vec
            self._extra_keys[slot] = np.asarray(key, np.uint8)
            self.alive[r] = True
            self.changed_rows.append(int(r))

    def remove_row(self, row: int) -> None:
        """Mark a deleted organisation's row dead (never a candidate again)."""
        self.alive[row] = False
