"""A keyless server is out of a web page's reach: Origin and Host are checked (DNS rebinding)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from edgeembed.cli.serve import allowed_hosts
from edgeembed.embed.embedder import Embedder
from edgeembed.serve import create_app
from edgeembed.serve.settings import LOOPBACK_NAMES

BODY = {"input": "a dog"}


def client_for(bundle, **settings):
    return TestClient(create_app(Embedder.load(bundle), **settings), base_url="http://localhost:8080")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_web_page_cannot_post_to_a_keyless_server(fake_bundle, content_type):
    with client_for(fake_bundle, allowed_hosts=LOOPBACK_NAMES) as client:
        answer = client.post("/v1/embeddings", content=b'{"input": "a dog"}',
                             headers={"Origin": "http://evil.example", "Content-Type": content_type})
        assert answer.status_code == 403 and "--allow-origin http://evil.example" in answer.text
        assert client.post("/v1/embeddings", json=BODY).status_code == 200  # curl, scripts: no Origin


def test_a_rebound_dns_name_is_refused_and_loopback_names_pass(fake_bundle):
    with client_for(fake_bundle, allowed_hosts=LOOPBACK_NAMES) as client:
        rebound = client.post("/v1/embeddings", json=BODY, headers={"Host": "attacker.example:8080"})
        assert rebound.status_code == 403 and "--allowed-host attacker.example" in rebound.text
        for host in ("localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST"):
            assert client.post("/v1/embeddings", json=BODY, headers={"Host": host}).status_code == 200, host
        assert client.get("/health", headers={"Host": "attacker.example"}).status_code == 200  # open, no data


def test_flags_allow_an_origin_and_a_key_protects_instead(fake_bundle):
    page = "http://localhost:3000"
    with client_for(fake_bundle, allowed_hosts=LOOPBACK_NAMES, allowed_origins=(page,)) as client:
        assert client.post("/v1/embeddings", json=BODY, headers={"Origin": page}).status_code == 200
    with client_for(fake_bundle, allowed_hosts=LOOPBACK_NAMES, api_key="s3cret") as client:
        keyed = {"Origin": "http://evil.example", "Host": "attacker.example", "Authorization": "Bearer s3cret"}
        assert client.post("/v1/embeddings", json=BODY, headers=keyed).status_code == 200
        assert client.post("/v1/embeddings", json=BODY, headers={"Origin": "http://evil.example"}).status_code == 401


def test_serve_allows_loopback_names_on_loopback_and_any_name_on_the_network():
    assert set(allowed_hosts("127.0.0.1", [])) == set(LOOPBACK_NAMES)
    assert "my-pi.local" in allowed_hosts("127.0.0.1", ["My-Pi.local"])
    assert allowed_hosts("0.0.0.0", []) == ("*",)
    assert "*" not in allowed_hosts("0.0.0.0", ["my-pi.local"])
