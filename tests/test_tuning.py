"""`edgeembed tune`: measured settings land in a local file the Embedder then uses."""

import json

import pytest
from tiny_models import SENTENCES
from typer.testing import CliRunner

from edgeembed import Embedder
from edgeembed.bundle import Bundle
from edgeembed.cli.app import app
from edgeembed.embed.tuned import load_tuned, settings_path
from edgeembed.errors import InputError
from edgeembed.tools.tune import tune


@pytest.fixture()
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def test_tune_writes_the_fastest_settings_and_load_uses_them(fake_bundle, config_home):
    bundle = fake_bundle
    result = tune(bundle, SENTENCES, threads=[1], rounds=1, min_seconds=0.02)
    assert {m["threads"] for m in result["measured"]} == {1}
    assert all(m["batch1_per_s"] > 0 and m["bulk_per_s"] > 0 for m in result["measured"])
    path = settings_path(Bundle.load(bundle))
    assert path.is_file() and path.is_relative_to(config_home)
    assert json.loads(path.read_text())["chosen"] == result["chosen"] == {"threads": 1, "batch_size": result["chosen"]["batch_size"]}
    assert Embedder.load(bundle).threads == 1
    assert Embedder.load(bundle, threads=2).threads == 2  # an explicit choice wins


def test_bucketed_bundles_also_try_batch_sizes(fake_bundle, config_home):
    result = tune(fake_bundle, SENTENCES, threads=[1], batch_sizes=(2, 4), rounds=1, min_seconds=0.02)
    assert result["chosen"]["batch_size"] in (2, 4)
    assert Embedder.load(fake_bundle).batch_size == result["chosen"]["batch_size"]


def test_a_damaged_settings_file_is_ignored_with_a_warning(fake_bundle, config_home, caplog):
    path = settings_path(Bundle.load(fake_bundle))
    path.parent.mkdir(parents=True)
    path.write_text('{"chosen": {"threads": -3}}')
    assert load_tuned(Bundle.load(fake_bundle)) == {}
    assert "ignoring tuned settings" in caplog.text
    path.write_text('{"chosen": {"threads": 1, "shared_weights": "yes"}}')
    assert load_tuned(Bundle.load(fake_bundle)) == {}
    path.write_text('{"chosen": {"threads": 1, "shared_weights": false}}')
    assert load_tuned(Bundle.load(fake_bundle)) == {"threads": 1, "shared_weights": False}
    assert Embedder.load(fake_bundle).threads == 1  # a backend without executors ignores the switch
    path.write_text("not json")
    assert Embedder.load(fake_bundle).threads >= 1


def test_bad_options_are_refused(fake_bundle, config_home):
    with pytest.raises(InputError, match="goal"):
        tune(fake_bundle, SENTENCES, goal="fast")
    with pytest.raises(InputError, match="cores"):
        tune(fake_bundle, SENTENCES, threads=[10_000])


def test_cli_tune_and_reset(fake_bundle, config_home):
    runner = CliRunner()
    bundle = str(fake_bundle)
    result = runner.invoke(app, ["tune", bundle, "--threads", "1", "--rounds", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["chosen"]["threads"] == 1
    assert "forgot" in runner.invoke(app, ["tune", bundle, "--reset"]).output
    assert "no tuned settings" in runner.invoke(app, ["tune", bundle, "--reset"]).output


@pytest.mark.convert
def test_tflite_bundles_also_time_the_litert_executors(tiny_bundles, config_home):
    """Shared packed weights (CompiledModel) and the Interpreter are both measured; the choice
    lands in the settings file and Embedder.load builds that executor."""
    pytest.importorskip("ai_edge_litert.compiled_model")
    bundle = tiny_bundles["fp32"]
    result = tune(bundle, SENTENCES, threads=[1], rounds=1, min_seconds=0.02)
    assert sorted(m["shared_weights"] for m in result["measured"]) == [False, True]
    assert isinstance(result["chosen"]["shared_weights"], bool)
    path = settings_path(Bundle.load(bundle))
    for shared, api in ((False, "interpreter"), (True, "compiled-model")):
        data = json.loads(path.read_text())
        data["chosen"]["shared_weights"] = shared
        path.write_text(json.dumps(data))
        assert Embedder.load(bundle).backend.executor == api
    assert Embedder.load(bundle, backend_options={"shared_weights": False}).backend.executor == "interpreter"
