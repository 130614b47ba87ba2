"""How tokenized texts become model calls, and the calls' outputs one vector per text.

Packed bundles put several texts in each row (``edgeembed.embed.packing``): rows are grouped
by length into the backend's batched signatures. Other bundles sort texts by length and pad each
batch only to its own bucket (or, on a backend with ``exact_lengths``, to its longest text).
Either way a text's vector does not depend on what else is in the call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from edgeembed.embed.packing import (
    invoke_inputs,
    mean_of_single_text,
    pack_rows,
    plan_invokes,
    pool_invoke,
    row_groups,
    single_text_inputs,
)
from edgeembed.embed.pooling import pool
from edgeembed.embed.tokenize import BucketTokenizer, TokenizedText

if TYPE_CHECKING:
    from edgeembed.runtimes import Backend


class ModelCalls:
    """Runs tokenized texts through one backend: ``vectors(tokenized, batch_size)`` yields
    ``(text indices, pooled vectors)`` per call, in whatever order the calls run."""

    def __init__(self, backend: Backend, tokenizer: BucketTokenizer, pooling: str) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.pooling = pooling

    def vectors(self, tokenized: list[TokenizedText], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._packed(tokenized) if self.backend.packed else self._bucketed(tokenized, batch_size)

    def _packed(self, tokenized: list[TokenizedText]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Texts packed into rows (several per row), rows grouped into the model's calls."""
        if len(tokenized) == 1 and tokenized[0].ids and self.pooling == "mean":
            ids = tokenized[0].ids  # one text: the same call and sums, without the bookkeeping
            outputs = self.backend.run_packed(
                single_text_inputs(ids, self.tokenizer.bucket_for(len(ids)), self.tokenizer.pad_id)
            )
            yield np.zeros(1, dtype=np.int64), mean_of_single_text(outputs, len(ids))
            return
        batched = self.backend.batched_rows
        buckets = self.tokenizer.seq_buckets
        for indices, row_length in row_groups([len(item.ids) for item in tokenized], batched, buckets):
            packed = pack_rows([tokenized[i].ids for i in indices], row_length, self.tokenizer.pad_id)
            for invoke in plan_invokes(packed, batched, buckets):
                outputs = self.backend.run_packed(invoke_inputs(packed, invoke))
                texts, vectors = pool_invoke(outputs, packed, invoke, self.pooling)
                yield indices[texts], vectors

    def _bucketed(self, tokenized: list[TokenizedText], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Texts sorted by length, each group padded only to its own smallest bucket."""
        for indices, bucket in self._batches(tokenized, batch_size):
            yield indices, self._embed_batch([tokenized[i] for i in indices], bucket)

    def _batches(self, tokenized: list[TokenizedText], batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
        """Index groups sorted by length, each padded only to its own smallest bucket (or, on a
        backend with ``exact_lengths``, to its own longest text)."""
        exact = self.backend.exact_lengths
        lengths = np.fromiter((len(t.ids) for t in tokenized), dtype=np.int64, count=len(tokenized))
        order = np.argsort(-lengths, kind="stable")
        start = 0
        while start < len(order):
            bucket = self.tokenizer.bucket_for(int(lengths[order[start]]))
            stop = start + 1
            while (
                stop < len(order)
                and stop - start < batch_size
                and self.tokenizer.bucket_for(int(lengths[order[stop]])) == bucket
            ):
                stop += 1
            yield order[start:stop], max(int(lengths[order[start]]), 1) if exact else bucket
            start = stop

    def _embed_batch(self, items: list[TokenizedText], bucket: int) -> np.ndarray:
        input_ids, attention_mask = self.tokenizer.pad(items, bucket)
        outputs = self.backend.run(input_ids, attention_mask)
        return pool(outputs, attention_mask, self.pooling)
