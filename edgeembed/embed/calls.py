"""How tokenized texts become model calls: the *plan* step of :mod:`edgeembed.embed.pipeline`.

Packed bundles put several texts in each row (:mod:`edgeembed.embed.packing`): rows are grouped
by length into the backend's batched signatures. Other bundles sort texts by length and pad each
batch only to its own bucket (or, on a backend with ``exact_lengths``, to its longest text).
Either way a text's vector does not depend on what else is in the call. Each planned
:class:`ModelCall` builds its inputs, runs on the backend and pools its outputs as three
separate steps, so the pipeline can time each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeembed.embed.packing import (
    Invoke,
    PackedRows,
    invoke_inputs,
    pack_rows,
    plan_invokes,
    row_groups,
    single_text_inputs,
)
from edgeembed.embed.pooling import mean_of_single_text, pool, pool_packed
from edgeembed.embed.tokenize import BucketTokenizer, TokenizedText

if TYPE_CHECKING:
    from edgeembed.runtimes import Backend


class ModelCall:
    """One call of the model: ``inputs()`` builds its arrays, ``run(backend, inputs)`` calls the
    backend, ``pool(outputs, inputs)`` gives ``(text indices, pooled vectors)``."""

    def inputs(self) -> Any:
        raise NotImplementedError

    def run(self, backend: Backend, inputs: Any) -> np.ndarray:
        raise NotImplementedError

    def pool(self, outputs: np.ndarray, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def token_slots(inputs: Any) -> int:
    """Token slots a call's inputs hold, padding included."""
    return int((inputs["input_ids"] if isinstance(inputs, dict) else inputs[0]).size)


@dataclass
class PaddedCall(ModelCall):
    """A batch of texts padded to one length (bucketed bundles)."""

    indices: np.ndarray
    items: list[TokenizedText]
    length: int
    tokenizer: BucketTokenizer
    pooling: str

    def inputs(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tokenizer.pad(self.items, self.length)

    def run(self, backend: Backend, inputs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return backend.run(*inputs)

    def pool(self, outputs: np.ndarray, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self.indices, pool(outputs, inputs[1], self.pooling)


@dataclass
class PackedCall(ModelCall):
    """Rows of several texts each (packed bundles)."""

    indices: np.ndarray  # the texts of the whole row group, in ``packed``'s order
    packed: PackedRows
    invoke: Invoke
    pooling: str

    def inputs(self) -> dict[str, np.ndarray]:
        return invoke_inputs(self.packed, self.invoke)

    def run(self, backend: Backend, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return backend.run_packed(inputs)

    def pool(self, outputs: np.ndarray, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        texts, vectors = pool_packed(outputs, self.packed, self.invoke, self.pooling)
        return self.indices[texts], vectors


@dataclass
class SingleTextCall(ModelCall):
    """One text alone in a packed bucket, mean-pooled: the same call and sums as a one-text
    :class:`PackedCall`, without its bookkeeping (the batch-1 hot path)."""

    ids: tuple[int, ...]
    length: int
    pad_id: int

    def inputs(self) -> dict[str, np.ndarray]:
        return single_text_inputs(self.ids, self.length, self.pad_id)

    def run(self, backend: Backend, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return backend.run_packed(inputs)

    def pool(self, outputs: np.ndarray, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(1, dtype=np.int64), mean_of_single_text(outputs, len(self.ids))


def plan_calls(
    backend: Backend, tokenizer: BucketTokenizer, pooling: str, tokenized: Sequence[TokenizedText], batch_size: int
) -> list[ModelCall]:
    """The model calls that embed ``tokenized``, each text in exactly one of them."""
    if backend.packed:
        return _packed_calls(backend, tokenizer, pooling, tokenized)
    return _padded_calls(backend, tokenizer, pooling, tokenized, batch_size)


def _packed_calls(
    backend: Backend, tokenizer: BucketTokenizer, pooling: str, tokenized: Sequence[TokenizedText]
) -> list[ModelCall]:
    if len(tokenized) == 1 and tokenized[0].ids and pooling == "mean":
        ids = tokenized[0].ids
        return [SingleTextCall(ids, tokenizer.bucket_for(len(ids)), tokenizer.pad_id)]
    calls: list[ModelCall] = []
    batched = backend.batched_rows
    for indices, row_length in row_groups([len(item.ids) for item in tokenized], batched, tokenizer.seq_buckets):
        packed = pack_rows([tokenized[i].ids for i in indices], row_length, tokenizer.pad_id)
        calls += [
            PackedCall(indices, packed, invoke, pooling)
            for invoke in plan_invokes(packed, batched, tokenizer.seq_buckets)
        ]
    return calls


def _padded_calls(
    backend: Backend, tokenizer: BucketTokenizer, pooling: str, tokenized: Sequence[TokenizedText], batch_size: int
) -> list[ModelCall]:
    """Index groups sorted by length, each padded only to its own smallest bucket (or, on a
    backend with ``exact_lengths``, to its own longest text)."""
    exact = backend.exact_lengths
    lengths = np.fromiter((len(t.ids) for t in tokenized), dtype=np.int64, count=len(tokenized))
    order = np.argsort(-lengths, kind="stable")
    calls: list[ModelCall] = []
    start = 0
    while start < len(order):
        bucket = tokenizer.bucket_for(int(lengths[order[start]]))
        stop = start + 1
        while (
            stop < len(order)
            and stop - start < batch_size
            and tokenizer.bucket_for(int(lengths[order[stop]])) == bucket
        ):
            stop += 1
        indices = order[start:stop]
        length = max(int(lengths[order[start]]), 1) if exact else bucket
        calls.append(PaddedCall(indices, [tokenized[i] for i in indices], length, tokenizer, pooling))
        start = stop
    return calls
