"""Sequence packing: layout, call plan and per-text pooling (numpy only, no runtime)."""

import numpy as np
import pytest

from edgeembed.embed.packing import invoke_inputs, pack_rows, plan_invokes, row_groups
from edgeembed.embed.pooling import pool_packed as pool_invoke
from edgeembed.errors import BundleError
from edgeembed.runtimes.batching import single_text_rows


def _texts(rng, count, longest=20):
    return [list(rng.integers(1, 100, rng.integers(0, longest + 1))) for _ in range(count)]


@pytest.mark.parametrize("seed", range(40))
def test_every_text_lands_whole_in_one_row_and_pools_from_its_own_tokens(seed):
    rng = np.random.default_rng(seed)
    texts = _texts(rng, int(rng.integers(1, 60)))
    packed = pack_rows(texts, 32, pad_id=0)
    seen = []
    for invoke in plan_invokes(packed, {32: 4}, (8, 16, 32)):
        arrays = invoke_inputs(packed, invoke)
        assert {a.shape for a in arrays.values()} == {(invoke.batch, invoke.seq_length)}
        hidden = rng.random((invoke.batch, invoke.seq_length, 3)).astype(np.float32)
        for mode in ("mean", "cls", "last"):
            indices, vectors = pool_invoke(hidden, packed, invoke, mode)
            for text, vector in zip(indices, vectors):
                row = list(invoke.rows).index(packed.row_of[text])
                start, length = packed.start_of[text], packed.length_of[text]
                assert list(arrays["input_ids"][row, start : start + length]) == texts[text]
                assert list(arrays["position_ids"][row, start : start + length]) == list(range(length))
                assert len(set(arrays["segment_ids"][row, start : start + length])) <= 1
                own = hidden[row, start : start + length]
                expected = np.zeros(3) if length == 0 else {"mean": own.mean(0), "cls": own[0], "last": own[-1]}[mode]
                assert np.allclose(vector, expected, atol=1e-6)
            seen.extend(indices) if mode == "mean" else None
    assert sorted(seen) == list(range(len(texts)))


def test_rows_fill_first_fit_and_leftovers_run_in_their_own_bucket():
    packed = pack_rows([[1] * 20, [2] * 10, [3] * 12, [4] * 3], 32, pad_id=0)
    assert list(packed.used) == [32, 13]  # 20 + 12, then 10 + 3
    invokes = plan_invokes(packed, {32: 8}, (8, 16, 32))
    assert [(i.seq_length, i.batch) for i in invokes] == [(32, 1), (16, 1)]


def test_full_batches_use_the_batched_shape_and_no_call_gets_empty_rows():
    packed = pack_rows([[7] * 30] * 11, 32, pad_id=0)
    invokes = plan_invokes(packed, {32: 4}, (8, 16, 32))
    assert [(len(i.rows), i.seq_length, i.batch) for i in invokes] == [(4, 32, 4), (4, 32, 4), (1, 32, 1), (1, 32, 1), (1, 32, 1)]


def test_segments_differ_between_neighbours_and_padding_is_segment_zero():
    packed = pack_rows([[5, 6], [7, 8, 9]], 8, pad_id=0)
    segments = packed.segment_ids[0]
    assert packed.start_of.tolist() == [3, 0]  # longest first
    assert segments[:3].tolist() == [segments[0]] * 3 and segments[3:5].tolist() == [segments[3]] * 2
    assert segments[0] != segments[3] and segments[5:].tolist() == [0, 0, 0]


def test_texts_pack_into_the_shortest_row_class_that_holds_them():
    groups = row_groups([10, 100, 48, 49, 3], {48: 10}, (8, 16, 32, 48, 64, 128))
    assert [(list(indices), length) for indices, length in groups] == [([0, 2, 4], 48), ([1, 3], 128)]
    assert [(list(i), n) for i, n in row_groups([5, 7], {}, (8, 16))] == [([0, 1], 8)]


def test_a_text_longer_than_the_row_is_refused():
    with pytest.raises(BundleError, match="does not fit"):
        pack_rows([[1] * 9], 8, pad_id=0)


