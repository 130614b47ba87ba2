"""Row chunking shared by backends: dynamic models take up to ``batch`` rows per call, static
models take exactly their batch (the last chunk padded with zero rows, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np


def row_chunks(rows: int, batch: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges of at most ``batch`` rows."""
    for start in range(0, rows, batch):
        yield start, min(start + batch, rows)


def pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    padded = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    padded[: array.shape[0]] = array
    return padded


def run_in_chunks(
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
    batch: int,
    static_batch: bool,
    call: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Apply ``call`` to row chunks and stack the float32 results in input order."""
    outputs = []
    for start, stop in row_chunks(input_ids.shape[0], batch):
        ids, mask = input_ids[start:stop], attention_mask[start:stop]
        if static_batch and stop - start < batch:
            ids, mask = pad_rows(ids, batch), pad_rows(mask, batch)
        outputs.append(np.asarray(call(ids, mask), dtype=np.float32)[: stop - start])
    return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
