"""A cache shared by replicas: a real redis-server on loopback, two servers in front of it, and
the cache killed mid-run (bounded, stops by itself). Skipped only where no redis-server starts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
redis = pytest.importorskip("redis")
from starlette.testclient import TestClient

from edgeembed.embed.embedder import Embedder
from edgeembed.serve import create_app
from edgeembed.serve.shared_cache import SharedCache, cache_key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def redis_server():
    """A throwaway redis-server on a free loopback port, bounded in memory; killed at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on this machine (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip("redis-server did not start")
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(10)


def metric(client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_replica_b_answers_what_replica_a_computed_and_a_dead_cache_fails_nothing(fake_bundle):
    texts = ["a dog runs in the park", "the cat sleeps", "rain on the roof"]
    with redis_server() as (process, url):
        options = {"cache_url": url, "cache_timeout_ms": 100}
        with TestClient(create_app(Embedder.load(fake_bundle), **options)) as a, \
             TestClient(create_app(Embedder.load(fake_bundle), **options)) as b:
            first = a.post("/v1/embeddings", json={"input": texts})
            store = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while store.dbsize() < len(texts) and time.monotonic() < deadline:
                time.sleep(0.02)  # A writes to the shared cache after answering
            computed_by_b = metric(b, "edgeembed_batch_size_sum")
            second = b.post("/v1/embeddings", json={"input": texts})
            assert first.status_code == second.status_code == 200
            assert metric(b, "edgeembed_batch_size_sum") == computed_by_b  # B's model ran no text
            assert metric(b, "edgeembed_shared_cache_hits_total") == 3
            assert second.json()["data"] == first.json()["data"]
            process.kill()  # the cache dies mid-run
            process.wait(10)
            answers = [client.post("/v1/embeddings", json={"input": [f"new text {i}", *texts]})
                       for i, client in enumerate((a, b, a, b))]
            assert [answer.status_code for answer in answers] == [200] * 4
            assert metric(a, "edgeembed_shared_cache_errors_total") + metric(b, "edgeembed_shared_cache_errors_total") >= 1
    expected = Embedder.load(fake_bundle, embedding_cache_size=0).encode(texts)
    vectors = np.array([item["embedding"] for item in second.json()["data"]], dtype=np.float32)
    assert np.allclose(vectors, expected, atol=1e-6)


def test_keys_name_the_bundle_and_the_text_and_a_missing_server_is_a_counted_miss():
    import asyncio

    assert cache_key("bundle-a", "hi") != cache_key("bundle-b", "hi") != cache_key("bundle-a", "hi ")
    errors = []
    cache = SharedCache(f"redis://127.0.0.1:{free_port()}/0", "bundle-a", 4, timeout_s=0.05, on_error=lambda: errors.append(1))

    async def main():
        found = await cache.get_many(["hi", "there"])
        again = await cache.get_many(["hi"])  # resting after the error: not even asked
        await cache.put_many(["hi"], np.ones((1, 4), dtype=np.float32))
        await cache.close()
        return found, again

    found, again = asyncio.run(main())
    assert found == {} and again == {} and errors == [1] and not cache.available  # one failed call, then rest


def test_a_bad_cache_url_is_refused_at_start(fake_bundle):
    from edgeembed.errors import InputError

    with pytest.raises(InputError, match="redis://HOST:PORT"):
        create_app(Embedder.load(fake_bundle), cache_url="http://localhost:6379")
