"""The ``serve`` extra, checked at the door with the exact install command."""

from __future__ import annotations

from importlib.util import find_spec

from edgeembed.errors import MissingDependencyError

SERVE_PACKAGES = {
    "uvicorn": "uvicorn",
    "starlette": "starlette",
    "prometheus_client": "prometheus-client",
    "orjson": "orjson",
}


def require_serve_extra() -> None:
    """Raise naming ``pip install "edgeembed[serve]"`` when a server package is missing."""
    missing = [package for module, package in SERVE_PACKAGES.items() if find_spec(module) is None]
    if missing:
        raise MissingDependencyError(f'edgeembed serve needs {", ".join(missing)}: pip install "edgeembed[serve]"')
