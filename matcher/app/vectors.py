"""Organisations' vectors: the texts behind each field, their keys, encoding only what is new.

A profile has four vector fields (:data:`~matcher.ranking.profiles.FIELDS`): its text (the
mean of its projects' texts, or its profile text), its tags, what it offers and what it
seeks. Each field has a key (a digest of its texts and the model), so a field whose texts
did not change is never encoded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embeddings import EmbeddingCache, Encoder, text_key
from matcher.domain.schema import Organisation
from matcher.ranking.profiles import FIELDS
from matcher.store import Store

__all__ = ["Encoded", "Prepared", "encode", "field_key", "field_texts", "prepare_vectors"]


def field_texts(org: Organisation, projects: Sequence[str]) -> dict[str, list[str]]:
    """The texts behind each vector field: its projects' texts or its profile text."""
    profile = org.profile_text()
    return {
        "text": list(projects) if projects else ([profile] if profile else []),
        "tags": [org.tags_text()] if org.tags_text() else [],
        "offers": [org.offers] if org.offers else [],
        "seeks": [org.seeks] if org.seeks else [],
    }


@dataclass(frozen=True)
class Encoded:
    """Vectors of organisations, one (n, dimension) array per field, and their keys."""

    vectors: dict[str, npt.NDArray[np.float32]]
    keys: npt.NDArray[np.uint8]


def field_key(encoder: Encoder, texts: Sequence[str]) -> bytes:
    """The key of a field's texts: the text's own key, or a digest of the keys of several."""
    if not texts:
        return bytes(16)
    keys = [text_key(encoder.model_id, encoder.backend, t) for t in texts]
    return keys[0] if len(keys) == 1 else hashlib.sha256(b"".join(keys)).digest()[:16]


def encode(
    fields: Sequence[dict[str, list[str]]],
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    show_progress: bool = False,
) -> Encoded:
    """Encode every field of every organisation through the cache (each text once).

    A field of several texts (projects) is their mean, normalised; an absent field is 0.
    """
    distinct = list(dict.fromkeys(t for f in fields for texts in f.values() for t in texts))
    table = cache.encode(encoder, distinct, show_progress=show_progress)
    row = {t: i for i, t in enumerate(distinct)}
    n, dim = len(fields), encoder.dimension
    vectors = {name: np.zeros((n, dim), np.float32) for name in FIELDS}
    keys = np.zeros((n, len(FIELDS), 16), np.uint8)
    for i, f in enumerate(fields):
        for j, name in enumerate(FIELDS):
            texts = f[name]
            if not texts:
                continue
            v = table[[row[t] for t in texts]].mean(axis=0)
            vectors[name][i] = v / max(float(np.linalg.norm(v)), 1e-12)
            keys[i, j] = np.frombuffer(field_key(encoder, texts), np.uint8)
    return Encoded(vectors, keys)


@dataclass(frozen=True)
class Prepared:
    """Organisations with the vectors and keys of their fields, ready to write or apply."""

    organisations: Sequence[Organisation]
    vectors: npt.NDArray[np.float32]
    """(organisations, fields, dimension)."""
    keys: npt.NDArray[np.uint8]
    """(organisations, fields, 16)."""


def prepare_vectors(
    organisations: Sequence[Organisation],
    store: Store,
    encoder: Encoder,
    *,
    known: Callable[[str], tuple[np.ndarray, np.ndarray] | None] = lambda _: None,
    before_encoding: Callable[[Prepared, npt.NDArray[np.bool_]], None] | None = None,
) -> Prepared:
    """The vectors of organisations' current texts, encoding only the fields not known.

    Args:
        organisations: the profiles.
        store: for their project texts.
        encoder: the encoder (its model loads only when something must be encoded).
        known: an organisation's current (vectors, keys), when the caller has them.
        before_encoding: called before anything is encoded with the vectors so far and
            which fields will be encoded, (organisations, fields): work that needs only the
            known vectors can start beside the encoding.
    """
    projects = store.project_texts([o.id for o in organisations])
    fields = [field_texts(o, projects.get(o.id, [])) for o in organisations]
    n, dim = len(organisations), encoder.dimension
    vectors = np.zeros((n, len(FIELDS), dim), np.float32)
    keys = np.zeros((n, len(FIELDS), 16), np.uint8)
    todo: dict[int, npt.NDArray[np.bool_]] = {}
    """Organisations with a field to encode, and which of their fields are encoded."""
    for i, (org, f) in enumerate(zip(organisations, fields, strict=True)):
        wanted = np.stack([np.frombuffer(field_key(encoder, f[name]), np.uint8) for name in FIELDS])
        have = known(org.id)
        # Field by field: a new description encodes the description, not the tags again.
        new = np.ones(len(FIELDS), np.bool_) if have is None else ~(wanted == have[1]).all(axis=1)
        if have is not None:
            vectors[i, ~new], keys[i, ~new] = have[0][~new], have[1][~new]
        if new.any():
            todo[i] = new
            fields[i] = {name: f[name] if new[j] else [] for j, name in enumerate(FIELDS)}
    if todo:
        if before_encoding is not None:
            new = np.zeros((n, len(FIELDS)), np.bool_)
            new[list(todo)] = np.stack(list(todo.values()))
            before_encoding(Prepared(organisations, vectors.copy(), keys.copy()), new)
        encoded = encode([fields[i] for i in todo], encoder, EmbeddingCache(dim))
        for j, (i, new) in enumerate(todo.items()):
            fresh = np.stack([encoded.vectors[name][j] for name in FIELDS])
            vectors[i, new], keys[i, new] = fresh[new], encoded.keys[j][new]
    return Prepared(organisations, vectors, keys)
