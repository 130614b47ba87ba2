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

from edgeembed.bundle.buckets import smallest_bucket
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
        groups.append((rest, smallest_bucket(sorted(buckets), longest)))
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
        invokes.append(Invoke(np.array([row]), min(smallest_bucket(ordered, needed), row_length), 1))
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
