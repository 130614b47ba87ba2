"""The server's one inference path: the steps of :mod:`edgeembed.embed.pipeline`, split
between the event loop and the model's thread.

Both routes call :meth:`EmbeddingService.embed`. A request is *prepared* once: prompts, the
character limit, tokenizing (on the event loop for short inputs, in a thread past
:data:`INLINE_CHARS` characters), the token limit, the embedding cache. Its new texts go to
the :class:`DynamicBatcher` as tokenized items, and the model's thread runs the pipeline's
model steps on whole batches; each request is then *finished* on its own (width cut,
normalization), so its vectors are exactly ``Embedder.encode`` of its texts alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edgeembed.embed.embedder import Embedder
from edgeembed.embed.tokenize import TokenizedText
from edgeembed.errors import InputError
from edgeembed.serve.batcher import Arrival, DynamicBatcher
from edgeembed.serve.loop_lag import LoopLagMonitor
from edgeembed.serve.metrics import ServeMetrics
from edgeembed.serve.schemas import EmbedRequest, RequestError
from edgeembed.serve.settings import ServeSettings
from edgeembed.serve.shared_cache import SharedCache

INLINE_CHARS = 2048  # characters tokenized on the event loop; a longer request goes to a thread
WARM_UP_TEXTS = ("edgeembed warm-up", " ".join(["a longer warm-up text of several words"] * 8))


@dataclass(frozen=True)
class PreparedText:
    """A text ready for the model: prompted and tokenized (what the batcher queues)."""

    text: str
    tokens: TokenizedText


@dataclass(frozen=True)
class Embedded:
    """The vectors of one request and what they cost. A text repeated in the request is held
    once: row ``i`` of the answer is ``distinct[rows[i]]``."""

    distinct: np.ndarray
    rows: np.ndarray
    prompt_tokens: int
    truncated: int
    cache_hits: int

    @property
    def vectors(self) -> np.ndarray:
        """Every row of the answer, in request order."""
        return self.distinct[self.rows]

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """The answer's rows, ``size`` at a time (a big answer is written as it is sent)."""
        for start in range(0, len(self.rows), size):
            yield self.distinct[self.rows[start : start + size]]


