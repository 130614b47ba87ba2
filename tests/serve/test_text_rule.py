"""One rule for texts over HTTP, and error messages that always encode."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from edgeembed.embed.embedder import Embedder
from edgeembed.errors import InputError
from edgeembed.serve import ServeSettings, create_app


@pytest.fixture()
def client(fake_bundle):
    with TestClient(create_app(Embedder.load(fake_bundle)), raise_server_exceptions=False) as test_client:
        yield test_client


def post_raw(client, route: str, body: str):
    """A JSON body written by hand: a lone surrogate travels as its escape, as JSON allows."""
    return client.post(route, content=body.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("route, field", [("/v1/embeddings", "input"), ("/embed", "inputs")])
@pytest.mark.parametrize(
    "text, message",
    [
        ('""', "is an empty string"),
        ('"   \\t\\n "', "only whitespace or control characters"),
        ('"\\u0000\\u0000"', "only whitespace or control characters"),
        ('"caf\\ud800"', "holds a lone surrogate (\\\\ud800)"),
    ],
)
def test_texts_with_nothing_to_embed_or_no_unicode_get_400_naming_the_input(client, route, field, text, message):
    response = post_raw(client, route, f'{{"{field}": ["fine", {text}]}}')
    assert response.status_code == 400, response.text
    assert f"'{field}[1]'" in response.text and message in response.text


def test_a_lone_surrogate_in_prompt_name_gets_a_json_400_not_a_plain_500(client):
    response = post_raw(client, "/embed", '{"inputs": "a dog", "prompt_name": "q\\udc80"}')
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/json")
    assert "\\udc80" in response.json()["error"]
    metrics = client.get("/metrics").text
    assert 'edgeembed_requests_total{route="/embed",status="400"} 1.0' in metrics


def test_visible_text_with_control_characters_is_embedded(client):
    assert post_raw(client, "/v1/embeddings", '{"input": "a\\u0000dog"}').status_code == 200


@pytest.mark.parametrize("key", [" s3cret", "s3cret ", "s3cret\t"])
def test_an_api_key_with_edge_whitespace_is_refused_at_start(key):
    with pytest.raises(InputError, match="starts or ends with whitespace"):
        ServeSettings(api_key=key)
