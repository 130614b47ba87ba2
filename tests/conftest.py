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


# --- The fast tier: a hand-built bundle run by a numpy backend (numpy + tokenizers only) ------

CONVERSION_FIXTURES = {"tiny_model_dir", "tiny_bundles", "fp32_bundle", "default_bundle", "int8_full_bundle", "route_bundles"}


FAST_TIER = "not convert and not slow and not routes"
CONVERT_STACK = ("torch", "transformers", "litert_torch", "ai_edge_litert", "onnxruntime", "openvino")


def pytest_configure(config):
    """The whole suite needs the convert extras: without them, fail loudly rather than skip."""
    from importlib.util import find_spec

    missing = [name for name in CONVERT_STACK if find_spec(name) is None]
    if missing and "not convert" not in (config.option.markexpr or ""):
        raise pytest.UsageError(
            f"the full suite needs {', '.join(missing)} (bash scripts/test.sh installs them); "
            f'without them run the fast tier: pytest -m "{FAST_TIER}"'
        )


def pytest_collection_modifyitems(config, items):
    """Tests that need a real conversion (torch, litert-torch) are marked ``convert``, so
    ``-m "not convert and not slow and not routes"`` selects the fast tier."""
    for item in items:
        if CONVERSION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.convert)


@pytest.fixture(scope="session")
def fake_bundle_dirs(tmp_path_factory) -> dict[str, Path]:
    from fakes import write_fake_bundle

    root = tmp_path_factory.mktemp("fake-bundles")
    return {"bucketed": write_fake_bundle(root / "bucketed"), "packed": write_fake_bundle(root / "packed", packed=True)}


@pytest.fixture()
def fake_runtime(monkeypatch):
    """Bundles of format "onnx" run in the numpy backend for this test."""
    from edgeembed import runtimes

    monkeypatch.setitem(runtimes.BACKENDS, "numpy-fake", "fakes:NumpyBackend")
    monkeypatch.setitem(runtimes.FORMAT_DEFAULT_BACKEND, "onnx", "numpy-fake")


@pytest.fixture()
def fake_bundle(fake_bundle_dirs, fake_runtime) -> Path:
    return fake_bundle_dirs["bucketed"]


@pytest.fixture()
def fake_packed_bundle(fake_bundle_dirs, fake_runtime) -> Path:
    return fake_bundle_dirs["packed"]
