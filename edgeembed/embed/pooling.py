"""Pooling and normalization in numpy: one table of modes, for padded batches and packed rows.

A padded batch (``[batch, seq, dim]`` with an attention mask) pools with :func:`pool`; packed rows
(several texts per row, :mod:`edgeembed.embed.packing`) pool each text from its own tokens with
:func:`pool_packed`, and one text alone at the start of a row with :func:`mean_of_single_text`.
Either way a vector depends only on its own text's tokens.
"""

from __future__ import annotations

import numpy as np

from edgeembed.embed.packing import Invoke, PackedRows
from edgeembed.errors import BundleError

_EPSILON = 1e-12
POOLING_MODES = ("mean", "cls", "last", "max", "mean_sqrt_len", "weightedmean")


def check_mode(mode: str) -> str:
    if mode not in POOLING_MODES:
        raise BundleError(f"unknown pooling mode {mode!r}")
    return mode


def pool(outputs: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    """``[batch, seq, dim]`` token embeddings -> ``[batch, dim]``; ``[batch, dim]`` passes through.

    Modes as sentence-transformers' Pooling: mean, cls, last (lasttoken), max,
    mean_sqrt_len (sum / sqrt(tokens)), weightedmean (token k of a text weighs k + 1).
    A text with no tokens pools to zeros.
    """
    if outputs.ndim == 2:
        return outputs.astype(np.float32, copy=False)
    if outputs.ndim != 3:
        raise BundleError(f"model output has shape {outputs.shape}; expected [batch, seq, dim]")
    if mode == "cls":
        return outputs[:, 0].astype(np.float32)
    mask = attention_mask[:, : outputs.shape[1]].astype(np.float32)
    counts = mask.sum(axis=1, keepdims=True)
    if mode in ("mean", "mean_sqrt_len"):
        summed = np.einsum("bsd,bs->bd", outputs, mask, dtype=np.float32)
        return summed / (np.maximum(counts, 1.0) if mode == "mean" else np.sqrt(np.maximum(counts, 1e-9)))
    if mode == "weightedmean":
        weights = mask * np.arange(1, mask.shape[1] + 1, dtype=np.float32)
        summed = np.einsum("bsd,bs->bd", outputs, weights, dtype=np.float32)
        return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    if mode == "max":
        masked = np.where(mask[..., None] > 0, outputs, -np.inf).max(axis=1).astype(np.float32)
        masked[counts[:, 0] == 0] = 0.0
        return masked
    if mode == "last":
        last = np.maximum(counts[:, 0].astype(np.int64) - 1, 0)
        return outputs[np.arange(outputs.shape[0]), last].astype(np.float32)
    raise BundleError(f"unknown pooling mode {mode!r}")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows; an all-zero row stays zero instead of becoming NaN."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, _EPSILON)


def pool_packed(outputs: np.ndarray, packed: PackedRows, invoke: Invoke, mode: str) -> tuple[np.ndarray, np.ndarray]:
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
    check_mode(mode)
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


def mean_of_single_text(outputs: np.ndarray, length: int) -> np.ndarray:
    """``[1, dim]``: :func:`pool_packed`'s mean for one text at the start of a one-row call
    (the same ``reduceat`` sums and division, so the vector is bit-identical)."""
    flat = outputs.reshape(-1, outputs.shape[-1])
    bounds = np.array([0] if length == len(flat) else [0, length], dtype=np.int64)
    summed = np.add.reduceat(flat, bounds, axis=0, dtype=np.float32)[0:1]
    return summed / np.array([[length]], dtype=np.float32)
