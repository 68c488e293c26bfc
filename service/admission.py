"""Rankings wait in line for a few slots; one that would wait too long is refused at once.

A ranking is CPU work: a worker process runs a few at a time (``slots``) and the rest
wait in line. Without a bound on that line, an offered load above what the cores can do
makes every answer late (measured at 100k profiles with 250 requests/s offered: half the
answers took more than 0.65 s, ``benchmarks/results/load-2026-12-05.txt``). Here a request
whose expected wait (the requests ahead of it times the recent time a slot is held, over
the slots) is above ``budget`` seconds gets 503 ``overloaded`` at once, and one still
waiting after twice the budget (the estimate was wrong) gets it then: the requests that
are answered are not left queueing for seconds, and the excess is refused fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.errors import SHED, ApiError

__all__ = ["RankingSlots"]

_SMOOTHING = 0.1
"""Weight of the newest hold time in the running mean."""


class RankingSlots:
    """At most ``slots`` rankings at once in this process; a bounded wait for the others.

    Args:
        slots: rankings run at once.
        budget: seconds a request may expect to wait for a slot (0: no bound).
        hold: the first guess of the seconds a ranking holds a slot.

    Used on the event loop only (no lock needed between awaits).
    """

    def __init__(self, slots: int, budget: float, hold: float = 0.01) -> None:
        self.slots = slots
        self.budget = budget
        self.hold = hold
        """Running mean of the seconds a slot is held (wall time)."""
        self.running = 0
        self.waiting = 0
        self.refused = 0
        self._free: asyncio.Semaphore | None = None

    def expected_wait(self) -> float:
        """Seconds a request arriving now would expect to wait for a slot."""
        if self.running < self.slots and not self.waiting:
            return 0.0
        return (self.waiting + 1) * self.hold / self.slots

    def _refuse(self, why: str) -> ApiError:
        self.refused += 1
        return ApiError(503, "overloaded", why, headers=SHED)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the ``async with``.

        Raises:
            ApiError: 503 ``overloaded``, at once when the expected wait is above the
                budget, or after twice the budget still waiting.
        """
        if self._free is None:
            self._free = asyncio.Semaphore(self.slots)
        wait = self.expected_wait()
        if self.budget and wait > self.budget:
            raise self._refuse(
                f"the server is busy: a ranking would wait about {wait * 1e3:.0f} ms for its "
                f"turn (more than {self.budget * 1e3:.0f}); retry shortly"
            )
        self.waiting += 1
        try:
            if self._free.locked() and self.budget:
                async with asyncio.timeout(2 * self.budget):
                    await self._free.acquire()
            else:  # a slot is free (or no bound): no timer to set up
                await self._free.acquire()
        except TimeoutError:
            raise self._refuse(
                f"the server is busy: no ranking slot within {2 * self.budget * 1e3:.0f} ms; "
                "retry shortly"
            ) from None
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()
            held = time.perf_counter() - started
            self.hold += _SMOOTHING * (held - self.hold)
