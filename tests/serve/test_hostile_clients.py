"""Clients that abuse the connection rather than the JSON, against a real ``edgeembed serve`` on
127.0.0.1. Every socket loop is bounded in count and time, and every test stops its server."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
from servers import serving as serve_process

from edgeembed.tools.serve_load import free_port, request, start_server, stop_server


def serving(bundle, *options: str):
    return serve_process(bundle, *options, clean_exit=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 Hz)


def metric(port: int, name: str, labels: str = "") -> float:
    text = request(port, "GET", "/metrics")[1].decode()
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$" if labels else rf"^{re.escape(name)} ([0-9.e+]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def send_until_closed(port: int, head: bytes, chunk: bytes, total: int, seconds: float = 20.0) -> bytes:
    """Send ``head`` then ``chunk`` repeatedly up to ``total`` bytes; returns what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(head)
        sent, deadline = 0, time.monotonic() + seconds
        try:
            while sent < total and time.monotonic() < deadline:
                client.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server closed the connection: what we wanted
            pass
        try:
            return client.recv(65536)
        except OSError:
            return b""


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response: the head, then its Content-Length or chunked body (or up to EOF). A
    single ``recv`` may return the head alone, since the server may send head and body separately."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():  # a big answer is streamed: up to the last chunk
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    length = re.search(rb"^content-length:\s*(\d+)", head.lower(), re.M)
    while length is None or len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_huge_header_costs_little_and_gets_431(tiny_bundles):
    with serving(tiny_bundles["fp32"]) as (port, process):
        before = cpu_seconds(process.pid)
        answer = send_until_closed(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"a" * 65536, 64 * 1024 * 1024)
        spent = cpu_seconds(process.pid) - before
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
        assert spent < 0.05, f"the server spent {spent:.3f} s of CPU on one huge header"
        assert request(port, "GET", "/health")[0] == 200


def test_idle_and_trickling_connections_cannot_lock_out_a_client(tiny_bundles):
    with serving(tiny_bundles["fp32"], "--max-connections", "64", "--header-timeout", "1") as (port, _):
        idle = []
        try:
            for index in range(200):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                if index % 2:
                    sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # stalls mid-header
                idle.append(sock)
            started, statuses = time.monotonic(), []
            while time.monotonic() - started < 2 and statuses.count(200) < 5:
                statuses.append(request(port, "POST", "/v1/embeddings", {"input": "a normal client"})[0])
            assert statuses.count(200) >= 5, statuses
            time.sleep(1.5)  # past --header-timeout: the stalled ones were answered 408 and closed
            stalled = idle[-1]
            stalled.settimeout(2)
            assert stalled.recv(200).startswith(b"HTTP/1.1 408") or stalled.recv(1) == b""
        finally:
            for sock in idle:
                sock.close()


def test_a_client_gone_mid_body_is_not_an_internal_error(tiny_bundles):
    with serving(tiny_bundles["fp32"]) as (port, process):
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"input\": ")
        time.sleep(0.5)
        assert metric(port, "edgeembed_requests_total", '{route="/v1/embeddings",status="500"}') == 0
        assert process.poll() is None and request(port, "POST", "/v1/embeddings", {"input": "ok"})[0] == 200
    assert "Traceback" not in process.stdout.read()


def test_requests_whose_clients_left_never_reach_the_model(tiny_bundles):
    """Three bulk requests keep the model busy (about 0.5 s here) while 20 clients send a request
    and close at once; none of theirs may be computed."""
    bulk = [[f"bulk {b} text number {i} " + "word " * 40 for i in range(2048)] for b in range(3)]
    with serving(tiny_bundles["fp32"], "--cache-size", "0", "--max-queue", "16384") as (port, _):
        before = metric(port, "edgeembed_batch_size_sum")
        busy = [socket.create_connection(("127.0.0.1", port), timeout=120) for _ in bulk]
        try:
            for sock, texts in zip(busy, bulk, strict=True):
                body = json.dumps({"input": texts}).encode()
                sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            time.sleep(0.2)  # the first bulk request is in the model
            for index in range(20):  # 20 x 64 texts whose clients close right after sending
                gone = json.dumps({"input": [f"gone {index} {j}" for j in range(64)]}).encode()
                with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                    client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   + f"Content-Length: {len(gone)}\r\n\r\n".encode() + gone)
            statuses = [read_response(sock).split(b" ", 2)[1] for sock in busy]
        finally:
            for sock in busy:
                sock.close()
        assert statuses == [b"200"] * len(bulk)
        time.sleep(0.5)
        computed = metric(port, "edgeembed_batch_size_sum") - before
        bulk_texts = sum(len(texts) for texts in bulk)
        assert computed == bulk_texts, f"{computed - bulk_texts:.0f} texts of gone clients were computed"


