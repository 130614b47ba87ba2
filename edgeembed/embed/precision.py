"""Compact outputs with the meaning of sentence-transformers' ``quantize_embeddings``.

``int8`` / ``uint8`` map each dimension's calibrated range (stored in the bundle at conversion,
never taken from the batch at hand, so a text always gets the same code) onto 256 steps;
``binary`` / ``ubinary`` keep the sign bit, eight dimensions per byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from edgeembed.errors import InputError

if TYPE_CHECKING:
    import numpy as np

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def embedding_ranges(vectors: np.ndarray) -> dict[str, list[float]]:
    """Per-dimension min and max of calibration embeddings, for the manifest."""
    return {"min": vectors.min(axis=0).astype(float).tolist(), "max": vectors.max(axis=0).astype(float).tolist()}


def quantize(vectors: np.ndarray, precision: str, ranges: Mapping[str, list[float]] | None) -> np.ndarray:
    """``vectors`` ``[n, d]`` (or ``[d]``) in ``precision``; d may be a truncation of the ranges."""
    import numpy as np  # here, not at the top: the CLI reads PRECISIONS without loading numpy

    if precision not in PRECISIONS:
        raise InputError(f"precision (--precision) must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return vectors
    if precision in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1)
        return (packed.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else packed
    if not ranges:
        raise InputError(
            f"precision {precision!r} needs the calibration ranges a bundle stores at conversion; "
            "this bundle has none: convert it again with this edgeembed"
        )
    dim = vectors.shape[-1]
    starts = np.asarray(ranges["min"], dtype=np.float32)[:dim]
    steps = np.maximum((np.asarray(ranges["max"], dtype=np.float32)[:dim] - starts) / 255, np.float32(1e-12))
    codes = np.clip(np.round((vectors - starts) / steps), 0, 255)
    return (codes - 128).astype(np.int8) if precision == "int8" else codes.astype(np.uint8)
