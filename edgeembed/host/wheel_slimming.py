"""Only what embedding loads: leave out of third-party wheels the files the device never opens.

Some wheels ship parts a Pi never uses: LiteRT's WebGPU accelerator (17 MB; the CompiledModel
loads it even for a CPU-only model, and on ARMv8.0 cores such as the Pi 4's it kills the process
with SIGILL, see ``runtimes/litert_executor.py``) and numpy's own test suite (6 MB). The table below names them; ``slim_wheelhouse`` rewrites each matching wheel without
them (same file name, ``RECORD`` updated, temp file then rename), and the package's
``requirements.txt`` pins the rewritten file's sha256. Everything else is copied byte for byte.
"""

from __future__ import annotations

import fnmatch
import os
import zipfile
from pathlib import Path

from edgeembed.host.wheel_pruning import normalize

# distribution -> ((file pattern inside the wheel, why the device does without it), ...)
UNUSED_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "ai-edge-litert": (
        (
            "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
            "LiteRT's WebGPU accelerator: edgeembed runs LiteRT on the CPU (XNNPACK), and the "
            "CompiledModel that loads it dies with SIGILL on ARMv8.0 cores (Pi 4, Pi 3, Zero 2 W)",
        ),
    ),
    "numpy": (
        ("numpy/tests/*", "numpy's own test suite"),
        ("numpy/*/tests/*", "numpy's own test suite"),
    ),
}


def unused_reason(distribution: str, member: str) -> str | None:
    """Why ``member`` of ``distribution``'s wheel is left out, or None when the device needs it."""
    for pattern, why in UNUSED_FILES.get(normalize(distribution), ()):
        if fnmatch.fnmatchcase(member, pattern):
            return why
    return None


def slim_wheel(wheel: Path) -> dict[str, int | str] | None:
    """Rewrite ``wheel`` without its unused files; returns what was left out, None if nothing."""
    distribution = wheel.name.split("-", 1)[0]
    with zipfile.ZipFile(wheel) as source:
        members = source.infolist()
        reasons = {m.filename: unused_reason(distribution, m.filename) for m in members}
        dropped = {name: why for name, why in reasons.items() if why}
        if not dropped:
            return None
        temporary = wheel.with_name(wheel.name + ".partial")
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            for member in members:
                if member.filename in dropped:
                    continue
                data = source.read(member)
                if member.filename.endswith(".dist-info/RECORD"):
                    data = _record_without(data, dropped)
                target.writestr(member, data, compress_type=zipfile.ZIP_DEFLATED)
    os.replace(temporary, wheel)
    sizes = {m.filename: m.file_size for m in members if m.filename in dropped}
    return {"files": len(dropped), "bytes": sum(sizes.values()), "why": "; ".join(sorted(set(dropped.values())))}


def slim_wheelhouse(wheelhouse: Path) -> dict[str, dict[str, int | str]]:
    """Slim every wheel the table names; ``{wheel file: {"files", "bytes", "why"}}``."""
    slimmed = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        if normalize(wheel.name.split("-", 1)[0]) in UNUSED_FILES:
            left_out = slim_wheel(wheel)
            if left_out:
                slimmed[wheel.name] = left_out
    return slimmed


def _record_without(record: bytes, dropped: dict[str, str]) -> bytes:
    lines = record.decode("utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if line.split(",", 1)[0] not in dropped).encode("utf-8")
