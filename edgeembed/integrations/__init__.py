"""Adapters for the frameworks users arrive from; each is an optional extra, imported only when
its module is: ``edgeembed.integrations.langchain`` (``langchain`` extra) and
``edgeembed.integrations.llama_index`` (``llama-index`` extra). Both take a bundle path or an
``Embedder``, embed queries and documents with the bundle's own prompts, and batch as
``Embedder.encode`` does. ``edgeembed.integrations.ray`` (``ray`` extra) embeds on a Ray cluster:
a callable class for Ray Data ``map_batches`` and the actors behind ``embed-corpus --ray``."""
