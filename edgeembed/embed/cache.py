"""Caches for the hot path: an LRU mapping and a persistent embedding cache.

Both are bounded by entries and, when given ``max_bytes``, by the bytes their keys and values
take: a few huge texts (a server's client may send 20,000 emoji per text) evict many normal
entries instead of growing the process. :func:`byte_budget` sizes the bound from the entry count,
so texts of ordinary length never notice it.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.atomic import atomic_write

KEY_ALLOWANCE = 1024  # bytes of key (text) an ordinary entry may take within the byte budget


def byte_budget(entries: int, value_bytes: int) -> int:
    """Bytes for ``entries`` entries of ``value_bytes`` each, with keys of ordinary length."""
    return max(0, int(entries)) * (int(value_bytes) + KEY_ALLOWANCE)


def entry_bytes(key: Hashable, value: Any) -> int:
    """What one entry holds in memory, near enough to bound a cache by it."""
    keys = key if isinstance(key, tuple) else (key,)
    size = sum(sys.getsizeof(part) for part in keys)
    if isinstance(value, np.ndarray):
        return size + value.nbytes + 112
    ids = getattr(value, "ids", None)
    if ids is not None:  # TokenizedText: a tuple of int objects
        return size + 64 + 36 * len(ids)
    return size + sys.getsizeof(value)


class LRUCache:
    """A thread-safe least-recently-used mapping with hit/miss counters; ``maxsize=0`` disables it.

    ``max_bytes`` (optional) bounds what the entries hold as well (:func:`entry_bytes`).
    """

    def __init__(self, maxsize: int, max_bytes: int | None = None) -> None:
        self.maxsize = max(0, int(maxsize))
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if self.maxsize:
                value = self._data.get(key)
                if value is not None:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return value
            self.misses += 1
            return None

    def put(self, key: Hashable, value: Any) -> None:
        if not self.maxsize:
            return
        size = entry_bytes(key, value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return  # larger than the whole budget: not worth evicting everything for
        with self._lock:
            self._bytes += size - self._sizes.get(key, 0)
            self._sizes[key] = size
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize or (self.max_bytes is not None and self._bytes > self.max_bytes):
                evicted, _ = self._data.popitem(last=False)
                self._bytes -= self._sizes.pop(evicted, 0)

    def items(self) -> list[tuple[Hashable, Any]]:
        with self._lock:
            return list(self._data.items())

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def bytes(self) -> int:
        """What the entries hold, as :func:`entry_bytes` counts it (0 without ``max_bytes``)."""
        return self._bytes

    def info(self) -> dict[str, int | None]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "size": len(self),
            "maxsize": self.maxsize,
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
        }


class EmbeddingCache(LRUCache):
    """(text, normalized) -> finished float32 vector, optionally persisted to an ``.npz`` file.

    The file records the bundle's model hash: a cache from another model is ignored, and so is
    a corrupt one (with a warning). Saving writes a temp file and renames it, so a kill during
    the write leaves the previous file intact.
    """

    def __init__(
        self,
        maxsize: int,
        fingerprint: str,
        path: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
    ):
        super().__init__(maxsize, max_bytes)
        self.fingerprint = fingerprint
        self.path = Path(path) if path else None
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["fingerprint"]) != self.fingerprint:
                    warnings.warn(f"{path}: embedding cache of another model; ignored", stacklevel=3)
                    return
                texts, flags, vectors = data["texts"], data["normalized"], data["vectors"]
                if not (len(texts) == len(flags) == len(vectors)) or vectors.dtype != np.float32:
                    raise ValueError("inconsistent arrays")
                for text, flag, vector in zip(texts.tolist(), flags.tolist(), vectors, strict=False):
                    if np.isfinite(vector).all():
                        self.put((text, bool(flag)), _frozen(vector))
        except Exception as error:
            self.clear()
            warnings.warn(f"{path}: unreadable embedding cache ignored ({error})", stacklevel=3)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no cache path given")
        entries: list[tuple[Any, np.ndarray]] = list(self.items())  # keys: (text, normalized)
        dim = entries[0][1].shape[0] if entries else 0

        def write(stream) -> None:
            np.savez(
                stream,
                fingerprint=np.array(self.fingerprint),
                texts=np.array([key[0] for key, _ in entries], dtype=str),
                normalized=np.array([key[1] for key, _ in entries], dtype=bool),
                vectors=np.array([v for _, v in entries], dtype=np.float32).reshape(-1, dim),
            )

        atomic_write(target, write)
        return target


def _frozen(vector: np.ndarray) -> np.ndarray:
    vector = np.array(vector, dtype=np.float32)
    vector.flags.writeable = False
    return vector
