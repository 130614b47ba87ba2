"""``edgeembed eval --dims ... --precision ...``: what each output width and code costs.

For every (width, precision) the bundle's vectors are scored on the STS pairs (Spearman x100 of
the pair cosines) and as a retrieval task built from the same file: each pair with gold score
>= 4 is a query (sentence1) whose answer is its sentence2 among every sentence2 of the file
(recall@1, MRR@10). Binary codes are compared as +-1 vectors (cosine = 1 - 2 x Hamming / d),
int8/uint8 codes as they are. With the FP32 source at hand, the same is measured for it, cut to
each width.
"""

from __future__ import annotations

import numpy as np

from edgeembed.converters.similarity import spearman

RELEVANT_SCORE = 4.0


def as_float(codes: np.ndarray, precision: str, width: int) -> np.ndarray:
    """Codes back to vectors cosine can compare."""
    if precision not in ("binary", "ubinary"):
        return codes.astype(np.float32)
    packed = (codes.astype(np.int16) + 128).astype(np.uint8) if precision == "binary" else codes
    return np.unpackbits(packed, axis=-1)[:, :width].astype(np.float32) * 2 - 1


def score(vectors: np.ndarray, first: list[int], second: list[int], gold: np.ndarray) -> dict[str, float]:
    """STS Spearman x100, and recall@1 / MRR@10 of finding each relevant pair's sentence2."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sts = 100.0 * spearman(np.sum(unit[first] * unit[second], axis=1), gold)
    queries = [q for q, g in zip(first, gold, strict=False) if g >= RELEVANT_SCORE]
    answers = [a for a, g in zip(second, gold, strict=False) if g >= RELEVANT_SCORE]
    corpus = sorted(set(second))
    column = {row: index for index, row in enumerate(corpus)}
    similarities = unit[queries] @ unit[corpus].T
    target = similarities[np.arange(len(queries)), [column[a] for a in answers]]
    ranks = 1 + np.sum(similarities > target[:, None], axis=1)
    return {
        "sts_spearman": round(float(sts), 2),
        "recall_at_1": round(float(np.mean(ranks == 1)), 4),
        "mrr_at_10": round(float(np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0))), 4),
        "queries": len(queries),
    }


def output_grid(embedder, texts: list[str], first, second, gold, widths, precisions, reference=None) -> list[dict]:
    """One row per (width, precision): the bundle's scores and, given ``reference`` (FP32 vectors
    of ``texts``), the FP32 model's at that width."""
    rows = []
    default_width = embedder.get_sentence_embedding_dimension()
    for width in widths:
        fp32 = None
        if reference is not None:
            fp32 = score(np.ascontiguousarray(reference[:, :width]), first, second, gold)
        for precision in precisions:
            row = {"width": width, "precision": precision, "fp32": fp32}
            if precision in ("int8", "uint8") and width != default_width:
                row["skipped"] = f"{precision} codes use the ranges of the default width {default_width}"
            elif precision in ("int8", "uint8") and not embedder.bundle.manifest.embedding_ranges:
                row["skipped"] = "this bundle has no int8 ranges (convert it again)"
            else:
                codes = embedder.encode(texts, truncate_dim=width, precision=precision)
                row.update(score(as_float(codes, precision, width), first, second, gold))
                row["bytes_per_vector"] = int(codes.shape[1] * codes.dtype.itemsize)
            rows.append(row)
    return rows
