"""Text to vectors to neighbours: encoders, the content-hash cache, the vector index, artefacts.

Knows nothing of organisations beyond ids and texts.
"""

from embeddings.artefact import Manifest, read_manifest, write_atomically
from embeddings.cache import EmbeddingCache, text_key
from embeddings.encoder import DEFAULT_MODEL, Encoder, SentenceTransformerEncoder, resolve_model
from embeddings.index import IdSubset, IndexParams, VectorIndex

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "Encoder",
    "IdSubset",
    "IndexParams",
    "Manifest",
    "SentenceTransformerEncoder",
    "VectorIndex",
    "read_manifest",
    "resolve_model",
    "text_key",
    "write_atomically",
]
