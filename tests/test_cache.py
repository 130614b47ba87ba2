import warnings

import numpy as np
import pytest
from tiny_models import SENTENCES

from edgeembed import Embedder
from edgeembed.embed.cache import EmbeddingCache


def test_repeated_texts_come_from_the_embedding_cache(fake_bundle):
    embedder = Embedder.load(fake_bundle, threads=1)
    first = embedder.encode(SENTENCES[:3])
    again = embedder.encode(SENTENCES[:3] + SENTENCES[:1])
    assert np.array_equal(again[:3], first) and np.array_equal(again[3], first[0])
    info = embedder.cache_info()["embedding_cache"]
    assert info["hits"] == 4 and info["size"] == 3
    single = embedder.encode(SENTENCES[0])
    single[:] = 0  # callers get copies; the cached vector is untouched
    assert np.array_equal(embedder.encode(SENTENCES[0]), first[0])
    raw = embedder.encode(SENTENCES[0], normalize_embeddings=False)  # separate cache key
    assert not np.allclose(raw, first[0])


def test_cache_persists_atomically_and_reloads(fake_bundle, tmp_path):
    path = tmp_path / "cache.npz"
    embedder = Embedder.load(fake_bundle, cache_path=path)
    vectors = embedder.encode(SENTENCES)
    embedder.save_cache()
    assert [p.name for p in tmp_path.iterdir()] == ["cache.npz"]  # no temp file left
    reloaded = Embedder.load(fake_bundle, cache_path=path)
    assert np.array_equal(reloaded.encode(SENTENCES), vectors)
    assert reloaded.cache_info()["embedding_cache"]["hits"] == len(SENTENCES)


@pytest.mark.parametrize("content", [b"", b"not an npz file", b"PK\x03\x04broken zip"])
def test_corrupt_cache_is_ignored_with_a_warning(tmp_path, content):
    path = tmp_path / "cache.npz"
    path.write_bytes(content)
    with pytest.warns(UserWarning, match="unreadable embedding cache ignored"):
        cache = EmbeddingCache(16, "model-a", path)
    assert len(cache) == 0


def test_cache_of_another_model_is_ignored(tmp_path):
    path = tmp_path / "cache.npz"
    cache = EmbeddingCache(16, "model-a", path)
    cache.put(("hi", True), np.ones(4, dtype=np.float32))
    cache.save()
    with pytest.warns(UserWarning, match="another model"):
        assert len(EmbeddingCache(16, "model-b", path)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(EmbeddingCache(16, "model-a", path)) == 1


def test_disabled_caches_still_embed(fake_bundle):
    embedder = Embedder.load(fake_bundle, token_cache_size=0, embedding_cache_size=0)
    assert embedder.encode(SENTENCES).shape == (len(SENTENCES), 32)
    assert embedder.cache_info()["embedding_cache"]["size"] == 0


def test_a_byte_bound_keeps_huge_keys_from_growing_the_cache():
    import numpy as np

    from edgeembed.embed.cache import LRUCache, byte_budget, entry_bytes

    vector = np.zeros(384, np.float32)
    cache = LRUCache(1024, byte_budget(1024, vector.nbytes + 112))
    for index in range(1024):
        cache.put((f"an ordinary sentence {index}", False), vector)
    assert len(cache) == 1024  # texts of ordinary length never notice the bound
    huge = "🙂" * 20_000
    for index in range(200):
        cache.put((huge + str(index), False), vector)
    assert cache.bytes <= cache.max_bytes and len(cache) < 1024
    assert cache.bytes == sum(entry_bytes(key, value) for key, value in cache.items())
    cache.clear()
    assert cache.bytes == 0 and len(cache) == 0
