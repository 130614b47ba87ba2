"""LangChain and LlamaIndex adapters against the real packages (fast tier: the hand-built bundle)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest
from fakes import write_fake_bundle

from edgeembed import Embedder

PROMPTS = {"query": "query: ", "document": "document: "}
DOCS = ["a dog runs in the park", "the cat sleeps on the sofa", "rain is expected tomorrow"]


@pytest.fixture()
def embedder(tmp_path, fake_runtime):
    return Embedder.load(write_fake_bundle(tmp_path / "bundle", prompts=PROMPTS), embedding_cache_size=0)


def test_langchain_embeddings_use_the_bundle_prompts(embedder):
    pytest.importorskip("langchain_core")
    from langchain_core.embeddings import Embeddings

    from edgeembed.integrations.langchain import EdgeEmbedEmbeddings

    adapter = EdgeEmbedEmbeddings(embedder)
    assert isinstance(adapter, Embeddings)
    documents = adapter.embed_documents(DOCS)
    assert np.allclose(documents, embedder.encode_document(DOCS), atol=1e-6)
    assert np.allclose(adapter.embed_query("where is the dog"), embedder.encode_query("where is the dog"), atol=1e-6)
    assert adapter.embed_documents([]) == []
    assert np.allclose(asyncio.run(adapter.aembed_documents(DOCS)), documents, atol=1e-6)
    assert np.allclose(asyncio.run(adapter.aembed_query("x")), adapter.embed_query("x"), atol=1e-6)


def test_llama_index_embedding_uses_the_bundle_prompts(embedder):
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from edgeembed.integrations.llama_index import EdgeEmbedEmbedding

    adapter = EdgeEmbedEmbedding(embedder, embed_batch_size=2)
    assert isinstance(adapter, BaseEmbedding) and adapter.model_name == "fake/numpy-tiny"
    assert np.allclose(adapter.get_query_embedding("where is the dog"), embedder.encode_query("where is the dog"), atol=1e-6)
    assert np.allclose(adapter.get_text_embedding(DOCS[0]), embedder.encode_document(DOCS[0]), atol=1e-6)
    batch = adapter.get_text_embedding_batch(DOCS)
    assert np.allclose(batch, embedder.encode_document(DOCS), atol=1e-6)
    assert np.allclose(asyncio.run(adapter.aget_query_embedding("x")), adapter.get_query_embedding("x"), atol=1e-6)


def test_the_device_path_imports_no_framework():
    code = (
        "import sys, json, edgeembed, edgeembed.cli.app, edgeembed.integrations;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('langchain_core', 'llama_index', 'ray'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
