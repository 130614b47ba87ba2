"""Caches for the hot path: an LRU mapping and a persistent embedding cache."""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.atomic import atomic_write


class LRUCache:
    """A thread-safe least-recently-used mapping with hit/miss counters; ``maxsize=0`` disables it."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(0, int(maxsize))
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
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
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def items(self) -> list[tuple[Hashable, Any]]:
        with self._lock:
            return list(self._data.items())

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "size": len(self), "maxsize": self.maxsize}


class EmbeddingCache(LRUCache):
    """(text, normalized) -> finished float32 vector, optionally persisted to an ``.npz`` file.

    The file records the bundle's model hash: a cache from another model is ignored, and so is
    a corrupt one (with a warning). Saving writes a temp file and renames it, so a kill during
    the write leaves the previous file intact.
    """

    def __init__(self, maxsize: int, fingerprint: str, path: str | os.PathLike[str] | None = None):
        super().__init__(maxsize)
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
                for text, flag, vector in zip(texts.tolist(), flags.tolist(), vectors):
                    if np.isfinite(vector).all():
                        self.put((text, bool(flag)), _frozen(vector))
        except Exception as error:  # noqa: BLE001 - any unreadable cache is simply not used
            self.clear()
            warnings.warn(f"{path}: unreadable embedding cache ignored ({error})", stacklevel=3)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no cache path given")
        entries = self.items()
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
