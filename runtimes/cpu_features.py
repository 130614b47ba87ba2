"""What instructions this CPU can run, read without executing any runtime's code.

On Linux/aarch64 the kernel's hardware capability bits (``getauxval(AT_HWCAP)``, the same bits
native libraries test before they use an instruction), else the ``Features`` line of
``/proc/cpuinfo``; on x86 the ``flags`` line. Names are the kernel's (``asimddp``, ``atomics``,
``avx``, ``sse4_2``...). Elsewhere (macOS, Windows) nothing is known and ``None`` is returned.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import sys
from pathlib import Path

_AT_HWCAP = 16
# arch/arm64/include/uapi/asm/hwcap.h: bit -> the name /proc/cpuinfo prints
AARCH64_HWCAP_BITS: dict[int, str] = {
    0: "fp",
    1: "asimd",
    2: "evtstrm",
    3: "aes",
    4: "pmull",
    5: "sha1",
    6: "sha2",
    7: "crc32",
    8: "atomics",
    9: "fphp",
    10: "asimdhp",
    11: "cpuid",
    12: "asimdrdm",
    13: "jscvt",
    14: "fcma",
    15: "lrcpc",
    16: "dcpop",
    17: "sha3",
    18: "sm3",
    19: "sm4",
    20: "asimddp",
    21: "sha512",
    22: "sve",
    23: "asimdfhm",
    24: "dit",
    25: "uscat",
    26: "ilrcpc",
    27: "flagm",
    28: "ssbs",
    29: "sb",
    30: "paca",
    31: "pacg",
}


def machine_arch() -> str:
    """``aarch64`` or ``x86_64`` (``arm64``/``amd64`` spelled the Linux way), else as reported."""
    machine = platform.machine().lower()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine)


def features_from_hwcap(hwcap: int) -> frozenset[str]:
    """The aarch64 feature names set in an ``AT_HWCAP`` word."""
    return frozenset(name for bit, name in AARCH64_HWCAP_BITS.items() if hwcap >> bit & 1)


def features_from_cpuinfo(text: str) -> frozenset[str] | None:
    """The first ``Features`` (ARM) or ``flags`` (x86) line of a ``/proc/cpuinfo`` text."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("Features", "flags"):
            return frozenset(value.split())
    return None


def _hwcap() -> int | None:
    try:
        libc = ctypes.CDLL(None)
        getauxval = libc.getauxval
    except (OSError, AttributeError):  # not glibc/musl: no auxiliary vector to read
        return None
    getauxval.restype = ctypes.c_ulong
    getauxval.argtypes = [ctypes.c_ulong]
    return int(getauxval(_AT_HWCAP)) or None


@functools.lru_cache(maxsize=1)
def cpu_features() -> frozenset[str] | None:
    """This CPU's features by the kernel's names, or ``None`` where they cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    if machine_arch() == "aarch64":
        hwcap = _hwcap()
        if hwcap is not None:
            return features_from_hwcap(hwcap)
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return features_from_cpuinfo(text)
