"""Representative data: calibration inputs built exactly as the device will feed the model.

Each text is tokenized by the runtime's ``BucketTokenizer`` and padded to its own bucket, so
activation ranges are measured on the shapes and padding that run later. Buckets that short
texts never reach get joined texts cut to lengths inside the bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from edgeembed.embed.tokenize import BucketTokenizer, TokenizedText


def builtin_calibration_texts() -> list[str]:
    """The calibration set ``convert`` uses without ``--calibration`` (disjoint from the held-out texts)."""
    resource = resources.files("edgeembed.converters") / "data" / "calibration.txt"
    return [line for line in resource.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class CalibrationSet:
    """Per bucket: a list of ``(input_ids, attention_mask)`` int32 arrays of shape [1, bucket]."""

    samples: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    natural_texts: int
    synthesized: int

    def counts(self) -> dict[str, int]:
        return {str(bucket): len(items) for bucket, items in sorted(self.samples.items())}


def build_calibration_set(
    tokenizer: BucketTokenizer,
    texts: Sequence[str],
    min_per_bucket: int = 16,
    max_per_bucket: int = 160,
    seed: int = 0,
) -> CalibrationSet:
    rng = np.random.default_rng(seed)
    buckets = tokenizer.seq_buckets
    grouped: dict[int, list[TokenizedText]] = {bucket: [] for bucket in buckets}
    for item in tokenizer.encode(list(texts)):
        grouped[tokenizer.bucket_for(len(item.ids))].append(item)
    synthesized = 0
    for lower, bucket in zip((0, *buckets[:-1]), buckets, strict=False):
        attempts = 0
        while len(grouped[bucket]) < min_per_bucket and attempts < 20 * min_per_bucket:
            attempts += 1
            joined = _joined_sample(tokenizer, texts, rng, lower, bucket)
            if joined is not None:
                grouped[bucket].append(joined)
                synthesized += 1
    samples: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for bucket, items in grouped.items():
        if len(items) > max_per_bucket:
            chosen = rng.choice(len(items), max_per_bucket, replace=False)
            items = [items[i] for i in sorted(chosen)]
        samples[bucket] = [tokenizer.pad([item], bucket) for item in items]
    natural = sum(len(v) for v in grouped.values()) - synthesized
    return CalibrationSet(samples, natural, synthesized)


def _joined_sample(
    tokenizer: BucketTokenizer, texts: Sequence[str], rng: np.random.Generator, lower: int, upper: int
) -> TokenizedText | None:
    """Join random texts until the token count passes ``lower``; cut to a length in the bucket."""
    parts: list[str] = []
    ids: tuple[int, ...] = ()
    while len(ids) <= lower and len(parts) < 64:
        parts.append(texts[int(rng.integers(len(texts)))])
        ids = tokenizer.encode([" ".join(parts)])[0].ids
    if len(ids) <= lower:
        return None
    length = int(rng.integers(lower + 1, min(upper, len(ids)) + 1))
    if length < len(ids):
        ids = (*ids[: length - 1], ids[-1])  # keep the closing special token
    return TokenizedText(ids, truncated=False)
