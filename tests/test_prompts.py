"""Prompts as sentence-transformers applies them (fast tier: the hand-built bundle)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import write_fake_bundle
from typer.testing import CliRunner

from edgeembed import Embedder
from edgeembed.bundle import Bundle, Manifest
from edgeembed.cli.app import app
from edgeembed.errors import BundleError, InputError

PROMPTS = {"query": "query: ", "passage": "passage: "}
TEXTS = ["a dog runs in the park", "the cat sleeps"]


@pytest.fixture(scope="module")
def prompt_bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompt-bundles")
    return {
        "named": write_fake_bundle(root / "named", prompts=PROMPTS),
        "default": write_fake_bundle(root / "default", prompts=PROMPTS, default_prompt_name="query"),
    }


@pytest.fixture()
def embedder(prompt_bundles, fake_runtime):
    return Embedder.load(prompt_bundles["named"], embedding_cache_size=16)


def test_query_and_document_prompts_are_put_before_the_text(embedder):
    assert embedder.prompts == PROMPTS
    assert np.allclose(embedder.encode_query(TEXTS), embedder.encode(["query: " + t for t in TEXTS]), atol=1e-6)
    assert np.allclose(embedder.encode_document(TEXTS), embedder.encode(["passage: " + t for t in TEXTS]), atol=1e-6)
    assert np.allclose(embedder.encode(TEXTS, prompt_name="query"), embedder.encode_query(TEXTS), atol=1e-6)
    assert np.allclose(embedder.encode(TEXTS, prompt="x: "), embedder.encode(["x: " + t for t in TEXTS]), atol=1e-6)
    # the embedding cache keys the prompted text: the same text with and without a prompt differs
    assert not np.allclose(embedder.encode(TEXTS[0]), embedder.encode_query(TEXTS[0]))


def test_unknown_prompt_names_are_refused_naming_what_exists(embedder, fake_bundle):
    with pytest.raises(InputError, match=r"unknown prompt_name 'doc'; this bundle's prompts: \['passage', 'query'\]"):
        embedder.encode(TEXTS, prompt_name="doc")
    plain = Embedder.load(fake_bundle)
    with pytest.raises(InputError, match="this bundle has no prompts"):
        plain.encode(TEXTS, prompt_name="query")
    assert np.allclose(plain.encode_query(TEXTS), plain.encode(TEXTS))  # no query prompt: plain encode


def test_the_default_prompt_applies_unless_another_is_given(prompt_bundles, fake_runtime):
    embedder = Embedder.load(prompt_bundles["default"], embedding_cache_size=0)
    raw = embedder.encode(TEXTS, prompt="")
    assert np.allclose(embedder.encode(TEXTS), embedder.encode(["query: " + t for t in TEXTS], prompt=""), atol=1e-6)
    assert not np.allclose(embedder.encode(TEXTS), raw)


def test_a_default_that_is_not_a_prompt_is_a_broken_manifest(prompt_bundles):
    data = Bundle.load(prompt_bundles["named"]).manifest.to_dict()
    data["default_prompt_name"] = "missing"
    with pytest.raises(BundleError, match="default_prompt_name 'missing' is not one of the prompts"):
        Manifest.from_dict(data)


def test_cli_embed_takes_prompt_names(prompt_bundles, fake_runtime):
    import json

    result = CliRunner().invoke(app, ["embed", str(prompt_bundles["named"]), *TEXTS, "--prompt-name", "query", "--json"])
    assert result.exit_code == 0, result.output
    vectors = np.array(json.loads(result.stdout.strip().splitlines()[-1])["embeddings"])
    expected = Embedder.load(prompt_bundles["named"]).encode_query(TEXTS)
    assert np.allclose(vectors, expected, atol=1e-5)
    refused = CliRunner().invoke(app, ["embed", str(prompt_bundles["named"]), "x", "--prompt-name", "nope"])
    assert refused.exit_code == 1 and "unknown prompt_name 'nope'" in refused.output


def test_tei_route_takes_prompt_names(prompt_bundles, fake_runtime):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from edgeembed.serve import create_app

    embedder = Embedder.load(prompt_bundles["named"])
    with TestClient(create_app(embedder)) as client:
        body = client.post("/embed", json={"inputs": TEXTS, "prompt_name": "query"}).json()
        assert np.allclose(np.array(body), embedder.encode_query(TEXTS, normalize_embeddings=True), atol=1e-5)
        refused = client.post("/embed", json={"inputs": TEXTS, "prompt_name": "nope"})
        assert refused.status_code == 400 and "unknown prompt_name" in refused.json()["error"]
