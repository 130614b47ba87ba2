"""``encode(..., workers=N)``: one process per worker, each with its own runtime, for boards
with several cores (a Pi 5 has four). Chunks go out in order and come back in order; a text's
vector is the same whichever process embeds it (bundles embed each text independently)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from edgeembed.errors import InputError

CHUNK = 256  # texts per task: small enough to balance, large enough to batch well
_worker_embedder: Any = None  # this worker process's Embedder, made by _start_worker


def _start_worker(load: Callable[..., Any], bundle_path: str, load_options: dict[str, Any]) -> None:
    global _worker_embedder
    _worker_embedder = load(bundle_path, **load_options)


def _encode_chunk(texts: list[str], options: dict[str, Any]) -> np.ndarray:
    return _worker_embedder.encode(texts, **options)


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers (--workers) must be a positive integer, got {workers!r}")
    return workers


class WorkerPool:
    """Processes that each load the bundle once and embed chunks in order; reused across calls
    (spawning and loading a runtime costs about a second) and shut down with their Embedder.
    ``load(bundle_path, **options)`` (``Embedder.load``, a picklable reference) makes each worker's embedder."""

    def __init__(
        self,
        load: Callable[..., Any],
        bundle_path: str | os.PathLike[str],
        workers: int,
        threads: int,
        load_options: dict[str, Any],
    ) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")  # runtimes hold threads: never fork them
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(load, str(bundle_path), {**load_options, "threads": threads}),
        )

    def encode(self, texts: Sequence[str], options: dict[str, Any]) -> np.ndarray:
        """``encode(texts, **options)`` split into chunks over the processes, in input order."""
        chunks = [list(texts[start : start + CHUNK]) for start in range(0, len(texts), CHUNK)]
        return np.concatenate(list(self._pool.map(_encode_chunk, chunks, [options] * len(chunks))))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
