"""``edgeembed package``: one self-contained archive that installs offline on the device.

The archive holds the bundle, a wheelhouse of the exact wheels for the device's architecture,
Python and glibc (resolved by ``pip download`` for that platform; the edgeembed wheel is built
from this source), a pinned and hashed ``requirements.txt``, ``install.sh``, the semantic-search
sample, the embedding server (``edgeembed[serve]``) with its systemd unit unless left out, and
``MANIFEST.sha256`` over every file. The runtime follows
the bundle's format (a TFLite bundle gets LiteRT, an OpenVINO bundle OpenVINO, ...); the
platform follows the target profile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from edgeembed.bundle import Bundle, sha256_file
from edgeembed.bundle.archive import MANIFEST_SHA256, write_tar_atomically
from edgeembed.errors import EdgeEmbedError
from edgeembed.formats import FORMATS, RUNTIMES
from edgeembed.host.wheel_pruning import prune_wheelhouse
from edgeembed.host.wheel_slimming import slim_wheelhouse
from edgeembed.targets.profile import TargetProfile, load_target
from edgeembed.version import __version__

# What pip installs on the device for each runtime, beyond edgeembed's own dependencies.
RUNTIME_REQUIREMENTS = {name: runtime.requirements for name, runtime in RUNTIMES.items()}
FORMAT_RUNTIMES = {name: fmt.runtimes for name, fmt in FORMATS.items()}
PACKAGE_JSON = "package.json"
SERVICE_NAME = "edgeembed.service"


class PackageError(EdgeEmbedError):
    """The device package cannot be built (platform, wheels, source tree)."""


@dataclass(frozen=True)
class PackagePlan:
    """Which wheels for which device."""

    target: str
    arch: str
    python: str
    glibc: str
    runtime: str
    requirements: tuple[str, ...]
    platforms: tuple[str, ...]
    server: bool = True


def plan_package(
    bundle: Bundle, profile: TargetProfile, runtime: str | None = None, server: bool = True
) -> PackagePlan:
    """The device's platform from the profile, the runtime from the bundle's format."""
    fmt = bundle.manifest.format
    choices = FORMAT_RUNTIMES[fmt]
    if runtime is None:
        runtime = profile.runtime if profile.runtime in choices else choices[0]
    if runtime not in choices:
        raise PackageError(f"a {fmt} bundle runs on {list(choices)}, not {runtime!r}")
    if not re.fullmatch(r"3\.\d+", profile.python) or not re.fullmatch(r"2\.\d+", profile.glibc):
        raise PackageError(f"target {profile.name!r}: python {profile.python!r} / glibc {profile.glibc!r} unusable")
    return PackagePlan(
        target=profile.name,
        arch=profile.arch,
        python=profile.python,
        glibc=profile.glibc,
        runtime=runtime,
        requirements=RUNTIME_REQUIREMENTS[runtime],
        platforms=manylinux_tags(profile.arch, profile.glibc),
        server=server,
    )


def manylinux_tags(arch: str, glibc: str) -> tuple[str, ...]:
    """Every manylinux tag a device with this glibc accepts, newest last."""
    newest = int(glibc.split(".")[1])
    return ("manylinux2014_" + arch, *(f"manylinux_2_{minor}_{arch}" for minor in range(17, newest + 1)))


def source_root() -> Path | None:
    """The edgeembed source tree this module runs from, if it is one (editable install/clone)."""
    root = Path(__file__).resolve().parents[2]  # edgeembed/host/package.py -> the clone
    return root if (root / "pyproject.toml").is_file() and (root / "converters").is_dir() else None


def build_edgeembed_wheel(destination: Path, wheel: str | os.PathLike[str] | None = None) -> Path:
    """The edgeembed wheel: ``wheel`` if given, else built from this source tree."""
    if wheel is not None:
        path = Path(wheel)
        if not path.is_file() or not path.name.startswith("edgeembed-") or path.suffix != ".whl":
            raise PackageError(f"{path} is not an edgeembed wheel")
        return Path(shutil.copy2(path, destination / path.name))
    root = source_root()
    if root is None:
        raise PackageError(
            "no edgeembed source tree found to build the device wheel from; run from a clone "
            "(pip install -e .) or pass --edgeembed-wheel PATH"
        )
    try:  # offline with this environment's setuptools; else pip fetches the build backend
        _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(destination), str(root))
    except PackageError:
        _pip("wheel", "--no-deps", "-w", str(destination), str(root))
    built = sorted(destination.glob("edgeembed-*.whl"))
    if not built:
        raise PackageError(f"building the edgeembed wheel from {root} produced nothing")
    return built[-1]


def download_wheels(plan: PackagePlan, edgeembed_wheel: Path, wheelhouse: Path) -> None:
    """Resolve edgeembed's and the runtime's dependencies for the device's platform."""
    abi = "cp" + plan.python.replace(".", "")
    platform_args = [arg for tag in plan.platforms for arg in ("--platform", tag)]
    requirements = [f"{device_roots(plan)[0]} @ {edgeembed_wheel.resolve().as_uri()}", *plan.requirements]
    _pip(
        "download",
        "--only-binary=:all:",
        "--python-version",
        plan.python,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
        *platform_args,
        "-d",
        str(wheelhouse),
        *requirements,
    )


