"""The FP32 PyTorch reference every conversion is measured against."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeembed.embed.pooling import l2_normalize, pool
from edgeembed.embed.tokenize import BucketTokenizer


def reference_embeddings(
    model,
    tokenizer: BucketTokenizer,
    texts: Sequence[str],
    pooling: str,
    normalize: bool,
    batch_size: int = 32,
    dense: Sequence[tuple[np.ndarray, str]] = (),
) -> np.ndarray:
    """Embed with the original FP32 module, the same tokenization and the same pooling, then
    the model's Dense layers (``SourceModel.dense``) and its normalization."""
    import torch

    from edgeembed.converters.export_graph import GenericEncoder

    encoder = GenericEncoder(model).eval()
    items = tokenizer.encode(list(texts))
    order = np.argsort([-len(item.ids) for item in items], kind="stable")
    chunks = []
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = [items[i] for i in indices]
            length = max(len(item.ids) for item in batch)
            ids, mask = tokenizer.pad(batch, length)
            hidden = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()
            chunks.append((indices, pool(hidden, mask, pooling)))
    dim = chunks[0][1].shape[1] if chunks else 0
    result = np.zeros((len(items), dim), dtype=np.float32)
    for indices, vectors in chunks:
        result[indices] = vectors
    if dense:
        from edgeembed.embed.dense import DenseStack

        result = DenseStack(list(dense))(result.astype(np.float64)).astype(np.float32)
    return l2_normalize(result) if normalize else result
