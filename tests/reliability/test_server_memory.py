"""A server's caches are bounded in bytes: clients sending huge texts cannot grow it for good."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
from edgeembed.tools.serve_load import free_port, start_server, stop_server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def post(port: int, body: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
        client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        return int(client.recv(64).split(b" ", 2)[1])


def test_requests_of_huge_emoji_texts_leave_rss_near_its_start(tiny_bundles):
    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--max-body-mb", "4"])
    try:
        post(port, json.dumps({"input": ["warm up"] * 24}).encode())
        start = rss_mb(process.pid)
        statuses = set()
        for index in range(90):  # each text distinct: every one misses the caches
            texts = [f"{index}-{j} " + "🙂" * 19_990 for j in range(24)]  # the default limit: 20,000 chars
            statuses.add(post(port, json.dumps({"input": texts}, ensure_ascii=False).encode()))
        grown = rss_mb(process.pid) - start
        assert statuses == {200}, statuses
        assert grown < 100, f"RSS grew by {grown:.0f} MB"
    finally:
        assert stop_server(process, timeout_s=30) == 0


def test_clients_that_never_read_their_answer_cost_little_memory_and_are_dropped(tiny_bundles):
    """100 clients each ask for 2,048 copies of one text and never read: the repeated text is held
    once, the answer is written in chunks (the socket's buffer fills, then the writer waits), and
    --write-timeout drops each connection with what it held."""
    import time

    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--write-timeout", "3", "--max-connections", "256"])
    sockets = []
    try:
        post(port, json.dumps({"input": ["warm up"] * 24}).encode())
        start = rss_mb(process.pid)
        body = json.dumps({"input": ["the same short text"] * 2048}).encode()
        for _ in range(100):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never recv
            client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            sockets.append(client)
        time.sleep(2.0)  # every answer computed and stuck in its socket
        grown = rss_mb(process.pid) - start
        time.sleep(4.0)  # past --write-timeout
        assert post(port, json.dumps({"input": ["still serving"]}).encode()) == 200
    finally:
        for client in sockets:
            client.close()
        code = stop_server(process)
    assert grown < 100, f"100 clients that never read raised RSS by {grown:.0f} MB"
    assert code == 0
