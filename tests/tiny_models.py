"""Builders for tiny, offline test models: a random BERT and a small WordPiece vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = (
    "a the man woman dog cat is are playing plays guitar piano music riding horse bike car "
    "runs walks in on park street red blue small big and of to with at today market stock fell "
    "rose people child children eat eats food pizza apple water drink sun rain cold hot day night"
).split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SENTENCES = [
    "a man is playing a guitar",
    "the woman plays piano music",
    "a dog runs in the park",
    "children eat pizza and apple",
    "the stock market fell today",
    "people walk on a cold day",
    "a cat is riding a bike",
    "the sun is hot and the rain is cold",
    "a small red car on the street",
    "the man and the woman drink water at night",
]


def build_tokenizer_json(fixed_padding: int | None = 32) -> str:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {token: index for index, token in enumerate(SPECIAL + WORDS + ["##s", "##ing"])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    if fixed_padding:  # like all-MiniLM-L6-v2: the runtime must override this
        tokenizer.enable_padding(length=fixed_padding, pad_id=0, pad_token="[PAD]")
        tokenizer.enable_truncation(fixed_padding)
    return tokenizer.to_str()


def write_tiny_model(folder: Path, seed: int = 0, normalize: bool = True, family: str = "bert") -> Path:
    """A tiny random sentence-transformers folder; ``family`` is "bert" or "mpnet"."""
    import torch
    import transformers

    torch.manual_seed(seed)
    vocab_size = len(SPECIAL) + len(WORDS) + 2
    config_class, model_class = {"bert": ("BertConfig", "BertModel"), "mpnet": ("MPNetConfig", "MPNetModel")}[family]
    config = getattr(transformers, config_class)(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=80 if family == "mpnet" else 64, pad_token_id=0,
    )
    getattr(transformers, model_class)(config).eval().save_pretrained(folder)
    (folder / "tokenizer.json").write_text(build_tokenizer_json())
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    return folder


TINY_TARGET = """
name = "tiny"
description = "test profile"
arch = "x86_64"
python = "3.11"
glibc = "2.35"
format = "tflite"
quantization = "{quantization}"
runtime = "litert"
device = "CPU"
threads = 1
max_seq_length = {max_seq_length}
seq_buckets = {seq_buckets}
batch_size = {batch_size}
min_mean_cosine = {min_mean_cosine}
max_sts_drop = {max_sts_drop}
"""


def write_target(
    folder: Path,
    quantization: str = "fp32",
    min_mean_cosine: float = 0.5,
    max_sts_drop: float = 1.5,
    seq_buckets: tuple[int, ...] = (8, 16),
    batch_size: int = 4,
) -> Path:
    path = folder / f"tiny-{quantization}-{max_sts_drop}-{len(seq_buckets)}-{batch_size}.toml"
    path.write_text(TINY_TARGET.format(
        quantization=quantization, min_mean_cosine=min_mean_cosine, max_sts_drop=max_sts_drop,
        max_seq_length=seq_buckets[-1], seq_buckets=list(seq_buckets), batch_size=batch_size,
    ))
    return path
