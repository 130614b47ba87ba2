"""sentence-transformers modules after the Transformer: pooling modes, Dense, Normalize,
sentence_bert_config.json; each bundle must embed as sentence-transformers itself does."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.convert
pytest.importorskip("litert_torch")

from tiny_models import SENTENCES, write_target, write_tiny_model

from edgeembed import Embedder
from edgeembed.converters import convert
from edgeembed.converters.sources import load_source
from edgeembed.errors import ConversionError


def _sentence_transformers(folder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(folder), device="cpu").encode(SENTENCES)


@pytest.mark.parametrize(("pooling", "dense", "normalize"), [
    ("cls_token", (16, "torch.nn.modules.activation.Tanh"), True),   # LaBSE-style: CLS, Dense tanh, Normalize
    ("weightedmean_tokens", None, False),
    ("max_tokens", (24, "torch.nn.modules.linear.Identity"), False),
])
def test_bundle_embeds_as_sentence_transformers(tmp_path, pooling, dense, normalize):
    folder = write_tiny_model(tmp_path / "model", pooling=pooling, dense=dense, normalize=normalize)
    theirs = _sentence_transformers(folder)
    result = convert(folder, out=tmp_path / "b", target=write_target(tmp_path, "fp32"))
    ours = Embedder.load(tmp_path / "b", embedding_cache_size=0).encode(SENTENCES)
    width = dense[0] if dense else 32
    assert ours.shape == theirs.shape == (len(SENTENCES), width)
    assert np.allclose(ours, theirs, atol=2e-4), np.abs(ours - theirs).max()
    assert result.report["fidelity"]["mean_cosine"] > 0.9999
    manifest = json.loads((tmp_path / "b" / "edgeembed.json").read_text())
    assert len(manifest.get("dense_activations", [])) == (1 if dense else 0)


def test_modules_edgeembed_cannot_reproduce_are_refused(tmp_path):
    folder = write_tiny_model(tmp_path / "m", dense=(16, "torch.nn.modules.activation.GELU"))
    with pytest.raises(ConversionError, match="Dense activation .*GELU.* is not supported"):
        load_source(folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "sentence_transformers.models.LSTM"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConversionError, match="module sentence_transformers.models.LSTM is not supported"):
        load_source(folder)
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}))
    modules[1]["type"] = "sentence_transformers.models.Pooling"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConversionError, match="pooling concatenates"):
        load_source(folder)


def test_the_weights_hash_covers_dense_modules(tmp_path):
    """Two folders that differ only in their Dense weights are different models (bench caches
    and reports key on this hash)."""
    import shutil

    from tiny_models import _write_dense

    folder = write_tiny_model(tmp_path / "a", dense=(16, "torch.nn.modules.activation.Tanh"))
    other = tmp_path / "b"
    shutil.copytree(folder, other)
    shutil.rmtree(other / "2_Dense")
    _write_dense(other / "2_Dense", 32, 16, "torch.nn.modules.activation.Tanh")  # new random weights
    plain = write_tiny_model(tmp_path / "c")
    hashes = {load_source(f).weights_sha256 for f in (folder, other)}
    assert len(hashes) == 2
    assert load_source(folder).weights_sha256 == load_source(folder).weights_sha256  # stable
    assert load_source(plain).weights_sha256 not in hashes
