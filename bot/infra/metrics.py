"""Prometheus counters (GET /metrics). Under gunicorn set PROMETHEUS_MULTIPROC_DIR so every
worker process's counts are summed."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

REQUESTS = Counter("healthcode_http_requests_total", "HTTP requests", ["endpoint", "status"])
LATENCY = Histogram("healthcode_http_request_seconds", "HTTP request latency", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
OUTBOX_RUNS = Counter("healthcode_outbox_runs_total", "Outbox job runs", ["kind", "outcome"])
PUSHES = Counter("healthcode_pushes_total", "Push notices", ["channel", "outcome"])
COLOUR_CHANGES = Counter("healthcode_colour_changes_total", "Code colour changes", ["old", "new"])
QUEUE_DEPTH = Gauge("healthcode_queue_depth", "Jobs waiting per RQ queue", ["queue"], multiprocess_mode="max")


def render(services) -> tuple[bytes, str]:
    try:
        for name, queue in services.queues.items():
            QUEUE_DEPTH.labels(name).set(queue.count)
    except Exception:  # Redis away: /healthz says so; metrics still answer
        pass
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
