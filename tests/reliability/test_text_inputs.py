"""Property tests: any text either embeds correctly or raises the documented error."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeembed import Embedder

# Full Unicode, lone surrogates, NUL and control characters included.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
tricky = st.sampled_from([
    "", " ", "\t\n ", "\x00", "a\x00b", "\ud800", "x\udfffy", "e\u0301\u0301\u0301",
    "שלום עולם", "مرحبا بالعالم", "🙂" * 40, "👩‍👩‍👧‍👦", "\u200b\u200d", "ｆｕｌｌ ｗｉｄｔｈ",
    "a" * 100_000, "dog " * 25_000,
])
EMBEDDINGS_CHECKED = {"count": 0}


@pytest.fixture(scope="module")
def embedder(fake_bundle_dirs):
    from edgeembed import runtimes

    with pytest.MonkeyPatch.context() as patch:  # module scope: the fake runtime for every test here
        patch.setitem(runtimes.BACKENDS, "numpy-fake", "fakes:NumpyBackend")
        patch.setitem(runtimes.FORMAT_DEFAULT_BACKEND, "onnx", "numpy-fake")
        yield Embedder.load(fake_bundle_dirs["packed"], threads=1, embedding_cache_size=0)


def _check_vectors(vectors: np.ndarray, count: int) -> None:
    assert vectors.shape == (count, 32) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    EMBEDDINGS_CHECKED["count"] += count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(any_text, tricky), min_size=1, max_size=12))
def test_any_unicode_embeds_finite_unit_vectors_like_alone(embedder, texts):
    together = embedder.encode(texts)
    _check_vectors(together, len(texts))
    alone = np.stack([embedder.encode(text) for text in texts])
    assert np.allclose(together, alone, atol=1e-5)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(any_text, min_size=1, max_size=5), bad=st.sampled_from([None, 3, 2.5, b"x", ["a"], {"a": 1}]),
       position=st.integers(min_value=0, max_value=5))
def test_non_strings_raise_type_error_naming_the_index(embedder, texts, bad, position):
    position = min(position, len(texts))
    mixed = [*texts[:position], bad, *texts[position:]]
    with pytest.raises(TypeError, match=rf"sentences\[{position}\]"):
        embedder.encode(mixed)


def test_other_input_containers(embedder):
    _check_vectors(embedder.encode(np.array(["a dog", "a cat"])), 2)
    _check_vectors(embedder.encode(t for t in ["a dog", "a cat", "a man"]), 3)
    _check_vectors(embedder.encode(("a dog",)), 1)
    assert embedder.encode([]).shape == (0, 32)
    for bad in (None, 3, b"bytes"):
        with pytest.raises(TypeError):
            embedder.encode(bad)
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["a"], batch_size=0)


def test_over_long_texts_are_truncated_and_counted(embedder):
    texts = ["dog " * 5000, "a cat", "man " * 300]
    _check_vectors(embedder.encode(texts), 3)
    assert embedder.last_truncated == 2


def test_report_counts(embedder):
    """Keep the number of vectors checked visible in the test log (-rA)."""
    print(f"embeddings checked by property tests: {EMBEDDINGS_CHECKED['count']}")
