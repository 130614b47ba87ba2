"""Dynamic batching: concurrent requests queue up and run through the model together.

One background task owns the queue (as in text-embeddings-inference): it takes requests until
the batch is full (texts or tokens), the oldest request has waited ``max_wait_s``, or no other
request is on its way (then waiting could only add latency). The model runs in one worker
thread, so the event loop keeps accepting requests meanwhile. A request bigger than a batch is
split into model-sized batches; its rows come back whole, in its own order.

Fairness: the text that waits fewest texts behind it goes first: requests are served by the
number of their texts still waiting (shortest remaining first, then oldest), so a one-text
query rides in the next batch even beside requests of thousands of texts, and a big request,
once started, finishes before a newer one of its size. Admission counts only the texts that would
run before a request: a small one is admitted while big ones fill the queue, and when the queue
then holds more than ``max_queue`` texts the largest, newest requests that have not started are
refused (503) to make room. A request that has waited ``max_queue_wait_s`` without reaching the
model is refused too, so nobody starves in silence; every refusal says when to retry. A client
that leaves stops its request before the next batch forms, started or not.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeembed.errors import EdgeEmbedError


class QueueFullError(EdgeEmbedError):
    """The queue has no room for this request (or it waited too long); the client should retry later."""


class ShuttingDownError(EdgeEmbedError):
    """The server is stopping and takes no new work."""


class AbandonedError(EdgeEmbedError):
    """The request's client went away before the model reached it; it was dropped uncomputed."""


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
    texts: list[Any]  # what the model runs: one item per text (the server queues prepared texts)
    tokens: int
    future: asyncio.Future
    gone: Callable[[], bool]
    enqueued: float = field(default_factory=time.monotonic)
    taken: int = 0  # texts handed to the model so far, in order
    parts: list[np.ndarray] = field(default_factory=list)  # their rows, batch by batch

    @property
    def waiting(self) -> int:
        return len(self.texts) - self.taken

    @property
    def tokens_per_text(self) -> float:
        return self.tokens / len(self.texts) if self.texts else 0.0


@dataclass(frozen=True)
class _Slice:
    """``count`` texts of ``job`` from ``start``: its share of one batch."""

    job: _Job
    start: int
    count: int


