"""The device core never reaches into conversion or host tools, nor into heavy toolchains.

Core = every module of ``edgeembed/`` (but the CLI, the top layer that wires host commands in
lazily, and the ``edgeembed`` facade, whose ``convert`` attribute is the converters' own entry),
``edgeembed/serve/`` and ``runtimes/``. Every ``import`` is checked, function bodies included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LAYER = {"cli.py", "cli_measure.py", "cli_inputs.py", "choices.py", "__init__.py"}
FORBIDDEN = (
    "edgeembed.converters", "edgeembed.host", "converters", "torch", "tensorflow", "transformers",
    "jax", "litert_torch", "ai_edge_quantizer", "onnx", "onnx2tf", "nncf", "sentence_transformers",
)


def core_modules() -> list[Path]:
    core = [p for p in (ROOT / "edgeembed").glob("*.py") if p.name not in TOP_LAYER]
    return sorted(core + list((ROOT / "edgeembed" / "serve").glob("*.py")) + list((ROOT / "runtimes").glob("*.py")))


def forbidden_imports(source: str) -> list[str]:
    """Modules ``source`` imports anywhere that the core must not import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)]
    return sorted(set(found))


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_converters_host_tools_or_heavy_toolchains(module):
    assert forbidden_imports(module.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_core_module_importing_converters():
    assert forbidden_imports("def f():\n    from edgeembed.converters.sources import load_source\n")
    assert forbidden_imports("import torch.nn")
    assert forbidden_imports("from edgeembed import host\nfrom edgeembed.host.bench import run_bench")
    assert forbidden_imports("import onnxruntime\nimport numpy") == []
