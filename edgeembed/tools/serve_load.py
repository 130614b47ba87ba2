"""``edgeembed bench-serve``: a real server's speed and batching gain on loopback, against offline encode.

Starts ``edgeembed serve`` in a fresh process on a free 127.0.0.1 port (embedding cache off, so
every request reaches the model), then alternates rounds of one-text requests sent one at a time
and by ``clients`` concurrent clients (asyncio keep-alive connections), each round's texts new
to the server, and after each round ``encode`` at batch 32 on the same texts in a fresh process:
the offline speed the served speed is a share of.
Reports requests/s, p50/p99 latency, errors, the batch sizes the server's
``/metrics`` saw, and whether SIGTERM ended it with status 0. Bounded in requests and time.
It also reports the CPU the server and the load generator spent per request, and from the
concurrent rounds' figure the most requests/s this machine's cores could serve (the ceiling
on the batching gain where client and server share the cores).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edgeembed.errors import EdgeEmbedError
from edgeembed.tools.cpu_time import own_cpu_seconds, process_cpu_seconds
from edgeembed.tools.offline_rate import OFFLINE_BATCH, offline_rate
from edgeembed.tools.serve_report import RoundResult, against_comparison, batch_sizes, summarize, summarize_modes

START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0
ROUND_TIMEOUT_S = 600.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(bundle: str | os.PathLike[str], port: int, extra_args: list[str]) -> subprocess.Popen:
    """``edgeembed serve`` in a fresh process; returns once ``/health`` answers 200."""
    command = [
        sys.executable,
        "-m",
        "edgeembed.cli",
        "serve",
        str(bundle),
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra_args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EdgeEmbedError(
                f"the server exited with status {process.returncode}:\n{process.stdout.read()[-2000:] if process.stdout else ''}"
            )
        try:
            status, _ = request(port, "GET", "/health")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise EdgeEmbedError(f"the server did not become healthy within {START_TIMEOUT_S:.0f} s")


def stop_server(process: subprocess.Popen, timeout_s: float = 60.0) -> int:
    """SIGTERM, then the exit status (SIGKILL after ``timeout_s``: reported as -9)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def request(
    port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, payload, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass(frozen=True)
class Target:
    """Where the load goes: an OpenAI-compatible embeddings route over plain HTTP."""

    host: str
    port: int
    path: str = "/v1/embeddings"
    model: str = "bench"

    @classmethod
    def parse(cls, url: str, model: str = "bench") -> Target:
        """``http://HOST:PORT[/PATH]``; a bare address or ``/v1`` means ``/v1/embeddings``."""
        parsed = urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise EdgeEmbedError(f"--against {url!r}: give http://HOST:PORT[/v1/embeddings] (plain HTTP)")
        path = parsed.path.rstrip("/")
        path = (
            path
            if path.endswith("/embeddings")
            else path + ("/embeddings" if path.endswith("/v1") else "/v1/embeddings")
        )
        return cls(parsed.hostname, parsed.port or 80, path, model)


def run_round(target: int | Target, texts: list[str], clients: int, mode: str) -> RoundResult:
    """Each text as its own OpenAI request, from ``clients`` keep-alive connections (``target``: a
    port of this machine's edgeembed server, or another server)."""
    return asyncio.run(_round(Target("127.0.0.1", target) if isinstance(target, int) else target, texts, clients, mode))


async def _round(target: Target, texts: list[str], clients: int, mode: str) -> RoundResult:
    pending = list(reversed(texts))
    result = RoundResult(mode, clients, 0.0)

    async def client() -> None:
        connection = None
        while pending:
            text = pending.pop()
            body = json.dumps({"input": text, "model": target.model, "encoding_format": "base64"}).encode()
            started = time.perf_counter()
            try:
                connection = connection or await asyncio.open_connection(target.host, target.port)
                status, payload = await _post(*connection, target.path, body, target.host)
                error = None if status == 200 else f"{status}: {payload[:200]!r}"
            except (OSError, asyncio.IncompleteReadError, ValueError) as failure:
                error, connection = f"{type(failure).__name__}: {failure}", None
            elapsed = time.perf_counter() - started
            (result.errors.append(error) if error else result.latencies_s.append(elapsed))
        if connection is not None:
            connection[1].close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), ROUND_TIMEOUT_S)
    result.seconds = time.perf_counter() - started
    return result


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes, host: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 POST; the load generator stays light so it measures the server."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
    status = int(header.split(b" ", 2)[1])
    match = re.search(rb"(?im)^content-length:\s*(\d+)", header)
    if match is None:
        raise ValueError("response without Content-Length")
    return status, await reader.readexactly(int(match.group(1)))


