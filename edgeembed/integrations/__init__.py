"""Adapters for the frameworks users arrive from; each is an optional extra, imported only when
its module is: ``edgeembed.integrations.langchain`` (``langchain`` extra) and
``edgeembed.integrations.llama_index`` (``llama-index`` extra). Both take a bundle path or an
``Embedder``, embed queries and documents with the bundle's own prompts, and batch as
``Embedder.encode`` does."""
