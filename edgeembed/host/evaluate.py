"""``edgeembed eval``: STS Spearman of a bundle and, with the convert extra, of its FP32 source."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgeembed.converters.similarity import agreement_to_fp32, sts_spearman
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.formats import FORMATS
from edgeembed.host.output_grid import output_grid


def evaluate_bundle(
    bundle_path,
    sts_file,
    model=None,
    threads: int | None = None,
    widths: list[int] | None = None,
    precisions: list[str] | None = None,
) -> dict:
    """STS Spearman x100 of a bundle and, when the convert extra is installed, of its FP32 source
    with the cosine between the two. ``model`` overrides where the source is looked for. With
    ``widths`` and/or ``precisions``, also the STS and retrieval scores of every combination
    (:mod:`edgeembed.host.output_grid`)."""
    import importlib.util

    from edgeembed.converters.sts import read_sts
    from edgeembed.embed.embedder import Embedder

    pairs = read_sts(sts_file)
    embedder = Embedder.load(bundle_path, threads=threads, embedding_cache_size=0)
    texts = list(dict.fromkeys((*pairs.first, *pairs.second)))
    row = {text: i for i, text in enumerate(texts)}
    first = [row[t] for t in pairs.first]
    second = [row[t] for t in pairs.second]
    gold = np.array(pairs.scores)
    ours = embedder.encode(texts)
    result = {
        "file": str(sts_file),
        "pairs": len(gold),
        "bundle_spearman": sts_spearman(ours[first], ours[second], gold),
        "truncated_texts": embedder.total_truncated,
    }
    grid = widths is not None or precisions is not None
    widths = widths or [embedder.get_sentence_embedding_dimension()]
    precisions = precisions or ["float32"]
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        result["fp32"] = "skipped: install edgeembed[convert] to compare with the FP32 model"
        if grid:
            result["outputs"] = output_grid(embedder, texts, first, second, gold, widths, precisions)
        return result
    from edgeembed.converters.reference import reference_embeddings
    from edgeembed.converters.sources import source_for_bundle

    manifest = embedder.bundle.manifest
    source = source_for_bundle(manifest.source, model)
    same_space = FORMATS[manifest.format].same_space and not manifest.projection_dim
    tokenizer = embedder.tokenizer if FORMATS[manifest.format].same_space else _source_tokenizer(source, manifest)
    reference = reference_embeddings(source.model, tokenizer, texts, manifest.pooling, manifest.normalize)
    result["fp32_spearman"] = sts_spearman(reference[first], reference[second], gold)
    result["cosine_to_fp32"] = agreement_to_fp32(reference, ours, same_space)
    if grid:
        result["outputs"] = output_grid(embedder, texts, first, second, gold, widths, precisions, reference)
    return result


def _source_tokenizer(source, manifest) -> BucketTokenizer:
    """The source model's own tokenizer (a static bundle ships model2vec's instead)."""
    with tempfile.TemporaryDirectory(prefix="edgeembed-eval-") as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(source.tokenizer_json, encoding="utf-8")
        return BucketTokenizer(path, manifest.max_seq_length, manifest.seq_buckets)
