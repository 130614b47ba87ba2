"""The LiteRT executor is chosen by what the CPU can run, before LiteRT loads anything.

ai-edge-litert's CompiledModel loads ``libLiteRtWebGpuAccelerator.so``, which raises SIGILL on
cores without the features it was built for (ARMv8.0: Pi 4, Pi 3, Pi Zero 2 W, Jetson Nano).
These tests feed the decision hardware capability bits and cpuinfo texts of real boards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeembed.runtimes import cpu_features, litert_executor
from edgeembed.runtimes.cpu_features import features_from_cpuinfo, features_from_hwcap
from edgeembed.runtimes.litert_executor import ACCELERATOR_NEEDS, missing_features

ARM64 = Path(__file__).resolve().parents[2] / "scripts" / "arm64"
# AT_HWCAP as qemu-user 7.2 reports it for each core (and as the boards' kernels do).
HWCAP = {"cortex-a72": 0x8FB, "cortex-a53": 0x8FB, "cortex-a76": 0x119FFB}
X86_NO_AVX = "flags\t\t: fpu mmx sse sse2 ssse3 sse4_1 sse4_2 popcnt aes pclmulqdq cx16 pni rdrand"
X86_AVX2 = X86_NO_AVX + " avx avx2 fma"


@pytest.fixture()
def machine(monkeypatch, tmp_path):
    """Pretend to be a Linux machine of one architecture whose ai-edge-litert has (or lacks) the library."""

    def pretend(arch: str, features: frozenset[str] | None, library: bool = True) -> None:
        monkeypatch.setattr(litert_executor, "machine_arch", lambda: arch)
        monkeypatch.setattr(litert_executor, "cpu_features", lambda: features)
        monkeypatch.setattr(litert_executor.sys, "platform", "linux")
        path = tmp_path / litert_executor.ACCELERATOR_LIBRARY
        monkeypatch.setattr(litert_executor, "accelerator_library", lambda: path if library else None)
        litert_executor.compiled_model_blocker.cache_clear()

    yield pretend
    litert_executor.compiled_model_blocker.cache_clear()


def test_hwcap_bits_name_the_features_the_kernel_prints():
    a76 = features_from_hwcap(HWCAP["cortex-a76"])
    pi5_line = (ARM64 / "cpuinfo.rpi5").read_text().split("Features")[1].split("\n")[0].strip(" :\t").split()
    assert a76 == set(pi5_line) - {"evtstrm"}  # qemu leaves out the event stream bit
    assert {"asimddp", "atomics", "lrcpc"} <= a76
    assert not {"asimddp", "atomics", "lrcpc", "fphp"} & features_from_hwcap(HWCAP["cortex-a72"])


@pytest.mark.parametrize("board", ["rpi4", "rpi3"])
def test_armv8_0_boards_get_the_interpreter(machine, board):
    features = features_from_cpuinfo((ARM64 / f"cpuinfo.{board}").read_text())
    assert features == {"fp", "asimd", "evtstrm", "crc32", "cpuid"}
    machine("aarch64", features)
    reason = litert_executor.compiled_model_blocker()
    assert reason and "dotprod" in reason and "SIGILL" in reason and "lse" in reason


@pytest.mark.parametrize("core", ["cortex-a72", "cortex-a53"])
def test_emulated_armv8_0_cores_get_the_interpreter(machine, core):
    machine("aarch64", features_from_hwcap(HWCAP[core]))
    assert "dotprod" in litert_executor.compiled_model_blocker()


def test_armv8_2_boards_keep_shared_weights(machine):
    machine("aarch64", features_from_cpuinfo((ARM64 / "cpuinfo.rpi5").read_text()))
    assert litert_executor.compiled_model_blocker() is None
    machine("aarch64", features_from_hwcap(HWCAP["cortex-a76"]))
    assert litert_executor.compiled_model_blocker() is None


def test_x86_without_avx_gets_the_interpreter(machine):
    machine("x86_64", features_from_cpuinfo(X86_NO_AVX))
    assert "avx" in litert_executor.compiled_model_blocker()
    machine("x86_64", features_from_cpuinfo(X86_AVX2))
    assert litert_executor.compiled_model_blocker() is None


def test_without_the_accelerator_library_any_cpu_keeps_shared_weights(machine):
    """The device packages leave the library out; the CompiledModel then loads on a Pi 4 too."""
    machine("aarch64", features_from_hwcap(HWCAP["cortex-a72"]), library=False)
    assert litert_executor.compiled_model_blocker() is None


def test_unreadable_features_on_linux_are_not_a_gamble(machine):
    machine("aarch64", None)
    assert "cannot be read" in litert_executor.compiled_model_blocker()


def test_every_need_maps_to_kernel_names():
    for arch, needs in ACCELERATOR_NEEDS.items():
        assert needs and all(kernel_names for kernel_names in needs.values()), arch
    assert missing_features("aarch64", frozenset()) == list(ACCELERATOR_NEEDS["aarch64"])
    assert missing_features("riscv64", frozenset()) == []


def test_the_table_covers_what_the_installed_library_checks():
    """The installed wheel's own fail-fast messages name no feature the table misses."""
    library = litert_executor.accelerator_library()
    if library is None:
        pytest.skip("no ai-edge-litert with its accelerator library here")
    needs = library_needs(library.read_bytes())
    assert needs, "the library no longer checks features at load time: revisit runtimes/litert_executor.py"
    assert needs <= set(ACCELERATOR_NEEDS[cpu_features.machine_arch()]), needs


def library_needs(binary: bytes) -> set[str]:
    """The features a library's 'compiled with X enabled' fail-fast messages name."""
    marker, names = b"This binary was compiled with ", set()
    start = binary.find(marker)
    while start != -1:
        end = binary.find(b" enabled", start)
        names.add(binary[start + len(marker) : end].decode())
        start = binary.find(marker, end)
    return names


def test_library_needs_reads_the_messages():
    text = b"\0FATAL ERROR: This binary was compiled with lse enabled, but...\0x This binary was compiled with sse4.2 enabled"
    assert library_needs(text) == {"lse", "sse4.2"}
