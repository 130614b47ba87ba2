"""The quantization-friendly graph must compute exactly what the Hugging Face model computes."""

import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch, no runtimes) leaves this module out
torch = pytest.importorskip("torch")

from edgeembed.converters.export_graph import BertFamilyEncoder, build_export_module
from edgeembed.converters.sources import load_source
from edgeembed.errors import ConversionError


def test_bert_family_graph_matches_huggingface_with_padding(tiny_model_dir):
    model = load_source(tiny_model_dir).model
    encoder = build_export_module(model, 16)
    assert isinstance(encoder, BertFamilyEncoder)
    ids = torch.tensor([[2, 10, 11, 12, 3] + [0] * 11], dtype=torch.int32)
    mask = (ids != 0).to(torch.int32)
    with torch.no_grad():
        ours = encoder(ids, mask)[0, :5]
        theirs = model(input_ids=ids[:, :5].long()).last_hidden_state[0]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_bucket_longer_than_positions_is_refused(tiny_model_dir):
    model = load_source(tiny_model_dir).model
    with pytest.raises(ConversionError, match="exceeds the model's 64 positions"):
        build_export_module(model, 128)
