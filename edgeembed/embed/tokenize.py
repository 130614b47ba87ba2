"""Tokenization for short-sequence inference: no tokenizer padding, counted truncation, buckets.

Many ``tokenizer.json`` files pad every text to a fixed length (all-MiniLM-L6-v2 pads to 128).
The runtime turns that off, tokenizes each text once (LRU token cache), and pads a batch only
to the smallest sequence bucket that fits it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeembed.bundle.buckets import smallest_bucket
from edgeembed.embed.cache import LRUCache, byte_budget
from edgeembed.errors import BundleError, InputError


@dataclass(frozen=True)
class TokenizedText:
    ids: tuple[int, ...]
    truncated: bool


class BucketTokenizer:
    """Wraps a Hugging Face ``tokenizers`` file for bucketed, truncating, unpadded encoding."""

    def __init__(
        self,
        tokenizer_file: str | Path,
        max_seq_length: int,
        seq_buckets: Sequence[int],
        cache_size: int = 4096,
    ) -> None:
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as error:  # tokenizers raises a bare Exception on bad JSON
            raise BundleError(f"{tokenizer_file}: not a valid tokenizers file ({error}).") from None
        self.max_seq_length = int(max_seq_length)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_seq_length)
        self.seq_buckets = tuple(sorted(int(b) for b in seq_buckets))
        if not self.seq_buckets or self.seq_buckets[-1] < self.max_seq_length:
            raise BundleError(
                f"largest sequence bucket {self.seq_buckets[-1:]} is below max_seq_length {self.max_seq_length}"
            )
        self.pad_id = _pad_id(Path(tokenizer_file))
        # bounded in bytes too: ids of at most max_seq_length tokens, keys of ordinary length
        self.cache = LRUCache(cache_size, byte_budget(cache_size, 64 + 36 * self.max_seq_length))

    def encode(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Token ids per text (cached); texts longer than ``max_seq_length`` are truncated."""
        results, missing = self.lookup(texts)
        if missing:
            self.remember(texts, results, missing, self.tokenize([texts[i] for i in missing]))
        return results  # type: ignore[return-value]

    def lookup(self, texts: Sequence[str]) -> tuple[list[TokenizedText | None], list[int]]:
        """The token cache's answer per text, and the positions it did not know."""
        results: list[TokenizedText | None] = [self.cache.get(t) for t in texts]
        return results, [i for i, r in enumerate(results) if r is None]

    def tokenize(self, texts: list[str]) -> list[TokenizedText]:
        """The Rust tokenizer on ``texts`` (no cache); lone surrogates become U+FFFD first."""
        try:
            encodings = self._encode(texts)
        except TypeError:  # lone surrogates cannot cross into Rust as UTF-8
            encodings = self._encode([replace_lone_surrogates(t) for t in texts])
        return [TokenizedText(tuple(encoding.ids), bool(encoding.overflowing)) for encoding in encodings]

    def remember(
        self, texts: Sequence[str], results: list[TokenizedText | None], missing: list[int], items: list[TokenizedText]
    ) -> None:
        """Put the tokenized ``items`` (of ``texts[missing]``) into ``results`` and the cache."""
        for index, item in zip(missing, items, strict=False):
            self.cache.put(texts[index], item)
            results[index] = item

    def _encode(self, texts: list[str]) -> list:
        """One text goes through ``encode``: ``encode_batch`` hands even one text to its thread
        pool, which is slow to wake while another thread (a server's model) is busy. Same
        encodings either way (figures: the measurement log)."""
        if len(texts) == 1:
            return [self._tokenizer.encode(texts[0])]
        return self._tokenizer.encode_batch(texts)

    def bucket_for(self, length: int) -> int:
        return smallest_bucket(self.seq_buckets, length)

    def pad(self, items: Sequence[TokenizedText], seq_length: int) -> tuple[np.ndarray, np.ndarray]:
        """``input_ids`` and ``attention_mask`` int32 arrays ``[len(items), seq_length]``."""
        ids = np.full((len(items), seq_length), self.pad_id, dtype=np.int32)
        mask = np.zeros((len(items), seq_length), dtype=np.int32)
        for row, item in enumerate(items):
            length = min(len(item.ids), seq_length)
            ids[row, :length] = item.ids[:length]
            mask[row, :length] = 1
        return ids, mask


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """Lone UTF-16 surrogates (invalid in UTF-8) become U+FFFD, as a UTF-8 decoder would do."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _pad_id(tokenizer_file: Path) -> int:
    try:
        padding = json.loads(tokenizer_file.read_text(encoding="utf-8")).get("padding") or {}
    except (OSError, ValueError):
        return 0
    pad_id = padding.get("pad_id", 0)
    return int(pad_id) if isinstance(pad_id, int) else 0


def validate_texts(sentences: object) -> tuple[list[str], bool]:
    """Return ``(texts, was_single)``; a non-string item raises ``TypeError`` naming its index."""
    if isinstance(sentences, str):
        return [sentences], True
    if isinstance(sentences, (bytes, bytearray)):
        raise TypeError("sentences must be str or a sequence of str, not bytes; decode first")
    if sentences is None:
        raise TypeError("sentences must be str or a sequence of str, not None")
    try:
        texts = list(sentences)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"sentences must be str or a sequence of str, not {type(sentences).__name__}") from None
    for index, text in enumerate(texts):
        if isinstance(text, np.str_):
            texts[index] = str(text)
        elif not isinstance(text, str):
            raise TypeError(f"sentences[{index}] is {type(text).__name__}, expected str")
    return texts, False


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise InputError(f"batch_size (--batch-size) must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise InputError(f"batch_size (--batch-size) must be >= 1, got {batch_size}")
    return int(batch_size)
