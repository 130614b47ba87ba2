"""``Embedder``: load a bundle, embed text with sentence-transformers habits."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from edgeembed.bundle import PROJECTION_NAME, Bundle
from edgeembed.embed.cache import EmbeddingCache, byte_budget
from edgeembed.embed.dense import dense_file, load_dense
from edgeembed.embed.parallel import WorkerPool, check_workers
from edgeembed.embed.pipeline import ENCODE, Pipeline
from edgeembed.embed.progress import EmbeddingProgress
from edgeembed.embed.projection import load_projection
from edgeembed.embed.prompts import DOCUMENT_PROMPT_NAMES, QUERY_PROMPT_NAMES, first_prompt_name
from edgeembed.embed.tokenize import BucketTokenizer, check_batch_size, validate_texts
from edgeembed.embed.tuned import load_tuned
from edgeembed.errors import InputError
from edgeembed.formats import FORMATS

logger = logging.getLogger("edgeembed")
CHUNK_SIZE = 4096  # texts tokenized at once; bounds memory for huge inputs


@contextlib.contextmanager
def truncation_warnings_off() -> Iterator[None]:
    """Silences ``encode``'s once-per-call truncation warning, for measurements that count
    truncation themselves (``Embedder.total_truncated``) and would otherwise repeat it per call."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class Embedder:
    """Embeds text with a converted bundle; imports only numpy, tokenizers and one runtime.

    Defaults come from the target profile recorded in the bundle: threads (capped at this
    machine's cores), batch size, token-cache and embedding-cache sizes, and the device
    (``CPU``, ``GPU``, ``NPU``, ``AUTO``; one this machine lacks falls back to CPU with a
    warning). A size of 0 disables a cache; ``cache_path`` persists the embedding cache (see
    :meth:`save_cache`); ``backend_options`` go to the runtime backend. Threads and batch size
    that ``edgeembed tune`` measured on this machine replace the profile's (``tuned=False``
    ignores them).
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        threads: int | None = None,
        backend: str | None = None,
        device: str | None = None,
        token_cache_size: int | None = None,
        embedding_cache_size: int | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        backend_options: dict | None = None,
        tuned: bool = True,
    ) -> None:
        from edgeembed.runtimes import backend_for

        self.bundle = bundle
        manifest = bundle.manifest
        _check_options(manifest.format, threads, device)
        # Settings `edgeembed tune` measured on this machine win over the profile's guesses.
        defaults = {**manifest.runtime, **(load_tuned(bundle) if tuned else {})}
        cores = os.cpu_count() or 1
        self.threads = threads if threads is not None else min(int(defaults.get("threads", cores)), cores)
        self.batch_size = int(defaults.get("batch_size", 32))
        device = device or str(defaults.get("device", "CPU"))
        self._device = device
        self._pool: WorkerPool | None = None
        backend_class = backend_for(bundle, backend)
        backend_options = dict(backend_options or {})
        if "shared_weights" in defaults and "shared_weights" in backend_class.options:
            backend_options.setdefault("shared_weights", bool(defaults["shared_weights"]))  # tuned
        self.backend = backend_class(bundle, device=device, threads=self.threads, **backend_options)
        self.tokenizer = BucketTokenizer(
            bundle.tokenizer_path,
            manifest.max_seq_length,
            manifest.seq_buckets,
            int(defaults.get("token_cache", 4096)) if token_cache_size is None else token_cache_size,
        )
        # Every model file counts: an OpenVINO .xml can be identical across different weights.
        model_hash = ":".join(manifest.files.get(name, "") for name in manifest.model_files)
        model_hash = model_hash.strip(":") or manifest.source.get("weights_sha256", "")
        for name in (*(dense_file(i) for i in range(len(manifest.dense_activations))), PROJECTION_NAME):
            if name in manifest.files:  # layers after pooling change the vectors too
                model_hash += f":{name}:{manifest.files[name]}"
        cache_entries = (
            int(defaults.get("embedding_cache", 1024)) if embedding_cache_size is None else embedding_cache_size
        )
        self.embedding_cache = EmbeddingCache(
            cache_entries,
            fingerprint=f"{model_hash}:{manifest.quantization}",
            path=cache_path,
            max_bytes=byte_budget(cache_entries, 4 * manifest.output_dim + 112),
        )
        self.dense = load_dense(bundle)  # sentence-transformers Dense layers after pooling, or None
        self.projection = load_projection(bundle)  # PCA fitted at conversion (--pca-dim), or None
        self._width = manifest.output_dim  # read on every call, cache hits included
        self.last_truncated = 0
        self.total_truncated = 0
        # Packed bundles put several texts in one row; batch_size then does not shape the calls.
        self._packed = self.backend.packed
        heads = [head for head in (self.dense, self.projection) if head is not None]
        self.pipeline = Pipeline(manifest, self.backend, self.tokenizer, self.embedding_cache, heads)

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int | None = None, **options) -> Embedder:
        """Verify the bundle at ``path`` (sha256 of every file) and prepare its runtime.

        ``options`` are the constructor's: backend, device, token_cache_size,
        embedding_cache_size, cache_path, backend_options, tuned.
        """
        return cls(Bundle.load(Path(path)), threads=threads, **options)

    @property
    def packs_texts(self) -> bool:
        """Several texts share a model row (packed TFLite bundles); batch_size shapes nothing."""
        return self._packed

    @property
    def embedding_dim(self) -> int:
        """The full width of the vectors this bundle computes (its PCA's, if it has one)."""
        return self._width

    @property
    def max_seq_length(self) -> int:
        return self.bundle.manifest.max_seq_length

    def get_sentence_embedding_dimension(self) -> int:
        """The width ``encode`` returns by default (the bundle's truncate_dim, else the model's)."""
        return self._output_dim(None)

    def cache_info(self) -> dict[str, dict[str, int | None]]:
        """Hits, misses and sizes of the token cache and the embedding cache."""
        return {
            "token_cache": self.tokenizer.cache.info(),
            "embedding_cache": self.embedding_cache.info(),
        }

    def save_cache(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the embedding cache atomically (to ``cache_path`` unless ``path`` is given)."""
        return self.embedding_cache.save(path)

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int | None = None,
        normalize_embeddings: bool | None = None,
        show_progress_bar: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        truncate_dim: int | None = None,
        precision: str = "float32",
        workers: int = 1,
    ) -> np.ndarray:
        """Embeddings as float32 ``[n, dim]`` in input order; a single string gives ``[dim]``.

        ``batch_size=None`` uses the target profile's. ``normalize_embeddings=None`` follows the
        bundle (the model's Normalize module). ``prompt`` (a text) or ``prompt_name`` (one of
        :attr:`prompts`) goes in front of every input; without either, the bundle's default
        prompt does. Empty or whitespace-only strings are embedded as the tokenizer encodes them
        (special tokens only). Texts over ``max_seq_length`` tokens are truncated; the count is
        logged and kept in ``last_truncated``. ``truncate_dim`` keeps the first N dimensions
        (Matryoshka models; None = the bundle's default), normalizing after the cut as
        sentence-transformers does. ``precision`` "int8", "uint8", "binary" or "ubinary" returns
        compact codes (:mod:`edgeembed.embed.precision`). ``workers=N`` embeds in N processes, each
        with this embedder's threads divided among them (:mod:`edgeembed.embed.parallel`).
        """
        observer = self.pipeline.observer
        started = time.perf_counter() if observer is not None else 0.0
        try:
            return self._encode(
                sentences, batch_size, normalize_embeddings, show_progress_bar, prompt_name, prompt,
                truncate_dim, precision, workers,
            )  # fmt: skip
        finally:
            if observer is not None:
                observer.step(ENCODE, time.perf_counter() - started)

    def _encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int | None,
        normalize_embeddings: bool | None,
        show_progress_bar: bool,
        prompt_name: str | None,
        prompt: str | None,
        truncate_dim: int | None,
        precision: str,
        workers: int,
    ) -> np.ndarray:
        """``encode``'s steps (:mod:`edgeembed.embed.pipeline`): prepare, compute what the cache
        does not know, finish."""
        texts, single = validate_texts(sentences)
        if workers != 1 and check_workers(workers) > 1 and len(texts) > 1:
            return self._encode_in_processes(
                texts,
                workers,
                batch_size=batch_size,
                normalize_embeddings=normalize_embeddings,
                prompt_name=prompt_name,
                prompt=prompt,
                truncate_dim=truncate_dim,
                precision=precision,
            )
        manifest = self.bundle.manifest
        texts = self.pipeline.prompted(texts, prompt_name, prompt)
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        normalize = manifest.normalize if normalize_embeddings is None else bool(normalize_embeddings)
        width = self._width
        dim = width if truncate_dim is None and not manifest.truncate_dim else self._output_dim(truncate_dim)
        if dim == width:
            vectors = self._encode_float(texts, single, batch_size, normalize, show_progress_bar)
        else:  # cut the raw vectors, then normalize: what the model's Normalize module would do
            full = self._encode_float(texts, single, batch_size, False, show_progress_bar)
            vectors = self.pipeline.finish(full, dim, normalize)
        if precision == "float32":
            return vectors
        if precision in ("int8", "uint8") and (normalize != manifest.normalize or dim != self._output_dim(None)):
            raise InputError(
                f"precision {precision!r} uses ranges calibrated on this bundle's default outputs "
                f"(normalize_embeddings={manifest.normalize}, truncate_dim={self._output_dim(None)}); "
                "keep those, or use precision 'binary'/'ubinary'"
            )
        return self.pipeline.codes(vectors, precision)

    def _encode_in_processes(self, texts: list[str], workers: int, **options) -> np.ndarray:
        if self._pool is None or self._pool.workers != workers:
            self.close()
            load_options = {"embedding_cache_size": 0, "tuned": False, "device": self._device}
            self._pool = WorkerPool(
                type(self).load, self.bundle.path, workers, max(1, self.threads // workers), load_options
            )
            self._pool_finalizer = weakref.finalize(self, self._pool.close)
        return self._pool.encode(texts, options)

    def close(self) -> None:
        """Stop the worker processes of ``encode(..., workers=N)``, if any (also done at exit)."""
        if self._pool is not None:
            self._pool_finalizer()
            self._pool = None

    def _output_dim(self, truncate_dim: int | None) -> int:
        if truncate_dim is None:
            return self.bundle.manifest.truncate_dim or self.embedding_dim
        if (
            isinstance(truncate_dim, bool)
            or not isinstance(truncate_dim, (int, np.integer))
            or not 1 <= truncate_dim <= self.embedding_dim
        ):
            raise InputError(
                f"truncate_dim (--truncate-dim) must be an integer in 1..{self.embedding_dim}, got {truncate_dim!r}"
            )
        return int(truncate_dim)

    def _encode_float(
        self, texts: list[str], single: bool, batch_size: int, normalize: bool, show_progress_bar: bool
    ) -> np.ndarray:
        """Full-width float32 vectors, from the embedding cache where it knows them."""
        hits = self.pipeline.cached(texts, normalize)
        if single and hits:
            self.last_truncated = 0
            return hits[0].copy()
        unique = list(dict.fromkeys(t for i, t in enumerate(texts) if i not in hits))
        computed = self._compute(unique, batch_size, normalize, show_progress_bar)
        self.pipeline.remember(unique, computed, normalize)
        if single:
            return computed[0]
        if not hits and len(unique) == len(texts):
            return computed  # nothing cached, no duplicates: rows are already in input order
        position = {text: row for row, text in enumerate(unique)}
        result = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        for index, text in enumerate(texts):
            result[index] = hits[index] if index in hits else computed[position[text]]
        return result

    def encode_query(self, sentences: str | Sequence[str], **options) -> np.ndarray:
        """:meth:`encode` with the bundle's "query" prompt, if it has one (as sentence-transformers)."""
        if "prompt" not in options and "prompt_name" not in options:
            options["prompt_name"] = first_prompt_name(self.prompts, QUERY_PROMPT_NAMES)
        return self.encode(sentences, **options)

    def encode_document(self, sentences: str | Sequence[str], **options) -> np.ndarray:
        """:meth:`encode` with the bundle's "document" (or "passage", "corpus") prompt, if any."""
        if "prompt" not in options and "prompt_name" not in options:
            options["prompt_name"] = first_prompt_name(self.prompts, DOCUMENT_PROMPT_NAMES)
        return self.encode(sentences, **options)

    @property
    def prompts(self) -> dict[str, str]:
        """The bundle's named prompts (from the model's sentence-transformers config or --prompt)."""
        return dict(self.bundle.manifest.prompts)

    def iter_encode(
        self,
        sentences: Iterable[str],
        batch_size: int | None = None,
        normalize_embeddings: bool | None = None,
        chunk_size: int = CHUNK_SIZE,
        show_progress_bar: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        truncate_dim: int | None = None,
        precision: str = "float32",
    ) -> Iterator[np.ndarray]:
        """Embed a stream (any iterable, e.g. a file's lines) in memory bounded by ``chunk_size``.

        Yields ``[<= chunk_size, dim]`` arrays in input order; a non-string raises ``TypeError``
        naming its position in the whole stream.
        """
        iterator = iter(sentences)
        offset = 0
        with EmbeddingProgress(None, show_progress_bar) as advance:
            while chunk := list(islice(iterator, chunk_size)):
                try:
                    vectors = self.encode(
                        chunk,
                        batch_size,
                        normalize_embeddings,
                        prompt_name=prompt_name,
                        prompt=prompt,
                        truncate_dim=truncate_dim,
                        precision=precision,
                    )
                except TypeError as error:
                    raise TypeError(_shift_index(str(error), offset)) from None
                offset += len(chunk)
                advance(len(chunk))
                yield vectors

    def _compute(self, texts: list[str], batch_size: int, normalize: bool, show_progress_bar: bool) -> np.ndarray:
        """Vectors of new texts: tokenized once, through the model calls, normalized per call."""
        result = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        self.last_truncated = 0
        pipeline = self.pipeline
        with EmbeddingProgress(len(texts), show_progress_bar and bool(texts)) as advance:
            for start in range(0, len(texts), CHUNK_SIZE):  # bounds token-id memory
                tokenized = pipeline.tokenize(texts[start : start + CHUNK_SIZE])
                self.last_truncated += sum(item.truncated for item in tokenized)
                for indices, vectors in pipeline.vectors(tokenized, batch_size):
                    result[start + indices] = pipeline.normalize(vectors) if normalize else vectors
                    advance(len(indices))
        if self.last_truncated:
            self.total_truncated += self.last_truncated
            logger.warning(
                "%d of %d texts exceeded max_seq_length=%d tokens and were truncated",
                self.last_truncated,
                len(texts),
                self.max_seq_length,
            )
        return result


def _check_options(fmt: str, threads: int | None, device: str | None) -> None:
    """Options the runtime would misread: refused here, naming what works."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads (--threads) must be a positive integer, got {threads!r}")
    devices = FORMATS[fmt].devices if fmt in FORMATS else ()
    if device is not None and devices and device.upper() not in devices:
        elsewhere = [name for name, other in FORMATS.items() if device.upper() in other.devices]
        raise InputError(
            f"a {fmt} bundle runs on {' or '.join(devices)} only; device {device!r} needs "
            f"an {' or '.join(elsewhere) or 'other'} bundle "
            f"(edgeembed convert --format {elsewhere[0] if elsewhere else 'FORMAT'} --device {device.upper()})"
        )


def _shift_index(message: str, offset: int) -> str:
    import re

    return re.sub(r"sentences\[(\d+)\]", lambda m: f"sentences[{int(m.group(1)) + offset}]", message)