def test_a_one_text_client_is_not_starved_by_64_bulk_clients(tiny_bundles):
    """Starvation is judged by order, not milliseconds: while a one-text query waits, at most a
    few of the 64 bulk clients' requests may finish before it (the batch running when it arrived
    and the one it rides in). Served oldest first, it would wait behind about 64 of them."""
    import asyncio

    from edgeembed.tools.serve_load import _post

    async def bulk(port: int, client: int, stop: asyncio.Event, statuses: list) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        while not stop.is_set() and sent < 200:
            body = json.dumps({"input": [f"bulk {client} {sent} {j} some words" for j in range(64)]}).encode()
            statuses.append((await _post(reader, writer, "/v1/embeddings", body))[0])
            sent += 1
        writer.close()

    async def lone(port: int, statuses: list) -> list[tuple[int, int]]:
        """(status, bulk requests computed while this query waited) for each of 48 queries."""
        results = []
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index in range(48):
            before = statuses.count(200)
            status, _ = await _post(reader, writer, "/v1/embeddings", json.dumps({"input": f"query {index}"}).encode())
            results.append((status, statuses.count(200) - before))
            await asyncio.sleep(0.02)
        writer.close()
        return results

    async def main(port: int):
        stop, statuses = asyncio.Event(), []
        clients = [asyncio.ensure_future(bulk(port, c, stop, statuses)) for c in range(64)]
        await asyncio.sleep(0.5)  # the queue is full of bulk requests
        results = await asyncio.wait_for(lone(port, statuses), 120)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), 120)
        return results, statuses

    with serving(tiny_bundles["fp32"], "--cache-size", "0", "--max-queue", "1024", "--max-inputs", "256") as (port, _):
        results, statuses = asyncio.run(main(port))
    overtaken = sorted(count for _, count in results)
    assert [status for status, _ in results] == [200] * 48
    assert overtaken[-2] <= 6, overtaken  # oldest first: about 1 in 6 queries waited behind 17 or more
    assert 503 in statuses  # the bulk clients were over the queue: shed, not the lone one


def test_sigterm_answers_slow_bodies_503_at_once_and_exits_0(tiny_bundles):
    import signal as signals

    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--graceful-timeout", "20"])
    slow = []
    try:
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"input\": ")
            slow.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signals.SIGTERM)
        answers = [read_response(sock) for sock in slow]
        code = process.wait(15)
        took = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
        stop_server(process, timeout_s=5)
    assert code == 0 and took < 5, (code, took)
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"retry-after" in head.lower(), head
        assert "shutting down" in json.loads(body)["error"]["message"]
    assert "Traceback" not in process.stdout.read()


def test_graceful_timeout_running_out_answers_json_503(tiny_bundles):
    import signal as signals

    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--graceful-timeout", "0.05", "--cache-size", "0",
                                                        "--max-queue", "16384"])
    clients, heads = [], []
    try:
        for index in range(6):  # queued one after another: the last ones outlive the timeout
            texts = [f"request {index} text {i} " + "word " * 40 for i in range(2048)]
            body = json.dumps({"input": texts}).encode()
            client = socket.create_connection(("127.0.0.1", port), timeout=60)
            client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            clients.append(client)
        time.sleep(0.3)
        process.send_signal(signals.SIGTERM)
        for client in clients:
            heads.append(read_response(client).partition(b"\r\n\r\n")[0].lower())
        assert process.wait(30) == 0
    finally:
        for client in clients:
            client.close()
        stop_server(process, timeout_s=5)
    refused = [head for head in heads if head.startswith(b"http/1.1 503")]
    assert refused, heads
    assert all(b"application/json" in head and b"retry-after" in head for head in refused)
    assert all(head.startswith((b"http/1.1 200", b"http/1.1 503")) for head in heads), heads
    assert "Traceback" not in process.stdout.read()


