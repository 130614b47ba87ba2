"""The manifest: the one contract between the converting host and the device (``edgeembed.json``).

It is plain JSON, checked field by field; it never unpickles and never executes code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeembed.errors import BundleError
from edgeembed.formats import FORMATS as FORMAT_TABLE

SCHEMA_VERSION = 1
MANIFEST_NAME = "edgeembed.json"
REPORT_NAME = "report.json"
TOKENIZER_NAME = "tokenizer.json"
PROJECTION_NAME = "projection.npy"  # PCA: [embedding_dim + 1, projection_dim] float32, bias last
FORMATS = tuple(FORMAT_TABLE)
POOLING_MODES = ("mean", "cls", "last", "max", "mean_sqrt_len", "weightedmean")
# Signature input roles. Packed signatures take position_ids and segment_ids instead of an
# attention mask: several texts share a row, each attending only to its own segment.
INPUT_ROLES = ("input_ids", "attention_mask", "position_ids", "segment_ids")
# Fields added within schema 1: left out of the digest while empty, so older bundles verify.
ADDED_OPTIONAL_FIELDS = (
    "default_prompt_name",
    "truncate_dim",
    "embedding_ranges",
    "projection_dim",
    "dense_activations",
)
FIX_HINT = "Re-create the bundle with `edgeembed convert`, or copy it again from its source."


@dataclass(frozen=True)
class Signature:
    """One static-shape entry point of the model: a sequence bucket."""

    name: str
    seq_length: int
    batch_size: int
    inputs: dict[str, str]  # role (one of INPUT_ROLES) -> tensor name
    output: str
    model_file: str = ""  # the model file this signature runs; "" = the first of model_files

    def __post_init__(self) -> None:
        if self.seq_length < 1 or self.batch_size < 1:
            raise BundleError(f"signature {self.name!r}: seq_length and batch_size must be >= 1")
        if "input_ids" not in self.inputs:
            raise BundleError(f"signature {self.name!r}: inputs must name 'input_ids'")
        unknown = sorted(set(self.inputs) - set(INPUT_ROLES))
        if unknown:
            raise BundleError(f"signature {self.name!r}: unknown input roles {unknown}; known: {INPUT_ROLES}")
        if self.packed and "position_ids" not in self.inputs:
            raise BundleError(f"signature {self.name!r}: segment_ids needs position_ids")

    @property
    def packed(self) -> bool:
        """Several texts may share one row (block-diagonal attention by segment)."""
        return "segment_ids" in self.inputs


@dataclass(frozen=True)
class Manifest:
    """What a bundle holds and how to run it (``edgeembed.json``)."""

    source: dict[str, str]
    format: str
    quantization: str
    converter: dict[str, Any]
    max_seq_length: int
    signatures: tuple[Signature, ...]
    model_files: tuple[str, ...]
    pooling: str
    normalize: bool
    embedding_dim: int
    output_kind: str = "token_embeddings"
    target: str = "x86-64"
    prompts: dict[str, str] = field(default_factory=dict)  # name -> text put before each input
    default_prompt_name: str = ""  # the prompt encode() uses when none is named ("" = none)
    dense_activations: tuple[str, ...] = ()  # sentence-transformers Dense layers after pooling (dense_<i>.npy)
    projection_dim: int = 0  # PCA fitted at conversion: encode() projects to N dims (0 = none)
    truncate_dim: int = 0  # Matryoshka: encode() keeps the first N dimensions by default (0 = all)
    embedding_ranges: dict[str, list[float]] = field(default_factory=dict)  # per-dim min/max, int8 outputs
    runtime: dict[str, int | str] = field(default_factory=dict)  # threads, batch_size, cache sizes, device, hint
    files: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    digest: str = ""  # sha256 of every other field (canonical JSON): catches edits to this file

    def __post_init__(self) -> None:
        _check_types(self)
        if self.format not in FORMATS:
            raise BundleError(f"manifest: format {self.format!r} is not one of {FORMATS}")
        if self.pooling not in POOLING_MODES:
            raise BundleError(f"manifest: pooling {self.pooling!r} is not one of {POOLING_MODES}")
        if self.output_kind not in ("token_embeddings", "sentence_embedding"):
            raise BundleError(f"manifest: unknown output_kind {self.output_kind!r}")
        if not 1 <= self.max_seq_length <= 8192:
            raise BundleError(f"manifest: max_seq_length {self.max_seq_length} out of range")
        if not 1 <= self.embedding_dim <= 65536:
            raise BundleError(f"manifest: embedding_dim {self.embedding_dim} out of range")
        if not self.signatures:
            raise BundleError("manifest: no signatures")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.prompts.items()):
            raise BundleError("manifest: prompts must map names to strings")
        if not all(isinstance(name, str) for name in self.dense_activations):
            raise BundleError("manifest: dense_activations must be names")
        if not 0 <= self.projection_dim <= self.embedding_dim:
            raise BundleError(f"manifest: projection_dim {self.projection_dim} outside 0..{self.embedding_dim}")
        if self.projection_dim and self.files and PROJECTION_NAME not in self.files:
            raise BundleError(f"manifest: projection_dim is set but {PROJECTION_NAME} is not among the files")
        if not 0 <= self.truncate_dim <= self.output_dim:
            raise BundleError(f"manifest: truncate_dim {self.truncate_dim} outside 0..{self.output_dim}")
        ranges = self.embedding_ranges
        width = self.truncate_dim or self.output_dim
        if ranges and not (set(ranges) == {"min", "max"} and all(len(ranges[k]) == width for k in ranges)):
            raise BundleError(f"manifest: embedding_ranges must hold 'min' and 'max' of {width} values")
        if self.default_prompt_name and self.default_prompt_name not in self.prompts:
            raise BundleError(
                f"manifest: default_prompt_name {self.default_prompt_name!r} is not one of the prompts "
                f"{sorted(self.prompts)}"
            )
        for name in (*self.model_files, *self.files):
            check_file_name(name)
        for signature in self.signatures:
            if signature.model_file and signature.model_file not in self.model_files:
                raise BundleError(
                    f"manifest: signature {signature.name!r} names model file "
                    f"{signature.model_file!r}, which is not in model_files"
                )

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return tuple(sorted({s.seq_length for s in self.signatures}))

    @property
    def output_dim(self) -> int:
        """The width of the vectors ``encode`` computes: the PCA's if the bundle has one."""
        return self.projection_dim or self.embedding_dim

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["seq_buckets"] = list(self.seq_buckets)
        return data

    def content_digest(self) -> str:
        content = {
            k: v
            for k, v in self.to_dict().items()
            if k not in ("digest", "seq_buckets") and not (k in ADDED_OPTIONAL_FIELDS and not v)
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def sealed(self) -> Manifest:
        """A copy carrying the digest of its own content."""
        return dataclasses.replace(self, digest=self.content_digest())

    @classmethod
    def from_dict(cls, data: Any, where: str = MANIFEST_NAME) -> Manifest:
        if not isinstance(data, Mapping):
            raise BundleError(f"{where}: expected a JSON object. {FIX_HINT}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{where}: schema_version {version!r} is not supported (this edgeembed reads "
                f"{SCHEMA_VERSION}). Upgrade edgeembed or re-convert the model."
            )
        try:
            signatures = tuple(Signature(**s) for s in data["signatures"])
            values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
            values["signatures"] = signatures
            values["model_files"] = tuple(data["model_files"])
            if isinstance(values.get("dense_activations"), list):
                values["dense_activations"] = tuple(values["dense_activations"])
            return cls(**values)
        except BundleError as error:
            raise BundleError(f"{where}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(f"{where}: malformed manifest ({error!r}). {FIX_HINT}") from None


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "source": dict,
    "format": str,
    "quantization": str,
    "converter": dict,
    "max_seq_length": int,
    "pooling": str,
    "normalize": bool,
    "embedding_dim": int,
    "output_kind": str,
    "target": str,
    "prompts": dict,
    "default_prompt_name": str,
    "runtime": dict,
    "files": dict,
    "digest": str,
    "truncate_dim": int,
    "embedding_ranges": dict,
    "projection_dim": int,
    "dense_activations": tuple,
}


def _check_types(manifest: Manifest) -> None:
    for name, expected in _FIELD_TYPES.items():
        value = getattr(manifest, name)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise BundleError(f"field {name!r} has type {type(value).__name__}, expected {expected}")
    for signature in manifest.signatures:
        if not all(isinstance(v, str) for v in (signature.name, signature.output, signature.model_file)):
            raise BundleError(f"signature {signature.name!r}: names must be strings")


def check_file_name(name: object) -> None:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise BundleError(f"file name {name!r} is not a plain file name inside the bundle")


def sha256_file(path: Path) -> str:
    return sha256_files([path])


def sha256_files(paths) -> str:
    """One sha256 over the files' bytes in order, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