async def _settle() -> None:
    """Two event-loop turns: the I/O the loop has read by now is handled (a client's end of stream
    marks its request gone) before the next batch forms. One turn is not enough: a task resumed
    by ``sleep(0)`` runs before the I/O callbacks of that same turn."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _service_order(job: _Job) -> tuple[int, float]:
    return job.waiting, job.enqueued


class DynamicBatcher:
    """Queues ``submit`` calls and runs them in batches through ``run(items) -> [n, dim]``, one
    item per text (whatever the caller queues: the server queues texts it has tokenized)."""

    def __init__(
        self,
        run: Callable[[list[Any]], np.ndarray],
        *,
        max_batch: int,
        max_batch_tokens: int,
        max_wait_s: float,
        max_queue: int,
        max_queue_wait_s: float = 10.0,
        on_batch: Callable[[BatchStats], None] = lambda stats: None,
    ) -> None:
        self._run = run
        self.max_batch, self.max_batch_tokens = max_batch, max_batch_tokens
        self.max_wait_s, self.max_queue, self.max_queue_wait_s = max_wait_s, max_queue, max_queue_wait_s
        self._on_batch = on_batch
        self._jobs: list[_Job] = []  # in service order: fewest texts first, then oldest
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

    async def submit(
        self,
        texts: list[Any],
        tokens: int,
        arrival: Arrival | None = None,
        gone: Callable[[], bool] = lambda: False,
    ) -> np.ndarray:
        """The rows for ``texts`` (``[len(texts), dim]``, one item per text), computed in some batch.

        ``gone()`` says the client has left: checked when the request queues and again just
        before each batch forms, so its texts never reach the model (:class:`AbandonedError`).
        """
        if self._closing:
            raise ShuttingDownError("the server is shutting down")
        if gone():
            raise AbandonedError("the client left before the request queued")
        ahead = sum(job.waiting for job in self._jobs if job.waiting <= len(texts))
        if ahead and ahead + len(texts) > self.max_queue:
            raise QueueFullError(
                f"the queue is full ({self._queued_texts} texts waiting, {ahead} of them before this request; "
                f"limit {self.max_queue})"
            )
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve_forever())
        job = _Job(texts, tokens, asyncio.get_running_loop().create_future(), gone)
        bisect.insort(self._jobs, job, key=_service_order)
        self._queued_texts += len(texts)
        self._shed_largest()
        if arrival is not None:
            arrival.done()
        self._wake.set()
        return await job.future

    async def run_exclusive(self, function: Callable[[], object]) -> object:
        """Run ``function`` in the model's thread, never beside a batch (warm-up uses this)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    def stop_accepting(self) -> None:
        """Refuse new requests (ShuttingDownError); queued ones are still answered."""
        self._closing = True
        self._wake.set()

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

    async def _collect(self) -> list[_Slice]:
        """Wait (bounded by the oldest request's deadline) until the batch should close; then take
        its texts off the queue (a big request's first ones, leaving the rest queued)."""
        while True:
            await _settle()
            self._drop_abandoned()
            if not self._jobs:
                return []
            plan, full = self._plan()
            remaining = min(job.enqueued for job in self._jobs) + self.max_wait_s - time.monotonic()
            if full or self._arriving == 0 or self._closing or remaining <= 0:
                break
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)
        batch = []
        for job, count in plan:
            batch.append(_Slice(job, job.taken, count))
            job.taken += count
            self._queued_texts -= count
        self._jobs = sorted((job for job in self._jobs if job.waiting), key=_service_order)
        return batch

    def _plan(self) -> tuple[list[tuple[_Job, int]], bool]:
        """``(job, texts)`` for the next batch in service order (at least one text), and whether the
        batch is full; a job bigger than the room left gives what fits."""
        plan: list[tuple[_Job, int]] = []
        texts, tokens = 0, 0.0
        for job in self._jobs:
            count = min(job.waiting, self.max_batch - texts)
            if job.tokens_per_text:
                count = min(count, int((self.max_batch_tokens - tokens) // job.tokens_per_text))
            if count <= 0 and plan:
                return plan, True
            count = max(count, 1)
            plan.append((job, count))
            texts, tokens = texts + count, tokens + count * job.tokens_per_text
            if count < job.waiting:
                return plan, True
        return plan, texts >= self.max_batch or tokens >= self.max_batch_tokens

    def _shed_largest(self) -> None:
        """Beyond ``max_queue`` texts, refuse the largest (then newest) requests that have not
        started until it fits."""
        while self._queued_texts > self.max_queue and len(self._jobs) > 1:
            unstarted = [index for index, job in enumerate(self._jobs) if not job.taken]
            if not unstarted or unstarted[-1] == 0:
                return
            job = self._jobs.pop(unstarted[-1])
            self._queued_texts -= job.waiting
            if not job.future.done():
                job.future.set_exception(
                    QueueFullError(
                        f"the queue is full ({self._queued_texts} texts waiting, limit {self.max_queue}); "
                        "smaller requests went first"
                    )
                )

    def _drop_abandoned(self) -> None:
        """Requests whose client went away cost no compute; those waiting too long are refused."""
        now = time.monotonic()
        for job in self._jobs:
            if not job.future.done() and job.gone():
                job.future.set_exception(AbandonedError("the client left while the request was queued"))
            elif not job.future.done() and not job.taken and now - job.enqueued > self.max_queue_wait_s:
                job.future.set_exception(
                    QueueFullError(
                        f"the request waited {now - job.enqueued:.1f} s without reaching the model "
                        f"(limit {self.max_queue_wait_s:g} s, --max-queue-wait-ms)"
                    )
                )
        if any(job.future.done() for job in self._jobs):
            self._jobs = [job for job in self._jobs if not job.future.done()]
            self._queued_texts = sum(job.waiting for job in self._jobs)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Slice]) -> None:
        texts = [text for part in batch for text in part.job.texts[part.start : part.start + part.count]]
        started = time.perf_counter()
        try:
            vectors = await loop.run_in_executor(self._executor, self._run, texts)
        except Exception as error:  # every waiting request learns of the failure
            for part in batch:
                if not part.job.future.done():
                    part.job.future.set_exception(error)
            return
        tokens = round(sum(part.count * part.job.tokens_per_text for part in batch))
        self._on_batch(BatchStats(len(texts), tokens, time.perf_counter() - started))
        offset = 0
        for part in batch:
            job = part.job
            if not job.future.done():
                job.parts.append(vectors[offset : offset + part.count])
                if part.start + part.count == len(job.texts):  # its last texts: the rows are whole
                    job.future.set_result(job.parts[0] if len(job.parts) == 1 else np.concatenate(job.parts))
            offset += part.count
