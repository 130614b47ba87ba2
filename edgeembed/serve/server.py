"""Run the server on uvicorn: verify and warm the bundle, then bind; drain on SIGTERM, exit 0."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from edgeembed.errors import InputError
from edgeembed.serve.dependencies import require_serve_extra
from edgeembed.serve.settings import ServeSettings

if TYPE_CHECKING:
    import uvicorn

    from edgeembed.serve.service import EmbeddingService

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
    header_timeout_s: float = 10.0,
    body_timeout_s: float = 30.0,
    write_timeout_s: float = 30.0,
    max_header_bytes: int = 32 * 1024,
    graceful_timeout_s: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``bundle`` until SIGTERM/SIGINT; returns after every accepted request is answered.

    The port opens only after the bundle's hashes are verified and the model has run once, so
    ``GET /health`` is 200 from the first connection. Connections are bounded as
    ``edgeembed/serve/connections.py`` says: request heads up to ``max_header_bytes`` sent within
    ``header_timeout_s``, bodies within ``body_timeout_s`` of their head, at most
    ``max_connections`` open (idle and slow-body ones make way for new ones).
    """
    check_address(host, port)
    for name, value in (("--max-connections", max_connections), ("--max-header-kb", max_header_bytes // 1024)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    timeouts = (("--header-timeout", header_timeout_s), ("--body-timeout", body_timeout_s))
    for name, seconds in (*timeouts, ("--write-timeout", write_timeout_s)):
        if not 0 < seconds <= 3600:
            raise InputError(f"{name} must be within (0, 3600] seconds, got {seconds!r}")
    require_serve_extra()
    import uvicorn

    from edgeembed.embed.embedder import Embedder
    from edgeembed.serve.app import build_app
    from edgeembed.serve.connections import guarded_protocol

    embedder = Embedder.load(Path(bundle), threads=threads, device=device, embedding_cache_size=embedding_cache_size)
    app = build_app(embedder, settings)
    app.state.service.warm_up()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=guarded_protocol(
            max_header_bytes, header_timeout_s, max_connections, settings.retry_after_s, body_timeout_s, write_timeout_s
        ),
        timeout_graceful_shutdown=graceful_timeout_s,  # type: ignore[arg-type]  # seconds; fractions work
        server_header=False,
    )
    server = _draining_server(config, app.state.service)
    # uvicorn re-raises the stop signal after its graceful shutdown; with these handlers in
    # place that ends in a clean return (exit status 0), not death by signal.
    previous = {sig: signal.signal(sig, _after_shutdown) for sig in STOP_SIGNALS}
    try:
        server.run()
    except SystemExit as error:  # uvicorn exits 1 when it cannot bind
        if error.code:
            raise InputError(
                f"cannot serve on {host}:{port}: the port is in use or needs root, or {host} is not an "
                "address of this machine; choose another --port or --host"
            ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _draining_server(config: uvicorn.Config, service: EmbeddingService) -> uvicorn.Server:
    """uvicorn's server, telling the service when shutdown begins: requests still sending a body
    get a JSON 503 at once instead of holding the exit until --graceful-timeout."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
            service.begin_shutdown()
            await super().shutdown(sockets)

    return DrainingServer(config)


def check_address(host: str, port: int) -> None:
    """``--host`` must be an address or a name this machine resolves, ``--port`` 1..65535."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"--port must be a TCP port number within 1..65535, got {port!r}")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise InputError(
            f"--host {host!r} is neither an IP address nor a name this machine resolves; use "
            "127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        ) from None


def _after_shutdown(signum: int, frame: object) -> None:
    """The stop signal, re-raised once the server has drained: nothing left to do."""
