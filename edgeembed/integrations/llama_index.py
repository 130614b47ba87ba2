"""LlamaIndex ``BaseEmbedding`` backed by an edgeembed bundle (``pip install "edgeembed[llama-index]"``).

from edgeembed.integrations.llama_index import EdgeEmbedEmbedding
Settings.embed_model = EdgeEmbedEmbedding(bundle="minilm-rpi5")
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from edgeembed.embed.embedder import Embedder
from edgeembed.integrations._embedder import as_embedder, as_lists


class EdgeEmbedEmbedding(BaseEmbedding):
    """Queries get the bundle's query prompt, texts its document prompt (if it has them)."""

    _embedder: Embedder = PrivateAttr()

    def __init__(
        self, bundle: str | os.PathLike[str] | Embedder, embed_batch_size: int = 32, **load_options: Any
    ) -> None:
        embedder = as_embedder(bundle, **load_options)
        name = str(embedder.bundle.manifest.source.get("name") or embedder.bundle.path.name)
        super().__init__(model_name=name, embed_batch_size=embed_batch_size)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "EdgeEmbedEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return as_lists(self._embedder.encode_query([query]))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return as_lists(self._embedder.encode_document([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return as_lists(self._embedder.encode_document(list(texts), batch_size=self.embed_batch_size))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)
