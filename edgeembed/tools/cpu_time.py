"""CPU seconds of the server process and of the load generator, for ``bench-serve``'s ceiling.

Linux only (``/proc``); elsewhere the server's figure is ``None`` and no ceiling is reported.
"""

from __future__ import annotations

import os
import time


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of every thread of ``pid`` so far, or None without ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # After the command name: state is field 3, utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def own_cpu_seconds() -> float:
    """User + system CPU of this process (the load generator) so far."""
    return time.process_time()


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
