"""``edgeembed doctor``: what this machine is, which runtimes and accelerators it has, which
target profile fits, and whether an installed bundle verifies and runs. Reads /proc, /sys and
/etc files and imports runtimes; it never needs torch."""

from __future__ import annotations

import importlib
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.errors import EdgeEmbedError
from edgeembed.formats import RUNTIMES
from edgeembed.runtimes.litert_executor import executor_summary

RUNTIME_MODULES = {runtime.package: runtime.module for runtime in RUNTIMES.values()}
ACCELERATOR_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "OpenVINOExecutionProvider",
    "DmlExecutionProvider",
    "QNNExecutionProvider",
)
CPU_FEATURES = ("asimddp", "asimdhp", "i8mm", "sve", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


@dataclass
class MachineFacts:
    arch: str
    cpu: str
    cores: int
    features: list[str]
    memory_gb: float | None
    os: str
    python: str
    glibc: str
    board: str = ""
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> version or "missing"
    accelerators: list[str] = field(default_factory=list)
    litert_executor: str = ""  # which LiteRT executor this CPU can load, and why ("" without ai-edge-litert)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpuinfo_value(text: str, *keys: str) -> str:
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in keys and value.strip():
            return value.strip()
    return ""


def _board() -> str:
    model = _read("/proc/device-tree/model").strip("\x00\n ")
    if model:
        return model
    model = _cpuinfo_value(_read("/proc/cpuinfo"), "Model")  # Raspberry Pi kernels put it here
    if model.lower().startswith("raspberry"):
        return model
    tegra = _read("/etc/nv_tegra_release")
    return f"NVIDIA Jetson ({tegra.split(',')[0].strip('# ')})" if tegra else ""


def _memory_gb() -> float | None:
    total = _cpuinfo_value(_read("/proc/meminfo"), "MemTotal")
    return round(int(total.split()[0]) / 1024 / 1024, 1) if total else None


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _runtimes() -> tuple[dict[str, str], list[str]]:
    versions: dict[str, str] = {}
    accelerators: list[str] = []
    for name, module in RUNTIME_MODULES.items():
        try:
            imported = importlib.import_module(module)
        except Exception:
            versions[name] = "missing"
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "installed"
        if name == "openvino":
            devices = imported.Core().available_devices
            accelerators += [f"OpenVINO {d}" for d in devices if not d.startswith("CPU")]
        if name == "onnxruntime":
            providers = imported.get_available_providers()
            accelerators += [f"ONNX Runtime {p}" for p in providers if p in ACCELERATOR_PROVIDERS]
    if list(Path("/dev").glob("accel/accel*")):
        accelerators.append("NPU device node /dev/accel")
    return versions, accelerators


ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd08": "Cortex-A72",
    "0xd0b": "Cortex-A76",
    "0xd42": "Cortex-A78AE",
    "0xd0c": "Neoverse-N1",
    "0xd40": "Neoverse-V1",
    "0xd4f": "Neoverse-V2",
}


def _cpu_name(cpuinfo: str) -> str:
    name = _cpuinfo_value(cpuinfo, "model name")
    if name:
        return name
    part = _cpuinfo_value(cpuinfo, "CPU part")
    return ARM_PARTS.get(part, f"ARM part {part}" if part else platform.processor() or "unknown")


def machine_facts() -> MachineFacts:
    cpuinfo = _read("/proc/cpuinfo")
    flags = set(_cpuinfo_value(cpuinfo, "flags", "Features").split())
    libc, libc_version = platform.libc_ver()
    runtimes, accelerators = _runtimes()
    return MachineFacts(
        arch=platform.machine(),
        cpu=_cpu_name(cpuinfo),
        cores=os.cpu_count() or 1,
        features=[f for f in CPU_FEATURES if f in flags],
        memory_gb=_memory_gb(),
        os=_os_name(),
        python=platform.python_version(),
        glibc=f"{libc} {libc_version}".strip() or "unknown",
        board=_board(),
        runtimes=runtimes,
        accelerators=accelerators,
        litert_executor=executor_summary(),
    )


def best_profile(facts: MachineFacts) -> tuple[str, str]:
    """The built-in profile whose ``[match]`` table fits this machine (lowest priority wins), and why."""
    from edgeembed.targets.profile import all_targets

    candidates = []
    for profile in all_targets():
        reason = profile.match.reason(facts.board, facts.arch, facts.cpu, facts.accelerators, facts.runtimes)
        if reason is not None:
            candidates.append((profile.match.priority, profile.name, reason))
    if not candidates:
        return "x86-64" if facts.arch in ("x86_64", "amd64") else "arm64", f"no profile matches {facts.arch}"
    _, name, reason = min(candidates)
    return name, reason


def check_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Verify hashes, load the runtime, embed one sentence."""
    from edgeembed.embed.embedder import Embedder

    started = time.perf_counter()
    try:
        embedder = Embedder.load(path)
        vector = embedder.encode("edgeembed doctor check")
    except EdgeEmbedError as error:
        return {"path": str(path), "ok": False, "error": str(error)}
    manifest = embedder.bundle.manifest
    return {
        "path": str(path),
        "ok": bool(vector.shape == (embedder.get_sentence_embedding_dimension(),) and np.isfinite(vector).all()),
        "format": manifest.format,
        "quantization": manifest.quantization,
        "target": manifest.target,
        "runtime": embedder.backend.runtime or manifest.format,
        "executor": embedder.backend.executor,  # LiteRT: compiled-model or interpreter
        "executor_reason": embedder.backend.executor_reason,
        "device": embedder.backend.device,
        "load_and_embed_s": round(time.perf_counter() - started, 3),
    }


def diagnose(bundle: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    facts = machine_facts()
    profile, reason = best_profile(facts)
    report: dict[str, Any] = {"machine": facts.__dict__, "profile": {"name": profile, "reason": reason}}
    if bundle is not None:
        report["bundle"] = check_bundle(bundle)
    return report
