"""A cache shared by several servers (Redis, or anything speaking its protocol such as Valkey),
behind each server's own in-memory LRU.

Keys are ``edgeembed:v1:`` and the sha256 of the bundle's digest, the prompted text and the form
of the value (raw float32 vectors, before normalization and width cuts), so replicas of one
bundle share entries and other bundles never collide. Values are the vector's little-endian
float32 bytes; each entry lives ``ttl_s`` seconds (Redis expires it), and Redis's own
``maxmemory`` with an LRU policy bounds the bytes (see docs/serving.md).

The cache can only help: every call has a short timeout, and an error or a timeout is counted
(``on_error``) and answered as a miss; after an error the cache is left alone for
``retry_after_s`` seconds, so a Redis that is down costs no request a timeout each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Sequence

import numpy as np

from edgeembed.errors import InputError, MissingDependencyError

KEY_PREFIX = "edgeembed:v1:"


def cache_key(bundle_digest: str, text: str) -> str:
    """One entry's key: a digest of the bundle, the prompted text and the value's form."""
    digest = hashlib.sha256(f"{bundle_digest}\0raw-float32\0".encode() + text.encode("utf-8", "surrogatepass"))
    return KEY_PREFIX + digest.hexdigest()


class SharedCache:
    """``get_many`` / ``put_many`` of raw vectors against a Redis-protocol server at ``url``."""

    def __init__(
        self,
        url: str,
        bundle_digest: str,
        dim: int,
        *,
        ttl_s: int = 86_400,
        timeout_s: float = 0.05,
        retry_after_s: float = 5.0,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise InputError(f"--cache-url {url!r}: give redis://HOST:PORT[/DB], rediss:// or unix:// (Redis, Valkey)")
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
            raise InputError(f"--cache-ttl must be a positive number of seconds, got {ttl_s!r}")
        try:
            import redis.asyncio as redis
        except ImportError:
            raise MissingDependencyError('--cache-url needs the Redis client: pip install "edgeembed[redis]"') from None
        self._client = redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False
        )
        self.url, self.bundle_digest, self.dim = url, bundle_digest, dim
        self.ttl_s, self.timeout_s, self.retry_after_s = ttl_s, timeout_s, retry_after_s
        self._on_error = on_error
        self._resting_until = 0.0
        self.hits = self.misses = self.errors = 0

    @property
    def available(self) -> bool:
        """False for ``retry_after_s`` after an error: the cache is not asked then."""
        return time.monotonic() >= self._resting_until

    async def get_many(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Position -> raw vector for the texts the shared cache holds (a miss on any failure)."""
        if not texts or not self.available:
            return {}
        try:
            values = await asyncio.wait_for(self._client.mget([self._key(t) for t in texts]), 2 * self.timeout_s)
        except Exception:  # down, slow, refused, a wrong kind of server: a miss, counted
            self._failed()
            return {}
        found = {}
        for index, value in enumerate(values):
            if isinstance(value, bytes) and len(value) == 4 * self.dim:
                found[index] = np.frombuffer(value, dtype="<f4").astype(np.float32)
        self.hits += len(found)
        self.misses += len(texts) - len(found)
        return found

    async def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store raw vectors (each with the TTL); a failure is counted, never raised."""
        if not texts or not self.available:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for text, vector in zip(texts, vectors, strict=True):
                pipe.set(self._key(text), np.ascontiguousarray(vector, dtype="<f4").tobytes(), ex=self.ttl_s)
            await asyncio.wait_for(pipe.execute(), 2 * self.timeout_s + 0.01 * len(texts))
        except Exception:
            self._failed()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.aclose()

    def _key(self, text: str) -> str:
        return cache_key(self.bundle_digest, text)

    def _failed(self) -> None:
        self.errors += 1
        self._resting_until = time.monotonic() + self.retry_after_s
        self._on_error()
