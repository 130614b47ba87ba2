"""``edgeembed embed-corpus``: embed a large text collection into shards, resumably.

Input: a text file (one passage per line, id = line number), JSON Lines (``text`` and optional
``id`` per line), CSV or TSV (a header with a ``text`` and an optional ``id`` column) or Parquet
(``text`` and optional ``id`` columns; the ``corpus`` extra). The whole input is read through
once before anything is written, so a file that is not UTF-8, a bad line, a missing column or
an empty corpus is refused up front; a run that fails before its first shard removes the
``--out`` folder it created. Output:
a folder of shards of ``shard_size`` rows, each written atomically as Parquet (``id``,
``text_sha256``, ``vector``) or ``.npy`` (+ ``.ids.json``), and ``corpus.json`` describing the
run. A shard that exists is never recomputed, so a killed run picks up where it stopped;
a folder written for another bundle, input or shard size is refused.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from edgeembed.atomic import atomic_write
from edgeembed.errors import InputError, MissingDependencyError
from edgeembed.texts import check_utf8_file

RUN_FILE = "corpus.json"
FORMATS = ("parquet", "npy")


@dataclass(frozen=True)
class CorpusResult:
    out: Path
    rows: int
    shards: int
    kept: int  # shards found finished from an earlier run
    dim: int


def check_corpus_source(path: str | os.PathLike[str]) -> int:
    """The number of rows in the corpus, after reading it through once; or an error naming
    what is wrong with it (checked before anything is written)."""
    source = Path(path)
    if not source.is_file():
        what = "is a folder" if source.is_dir() else "not found"
        raise InputError(f"corpus {source} {what}; give a text file (a passage per line), JSON Lines, CSV or Parquet")
    if source.suffix == ".parquet":
        rows = _parquet_file(source).metadata.num_rows
    else:
        check_utf8_file(source)
        rows = sum(1 for _ in read_corpus(source))
    if not rows:
        raise InputError(f"corpus {source} holds no rows; nothing to embed")
    return rows


def check_corpus_out(out: str | os.PathLike[str]) -> Path:
    """The ``--out`` folder (it may not exist yet), or an error if a file is in its place."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; give a folder for the shards (it is created if missing)")
    return folder


