"""bench-serve's summary: CPU per request, the ceiling it puts on the batching gain, and the served
speed against offline encode on the same texts."""

from __future__ import annotations

import os
import sys

import pytest

from edgeembed.data import distinct_texts
from edgeembed.tools.cpu_time import own_cpu_seconds, process_cpu_seconds, usable_cores
from edgeembed.tools.offline_rate import measure, offline_rate
from edgeembed.tools.serve_load import _option_value, _slices
from edgeembed.tools.serve_report import RoundResult, summarize


def _round(mode: str, clients: int, seconds: float, requests: int, server_cpu: float | None, client_cpu: float) -> RoundResult:
    return RoundResult(mode, clients, seconds, [0.001] * requests, [], server_cpu, client_cpu)


def test_cpu_per_request_and_the_ceiling_it_implies():
    results = [
        _round("one at a time", 1, 1.0, 1000, 1.5, 0.1),      # 1,000 req/s
        _round("32 concurrent", 32, 0.5, 1000, 0.8, 0.05),     # 2,000 req/s
        _round("one at a time", 1, 1.0, 1000, 1.3, 0.1),
        _round("32 concurrent", 32, 0.5, 1000, 0.9, 0.07),
    ]
    summary = summarize(results, {}, 0, 1000, cores=2)
    sequential, concurrent = summary["modes"]["one at a time"], summary["modes"]["32 concurrent"]
    assert sequential["server_cpu_ms_per_request"] == pytest.approx(1.4)  # 2.8 s over 2,000 requests
    assert concurrent["server_cpu_ms_per_request"] == pytest.approx(0.85)
    assert concurrent["client_cpu_ms_per_request"] == pytest.approx(0.06)
    ceiling = summary["cpu_ceiling"]
    assert ceiling["requests_per_s"] == pytest.approx(2 * 1000 / 0.91, abs=0.1)
    assert ceiling["batching_gain"] == pytest.approx(2197.8 / 1000, abs=0.01)
    assert ceiling["share_reached"] == pytest.approx(2000 / 2197.8, abs=0.01)
    assert summary["batching_gain"] == 2.0


def test_no_ceiling_without_the_servers_cpu_time():
    results = [_round("one at a time", 1, 1.0, 10, None, 0.1), _round("4 concurrent", 4, 1.0, 10, None, 0.1)]
    summary = summarize(results, {}, 0, 10, cores=2)
    assert summary["modes"]["4 concurrent"]["server_cpu_ms_per_request"] is None
    assert summary["cpu_ceiling"] is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_cpu_seconds_counts_work_and_refuses_a_missing_process():
    before, own_before = process_cpu_seconds(os.getpid()), own_cpu_seconds()
    total = sum(i * i for i in range(2_000_000))
    assert total > 0
    assert process_cpu_seconds(os.getpid()) > before
    assert own_cpu_seconds() > own_before
    assert process_cpu_seconds(2**22 + 12345) is None  # above the kernel's pid limit
    assert usable_cores() >= 1


def test_the_served_speed_is_a_share_of_offline_encode_on_the_same_texts():
    results = [_round("one at a time", 1, 1.0, 500, 1.5, 0.1), _round("32 concurrent", 32, 1.0, 1500, 1.5, 0.05)]
    offline = [
        {"batch_size": 32, "threads": 2, "texts_per_s": 2000.0, "cpu_ms_per_text": 1.0},
        {"batch_size": 32, "threads": 2, "texts_per_s": 2100.0, "cpu_ms_per_text": 0.9},
        {"batch_size": 32, "threads": 2, "texts_per_s": 1900.0, "cpu_ms_per_text": 1.1},
    ]
    comparison = summarize(results, {}, 0, 1500, cores=2, offline=offline)["offline"]
    assert comparison["texts_per_s"] == 2000.0 and comparison["cpu_ms_per_text"] == 1.0  # medians
    assert comparison["served_share"] == 0.75  # 1,500 served texts/s against 2,000 offline
    assert comparison["server_cpu_vs_model"] == 1.0  # 1.5 s of server CPU over 1,500 requests
    assert summarize(results, {}, 0, 1500, cores=2)["offline"] is None


