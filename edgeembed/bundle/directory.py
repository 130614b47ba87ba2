"""A bundle on disk: load and verify it (sha256 of every listed file), or write one atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeembed.bundle.manifest import (
    FIX_HINT,
    MANIFEST_NAME,
    REPORT_NAME,
    TOKENIZER_NAME,
    Manifest,
    check_file_name,
    sha256_file,
)
from edgeembed.errors import BundleError


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
            raise BundleError(f"{manifest_path}: unreadable JSON ({error}). {FIX_HINT}") from None
        manifest = Manifest.from_dict(data, str(manifest_path))
        if manifest.digest != manifest.content_digest():
            raise BundleError(
                f"{manifest_path}: digest mismatch (the manifest was edited or damaged after conversion). {FIX_HINT}"
            )
        required = {TOKENIZER_NAME, *manifest.model_files}
        missing_hash = required - set(manifest.files)
        if missing_hash:
            raise BundleError(f"{manifest_path}: no sha256 listed for {sorted(missing_hash)}. {FIX_HINT}")
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
                raise BundleError(f"{file_path} is missing from the bundle. {FIX_HINT}")
            if verify and sha256_file(file_path) != expected:
                raise BundleError(f"{file_path}: sha256 mismatch (file damaged or tampered with). {FIX_HINT}")
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
            check_file_name(name)
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