def load_test(
    bundle: str | os.PathLike[str],
    texts: list[str],
    clients: int = 32,
    rounds: int = 3,
    server_args: list[str] | None = None,
    progress=lambda message: None,
    requests: int | None = None,
    offline: bool = True,
    against: Target | None = None,
) -> dict:
    """Interleaved rounds against one fresh server; a JSON-able summary.

    Each round sends ``requests`` texts one at a time, then ``requests`` more from ``clients``
    concurrent clients, then (``offline``) embeds the concurrent texts with ``encode`` at batch 32
    in a fresh process with the server's threads: the speed the server is held against. The texts
    are taken from ``texts`` in order, so a pool of ``2 * rounds * requests`` distinct texts
    means no text is ever sent twice (``requests`` defaults to all of ``texts``, each time).
    ``against`` (another OpenAI-compatible server) gets the same two modes with the same texts in
    each round, right after this server: both see each text once, neither from a cache of the other.
    """
    count = len(texts) if requests is None else requests
    if clients < 2 or rounds < 1 or count < 1 or not texts:
        raise EdgeEmbedError("bench-serve needs --clients >= 2, --rounds >= 1 and at least one text")
    slices = _slices(texts, count)
    threads = _option_value(server_args or [], "--threads")
    port = free_port()
    progress(f"starting the server on 127.0.0.1:{port}")
    process = start_server(
        Path(bundle), port, ["--cache-size", "0", *(server_args or [])]
    )  # every request reaches the model
    results: list[RoundResult] = []
    others: list[RoundResult] = []
    baselines: list[dict] = []
    try:
        run_round(port, [f"warm-up request {index}" for index in range(32)], clients, "warm-up")
        if against is not None:
            run_round(against, [f"warm-up request {index}" for index in range(32)], clients, "warm-up")
        concurrent = {"batches": 0.0, "texts": 0.0}
        for number in range(rounds):
            for mode, clients_now in (("one at a time", 1), (f"{clients} concurrent", clients)):
                progress(f"round {number + 1}/{rounds}: {mode}")
                round_texts = next(slices)
                before = _batch_counters(port)
                results.append(_measured_round(process.pid, port, round_texts, clients_now, mode))
                if clients_now > 1:
                    after = _batch_counters(port)
                    concurrent = {key: concurrent[key] + after[key] - before[key] for key in concurrent}
                if against is not None:
                    progress(f"round {number + 1}/{rounds}: {mode}, against {against.host}:{against.port}")
                    others.append(run_round(against, round_texts, clients_now, mode))
            if offline:
                progress(f"round {number + 1}/{rounds}: offline encode at batch {OFFLINE_BATCH}")
                baselines.append(offline_rate(Path(bundle), round_texts, None if threads is None else int(threads)))
        status, metrics = request(port, "GET", "/metrics")
    finally:
        exit_status = stop_server(process)
    batches = batch_sizes(metrics.decode()) if status == 200 else {}
    batches["concurrent_mean_batch"] = concurrent["texts"] / concurrent["batches"] if concurrent["batches"] else 0.0
    summary = summarize(results, batches, exit_status, count, offline=baselines)
    if against is not None:
        url = f"http://{against.host}:{against.port}{against.path}"
        summary["against"] = against_comparison(url, summarize_modes(others), summary["modes"])
    return summary


def _slices(texts: list[str], count: int) -> Iterator[list[str]]:
    """Consecutive ``count``-text slices of ``texts``, starting over when it runs out."""
    start = 0
    while True:
        if start + count > len(texts):
            start = 0
        yield [texts[(start + index) % len(texts)] for index in range(count)]
        start += count


def _option_value(args: list[str], name: str) -> str | None:
    """The value of ``name`` in ``args`` (``--name=value`` or ``--name value``), or None."""
    for index, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def _measured_round(pid: int, port: int, texts: list[str], clients: int, mode: str) -> RoundResult:
    """``run_round`` with the CPU time the server and this load generator spent on it."""
    server_before, client_before = process_cpu_seconds(pid), own_cpu_seconds()
    result = run_round(port, texts, clients, mode)
    server_after, client_after = process_cpu_seconds(pid), own_cpu_seconds()
    if server_before is not None and server_after is not None:
        result.server_cpu_s = server_after - server_before
    result.client_cpu_s = client_after - client_before
    return result


def _batch_counters(port: int) -> dict[str, float]:
    status, body = request(port, "GET", "/metrics")
    stats = batch_sizes(body.decode()) if status == 200 else {}
    return {"batches": stats.get("batches", 0.0), "texts": stats.get("batches", 0.0) * stats.get("mean_batch", 0.0)}
