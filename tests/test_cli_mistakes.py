"""What a new user gets wrong on the command line: one ``error:`` line naming the fix, exit 1,
nothing left behind; and one UTF-8 rule for every text a command reads."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from edgeembed.cli.app import app
from edgeembed.errors import InputError, TargetError

runner = CliRunner()
LATIN1 = "café au lait\nthé\n".encode("latin-1")


def assert_one_error_line(result, message: str) -> None:
    """Exit 1, exactly one ``error:`` line holding ``message``, no traceback."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "threads (--threads) must be a positive integer"),
        (["--rounds", "0"], "rounds (--rounds) must be a positive integer"),
        (["--plot", "{tmp}"], "is a folder; give a file name"),
    ],
)
def test_bench_refuses_bad_options_before_measuring(fake_bundle, tmp_path, args, message):
    if "--plot" in args:
        pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["bench", str(fake_bundle), "--baseline", "", *[a.format(tmp=tmp_path) for a in args]])
    assert_one_error_line(result, message)
    assert "round 1" not in result.output  # refused before any pipeline ran


def test_bench_plot_creates_its_folder_and_writes_whole(tmp_path):
    pytest.importorskip("matplotlib")
    from edgeembed.host.bench import plot_bench

    figures = {"latency_by_tokens_ms": {"16": 1.0, "32": 2.0}, "batch1_per_s": 100.0, "batch32_per_s": 300.0}
    target = tmp_path / "missing-dir" / "bench.png"
    plot_bench({"threads": 2, "results": {"edgeembed": figures}}, target)
    assert target.read_bytes().startswith(b"\x89PNG") and [p.name for p in target.parent.iterdir()] == ["bench.png"]


def write_corpus(tmp_path, name: str, content: bytes):
    source = tmp_path / name
    source.write_bytes(content)
    return source


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("latin1.txt", LATIN1, "is not UTF-8 (byte 0xe9 on line 1)"),
        ("latin1.jsonl", b'{"text": "ok"}\n' + b'{"text": "caf\xe9"}\n', "is not UTF-8 (byte 0xe9 on line 2)"),
        ("fake.parquet", b"this is no parquet file\n", "is not a Parquet file"),
        ("empty.txt", b"", "holds no rows"),
        ("pairs.csv", b"sentence1,sentence2,score\na,b,1\n", "needs a header with a 'text' column"),
    ],
)
def test_embed_corpus_refuses_a_bad_source_and_leaves_nothing(fake_bundle, tmp_path, name, content, message):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    source = write_corpus(tmp_path, name, content)
    result = runner.invoke(app, ["embed-corpus", str(fake_bundle), str(source), "--out", str(tmp_path / "out"),
                                 "--format", "npy"])
    assert_one_error_line(result, message)
    assert not (tmp_path / "out").exists()


def test_embed_corpus_refuses_a_file_as_out(fake_bundle, tmp_path):
    source = write_corpus(tmp_path, "corpus.txt", b"a dog\n")
    taken = write_corpus(tmp_path, "taken", b"mine")
    result = runner.invoke(app, ["embed-corpus", str(fake_bundle), str(source), "--out", str(taken), "--format", "npy"])
    assert_one_error_line(result, "is a file; give a folder")
    assert taken.read_bytes() == b"mine"


def test_a_csv_corpus_is_read_by_its_header_not_line_by_line(fake_bundle, tmp_path):
    from edgeembed import Embedder
    from edgeembed.tools.corpus import embed_corpus, load_corpus_vectors

    source = write_corpus(tmp_path, "corpus.csv", b'id,text\nd1,"a dog, in the park"\nd2,a cat\n')
    embedder = Embedder.load(fake_bundle, embedding_cache_size=0)
    result = embed_corpus(embedder, source, tmp_path / "out", fmt="npy")
    ids, vectors = load_corpus_vectors(tmp_path / "out")
    assert result.rows == 2 and ids == ["d1", "d2"]
    assert (vectors == embedder.encode_document(["a dog, in the park", "a cat"])).all()


