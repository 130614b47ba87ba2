"""Damaged bundles and archives always end in BundleError naming the file, never a crash."""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeembed import BundleError, Embedder
from edgeembed.bundle import MANIFEST_NAME, Bundle, Manifest, sha256_file
from edgeembed.bundle.archive import pack_bundle, unpack_bundle

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                 st.text(max_size=20), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@pytest.fixture(scope="module")
def pristine(tiny_bundles):
    return tiny_bundles["int8-full"]


def _copy(pristine, tmp_path_factory):
    target = tmp_path_factory.mktemp("damaged") / "bundle"
    shutil.copytree(pristine, target)
    return target


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_manifests_raise_bundle_error(pristine, tmp_path_factory, data):
    bundle = _copy(pristine, tmp_path_factory)
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    action = data.draw(st.sampled_from(["delete", "retype", "signature", "version", "file"]))
    if action == "delete":
        manifest.pop(data.draw(st.sampled_from(sorted(manifest))))
    elif action == "retype":
        key = data.draw(st.sampled_from(sorted(k for k in manifest if k not in ("prompts",))))
        value = data.draw(junk)
        if value == manifest[key] or (key == "runtime" and isinstance(value, dict)):
            value = ["not", "valid"]
        manifest[key] = value
    elif action == "signature":
        signature = manifest["signatures"][0]
        signature[data.draw(st.sampled_from(sorted(signature)))] = data.draw(junk)
        if manifest["signatures"][0] == json.loads((pristine / MANIFEST_NAME).read_text())["signatures"][0]:
            signature["seq_length"] = -1
    elif action == "version":
        manifest["schema_version"] = data.draw(st.integers().filter(lambda v: v != 1))
    else:
        manifest["files"][data.draw(st.sampled_from(["../x", "/etc/passwd", "", "a/b"]))] = "0" * 64
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest))
    try:  # signatures are opened lazily: a mismatch may surface at first use
        Embedder.load(bundle).encode(["a dog", "a man is playing a guitar in the park today"])
    except BundleError as error:
        assert str(bundle) in str(error) or MANIFEST_NAME in str(error) or "signature" in str(error)


@pytest.mark.parametrize("name", ["model.tflite", "tokenizer.json", "report.json"])
@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "remove"])
def test_damaged_files_are_named(pristine, tmp_path_factory, name, damage):
    bundle = _copy(pristine, tmp_path_factory)
    path = bundle / name
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 3] ^= 0x40
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(BundleError, match=name):
        Embedder.load(bundle)


GARBAGE = {
    "model.tflite": [b"", b"TFL3" + b"\x00" * 64, os.urandom(4096)],
    "tokenizer.json": [b"{}", b"[1, 2", b'{"model": {"type": "Nope"}}', os.urandom(256)],
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_with_matching_hashes_fails_cleanly_in_a_subprocess(pristine, tmp_path_factory, name):
    """Someone rewrote the file and its hash: the runtime must still refuse it, not crash."""
    for garbage in GARBAGE[name]:
        bundle = _copy(pristine, tmp_path_factory)
        (bundle / name).write_bytes(garbage)
        _rewrite_manifest(bundle, lambda m, bundle=bundle: m["files"].__setitem__(name, sha256_file(bundle / name)))
        code = (
            "import sys, edgeembed\n"
            "try:\n"
            f"    edgeembed.Embedder.load({str(bundle)!r}).encode('a dog')\n"
            "except edgeembed.BundleError as error:\n"
            "    print('BundleError:', error); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode == 3, (garbage[:16], result.returncode, result.stderr[-500:])
        assert name in result.stdout


def _rewrite_manifest(bundle, change):
    """Edit the manifest and re-seal it, as a thorough forger would."""
    manifest = Manifest.from_dict(json.loads((bundle / MANIFEST_NAME).read_text()))
    data = manifest.to_dict()
    change(data)
    data.pop("seq_buckets")
    resealed = Manifest.from_dict(data).sealed()
    (bundle / MANIFEST_NAME).write_text(json.dumps(resealed.to_dict()))


def test_edited_manifest_is_refused_unless_resealed(pristine, tmp_path_factory):
    bundle = _copy(pristine, tmp_path_factory)
    data = json.loads((bundle / MANIFEST_NAME).read_text())
    data["normalize"] = not data["normalize"]  # valid, but would change every vector silently
    (bundle / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match="digest mismatch"):
        Bundle.load(bundle)


def test_unexpected_files_and_symlinks(pristine, tmp_path_factory, tmp_path):
    bundle = _copy(pristine, tmp_path_factory)
    (bundle / "payload.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(BundleError, match=r"unexpected file\(s\) \['payload.pkl'\]"):
        Bundle.load(bundle)
    (bundle / "payload.pkl").unlink()
    outside = tmp_path / "outside.json"
    shutil.copy(bundle / "tokenizer.json", outside)
    (bundle / "tokenizer.json").unlink()
    (bundle / "tokenizer.json").symlink_to(outside)
    with pytest.raises(BundleError, match="symbolic link"):
        Bundle.load(bundle)


def test_pack_unpack_roundtrip(pristine, tmp_path):
    archive = pack_bundle(pristine, tmp_path / "b.tar.gz")
    bundle = unpack_bundle(archive, tmp_path / "unpacked")
    assert Embedder.load(bundle.path).encode("a dog").shape == (32,)
    with pytest.raises(BundleError, match="already exists"):
        unpack_bundle(archive, tmp_path / "unpacked")


def _evil_archive(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 3
                tar.addfile(info, io.BytesIO(b"abc"))


@pytest.mark.parametrize("members, message", [
    ([("../evil.txt", "file")], "unsafe member"),
    ([("/tmp/evil.txt", "file")], "unsafe member"),
    ([("b/../../evil.txt", "file")], "unsafe member"),
    ([("b/link", "symlink")], "link or special file"),
    ([("b/sub/deep.txt", "file")], "not inside one top-level folder"),
    ([("a/x", "file"), ("b/y", "file")], "one top-level folder"),
])
def test_unsafe_archives_are_refused(tmp_path, members, message):
    archive = tmp_path / "evil.tar.gz"
    _evil_archive(archive, members)
    with pytest.raises(BundleError, match=message):
        unpack_bundle(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_not_an_archive(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"plain text")
    with pytest.raises(BundleError, match="not a readable"):
        unpack_bundle(bogus, tmp_path / "out")

