"""Conversion: PyTorch model -> verified bundle. Needs the ``convert`` extra.

Routes are a table of strings resolved on first use, so listing them imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from edgeembed.converters.route_table import (
    CONVERT_EXTRA_MODULES,
    CONVERTER_CHOICES,
    ROUTES,
    Route,
    require_convert_extra,
    require_route,
    resolve_route,
    route_name,
)
from edgeembed.native_log import verbose

__all__ = [
    "CONVERTER_CHOICES",
    "CONVERT_EXTRA_MODULES",
    "ROUTES",
    "Route",
    "convert",
    "require_convert_extra",
    "require_route",
    "resolve_route",
    "route_name",
]

if not verbose():  # native TF/absl INFO lines and torch's import-time notices, read at load time
    import logging
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)


def convert(*args: Any, **kwargs: Any):
    """Convert a model to a bundle; see :func:`edgeembed.converters.pipeline.convert`."""
    require_convert_extra()
    from edgeembed.converters.pipeline import convert as run

    return run(*args, **kwargs)
