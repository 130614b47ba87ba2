"""embed-corpus: shards, formats, resuming after a kill, refusing another run's folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from edgeembed import Embedder
from edgeembed.errors import InputError
from edgeembed.tools.corpus import embed_corpus, load_corpus_vectors

WORDS = ["a", "the", "dog", "cat", "runs", "sleeps", "park", "sofa", "rain", "hello", "world", "man", "guitar", "music", "water", "plants"]


def passages(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 12)))) for _ in range(count)]


def test_text_lines_to_parquet_shards_equal_encode(fake_bundle, tmp_path):
    pytest.importorskip("pyarrow")
    texts = passages(250)
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(texts) + "\n")
    embedder = Embedder.load(fake_bundle, embedding_cache_size=0)
    result = embed_corpus(embedder, source, tmp_path / "out", shard_size=100)
    assert (result.rows, result.shards, result.kept) == (250, 3, 0)
    ids, vectors = load_corpus_vectors(tmp_path / "out")
    assert ids == [str(i) for i in range(1, 251)]
    assert np.allclose(vectors, embedder.encode_document(texts), atol=1e-6)
    assert json.loads((tmp_path / "out" / "corpus.json").read_text())["complete"] is True


def test_jsonl_to_npy_keeps_ids_and_a_rerun_recomputes_nothing(fake_bundle, tmp_path):
    texts = passages(30)
    source = tmp_path / "corpus.jsonl"
    source.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    embedder = Embedder.load(fake_bundle, embedding_cache_size=0)
    embed_corpus(embedder, source, tmp_path / "out", shard_size=8, fmt="npy")
    first_shard = tmp_path / "out" / "shard-00000.npy"
    stamp = first_shard.stat().st_mtime_ns
    (tmp_path / "out" / "shard-00003.npy").unlink()  # as if a kill came before the last shard
    result = embed_corpus(embedder, source, tmp_path / "out", shard_size=8, fmt="npy")
    assert (result.shards, result.kept) == (4, 3) and first_shard.stat().st_mtime_ns == stamp
    ids, vectors = load_corpus_vectors(tmp_path / "out")
    assert ids == [f"doc-{i}" for i in range(30)] and np.allclose(vectors, embedder.encode_document(texts), atol=1e-6)


def test_another_runs_folder_and_bad_lines_are_refused(fake_bundle, tmp_path):
    source = tmp_path / "corpus.jsonl"
    source.write_text('{"text": "a dog"}\n{"txt": "no text field"}\n')
    embedder = Embedder.load(fake_bundle)
    with pytest.raises(InputError, match=r"corpus.jsonl:2: each line needs a string field 'text'"):
        embed_corpus(embedder, source, tmp_path / "out", fmt="npy")
    source.write_text('{"text": "a dog"}\n')
    embed_corpus(embedder, source, tmp_path / "ok", fmt="npy")
    with pytest.raises(InputError, match="holds shards of another run .*shard_size"):
        embed_corpus(embedder, source, tmp_path / "ok", shard_size=5, fmt="npy")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        embed_corpus(embedder, source, tmp_path / "foreign", fmt="npy")


def test_a_killed_run_resumes_without_recomputing_finished_shards(tiny_bundles, tmp_path):
    texts = passages(40_000)
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(texts) + "\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "edgeembed.cli", "embed-corpus", str(tiny_bundles["fp32"]), str(source),
               "--out", str(out), "--shard-size", "2000", "--format", "npy"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "shard-00002.npy").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(out.glob("shard-*.npy"))
    stamps = {path.name: path.stat().st_mtime_ns for path in finished}
    assert 3 <= len(finished) < 20, "the kill came too late to test resuming"
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"({len(finished)} kept from an earlier run)" in done.stdout
    assert all((out / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())
    ids, vectors = load_corpus_vectors(out)
    expected = Embedder.load(tiny_bundles["fp32"], embedding_cache_size=0).encode(texts)
    assert len(ids) == 40_000 and np.allclose(vectors, expected, atol=1e-5)