def test_each_round_and_mode_gets_new_texts_and_the_servers_threads_are_found():
    texts = distinct_texts(2 * 3 * 40)
    assert len(set(texts)) == len(texts) == 240
    slices = _slices(texts, 40)
    taken = [next(slices) for _ in range(6)]
    assert len({text for chunk in taken for text in chunk}) == 240  # nothing sent twice
    assert next(slices) == taken[0]  # then it starts over
    with pytest.raises(Exception, match="at most 9900"):
        distinct_texts(9901)
    assert _option_value(["--threads=3"], "--threads") == "3"
    assert _option_value(["--max-wait-ms", "5", "--threads", "1"], "--threads") == "1"
    assert _option_value(["--max-wait-ms=5"], "--threads") is None


def test_offline_rate_measures_encode_with_no_caches(fake_bundle):
    result = measure(str(fake_bundle), distinct_texts(64), threads=1, batch_size=32, min_seconds=0.05)
    assert result["batch_size"] == 32 and result["threads"] == 1
    assert result["texts_per_s"] > 0 and result["cpu_ms_per_text"] > 0


def test_offline_rate_runs_in_a_fresh_process_with_more_texts_than_a_command_line_holds(tiny_bundles):
    texts = distinct_texts(2000)  # ~260 KB of JSON: over Linux's 128 KB limit for one argument
    result = offline_rate(tiny_bundles["fp32"], texts, threads=1, min_seconds=0.05)
    assert result["threads"] == 1 and result["texts_per_s"] > 0


def test_the_table_prints_without_the_servers_cpu_time():
    from rich.console import Console

    from edgeembed.cli.serve_load_table import print_load_test

    results = [_round("one at a time", 1, 1.0, 10, None, 0.1), _round("4 concurrent", 4, 1.0, 10, None, 0.1)]
    offline = [{"batch_size": 32, "threads": 1, "texts_per_s": 20.0, "cpu_ms_per_text": 1.0}]
    console = Console(record=True, width=200)
    print_load_test(console, summarize(results, {}, 0, 10, cores=2, offline=offline))
    text = console.export_text()
    assert "served 50% of that" in text and "its CPU per text" not in text  # no /proc: no CPU ratio


def test_against_urls_name_an_openai_embeddings_route():
    from edgeembed.errors import EdgeEmbedError
    from edgeembed.tools.serve_load import Target

    assert Target.parse("http://127.0.0.1:7997") == Target("127.0.0.1", 7997, "/v1/embeddings")
    assert Target.parse("http://localhost:8000/v1/", "bge").path == "/v1/embeddings"
    assert Target.parse("http://localhost:8000/api/embeddings").path == "/api/embeddings"
    with pytest.raises(EdgeEmbedError, match="plain HTTP"):
        Target.parse("https://example.com")


def test_against_another_server_gets_the_same_rounds_and_a_ratio(tiny_bundles):
    from edgeembed.tools.serve_load import Target, free_port, load_test, start_server, stop_server

    port = free_port()
    other = start_server(tiny_bundles["fp32"], port, ["--cache-size", "0"])  # any OpenAI-compatible server
    try:
        summary = load_test(tiny_bundles["fp32"], distinct_texts(40), clients=4, rounds=1, requests=20,
                            offline=False, against=Target("127.0.0.1", port))
    finally:
        stop_server(other)
    against = summary["against"]
    assert list(against["modes"]) == list(summary["modes"]) == ["one at a time", "4 concurrent"]
    assert all(row["errors"] == 0 and row["requests_per_s"] > 0 for row in against["modes"].values())
    assert all(ratio > 0 for ratio in against["edgeembed_vs_against"].values())
