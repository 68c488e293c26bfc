"""Evaluation on Ray: the batches of every method sharded over a pool of actors.

:func:`ray_runner` returns a :class:`~matcher.evaluation.harness.BatchRunner` for
:func:`~matcher.evaluation.harness.evaluate`: each actor holds the split (shipped once
through Ray's object store), makes each method's scorer the first time it is asked for
one (after ``setup`` has registered the methods that are not built in, such as the
product's), and runs :func:`~matcher.evaluation.harness.score_batch` on the batches it
is given. A batch's figures do not depend on where it runs, so the report is the one the
in-process run prints (only the timings differ). Ray is imported only here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from matcher.evaluation.harness import BatchRunner, BatchScores, Scorer, Split, score_batch
from matcher.evaluation.methods import scorers_for

__all__ = ["ray_runner"]

logger = logging.getLogger(__name__)

Setup = Callable[[Split], object]
"""Registers methods in a fresh process (e.g. the product's, for a split)."""


class _Evaluator:
    """A Ray actor: the split, the scorers it has made, and batches to score."""

    def __init__(self, split: Split, setup: Setup | None) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.split = split
        if setup is not None:
            setup(split)
        self.scorers: dict[str, Scorer] = {}

    def run(
        self, name: str, start: int, batch_size: int, k: int, seed: int
    ) -> tuple[str, BatchScores]:
        if name not in self.scorers:
            self.scorers[name] = scorers_for(self.split, [name])[name]
        return name, score_batch(
            self.split, self.scorers[name], name, start, batch_size, k=k, seed=seed
        )


def ray_runner(
    *, setup: Setup | None = None, actors: int | None = None, address: str | None = None
) -> BatchRunner:
    """A batch runner on a pool of Ray actors.

    Args:
        setup: called with the split in each actor before any scorer is made.
        actors: actors in the pool (default: the cluster's CPUs).
        address: the Ray cluster to join; ``None`` or ``"local"``: a Ray started here
            (unless one is already running).
    """

    def run(
        split: Split, names: Sequence[str], starts: Sequence[int], batch_size: int,
        *, k: int, seed: int,
    ) -> Mapping[str, list[BatchScores]]:  # fmt: skip
        import ray
        from ray.util import ActorPool

        from embeddings.distributed import cluster_cpus, ray_runtime

        with ray_runtime(address):
            size = actors or cluster_cpus()
            remote = ray.remote(num_cpus=1)(_Evaluator)
            shared = ray.put(split)
            pool = ActorPool([remote.remote(shared, setup) for _ in range(size)])
            jobs = [(name, start) for name in names for start in starts]
            out: dict[str, list[BatchScores]] = {name: [] for name in names}
            for name, batch in pool.map_unordered(
                lambda actor, job: actor.run.remote(job[0], job[1], batch_size, k, seed), jobs
            ):
                out[name].append(batch)
            logger.info("evaluated %d batches on %d Ray actors", len(jobs), size)
            return out

    return run
