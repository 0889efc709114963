"""Dynamic micro-batching: concurrent requests are gathered and run together off the event loop.

A consumer task waits for the first item, then up to ``max_wait_s`` for more (until the batch
holds ``max_size`` units), and runs ``process(items)`` in an executor thread. While a batch
runs, new items queue up and form the next batch, so batches grow with load and an idle
server adds at most ``max_wait_s`` of latency.

Example:
    >>> import asyncio
    >>> b = MicroBatcher(lambda xs: [x * 2 for x in xs], max_size=8, max_wait_s=0.01)
    >>> async def main():
    ...     out = await asyncio.gather(*(b.submit(i) for i in range(5)))
    ...     await b.close()
    ...     return out, b.batches
    >>> asyncio.run(main())
    ([0, 2, 4, 6, 8], 1)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Gather items into batches for ``process``.

    Args:
        process: ``items -> results`` (same length, same order); runs in ``executor``.
        max_size: units per batch at most (one oversized item still forms a batch alone).
        max_wait_s: how long a batch started on an idle worker waits for more items.
        max_items: items per batch at most (``1`` disables batching: one request per pass).
        size_of: the units an item counts for (e.g. its number of queries).
        workers: consumer tasks, i.e. batches that may run at the same time.
        executor: where ``process`` runs (default: a thread pool with ``workers`` threads).
    """

    def __init__(
        self,
        process: Callable[[list[T]], Sequence[R]],
        *,
        max_size: int = 64,
        max_wait_s: float = 0.002,
        max_items: int | None = None,
        size_of: Callable[[T], int] = lambda _: 1,
        workers: int = 1,
        executor: concurrent.futures.Executor | None = None,
    ):
        self.process, self.max_size, self.max_wait_s = (
            process,
            max(1, max_size),
            max(0.0, max_wait_s),
        )
        self.max_items, self.size_of, self.workers = max_items, size_of, max(1, workers)
        self._own_executor = executor is None
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(
            self.workers, thread_name_prefix="lw-batch"
        )
        self._pending: deque[tuple[T, asyncio.Future[R], int]] = deque()
        self._pending_size = 0
        self.running = 0  # items in batches now being processed
        self.batches = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._nonempty: asyncio.Event | None = None
        self._full: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def depth(self) -> int:
        """Items waiting or being processed."""
        return len(self._pending) + self.running

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._nonempty, self._full = asyncio.Event(), asyncio.Event()
        self._tasks = [self._loop.create_task(self._consume()) for _ in range(self.workers)]

    async def submit(self, item: T) -> R:
        """Queue ``item``; return its result once its batch is processed."""
        if self._closed:
            raise RuntimeError("Expects an open batcher, actual: closed")
        if self._loop is None:
            self._start()
        assert self._nonempty is not None and self._full is not None and self._loop is not None
        fut: asyncio.Future[R] = self._loop.create_future()
        size = max(1, int(self.size_of(item)))
        self._pending.append((item, fut, size))
        self._pending_size += size
        self._nonempty.set()
        if self._pending_size >= self.max_size or (
            self.max_items is not None and len(self._pending) >= self.max_items
        ):
            self._full.set()
        return await fut

    def _take(self) -> list[tuple[T, asyncio.Future[R], int]]:
        batch: list[tuple[T, asyncio.Future[R], int]] = []
        size = 0
        while self._pending:
            item, fut, n = self._pending[0]
            if fut.done():  # its client gave up (timeout): skip it
                self._pending.popleft()
                self._pending_size -= n
                continue
            if batch and (
                size + n > self.max_size
                or (self.max_items is not None and len(batch) >= self.max_items)
            ):
                break
            self._pending.popleft()
            self._pending_size -= n
            batch.append((item, fut, n))
            size += n
        return batch

    async def _consume(self) -> None:
        assert self._nonempty is not None and self._full is not None and self._loop is not None
        while not self._closed:
            if not self._pending:
                self._nonempty.clear()
                await self._nonempty.wait()
                if (
                    self.max_wait_s > 0
                    and self._pending_size < self.max_size
                    and self.max_items != 1
                ):
                    self._full.clear()
                    try:
                        await asyncio.wait_for(self._full.wait(), self.max_wait_s)
                    except TimeoutError:
                        pass
            batch = self._take()
            if not batch:
                continue
            self.running += len(batch)
            self.batches += 1
            try:
                results = await self._loop.run_in_executor(
                    self.executor, self.process, [b[0] for b in batch]
                )
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"Expects {len(batch)} results from the batch function, actual: "
                        f"{len(results)}"
                    )
            except Exception as exc:  # noqa: BLE001 - every waiter must hear about it
                for _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for (_, fut, _), r in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(r)
            finally:
                self.running -= len(batch)

    async def close(self) -> None:
        """Stop the consumers (waiting items fail) and the owned executor."""
        self._closed = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        while self._pending:
            _, fut, _ = self._pending.popleft()
            if not fut.done():
                fut.set_exception(RuntimeError("Expects a running server, actual: shutting down"))
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        return {"pending": len(self._pending), "running": self.running, "batches": self.batches}
