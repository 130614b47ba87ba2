"""bench-serve's summary: CPU per request and the ceiling it puts on the batching gain."""

from __future__ import annotations

import os
import sys

import pytest

from edgeembed.tools.cpu_time import own_cpu_seconds, process_cpu_seconds, usable_cores
from edgeembed.tools.serve_load import RoundResult, summarize


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
