"""What both adapters share: an Embedder from a path or an instance, and float lists out."""

from __future__ import annotations

import os
from typing import Any

from edgeembed.embed.embedder import Embedder


def as_embedder(bundle: str | os.PathLike[str] | Embedder, **options: Any) -> Embedder:
    return bundle if isinstance(bundle, Embedder) else Embedder.load(bundle, **options)


def as_lists(vectors) -> list[list[float]]:
    return vectors.astype(float).tolist()
