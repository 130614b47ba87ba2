"""Builders for tiny, offline test models: a random BERT and a small WordPiece vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["a", "the", "man", "woman", "dog", "cat", "is", "are", "playing", "plays", "guitar", "piano", "music", "riding", "horse", "bike", "car", "runs", "walks", "in", "on", "park", "street", "red", "blue", "small", "big", "and", "of", "to", "with", "at", "today", "market", "stock", "fell", "rose", "people", "child", "children", "eat", "eats", "food", "pizza", "apple", "water", "drink", "sun", "rain", "cold", "hot", "day", "night"]
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


VOCAB_SIZE = len(SPECIAL) + len(WORDS) + 2
TINY_SHAPE = {"vocab_size": VOCAB_SIZE, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 64, "max_position_embeddings": 64, "pad_token_id": 0}
# family -> (transformers config class, model class, config fields beyond TINY_SHAPE)
FAMILIES: dict[str, tuple[str, str, dict]] = {
    "bert": ("BertConfig", "BertModel", {}),
    "distilbert": ("DistilBertConfig", "DistilBertModel", {"dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 64}),
    # pad_token_id is the tokenizer's [PAD] (0), as a real RoBERTa's <pad> is its tokenizer's:
    # positions are counted from the first non-pad id.
    "roberta": ("RobertaConfig", "RobertaModel", {"max_position_embeddings": 80}),
    # XLM-R's real vocabulary size: the table dominates the model, as it does on a device
    "xlm-roberta": ("XLMRobertaConfig", "XLMRobertaModel", {"vocab_size": 250_002, "max_position_embeddings": 80}),
    "mpnet": ("MPNetConfig", "MPNetModel", {"max_position_embeddings": 80}),
    "modernbert": ("ModernBertConfig", "ModernBertModel", {"global_attn_every_n_layers": 1, "local_attention": 64,
                                                           "bos_token_id": 2, "eos_token_id": 3, "cls_token_id": 2, "sep_token_id": 3}),
    "qwen3": ("Qwen3Config", "Qwen3Model", {"num_key_value_heads": 2, "head_dim": 8, "bos_token_id": 2, "eos_token_id": 3}),
}


def write_tiny_model(
    folder: Path, seed: int = 0, normalize: bool = True, family: str = "bert", pooling: str = "mean_tokens",
    dense: tuple[int, str] | None = None,
) -> Path:
    """A tiny random sentence-transformers folder of a :data:`FAMILIES` architecture; ``pooling``
    names a Pooling mode (``pooling_mode_<pooling>``); ``dense=(out_features, activation class)``
    adds a Dense module after pooling. sentence-transformers itself can load the folder."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config_class, model_class, options = FAMILIES[family]
    config = getattr(transformers, config_class)(**{**TINY_SHAPE, **options})
    getattr(transformers, model_class)(config).eval().save_pretrained(folder)
    (folder / "tokenizer.json").write_text(build_tokenizer_json())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 64, "unk_token": "[UNK]",
        "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]",
    }))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if dense:
        out_features, activation = dense
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        _write_dense(folder / "2_Dense", 32, out_features, activation)
    if normalize:
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": f"{len(modules)}_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, f"pooling_mode_{pooling}": True})
    )
    return folder


def _write_dense(folder: Path, in_features: int, out_features: int, activation: str) -> None:
    import torch
    from safetensors.torch import save_file

    folder.mkdir()
    linear = torch.nn.Linear(in_features, out_features)
    save_file({"linear.weight": linear.weight.detach().contiguous(), "linear.bias": linear.bias.detach().contiguous()},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "in_features": in_features, "out_features": out_features, "bias": True, "activation_function": activation,
    }))


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
