"""Dynamic batching: concurrent requests queue up and run through the model together.

One background task owns the queue (as in text-embeddings-inference): it takes requests from
the head until the batch is full (texts or tokens), the oldest request has waited
``max_wait_s``, or no other request is on its way (then waiting could only add latency). The
model runs in one worker thread, so the event loop keeps accepting requests meanwhile. A
request is never split across batches; its rows come back in its own order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from edgeembed.errors import EdgeEmbedError


class QueueFullError(EdgeEmbedError):
    """The queue holds ``max_queue`` texts already; the client should retry later."""


class ShuttingDownError(EdgeEmbedError):
    """The server is stopping and takes no new work."""


@dataclass(frozen=True)
class BatchStats:
    texts: int
    tokens: int
    seconds: float


class Arrival:
    """A request on its way to the queue; ``done()`` once it has submitted or given up."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self._batcher: DynamicBatcher | None = batcher

    def done(self) -> None:
        if self._batcher is not None:
            self._batcher._arrived()
            self._batcher = None


@dataclass
class _Job:
    texts: list[str]
    tokens: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Queues ``submit`` calls and runs them in batches through ``run(texts) -> [n, dim]``."""

    def __init__(
        self,
        run: Callable[[list[str]], np.ndarray],
        *,
        max_batch: int,
        max_batch_tokens: int,
        max_wait_s: float,
        max_queue: int,
        on_batch: Callable[[BatchStats], None] = lambda stats: None,
    ) -> None:
        self._run = run
        self.max_batch, self.max_batch_tokens = max_batch, max_batch_tokens
        self.max_wait_s, self.max_queue = max_wait_s, max_queue
        self._on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._queued_texts = 0
        self._arriving = 0
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="edgeembed-model")
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def queued_texts(self) -> int:
        """Texts waiting for the model (not counting the batch it is running)."""
        return self._queued_texts

    @contextlib.contextmanager
    def arriving(self) -> Iterator[Arrival]:
        """Marks a request being read or tokenized (a batch may wait for it) until it submits."""
        arrival = Arrival(self)
        self._arriving += 1
        try:
            yield arrival
        finally:
            arrival.done()

    def _arrived(self) -> None:
        self._arriving -= 1
        self._wake.set()

    async def submit(self, texts: list[str], tokens: int, arrival: Arrival | None = None) -> np.ndarray:
        """The rows for ``texts`` (``[len(texts), dim]``), computed in some batch."""
        if self._closing:
            raise ShuttingDownError("the server is shutting down")
        if self._queued_texts and self._queued_texts + len(texts) > self.max_queue:
            raise QueueFullError(
                f"the queue is full ({self._queued_texts} texts waiting, limit {self.max_queue})"
            )
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve_forever())
        job = _Job(texts, tokens, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._queued_texts += len(texts)
        if arrival is not None:
            arrival.done()
        self._wake.set()
        return await job.future

    async def run_exclusive(self, function: Callable[[], object]) -> object:
        """Run ``function`` in the model's thread, never beside a batch (warm-up uses this)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def close(self) -> None:
        """Finish every queued request, then stop the worker."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def _serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            batch = await self._collect()
            if batch:
                await self._run_batch(loop, batch)

    async def _collect(self) -> list[_Job]:
        """Wait (bounded by the oldest request's deadline) until the batch should close."""
        while True:
            self._drop_abandoned()
            if not self._jobs:
                return []
            count, full = self._fitting()
            remaining = self._jobs[0].enqueued + self.max_wait_s - time.monotonic()
            if full or self._arriving == 0 or self._closing or remaining <= 0:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        batch = [self._jobs.popleft() for _ in range(count)]
        self._queued_texts -= sum(len(job.texts) for job in batch)
        return batch

    def _fitting(self) -> tuple[int, bool]:
        """How many head jobs fit one batch (at least one), and whether the batch is full."""
        texts = tokens = count = 0
        for job in self._jobs:
            if count and (
                texts + len(job.texts) > self.max_batch or tokens + job.tokens > self.max_batch_tokens
            ):
                return count, True
            texts, tokens, count = texts + len(job.texts), tokens + job.tokens, count + 1
        return count, texts >= self.max_batch or tokens >= self.max_batch_tokens

    def _drop_abandoned(self) -> None:
        """Requests whose client went away cost no compute."""
        if any(job.future.done() for job in self._jobs):
            kept = [job for job in self._jobs if not job.future.done()]
            self._queued_texts = sum(len(job.texts) for job in kept)
            self._jobs = deque(kept)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        texts = [text for job in batch for text in job.texts]
        started = time.perf_counter()
        try:
            vectors = await loop.run_in_executor(self._executor, self._run, texts)
        except Exception as error:  # every waiting request learns of the failure
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        self._on_batch(BatchStats(len(texts), sum(job.tokens for job in batch), time.perf_counter() - started))
        offset = 0
        for job in batch:
            if not job.future.done():
                job.future.set_result(vectors[offset : offset + len(job.texts)])
            offset += len(job.texts)
