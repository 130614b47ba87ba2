"""``edgeembed package``: plan, archive layout, manifest, safe unpack, kills. The wheel
download itself (pip for another platform) is faked here; scripts/arm64-test.sh runs it for
real and installs the result on an emulated Raspberry Pi."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from edgeembed.bundle import Bundle
from edgeembed.bundle.archive import is_device_package, unpack_package, verify_package_dir
from edgeembed.errors import BundleError
from edgeembed.host import package as packaging
from edgeembed.host.package import PackageError, manylinux_tags, package_bundle, plan_package
from edgeembed.targets.profile import load_target

FAKE_DOWNLOAD = '''
def fake_download(plan, wheel, wheelhouse):
    import time, zipfile
    for name in ("numpy-2.2.6-cp311-cp311-manylinux_2_17_aarch64.whl", "ai_edge_litert-2.3.0-cp311-cp311-manylinux_2_27_aarch64.whl"):
        project, version = name.split("-")[:2]
        with zipfile.ZipFile(wheelhouse / name, "w") as archive:
            archive.writestr(f"{project}-{version}.dist-info/METADATA", f"Name: {project}\\nVersion: {version}\\n\\n" + "x" * 4000)
        time.sleep(0.2)
'''


@pytest.fixture()
def fake_download(monkeypatch):
    namespace: dict = {}
    exec(FAKE_DOWNLOAD, namespace)  # the same fake is used by the kill test's subprocess
    monkeypatch.setattr(packaging, "download_wheels", namespace["fake_download"])


def test_manylinux_tags_stop_at_the_device_glibc():
    tags = manylinux_tags("aarch64", "2.35")
    assert tags[0] == "manylinux2014_aarch64" and tags[-1] == "manylinux_2_35_aarch64"
    assert "manylinux_2_36_aarch64" not in tags


def test_runtime_follows_the_bundle_format(tiny_bundles):
    bundle = Bundle.load(tiny_bundles["int8-full"])
    assert plan_package(bundle, load_target("rpi5")).runtime == "litert"
    assert plan_package(bundle, load_target("jetson-orin-nano")).runtime == "litert"
    assert plan_package(bundle, load_target("rpi5"), "tflite-runtime").requirements == ("tflite-runtime", "numpy<2")
    jetson = plan_package(bundle, load_target("jetson-orin-nano"))
    assert (jetson.python, jetson.glibc, jetson.arch) == ("3.10", "2.35", "aarch64")
    with pytest.raises(PackageError, match="runs on"):
        plan_package(bundle, load_target("rpi5"), "openvino")


def test_package_layout_manifest_and_safe_unpack(tiny_bundles, tmp_path, fake_download):
    archive = package_bundle(tiny_bundles["int8-full"], tmp_path / "pkg.tar.gz", target="rpi5")
    assert is_device_package(archive)
    with tarfile.open(archive) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"install.sh", "requirements.txt", "MANIFEST.sha256", "package.json", "edgeembed.service",
            "bundle/edgeembed.json", "samples/semantic_search.py", "samples/corpus.txt"} <= names
    assert any(n.startswith("wheelhouse/edgeembed-") and n.endswith(".whl") for n in names)
    folder = unpack_package(archive, tmp_path / "out")
    assert verify_package_dir(folder) == []
    installer = (folder / "install.sh").read_text()
    assert not {"@PYTHON@", "@ARCH@", "@TARGET@"} & set(installer.split()) and '[ "$version" = "3.11" ]' in installer
    assert (folder / "install.sh").stat().st_mode & 0o111
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert all("==" in line and "--hash=sha256:" in line for line in requirements)
    assert any(line.startswith("numpy==2.2.6") for line in requirements)
    info = json.loads((folder / "package.json").read_text())
    assert info["plan"]["runtime"] == "litert" and info["plan"]["arch"] == "aarch64"
    assert Bundle.load(folder / "bundle").manifest.quantization == "int8-full"
    # Tampering and extra files are found.
    (folder / "samples" / "corpus.txt").write_text("changed\n")
    (folder / "extra.sh").write_text("echo hi\n")
    problems = verify_package_dir(folder)
    assert "samples/corpus.txt: sha256 mismatch" in problems and "extra.sh: not listed in MANIFEST.sha256" in problems


def test_package_refuses_existing_archive_and_wrong_suffix(tiny_bundles, tmp_path, fake_download):
    (tmp_path / "pkg.tar.gz").write_bytes(b"old")
    with pytest.raises(PackageError, match="already exists"):
        package_bundle(tiny_bundles["fp32"], tmp_path / "pkg.tar.gz", target="rpi5")
    with pytest.raises(PackageError, match=r"\.tar\.gz"):
        package_bundle(tiny_bundles["fp32"], tmp_path / "pkg.zip", target="rpi5")


@pytest.mark.parametrize("name, message", [
    ("evil/../../escape.txt", "unsafe member"),
    ("/etc/evil.txt", "unsafe member"),
])
def test_unpack_package_refuses_unsafe_members(tmp_path, name, message):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member in ("evil/MANIFEST.sha256", name):
            info = tarfile.TarInfo(member)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(BundleError, match=message):
        unpack_package(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "escape.txt").exists()


def test_random_kills_during_package_leave_no_partial_archive(tiny_bundles, tmp_path):
    script = tmp_path / "run_package.py"
    script.write_text(FAKE_DOWNLOAD + f'''
import sys
from edgeembed.host import package
package.download_wheels = fake_download
package.package_bundle({str(tiny_bundles["fp32"])!r}, sys.argv[1], target="rpi5")
''')
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(tmp_path / "reference.tar.gz")], check=True, capture_output=True)
    duration = time.perf_counter() - started
    rng = random.Random(7)
    complete = 0
    for attempt in range(6):
        archive = tmp_path / f"p{attempt}.tar.gz"
        process = subprocess.Popen([sys.executable, str(script), str(archive)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, duration * 1.1))
        process.send_signal(signal.SIGINT if attempt % 2 else signal.SIGKILL)
        process.wait(timeout=120)
        if archive.exists():  # only ever a whole archive that unpacks and verifies
            unpack_package(archive, tmp_path / f"unpacked{attempt}")
            complete += 1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tar.gz") and p.name.startswith(".edgeembed-tmp")]
    subprocess.run([sys.executable, str(script), str(tmp_path / "after.tar.gz")], check=True, capture_output=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edgeembed-tmp")], leftovers
    print(f"6 kills during package: {complete} complete archives, {6 - complete} absent")


def test_the_service_runs_the_server_on_loopback_with_a_credential_key(tiny_bundles, tmp_path, fake_download):
    archive = package_bundle(tiny_bundles["fp32"], tmp_path / "pkg.tar.gz", target="rpi5")
    folder = unpack_package(archive, tmp_path / "out")
    unit = (folder / "edgeembed.service").read_text()
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "bin/edgeembed serve @HERE@/bundle --host 127.0.0.1" in start and "--api-key-file %d/api-key" in start
    assert "LoadCredential=api-key:@KEYFILE@" in unit and "DynamicUser=yes" in unit
    assert json.loads((folder / "package.json").read_text())["plan"]["server"] is True
    installer = (folder / "install.sh").read_text()
    assert "umask 077" in installer and 'chmod 600 "$KEYFILE"' in installer


def test_without_the_server_there_is_no_unit_and_no_serve_extra(tiny_bundles, tmp_path, monkeypatch):
    requested = []
    monkeypatch.setattr(packaging, "_pip", lambda *args: requested.append(args))
    monkeypatch.setattr(packaging, "build_edgeembed_wheel", lambda destination, wheel=None: destination / "edgeembed-0.1.0-py3-none-any.whl")
    archive = package_bundle(tiny_bundles["fp32"], tmp_path / "pkg.tar.gz", target="rpi5", server=False)
    with tarfile.open(archive) as tar:
        assert not any(m.name.endswith(".service") for m in tar.getmembers())
    download = next(args for args in requested if args[0] == "download")
    assert any(arg.startswith("edgeembed @ ") for arg in download)
    plan = plan_package(Bundle.load(tiny_bundles["fp32"]), load_target("rpi5"))
    requested.clear()
    packaging.download_wheels(plan, tmp_path / "edgeembed-0.1.0-py3-none-any.whl", tmp_path)
    assert any(arg.startswith("edgeembed[serve] @ ") for arg in requested[0])


def _wheel(folder, name, version, requires=()):
    import zipfile

    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        lines = [f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", "\n".join(lines) + "\n\nbody\n")
    return path


def test_the_device_wheelhouse_keeps_only_what_embedding_imports(tmp_path):
    from edgeembed.host.wheel_pruning import prune_wheelhouse

    _wheel(tmp_path, "edgeembed", "0.1.0", ["numpy", "tokenizers", "typer", "uvicorn; extra == 'serve'", "torch; extra == 'convert'"])
    _wheel(tmp_path, "numpy", "2.2.6")
    _wheel(tmp_path, "tokenizers", "0.23.3", ["huggingface-hub>=0.16,<2.0"])
    _wheel(tmp_path, "huggingface-hub", "1.0.0", ["hf-xet", "tqdm"])
    _wheel(tmp_path, "hf-xet", "1.0.0")
    _wheel(tmp_path, "tqdm", "4.70.1", ["colorama; platform_system == 'Windows'"])
    _wheel(tmp_path, "colorama", "0.4.6")
    _wheel(tmp_path, "typer", "0.29.2", ["click"])
    _wheel(tmp_path, "click", "8.3.0")
    _wheel(tmp_path, "uvicorn", "0.54.0", ["click", "uvloop; extra == 'standard'"])
    _wheel(tmp_path, "uvloop", "0.21.0")
    _wheel(tmp_path, "ai-edge-litert", "2.3.0", ["numpy", "tqdm", "protobuf", "ml-dtypes"])
    _wheel(tmp_path, "protobuf", "7.36.2")
    _wheel(tmp_path, "ml-dtypes", "0.6.0", ["numpy>=2"])
    _wheel(tmp_path, "torch", "2.13.0")
    removed = prune_wheelhouse(tmp_path, ["edgeembed[serve]", "ai-edge-litert"], "3.11", "aarch64")
    kept = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.whl"))
    assert kept == ["ai_edge_litert", "click", "edgeembed", "numpy", "tokenizers", "typer", "uvicorn"]
    assert "Interpreter imports only numpy" in removed["protobuf-7.36.2-py3-none-any.whl"]
    assert "ml_dtypes-0.6.0-py3-none-any.whl" in removed and "tqdm-4.70.1-py3-none-any.whl" in removed
    assert "huggingface_hub-1.0.0-py3-none-any.whl" in removed and "from_pretrained" in removed["huggingface_hub-1.0.0-py3-none-any.whl"]
    assert {"hf_xet-1.0.0-py3-none-any.whl", "colorama-0.4.6-py3-none-any.whl", "uvloop-0.21.0-py3-none-any.whl", "torch-2.13.0-py3-none-any.whl"} <= set(removed)


def _wheel_with_files(folder, name, version, files):
    import zipfile

    stem = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{stem}-py3-none-any.whl"
    record = [f"{member},sha256=x,{len(data)}" for member, data in files.items()] + [f"{stem}.dist-info/RECORD,,"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
        archive.writestr(f"{stem}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def test_slimming_leaves_out_only_the_files_the_table_names_and_keeps_record_true(tmp_path):
    import zipfile

    from edgeembed.host.wheel_slimming import slim_wheelhouse

    litert_files = {
        "ai_edge_litert/interpreter.py": b"import numpy\n",
        "ai_edge_litert/libLiteRtWebGpuAccelerator.so": b"\0" * 5000,
        "ai_edge_litert/libLiteRt.so": b"\1" * 300,
    }
    numpy_files = {
        "numpy/__init__.py": b"",
        "numpy/_core/tests/test_a.py": b"assert 1\n" * 100,
        "numpy/tests/test_b.py": b"assert 2\n",
        "numpy/testing/__init__.py": b"",  # numpy.testing is API, not the test suite
        "numpy/_core/multiarray.py": b"",
    }
    litert = _wheel_with_files(tmp_path, "ai-edge-litert", "2.3.0", litert_files)
    numpy_wheel = _wheel_with_files(tmp_path, "numpy", "2.4.6", numpy_files)
    other = _wheel_with_files(tmp_path, "tokenizers", "0.23.3", {"tokenizers/tests/t.py": b"x"})
    other_bytes = other.read_bytes()
    slimmed = slim_wheelhouse(tmp_path)
    assert set(slimmed) == {litert.name, numpy_wheel.name}
    assert slimmed[litert.name]["files"] == 1 and slimmed[litert.name]["bytes"] == 5000
    assert "CompiledModel" in slimmed[litert.name]["why"]
    assert slimmed[numpy_wheel.name]["files"] == 2
    assert other.read_bytes() == other_bytes  # not in the table: untouched
    for wheel, kept in ((litert, ["interpreter.py", "libLiteRt.so"]), (numpy_wheel, ["__init__.py", "testing/__init__.py", "_core/multiarray.py"])):
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if ".dist-info/" not in n]
            record = archive.read(next(n for n in archive.namelist() if n.endswith("RECORD"))).decode()
            assert archive.testzip() is None
        package = names[0].split("/")[0]
        assert sorted(names) == sorted(f"{package}/{k}" for k in kept)
        listed = [line.split(",")[0] for line in record.splitlines() if ".dist-info/" not in line]
        assert sorted(listed) == sorted(names)
        original = litert_files if wheel == litert else numpy_files
        with zipfile.ZipFile(wheel) as archive:
            assert all(archive.read(n) == original[n] for n in names)
    assert not list(tmp_path.glob("*.partial"))
    assert slim_wheelhouse(tmp_path) == {}  # a second pass finds nothing more
