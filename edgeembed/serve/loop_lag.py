"""How long the event loop was blocked: a task that asks to wake every ``interval`` seconds and
records how late it woke. Work done on the loop (parsing, tokenizing a long request inline)
shows up here, measured by the server itself rather than by a client on a busy machine."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Gauge, Histogram


class LoopLagMonitor:
    """Feeds ``lag`` (a histogram) and ``worst`` (the largest lag so far) while running."""

    def __init__(self, lag: Histogram, worst: Gauge, interval_s: float = 0.01) -> None:
        self.lag, self.worst, self.interval_s = lag, worst, interval_s
        self.max_s = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin watching the running loop (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval_s)
            late = max(0.0, loop.time() - asked - self.interval_s)
            self.lag.observe(late)
            if late > self.max_s:
                self.max_s = late
                self.worst.set(late)
