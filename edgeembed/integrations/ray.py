"""Embedding on a Ray cluster (the ``ray`` extra; nothing here imports ray until used).

- :class:`RayEmbedder`: a callable class for Ray Data ``map_batches``. It pickles as a bundle
  path (or the bundle's files, see :func:`ship_bundle`) plus options, and loads the bundle once
  per worker, on its first batch.
- :class:`RayShardRunner`: the actors behind ``embed-corpus --ray ADDRESS``: each loads the
  bundle once; shards go out as they are read and come back in any order, so the driver writes
  each finished shard at once (a killed run keeps them).

A text's vector is the same on any worker: every bundle embeds each text on its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import MANIFEST_NAME, Bundle
from edgeembed.errors import EdgeEmbedError, InputError, MissingDependencyError

KINDS = ("document", "query", "plain")  # which of encode_document / encode_query / encode


def import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError('Ray is not installed: pip install "edgeembed[ray]"') from None
    return ray


def ship_bundle(bundle: str | os.PathLike[str]) -> dict[str, bytes]:
    """A verified bundle's files as bytes, for workers that cannot see its path (other hosts).
    Workers write them to a temporary folder and verify every sha256 again before loading."""
    loaded = Bundle.load(Path(bundle))
    names = [MANIFEST_NAME, *loaded.manifest.files]
    return {name: loaded.file(name).read_bytes() for name in names}


def _materialize(files: Mapping[str, bytes]) -> str:
    folder = Path(tempfile.mkdtemp(prefix="edgeembed-ray-bundle-"))
    for name, content in files.items():
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise InputError(f"shipped bundle file name {name!r} is not a plain file name")
        (folder / name).write_bytes(content)
    return str(folder)


class RayEmbedder:
    """``ds.map_batches(RayEmbedder, fn_constructor_kwargs={"bundle": PATH}, concurrency=N)``.

    ``bundle`` is a path every worker can read, or :func:`ship_bundle`'s mapping. Batches may be
    numpy dicts (Ray Data's default), pandas DataFrames or pyarrow Tables; the texts come from
    ``text_column`` and the vectors go to ``output_column`` (``[rows, dim]``). ``kind`` picks the
    bundle's document or query prompt (or none: "plain"); ``encode_options`` go to ``encode``
    (``truncate_dim``, ``precision``, ``normalize_embeddings``, ``batch_size``).
    """

    def __init__(
        self,
        bundle: str | os.PathLike[str] | Mapping[str, bytes],
        text_column: str = "text",
        output_column: str = "embedding",
        kind: str = "document",
        threads: int | None = None,
        **encode_options: Any,
    ) -> None:
        if kind not in KINDS:
            raise InputError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        self.bundle = dict(bundle) if isinstance(bundle, Mapping) else str(bundle)
        self.text_column, self.output_column, self.kind = text_column, output_column, kind
        self.threads = threads
        self.encode_options = encode_options
        self._embedder = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_embedder": None}  # the runtime stays on its worker

    @property
    def embedder(self):
        if self._embedder is None:
            from edgeembed.embed.embedder import Embedder

            path = _materialize(self.bundle) if isinstance(self.bundle, dict) else self.bundle
            self._embedder = Embedder.load(path, threads=self.threads, embedding_cache_size=0)
        return self._embedder

    def embed(self, texts: list[str]) -> np.ndarray:
        encode = {
            "document": self.embedder.encode_document,
            "query": self.embedder.encode_query,
            "plain": self.embedder.encode,
        }[self.kind]
        return encode(list(texts), **self.encode_options)

    def embed_numbered(self, number: int, texts: list[str]) -> tuple[int, np.ndarray]:
        """One corpus shard: its number travels with it, as shards finish in any order."""
        return number, self.embed(texts)

    def __call__(self, batch: Any) -> Any:
        if hasattr(batch, "append_column") and hasattr(batch, "column_names"):  # pyarrow.Table
            import pyarrow as pa

            vectors = self.embed(batch.column(self.text_column).to_pylist())
            values = pa.array(vectors.reshape(-1))
            return batch.append_column(self.output_column, pa.FixedSizeListArray.from_arrays(values, vectors.shape[1]))
        if hasattr(batch, "assign") and hasattr(batch, "columns"):  # pandas.DataFrame
            vectors = self.embed(batch[self.text_column].tolist())
            return batch.assign(**{self.output_column: list(vectors)})
        if isinstance(batch, Mapping):
            if self.text_column not in batch:
                raise InputError(f"batch has no column {self.text_column!r} (columns: {sorted(batch)})")
            vectors = self.embed([str(text) if isinstance(text, np.str_) else text for text in batch[self.text_column]])
            return {**batch, self.output_column: vectors}
        raise InputError(
            f"unsupported batch type {type(batch).__name__}; use batch_format 'numpy', 'pandas' or 'pyarrow'"
        )


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """``HOST:PORT`` and ``ray://HOST:PORT`` must accept a TCP connection within ``timeout``."""
    if address in ("local", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray takes local, auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    import socket

    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise EdgeEmbedError(
            f"no Ray cluster answers at {address} ({error}); start one with `ray start --head` or use --ray local"
        ) from None


class RayShardRunner:
    """Actors (one per ``threads`` CPUs of the cluster unless ``actors`` says) embedding corpus
    shards; at most two shards per actor are in flight, which bounds the driver's memory."""

    def __init__(
        self, bundle: str | os.PathLike[str], address: str, actors: int | None = None, threads: int = 1
    ) -> None:
        ray = import_ray()
        from ray.util import ActorPool

        if not ray.is_initialized():
            _check_reachable(address)  # Ray itself retries an unreachable address for minutes
            try:
                ray.init(
                    address=None if address == "local" else address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
                raise EdgeEmbedError(
                    f"cannot start or reach Ray at {address!r} ({type(error).__name__}: {error}); use "
                    "--ray local for this machine, or start a cluster with `ray start --head` and pass --ray auto"
                ) from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = actors or max(1, cpus // threads)
        files = ray.put(ship_bundle(bundle))  # one copy in the object store, whatever the hosts see
        actor = ray.remote(num_cpus=threads)(RayEmbedder)
        self.actors = [actor.remote(files, kind="document", threads=threads) for _ in range(count)]
        self._pool = ActorPool(self.actors)
        self._ray = ray
        self.capacity = 2 * count
        self.in_flight = 0

    def submit(self, number: int, texts: list[str]) -> None:
        self._pool.submit(lambda worker, job: worker.embed_numbered.remote(*job), (number, texts))
        self.in_flight += 1

    def next_done(self) -> tuple[int, np.ndarray]:
        try:
            result = self._pool.get_next_unordered()
        except self._ray.exceptions.RayError as error:  # a worker died or raised: say which, no traceback
            raise EdgeEmbedError(f"a Ray worker failed: {str(error).strip().splitlines()[-1]}") from None
        self.in_flight -= 1
        return result

    def close(self) -> None:
        for worker in self.actors:
            self._ray.kill(worker)