def device_roots(plan: PackagePlan) -> list[str]:
    """What the device installs: edgeembed (with the server when asked) and the runtime."""
    return ["edgeembed[serve]" if plan.server else "edgeembed", *plan.requirements]


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise PackageError(f"pip {args[0]} failed:\n{tail}")


def pinned_requirements(wheelhouse: Path) -> str:
    """``name==version --hash=sha256:...`` for every wheel: pip installs exactly these."""
    lines = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        lines.append(f"{name}=={version} --hash=sha256:{sha256_file(wheel)}")
    return "\n".join(lines) + "\n"


def _template(name: str) -> str:
    return (resources.files("edgeembed.host") / "templates" / name).read_text(encoding="utf-8")


def _sample_files() -> dict[str, str]:
    folder = resources.files("edgeembed.samples")
    return {name: (folder / name).read_text(encoding="utf-8") for name in ("semantic_search.py", "corpus.txt")}


def package_bundle(
    bundle_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    target: str | os.PathLike[str] | None = None,
    runtime: str | None = None,
    systemd: bool = True,
    server: bool = True,
    edgeembed_wheel: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    step=lambda message: None,
) -> Path:
    """Write the device archive ``out`` (temp file, then rename: never a half archive)."""
    bundle = Bundle.load(bundle_dir)
    profile = load_target(Path(target) if target else bundle.manifest.target)
    plan = plan_package(bundle, profile, runtime, server)
    systemd = systemd and server  # the unit runs the server
    archive = Path(out).resolve()
    if archive.exists() and not overwrite:
        raise PackageError(f"{archive} already exists; pass --overwrite or choose another --out")
    if not archive.name.endswith((".tar.gz", ".tgz")):
        raise PackageError(f"{archive.name}: the package is a .tar.gz; name it accordingly")
    top = f"edgeembed-{bundle.path.name}-{profile.name}"
    with tempfile.TemporaryDirectory(prefix="edgeembed-package-") as work:
        root = Path(work) / top
        (root / "wheelhouse").mkdir(parents=True)
        step("Building the edgeembed wheel")
        wheel = build_edgeembed_wheel(root / "wheelhouse", edgeembed_wheel)
        step(f"Downloading wheels for {plan.arch} / Python {plan.python} / glibc <= {plan.glibc}")
        download_wheels(plan, wheel, root / "wheelhouse")
        left_out = prune_wheelhouse(root / "wheelhouse", device_roots(plan), plan.python, plan.arch)
        slimmed = slim_wheelhouse(root / "wheelhouse")
        step("Writing installer, sample and manifest")
        shutil.copytree(bundle.path, root / "bundle")
        (root / "samples").mkdir()
        for name, text in _sample_files().items():
            (root / "samples" / name).write_text(text, encoding="utf-8")
        (root / "requirements.txt").write_text(pinned_requirements(root / "wheelhouse"))
        installer = _template("install.sh")
        for key, value in {"PYTHON": plan.python, "ARCH": plan.arch, "TARGET": plan.target}.items():
            installer = installer.replace(f"@{key}@", value)
        _write_executable(root / "install.sh", installer)
        if systemd:
            (root / SERVICE_NAME).write_text(_template(SERVICE_NAME))
        _write_package_json(root, plan, bundle, systemd, left_out, slimmed)
        _write_manifest(root)
        step("Writing the archive")
        _write_archive(root, archive)
    return archive


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


def _write_package_json(
    root: Path, plan: PackagePlan, bundle: Bundle, systemd: bool, left_out: dict[str, str], slimmed: dict[str, dict]
) -> None:
    wheels = sorted(p.name for p in (root / "wheelhouse").glob("*.whl"))
    info = {
        "edgeembed_version": __version__,
        "plan": asdict(plan),
        "bundle": {
            "format": bundle.manifest.format,
            "quantization": bundle.manifest.quantization,
            "source": bundle.manifest.source.get("name"),
        },
        "wheels": wheels,
        "wheelhouse_bytes": sum(p.stat().st_size for p in (root / "wheelhouse").glob("*.whl")),
        "systemd_unit": SERVICE_NAME if systemd else None,
        "left_out": left_out,
        "slimmed": slimmed,
    }
    (root / PACKAGE_JSON).write_text(json.dumps(info, indent=2) + "\n")


def _write_manifest(root: Path) -> None:
    """``sha256sum -c`` format, so the device checks it without Python."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        lines.append(f"{sha256_file(path)}  {relative}")
    (root / MANIFEST_SHA256).write_text("\n".join(lines) + "\n")


def _write_archive(root: Path, archive: Path) -> None:
    paths = sorted(root.rglob("*"))
    write_tar_atomically(archive, [(path, f"{root.name}/{path.relative_to(root).as_posix()}") for path in paths])
