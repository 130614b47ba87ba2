"""Text files: one text per line, or the STS CSV format ``sentence1,sentence2[,score]``.
(The text sets shipped with edgeembed are in :mod:`edgeembed.data`.)

One rule for every text a command reads (files, stdin, arguments): it must be UTF-8 (a leading
byte-order mark is dropped). Anything else is refused with the line and byte that broke it,
never decoded with replacement characters or passed on as lone surrogates.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from edgeembed.errors import InputError

UTF8_FIX = "convert it to UTF-8 first, e.g. with iconv -f latin1 -t utf-8"


def decode_utf8(data: bytes, source: str) -> str:
    """``data`` as text, or an :class:`InputError` naming ``source``, the line and the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{source} is not UTF-8 (byte 0x{data[error.start]:02x} on line {line}); {UTF8_FIX}") from None


def check_utf8_file(path: Path, chunk_bytes: int = 1 << 20) -> None:
    """Reads ``path`` through once, in chunks: an :class:`InputError` if any byte is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(chunk_bytes)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                bad = chunk[error.start] if error.start < len(chunk) else chunk[-1]
                line = lines + chunk.count(b"\n", 0, error.start) + 1
                raise InputError(f"{path} is not UTF-8 (byte 0x{bad:02x} on line {line}); {UTF8_FIX}") from None
            if not chunk:
                return
            lines += chunk.count(b"\n")


def check_utf8_texts(texts: list[str], source: str) -> list[str]:
    """``texts`` unchanged, or an :class:`InputError` if one holds a lone surrogate (the way
    Python passes on command-line bytes that are not UTF-8)."""
    for number, text in enumerate(texts, 1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{source} {number} is not UTF-8; {UTF8_FIX}") from None
    return texts


def _read(path: str | Path) -> str:
    file_path = Path(path)
    if not file_path.is_file():
        raise InputError(f"{file_path} not found")
    return decode_utf8(file_path.read_bytes(), str(file_path))


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
