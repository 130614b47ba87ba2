"""The server is an extra: the device path and the CLI never import it until ``serve`` runs."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_MODULES = ("uvicorn", "starlette", "prometheus_client", "httptools", "anyio", "orjson")


def test_import_edgeembed_and_the_cli_load_no_server_packages():
    code = (
        "import sys, json, edgeembed, edgeembed.cli.app, edgeembed.serve;"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_MODULES!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_missing_extra_names_the_install_command(monkeypatch):
    from edgeembed.errors import MissingDependencyError
    from edgeembed.serve import dependencies

    monkeypatch.setattr(dependencies, "find_spec", lambda name: None if name == "uvicorn" else object())
    try:
        dependencies.require_serve_extra()
    except MissingDependencyError as error:
        assert 'pip install "edgeembed[serve]"' in str(error) and "uvicorn" in str(error)
    else:
        raise AssertionError("no error for a missing uvicorn")
