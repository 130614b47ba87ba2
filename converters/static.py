"""``--format static``: distil the source model into a token table with model2vec.

model2vec runs the source model once over every token of its vocabulary, reduces the outputs
with PCA and weights them by token frequency (SIF); a text's vector is then the mean of its
tokens' rows: no attention, no matmul, numpy only on the device (boards where even an INT8
transformer is too slow). The table lives in another vector space than the source model's, so
the pipeline measures it by pairwise similarity and STS, never by cosine to FP32 vectors.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np

from edgeembed.bundle import TOKENIZER_NAME
from edgeembed.converters.route import RouteInputs, RouteResult, dynamic_signatures, versions
from edgeembed.converters.sources import SourceModel
from edgeembed.errors import ConversionError
from edgeembed.runtimes.static import TABLE_NAME

INPUTS = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
OUTPUT = "token_embeddings"
PCA_DIMS = 256  # model2vec's default; narrower models keep their width
SIF_COEFFICIENT = 1e-4  # model2vec's default frequency weighting


def _fast_tokenizer(source: SourceModel, workdir: Path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if source.path and (Path(source.path) / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(source.path, local_files_only=True)
        if tokenizer.is_fast:
            return tokenizer
    return PreTrainedTokenizerFast(tokenizer_file=str(workdir / TOKENIZER_NAME))


def _device_tokenizer(tokenizer) -> str:
    """model2vec's tokenizer as the device reads it: no special tokens added, no padding rules."""
    data = json.loads(tokenizer.to_str())
    data["post_processor"] = None
    data["padding"] = None
    data["truncation"] = None
    return json.dumps(data, ensure_ascii=False)


def convert_static(route: RouteInputs) -> RouteResult:
    from model2vec.distill import distill_from_model

    hidden = int(route.source.embedding_dim or getattr(getattr(route.source.model, "config", None), "hidden_size", 0))
    if not hidden:
        raise ConversionError(
            f"{route.source.name}: the static route needs a Hugging Face model with config.hidden_size"
        )
    dims = min(PCA_DIMS, hidden)
    route.step(f"Distilling a static table (model2vec: every vocabulary token, PCA to {dims})")
    # model2vec's tqdm bar would print hundreds of lines into logs; the environment is restored after.
    quiet_bar = {"TQDM_DISABLE": "1"} if not sys.stderr.isatty() else {}
    try:
        with patch.dict(os.environ, quiet_bar):
            static = distill_from_model(
                model=route.source.model,
                tokenizer=_fast_tokenizer(route.source, route.workdir),
                pca_dims=dims,
                sif_coefficient=SIF_COEFFICIENT,
                quantize_to="float32",
                device="cpu",
            )
    except (ValueError, RuntimeError, TypeError, AttributeError) as error:
        raise ConversionError(
            f"{route.source.name}: model2vec could not distil this model ({type(error).__name__}: {error})"
        ) from None
    table = np.asarray(static.embedding, dtype=np.float32)
    unknown = (
        static.tokenizer.token_to_id(str(static.tokenizer.model.unk_token))
        if hasattr(static.tokenizer.model, "unk_token")
        else None
    )
    if unknown is not None and unknown < len(table):
        table[unknown] = 0.0  # model2vec drops unknown tokens; a zero row adds nothing to the sum
    dtype = np.float16 if route.spec.quantization == "fp16" else np.float32
    table_path = route.workdir / TABLE_NAME
    np.save(table_path, table.astype(dtype), allow_pickle=False)
    (route.workdir / TOKENIZER_NAME).write_text(_device_tokenizer(static.tokenizer), encoding="utf-8")
    converter = {
        "route": "static",
        "graph": "model2vec distillation",
        "versions": versions("model2vec", "torch", "transformers"),
    }
    details: dict[str, Any] = {
        "embedding_dim": int(table.shape[1]),
        "vocabulary": int(table.shape[0]),
        "pca_dims": dims,
        "sif_coefficient": SIF_COEFFICIENT,
        "table_dtype": np.dtype(dtype).name,
        "float32_size_bytes": int(table.size * 4),
    }
    signatures = dynamic_signatures(route.spec.seq_buckets, route.spec.batch_size, INPUTS, OUTPUT)
    return RouteResult({TABLE_NAME: table_path}, signatures, converter, details)
