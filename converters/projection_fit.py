"""``convert --pca-dim N``: a PCA fitted on the converted model's own calibration vectors.

The fit runs through the device runtime (the converted bundle in the work directory), so the
projection sees the vectors it will see on the device. The report then measures the projected
outputs against the full-width FP32 model: how well pairwise similarities survive on held-out
texts and, with ``--eval``, STS at that width.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import PROJECTION_NAME, Bundle, Manifest
from edgeembed.embed.embedder import Embedder
from edgeembed.errors import ConversionError


def fit_pca(vectors: np.ndarray, dim: int) -> tuple[np.ndarray, float]:
    """``[D + 1, dim]`` float32 (components as columns, bias row last) and the variance share kept.

    Signs are fixed (each component's largest loading positive), so refits of the same data
    give the same matrix.
    """
    data = np.asarray(vectors, dtype=np.float64)
    mean = data.mean(axis=0)
    _, singular, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = vt[:dim].T
    largest = components[np.abs(components).argmax(axis=0), np.arange(dim)]
    components *= np.where(largest < 0, -1.0, 1.0)
    matrix = np.vstack([components, -mean @ components]).astype(np.float32)
    energy = float((singular**2).sum())
    return matrix, (float((singular[:dim] ** 2).sum() / energy) if energy else 1.0)


def check_pca_dim(dim: int | None, embedding_dim: int, texts: int) -> None:
    if dim is None:
        return
    if not 1 <= dim < embedding_dim:
        raise ConversionError(
            f"--pca-dim must be within 1..{embedding_dim - 1} (the model has {embedding_dim}), got {dim}"
        )
    if texts <= dim:
        raise ConversionError(
            f"--pca-dim {dim} needs more than {dim} calibration texts to fit, found {texts}; "
            "pass --calibration FILE with more texts (an STS CSV or one text per line)"
        )


def _embedder(workdir: Path, manifest: Manifest) -> Embedder:
    return Embedder(Bundle(workdir, manifest), device="CPU", token_cache_size=0, embedding_cache_size=0)


def add_projection(
    workdir: Path, manifest: Manifest, dim: int, calibration_texts: Sequence[str]
) -> tuple[Manifest, dict[str, Any]]:
    """Fit on the calibration texts, write ``projection.npy`` into ``workdir``; the manifest
    that uses it and the fit's facts for the report."""
    check_pca_dim(dim, manifest.embedding_dim, len(calibration_texts))
    vectors = _embedder(workdir, manifest).encode(
        list(calibration_texts), prompt="", normalize_embeddings=manifest.normalize
    )
    matrix, explained = fit_pca(vectors, dim)
    np.save(workdir / PROJECTION_NAME, matrix, allow_pickle=False)
    fit = {
        "kind": "pca",
        "dim": dim,
        "from_dim": manifest.embedding_dim,
        "fitted_on_texts": len(vectors),
        "explained_variance": round(explained, 4),
    }
    return dataclasses.replace(manifest, projection_dim=dim), fit


def projected_embeddings(workdir: Path, manifest: Manifest, texts: Sequence[str]) -> np.ndarray:
    return _embedder(workdir, manifest).encode(list(texts), prompt="", truncate_dim=manifest.output_dim)
