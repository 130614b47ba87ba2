"""``edgeembed serve``: the CLI face of :func:`edgeembed.serve.server.run_server` (imports typer only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edgeembed.cli.options import BundleArgument, DeviceOption, JsonFlag, RoundsOption, ThreadsOption
from edgeembed.cli.output import user_errors
from edgeembed.errors import EdgeEmbedError, InputError

API_KEY_ENV = "EDGEEMBED_API_KEY"


def serve_command(
    bundle: BundleArgument,
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the server to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=API_KEY_ENV,
            show_envvar=True,
            help="Require 'Authorization: Bearer KEY' (prefer the env var or --api-key-file).",
        ),
    ] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="Read the key from this file (mode 0600 or 0400).")] = None,
    max_batch: Annotated[int, typer.Option(help="Texts per model batch.")] = 64,
    max_batch_tokens: Annotated[int, typer.Option(help="Tokens per model batch.")] = 16384,
    max_wait_ms: Annotated[float, typer.Option(help="Longest a request waits for others to join its batch.")] = 2.0,
    max_queue: Annotated[
        int, typer.Option(help="Texts waiting for the model; beyond: 503 with Retry-After (largest requests first).")
    ] = 2048,
    max_queue_wait_ms: Annotated[
        float, typer.Option(help="Longest a request waits for the model; beyond: 503 with Retry-After.")
    ] = 10_000.0,
    max_inputs: Annotated[int, typer.Option(help="Texts per request; beyond: 413.")] = 2048,
    max_body_mb: Annotated[float, typer.Option(help="Request body limit in MiB; beyond: 413.")] = 2.0,
    auto_truncate: Annotated[
        bool, typer.Option(help="Truncate texts over the token limit (and report it); off: 413.")
    ] = True,
    max_input_chars: Annotated[
        int | None, typer.Option(help="Characters per text; beyond: 413 (default max(20000, 16 x token limit)).")
    ] = None,
    model_name: Annotated[
        str | None, typer.Option(help="Model name in responses (default: the bundle's source).")
    ] = None,
    threads: ThreadsOption = None,
    device: DeviceOption = None,
    cache_size: Annotated[
        int | None, typer.Option(help="Embedding-cache entries (default: the bundle's; 0 = off).")
    ] = None,
    max_connections: Annotated[
        int, typer.Option(help="Open connections; a new one closes the oldest idle one, or gets 503 when all are busy.")
    ] = 512,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's headers; beyond: 408, closed.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's body after its head; beyond: 408, closed.")
    ] = 30.0,
    write_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a client may leave its answer unread while the send buffer is full; beyond: closed."
        ),
    ] = 30.0,
    max_header_kb: Annotated[
        int, typer.Option(help="Request line and headers limit in KiB; beyond: 431, closed.")
    ] = 32,
    graceful_timeout: Annotated[float, typer.Option(help="Seconds SIGTERM waits for accepted requests.")] = 30.0,
    cache_url: Annotated[
        str | None,
        typer.Option(
            envvar="EDGEEMBED_CACHE_URL",
            help="A cache shared by replicas: redis://HOST:6379/0 (Redis or Valkey; needs edgeembed[redis]).",
        ),
    ] = None,
    cache_ttl: Annotated[int, typer.Option(help="Seconds an entry lives in the shared cache.")] = 86_400,
    cache_timeout_ms: Annotated[
        float, typer.Option(help="Longest wait for the shared cache; beyond it (or on any error) the model answers.")
    ] = 50.0,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Without --api-key: a web page origin allowed to call the server, e.g. http://localhost:3000; '*' for any (repeatable)."
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Without --api-key: a Host name clients may use besides the loopback names; '*' for any (repeatable)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")] = "info",
) -> None:
    """Serve a bundle over HTTP: OpenAI /v1/embeddings, TEI /embed, /health, /info, /metrics."""
    from edgeembed.serve.server import run_server
    from edgeembed.serve.settings import MiB, ServeSettings, read_api_key_file

    with user_errors():
        if api_key and api_key_file:
            raise EdgeEmbedError("give --api-key (or $EDGEEMBED_API_KEY) or --api-key-file, not both")
        key = read_api_key_file(api_key_file) if api_key_file else api_key
        settings = ServeSettings(
            max_batch=max_batch,
            max_batch_tokens=max_batch_tokens,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            max_queue_wait_ms=max_queue_wait_ms,
            max_inputs=max_inputs,
            max_body_bytes=int(max_body_mb * MiB),
            auto_truncate=auto_truncate,
            max_input_chars=max_input_chars,
            api_key=key,
            model_name=model_name,
            allowed_origins=tuple(allow_origin or ()),
            cache_url=cache_url,
            cache_ttl_s=cache_ttl,
            cache_timeout_ms=cache_timeout_ms,
            allowed_hosts=allowed_hosts(host, allowed_host or []),
        )
        run_server(
            bundle,
            settings,
            host=host,
            port=port,
            threads=threads,
            device=device.value if device else None,
            embedding_cache_size=cache_size,
            max_connections=max_connections,
            header_timeout_s=header_timeout,
            body_timeout_s=body_timeout,
            write_timeout_s=write_timeout,
            max_header_bytes=max_header_kb * 1024,
            graceful_timeout_s=graceful_timeout,
            log_level=log_level,
        )


def allowed_hosts(bind: str, extra: list[str]) -> tuple[str, ...]:
    """The Host names a keyless server answers: on a loopback address, the loopback names and
    ``extra``; bound to the network, any (it cannot know every name it is reached by) unless
    ``extra`` lists them."""
    from edgeembed.serve.settings import LOOPBACK_NAMES

    names = tuple(name.strip().lower().strip("[]") for name in extra if name.strip())
    if bind in LOOPBACK_NAMES or bind.startswith("127."):
        return (*LOOPBACK_NAMES, bind, *names)
    return (*LOOPBACK_NAMES, bind, *names) if names else ("*",)


def bench_serve_command(
    bundle: BundleArgument,
    clients: Annotated[int, typer.Option(help="Concurrent clients in the concurrent rounds.")] = 32,
    requests: Annotated[
        int, typer.Option(help="Requests per round and mode, each a text the server has not seen.")
    ] = 400,
    rounds: RoundsOption = 3,
    server_option: Annotated[
        list[str] | None,
        typer.Option("--server-option", help="Extra 'edgeembed serve' option, e.g. --server-option=--max-wait-ms=5."),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            help="Also load another OpenAI-compatible server with the same texts in the same rounds, "
            "e.g. http://127.0.0.1:7997/v1/embeddings (yours, on this machine)."
        ),
    ] = None,
    against_model: Annotated[str, typer.Option(help="The 'model' field sent to the --against server.")] = "bench",
    as_json: JsonFlag = False,
) -> None:
    """Served speed of 'edgeembed serve' on 127.0.0.1 against offline encode (fresh server, bounded)."""
    from edgeembed.cli.output import console, errors
    from edgeembed.data import MAX_DISTINCT_TEXTS, distinct_texts
    from edgeembed.tools.serve_load import Target, load_test

    with user_errors():
        if requests < 1 or rounds < 1:
            raise InputError("--requests and --rounds must be at least 1")
        if 2 * rounds * requests > MAX_DISTINCT_TEXTS:
            raise InputError(
                f"--requests x --rounds is at most {MAX_DISTINCT_TEXTS // 2:,} (every request a new text); "
                f"got {requests} x {rounds}"
            )
        target = Target.parse(against, against_model) if against else None
        summary = load_test(
            bundle,
            distinct_texts(2 * rounds * requests),
            clients=clients,
            rounds=rounds,
            server_args=list(server_option or []),
            progress=lambda message: errors.print(message, markup=False),
            requests=requests,
            against=target,
        )
    if as_json:
        print(json.dumps(summary))
        return
    from edgeembed.cli.serve_load_table import print_load_test

    print_load_test(console, summary)
