"""``GET /openapi.json`` describes the routes, and schemathesis fuzzes a real server from it
(loopback, bounded by examples and time) without one server error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
from edgeembed.tools.serve_load import free_port, request, start_server, stop_server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_openapi_describes_every_route(fake_bundle):
    from starlette.testclient import TestClient

    from edgeembed.embed.embedder import Embedder
    from edgeembed.serve import create_app

    with TestClient(create_app(Embedder.load(fake_bundle), api_key="k")) as client:
        document = client.get("/openapi.json").json()  # open, like /health
    assert document["openapi"].startswith("3.1")
    assert {"/v1/embeddings", "/embed", "/v1/models", "/info", "/metrics", "/health"} <= set(document["paths"])
    assert document["paths"]["/v1/embeddings"]["post"]["security"] == [{"bearer": []}]
    assert document["paths"]["/health"]["get"]["security"] == []


def test_schemathesis_finds_no_server_error(tiny_bundles, tmp_path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    if st is None:
        pytest.skip("schemathesis is not installed (edgeembed[dev])")
    port = free_port()
    process = start_server(tiny_bundles["fp32"], port, ["--api-key", "fuzz-key"])
    try:
        done = subprocess.run(
            [st, "run", f"http://127.0.0.1:{port}/openapi.json", "--checks", CHECKS, "--max-examples", "15",
             "--max-time", "40", "--seed", "7", "--request-timeout", "30", "-H", "Authorization: Bearer fuzz-key",
             "--report", "ndjson", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout[-4000:]
        metrics = request(port, "GET", "/metrics", None, {"Authorization": "Bearer fuzz-key"})[1].decode()
        assert 'status="500"' not in metrics
        assert json.loads(request(port, "GET", "/health")[1])["status"] == "ok"
    finally:
        assert stop_server(process, timeout_s=30) == 0
