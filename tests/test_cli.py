import json
import re

import pytest
from typer.testing import CliRunner

from edgeembed.cli.app import app

runner = CliRunner()


def test_targets_lists_profiles():
    result = runner.invoke(app, ["targets"])
    assert result.exit_code == 0 and "rpi5" in result.output


def test_embed_json_and_info(fake_bundle, tmp_path):
    bundle = str(fake_bundle)
    result = runner.invoke(app, ["embed", bundle, "a dog", "a cat", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(data["embeddings"]) == 2 and len(data["embeddings"][0]) == 32
    npy = tmp_path / "e.npy"
    assert runner.invoke(app, ["embed", bundle, "a dog", "--npy", str(npy)]).exit_code == 0
    result = runner.invoke(app, ["info", bundle])
    assert result.exit_code == 0 and "verified" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "--target", "toaster", "--out", "x"], "unknown target 'toaster'"),
        (["info", "/nonexistent/bundle"], "not an edgeembed bundle"),
        (["embed", "/nonexistent/bundle", "hi"], "not an edgeembed bundle"),
    ],
)
def test_user_errors_have_no_traceback(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_convert_tiny_model_from_the_cli(tiny_model_dir, tmp_path):
    from tiny_models import write_target

    out = tmp_path / "cli-bundle"
    result = runner.invoke(app, ["convert", str(tiny_model_dir), "--target",
                                 str(write_target(tmp_path, "fp32")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mean cosine" in result.output and (out / "edgeembed.json").is_file()


def test_error_messages_print_brackets_verbatim(capsys):
    import typer

    from edgeembed.cli import app as cli
    from edgeembed.errors import EdgeEmbedError

    with pytest.raises(typer.Exit):
        cli.fail(EdgeEmbedError('install it: pip install "edgeembed[convert]" [then retry]'))
    assert 'pip install "edgeembed[convert]" [then retry]' in capsys.readouterr().err


def test_embed_npy_paths_are_checked_and_reported(fake_bundle, tmp_path):
    bundle = str(fake_bundle)
    missing = runner.invoke(app, ["embed", bundle, "a dog", "--npy", str(tmp_path / "missing" / "x.npy")])
    assert missing.exit_code == 1 and "does not exist" in missing.output and "Traceback" not in missing.output
    folder = runner.invoke(app, ["embed", bundle, "a dog", "--npy", str(tmp_path)])
    assert folder.exit_code == 1 and "is a folder" in folder.output
    plain = runner.invoke(app, ["embed", bundle, "a dog", "--npy", str(tmp_path / "vecs")])
    assert plain.exit_code == 0 and f"to {tmp_path / 'vecs.npy'}" in plain.output
    assert (tmp_path / "vecs.npy").is_file() and not (tmp_path / "vecs").exists()


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        ([], "", "stdin was empty"),
        (["a dog", "--threads", "0"], None, "threads (--threads) must be a positive integer"),
        (["a dog", "--batch-size", "0"], None, "batch_size (--batch-size) must be >= 1"),
    ],
)
def test_embed_refuses_what_it_cannot_do(fake_bundle, args, stdin, message):
    result = runner.invoke(app, ["embed", str(fake_bundle), *args], input=stdin)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.convert
def test_convert_a_mistyped_local_path_is_not_sent_to_the_hub(tmp_path):
    result = runner.invoke(app, ["convert", "./no-such/model-folder", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "spelled like a local path" in result.output
    assert "hf download" not in result.output


def test_targets_fits_80_columns_and_has_a_json_form():
    table = runner.invoke(app, ["targets"], env={"COLUMNS": "80"})
    assert table.exit_code == 0 and "jetson-orin-nano" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    data = json.loads(runner.invoke(app, ["targets", "--json"]).stdout)
    assert {"rpi5", "intel-npu"} <= {p["name"] for p in data} and all("seq_buckets" in p for p in data)
    assert json.loads(runner.invoke(app, ["targets", "rpi5", "--json"]).stdout)["quantization"] == "int8-dynamic"


def test_embed_refuses_a_device_a_tflite_bundle_cannot_use(tiny_bundles):
    result = runner.invoke(app, ["embed", str(tiny_bundles["fp32"]), "a dog", "--device", "NPU"])
    assert result.exit_code == 1 and "runs on CPU only" in result.output and "Traceback" not in result.output


def test_runtime_log_noise_is_silenced_unless_verbose(tiny_bundles):
    import subprocess
    import sys

    command = [sys.executable, "-m", "edgeembed.cli", "embed", str(tiny_bundles["fp32"]), "a dog", "--json"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=300)
    loud = subprocess.run([*command[:3], "-v", *command[3:]], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == loud.returncode == 0
    assert "XNNPACK delegate" not in quiet.stderr and "XNNPACK delegate" in loud.stderr


@pytest.mark.parametrize("converter", ["litert-torch", pytest.param("onnx2tf", marks=pytest.mark.slow)])
def test_convert_prints_steps_not_toolchain_noise_when_piped(tiny_model_dir, tmp_path, converter):
    import subprocess
    import sys

    from tiny_models import write_target

    if converter == "onnx2tf":
        pytest.importorskip("onnx2tf")
    command = [sys.executable, "-m", "edgeembed.cli", "convert", str(tiny_model_dir), "--out", str(tmp_path / "b"),
               "--target", str(write_target(tmp_path, "fp32")), "--converter", converter]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "- Loading model" in done.stderr and "verdict: passed" in done.stdout
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "Enum subclass", "XNNPACK delegate",
                  "Could not find cuda drivers", "I0000 "):
        assert noise not in done.stderr + done.stdout


def _one_error_line(result) -> None:
    """A user error: exit 1 or 2, exactly one line starting with 'error:', no traceback."""
    assert result.exit_code in (1, 2), result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")].__len__() == 1, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args, message",
    [
        (["serve", "{bundle}", "--port", "99999"], "--port must be a TCP port number within 1..65535"),
        (["serve", "{bundle}", "--port", "-5"], "--port must be a TCP port number within 1..65535"),
        (["serve", "{bundle}", "--host", "999.1.1.1"], "--host '999.1.1.1' is neither an IP address"),
        (["serve", "{bundle}", "--api-key", "clé-secrète"], "must be printable ASCII"),
        (["embed-corpus", "{bundle}", "{tmp}/missing.txt", "--out", "{tmp}/out", "--format", "npy"], "missing.txt not found"),
        (["embed-corpus", "{bundle}", "{tmp}/missing.txt", "--out", "{tmp}/out"], "missing.txt not found"),
        (["info", "{bundle}/edgeembed.json"], "is a file; a bundle is the folder"),
        (["embed", "{bundle}/tokenizer.json", "a dog"], "is a file; a bundle is the folder"),
        (["embed", "{bundle}", "a dog", "--threads", "0"], "threads (--threads) must be a positive integer"),
    ],
)
def test_every_user_error_is_one_error_line(fake_bundle, tmp_path, args, message):
    result = runner.invoke(app, [a.format(bundle=fake_bundle, tmp=tmp_path) for a in args])
    _one_error_line(result)
    assert message in result.output
    assert not (tmp_path / "out").exists()  # nothing written before the input was checked


def test_embed_output_says_what_it_wrote(fake_bundle, tmp_path, caplog):
    bundle = str(fake_bundle)
    codes = runner.invoke(app, ["embed", bundle, "a dog", "--precision", "binary", "--npy", str(tmp_path / "b.npy")])
    assert codes.exit_code == 0 and "int8" in codes.output and "float32" not in codes.output
    quiet = runner.invoke(app, ["embed", bundle, "a dog", "a cat", "--no-similarity"])
    assert quiet.exit_code == 0 and "2 x 32 float32 vectors" in quiet.output and "a cat" not in quiet.output
    table = runner.invoke(app, ["embed", bundle, "a dog", "a cat"])
    assert "a cat" in table.output
    shown = runner.invoke(app, ["embed", bundle, "a dog", "--json"]).stdout
    decimals = [len(number.split(".")[1]) for number in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", shown) if "e" not in number]
    assert decimals and max(decimals) <= 6, shown[:200]
    caplog.clear()
    long = runner.invoke(app, ["embed", bundle, "word " * 100, "--json"])
    reported = long.output.count("truncated") + sum("truncated" in r.getMessage() for r in caplog.records)
    assert long.exit_code == 0 and reported == 1, long.output[-300:]  # Embedder.encode's warning, once


@pytest.mark.parametrize("command, words", [("bench", "edgeembed[plot]"), ("package", "edgeembed[serve]")])
def test_help_keeps_bracketed_words(command, words):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and words in result.output
