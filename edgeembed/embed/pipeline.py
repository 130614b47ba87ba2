"""The embedding pipeline: every path that embeds text drives these steps, in this order.

1. **prepare**: put the prompt in front of each text, then tokenize each text once: the token
   cache first (``token cache``), the Rust tokenizer for the rest (``tokenizer``). The embedding
   cache is asked for the vectors it already knows (``embedding cache``).
2. **plan**: group the tokenized texts into model calls, packed rows or padded batches, each text
   in the smallest bucket that holds it (``planning and packing``, :mod:`edgeembed.embed.calls`).
3. **run**: build each call's input arrays (``tensor building``) and run it on the backend
   (``model call``).
4. **pool**: one vector per text from its own tokens, by the bundle's pooling mode, then the
   bundle's heads: Dense layers and a PCA projection (``pooling and heads``).
5. **finish**: cut the width (Matryoshka), L2-normalize, make precision codes
   (``normalization``); new vectors go into the embedding cache under :func:`cache_key`.

:class:`~edgeembed.embed.embedder.Embedder` drives the steps for ``encode``; the HTTP server
prepares each request on its event loop, queues prepared texts in its batcher and runs the
model steps in its model thread (:mod:`edgeembed.serve.service`). ``edgeembed profile`` and
``bench`` attach an :class:`Observer`, which is told each step's seconds and what reached the
model; nothing is patched, and with no observer a step costs one function call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from edgeembed.embed.cache import EmbeddingCache
from edgeembed.embed.calls import plan_calls, token_slots
from edgeembed.embed.pooling import l2_normalize
from edgeembed.embed.precision import quantize
from edgeembed.embed.prompts import resolve_prompt, with_prompt
from edgeembed.embed.tokenize import BucketTokenizer, TokenizedText

if TYPE_CHECKING:
    from edgeembed.bundle import Manifest
    from edgeembed.runtimes import Backend

T = TypeVar("T")
ObserverT = TypeVar("ObserverT", bound="Observer")

# Step -> what it covers, in pipeline order (``edgeembed profile`` reports them as stages).
STEPS: dict[str, str] = {
    "token cache": "token-cache lookups and stores",
    "tokenizer": "the Rust tokenizer (tokenizers)",
    "embedding cache": "embedding-cache lookups and stores",
    "planning and packing": "grouping texts into rows and calls (packing, buckets)",
    "tensor building": "input arrays for each model call",
    "model call": "the runtime running the model",
    "pooling and heads": "pooling token vectors, Dense layers, PCA projection",
    "normalization": "L2 normalization and precision codes",
}
ENCODE = "encode"  # the whole of one Embedder.encode call, reported after its steps


class Observer(Protocol):
    """What the pipeline reports, as it happens."""

    def step(self, name: str, seconds: float) -> None:
        """``seconds`` spent in step ``name`` (one of :data:`STEPS`, or :data:`ENCODE`)."""

    def model_call(self, token_slots: int) -> None:
        """A model call ran over ``token_slots`` token positions, padding included."""

    def tokenized(self, real_tokens: int) -> None:
        """Texts of ``real_tokens`` tokens in all reached the model steps."""


def cache_key(text: str, normalized: bool) -> tuple[str, bool]:
    """The one key of the embedding cache: the prompted text and whether its vector is
    L2-normalized (raw vectors serve width cuts and per-request normalization)."""
    return text, normalized


class Pipeline:
    """The steps of one loaded bundle (backend, tokenizer, caches, heads); see the module doc."""

    def __init__(
        self,
        manifest: Manifest,
        backend: Backend,
        tokenizer: BucketTokenizer,
        embedding_cache: EmbeddingCache,
        heads: Sequence[Callable[[np.ndarray], np.ndarray]] = (),
    ) -> None:
        self.manifest = manifest
        self.backend = backend
        self.tokenizer = tokenizer
        self.embedding_cache = embedding_cache
        self.heads = tuple(heads)  # Dense layers, then the PCA projection
        self.observer: Observer | None = None

    @contextlib.contextmanager
    def observed(self, observer: ObserverT) -> Iterator[ObserverT]:
        """Report every step to ``observer`` inside the ``with`` block (the one before it returns after)."""
        previous, self.observer = self.observer, observer
        try:
            yield observer
        finally:
            self.observer = previous

    def timed(self, step: str, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)``, its seconds reported to the observer as ``step``."""
        observer = self.observer
        if observer is None:
            return function(*args)
        start = time.perf_counter()
        try:
            return function(*args)
        finally:
            observer.step(step, time.perf_counter() - start)

    # 1. prepare
    def prompted(self, texts: list[str], prompt_name: str | None = None, prompt: str | None = None) -> list[str]:
        """The texts with the named (or given, or the bundle's default) prompt in front."""
        manifest = self.manifest
        if prompt is None and prompt_name is None and not manifest.default_prompt_name:
            return texts
        return with_prompt(texts, resolve_prompt(manifest.prompts, manifest.default_prompt_name, prompt_name, prompt))

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Token ids per text, each text tokenized once: from the token cache, or by the tokenizer."""
        tokenizer = self.tokenizer
        results, missing = self.timed("token cache", tokenizer.lookup, texts)
        if missing:
            items = self.timed("tokenizer", tokenizer.tokenize, [texts[i] for i in missing])
            self.timed("token cache", tokenizer.remember, texts, results, missing, items)
        return results  # type: ignore[return-value]

    def cached(self, texts: Sequence[str], normalized: bool) -> dict[int, np.ndarray]:
        """Position -> vector for the texts the embedding cache knows (none when it is off)."""
        cache = self.embedding_cache
        if not cache.maxsize:
            return {}
        return self.timed("embedding cache", _lookup, cache, texts, normalized)

    def remember(self, texts: Sequence[str], vectors: np.ndarray, normalized: bool) -> None:
        """Keep new vectors in the embedding cache (read-only copies)."""
        if self.embedding_cache.maxsize:
            self.timed("embedding cache", _store, self.embedding_cache, texts, vectors, normalized)

    # 2.-4. plan, run, pool
    def vectors(self, tokenized: Sequence[TokenizedText], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(text indices, pooled vectors after the heads)`` per model call, in the calls' order."""
        observer = self.observer
        if observer is not None:
            observer.tokenized(sum(len(item.ids) for item in tokenized))
        plan = self.timed(
            "planning and packing",
            plan_calls,
            self.backend,
            self.tokenizer,
            self.manifest.pooling,
            tokenized,
            batch_size,
        )
        for call in plan:
            inputs = self.timed("tensor building", call.inputs)
            if observer is not None:
                observer.model_call(token_slots(inputs))
            outputs = self.timed("model call", call.run, self.backend, inputs)
            indices, pooled = self.timed("pooling and heads", self._pool_and_heads, call, outputs, inputs)
            yield indices, pooled

    def _pool_and_heads(self, call: Any, outputs: np.ndarray, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        indices, vectors = call.pool(outputs, inputs)
        for head in self.heads:
            vectors = head(vectors)
        return indices, vectors

    # 5. finish
    def normalize(self, vectors: np.ndarray) -> np.ndarray:
        return self.timed("normalization", l2_normalize, vectors)

    def codes(self, vectors: np.ndarray, precision: str) -> np.ndarray:
        return self.timed("normalization", quantize, vectors, precision, self.manifest.embedding_ranges)

    def finish(self, vectors: np.ndarray, width: int, normalize: bool) -> np.ndarray:
        """Raw vectors cut to ``width`` columns (Matryoshka), then normalized if asked: what the
        model's Normalize module would do after the cut."""
        if width < vectors.shape[-1]:
            vectors = np.ascontiguousarray(vectors[..., :width])
        return self.normalize(vectors) if normalize else vectors


def _lookup(cache: EmbeddingCache, texts: Sequence[str], normalized: bool) -> dict[int, np.ndarray]:
    hits = {}
    for index, text in enumerate(texts):
        hit = cache.get(cache_key(text, normalized))
        if hit is not None:
            hits[index] = hit
    return hits


def _store(cache: EmbeddingCache, texts: Sequence[str], vectors: np.ndarray, normalized: bool) -> None:
    for text, vector in zip(texts, vectors, strict=False):
        frozen = vector.copy()
        frozen.flags.writeable = False
        cache.put(cache_key(text, normalized), frozen)
