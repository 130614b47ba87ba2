"""PNG charts for ``--plot`` options: matplotlib (the ``plot`` extra) checked before any measuring,
and figures written atomically, their folder created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeembed.atomic import atomic_write
from edgeembed.errors import InputError, MissingDependencyError


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or an error naming the extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError('--plot needs matplotlib: pip install "edgeembed[plot]"') from None
    return plt


def check_plot_target(path: str | Path) -> Path:
    """Where ``--plot`` will write, checked up front: matplotlib is there and the path is no folder."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"--plot {target} is a folder; give a file name such as {target / 'chart.png'}")
    pyplot()
    return target


def save_png(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` as a PNG, whole or not at all (missing folders are created), and close it."""
    try:
        return atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=120, bbox_inches="tight"))
    finally:
        pyplot().close(figure)
