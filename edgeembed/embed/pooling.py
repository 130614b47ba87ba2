"""Pooling and normalization in numpy; the output's rank decides what to do."""

from __future__ import annotations

import numpy as np

from edgeembed.errors import BundleError

_EPSILON = 1e-12


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
