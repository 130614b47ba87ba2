"""Export-friendly forward graphs for encoder models.

Hugging Face BERT builds its attention mask with ``torch.finfo(float32).min``; after INT8
calibration that single value stretches the score tensor's range over ~3e38 and every real
score rounds to the same integer. The graph here re-expresses the same maths with a bounded
mask bias, the softmax scale folded into the query projection, and position/type embeddings
folded into one constant per sequence length, so the exported program is small, static and
quantizes well. It reads the weights of the loaded Hugging Face module; nothing is copied by
hand, and the conversion is verified against the original model afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from edgeembed.errors import ConversionError

# exp(-MASK_BIAS) ~ 1e-13: padded keys get no attention weight in FP32, while the score range
# that INT8 calibration must cover stays a few tens wide instead of 3e38.
MASK_BIAS = 30.0
# Packed graphs are never statically quantized (their attention runs in float), so they can
# afford a bias whose exp() underflows to exactly 0: with 30, a neighbouring text's [CLS]/[SEP]
# keys, which score 20+ higher than a query's own tokens in some heads, leaked into its vector.
PACKED_MASK_BIAS = 10000.0


@dataclass(frozen=True)
class Architecture:
    """What the static re-expression needs to know about a BERT-family ``model_type``."""

    positions_after_padding: bool  # RoBERTa numbers positions from padding_idx + 1


# model_type -> export facts: the families the BERT-family re-expression covers.
ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture(positions_after_padding=False),
    "roberta": Architecture(positions_after_padding=True),
    "xlm-roberta": Architecture(positions_after_padding=True),
    "camembert": Architecture(positions_after_padding=True),
}
HFModel = Any  # a Hugging Face model: its parts are attributes its config names, untyped
SUPPORTED_MODEL_TYPES = tuple(ARCHITECTURES)


def position_offset(config) -> int:
    """Index of the first position embedding a text uses."""
    return int(config.pad_token_id) + 1 if ARCHITECTURES[config.model_type].positions_after_padding else 0


class ResidualLayerNorm(nn.Module):
    """``LayerNorm(x + residual)`` in explicit ops, one module so quantization recipes can name it.

    The residual stream of BERT-family encoders carries outlier channels (|x| ~ 50) while most
    channels stay near 1; this block is where integer precision matters most.
    """

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.weight = norm.weight
        self.bias = norm.bias
        self.eps = float(norm.eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        total = x + residual
        centered = total - total.mean(dim=-1, keepdim=True)
        variance = (centered * centered).mean(dim=-1, keepdim=True)
        return centered * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class MaskedSoftmax(nn.Module):
    """Softmax over attention scores plus the bounded padding bias."""

    def forward(self, scores: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        return torch.softmax(scores + mask_bias, dim=-1)


class _EncoderLayer(nn.Module):
    def __init__(self, layer: Any, num_heads: int) -> None:
        super().__init__()
        attention = layer.attention
        hidden = attention.self.query.in_features
        self.num_heads = num_heads
        self.head_dim = hidden // num_heads
        scale = 1.0 / math.sqrt(self.head_dim)
        self.query = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.query.weight.copy_(attention.self.query.weight * scale)
            self.query.bias.copy_(attention.self.query.bias * scale)
        self.key = attention.self.key
        self.value = attention.self.value
        self.attention_out = attention.output.dense
        self.attention_norm = ResidualLayerNorm(attention.output.LayerNorm)
        self.masked_softmax = MaskedSoftmax()
        self.output_norm = ResidualLayerNorm(layer.output.LayerNorm)
        self.intermediate = layer.intermediate.dense
        self.activation = getattr(layer.intermediate, "intermediate_act_fn", None) or nn.GELU()
        # Named so recipes can find it: its output carries the residual stream's outlier channels.
        self.feed_forward_down = layer.output.dense

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        batch, seq, width = hidden.shape
        query = self._split_heads(self.query(hidden))
        key = self._split_heads(self.key(hidden))
        value = self._split_heads(self.value(hidden))
        probs = self.masked_softmax(torch.matmul(query, key.transpose(-1, -2)), mask_bias)
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).reshape(batch, seq, width)
        hidden = self.attention_norm(self.attention_out(context), hidden)
        inner = self.activation(self.intermediate(hidden))
        return self.output_norm(self.feed_forward_down(inner), hidden)


class BertFamilyEncoder(nn.Module):
    """``(input_ids, attention_mask) -> token embeddings [batch, seq, hidden]`` for BERT/RoBERTa."""

    position_and_type: torch.Tensor  # a registered buffer: position + token-type embeddings, summed

    def __init__(self, model: HFModel, seq_length: int, dynamic: bool = False) -> None:
        super().__init__()
        self.dynamic = dynamic
        config = model.config
        embeddings = model.embeddings
        # A gather on the raw table (not nn.Embedding) lowers to GATHER, which has an int8 kernel;
        # EMBEDDING_LOOKUP would keep the 30k x hidden table in float.
        self.word_embeddings = embeddings.word_embeddings.weight
        self.embedding_norm = ResidualLayerNorm(embeddings.LayerNorm)
        # RoBERTa numbers positions from padding_idx + 1; right padding keeps that contiguous.
        offset = position_offset(config)
        positions = embeddings.position_embeddings.weight[offset : offset + seq_length]
        token_type = embeddings.token_type_embeddings.weight[0]
        self.register_buffer("position_and_type", (positions + token_type).detach().clone())
        self.layers = nn.ModuleList(_EncoderLayer(layer, config.num_attention_heads) for layer in model.encoder.layer)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        words = torch.index_select(self.word_embeddings, 0, input_ids.reshape(-1))
        words = words.reshape(input_ids.shape[0], input_ids.shape[1], -1)
        position_and_type = self.position_and_type
        if self.dynamic:  # one graph for every length up to seq_length (OpenVINO, ONNX)
            position_and_type = position_and_type[: input_ids.shape[1]]
        hidden = self.embedding_norm(words, position_and_type)
        mask = attention_mask.to(hidden.dtype)
        mask_bias = ((mask - 1.0) * MASK_BIAS)[:, None, None, :]
        for layer in self.layers:
            hidden = layer(hidden, mask_bias)
        return hidden


class PackedBertEncoder(BertFamilyEncoder):
    """``(input_ids, position_ids, segment_ids) -> token embeddings``: several texts per sequence.

    Texts packed into one row attend only within their own segment (block-diagonal attention
    from equal ``segment_ids``; 0 marks padding) and count positions from 0 each, so a text
    embeds as it would alone while a row carries almost no padding. One module serves every
    sequence length: positions are gathered from the whole position table.
    """

    def __init__(self, model: HFModel, max_positions: int) -> None:
        super().__init__(model, max_positions)

    def forward(  # type: ignore[override]
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, segment_ids: torch.Tensor
    ) -> torch.Tensor:
        batch, seq = input_ids.shape
        words = torch.index_select(self.word_embeddings, 0, input_ids.reshape(-1))
        positions = torch.index_select(self.position_and_type, 0, position_ids.reshape(-1))
        hidden = self.embedding_norm(words.reshape(batch, seq, -1), positions.reshape(batch, seq, -1))
        same_text = (segment_ids[:, :, None] == segment_ids[:, None, :]).to(hidden.dtype)
        mask_bias = ((same_text - 1.0) * PACKED_MASK_BIAS)[:, None, :, :]
        for layer in self.layers:
            hidden = layer(hidden, mask_bias)
        return hidden


class GenericEncoder(nn.Module):
    """Wraps any module called as ``module(input_ids=..., attention_mask=...)``."""

    def __init__(self, model: HFModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        output = self.model(input_ids=input_ids.long(), attention_mask=attention_mask.long())
        if isinstance(output, torch.Tensor):
            return output
        if isinstance(output, dict) or hasattr(output, "last_hidden_state"):
            return output["last_hidden_state"]
        if isinstance(output, (tuple, list)) and output:
            return output[0]
        raise ConversionError(
            f"model returned {type(output).__name__}; expected a tensor or an object with "
            "last_hidden_state. Wrap the model so it returns token embeddings [batch, seq, dim]."
        )


def is_bert_family(model: HFModel) -> bool:
    config = getattr(model, "config", None)
    return getattr(config, "model_type", None) in SUPPORTED_MODEL_TYPES and hasattr(model, "embeddings")


def _check_positions(model: HFModel, seq_length: int) -> None:
    config = model.config
    offset = position_offset(config)
    max_positions = int(config.max_position_embeddings)
    if seq_length + offset > max_positions:
        raise ConversionError(
            f"sequence bucket {seq_length} exceeds the model's {max_positions - offset} "
            "positions; lower --max-seq-length."
        )


def build_packed_module(model: HFModel, max_seq_length: int) -> nn.Module:
    """One module for every packed signature (BERT family only; see ``PackedBertEncoder``)."""
    _check_positions(model, max_seq_length)
    return PackedBertEncoder(model, max_seq_length).eval()


def forward_input_names(module: nn.Module) -> list[str]:
    """The export module's own input names, in order (never a tracer's numbering)."""
    import inspect

    return [name for name in inspect.signature(module.forward).parameters if name != "self"]


def build_export_module(model: HFModel, seq_length: int, dynamic: bool = False) -> nn.Module:
    """The module to export: for one static sequence length, or (``dynamic``) up to it."""
    if is_bert_family(model):
        _check_positions(model, seq_length)
        return BertFamilyEncoder(model, seq_length, dynamic).eval()
    return GenericEncoder(model).eval()
