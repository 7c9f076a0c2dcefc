"""The standard gRPC health service (grpc.health.v1.Health) for load balancers and Kubernetes.

It answers SERVING once every configured model has a version AVAILABLE, NOT_SERVING before that
(or when a model has lost all its versions), and NOT_SERVING for good once a SIGTERM starts the
drain, so that probes take the server out of rotation while in-flight requests finish. Health
RPCs take no --max_concurrent_requests slot (a busy server is not an unhealthy one); only gRPC's
own backstop at the same limit, counting RPCs waiting for a thread, can refuse one.

    grpc_health_probe -addr=127.0.0.1:8500                  # the server as a whole
    grpc_health_probe -addr=127.0.0.1:8500 -service=tensorflow.serving.PredictionService
"""

from __future__ import annotations

import logging

from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# "" is the whole server, as Kubernetes' grpc probe asks by default; the services by name for
# clients that check the one they call.
SERVICES = ("", "tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

logger = logging.getLogger(__name__)


class Health:
    """Keeps the health servicer's answer in step with the model manager."""

    def __init__(self, manager):
        self.manager = manager
        self.servicer = health.HealthServicer()
        self._serving = None
        self.update()
        manager.listeners.append(self.update)

    def add_to(self, server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    def update(self) -> None:
        """Re-reads the manager; logs each change of status."""
        serving = self.manager.ready()
        if serving == self._serving:
            return
        self._serving = serving
        for service in SERVICES:
            self.servicer.set(service, SERVING if serving else NOT_SERVING)
        if serving:
            logger.info("Health: SERVING (every model has a version available)")
        else:
            available = self.manager.available()
            waiting = sorted(n for n in self.manager.models if not available.get(n))
            logger.warning("Health: NOT_SERVING; no version available of %s", ", ".join(waiting))

    def drain(self) -> None:
        """NOT_SERVING from now on, whatever the models do (SIGTERM)."""
        self.manager.listeners[:] = [f for f in self.manager.listeners if f != self.update]
        self.servicer.enter_graceful_shutdown()
        logger.info("Health: NOT_SERVING (draining)")
