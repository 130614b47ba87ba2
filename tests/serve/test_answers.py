"""Big answers go out in chunks with the very bytes of the whole answer; repeats are held once."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from edgeembed.embed.embedder import Embedder
from edgeembed.serve import create_app
from edgeembed.serve.answers import openai_body, tei_body
from edgeembed.serve.service import Embedded


def embedded(rows: int, distinct: int = 7) -> Embedded:
    vectors = np.random.default_rng(0).normal(size=(distinct, 5)).astype(np.float32)
    return Embedded(vectors, np.arange(rows) % distinct, 3 * rows, 0, 0)


@pytest.mark.parametrize("rows", [1, 127, 128, 129, 300, 1000])
def test_pieces_join_into_the_bytes_of_the_whole_answer(rows):
    answer = embedded(rows)
    tail = {"model": "m", "usage": {"prompt_tokens": 3 * rows, "total_tokens": 3 * rows}}
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(answer.vectors)]
    whole = orjson.dumps({"object": "list", "data": data, **tail}, option=orjson.OPT_SERIALIZE_NUMPY)
    assert b"".join(openai_body(answer, "float", tail)) == whole
    assert b"".join(tei_body(answer)) == orjson.dumps(answer.vectors, option=orjson.OPT_SERIALIZE_NUMPY)


def test_a_big_request_is_streamed_and_equals_encode(fake_bundle):
    texts = [f"text number {i % 50}" for i in range(600)]  # 50 distinct texts, 600 rows
    with TestClient(create_app(Embedder.load(fake_bundle), max_inputs=1000, max_queue=2000)) as client:
        big = client.post("/v1/embeddings", json={"input": texts})
        tei = client.post("/embed", json={"inputs": texts})
    assert big.status_code == tei.status_code == 200
    assert "content-length" not in big.headers  # streamed in chunks
    vectors = np.array([item["embedding"] for item in big.json()["data"]], dtype=np.float32)
    expected = Embedder.load(fake_bundle, embedding_cache_size=0).encode(texts)
    assert np.allclose(vectors, expected, atol=1e-6) and np.allclose(np.array(json.loads(tei.text)), expected, atol=1e-6)
    assert [item["index"] for item in big.json()["data"]] == list(range(600))
