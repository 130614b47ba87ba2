"""Run the server on uvicorn: verify and warm the bundle, then bind; drain on SIGTERM, exit 0."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from edgeembed.errors import InputError
from edgeembed.serve.dependencies import require_serve_extra
from edgeembed.serve.settings import ServeSettings

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_server(
    bundle: str | os.PathLike[str],
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int | None = None,
    device: str | None = None,
    embedding_cache_size: int | None = None,
    max_connections: int = 512,
    graceful_timeout_s: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``bundle`` until SIGTERM/SIGINT; returns after every accepted request is answered.

    The port opens only after the bundle's hashes are verified and the model has run once, so
    ``GET /health`` is 200 from the first connection. Beyond ``max_connections`` open
    connections uvicorn answers 503 at once, which bounds memory under overload.
    """
    require_serve_extra()
    import uvicorn

    from edgeembed.embedder import Embedder
    from edgeembed.serve.app import build_app

    embedder = Embedder.load(Path(bundle), threads=threads, device=device, embedding_cache_size=embedding_cache_size)
    app = build_app(embedder, settings)
    app.state.service.warm_up()
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
        limit_concurrency=max_connections, timeout_graceful_shutdown=graceful_timeout_s,
        server_header=False,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the stop signal after its graceful shutdown; with these handlers in
    # place that ends in a clean return (exit status 0), not death by signal.
    previous = {sig: signal.signal(sig, _after_shutdown) for sig in STOP_SIGNALS}
    try:
        server.run()
    except SystemExit as error:  # uvicorn exits 1 when it cannot bind
        if error.code:
            raise InputError(
                f"cannot serve on {host}:{port} (the port is in use or not allowed); choose another --port"
            ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _after_shutdown(signum: int, frame: object) -> None:
    """The stop signal, re-raised once the server has drained: nothing left to do."""
