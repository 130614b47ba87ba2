"""sentence-transformers ``Dense`` modules after pooling (LaBSE, distiluse style), in numpy.

Each layer is stored as ``dense_<i>.npy``: ``[in + 1, out]`` float32, the weight transposed with
the bias as its last row (read with ``allow_pickle=False``); the manifest lists one activation
name per layer. An activation outside :data:`ACTIVATIONS` is refused at conversion.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeembed.bundle import Bundle
from edgeembed.errors import BundleError

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}
# sentence-transformers' activation_function (a class path) -> our name.
TORCH_ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": "identity",
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
}


def dense_file(index: int) -> str:
    return f"dense_{index}.npy"


class DenseStack:
    """The bundle's Dense layers in order: ``x -> activation(x @ W + b)``."""

    def __init__(self, layers: list[tuple[np.ndarray, str]]) -> None:
        self.layers = [(matrix[:-1], matrix[-1], ACTIVATIONS[name]) for matrix, name in layers]

    @property
    def dim(self) -> int:
        return self.layers[-1][0].shape[1]

    def __call__(self, pooled: np.ndarray) -> np.ndarray:
        for weight, bias, activation in self.layers:
            pooled = activation(pooled @ weight + bias).astype(np.float32, copy=False)
        return pooled


def load_dense(bundle: Bundle) -> DenseStack | None:
    """The bundle's Dense layers, or None; a malformed layer is a BundleError."""
    names = bundle.manifest.dense_activations
    if not names:
        return None
    unknown = sorted(set(names) - set(ACTIVATIONS))
    if unknown:
        raise BundleError(f"manifest: unknown Dense activations {unknown}; this edgeembed knows {sorted(ACTIVATIONS)}")
    layers: list[tuple[np.ndarray, str]] = []
    for index, name in enumerate(names):
        path = bundle.file(dense_file(index))
        try:
            matrix = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise BundleError(f"{path}: cannot read a Dense layer ({error}). Re-convert the model.") from None
        if matrix.dtype != np.float32 or matrix.ndim != 2 or not np.isfinite(matrix).all():
            raise BundleError(f"{path}: expected a finite float32 matrix, found {matrix.dtype} {matrix.shape}")
        if layers and layers[-1][0].shape[1] != matrix.shape[0] - 1:
            raise BundleError(
                f"{path}: takes {matrix.shape[0] - 1} inputs, the layer before gives {layers[-1][0].shape[1]}"
            )
        layers.append((matrix, name))
    if layers[-1][0].shape[1] != bundle.manifest.embedding_dim:
        raise BundleError(
            f"Dense layers end at width {layers[-1][0].shape[1]}, the manifest says {bundle.manifest.embedding_dim}"
        )
    return DenseStack(layers)