def test_single_text_rows_count_positions_within_the_mask():
    ids = np.array([[101, 5, 102, 0]], dtype=np.int32)
    rows = single_text_rows(ids, np.array([[1, 1, 1, 0]], dtype=np.int32))
    assert rows["position_ids"].tolist() == [[0, 1, 2, 2]] and rows["segment_ids"].tolist() == [[1, 1, 1, 0]]


@pytest.mark.parametrize("mode", ["mean", "cls", "last", "max", "mean_sqrt_len", "weightedmean"])
def test_every_pooling_mode_agrees_packed_bucketed_and_by_hand(tmp_path, fake_runtime, mode):
    from fakes import write_fake_bundle
    from tokenizers import Tokenizer

    from edgeembed import Embedder

    texts = ["a dog runs in the park", "hello", "the cat sleeps on the sofa in the rain", "", "one two three"]
    packed = Embedder.load(write_fake_bundle(tmp_path / "p", packed=True, pooling=mode), embedding_cache_size=0)
    bucketed = Embedder.load(write_fake_bundle(tmp_path / "b", pooling=mode), embedding_cache_size=0)
    assert packed.packs_texts and not bucketed.packs_texts
    raw_packed = packed.encode(texts, normalize_embeddings=False)
    assert np.allclose(raw_packed, bucketed.encode(texts, normalize_embeddings=False), atol=1e-5)
    backend = bucketed.backend
    tokenizer = Tokenizer.from_file(str(tmp_path / "b" / "tokenizer.json"))
    for text, found in zip(texts, raw_packed):
        ids = tokenizer.encode(text).ids
        tokens = backend.table[ids] + backend.positions[np.arange(len(ids))]
        weights = np.arange(1, len(ids) + 1, dtype=np.float32)[:, None]
        expected = {
            "mean": tokens.mean(0), "cls": tokens[0], "last": tokens[-1], "max": tokens.max(0),
            "mean_sqrt_len": tokens.sum(0) / np.sqrt(len(ids)),
            "weightedmean": (tokens * weights).sum(0) / weights.sum(),
        }[mode]
        assert np.allclose(found, expected, atol=1e-5), (mode, text)


def _general_path(embedder, ids):
    """The packed path's loop for one text, without the single-text shortcut."""
    from edgeembed.embed.packing import row_groups as groups

    batched, buckets = embedder.backend.batched_rows, embedder.tokenizer.seq_buckets
    (indices, row_length), = groups([len(ids)], batched, buckets)
    packed = pack_rows([ids], row_length, embedder.tokenizer.pad_id)
    (invoke,) = plan_invokes(packed, batched, buckets)
    outputs = embedder.backend.run_packed(invoke_inputs(packed, invoke))
    return pool_invoke(outputs, packed, invoke, "mean")[1]


def test_the_single_text_shortcut_is_bit_identical_to_the_packed_path(fake_packed_bundle):
    """encode([one text]) skips the packing bookkeeping; its vector must not move by a bit."""
    from edgeembed import Embedder
    from edgeembed.embed.packing import single_text_inputs
    from edgeembed.embed.pooling import mean_of_single_text

    embedder = Embedder.load(fake_packed_bundle, embedding_cache_size=0, token_cache_size=0)
    assert embedder.bundle.manifest.pooling == "mean" and embedder.packs_texts
    calls = []
    run = embedder.backend.run_packed
    embedder.backend.run_packed = lambda arrays: calls.append(arrays["input_ids"].shape) or run(arrays)
    rng = np.random.default_rng(3)
    longest = embedder.tokenizer.seq_buckets[-1]
    for length in range(1, longest + 1):
        ids = [int(i) for i in rng.integers(5, 40, length)]
        general = _general_path(embedder, ids)
        seq_length = embedder.tokenizer.bucket_for(length)
        short = mean_of_single_text(run(single_text_inputs(ids, seq_length, embedder.tokenizer.pad_id)), length)
        assert general.tobytes() == short.tobytes(), length
        assert calls[-1] == (1, seq_length)  # the general path made the same call
    texts = ["a dog", "a man is playing a guitar on a small stage tonight", "x"]
    calls.clear()
    alone = np.stack([embedder.encode([text], normalize_embeddings=False)[0] for text in texts])
    assert all(shape[0] == 1 for shape in calls)
    together = embedder.encode(texts, normalize_embeddings=False)
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-6)
