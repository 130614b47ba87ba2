"""``edgeembed serve``: an HTTP embedding server with dynamic batching.

OpenAI-compatible ``POST /v1/embeddings``, TEI-style ``POST /embed``, ``GET /health``,
``/info`` and Prometheus ``/metrics``, on uvicorn + starlette (the ``serve`` extra). Nothing here
is imported by ``import edgeembed``; :func:`create_app` mounts the server into your own app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeembed.serve.settings import ServeSettings

if TYPE_CHECKING:
    from edgeembed.embed.embedder import Embedder

__all__ = ["ServeSettings", "create_app"]


def create_app(embedder: Embedder, settings: ServeSettings | None = None, **overrides: Any):
    """A starlette ASGI app serving ``embedder``; ``overrides`` are :class:`ServeSettings` fields.

    Mount it (``Mount("/embeddings", app=create_app(embedder))``) or run it with any ASGI server.
    """
    from edgeembed.serve.dependencies import require_serve_extra

    require_serve_extra()
    from edgeembed.serve.app import build_app

    settings = settings or ServeSettings()
    if overrides:
        settings = settings.replace(**overrides)
    return build_app(embedder, settings)