def test_a_run_that_fails_before_its_first_shard_removes_the_folder_it_made(fake_bundle, tmp_path):
    from edgeembed import Embedder
    from edgeembed.tools.corpus import embed_corpus

    class Failing:
        bundle = Embedder.load(fake_bundle).bundle

        def encode_document(self, texts, workers=1):
            raise InputError("the model stopped")

    source = write_corpus(tmp_path, "corpus.txt", b"a dog\n")
    with pytest.raises(InputError, match="the model stopped"):
        embed_corpus(Failing(), source, tmp_path / "new" / "out", fmt="npy")
    assert not (tmp_path / "new" / "out").exists()


# One UTF-8 rule: files, stdin and arguments are UTF-8 or refused, by every command that reads text.
def test_embed_refuses_non_utf8_stdin(fake_bundle):
    result = runner.invoke(app, ["embed", str(fake_bundle), "--json"], input=LATIN1)
    assert_one_error_line(result, "stdin is not UTF-8 (byte 0xe9 on line 1)")


def test_embed_refuses_an_argument_that_is_not_utf8(fake_bundle):
    undecodable = LATIN1.decode("utf-8", "surrogateescape").splitlines()[0]  # as Python passes argv bytes
    result = runner.invoke(app, ["embed", str(fake_bundle), undecodable, "--json"])
    assert_one_error_line(result, "text argument 1 is not UTF-8")


def test_embed_reads_utf8_stdin_with_crlf_and_a_bom(fake_bundle):
    result = runner.invoke(app, ["embed", str(fake_bundle), "--json"], input="\ufeffthé\r\ncafé\r\n".encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["texts"] == ["thé", "café"]


@pytest.mark.parametrize("command", [["profile", "{bundle}", "{file}"], ["tune", "{bundle}", "--texts", "{file}"]])
def test_measuring_commands_refuse_the_same_file_the_same_way(fake_bundle, tmp_path, command):
    source = write_corpus(tmp_path, "latin1.txt", LATIN1)
    result = runner.invoke(app, [a.format(bundle=fake_bundle, file=source) for a in command])
    assert_one_error_line(result, "latin1.txt is not UTF-8 (byte 0xe9 on line 1)")


def test_a_flag_that_does_not_fit_the_format_is_blamed_not_the_target():
    from edgeembed.targets.profile import load_target

    openvino = load_target("rpi5").replace(format="openvino")
    with pytest.raises(TargetError, match=r"^--quantization int8-dynamic does not work with format openvino"):
        openvino.replace(quantization="int8-dynamic")


def test_targets_shows_tables_as_toml_not_python_reprs():
    result = runner.invoke(app, ["targets", "rpi5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "DeviceMatch(" not in result.output and "Gates(" not in result.output
    assert 'boards = ["raspberry pi 5"]' in result.output and "[pruned]" in result.output


def test_bench_table_is_not_cut_when_piped():
    from edgeembed.cli.tables import print_bench

    row = {"batch1_per_s": 1234.5678, "batch32_per_s": 3132.0, "latency_p50_ms": 13.456789,
           "latency_p95_ms": 15.0, "cold_start_s": 0.81, "peak_rss_mb": 118.0, "model_mb": 23.8,
           "padding_waste": {"batch1": 1.14, "batch32": 1.08}}
    result = {"machine": {"cpu": "x", "cores": 2}, "texts": 125, "threads": 2, "rounds": 3,
              "results": {"edgeembed": row, "bundle all-minilm-l6-v2-rpi5-layers-3": row, "onnxruntime": row}, "ratios": {}}
    out = io.StringIO()
    print_bench(Console(file=out, width=80), result)
    assert "…" not in out.getvalue() and "p50 ms" in out.getvalue() and "13.46" in out.getvalue()


def test_a_malformed_command_line_is_typers_usage_error_exit_2(fake_bundle):
    result = runner.invoke(app, ["serve", str(fake_bundle), "--port", "abc"])
    assert result.exit_code == 2 and "Traceback" not in result.output
