import json
import shutil

import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch, no runtimes) leaves this module out
pytest.importorskip("transformers")

from edgeembed.converters.sources import load_source
from edgeembed.errors import ConversionError


def test_sentence_transformers_folder_sets_pooling_and_normalize(tiny_model_dir):
    source = load_source(tiny_model_dir)
    assert (source.pooling, source.normalize, source.layout) == ("mean", True, "sentence-transformers")
    assert source.embedding_dim == 32 and len(source.weights_sha256) == 64


def test_plain_huggingface_folder_and_cls_pooling(tiny_model_dir, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain)
    (plain / "modules.json").unlink()
    assert load_source(plain).layout == "huggingface"
    (plain / "modules.json").write_text((tiny_model_dir / "modules.json").read_text())
    (plain / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert load_source(plain).pooling == "cls"


def test_decoder_is_not_an_encoder(tiny_model_dir, tmp_path):
    folder = tmp_path / "decoder"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match="not a sentence encoder"):
        load_source(folder)


def test_uncached_hub_id_explains_how_to_pass_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ConversionError, match="never downloads.*pass the folder"):
        load_source("someone/not-cached-model")


def test_module_needs_a_tokenizer(tiny_model_dir):
    model = load_source(tiny_model_dir).model
    with pytest.raises(ConversionError, match="tokenizer="):
        load_source(model)
    source = load_source(model, tokenizer=tiny_model_dir / "tokenizer.json")
    assert source.layout == "module"
