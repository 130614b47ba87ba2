import json

import pytest
from typer.testing import CliRunner

from edgeembed.cli import app

runner = CliRunner()


def test_targets_lists_profiles():
    result = runner.invoke(app, ["targets"])
    assert result.exit_code == 0 and "rpi5" in result.output


def test_embed_json_and_info(tiny_bundles, tmp_path):
    bundle = str(tiny_bundles["fp32"])
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
