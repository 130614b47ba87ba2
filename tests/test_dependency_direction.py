"""The package structure holds: imports point one way, and nothing imports itself in a circle.

Every module belongs to one layer by the package it lives in (``LAYERS``); ``MUST_NOT_IMPORT``
says what each layer may never import, function bodies included. The device side (the core,
``serve``, ``tools``, ``integrations``) never reaches into conversion, host tools, the CLI or a
heavy toolchain; the runtimes never import the embedding pipeline they serve; the server never
imports the CLI; conversion never imports the CLI, the device tools or the host tools (which
may use conversion: one direction). A second test fails on any import cycle, lazy imports included.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = {"edgeembed": "edgeembed", "converters": "edgeembed.converters", "runtimes": "edgeembed.runtimes"}
HEAVY = ("torch", "tensorflow", "transformers", "jax", "litert_torch", "ai_edge_quantizer", "onnx", "onnx2tf", "nncf", "sentence_transformers")
# Package prefix -> layer; the longest matching prefix wins. Top-level modules of edgeembed are core.
LAYERS = {
    "edgeembed": "core",
    "edgeembed.bundle": "core",
    "edgeembed.embed": "core",
    "edgeembed.runtimes": "runtimes",
    "edgeembed.serve": "serve",
    "edgeembed.integrations": "integrations",
    "edgeembed.tools": "tools",
    "edgeembed.cli": "cli",
    "edgeembed.host": "host",
    "edgeembed.converters": "converters",
}
DEVICE_NEVER = ("edgeembed.converters", "edgeembed.host", "edgeembed.cli", *HEAVY)
MUST_NOT_IMPORT = {
    "core": (*DEVICE_NEVER, "edgeembed.serve", "edgeembed.tools", "edgeembed.integrations"),
    # Backends run arrays; what the arrays mean (tokens, packing, pooling) is the pipeline's.
    "runtimes": (*DEVICE_NEVER, "edgeembed.serve", "edgeembed.tools", "edgeembed.integrations", "edgeembed.embed"),
    "serve": (*DEVICE_NEVER, "edgeembed.tools"),
    "tools": DEVICE_NEVER,
    "integrations": (*DEVICE_NEVER, "edgeembed.serve", "edgeembed.tools"),
    "host": ("edgeembed.cli",),
    # Host tools (bench, eval, package) use conversion; conversion never reaches back into them.
    "converters": ("edgeembed.cli", "edgeembed.tools", "edgeembed.serve", "edgeembed.integrations", "edgeembed.host"),
    "cli": (),
    "facade": ("edgeembed.cli", "edgeembed.host", *HEAVY),
}


def all_modules() -> dict[str, Path]:
    """Dotted name (as installed) -> file, for edgeembed/, converters/ and runtimes/."""
    found = {}
    for folder, package in SOURCE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [part for part in path.relative_to(ROOT / folder).with_suffix("").parts if part != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = all_modules()


def layer_of(module: str) -> str:
    if module == "edgeembed":
        return "facade"  # `import edgeembed`: Embedder and Bundle, and `convert` on first use
    package = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[package]


def imported_names(source: str, module: str, is_package: bool) -> list[str]:
    """Every module ``source`` imports, anywhere in the file, as absolute dotted names."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(parent[: len(parent) - node.level + 1] + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def forbidden_imports(source: str, module: str = "edgeembed.embed.example", is_package: bool = False) -> list[str]:
    """Modules ``source`` imports that ``module``'s layer must not import."""
    banned = MUST_NOT_IMPORT[layer_of(module)]
    found = imported_names(source, module, is_package)
    return sorted({name for name in found if any(name == bad or name.startswith(bad + ".") for bad in banned)})


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_layer_imports_only_what_it_may(module):
    path = MODULES[module]
    assert forbidden_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py") == []


def test_every_module_has_a_layer():
    assert {layer_of(module) for module in MODULES} <= set(MUST_NOT_IMPORT)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a ``from package import submodule`` counts)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges = set()
        for name in imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                edges.add(name)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in graph:
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checks_catch_what_they_are_for():
    assert forbidden_imports("def f():\n    from edgeembed.converters.sources import load_source\n")
    assert forbidden_imports("import torch.nn")
    assert forbidden_imports("from edgeembed.cli.options import BundleArgument", "edgeembed.serve.app")
    assert forbidden_imports("from ..cli import options", "edgeembed.serve.app")
    assert forbidden_imports("from edgeembed.tools.doctor import diagnose", "edgeembed.embed.embedder")
    assert forbidden_imports("import onnxruntime\nimport numpy") == []
    assert forbidden_imports("from edgeembed.embed.packing import pack_rows", "edgeembed.runtimes.litert")
    assert forbidden_imports("from edgeembed.host.bench import run_bench", "edgeembed.converters.pipeline")
    assert forbidden_imports("from edgeembed.converters.onnx import export_onnx", "edgeembed.host.bench") == []
    assert forbidden_imports("from edgeembed.host.bench import run_bench", "edgeembed.cli.measure") == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
