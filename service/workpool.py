"""A bounded pool for CPU-heavy calls (consortium completion), each under a deadline.

Calls run on the pool's own threads, never on the request thread pool or the event
loop: the request only awaits the result, up to ``time_limit`` seconds (waiting in line
included). Past the deadline the request is answered 503 ``time_limit`` and lets go; a
call still waiting in line is cancelled, a running one finishes in its pool thread and
keeps its place meanwhile. When ``workers`` calls run and ``waiting`` more wait, a new
one is refused at once with 503 ``busy``, so slow calls can hold at most the pool, never
the threads that answer other requests.

Threads, not processes: a completion reads the loaded profile table, graph, ranker and
encoder, which live in this process's memory and change with every write; a process
would need its own copy of all of it (hundreds of MB at 100k organisations, reloaded
after each write). Python cannot stop a running thread, so the time limit bounds the
request, not the computation; the input bounds (seed ≤ 50, k ≤ 100) bound the
computation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from service.errors import ApiError

__all__ = ["WorkPool"]

T = TypeVar("T")


class WorkPool:
    """At most ``workers`` calls at once, ``waiting`` more in line, each awaited ≤ the limit."""

    def __init__(
        self, workers: int, time_limit: float, *, waiting: int | None = None, name: str = "work"
    ) -> None:
        self.workers = workers
        self.waiting = 2 * workers if waiting is None else waiting
        self.time_limit = time_limit
        self.taken = 0
        """Calls submitted and not finished (read and written on the event loop only)."""
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name
        )

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the pool, its result or its exception.

        Raises:
            ApiError: 503 ``busy`` when the pool and its line are full, 503 ``time_limit``
                when the result is not there within ``time_limit`` seconds.
        """
        if self.taken >= self.workers + self.waiting:
            raise ApiError(
                503,
                "busy",
                f"{self.taken} consortium completions are running or waiting; retry shortly",
                headers={"Retry-After": "2"},
            )
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()

        def settle(future: concurrent.futures.Future[T]) -> None:  # on the event loop
            self.taken -= 1
            if waiter.done():
                return  # the request gave up (deadline or disconnect)
            if future.cancelled():
                waiter.cancel()
            elif (exc := future.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(future.result())

        def done(future: concurrent.futures.Future[T]) -> None:  # on the pool's thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: shutting down
                loop.call_soon_threadsafe(settle, future)

        future = self._executor.submit(fn, *args, **kwargs)
        self.taken += 1
        future.add_done_callback(done)
        try:
            async with asyncio.timeout(self.time_limit):
                return await waiter
        except TimeoutError:
            raise ApiError(
                503,
                "time_limit",
                f"the computation did not finish within {self.time_limit:g} s",
            ) from None
        finally:
            future.cancel()  # frees a place in line; a running call cannot be stopped

    def shutdown(self) -> None:
        """Cancel what waits; let running calls end on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
