"""Row chunking shared by backends: dynamic models take up to ``batch`` rows per call, static
models take exactly their batch (the last chunk padded with zero rows, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import numpy as np

from edgeembed.bundle.buckets import smallest_bucket
from edgeembed.errors import BundleError

S = TypeVar("S")


def signature_for(signatures: Mapping[int, S], length: int, exact_lengths: bool) -> S:
    """The signature of a sequence length; with ``exact_lengths`` (a dynamic model run at each
    batch's longest text) any length up to the largest bucket, as the smallest bucket that holds it."""
    signature = signatures.get(length)
    if signature is None and exact_lengths and length <= max(signatures):
        signature = signatures[smallest_bucket(sorted(signatures), length)]
    if signature is None:
        raise BundleError(f"no signature for sequence length {length}; have {tuple(sorted(signatures))}")
    return signature


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


def single_text_rows(input_ids: np.ndarray, attention_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Padded rows of one text each, as a packed signature takes them."""
    positions = np.maximum(np.cumsum(attention_mask, axis=1) - 1, 0).astype(np.int32)
    return {"input_ids": input_ids, "position_ids": positions, "segment_ids": attention_mask}
