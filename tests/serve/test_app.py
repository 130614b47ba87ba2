"""The server's routes in-process (starlette's TestClient) on the tiny fp32 bundle."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from edgeembed.embed.embedder import Embedder
from edgeembed.serve import ServeSettings, create_app

TEXTS = ["a dog runs in the park", "the cat sleeps", "a dog runs in the park", "é"]


@pytest.fixture()
def embedder(fake_bundle) -> Embedder:
    return Embedder.load(fake_bundle)


@pytest.fixture()
def client(embedder):
    with TestClient(create_app(embedder, max_inputs=100, max_queue=200, max_body_bytes=64 * 1024)) as test_client:
        yield test_client


def reference(bundle, texts, normalize=None) -> np.ndarray:
    return Embedder.load(bundle, embedding_cache_size=0).encode(texts, normalize_embeddings=normalize)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_openai_route_equals_encode_in_float_and_base64(client, fake_bundle):
    expected = reference(fake_bundle, TEXTS)
    for encoding_format in ("float", "base64"):
        response = client.post("/v1/embeddings", json={"input": TEXTS, "model": "any", "encoding_format": encoding_format})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list" and [item["index"] for item in body["data"]] == [0, 1, 2, 3]
        if encoding_format == "base64":
            vectors = np.stack([np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in body["data"]])
        else:
            vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
        assert np.allclose(vectors, expected, atol=1e-6)
        tokens = sum(len(item.ids) for item in client.app.state.service.embedder.tokenizer.encode(TEXTS))
        assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_float_json_reads_back_as_the_exact_float32_vectors(client):
    """Numbers are float32's shortest decimals (at most 9 significant digits), and they parse
    back bit for bit to the vectors base64 carries."""
    bodies = {
        encoding_format: client.post("/v1/embeddings", json={"input": TEXTS, "encoding_format": encoding_format})
        for encoding_format in ("float", "base64")
    }
    as_float = np.array([item["embedding"] for item in bodies["float"].json()["data"]], dtype=np.float32)
    as_base64 = np.stack(
        [np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in bodies["base64"].json()["data"]]
    )
    assert np.array_equal(as_float, as_base64)
    numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", bodies["float"].text)
    assert numbers and max(len(re.sub(r"e.*|[-.]", "", n).lstrip("0")) for n in numbers) <= 9
    tei = np.array(client.post("/embed", json={"inputs": TEXTS}).json(), dtype=np.float32)
    assert np.array_equal(tei, as_float)


def test_single_string_and_tei_route(client, fake_bundle):
    single = client.post("/v1/embeddings", json={"input": "the cat sleeps"}).json()
    assert len(single["data"]) == 1
    assert np.allclose(single["data"][0]["embedding"], reference(fake_bundle, "the cat sleeps"), atol=1e-6)
    raw = client.post("/embed", json={"inputs": TEXTS[:2], "normalize": False})
    assert raw.status_code == 200
    assert np.allclose(np.array(raw.json()), reference(fake_bundle, TEXTS[:2], normalize=False), atol=1e-5)
    normalized = np.array(client.post("/embed", json={"inputs": "the cat sleeps"}).json())
    assert normalized.shape[0] == 1 and np.isclose(np.linalg.norm(normalized[0]), 1.0, atol=1e-5)


def test_repeated_texts_come_from_the_cache(client):
    first = client.post("/v1/embeddings", json={"input": ["cached text one", "cached text two"]})
    second = client.post("/v1/embeddings", json={"input": ["cached text one", "cached text two"]})
    assert first.headers["x-edgeembed-cache-hits"] == "0" and second.headers["x-edgeembed-cache-hits"] == "2"
    assert first.json()["data"] == second.json()["data"]
    metrics = client.get("/metrics").text
    assert "edgeembed_cache_hits_total 2.0" in metrics


@pytest.mark.parametrize(
    "route, body, status, message",
    [
        ("/v1/embeddings", b'{"input": ["unterminated', 400, "not valid JSON"),
        ("/v1/embeddings", b"", 400, "empty"),
        ("/v1/embeddings", b"[1, 2]", 400, "JSON object"),
        # depends on the process's recursion limit (some libraries raise it): either way a 400
        ("/v1/embeddings", b"[" * 50000, 400, "nests too deeply|not valid JSON"),
        ("/v1/embeddings", {"model": "x"}, 400, "missing field 'input'"),
        ("/v1/embeddings", {"input": 42}, 400, "'input' must be a string or a list"),
        ("/v1/embeddings", {"input": []}, 400, "empty list"),
        ("/v1/embeddings", {"input": ["ok", None]}, 400, r"'input\[1\]' must be a string"),
        ("/v1/embeddings", {"input": [[101, 2023]]}, 400, "token-id input is not supported"),
        ("/v1/embeddings", {"input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
        ("/v1/embeddings", {"input": "x", "dimensions": 64}, 400, "dimensions=64 is not available"),
        ("/v1/embeddings", {"input": "x", "dimensions": True}, 400, "'dimensions' must be int"),
        ("/v1/embeddings", {"input": ["t"] * 101}, 413, "at most 100 per request"),
        ("/embed", {"inputs": "word " * 2000, "truncate": False}, 413, "longer than the model's limit"),
        ("/v1/embeddings", {"input": "w" * 20001}, 413, "at most 20000 per text"),
        ("/v1/embeddings", {"input": "a" * 70000}, 413, "request body is"),
        ("/embed", {"inputs": "x", "normalize": "yes"}, 400, "'normalize' must be bool"),
        ("/embed", {"input": "x"}, 400, "missing field 'inputs'"),
        ("/embed", {"inputs": "x", "truncation_direction": "left"}, 400, "truncated on the right"),
    ],
)
def test_bad_requests_get_a_json_error_and_the_server_carries_on(client, route, body, status, message):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(route, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    text = error if isinstance(error, str) else error["message"]
    assert re.search(message, text) and "Traceback" not in response.text
    assert client.post("/v1/embeddings", json={"input": "still serving"}).status_code == 200


def test_dimensions_cut_and_renormalize_like_truncate_dim(client, fake_bundle):
    body = client.post("/v1/embeddings", json={"input": TEXTS[:2], "dimensions": 16}).json()
    vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    expected = Embedder.load(fake_bundle, embedding_cache_size=0).encode(TEXTS[:2], truncate_dim=16)
    assert vectors.shape == (2, 16) and np.allclose(vectors, expected, atol=1e-6)


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404 and "Not Found" in missing.json()["error"]["message"]
    wrong = client.get("/v1/embeddings")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == 405


def test_truncation_is_the_default_and_reported_and_can_be_refused(embedder):
    long_text = "word " * 500
    with TestClient(create_app(embedder)) as lenient:
        response = lenient.post("/v1/embeddings", json={"input": [long_text, "short"]})
        assert response.status_code == 200 and response.headers["x-edgeembed-truncated"] == "1"
        assert "edgeembed_truncated_inputs_total 1.0" in lenient.get("/metrics").text
        assert lenient.post("/embed", json={"inputs": long_text, "truncate": False}).status_code == 413
    with TestClient(create_app(embedder, auto_truncate=False)) as strict:
        refused = strict.post("/v1/embeddings", json={"input": long_text})
        assert refused.status_code == 413 and "truncation was turned off" in refused.json()["error"]["message"]
        assert strict.post("/embed", json={"inputs": long_text, "truncate": True}).status_code == 200


def test_bearer_key_guards_every_route_but_health(embedder):
    with TestClient(create_app(embedder, api_key="s3cret")) as guarded:
        assert guarded.get("/health").status_code == 200
        missing = guarded.post("/v1/embeddings", json={"input": "x"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["error"]["message"]
        wrong = guarded.post("/embed", json={"inputs": "x"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid API key"
        assert guarded.get("/metrics").status_code == 401
        ok = guarded.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_info_metrics_and_models(client, embedder):
    info = client.get("/info").json()
    assert info["dimensions"] == info["max_dimensions"] == embedder.embedding_dim and info["quantization"] == "fp32"
    assert info["fidelity_vs_fp32"]["mean_cosine"] > 0.99 and info["batching"]["max_inputs"] == 100
    client.post("/v1/embeddings", json={"input": ["one", "two"]})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in ("edgeembed_requests_total", "edgeembed_batch_size_bucket", "edgeembed_queue_depth", "edgeembed_request_duration_seconds_bucket"):
        assert name in metrics.text
    assert client.get("/v1/models").json()["data"][0]["id"] == info["model"]


def test_mounted_without_lifespan_warms_on_first_health_check(embedder):
    host = Starlette(routes=[Mount("/embedding", app=create_app(embedder))])
    with TestClient(host) as client:  # the host's lifespan does not run the mounted app's
        for _ in range(100):
            if client.get("/embedding/health").status_code == 200:
                break
        assert client.get("/embedding/health").json() == {"status": "ok"}
        assert client.post("/embedding/v1/embeddings", json={"input": "mounted"}).status_code == 200


def test_settings_are_validated():
    with pytest.raises(ValueError, match="max_inputs"):
        ServeSettings(max_inputs=10, max_queue=5)
    with pytest.raises(ValueError, match=r"max_batch \(--max-batch\) must be a positive integer"):
        ServeSettings(max_batch=0)


def test_a_bundle_default_prompt_and_width_apply_once(tmp_path, fake_runtime):
    from fakes import write_fake_bundle

    bundle = write_fake_bundle(tmp_path / "b", prompts={"query": "query: "}, default_prompt_name="query", truncate_dim=16)
    embedder = Embedder.load(bundle)
    with TestClient(create_app(embedder)) as client:
        body = client.post("/v1/embeddings", json={"input": TEXTS[:2]}).json()
        again = client.post("/v1/embeddings", json={"input": TEXTS[:2]}).json()  # now from the cache
    expected = Embedder.load(bundle, embedding_cache_size=0).encode(TEXTS[:2])
    for answer in (body, again):
        vectors = np.array([item["embedding"] for item in answer["data"]], dtype=np.float32)
        assert vectors.shape == (2, 16) and np.allclose(vectors, expected, atol=1e-6)


@pytest.mark.parametrize("route, field", [("/v1/embeddings", "input"), ("/embed", "inputs")])
def test_an_empty_string_is_refused_as_openai_does(client, route, field):
    """OpenAI's API and TEI refuse "" (encode("") in Python still embeds it, documented)."""
    for value, where in (("", f"'{field}'"), (["fine", ""], f"'{field}[1]'")):
        response = client.post(route, json={field: value})
        assert response.status_code == 400 and f"{where} is an empty string" in response.text


def test_a_compressed_body_is_415_not_a_codec_error(client):
    import gzip

    body = gzip.compress(b'{"input": "a dog"}')
    response = client.post("/v1/embeddings", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 415 and "uncompressed" in response.json()["error"]["message"]
