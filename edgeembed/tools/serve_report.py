"""What ``edgeembed bench-serve`` reports: rounds summarized per mode, the CPU ceiling, the
served share of offline speed, the batches the server's ``/metrics`` saw, and another server's
rounds beside these."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from edgeembed.tools.cpu_time import usable_cores


@dataclass
class RoundResult:
    mode: str
    clients: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server_cpu_s: float | None = None  # CPU the server process used during the round
    client_cpu_s: float | None = None  # CPU the load generator used during the round

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_s) / self.seconds if self.seconds else 0.0


def batch_sizes(metrics_text: str) -> dict[str, float]:
    """Batches run, mean texts per batch and the largest bucket bound seen, from ``/metrics``."""
    values = {}
    for name in ("edgeembed_batch_size_count", "edgeembed_batch_size_sum"):
        match = re.search(rf"^{name} (\S+)$", metrics_text, re.MULTILINE)
        values[name] = float(match.group(1)) if match else 0.0
    count, total = values["edgeembed_batch_size_count"], values["edgeembed_batch_size_sum"]
    multi = re.search(r'^edgeembed_batch_size_bucket\{le="1.0"\} (\S+)$', metrics_text, re.MULTILINE)
    single = float(multi.group(1)) if multi else 0.0
    return {"batches": count, "mean_batch": total / count if count else 0.0, "batches_over_1": count - single}


def _cpu_ms_per_request(results: list[RoundResult], attribute: str) -> float | None:
    seconds = [getattr(result, attribute) for result in results]
    answered = sum(len(result.latencies_s) for result in results)
    if not answered or any(value is None for value in seconds):
        return None
    return 1000 * sum(seconds) / answered


def cpu_ceiling(sequential: dict, concurrent: dict, cores: int) -> dict | None:
    """The most requests/s ``cores`` could serve at the concurrent rounds' CPU per request
    (server + load generator, perfect overlap), and that as a batching gain."""
    server, client = concurrent.get("server_cpu_ms_per_request"), concurrent.get("client_cpu_ms_per_request")
    if server is None or client is None or server + client <= 0:
        return None
    ceiling = cores * 1000 / (server + client)
    return {
        "cores": cores,
        "requests_per_s": round(ceiling, 1),
        "batching_gain": round(ceiling / sequential["requests_per_s"], 2) if sequential["requests_per_s"] else 0.0,
        "share_reached": round(concurrent["requests_per_s"] / ceiling, 2),
    }


def summarize_modes(results: list[RoundResult]) -> dict[str, Any]:
    """Per mode (in the order first run): clients, median requests/s, p50/p99, errors, CPU."""
    modes: dict[str, Any] = {}
    for result in results:
        entry = modes.setdefault(
            result.mode, {"clients": result.clients, "rates": [], "latencies": [], "errors": [], "rounds": []}
        )
        entry["rounds"].append(result)
        entry["rates"].append(result.requests_per_s)
        entry["latencies"].extend(result.latencies_s)
        entry["errors"].extend(result.errors)
    summary = {}
    for mode, entry in modes.items():
        latencies = sorted(entry["latencies"]) or [0.0]
        summary[mode] = {
            "clients": entry["clients"],
            "requests_per_s": round(statistics.median(entry["rates"]), 1),
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
            "errors": len(entry["errors"]),
            "first_error": entry["errors"][0] if entry["errors"] else None,
        }
        for side in ("server", "client"):
            value = _cpu_ms_per_request(entry["rounds"], f"{side}_cpu_s")
            summary[mode][f"{side}_cpu_ms_per_request"] = None if value is None else round(value, 3)
    return summary


def summarize(
    results: list[RoundResult],
    batches: dict,
    exit_status: int,
    requests_per_round: int,
    cores: int | None = None,
    offline: list[dict] | None = None,
) -> dict:
    cores = cores or usable_cores()
    summary = summarize_modes(results)
    modes = list(summary)
    sequential, concurrent = (summary[mode] for mode in modes)
    gain = concurrent["requests_per_s"] / sequential["requests_per_s"] if sequential["requests_per_s"] else 0.0
    return {
        "requests_per_round": requests_per_round,
        "rounds": len(results) // 2,
        "modes": summary,
        "batching_gain": round(gain, 2),
        "cpu_ceiling": cpu_ceiling(sequential, concurrent, cores),
        "offline": offline_comparison(concurrent, offline or []),
        "server_batches": batches,
        "server_exit_status": exit_status,
    }


def offline_comparison(concurrent: dict, offline: list[dict]) -> dict | None:
    """The concurrent rounds against ``encode`` at batch 32 on the same texts (medians over rounds):
    served texts/s as a share of offline texts/s, and the server's CPU per request against the
    model's own CPU per text."""
    if not offline:
        return None
    rate = statistics.median(entry["texts_per_s"] for entry in offline)
    model_cpu = statistics.median(entry["cpu_ms_per_text"] for entry in offline)
    server_cpu = concurrent.get("server_cpu_ms_per_request")
    return {
        "batch_size": offline[0]["batch_size"],
        "threads": offline[0]["threads"],
        "texts_per_s": round(rate, 1),
        "cpu_ms_per_text": round(model_cpu, 3),
        "served_share": round(concurrent["requests_per_s"] / rate, 2) if rate else None,
        "server_cpu_vs_model": round(server_cpu / model_cpu, 2) if server_cpu is not None and model_cpu else None,
    }


def against_comparison(url: str, theirs: dict, ours: dict) -> dict:
    """The other server's modes, and this server's requests/s as a multiple of its, per mode."""
    ratios = {
        mode: round(ours[mode]["requests_per_s"] / theirs[mode]["requests_per_s"], 2)
        if theirs[mode]["requests_per_s"]
        else None
        for mode in ours
    }
    return {"url": url, "modes": theirs, "edgeembed_vs_against": ratios}
