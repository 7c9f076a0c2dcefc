"""Prometheus metrics, named like TF Serving's (`:tensorflow:serving:request_count` ...).

prometheus_client adds the `_total` suffix to counters, the one visible difference from TF
Serving's exporter. Latency is in microseconds, as TF Serving records it.
"""

from __future__ import annotations

import contextlib
import time

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .status import ServingError

# Microsecond buckets from 100 us to ~100 s, roughly x3 apart.
_BUCKETS = tuple(100 * 3**i for i in range(13))


UNKNOWN_MODEL = "(unknown)"


class Metrics:
    def __init__(self, known_models=None):
        # Model names come from requests: labelling by every name a client invents would grow
        # the registry (and memory) without bound, so names not served share one label.
        self.known_models = known_models
        self.registry = CollectorRegistry()
        self.requests = Counter(
            ":tensorflow:serving:request_count",
            "Requests by model, API, entry point (REST/gRPC) and status code.",
            ["model_name", "API", "entrypoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            ":tensorflow:serving:request_latency",
            "End-to-end request latency in microseconds.",
            ["model_name", "API", "entrypoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.versions = Gauge(
            ":tensorflow:serving:available_versions",
            "Versions of each model currently available.",
            ["model_name"],
            registry=self.registry,
        )

    @contextlib.contextmanager
    def track(self, model: str, api: str, entrypoint: str):
        """Counts and times the enclosed request; a ServingError is counted by its code."""
        start = time.perf_counter()
        if self.known_models is not None and model not in self.known_models():
            model = UNKNOWN_MODEL
        status = "OK"
        try:
            yield
        except ServingError as e:
            status = e.code.name
            raise
        except BaseException:
            status = grpc.StatusCode.INTERNAL.name
            raise
        finally:
            self.requests.labels(model, api, entrypoint, status).inc()
            self.latency.labels(model, api, entrypoint).observe((time.perf_counter() - start) * 1e6)

    def render(self, available: dict[str, list[int]]) -> bytes:
        for name, versions in available.items():
            self.versions.labels(name).set(len(versions))
        return generate_latest(self.registry)
