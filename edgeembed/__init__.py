"""edgeembed: sentence-embedding models made small, fast and verified for edge devices.

``from edgeembed import Embedder`` loads a bundle and embeds text; conversion lives in
``edgeembed.converters`` behind the ``convert`` extra. Importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeembed.errors import (
    BundleError,
    ConversionError,
    EdgeEmbedError,
    InputError,
    MissingDependencyError,
    TargetError,
)
from edgeembed.version import __version__

__all__ = [
    "Bundle",
    "BundleError",
    "ConversionError",
    "EdgeEmbedError",
    "Embedder",
    "InputError",
    "MissingDependencyError",
    "TargetError",
    "__version__",
    "convert",
    "profile",
]

if TYPE_CHECKING:
    from edgeembed.bundle import Bundle
    from edgeembed.converters import convert
    from edgeembed.embed.embedder import Embedder
    from edgeembed.tools.profile import profile


def __getattr__(name: str):
    if name == "Embedder":
        from edgeembed.embed.embedder import Embedder

        return Embedder
    if name == "Bundle":
        from edgeembed.bundle import Bundle

        return Bundle
    if name == "profile":
        from edgeembed.tools.profile import profile

        return profile
    if name == "convert":
        from edgeembed.converters import convert

        return convert
    raise AttributeError(f"module 'edgeembed' has no attribute {name!r}")
