"""Sequence packing: several texts share one model row, so batches carry almost no padding.

A packed signature takes ``input_ids``, ``position_ids`` (each text counts from 0) and
``segment_ids`` (one number per text, 0 for padding); attention stays inside a
segment, so a text embeds as it would alone. Rows are filled as full as the texts allow
(:mod:`edgeembed.embed.row_filling`); rows are grouped into the model's batched shapes, and a
leftover row runs alone in the smallest bucket that holds it. Pooling sums each text's own
tokens (``np.add.reduceat``), so a vector never depends on the texts it shared a row with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from edgeembed.embed.row_filling import fill_rows
from edgeembed.errors import BundleError


@dataclass(frozen=True)
class PackedRows:
    """Texts laid out in rows of ``row_length`` tokens."""

    input_ids: np.ndarray  # [rows, row_length] int32
    position_ids: np.ndarray  # [rows, row_length] int32
    segment_ids: np.ndarray  # [rows, row_length] int32; 0 = padding
    row_of: np.ndarray  # [texts] the row each text sits in
    start_of: np.ndarray  # [texts] its first token's column
    length_of: np.ndarray  # [texts] its token count
    used: np.ndarray  # [rows] tokens used in each row


@dataclass(frozen=True)
class Invoke:
    """One model call: these ``batch`` rows, cut to ``seq_length`` columns."""

    rows: np.ndarray
    seq_length: int
    batch: int


def pack_rows(token_ids: Sequence[Sequence[int]], row_length: int, pad_id: int) -> PackedRows:
    """Texts laid out in rows as :func:`~edgeembed.embed.row_filling.fill_rows` assigns them."""
    count = len(token_ids)
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=count)
    if count and lengths.max() > row_length:
        raise BundleError(f"a text of {lengths.max()} tokens does not fit rows of {row_length}")
    row_of = np.zeros(count, dtype=np.int64)
    start_of = np.zeros(count, dtype=np.int64)
    assigned = fill_rows(lengths.tolist(), row_length)
    used = np.zeros(max(len(assigned), 1), dtype=np.int64)
    for row, texts in enumerate(assigned):
        sizes = lengths[texts]
        row_of[texts] = row
        start_of[texts] = np.cumsum(sizes) - sizes
        used[row] = sizes.sum()
    rows = max(len(assigned), 1)
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)  # each token's text start in `flat`
    within = np.arange(total, dtype=np.int64) - offsets
    targets = np.repeat(row_of * row_length + start_of, lengths) + within
    input_ids = np.full(rows * row_length, pad_id, dtype=np.int32)
    position_ids = np.zeros(rows * row_length, dtype=np.int32)
    segment_ids = np.zeros(rows * row_length, dtype=np.int32)
    input_ids[targets] = np.fromiter(chain.from_iterable(token_ids), dtype=np.int64, count=total)
    position_ids[targets] = within
    segment_ids[targets] = np.repeat(np.arange(1, count + 1, dtype=np.int32), lengths)  # unique per text
    shape = (rows, row_length)
    return PackedRows(
        input_ids.reshape(shape),
        position_ids.reshape(shape),
        segment_ids.reshape(shape),
        row_of,
        start_of,
        lengths,
        used[:rows],
    )


def single_text_rows(input_ids: np.ndarray, attention_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Padded rows of one text each, as a packed signature takes them."""
    positions = np.maximum(np.cumsum(attention_mask, axis=1) - 1, 0).astype(np.int32)
    return {"input_ids": input_ids, "position_ids": positions, "segment_ids": attention_mask}


def row_groups(
    lengths: Sequence[int], batched: Mapping[int, int], buckets: Sequence[int]
) -> list[tuple[np.ndarray, int]]:
    """``(text indices, row length)``: each text packs into the shortest batched row length that
    holds it; texts longer than every batched row share rows as long as their longest text's
    bucket. A text thus runs in the same signature lengths whatever else is in the call."""
    text_lengths = np.asarray(lengths, dtype=np.int64)
    groups, lower = [], -1
    for row_length in sorted(batched):
        chosen = np.flatnonzero((text_lengths > lower) & (text_lengths <= row_length))
        if len(chosen):
            groups.append((chosen, row_length))
        lower = row_length
    rest = np.flatnonzero(text_lengths > lower)
    if len(rest):
        longest = int(text_lengths[rest].max())
        groups.append((rest, next((b for b in sorted(buckets) if b >= longest), max(buckets))))
    return groups


def plan_invokes(packed: PackedRows, batched: Mapping[int, int], buckets: Sequence[int]) -> list[Invoke]:
    """Full batched calls while rows last, then the remaining rows one per call, each in the
    smallest bucket that holds it: a call costs little overhead, an empty row a whole row of
    compute, so no call is padded with empty rows."""
    row_length = packed.input_ids.shape[1]
    batch = batched.get(row_length, 1)
    rows = np.argsort(-packed.used, kind="stable")  # fullest rows into the batched calls
    invokes: list[Invoke] = []
    start = 0
    while len(rows) - start >= batch > 1:
        invokes.append(Invoke(rows[start : start + batch], row_length, batch))
        start += batch
    ordered = sorted(buckets)
    for row in rows[start:]:
        needed = max(int(packed.used[row]), 1)
        bucket = next((b for b in ordered if b >= needed), row_length)
        invokes.append(Invoke(np.array([row]), min(bucket, row_length), 1))
    return invokes


