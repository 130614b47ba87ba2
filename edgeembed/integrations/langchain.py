"""LangChain ``Embeddings`` backed by an edgeembed bundle (``pip install "edgeembed[langchain]"``).

from edgeembed.integrations.langchain import EdgeEmbedEmbeddings
embeddings = EdgeEmbedEmbeddings("minilm-rpi5")
vectors = embeddings.embed_documents(["first passage", "second passage"])
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.embeddings import Embeddings

from edgeembed.embed.embedder import Embedder
from edgeembed.integrations._embedder import as_embedder, as_lists


class EdgeEmbedEmbeddings(Embeddings):
    """Documents get the bundle's document prompt, queries its query prompt (if it has them)."""

    def __init__(
        self,
        bundle: str | os.PathLike[str] | Embedder,
        batch_size: int | None = None,
        normalize_embeddings: bool | None = None,
        **load_options: Any,
    ) -> None:
        self.embedder = as_embedder(bundle, **load_options)
        self.options = {"batch_size": batch_size, "normalize_embeddings": normalize_embeddings}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return as_lists(self.embedder.encode_document(list(texts), **self.options)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return as_lists(self.embedder.encode_query([text], **self.options))[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)
