"""``edgeembed serve``: the CLI face of :func:`edgeembed.serve.server.run_server` (imports typer only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from edgeembed.choices import Device
from edgeembed.errors import EdgeEmbedError

API_KEY_ENV = "EDGEEMBED_API_KEY"


def serve_command(
    bundle: Path = typer.Argument(..., help="Bundle directory."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 exposes the server to the network."),
    port: int = typer.Option(8080, help="TCP port."),
    api_key: Optional[str] = typer.Option(
        None, envvar=API_KEY_ENV, show_envvar=True, help="Require 'Authorization: Bearer KEY' (prefer the env var or --api-key-file)."
    ),
    api_key_file: Optional[Path] = typer.Option(None, help="Read the key from this file (mode 0600 or 0400)."),
    max_batch: int = typer.Option(64, help="Texts per model batch."),
    max_batch_tokens: int = typer.Option(16384, help="Tokens per model batch."),
    max_wait_ms: float = typer.Option(2.0, help="Longest a request waits for others to join its batch."),
    max_queue: int = typer.Option(2048, help="Texts waiting for the model; beyond: 503 with Retry-After."),
    max_inputs: int = typer.Option(2048, help="Texts per request; beyond: 413."),
    max_body_mb: float = typer.Option(2.0, help="Request body limit in MiB; beyond: 413."),
    auto_truncate: bool = typer.Option(True, help="Truncate texts over the token limit (and report it); off: 413."),
    max_input_chars: Optional[int] = typer.Option(None, help="Characters per text; beyond: 413 (default max(20000, 16 x token limit))."),
    model_name: Optional[str] = typer.Option(None, help="Model name in responses (default: the bundle's source)."),
    threads: Optional[int] = typer.Option(None, help="Runtime threads (default: the bundle's, capped at the cores)."),
    device: Optional[Device] = typer.Option(None, help="Run on this device (default: the bundle's)."),
    cache_size: Optional[int] = typer.Option(None, help="Embedding-cache entries (default: the bundle's; 0 = off)."),
    max_connections: int = typer.Option(512, help="Open connections; beyond: 503 at once."),
    graceful_timeout: float = typer.Option(30.0, help="Seconds SIGTERM waits for accepted requests."),
    log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve a bundle over HTTP: OpenAI /v1/embeddings, TEI /embed, /health, /info, /metrics."""
    from edgeembed.cli import fail
    from edgeembed.serve.server import run_server
    from edgeembed.serve.settings import MiB, ServeSettings, read_api_key_file

    try:
        if api_key and api_key_file:
            raise EdgeEmbedError("give --api-key (or $EDGEEMBED_API_KEY) or --api-key-file, not both")
        key = read_api_key_file(api_key_file) if api_key_file else api_key
        settings = ServeSettings(
            max_batch=max_batch, max_batch_tokens=max_batch_tokens, max_wait_ms=max_wait_ms,
            max_queue=max_queue, max_inputs=max_inputs, max_body_bytes=int(max_body_mb * MiB),
            auto_truncate=auto_truncate, max_input_chars=max_input_chars, api_key=key, model_name=model_name,
        )
        run_server(
            bundle, settings, host=host, port=port, threads=threads, device=device.value if device else None,
            embedding_cache_size=cache_size,            max_connections=max_connections, graceful_timeout_s=graceful_timeout, log_level=log_level,
        )
    except EdgeEmbedError as error:
        fail(error)


def bench_serve_command(
    bundle: Path = typer.Argument(..., help="Bundle directory."),
    clients: int = typer.Option(32, help="Concurrent clients in the concurrent rounds."),
    requests: int = typer.Option(400, help="Single-sentence requests per round."),
    rounds: int = typer.Option(3, help="Interleaved rounds of each mode."),
    server_option: Optional[List[str]] = typer.Option(
        None, "--server-option", help="Extra 'edgeembed serve' option, e.g. --server-option=--max-wait-ms=5."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Measure the batching gain of 'edgeembed serve' on 127.0.0.1 (fresh server, bounded)."""
    from edgeembed.cli import console, errors, fail
    from edgeembed.serve.loadtest import load_test
    from edgeembed.texts import builtin_texts

    sentences = builtin_texts("holdout")
    texts = [sentences[i % len(sentences)] for i in range(max(1, requests))]
    try:
        summary = load_test(
            bundle, texts, clients=clients, rounds=rounds, server_args=list(server_option or []),
            progress=lambda message: errors.print(message, markup=False),
        )
    except EdgeEmbedError as error:
        fail(error)
    if as_json:
        print(json.dumps(summary))
        return
    from edgeembed.serve.report import print_load_test

    print_load_test(console, summary)
