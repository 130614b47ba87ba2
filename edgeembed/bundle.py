"""The bundle: a directory with a manifest, a tokenizer, model file(s) and a conversion report.

The manifest is the one contract between the converting host and the device. Loading reads
JSON and checks sha256 of every listed file; it never unpickles and never executes code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeembed.formats import FORMATS as FORMAT_TABLE
from edgeembed.errors import BundleError

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
ADDED_OPTIONAL_FIELDS = ("default_prompt_name", "truncate_dim", "embedding_ranges", "projection_dim", "dense_activations")
_FIX = "Re-create the bundle with `edgeembed convert`, or copy it again from its source."


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
            _check_file_name(name)
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
            k: v for k, v in self.to_dict().items()
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
            raise BundleError(f"{where}: expected a JSON object. {_FIX}")
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
            raise BundleError(f"{where}: malformed manifest ({error!r}). {_FIX}") from None


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "source": dict, "format": str, "quantization": str, "converter": dict,
    "max_seq_length": int, "pooling": str, "normalize": bool, "embedding_dim": int,
    "output_kind": str, "target": str, "prompts": dict, "default_prompt_name": str, "runtime": dict,
    "files": dict, "digest": str, "truncate_dim": int, "embedding_ranges": dict,
    "projection_dim": int, "dense_activations": tuple,
}


def _check_types(manifest: Manifest) -> None:
    for name, expected in _FIELD_TYPES.items():
        value = getattr(manifest, name)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise BundleError(
                f"field {name!r} has type {type(value).__name__}, expected {expected}"
            )
    for signature in manifest.signatures:
        if not all(isinstance(v, str) for v in (signature.name, signature.output, signature.model_file)):
            raise BundleError(f"signature {signature.name!r}: names must be strings")


def _check_file_name(name: object) -> None:
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


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk."""

    path: Path
    manifest: Manifest

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_NAME

    def report(self) -> dict[str, Any]:
        path = self.path / REPORT_NAME
        if not path.is_file():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike[str], verify: bool = True) -> Bundle:
        """Read the manifest and check every listed file's presence and sha256."""
        root = Path(path)
        if root.is_file() and root.name.endswith((".tar.gz", ".tgz")):
            raise BundleError(f"{root} is an archive; unpack it first: edgeembed unpack {root.name} DIR")
        if root.is_file():
            raise BundleError(
                f"{root} is a file; a bundle is the folder `edgeembed convert --out DIR` wrote "
                f"(give {root.parent if root.name == MANIFEST_NAME else 'that folder'})"
            )
        manifest_path = root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(
                f"{manifest_path} not found: {root} is not an edgeembed bundle. "
                "Create one with `edgeembed convert --out DIR`."
            )
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BundleError(f"{manifest_path}: unreadable JSON ({error}). {_FIX}") from None
        manifest = Manifest.from_dict(data, str(manifest_path))
        if manifest.digest != manifest.content_digest():
            raise BundleError(
                f"{manifest_path}: digest mismatch (the manifest was edited or damaged after "
                f"conversion). {_FIX}"
            )
        required = {TOKENIZER_NAME, *manifest.model_files}
        missing_hash = required - set(manifest.files)
        if missing_hash:
            raise BundleError(f"{manifest_path}: no sha256 listed for {sorted(missing_hash)}. {_FIX}")
        listed = {MANIFEST_NAME, *manifest.files}
        unexpected = sorted(p.name for p in root.iterdir() if p.name not in listed)
        if unexpected:
            raise BundleError(
                f"{root}: unexpected file(s) {unexpected} not listed in {MANIFEST_NAME}; a bundle "
                "holds only what its manifest lists. Remove them or re-create the bundle."
            )
        for name, expected in manifest.files.items():
            file_path = root / name
            if file_path.is_symlink():
                raise BundleError(f"{file_path} is a symbolic link; bundles hold plain files only.")
            if not file_path.is_file():
                raise BundleError(f"{file_path} is missing from the bundle. {_FIX}")
            if verify and sha256_file(file_path) != expected:
                raise BundleError(
                    f"{file_path}: sha256 mismatch (file damaged or tampered with). {_FIX}"
                )
        return cls(root, manifest)


def write_bundle(
    out: str | os.PathLike[str],
    manifest: Manifest,
    files: Mapping[str, Path | bytes],
    report: Mapping[str, Any],
    overwrite: bool = False,
) -> Bundle:
    """Write files + report + manifest (with hashes) to a temp dir beside ``out``, then rename.

    An interrupted write leaves only a hidden ``.edgeembed-tmp-*`` directory, never a half bundle
    at ``out``.
    """
    target = Path(out).resolve()
    if target.exists() and not overwrite:
        raise BundleError(f"{target} already exists; pass --overwrite or choose another --out.")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target.parent))
    try:
        hashes: dict[str, str] = {}
        for name, content in files.items():
            _check_file_name(name)
            destination = staging / name
            if isinstance(content, bytes):
                destination.write_bytes(content)
            else:
                shutil.copyfile(content, destination)
            hashes[name] = sha256_file(destination)
        (staging / REPORT_NAME).write_text(json.dumps(report, indent=2, default=str) + "\n")
        hashes[REPORT_NAME] = sha256_file(staging / REPORT_NAME)
        final = dataclasses.replace(manifest, files=hashes).sealed()
        (staging / MANIFEST_NAME).write_text(json.dumps(final.to_dict(), indent=2) + "\n")
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(target, final)


STAGING_PREFIX = ".edgeembed-tmp-"


def remove_stale_staging(parent: Path, prefix: str = STAGING_PREFIX) -> None:
    """Delete staging entries left by killed processes (the writer's pid is in the name)."""
    for entry in parent.glob(f"{prefix}*"):
        pid_text = entry.name[len(prefix) :].split("-", 1)[0].split(".", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace_dir(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    if not (target / MANIFEST_NAME).is_file() and any(target.iterdir()):
        raise BundleError(f"{target} exists and is not a bundle; refusing to replace it.")
    backup = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, backup)
    os.replace(staging, target)
    shutil.rmtree(backup, ignore_errors=True)
