"""A hand-built tiny bundle and a numpy backend: the fast tier embeds with numpy + tokenizers only.

The "model" is an ``.npz`` with a random token table and a position table; the backend returns
``table[ids] + positions[position]`` per token, so every text's vector depends on its own
tokens only (as a real bundle's must), and the Embedder's tokenizing, bucketing, packing,
pooling, caching and normalizing all run for real. Bundles say ``format = "onnx"``; the
``fake_runtime`` fixture maps that format to this backend for one test at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeembed.bundle import Bundle, Manifest, Signature, write_bundle
from edgeembed.runtimes import BackendTraits

WORDS = ["a", "the", "an", "and", "or", "of", "to", "in", "on", "at", "is", "are", "was", "be", "it", "this", "that", "with", "for", "as", "by", "from", "dog", "dogs", "cat", "cats", "man", "woman", "child", "runs", "run", "running", "sleeps", "sleep", "park", "sofa", "rain", "expected", "tomorrow", "playing", "plays", "guitar", "music", "instrument", "someone", "water", "plants", "twice", "week", "how", "do", "i", "reset", "my", "router", "train", "leaves", "eight", "hello", "world", "text", "one", "two", "three", "short", "long", "movie", "new", "awesome", "sentence"]
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
DIM = 32


def write_tokenizer(path: Path) -> Path:
    """A lower-casing WordPiece tokenizer with [CLS] ... [SEP], as BERT models have."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {token: index for index, token in enumerate((*SPECIALS, *WORDS, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"), *"abcdefghijklmnopqrstuvwxyz0123456789.,!?'"))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer.save(str(path))
    return path


def write_fake_bundle(
    out: Path, packed: bool = False, max_seq_length: int = 16, seed: int = 0,
    prompts: dict[str, str] | None = None, default_prompt_name: str = "",
    truncate_dim: int = 0, embedding_ranges: dict | None = None, projection: np.ndarray | None = None,
    pooling: str = "mean", dim: int = DIM,
) -> Path:
    """A verified bundle (hashes, digest, report) whose model runs in :class:`NumpyBackend`."""
    work = out.parent / f".{out.name}-parts"
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = write_tokenizer(work / "tokenizer.json")
    vocab_size = len(SPECIALS) + len(WORDS) + 26 + 36 + 5
    rng = np.random.default_rng(seed)
    model = work / "model.npz"
    with open(model, "wb") as stream:
        np.savez(stream, table=rng.standard_normal((vocab_size + 8, dim)).astype(np.float32),
                 positions=0.1 * rng.standard_normal((max_seq_length, dim)).astype(np.float32))
    buckets = (8, max_seq_length)
    roles = {"input_ids": "input_ids", **({"position_ids": "position_ids", "segment_ids": "segment_ids"} if packed else {"attention_mask": "attention_mask"})}
    signatures = [Signature(f"seq_{b}", b, 1, roles, "token_embeddings") for b in buckets]
    if packed:
        signatures.append(Signature(f"seq_{max_seq_length}_b4", max_seq_length, 4, roles, "token_embeddings"))
    manifest = Manifest(
        source={"name": "fake/numpy-tiny", "layout": "hand-built"},
        format="onnx", quantization="fp32", converter={"name": "hand-built"},
        max_seq_length=max_seq_length, signatures=tuple(signatures), model_files=("model.npz",),
        pooling=pooling, normalize=True, embedding_dim=dim, target="x86-64",
        runtime={"threads": 1, "batch_size": 4, "token_cache": 256, "embedding_cache": 64},
        prompts=dict(prompts or {}), default_prompt_name=default_prompt_name,
        truncate_dim=truncate_dim, embedding_ranges=dict(embedding_ranges or {}),
        projection_dim=0 if projection is None else int(projection.shape[1]),
    )
    report = {
        "quantization": "fp32", "target": "x86-64",
        "fidelity": {"sentences": 0, "mean_cosine": 1.0, "min_cosine": 1.0, "p5_cosine": 1.0,
                     "held_out_texts": "none: a hand-built test bundle is its own reference"},
        "verdict": {"passed": True, "failures": []},
    }
    files = {"model.npz": model, "tokenizer.json": tokenizer}
    if projection is not None:
        np.save(work / "projection.npy", projection, allow_pickle=False)
        files["projection.npy"] = work / "projection.npy"
    write_bundle(out, manifest, files, report, overwrite=True)
    return out


class NumpyBackend(BackendTraits):
    """Runs a :func:`write_fake_bundle` model: ``table[ids] + positions[position]`` per token."""

    runtime = "numpy"

    def __init__(self, bundle: Bundle, *, device: str = "CPU", threads: int | None = None, **options) -> None:
        with np.load(bundle.file(bundle.manifest.model_files[0])) as data:
            self.table, self.positions = data["table"], data["positions"]
        self.device, self.threads = device, threads
        signatures = bundle.manifest.signatures
        self.packed = all(s.packed for s in signatures)
        self.batched_rows = {s.seq_length: s.batch_size for s in signatures if s.batch_size > 1}
        self._buckets = tuple(sorted({s.seq_length for s in signatures}))
        self.calls: list[tuple[int, ...]] = []

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return self._buckets

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.calls.append(input_ids.shape)
        positions = np.broadcast_to(np.arange(input_ids.shape[1]), input_ids.shape)
        return self.table[input_ids] + self.positions[positions]

    def run_packed(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        self.calls.append(inputs["input_ids"].shape)
        return self.table[inputs["input_ids"]] + self.positions[inputs["position_ids"]]


def use_numpy_backend() -> None:
    """Make "onnx" bundles run in :class:`NumpyBackend` in this process (Ray workers' setup hook)."""
    from edgeembed import runtimes

    runtimes.BACKENDS["numpy-fake"] = "fakes:NumpyBackend"
    runtimes.FORMAT_DEFAULT_BACKEND["onnx"] = "numpy-fake"
