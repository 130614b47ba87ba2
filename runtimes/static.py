"""Static embeddings (``--format static``): a token table read with numpy, nothing else.

The bundle's ``static_table.npy`` holds one row per token id of its tokenizer (float16 or
float32; distilled from the source model by model2vec at conversion). A text's token
embeddings are its rows; the Embedder mean-pools them as for any bundle. Loading uses
``allow_pickle=False`` and memory-maps the table, so a 30k x 256 table costs pages, not a copy.
"""

from __future__ import annotations

import numpy as np

from edgeembed.bundle import Bundle
from edgeembed.errors import BundleError
from edgeembed.runtimes import BackendTraits

TABLE_NAME = "static_table.npy"


class StaticBackend(BackendTraits):
    """``table[input_ids]`` as token embeddings; any batch and sequence length."""

    runtime = "numpy"

    def __init__(self, bundle: Bundle, *, device: str = "CPU", threads: int | None = None, **options) -> None:
        if device.upper() != "CPU":
            raise BundleError(f"a static bundle runs on the CPU with numpy; device {device!r} is not available to it")
        self.device = "CPU"
        path = bundle.file(TABLE_NAME)
        try:
            self.table = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise BundleError(
                f"{path}: cannot read the static table ({error}). Re-convert with --format static."
            ) from None
        manifest = bundle.manifest
        if (
            self.table.ndim != 2
            or self.table.dtype not in (np.float16, np.float32)
            or self.table.shape[1] != manifest.embedding_dim
        ):
            raise BundleError(
                f"{path}: expected a float16/float32 table of width {manifest.embedding_dim}, "
                f"found {self.table.dtype} {self.table.shape}"
            )
        self._buckets = manifest.seq_buckets

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return self._buckets

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        if input_ids.size and int(input_ids.max()) >= len(self.table):
            raise BundleError(f"token id {int(input_ids.max())} is outside the static table ({len(self.table)} rows)")
        return self.table[input_ids].astype(np.float32)
