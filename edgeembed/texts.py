"""Text files (one text per line, or the STS CSV format ``sentence1,sentence2[,score]``) and the
text sets shipped with edgeembed."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

from edgeembed.errors import InputError


def _read(path: str | Path) -> str:
    file_path = Path(path)
    if not file_path.is_file():
        raise InputError(f"{file_path} not found")
    try:
        return file_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{file_path} is not UTF-8 text") from None


def _is_csv(path: str | Path) -> bool:
    return str(path).lower().endswith((".csv", ".tsv"))


def csv_rows(path: str | Path) -> list[list[str]]:
    text = _read(path)
    delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["sentence1", "sentence2"]:
        rows = rows[1:]
    return rows


def read_texts(path: str | Path) -> list[str]:
    """Non-empty texts of a file; from an STS CSV, both sentences of every pair (deduplicated)."""
    texts = [cell for row in csv_rows(path) for cell in row[:2]] if _is_csv(path) else _read(path).splitlines()
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if not unique:
        raise InputError(f"{path} holds no text")
    return unique


def builtin_texts(name: str) -> list[str]:
    """A text set shipped with the device package: ``holdout`` (texts no conversion calibrated on;
    the calibration set ships with the converters, ``edgeembed.converters.calibration``)."""
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
