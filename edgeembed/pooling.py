"""Pooling and normalization in numpy; the output's rank decides what to do."""

from __future__ import annotations

import numpy as np

from edgeembed.errors import BundleError

_EPSILON = 1e-12


def pool(outputs: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    """``[batch, seq, dim]`` token embeddings -> ``[batch, dim]``; ``[batch, dim]`` passes through."""
    if outputs.ndim == 2:
        return outputs.astype(np.float32, copy=False)
    if outputs.ndim != 3:
        raise BundleError(f"model output has shape {outputs.shape}; expected [batch, seq, dim]")
    mask = attention_mask[:, : outputs.shape[1]].astype(np.float32)
    if mode == "mean":
        summed = np.einsum("bsd,bs->bd", outputs, mask, dtype=np.float32)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    if mode == "cls":
        return outputs[:, 0].astype(np.float32)
    if mode == "last":
        last = np.maximum(mask.sum(axis=1).astype(np.int64) - 1, 0)
        return outputs[np.arange(outputs.shape[0]), last].astype(np.float32)
    raise BundleError(f"unknown pooling mode {mode!r}")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows; an all-zero row stays zero instead of becoming NaN."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, _EPSILON)
