"""The text sets shipped with edgeembed: held-out sentences no conversion calibrated on, and the
benchmark and load-test texts built from them (the calibration set ships with the converters,
``edgeembed.converters.calibration``)."""

from __future__ import annotations

from importlib import resources

from edgeembed.errors import InputError


def builtin_texts(name: str) -> list[str]:
    """A text set shipped with the device package: ``holdout`` (texts no conversion calibrated on)."""
    resource = resources.files("edgeembed") / "data" / f"{name}.txt"
    return [line for line in resource.read_text(encoding="utf-8").splitlines() if line.strip()]


def bench_texts(passages: int = 25, sentences_per_passage: int = 5) -> list[str]:
    """What an embedding service sees: the 100 held-out short texts (queries, titles) and
    ``passages`` passage-length texts (held-out sentences joined five at a time, ~60 tokens).

    Every text is distinct: ``Embedder.encode`` embeds a repeated text once per call, so a
    repeat would let edgeembed skip work the baselines do. Passages that run past the end of
    the short texts start one sentence later on each pass, so they never repeat an earlier one.
    """
    short = builtin_texts("holdout")
    starts = (index * sentences_per_passage for index in range(passages))
    joined = [
        " ".join(short[(start + start // len(short) + k) % len(short)] for k in range(sentences_per_passage))
        for start in starts
    ]
    texts = short + joined
    if len(set(texts)) != len(texts):
        raise ValueError(f"{passages} passages of {sentences_per_passage} sentences would repeat a text")
    return texts


MAX_DISTINCT_TEXTS = 9900  # ordered pairs of the 100 held-out sentences


def distinct_texts(count: int) -> list[str]:
    """``count`` distinct texts of two held-out sentences each (about 25 tokens), for load tests
    where no cache may answer: at most :data:`MAX_DISTINCT_TEXTS` (every ordered pair)."""
    short = builtin_texts("holdout")
    size = len(short)
    if count > min(MAX_DISTINCT_TEXTS, size * (size - 1)):
        raise InputError(f"at most {MAX_DISTINCT_TEXTS} distinct texts can be made, asked for {count}")
    return [f"{short[index % size]} {short[(index % size + 1 + index // size) % size]}" for index in range(count)]
