import json
import os

import pytest

from edgeembed.bundle import MANIFEST_NAME, Bundle, Manifest, Signature, write_bundle
from edgeembed.errors import BundleError


def make_manifest(**changes) -> Manifest:
    values = dict(
        source={"name": "test"},
        format="tflite",
        quantization="fp32",
        converter={"route": "test"},
        max_seq_length=16,
        signatures=(Signature("seq_16", 16, 1, {"input_ids": "input_ids"}, "out"),),
        model_files=("model.tflite",),
        pooling="mean",
        normalize=True,
        embedding_dim=8,
    )
    values.update(changes)
    return Manifest(**values)


@pytest.fixture()
def bundle_dir(tmp_path):
    files = {"model.tflite": b"\x00model-bytes" * 10, "tokenizer.json": b"{}"}
    write_bundle(tmp_path / "b", make_manifest(), files, {"ok": True})
    return tmp_path / "b"


def test_roundtrip_lists_hashes_of_every_file(bundle_dir):
    bundle = Bundle.load(bundle_dir)
    assert set(bundle.manifest.files) == {"model.tflite", "tokenizer.json", "report.json"}
    assert bundle.manifest.seq_buckets == (16,)
    assert bundle.report() == {"ok": True}


def test_tampered_byte_is_refused_naming_the_file(bundle_dir):
    model = bundle_dir / "model.tflite"
    data = bytearray(model.read_bytes())
    data[3] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.tflite: sha256 mismatch"):
        Bundle.load(bundle_dir)


def test_missing_file_and_missing_manifest(bundle_dir, tmp_path):
    (bundle_dir / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="tokenizer.json is missing"):
        Bundle.load(bundle_dir)
    with pytest.raises(BundleError, match="not an edgeembed bundle"):
        Bundle.load(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
        (lambda d: d.pop("signatures"), "malformed manifest"),
        (lambda d: d.update(embedding_dim="384"), "embedding_dim"),
        (lambda d: d.update(pooling="median"), "pooling"),
        (lambda d: d.update(max_seq_length=10**12), "max_seq_length"),
        (lambda d: d["files"].update({"../escape": "0" * 64}), "plain file name"),
    ],
)
def test_bad_manifests_raise_bundle_error(bundle_dir, mutate, message):
    path = bundle_dir / MANIFEST_NAME
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        Bundle.load(bundle_dir)


def test_invalid_json_names_the_file(bundle_dir):
    (bundle_dir / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BundleError, match="edgeembed.json: unreadable JSON"):
        Bundle.load(bundle_dir)


def test_symlinked_file_is_refused(bundle_dir, tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes((bundle_dir / "model.tflite").read_bytes())
    (bundle_dir / "model.tflite").unlink()
    os.symlink(outside, bundle_dir / "model.tflite")
    with pytest.raises(BundleError, match="symbolic link"):
        Bundle.load(bundle_dir)


def test_existing_output_needs_overwrite(bundle_dir):
    with pytest.raises(BundleError, match="already exists"):
        write_bundle(bundle_dir, make_manifest(), {"model.tflite": b"x", "tokenizer.json": b"{}"}, {})
    write_bundle(bundle_dir, make_manifest(), {"model.tflite": b"y", "tokenizer.json": b"{}"}, {},
                 overwrite=True)
    assert (bundle_dir / "model.tflite").read_bytes() == b"y"
    Bundle.load(bundle_dir)


def test_failed_write_leaves_nothing_behind(tmp_path):
    files = {"model.tflite": tmp_path / "does-not-exist.tflite", "tokenizer.json": b"{}"}
    with pytest.raises(FileNotFoundError):
        write_bundle(tmp_path / "out", make_manifest(), files, {})
    assert list(tmp_path.iterdir()) == []
