import numpy as np
import pytest
from tiny_models import build_tokenizer_json

from edgeembed.embed.cache import LRUCache
from edgeembed.embed.tokenize import BucketTokenizer, validate_texts


@pytest.fixture()
def tokenizer(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(build_tokenizer_json(fixed_padding=32))
    return BucketTokenizer(path, max_seq_length=16, seq_buckets=(8, 16))


def test_tokenizer_padding_is_overridden_and_truncation_counted(tokenizer):
    short, long = tokenizer.encode(["a dog", "a man " * 20])
    assert len(short.ids) == 4 and not short.truncated  # [CLS] a dog [SEP], not 32 pads
    assert len(long.ids) == 16 and long.truncated


def test_one_text_encodes_as_it_does_in_a_batch(tmp_path):
    """A lone text takes ``encode`` (not the thread pool); ids and truncation must not change."""
    path = tmp_path / "tokenizer.json"
    path.write_text(build_tokenizer_json(fixed_padding=32))
    texts = ["a dog", "a man " * 20, "the \ud800 man", ""]
    batched = BucketTokenizer(path, max_seq_length=16, seq_buckets=(8, 16), cache_size=0).encode(texts)
    alone = BucketTokenizer(path, max_seq_length=16, seq_buckets=(8, 16), cache_size=0)
    assert [alone.encode([text])[0] for text in texts] == batched


def test_buckets_and_padding(tokenizer):
    assert [tokenizer.bucket_for(n) for n in (1, 8, 9, 16, 40)] == [8, 8, 16, 16, 16]
    ids, mask = tokenizer.pad(tokenizer.encode(["a dog", "the man is playing"]), 8)
    assert ids.shape == mask.shape == (2, 8) and ids.dtype == np.int32
    assert mask.sum(axis=1).tolist() == [4, 6]


def test_token_cache_counts_hits():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert cache.get("a") is None and cache.get("c") == 3
    assert cache.info() == {"hits": 1, "misses": 1, "size": 2, "maxsize": 2, "bytes": 0, "max_bytes": None}


def test_validate_texts():
    assert validate_texts("hi") == (["hi"], True)
    assert validate_texts(np.array(["a", "b"])) == (["a", "b"], False)
    assert validate_texts(t for t in ["x"]) == (["x"], False)
    with pytest.raises(TypeError, match=r"sentences\[1\] is int"):
        validate_texts(["ok", 3])
    with pytest.raises(TypeError, match="bytes"):
        validate_texts(b"raw")
