"""A bundle's PCA projection: fitted at conversion, applied to pooled vectors on the device.

``projection.npy`` holds a ``[embedding_dim + 1, projection_dim]`` float32 matrix: the
components as columns, then one row of bias (``-mean @ components``), so projecting is one
matmul plus one add. It is read with ``allow_pickle=False``: loading never executes code.
"""

from __future__ import annotations

import numpy as np

from edgeembed.bundle import PROJECTION_NAME, Bundle
from edgeembed.embed.pooling import l2_normalize
from edgeembed.errors import BundleError


class Projection:
    """``x -> normalize?(x) @ components + bias``; normalizes first when the model normalizes,
    because the PCA was fitted on the vectors the model itself returns."""

    def __init__(self, matrix: np.ndarray, normalize_input: bool) -> None:
        self.components = np.ascontiguousarray(matrix[:-1], dtype=np.float32)
        self.bias = np.ascontiguousarray(matrix[-1], dtype=np.float32)
        self.normalize_input = normalize_input

    @property
    def dim(self) -> int:
        return self.components.shape[1]

    def __call__(self, pooled: np.ndarray) -> np.ndarray:
        source = l2_normalize(pooled) if self.normalize_input else pooled
        return source @ self.components + self.bias


def load_projection(bundle: Bundle) -> Projection | None:
    """The bundle's projection, or None when it has none; a malformed file is a BundleError."""
    manifest = bundle.manifest
    if not manifest.projection_dim:
        return None
    path = bundle.file(PROJECTION_NAME)
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path}: cannot read the PCA projection ({error}). Re-convert with --pca-dim.") from None
    expected = (manifest.embedding_dim + 1, manifest.projection_dim)
    if matrix.dtype != np.float32 or matrix.shape != expected or not np.isfinite(matrix).all():
        raise BundleError(
            f"{path}: expected finite float32 of shape {expected}, found {matrix.dtype} {matrix.shape}. "
            "Re-convert with --pca-dim."
        )
    return Projection(matrix, manifest.normalize)
