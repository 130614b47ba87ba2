"""A real ``edgeembed serve`` process on 127.0.0.1: the official openai client, faults over
HTTP, overload, SIGTERM under load and the bounded load test. Every test stops its server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("uvicorn")
from servers import serving

from edgeembed.embed.embedder import Embedder
from edgeembed.tools.serve_load import _post, free_port, request, start_server, stop_server

TEXTS = ["a dog runs in the park", "the cat sleeps on the sofa", "rain is expected tomorrow"]




def test_openai_client_gets_what_encode_gives(tiny_bundles):
    openai = pytest.importorskip("openai")
    expected = Embedder.load(tiny_bundles["fp32"], embedding_cache_size=0).encode(TEXTS)
    with serving(tiny_bundles["fp32"], "--api-key", "test-key") as (port, _):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test-key", max_retries=0)
        response = client.embeddings.create(model="tiny", input=TEXTS)
        vectors = np.array([item.embedding for item in response.data], dtype=np.float32)
        cos = np.sum(vectors * expected, axis=1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(expected, axis=1)
        assert cos.min() >= 0.99999 and response.usage.prompt_tokens > len(TEXTS)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0).embeddings.create(
                model="tiny", input="x"
            )
        status, body = request(port, "POST", "/embed", {"inputs": TEXTS}, {"Authorization": "Bearer test-key"})
        assert status == 200 and np.allclose(np.array(json.loads(body)), expected, atol=1e-5)


def test_faults_over_http_leave_the_server_up(tiny_bundles):
    with serving(tiny_bundles["fp32"]) as (port, process):
        cases = [
            ({"input": "word " * 20_000}, 413, "has 100000 characters"),
            ({"input": ["t"] * 5000}, 413, "at most 2048 per request"),
            ({"input": "pad" * (10 * 1024 * 1024 // 3)}, 413, "request body is"),
            ({"input": {"nested": 1}}, 400, "must be a string or a list"),
        ]
        for body, status, message in cases:
            got, payload = request(port, "POST", "/v1/embeddings", body)
            assert got == status and message in json.loads(payload)["error"]["message"]
        got, payload = request(port, "POST", "/v1/embeddings", None, {"Content-Length": "0"})
        assert got == 400
        assert process.poll() is None
        assert request(port, "POST", "/v1/embeddings", {"input": "still here"})[0] == 200


async def _fire(port: int, bodies: list[dict]) -> list[int | str]:
    async def one(body: dict) -> int | str:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, _ = await _post(reader, writer, "/v1/embeddings", json.dumps(body).encode())
            writer.close()
            return status
        except (OSError, asyncio.IncompleteReadError) as error:
            return type(error).__name__

    return await asyncio.gather(*(one(body) for body in bodies))


def test_overload_beyond_the_queue_is_refused_with_retry_after(tiny_bundles):
    with serving(tiny_bundles["fp32"], "--max-queue", "8", "--max-inputs", "8", "--max-batch", "8", "--cache-size", "0") as (port, process):
        bodies = [{"input": [f"request {i} text {k}" for k in range(8)]} for i in range(48)]
        statuses = asyncio.run(_fire(port, bodies))
        assert set(statuses) <= {200, 503} and 200 in statuses
        assert 503 in statuses, "48 concurrent requests of 8 texts never filled a queue of 8"
        assert process.poll() is None
        _, metrics = request(port, "GET", "/metrics")
        assert "edgeembed_queue_rejected_total" in metrics.decode()


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0(tiny_bundles):
    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--cache-size", "0", "--max-batch", "4"])

    async def scenario() -> list:
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(24)]
        bodies = [json.dumps({"input": [f"text {i} {k}" for k in range(6)]}).encode() for i in range(24)]
        tasks = [asyncio.ensure_future(_post(r, w, "/v1/embeddings", b)) for (r, w), b in zip(connections, bodies)]
        await asyncio.sleep(0.05)  # every request is written and accepted
        process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
        assert [r[0] if isinstance(r, tuple) else repr(r) for r in results] == [200] * 24
        assert process.wait(60) == 0
    finally:
        stop_server(process, timeout_s=5)


def test_bench_serve_reports_batching_and_a_clean_exit(tiny_bundles):
    done = subprocess.run(
        [sys.executable, "-m", "edgeembed.cli", "bench-serve", str(tiny_bundles["fp32"]),
         "--requests", "96", "--rounds", "1", "--clients", "16", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(mode["errors"] == 0 for mode in summary["modes"].values())
    assert summary["server_batches"]["batches_over_1"] > 0 and summary["server_exit_status"] == 0
    if sys.platform.startswith("linux"):
        assert all(mode["server_cpu_ms_per_request"] > 0 for mode in summary["modes"].values())
        assert summary["cpu_ceiling"]["requests_per_s"] > 0 and summary["cpu_ceiling"]["batching_gain"] > 0
        assert summary["offline"]["server_cpu_vs_model"] > 0
    offline = summary["offline"]  # encode at batch 32 on the same texts, in a fresh process
    assert offline["batch_size"] == 32 and offline["texts_per_s"] > 0 and 0 < offline["served_share"] < 10


def test_serve_cli_refuses_a_key_file_others_can_read_and_a_busy_port(tiny_bundles, tmp_path):
    key = tmp_path / "key"
    key.write_text("k\n")
    key.chmod(0o644)
    command = [sys.executable, "-m", "edgeembed.cli", "serve", str(tiny_bundles["fp32"])]
    loose = subprocess.run([*command, "--api-key-file", str(key)], capture_output=True, text=True, timeout=120)
    assert loose.returncode == 1 and f"chmod 600 {key}" in loose.stderr and "Traceback" not in loose.stderr
    with serving(tiny_bundles["fp32"]) as (port, _):
        busy = subprocess.run([*command, "--port", str(port)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "EDGEEMBED_API_KEY": ""})
        assert busy.returncode == 1 and "choose another --port" in busy.stderr and "Traceback" not in busy.stderr
