"""Accuracy measures in numpy: cosine agreement and STS Spearman."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeembed.embed.pooling import l2_normalize


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(l2_normalize(a) * l2_normalize(b), axis=1)


def cosine_summary(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    cosines = rowwise_cosine(reference, candidate)
    return {
        "sentences": len(cosines),
        "mean_cosine": round(float(cosines.mean()), 5),
        "min_cosine": round(float(cosines.min()), 5),
        "p5_cosine": round(float(np.percentile(cosines, 5)), 5),
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as scipy.stats.rankdata."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(values)]))
    for start, end in zip(starts, ends, strict=False):
        ranks[order[start:end]] = (start + end - 1) / 2.0 + 1.0
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx -= rx.mean()
    ry -= ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denominator) if denominator else 0.0


def sts_spearman(first: np.ndarray, second: np.ndarray, gold: np.ndarray) -> float:
    """Spearman x100 between pair cosines and gold scores."""
    return round(100.0 * spearman(rowwise_cosine(first, second), np.asarray(gold)), 2)


def similarity_agreement(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """How pairwise cosines among the same texts agree: Spearman and mean absolute error. The
    measure for vectors in another space (a PCA, a distilled static table)."""
    upper = np.triu_indices(len(reference), k=1)
    expected = (l2_normalize(reference) @ l2_normalize(reference).T)[upper]
    found = (l2_normalize(candidate) @ l2_normalize(candidate).T)[upper]
    return {
        "pairs": len(expected),
        "spearman_vs_fp32": round(spearman(expected, found), 4),
        "mean_abs_cosine_error": round(float(np.abs(expected - found).mean()), 4),
    }


def agreement_to_fp32(reference: np.ndarray, candidate: np.ndarray, same_space: bool) -> dict[str, float]:
    """Cosine per text when the vectors share the source model's space, else pairwise agreement."""
    if same_space:
        return cosine_summary(reference, candidate)
    agreement: dict[str, Any] = {"sentences": len(candidate), "vector_space": "distilled"}
    return {**agreement, **similarity_agreement(reference, candidate)}