class EmbeddingService:
    """Owns the embedder, the batcher and the metrics of one server."""

    def __init__(self, embedder: Embedder, settings: ServeSettings) -> None:
        self.embedder = embedder
        self.settings = settings
        self.model_name = settings.model_name or _model_name(embedder)
        self.metrics = ServeMetrics(queue_depth=lambda: self.batcher.queued_texts)
        self.batcher = DynamicBatcher(
            self._run_model,
            max_batch=settings.max_batch,
            max_batch_tokens=settings.max_batch_tokens,
            max_wait_s=settings.max_wait_ms / 1000,
            max_queue=settings.max_queue,
            max_queue_wait_s=settings.max_queue_wait_ms / 1000,
            on_batch=self.metrics.record_batch,
        )
        self.loop_lag = LoopLagMonitor(self.metrics.loop_lag, self.metrics.loop_lag_max)
        self.shared = _shared_cache(embedder, settings, self.metrics.shared_errors.inc)
        self._storing: set[asyncio.Task] = set()  # shared-cache writes still on their way
        self.ready = False
        self.stopping = False  # set when the server begins to shut down
        self.reading: set[asyncio.Task] = set()  # requests whose body is still arriving
        self._warming: asyncio.Task | None = None

    def warm_up(self) -> None:
        """Run the model once per input shape class, so the first request is not the slow one."""
        self._run_model(self._prepare(list(WARM_UP_TEXTS)))
        self.ready = True

    def start_warm_up(self) -> asyncio.Task:
        """Warm up in a thread, once (also for apps that mount the server without its lifespan)."""
        self.loop_lag.start()
        if self._warming is None:
            self._warming = asyncio.get_running_loop().create_task(self.batcher.run_exclusive(self.warm_up))
        return self._warming

    async def ensure_warm(self) -> None:
        """Warm up if not yet done; and from now on, watch the event loop for blocking."""
        self.loop_lag.start()
        if not self.ready:
            await asyncio.shield(self.start_warm_up())

    def begin_shutdown(self) -> None:
        """Stop taking work: new requests and those still sending their body get 503 at once;
        requests already queued or in the model are answered."""
        self.stopping = True
        self.batcher.stop_accepting()
        for task in list(self.reading):
            task.cancel()

    async def close(self) -> None:
        await self.loop_lag.stop()
        await self.batcher.close()
        if self.shared is not None:
            await asyncio.gather(*self._storing, return_exceptions=True)
            await self.shared.close()

    async def embed(
        self, request: EmbedRequest, arrival: Arrival | None = None, gone: Callable[[], bool] = lambda: False
    ) -> Embedded:
        """Vectors for ``request.texts`` in order, normalized as the request or the bundle says.

        ``arrival`` (from ``batcher.arriving()``) tells the batcher when this request has queued;
        ``gone()`` whether its client has left (its texts are then never computed).
        """
        pipeline = self.embedder.pipeline
        with self.batcher.arriving() if arrival is None else contextlib.nullcontext(arrival) as arrival:
            texts = self._prompted(request)
            self._check_chars(texts)
            position = {text: index for index, text in enumerate(dict.fromkeys(texts))}
            distinct = list(position)  # a repeated text is tokenized, computed and held once
            rows = np.fromiter((position[text] for text in texts), dtype=np.int64, count=len(texts))
            if sum(map(len, distinct)) <= INLINE_CHARS:
                tokenized = pipeline.tokenize(distinct)
            else:
                tokenized = await asyncio.to_thread(pipeline.tokenize, distinct)
            lengths = [len(tokenized[row].ids) for row in rows]
            over = [index for index, row in enumerate(rows) if tokenized[row].truncated]
            truncate = self.settings.auto_truncate if request.truncate is None else request.truncate
            if over and not truncate:
                raise RequestError(
                    413,
                    f"input {over[0]} is longer than the model's limit of {self.embedder.max_seq_length} tokens "
                    f"({len(over)} text(s) too long) and truncation was turned off; shorten it, or allow "
                    'truncation ("truncate": true on /embed, or a server without --no-auto-truncate)',
                    "input",
                )
            hits = pipeline.cached(distinct, False)
            vectors = np.empty((len(distinct), self.embedder.embedding_dim), dtype=np.float32)
            for index, hit in hits.items():
                vectors[index] = hit
            missing = [index for index in range(len(distinct)) if index not in hits]
            if missing and self.shared is not None:
                missing = await self._from_shared_cache(distinct, missing, vectors, hits)
            if missing:
                tokens = sum(len(tokenized[index].ids) for index in missing)
                items = [PreparedText(distinct[index], tokenized[index]) for index in missing]
                vectors[missing] = await self.batcher.submit(items, tokens, arrival, gone)
                if self.shared is not None:
                    self._store_shared([distinct[index] for index in missing], vectors[missing])
        manifest = self.embedder.bundle.manifest
        normalize = manifest.normalize if request.normalize is None else request.normalize
        width = request.dimensions or manifest.truncate_dim or self.embedder.embedding_dim
        answered_from_cache = int(np.isin(rows, list(hits)).sum()) if hits else 0
        self.metrics.cache_hits.inc(answered_from_cache)
        self.metrics.cache_misses.inc(len(texts) - answered_from_cache)
        self.metrics.truncated.inc(len(over))
        self.metrics.input_tokens.inc(sum(lengths))
        finished = pipeline.finish(vectors, width, normalize)
        return Embedded(finished, rows, sum(lengths), len(over), answered_from_cache)

    async def _from_shared_cache(
        self, distinct: list[str], missing: list[int], vectors: np.ndarray, hits: dict[int, np.ndarray]
    ) -> list[int]:
        """Fill what the shared cache holds (also into the local LRU); the positions still missing."""
        assert self.shared is not None
        found = await self.shared.get_many([distinct[index] for index in missing])
        self.metrics.shared_hits.inc(len(found))
        self.metrics.shared_misses.inc(len(missing) - len(found))
        if not found:
            return missing
        for position, vector in found.items():
            vectors[missing[position]] = hits[missing[position]] = vector
        known = [missing[position] for position in found]
        self.embedder.pipeline.remember([distinct[index] for index in known], vectors[known], False)
        return [index for position, index in enumerate(missing) if position not in found]

    def _store_shared(self, texts: list[str], vectors: np.ndarray) -> None:
        """Write new vectors to the shared cache in the background (the answer does not wait)."""
        assert self.shared is not None
        task = asyncio.get_running_loop().create_task(self.shared.put_many(texts, vectors.copy()))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)

    def _prompted(self, request: EmbedRequest) -> list[str]:
        """The texts with the requested (or the bundle's default) prompt in front."""
        try:
            return self.embedder.pipeline.prompted(request.texts, request.prompt_name)
        except InputError as error:
            raise RequestError(400, str(error), "prompt_name") from None

    def _check_chars(self, texts: list[str]) -> None:
        limit = self.settings.input_char_limit(self.embedder.max_seq_length)
        for index, text in enumerate(texts):
            if len(text) > limit:
                raise RequestError(
                    413,
                    f"input {index} has {len(text)} characters; this server takes at most {limit} per text "
                    f"(the model reads only its first {self.embedder.max_seq_length} tokens; --max-input-chars)",
                    "input",
                )

    def _run_model(self, items: list[PreparedText]) -> np.ndarray:
        """Raw vectors (pooled, after the heads, not normalized) for one batch of prepared texts,
        kept in the embedding cache for the requests that repeat them."""
        pipeline = self.embedder.pipeline
        vectors = np.zeros((len(items), self.embedder.embedding_dim), dtype=np.float32)
        for indices, pooled in pipeline.vectors([item.tokens for item in items], self.embedder.batch_size):
            vectors[indices] = pooled
        pipeline.remember([item.text for item in items], vectors, False)
        return vectors

    def _prepare(self, texts: list[str]) -> list[PreparedText]:
        """Texts as the model thread takes them, tokenized here (warm-up)."""
        return [
            PreparedText(text, tokens)
            for text, tokens in zip(texts, self.embedder.pipeline.tokenize(texts), strict=True)
        ]


def _shared_cache(embedder: Embedder, settings: ServeSettings, on_error: Callable[[], None]) -> SharedCache | None:
    if settings.cache_url is None:
        return None
    return SharedCache(
        settings.cache_url,
        embedder.bundle.manifest.digest,
        embedder.embedding_dim,
        ttl_s=settings.cache_ttl_s,
        timeout_s=settings.cache_timeout_ms / 1000,
        on_error=on_error,
    )


def _model_name(embedder: Embedder) -> str:
    source = embedder.bundle.manifest.source.get("name") or embedder.bundle.path.name
    return str(source)
