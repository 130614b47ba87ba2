"""Start the device package's systemd ExecStart command and embed over HTTP (on the device).

    python serve_check.py PACKAGE_DIR VENV REFERENCE.npy

Runs inside the device venv (stdlib + numpy only). The unit's placeholders are filled as
install.sh fills them, its ``%d`` credentials directory is a private folder holding a 0600 key,
and its port is swapped for a free one. Prints one PASS/FAIL line per check and exits 1 on any
failure; the server is always stopped (SIGTERM, then kill).
"""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from device_check import SENTENCES, threshold

START_TIMEOUT_S = 900  # imports under qemu-user take minutes
KEY = "device-test-key"


def service_command(package: Path, venv: str, credentials: str, port: int) -> list[str]:
    unit = (package / "edgeembed.service").read_text()
    line = next(row for row in unit.splitlines() if row.startswith("ExecStart="))[len("ExecStart="):]
    line = line.replace("@VENV@", venv).replace("@HERE@", str(package)).replace("%d", credentials)
    return shlex.split(line.replace("--port 8080", f"--port {port}"))


def call(port: int, method: str, path: str, body: dict | None = None, key: str | None = KEY) -> tuple[int, object]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def main() -> int:
    package, venv, reference = Path(sys.argv[1]), sys.argv[2], np.load(sys.argv[3])
    results: list[tuple[bool, str]] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    credentials = tempfile.mkdtemp(prefix="edgeembed-credentials-")
    key_file = Path(credentials) / "api-key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    command = service_command(package, venv, credentials, port)
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S and server.poll() is None:
            try:
                if call(port, "GET", "/health", key=None)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(2)
        healthy = server.poll() is None and call(port, "GET", "/health", key=None)[0] == 200
        results.append((healthy, f"service command serves /health after {time.monotonic() - started:.0f} s: {' '.join(command[1:3])} ..."))
        if healthy:
            rows = [index for index, text in enumerate(SENTENCES) if text]  # "" is refused, as by OpenAI
            status, body = call(port, "POST", "/v1/embeddings", {"input": [SENTENCES[i] for i in rows], "model": "device"})
            vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32) if status == 200 else None
            floor = threshold(call(port, "GET", "/info")[1]["quantization"])
            if vectors is not None:
                expected = reference[rows]
                cosines = np.sum(vectors * expected, axis=1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(expected, axis=1)
                results.append((bool(cosines.min() >= floor), f"/v1/embeddings over HTTP vs x86: min cosine {cosines.min():.5f} (>= {floor})"))
            else:
                results.append((False, f"/v1/embeddings answered {status}: {body}"))
            status, body = call(port, "POST", "/embed", {"inputs": SENTENCES[:2]})
            results.append((status == 200 and len(body) == 2, f"TEI /embed answered {status}"))
            status, _ = call(port, "POST", "/v1/embeddings", {"input": ""})
            results.append((status == 400, f"an empty input answered {status} (400 expected)"))
            status, _ = call(port, "POST", "/v1/embeddings", {"input": "no key"}, key=None)
            results.append((status == 401, f"a request without the key answered {status} (401 expected)"))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(120)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        results.append((code == 0, f"SIGTERM: the server exited with status {code}"))
    for ok, message in results:
        print(("PASS " if ok else "FAIL ") + "serve: " + message)
    if not all(ok for ok, _ in results):
        print(server.stdout.read()[-3000:] if server.stdout else "")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
