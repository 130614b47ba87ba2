"""Accuracy measures in numpy: cosine agreement and STS Spearman."""

from __future__ import annotations

import numpy as np

from edgeembed.pooling import l2_normalize


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(l2_normalize(a) * l2_normalize(b), axis=1)


def cosine_summary(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    cosines = rowwise_cosine(reference, candidate)
    return {
        "sentences": int(len(cosines)),
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
    for start, end in zip(starts, ends):
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


def evaluate_bundle(bundle_path, sts_file, model=None, threads: int | None = None) -> dict:
    """STS Spearman x100 of a bundle and, when the convert extra is installed, of its FP32 source
    with the cosine between the two. ``model`` overrides where the source is looked for."""
    import importlib.util

    from edgeembed.embedder import Embedder
    from edgeembed.texts import read_sts

    pairs = read_sts(sts_file)
    embedder = Embedder.load(bundle_path, threads=threads, embedding_cache_size=0)
    texts = list(dict.fromkeys((*pairs.first, *pairs.second)))
    row = {text: i for i, text in enumerate(texts)}
    first = [row[t] for t in pairs.first]
    second = [row[t] for t in pairs.second]
    gold = np.array(pairs.scores)
    ours = embedder.encode(texts)
    result = {
        "file": str(sts_file),
        "pairs": len(gold),
        "bundle_spearman": sts_spearman(ours[first], ours[second], gold),
        "truncated_texts": embedder.total_truncated,
    }
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        result["fp32"] = "skipped: install edgeembed[convert] to compare with the FP32 model"
        return result
    from edgeembed.converters.reference import reference_embeddings
    from edgeembed.converters.sources import source_for_bundle

    manifest = embedder.bundle.manifest
    source = source_for_bundle(manifest.source, model)
    reference = reference_embeddings(
        source.model, embedder.tokenizer, texts, manifest.pooling, manifest.normalize
    )
    result["fp32_spearman"] = sts_spearman(reference[first], reference[second], gold)
    result["cosine_to_fp32"] = cosine_summary(reference, ours)
    return result