def read_corpus(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """``(id, text)`` pairs in file order."""
    source = Path(path)
    if source.suffix == ".parquet":
        yield from _read_parquet(source)
        return
    if source.suffix in (".csv", ".tsv"):
        yield from _read_csv(source)
        return
    with open(source, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if source.suffix in (".jsonl", ".ndjson"):
                yield _json_line(line, number, source)
            else:
                yield str(number), line.rstrip("\n")


def _json_line(line: str, number: int, source: Path) -> tuple[str, str]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise InputError(f"{source}:{number}: not JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise InputError(f"{source}:{number}: each line needs a string field 'text'")
    return str(record.get("id", number)), record["text"]


def _read_csv(source: Path) -> Iterator[tuple[str, str]]:
    with open(source, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if source.suffix == ".tsv" else ",")
        if "text" not in (reader.fieldnames or []):
            raise InputError(
                f"{source}: a CSV corpus needs a header with a 'text' column (and optionally 'id'); "
                f"its first line is {reader.fieldnames}"
            )
        for number, row in enumerate(reader, 1):
            yield str(row.get("id") or number), row.get("text") or ""


def _read_parquet(source: Path) -> Iterator[tuple[str, str]]:
    table = _parquet_file(source)
    row = 0
    columns = ["text", *(["id"] if "id" in table.schema.names else [])]
    for batch in table.iter_batches(columns=columns):
        data = batch.to_pydict()
        ids = data.get("id") or range(row + 1, row + 1 + len(data["text"]))
        for identifier, text in zip(ids, data["text"], strict=False):
            yield str(identifier), "" if text is None else str(text)
        row += len(data["text"])


def _parquet_file(source: Path):
    """The opened Parquet file with a 'text' column, or an error naming what it is instead."""
    parquet = _pyarrow_parquet()
    import pyarrow as pa

    try:
        table = parquet.ParquetFile(source)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{source} is not a Parquet file ({error}); give Parquet, JSON Lines, CSV or text") from None
    if "text" not in table.schema.names:
        raise InputError(f"{source}: needs a 'text' column, has {table.schema.names}")
    return table


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise MissingDependencyError('Parquet needs pyarrow: pip install "edgeembed[corpus]"') from None
    return parquet


class LocalShards:
    """Shards embedded in this process (``workers`` > 1: that many processes), one at a time."""

    capacity = 1

    def __init__(self, embedder, workers: int) -> None:
        self.embedder, self.workers = embedder, workers
        self._queue: list[tuple[int, list[str]]] = []

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, number: int, texts: list[str]) -> None:
        self._queue.append((number, texts))

    def next_done(self) -> tuple[int, np.ndarray]:
        number, texts = self._queue.pop(0)
        return number, self.embedder.encode_document(texts, workers=self.workers)  # passages: document prompt

    def close(self) -> None:
        pass


def embed_corpus(
    embedder,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    shard_size: int = 10_000,
    fmt: str = "parquet",
    workers: int = 1,
    progress: Callable[[int], None] = lambda rows: None,
    ray_address: str | None = None,
) -> CorpusResult:
    """Embed ``source`` with ``embedder`` into shards under ``out``; finished shards are kept.

    ``ray_address`` ("local" starts Ray on this machine; "auto", "ray://host:10001" join a
    cluster) embeds shards on Ray actors instead of this machine's processes: ``workers`` actors
    (1 = one per CPU of the cluster), one thread each. The bundle travels through Ray's object
    store, so workers need not see its path. Shards are written here as they finish.
    """
    check_corpus_source(source)
    folder = check_corpus_out(out)
    if fmt not in FORMATS:
        raise InputError(f"format (--format) must be one of {list(FORMATS)}, got {fmt!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InputError(f"shard_size (--shard-size) must be a positive integer, got {shard_size!r}")
    if fmt == "parquet":
        _pyarrow_parquet()
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _embed_into(
            folder, embedder, Path(source), shard_size, fmt, _runner(embedder, workers, ray_address), progress
        )
    except BaseException:
        if created and not any(folder.glob("shard-*")):  # nothing finished: leave no empty --out behind
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _embed_into(
    folder: Path, embedder, source: Path, shard_size: int, fmt: str, runner, progress: Callable[[int], None]
) -> CorpusResult:
    run = _claim_run(folder, embedder, source, shard_size, fmt)
    rows = shards = kept = 0
    pending: dict[int, tuple[list[str], list[str]]] = {}

    def finish_one() -> None:
        number, vectors = runner.next_done()
        ids, texts = pending.pop(number)
        _write_shard(_shard_path(folder, number, fmt), fmt, ids, texts, vectors)
        progress(len(ids))

    try:
        pairs = read_corpus(source)
        while chunk := list(islice(pairs, shard_size)):
            if _shard_path(folder, shards, fmt).is_file():
                kept += 1
                progress(len(chunk))
            else:
                pending[shards] = ([p[0] for p in chunk], [p[1] for p in chunk])
                runner.submit(shards, pending[shards][1])
                while runner.in_flight >= runner.capacity:
                    finish_one()
            rows, shards = rows + len(chunk), shards + 1
        while runner.in_flight:
            finish_one()
    finally:
        runner.close()
    run.update(rows=rows, shards=shards, complete=True)
    atomic_write(folder / RUN_FILE, lambda stream: stream.write(json.dumps(run, indent=2).encode()))
    return CorpusResult(folder, rows, shards, kept, embedder.get_sentence_embedding_dimension())


def _runner(embedder, workers: int, ray_address: str | None):
    if ray_address is None:
        return LocalShards(embedder, workers)
    from edgeembed.integrations.ray import RayShardRunner

    return RayShardRunner(embedder.bundle.path, ray_address, actors=None if workers == 1 else workers)


def _shard_path(folder: Path, number: int, fmt: str) -> Path:
    return folder / f"shard-{number:05d}.{fmt}"


def _claim_run(folder: Path, embedder, source: Path, shard_size: int, fmt: str) -> dict:
    stat = source.stat()
    run = {
        "bundle_digest": embedder.bundle.manifest.digest,
        "input": str(source.resolve()),
        "input_bytes": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "shard_size": shard_size,
        "format": fmt,
    }
    existing = folder / RUN_FILE
    if existing.is_file():
        earlier = json.loads(existing.read_text())
        differs = [key for key in run if earlier.get(key) != run[key]]
        if differs:
            raise InputError(
                f"{folder} holds shards of another run ({', '.join(differs)} differ); choose another --out or delete it"
            )
    elif any(folder.iterdir()):
        raise InputError(f"{folder} is not empty and holds no {RUN_FILE}; choose another --out")
    atomic_write(existing, lambda stream: stream.write(json.dumps(run, indent=2).encode()))
    return run


def _write_shard(path: Path, fmt: str, ids: list[str], texts: list[str], vectors: np.ndarray) -> None:
    hashes = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
    if fmt == "npy":
        atomic_write(
            path.with_suffix(".ids.json"), lambda s: s.write(json.dumps({"id": ids, "text_sha256": hashes}).encode())
        )
        atomic_write(path, lambda stream: np.save(stream, vectors))
        return
    import pyarrow as pa

    parquet = _pyarrow_parquet()
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "text_sha256": pa.array(hashes, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1]),
        }
    )
    atomic_write(path, lambda stream: parquet.write_table(table, stream))


def load_corpus_vectors(out: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """All ids and vectors of a finished run, in input order."""
    folder = Path(out)
    run = json.loads((folder / RUN_FILE).read_text())
    ids, parts = [], []
    for number in range(run["shards"]):
        path = _shard_path(folder, number, run["format"])
        if run["format"] == "npy":
            ids += json.loads(path.with_suffix(".ids.json").read_text())["id"]
            parts.append(np.load(path))
        else:
            table = _pyarrow_parquet().read_table(path)
            ids += table.column("id").to_pylist()
            parts.append(np.asarray(table.column("vector").combine_chunks().flatten()).reshape(table.num_rows, -1))
    return ids, np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
