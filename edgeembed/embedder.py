"""``Embedder``: load a bundle, embed text with sentence-transformers habits."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from edgeembed.bundle import Bundle
from edgeembed.pooling import l2_normalize, pool
from edgeembed.tokenize import BucketTokenizer, TokenizedText, check_batch_size, validate_texts

logger = logging.getLogger("edgeembed")


class Embedder:
    """Embeds text with a converted bundle; imports only numpy, tokenizers and one runtime."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        threads: int | None = None,
        backend: str | None = None,
        device: str = "CPU",
        token_cache_size: int = 4096,
    ) -> None:
        from edgeembed.runtimes import backend_for

        self.bundle = bundle
        manifest = bundle.manifest
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        self.backend = backend_for(bundle, backend)(bundle, device=device, threads=self.threads)
        self.tokenizer = BucketTokenizer(
            bundle.tokenizer_path, manifest.max_seq_length, manifest.seq_buckets, token_cache_size
        )
        self.last_truncated = 0
        self.total_truncated = 0

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        threads: int | None = None,
        *,
        backend: str | None = None,
        device: str = "CPU",
        token_cache_size: int = 4096,
    ) -> Embedder:
        """Verify the bundle at ``path`` (sha256 of every file) and prepare its runtime."""
        return cls(
            Bundle.load(Path(path)),
            threads=threads,
            backend=backend,
            device=device,
            token_cache_size=token_cache_size,
        )

    @property
    def embedding_dim(self) -> int:
        return self.bundle.manifest.embedding_dim

    @property
    def max_seq_length(self) -> int:
        return self.bundle.manifest.max_seq_length

    def get_sentence_embedding_dimension(self) -> int:
        """sentence-transformers spelling of :attr:`embedding_dim`."""
        return self.embedding_dim

    def cache_info(self) -> dict[str, dict[str, int]]:
        return {"token_cache": self.tokenizer.cache.info()}

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Embeddings as float32 ``[n, dim]`` in input order; a single string gives ``[dim]``.

        ``normalize_embeddings=None`` follows the bundle (the model's Normalize module). Empty
        or whitespace-only strings are embedded as the tokenizer encodes them (special tokens
        only). Texts over ``max_seq_length`` tokens are truncated; the count is logged and kept
        in ``last_truncated``.
        """
        texts, single = validate_texts(sentences)
        batch_size = check_batch_size(batch_size)
        normalize = self.bundle.manifest.normalize if normalize_embeddings is None else bool(
            normalize_embeddings
        )
        result = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        self.last_truncated = 0
        if texts:
            tokenized = self.tokenizer.encode(texts)
            self.last_truncated = sum(item.truncated for item in tokenized)
            with _progress(len(texts), show_progress_bar) as advance:
                for indices, bucket in self._batches(tokenized, batch_size):
                    vectors = self._embed_batch([tokenized[i] for i in indices], bucket)
                    result[indices] = l2_normalize(vectors) if normalize else vectors
                    advance(len(indices))
        if self.last_truncated:
            self.total_truncated += self.last_truncated
            logger.warning(
                "%d of %d texts exceeded max_seq_length=%d tokens and were truncated",
                self.last_truncated, len(texts), self.max_seq_length,
            )
        return result[0] if single else result

    def _batches(
        self, tokenized: list[TokenizedText], batch_size: int
    ) -> Iterator[tuple[np.ndarray, int]]:
        """Index groups sorted by length, each padded only to its own smallest bucket."""
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
            yield order[start:stop], bucket
            start = stop

    def _embed_batch(self, items: list[TokenizedText], bucket: int) -> np.ndarray:
        input_ids, attention_mask = self.tokenizer.pad(items, bucket)
        outputs = self.backend.run(input_ids, attention_mask)
        return pool(outputs, attention_mask, self.bundle.manifest.pooling)


class _progress:
    """A rich progress bar when asked for, else a no-op; rich is imported only when shown."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self._progress = total, enabled, None

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        task = self._progress.add_task("Embedding", total=self.total)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
