"""Only what embedding needs: prune a downloaded wheelhouse along its dependency graph.

pip installs every declared dependency, and some are never used on the device. The table below
names the dependency edges the device does without; every wheel reachable from the roots
through the remaining edges (markers evaluated for the device's Python and architecture) is
kept, the rest are left out of the package, and the device installs the pinned set with
``--no-deps``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

# (distribution, dependency) -> why the device does without that dependency.
UNNEEDED_EDGES: dict[tuple[str, str], str] = {
    ("tokenizers", "huggingface-hub"): (
        "tokenizers imports huggingface_hub only for Tokenizer.from_pretrained (a hub download); "
        "edgeembed reads tokenizer.json from the bundle"
    ),
    **{
        ("ai-edge-litert", dependency): (
            "ai-edge-litert's Interpreter imports only numpy; its converter, CompiledModel and AOT "
            f"tools use {dependency}"
        )
        for dependency in ("protobuf", "ml-dtypes", "flatbuffers", "tqdm", "backports-strenum")
    },
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_class():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip always carries it
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def wheel_metadata(wheel: Path) -> tuple[str, list[str]]:
    """(normalized name, Requires-Dist lines) from a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        text = archive.read(member).decode("utf-8", errors="replace")
    name, requires = "", []
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:"):
            name = normalize(line.split(":", 1)[1].strip())
        elif line.startswith("Requires-Dist:"):
            requires.append(line.split(":", 1)[1].strip())
    return name, requires


def prune_wheelhouse(wheelhouse: Path, roots: list[str], python: str, arch: str) -> dict[str, str]:
    """Delete wheels the device never imports; returns ``{wheel file: reason}`` of those removed.

    ``roots`` are requirement strings (``"edgeembed[serve]"``, ``"ai-edge-litert"``).
    """
    requirement = _requirement_class()
    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_version": f"{python}.0",
        "platform_machine": arch,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
    }
    wheels = {}
    for wheel in wheelhouse.glob("*.whl"):
        name, requires = wheel_metadata(wheel)
        wheels[name] = (wheel, [requirement(line) for line in requires])
    keep: set[str] = set()
    pending = [requirement(root) for root in roots]
    while pending:
        wanted = pending.pop()
        name = normalize(wanted.name)
        if name in keep or name not in wheels:
            continue
        keep.add(name)
        extras = {""} | set(wanted.extras)
        for dependency in wheels[name][1]:
            if (name, normalize(dependency.name)) in UNNEEDED_EDGES:
                continue
            if dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                pending.append(dependency)
    removed = {}
    for name, (wheel, _) in sorted(wheels.items()):
        if name not in keep:
            wheel.unlink()
            removed[wheel.name] = _why(name, wheels)
    return removed


def _why(name: str, wheels: dict) -> str:
    for (_parent, child), reason in UNNEEDED_EDGES.items():
        if child == name:
            return reason
    return "needed only by wheels left out"
