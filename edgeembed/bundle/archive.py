"""Bundles as ``.tar.gz`` for shipping: written atomically, unpacked defensively.

Unpacking refuses absolute paths, ``..`` members, links, devices and anything outside one
top-level folder, then verifies the bundle's hashes before it is moved into place.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from edgeembed.bundle import STAGING_PREFIX, Bundle, remove_stale_staging, sha256_file
from edgeembed.errors import BundleError

MANIFEST_SHA256 = "MANIFEST.sha256"


def pack_bundle(bundle_dir: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """Verify ``bundle_dir`` and write it as ``archive`` (temp file, then rename)."""
    bundle = Bundle.load(bundle_dir)
    names = sorted({"edgeembed.json", *bundle.manifest.files})
    return write_tar_atomically(archive, [(bundle.path / name, f"{bundle.path.name}/{name}") for name in names])


def write_tar_atomically(archive: str | os.PathLike[str], members: Iterable[tuple[Path, str]]) -> Path:
    """A ``.tar.gz`` of ``(path, name in the archive)`` pairs, written beside ``archive`` and
    renamed into place: a reader never sees half an archive."""
    target = Path(archive).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    handle, temp = tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", suffix=".tar.gz", dir=target.parent)
    os.close(handle)
    try:
        with tarfile.open(temp, "w:gz") as tar:
            for path, name in members:
                tar.add(path, arcname=name, recursive=False)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def unpack_bundle(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Bundle:
    """Safely extract a packed bundle to ``destination`` (a new directory) and verify it."""

    def extract(tar: tarfile.TarFile, staging: Path, source: Path) -> Path:
        _check_members(tar, source)
        for member in tar.getmembers():
            if member.isfile():
                _copy_member(tar, member, staging / Path(member.name).name)
        Bundle.load(staging)
        return Path()

    _extract_staged(archive, destination, extract)
    return Bundle.load(Path(destination).resolve())


def is_device_package(archive: str | os.PathLike[str]) -> bool:
    """Whether ``archive`` is an ``edgeembed package`` archive (it carries MANIFEST.sha256)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            return any(m.name.count("/") == 1 and m.name.endswith("/MANIFEST.sha256") for m in tar)
    except (OSError, tarfile.TarError):
        return False


def unpack_package(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Safely extract a device package into ``destination`` (a new directory) and check
    ``MANIFEST.sha256``. Returns the package folder inside ``destination``."""

    def extract(tar: tarfile.TarFile, staging: Path, source: Path) -> Path:
        root = _check_members(tar, source, flat=False)
        for member in tar.getmembers():
            path = staging / member.name
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(tar, member, path)
            if member.mode & 0o111:
                path.chmod(0o755)
        problems = verify_package_dir(staging / root)
        if problems:
            raise BundleError(f"{source}: package does not verify: {'; '.join(problems[:5])}")
        return Path(root)

    return _extract_staged(archive, destination, extract)


def _extract_staged(archive, destination, extract: Callable[[tarfile.TarFile, Path, Path], Path]) -> Path:
    """Open ``archive``, let ``extract`` fill and check a staging directory beside
    ``destination``, then rename it into place; nothing is left behind on any failure."""
    source, target = Path(archive), Path(destination).resolve()
    if target.exists():
        raise BundleError(f"{target} already exists; choose a new destination")
    try:
        tar = tarfile.open(source, "r:gz")  # noqa: SIM115 (closed by the `with tar:` below, once staging exists)
    except (OSError, tarfile.TarError) as error:
        raise BundleError(f"{source}: not a readable .tar.gz ({error})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target.parent))
    try:
        with tar:
            inner = extract(tar, staging, source)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / inner


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
    stream = tar.extractfile(member)
    if stream is None:  # not a regular file; _check_members lets none through
        raise BundleError(f"{member.name}: not a regular file")
    with stream, open(path, "wb") as out:
        shutil.copyfileobj(stream, out)


def _check_members(tar: tarfile.TarFile, source: Path, flat: bool = True) -> str:
    """Refuse unsafe members; return the single top-level folder's name."""
    roots = set()
    for member in tar.getmembers():
        name = member.name
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or Path(name).is_absolute() or ".." in parts:
            raise BundleError(f"{source}: unsafe member {name!r} (absolute path or '..'); refusing to unpack")
        if not (member.isfile() or member.isdir()):
            raise BundleError(f"{source}: member {name!r} is a link or special file; refusing to unpack")
        if member.isfile() and (len(parts) != 2 if flat else len(parts) < 2):
            raise BundleError(f"{source}: member {name!r} is not inside one top-level folder")
        roots.add(parts[0])
    if len(roots) != 1:
        raise BundleError(f"{source}: expected one top-level folder, found {sorted(roots) or 'none'}")
    return roots.pop()


def verify_package_dir(root: Path) -> list[str]:
    """Check ``MANIFEST.sha256`` of an unpacked package; returns problems (empty = intact)."""
    manifest = root / MANIFEST_SHA256
    if not manifest.is_file():
        return [f"{manifest} missing"]
    problems, listed = [], set()
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed.add(name)
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: sha256 mismatch")
    extra = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST_SHA256 and p.relative_to(root).as_posix() not in listed
    )
    problems.extend(f"{name}: not listed in {MANIFEST_SHA256}" for name in extra)
    return problems