def test_long_texts_are_tokenized_off_the_event_loop(tiny_bundles):
    """Four clients sending 32 texts of 20,000 characters each: the server's own measure of how
    long its event loop was blocked (a 10 ms timer's lateness) stays under 50 ms, so /health and
    short queries are never stuck behind a tokenizer. Inline tokenizing is bounded by characters."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"input": ["word " * 4000] * 32}  # 20,000 characters per text, the default limit
    with serving(tiny_bundles["fp32"], "--cache-size", "0") as (port, _):
        with ThreadPoolExecutor(5) as pool:
            long_ones = [pool.submit(request, port, "POST", "/v1/embeddings", body) for _ in range(4 * 3)]
            health = [request(port, "GET", "/health")[0] for _ in range(20)]
            statuses = [future.result()[0] for future in long_ones]
        worst = metric(port, "edgeembed_event_loop_lag_max_seconds")
        samples = metric(port, "edgeembed_event_loop_lag_seconds_count")
    assert statuses == [200] * 12 and health == [200] * 20
    assert samples > 0 and worst < 0.05, f"the event loop was blocked for {worst * 1000:.0f} ms"


def test_slow_bodies_cannot_lock_out_a_client_and_time_out(tiny_bundles):
    """520 sockets that send a head declaring a body and then nothing: with 64 connections
    allowed, a normal client still gets its 200 (a slow body makes way for it), and a withheld
    body is answered 408 once --body-timeout has passed."""
    options = ("--max-connections", "64", "--body-timeout", "2")
    with serving(tiny_bundles["fp32"], *options) as (port, process):
        slow = []
        try:
            before = cpu_seconds(process.pid)
            for _ in range(520):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9999\r\n\r\n")
                slow.append(sock)
            started, statuses = time.monotonic(), []
            while time.monotonic() - started < 10 and statuses.count(200) < 5:
                statuses.append(request(port, "POST", "/v1/embeddings", {"input": "a normal client"})[0])
            assert statuses.count(200) >= 5 and statuses[0] == 200, statuses
            assert cpu_seconds(process.pid) - before < 5
        finally:
            for sock in slow:
                sock.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as withheld:  # one more, alone
            withheld.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9999\r\n\r\n{")
            answer = read_response(withheld)  # after --body-timeout (2 s) the server gives up on it
        assert answer.startswith(b"HTTP/1.1 408") and b"body did not arrive" in answer, answer[:160]
        assert process.poll() is None and request(port, "GET", "/health")[0] == 200


def test_a_pipelined_request_with_a_big_body_is_served_not_refused_as_a_header(tiny_bundles):
    """Two requests in one write, the second with a 40 KB body: its body bytes are body, not head."""
    small = json.dumps({"input": "first"}).encode()
    big = json.dumps({"input": ["second " * 400] * 12}).encode()  # about 40 KB
    assert len(big) > 32 * 1024
    head = b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with serving(tiny_bundles["fp32"]) as (port, _), socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(head + f"Content-Length: {len(small)}\r\n\r\n".encode() + small
                       + head + f"Content-Length: {len(big)}\r\n\r\n".encode() + big)
        first, second = read_responses(client, 2)
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200"), (first[:80], second[:80])
    assert len(json.loads(second.partition(b"\r\n\r\n")[2])["data"]) == 12


def read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole responses with Content-Length bodies, read from one connection in order."""
    buffer, answers = b"", []
    while len(answers) < count:
        head_end = buffer.find(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", buffer[:head_end]) if head_end >= 0 else None
        if length and len(buffer) >= head_end + 4 + int(length.group(1)):
            end = head_end + 4 + int(length.group(1))
            answers.append(buffer[:end])
            buffer = buffer[end:]
            continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
    return answers + [b""] * (count - len(answers))


def test_a_body_sent_a_byte_at_a_time_is_refused_early_and_cheaply(tiny_bundles):
    """Each piece of a body costs the server a parse and a wake-up however small it is: a body
    arriving in crumbs (256 pieces or more, under 32 bytes a piece) gets 400 and is closed."""
    body = json.dumps({"input": ["word " * 3000]}).encode()  # 15 KB
    with serving(tiny_bundles["fp32"]) as (port, process):
        before = cpu_seconds(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode())
            sent = 0
            try:
                for byte in body:
                    client.sendall(bytes([byte]))
                    sent += 1
                    time.sleep(0.001)  # each byte its own segment, even when the server is slow to read
            except OSError:  # the server closed the connection: what we wanted
                pass
            answer = read_response(client)
        spent = cpu_seconds(process.pid) - before
        assert answer.startswith(b"HTTP/1.1 400") and b"larger writes" in answer, answer[:120]
        assert sent < len(body) and spent < 1.0, (sent, spent)
        assert request(port, "POST", "/v1/embeddings", {"input": "a normal client"})[0] == 200


def test_a_one_text_query_beside_two_2048_text_clients_finishes_first(tiny_bundles):
    """Big requests are split into model-sized batches and the query rides in the next one: it is
    answered before either big request finishes (order, not milliseconds)."""
    import threading

    finished, lock = [], threading.Lock()

    def post(name: str, texts) -> None:
        status = request(port, "POST", "/v1/embeddings", {"input": texts})[0]
        with lock:
            finished.append((name, status))

    bulk = [[f"bulk {b} text {i} " + "word " * 30 for i in range(2048)] for b in range(2)]
    with serving(tiny_bundles["fp32"], "--cache-size", "0", "--max-queue", "8192") as (port, _):
        start = metric(port, "edgeembed_batch_size_count")
        threads = [threading.Thread(target=post, args=(f"bulk {b}", texts)) for b, texts in enumerate(bulk)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while metric(port, "edgeembed_batch_size_count") < start + 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # both big requests are queued and the model has begun on them
        post("query", "a lone query")
        for thread in threads:
            thread.join(120)
    assert finished[0] == ("query", 200), finished
    assert sorted(finished[1:]) == [("bulk 0", 200), ("bulk 1", 200)]
