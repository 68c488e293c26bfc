"""Encoding on Ray: the same encoder, run by a pool of actors over Ray Data batches.

:class:`RayEncoder` is an :class:`~embeddings.encoder.Encoder`: it names the same model,
revision, backend and dimension as the encoder it wraps, so cache keys and snapshots are
the same, and its vectors are the wrapped encoder's, bit for bit (each text's vector
does not depend on the batch it was encoded in). ``encode`` turns the texts into a Ray
Dataset and runs ``map_batches`` over a pool of actors, each of which loads the model
once. Ray is an optional dependency (the ``ray`` extra); it is imported only here.

:func:`ray_runtime` joins a Ray cluster at an address, or starts a local one in this
process (the embedded default), and shuts down only what it started.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embeddings.encoder import Encoder, make_encoder

__all__ = ["EncoderSpec", "RayEncoder", "cluster_cpus", "ray_runtime"]

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncoderSpec:
    """What an actor needs to make the encoder: the arguments of :func:`make_encoder`."""

    model: str
    backend: str
    batch_size: int = 32
    threads: int = 1
    cache_dir: str | None = None

    def make(self) -> Encoder:
        """The encoder this spec names (the model loads on first use)."""
        return make_encoder(
            self.model,
            backend=self.backend,
            batch_size=self.batch_size,
            threads=self.threads,
            cache_dir=Path(self.cache_dir) if self.cache_dir else None,
        )


class _EncodeBatch:
    """A Ray Data actor: loads the encoder once, encodes the batches it is given."""

    def __init__(self, spec: EncoderSpec) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.encoder = spec.make()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def cluster_cpus() -> int:
    """The CPUs of the Ray cluster this process is connected to."""
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))


@contextmanager
def ray_runtime(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the duration of a block: joined at ``address``, or started locally.

    Args:
        address: a Ray cluster's address (``host:port``, ``ray://host:10001`` or ``auto``);
            ``None`` or ``"local"`` starts a Ray in this process.
        num_cpus: CPUs of a local Ray (default: all cores); ignored when joining.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    local = address in (None, "", "local")
    ray.init(
        address=None if local else address,
        num_cpus=num_cpus if local else None,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}},
    )
    logger.info("Ray %s: %d CPUs", "started locally" if local else "joined", cluster_cpus())
    try:
        yield
    finally:
        ray.shutdown()


class RayEncoder:
    """An encoder whose ``encode`` runs on a pool of Ray actors.

    Args:
        spec: the encoder each actor makes.
        actors: actors in the pool (default: the cluster's CPUs divided by ``cpus_per_actor``).
        cpus_per_actor: CPUs each actor reserves (and intra-op threads of its runtime).
        texts_per_batch: texts per Ray Data batch.
        address: the cluster to join; ``None`` or ``"local"``: a local Ray. Ray is started
            on the first ``encode`` unless it is already running (see :func:`ray_runtime`).
    """

    def __init__(
        self,
        spec: EncoderSpec,
        *,
        actors: int | None = None,
        cpus_per_actor: int = 1,
        texts_per_batch: int = 256,
        address: str | None = None,
    ) -> None:
        self.spec = EncoderSpec(
            spec.model, spec.backend, spec.batch_size, cpus_per_actor, spec.cache_dir
        )
        self.local = spec.make()
        self.actors = actors
        self.cpus_per_actor = cpus_per_actor
        self.texts_per_batch = texts_per_batch
        self.address = address

    @property
    def model_id(self) -> str:
        """The wrapped encoder's model name."""
        return self.local.model_id

    @property
    def revision(self) -> str:
        """The wrapped encoder's revision."""
        return self.local.revision

    @property
    def backend(self) -> str:
        """The wrapped encoder's backend."""
        return self.local.backend

    @property
    def dimension(self) -> int:
        """The wrapped encoder's dimension."""
        return self.local.dimension

    def _pool_size(self) -> int:
        if self.actors:
            return self.actors
        return max(1, cluster_cpus() // self.cpus_per_actor)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Float32Array:
        """Encode texts on the actor pool, in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        with ray_runtime(self.address):
            return self._encode(texts, show_progress=show_progress)

    def _encode(self, texts: Sequence[str], *, show_progress: bool) -> Float32Array:
        import ray.data

        self._prepare()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = show_progress
        items: list[dict[str, Any]] = [{"row": i, "text": t} for i, t in enumerate(texts)]
        pool = self._pool_size()
        per_batch = max(1, min(self.texts_per_batch, -(-len(texts) // pool)))  # every actor busy
        blocks = -(-len(texts) // per_batch)  # one block per batch
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _EncodeBatch,
            fn_constructor_args=(self.spec,),
            batch_size=per_batch,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_cpus=self.cpus_per_actor,
        )
        out = np.zeros((len(texts), self.dimension), np.float32)
        seen = np.zeros(len(texts), np.bool_)
        for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
            rows = np.asarray(batch["row"], np.int64)
            out[rows] = np.asarray(batch["vector"], np.float32)
            seen[rows] = True
        if not seen.all():
            raise RuntimeError(f"Ray encoding lost {int((~seen).sum())} of {len(texts)} texts")
        logger.info("encoded %d texts on %d Ray actors", len(texts), pool)
        return out

    def _prepare(self) -> None:
        """Write the backend's model export once, before actors on this host start."""
        from embeddings.backends import OnnxEncoder, export_model

        if isinstance(self.local, OnnxEncoder):
            cache = Path(self.spec.cache_dir) if self.spec.cache_dir else None
            export_model(self.spec.model, self.spec.backend, cache)
