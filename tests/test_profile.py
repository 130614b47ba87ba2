"""``edgeembed profile``: every stage of encode timed, the stages adding up, nothing left patched."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgeembed import Embedder
from edgeembed.cli.app import app
from edgeembed.embed.pipeline import ENCODE, STEPS
from edgeembed.tools.profile import STAGES, profile, profile_embedder

TEXTS = ["a dog runs in the park", "the cat sleeps", "rain falls on the quiet town at night", "sun"] * 4


@pytest.mark.parametrize("kind", ["fake_bundle", "fake_packed_bundle"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_the_stages_add_up_to_the_wall_time(request, kind, batch_size):
    embedder = Embedder.load(request.getfixturevalue(kind), token_cache_size=0, embedding_cache_size=0)
    result = profile_embedder(embedder, TEXTS, batch_size=batch_size, rounds=2)
    assert list(result.stages) == list(STAGES)  # every stage is in the sum, in the report's order
    assert abs(result.stage_sum_s - result.wall_s) <= 0.1 * result.wall_s
    assert result.stages["model call"] > 0 and result.stages["tokenizer"] > 0 and result.stages["python glue"] > 0
    real = sum(len(item.ids) for item in embedder.tokenizer.encode(TEXTS)) * 2
    assert result.real_tokens == real and result.token_slots >= real and result.padding_waste >= 1.0
    assert result.texts == 2 * len(TEXTS) and result.calls == 2 * -(-len(TEXTS) // batch_size)
    report = result.to_dict()
    assert sum(row["share"] for row in report["stages"]) == pytest.approx(result.stage_sum_s / result.wall_s)


class Recorder:
    """An observer that keeps every report."""

    def __init__(self):
        self.steps, self.slots, self.real = [], 0, 0

    def step(self, name, seconds):
        self.steps.append((name, seconds))

    def model_call(self, token_slots):
        self.slots += token_slots

    def tokenized(self, real_tokens):
        self.real += real_tokens


@pytest.mark.parametrize("kind", ["fake_bundle", "fake_packed_bundle"])
def test_every_pipeline_step_reports_to_an_attached_observer(request, kind):
    """Fails if a step of the pipeline stops reporting (or is renamed away from STEPS)."""
    embedder = Embedder.load(request.getfixturevalue(kind))
    before = embedder.encode(TEXTS[:3])
    with embedder.pipeline.observed(Recorder()) as recorder:
        embedder.encode(TEXTS[4:8], batch_size=2)
        embedder.encode(TEXTS[4:8], batch_size=2, precision="binary")  # now from the embedding cache
    assert {name for name, _ in recorder.steps} == {*STEPS, ENCODE}
    assert all(seconds >= 0 for _, seconds in recorder.steps) and recorder.slots >= recorder.real > 0
    assert embedder.pipeline.observer is None and (embedder.encode(TEXTS[:3]) == before).all()


def test_profiling_reports_through_the_observer_and_leaves_the_embedder_as_it_was(fake_bundle):
    embedder = Embedder.load(fake_bundle, token_cache_size=0, embedding_cache_size=0)
    def objects():  # what each attribute of the embedder, its backend and tokenizer is (counters aside)
        owners = (embedder, embedder.backend, embedder.tokenizer, embedder.pipeline)
        return [{k: id(v) for k, v in vars(o).items() if not isinstance(v, (int, float))} for o in owners]

    attributes = objects()
    before = embedder.encode(TEXTS[:3])
    profile_embedder(embedder, TEXTS, batch_size=2, rounds=1)
    assert objects() == attributes
    assert embedder.pipeline.observer is None and (embedder.encode(TEXTS[:3]) == before).all()


def test_profile_refuses_bad_options_naming_the_flag(fake_bundle):
    with pytest.raises(Exception, match=r"--batch-size"):
        profile(fake_bundle, TEXTS, batch_size=0)
    with pytest.raises(Exception, match=r"--rounds"):
        profile(fake_bundle, TEXTS, rounds=0)


def test_profile_command_reports_each_batch_size(fake_bundle, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["profile", str(fake_bundle), str(texts), "--batch-size", "1", "--batch-size", "4", "--rounds", "1", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [r["batch_size"] for r in reports] == [1, 4] and all(r["operators"] for r in reports)
    table = runner.invoke(app, ["profile", str(fake_bundle), "--rounds", "1"])
    assert table.exit_code == 0 and "model call" in table.output and "padding waste" in table.output
    bad = runner.invoke(app, ["profile", str(fake_bundle), "--batch-size", "0"])
    assert bad.exit_code == 1 and "error:" in bad.output and "Traceback" not in bad.output


def test_profile_plot_is_written(fake_bundle, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "profile.png"
    result = CliRunner().invoke(app, ["profile", str(fake_bundle), "--rounds", "1", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_truncation_is_counted_once_not_warned_per_call(fake_bundle, caplog):
    embedder = Embedder.load(fake_bundle, token_cache_size=0, embedding_cache_size=0)
    long_text = " ".join(["word"] * (4 * embedder.max_seq_length))
    with caplog.at_level("WARNING", logger="edgeembed"):
        result = profile_embedder(embedder, [long_text, *TEXTS[:3]], batch_size=1, rounds=2)
    cut = sum(item.truncated for item in embedder.tokenizer.encode([long_text, *TEXTS[:3]]))
    assert cut >= 1 and result.truncated == 2 * cut and result.to_dict()["max_seq_length"] == embedder.max_seq_length
    assert not [record for record in caplog.records if "truncated" in record.getMessage()]
    embedder.encode([long_text])  # outside the profile the warning is back
    assert [record for record in caplog.records if "truncated" in record.getMessage()]
