"""The CompiledModel path (one packed copy of the weights for every signature) equals the
Interpreter's, and falls back to it where it cannot serve the model."""

import numpy as np
import pytest

pytestmark = pytest.mark.convert  # needs converted tiny bundles (litert-torch)
pytest.importorskip("ai_edge_litert.compiled_model")

from edgeembed.bundle import Bundle
from edgeembed.runtimes.litert import LiteRTBackend


def _feeds(signature, rng):
    shape = (signature.batch_size, signature.seq_length)
    arrays = {"input_ids": rng.integers(5, 20, shape).astype(np.int32), "attention_mask": np.ones(shape, np.int32)}
    arrays["position_ids"] = np.tile(np.arange(signature.seq_length, dtype=np.int32), (signature.batch_size, 1))
    arrays["segment_ids"] = np.zeros(shape, np.int32)
    arrays["token_type_ids"] = arrays["segment_ids"]
    return arrays


@pytest.mark.parametrize("quantization", ["fp32", "int8-full"])
def test_every_signature_gives_the_interpreters_output(tiny_bundles, quantization):
    bundle = Bundle.load(tiny_bundles[quantization])
    compiled = LiteRTBackend(bundle, threads=1)
    plain = LiteRTBackend(bundle, threads=1, shared_weights=False)
    assert plain.executor == "interpreter"
    rng = np.random.default_rng(0)
    for signature in bundle.manifest.signatures:
        arrays = _feeds(signature, rng)
        np.testing.assert_array_equal(compiled._invoke(signature, arrays), plain._invoke(signature, arrays))
    # float outputs run on the CompiledModel; quantized outputs keep the Interpreter (its dequantization)
    floats = all(plain._runner(s)[1] is None for s in bundle.manifest.signatures)
    assert compiled.executor == ("compiled-model" if floats else "interpreter")


def test_a_closed_model_refuses_to_run_instead_of_crashing(tiny_bundles):
    from edgeembed.runtimes.litert_compiled import CompiledSignatures

    bundle = Bundle.load(tiny_bundles["fp32"])
    signature = bundle.manifest.signatures[0]
    model = CompiledSignatures(str(bundle.file(bundle.manifest.model_files[0])), 1)
    runner = model.get_signature_runner(signature.name)
    feeds = {name: _feeds(signature, np.random.default_rng(1))[role] for role, name in signature.inputs.items()}
    assert runner(**feeds)[signature.output].shape[:2] == (signature.batch_size, signature.seq_length)
    with pytest.raises(ValueError, match="takes"):
        runner(**{name: value[:, :-1] for name, value in feeds.items()})
    model.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner(**feeds)


def test_a_cpu_that_cannot_load_the_compiled_model_gets_the_interpreter(tiny_bundles, monkeypatch, caplog):
    """Default, asked-for and tuned shared weights alike: the blocker wins, with a reason."""
    from edgeembed.embed.embedder import Embedder
    from edgeembed.runtimes import litert

    bundle = Bundle.load(tiny_bundles["fp32"])
    assert LiteRTBackend(bundle, threads=1).executor == "compiled-model"
    monkeypatch.setattr(litert, "compiled_model_blocker", lambda: "this CPU lacks dotprod")
    quiet = LiteRTBackend(bundle, threads=1)
    assert quiet.executor == "interpreter" and quiet.executor_reason == "Interpreter: this CPU lacks dotprod"
    assert not caplog.records
    asked = LiteRTBackend(bundle, threads=1, shared_weights=True)
    assert asked.executor == "interpreter" and "not available here" in caplog.text
    tuned = Embedder(bundle, threads=1, backend_options={"shared_weights": True})
    assert tuned.backend.executor == "interpreter" and tuned.encode("hello").shape == (tuned.embedding_dim,)