def invoke_inputs(packed: PackedRows, invoke: Invoke) -> dict[str, np.ndarray]:
    """The three input arrays of one call, ``[invoke.batch, invoke.seq_length]``."""
    arrays = {}
    for role, source in (
        ("input_ids", packed.input_ids),
        ("position_ids", packed.position_ids),
        ("segment_ids", packed.segment_ids),
    ):
        arrays[role] = np.ascontiguousarray(source[invoke.rows, : invoke.seq_length], dtype=np.int32)
    return arrays


def pool_invoke(outputs: np.ndarray, packed: PackedRows, invoke: Invoke, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``(text indices, pooled vectors)`` for the texts whose rows this call ran."""
    local = np.full(packed.input_ids.shape[0], -1, dtype=np.int64)
    local[invoke.rows] = np.arange(len(invoke.rows))
    texts = np.flatnonzero(local[packed.row_of] >= 0)
    if outputs.ndim != 3:
        raise BundleError(f"model output has shape {outputs.shape}; expected [batch, seq, dim]")
    seq, dim = outputs.shape[1], outputs.shape[2]
    flat = outputs.reshape(-1, dim)
    starts = local[packed.row_of[texts]] * seq + packed.start_of[texts]
    lengths = packed.length_of[texts]
    if mode in ("cls", "last"):
        picked = starts if mode == "cls" else starts + lengths - 1
        vectors = flat[np.clip(picked, 0, len(flat) - 1)].astype(np.float32)
        vectors[lengths == 0] = 0.0  # a text with no tokens pools to zeros
        return texts, vectors
    if mode not in ("mean", "mean_sqrt_len", "weightedmean", "max"):
        raise BundleError(f"unknown pooling mode {mode!r}")
    pooled = np.zeros((len(texts), dim), dtype=np.float32)
    present = np.flatnonzero(lengths > 0)  # a text with no tokens pools to zeros
    present = present[np.argsort(starts[present], kind="stable")]  # only the last may end the array
    if not len(present):
        return texts, pooled
    bounds = np.empty(2 * len(present), dtype=np.int64)
    bounds[0::2] = starts[present]
    bounds[1::2] = starts[present] + lengths[present]
    if bounds[-1] == len(flat):  # reduceat's last segment runs to the end anyway
        bounds = bounds[:-1]
    counts = lengths[present].astype(np.float32)[:, None]
    if mode == "max":
        pooled[present] = np.maximum.reduceat(flat, bounds, axis=0)[0::2]
    elif mode == "weightedmean":  # token k of a text weighs k + 1: its position id + 1
        positions = packed.position_ids[invoke.rows, :seq].reshape(-1).astype(np.float32) + 1.0
        weights = np.zeros(len(flat), dtype=np.float32)  # rows past the invoke's (padding) weigh 0
        weights[: len(positions)] = positions
        summed = np.add.reduceat(flat * weights[:, None], bounds, axis=0, dtype=np.float32)[0::2]
        pooled[present] = summed / (counts * (counts + 1.0) / 2.0)
    else:
        summed = np.add.reduceat(flat, bounds, axis=0, dtype=np.float32)[0::2]
        pooled[present] = summed / (counts if mode == "mean" else np.sqrt(counts))
    return texts, pooled


def single_text_inputs(ids: Sequence[int], seq_length: int, pad_id: int) -> dict[str, np.ndarray]:
    """The ``[1, seq_length]`` call :func:`plan_invokes` makes for one text packed alone."""
    length = len(ids)
    arrays = {
        "input_ids": np.full((1, seq_length), pad_id, dtype=np.int32),
        "position_ids": np.zeros((1, seq_length), dtype=np.int32),
        "segment_ids": np.zeros((1, seq_length), dtype=np.int32),
    }
    arrays["input_ids"][0, :length] = ids
    arrays["position_ids"][0, :length] = np.arange(length, dtype=np.int32)
    arrays["segment_ids"][0, :length] = 1
    return arrays


def mean_of_single_text(outputs: np.ndarray, length: int) -> np.ndarray:
    """``[1, dim]``: :func:`pool_invoke`'s mean for one text at the start of a one-row call
    (the same ``reduceat`` sums and division, so the vector is bit-identical)."""
    flat = outputs.reshape(-1, outputs.shape[-1])
    bounds = np.array([0] if length == len(flat) else [0, length], dtype=np.int64)
    summed = np.add.reduceat(flat, bounds, axis=0, dtype=np.float32)[0:1]
    return summed / np.array([[length]], dtype=np.float32)
