"""Shared fixtures: a tiny random BERT sentence-transformers folder and bundles made from it.

Everything is built offline in seconds from a ``transformers`` config and a small WordPiece
vocabulary; expensive conversions run once per session and tests get the paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import write_target, write_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return write_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    """fp32 and int8-full bundles of the tiny model (converted once per session)."""
    pytest.importorskip("litert_torch")
    from edgeembed.converters import convert

    root = tmp_path_factory.mktemp("tiny-bundles")
    bundles = {}
    for quantization in ("fp32", "int8-full"):
        out = root / quantization
        convert(tiny_model_dir, out=out, target=write_target(root, quantization))
        bundles[quantization] = out
    return bundles


@pytest.fixture()
def fp32_bundle(tiny_bundles, tmp_path) -> Path:
    """A private copy of the fp32 bundle, safe to damage."""
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundles["fp32"], copy)
    return copy
