"""Prometheus metrics of one server, in their own registry (several apps never collide)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from edgeembed.serve.batcher import BatchStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCH_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)


class ServeMetrics:
    """Requests, latency, batch sizes, queue depth, cache hits and truncations."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "edgeembed_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "edgeembed_request_duration_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "edgeembed_batch_size", "Texts per model batch", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "edgeembed_batch_tokens", "Tokens per model batch", buckets=BATCH_TOKEN_BUCKETS, registry=r
        )
        self.inference = Histogram(
            "edgeembed_batch_duration_seconds", "Model time per batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("edgeembed_queue_depth", "Texts waiting for the model", registry=r)
        self.queue_depth.set_function(queue_depth)
        self.rejected = Counter("edgeembed_queue_rejected", "Requests refused because the queue was full", registry=r)
        self.cache_hits = Counter("edgeembed_cache_hits", "Texts answered from the embedding cache", registry=r)
        self.cache_misses = Counter("edgeembed_cache_misses", "Texts sent to the model", registry=r)
        self.truncated = Counter("edgeembed_truncated_inputs", "Texts truncated to the model's token limit", registry=r)
        self.input_tokens = Counter("edgeembed_input_tokens", "Tokens of every embedded text", registry=r)
        self.shared_hits = Counter("edgeembed_shared_cache_hits", "Texts answered from the shared cache", registry=r)
        self.shared_misses = Counter("edgeembed_shared_cache_misses", "Texts the shared cache did not hold", registry=r)
        self.shared_errors = Counter(
            "edgeembed_shared_cache_errors",
            "Shared-cache calls that failed or timed out (answered as misses)",
            registry=r,
        )
        self.loop_lag = Histogram(
            "edgeembed_event_loop_lag_seconds",
            "How late the event loop woke for a 10 ms timer (time it was blocked)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.loop_lag_max = Gauge(
            "edgeembed_event_loop_lag_max_seconds", "The longest event-loop block so far", registry=r
        )

    def record_batch(self, stats: BatchStats) -> None:
        self.batch_size.observe(stats.texts)
        self.batch_tokens.observe(stats.tokens)
        self.inference.observe(stats.seconds)

    def record_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
