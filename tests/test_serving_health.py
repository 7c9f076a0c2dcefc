"""The standard gRPC health service, asked with grpcio-health-checking's own client stub: what a
Kubernetes grpc probe or grpc_health_probe sees while models load, serve and drain."""

import base64
import concurrent.futures
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keras_resnet.serving.core.server import ModelServer
from keras_resnet.serving.tools import client
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    running_server,
    server_options,
    wait_for,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
IMAGE = png(random_pixels(1, seed=4)[0])
BODY = {"instances": [{"b64": base64.b64encode(IMAGE).decode()}]}


def check(channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status


def test_serving_only_once_every_model_has_a_version(tmp_path):
    export_tiny(tmp_path / "tiny")
    (tmp_path / "late").mkdir()  # a second model whose first version is not there yet
    (tmp_path / "models.config").write_text(
        f'model_config_list {{ config {{ name: "tiny" base_path: "{tmp_path / "tiny"}" }} '
        f'config {{ name: "late" base_path: "{tmp_path / "late"}" }} }}'
    )
    options = server_options(
        model_config_file=str(tmp_path / "models.config"), file_system_poll_wait_seconds=0.2
    )
    with running_server(options) as server:
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        stub = health_pb2_grpc.HealthStub(channel)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=120)
        assert next(watch).status == NOT_SERVING
        assert check(channel) == NOT_SERVING
        assert check(channel, "tensorflow.serving.PredictionService") == NOT_SERVING
        export_tiny(tmp_path / "late")
        assert next(watch).status == SERVING  # pushed as soon as "late" loads
        watch.cancel()
        for service in (
            "",
            "tensorflow.serving.PredictionService",
            "tensorflow.serving.ModelService",
        ):
            assert check(channel, service) == SERVING
        with pytest.raises(grpc.RpcError) as info:
            check(channel, "no.such.Service")
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        channel.close()


def test_not_serving_while_draining(tmp_path):
    """stop() (what SIGTERM calls) turns health NOT_SERVING at once; the ports stay open while
    the in-flight request finishes, so probes see it, and the request still succeeds."""
    export_tiny(tmp_path / "tiny")
    server = ModelServer(server_options(tmp_path / "tiny"))
    server.start()
    channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
    stopper = None
    try:
        assert check(channel) == SERVING
        servable = server.manager.get("tiny")
        original, started = servable.run, threading.Event()

        def slow(*args):
            started.set()
            time.sleep(2.0)
            return original(*args)

        servable.run = slow
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            pending = pool.submit(http, "POST", url, BODY)
            assert started.wait(30)
            stopper = pool.submit(server.stop)
            assert wait_for(lambda: check(channel) == NOT_SERVING, timeout=10)
            assert check(channel, "tensorflow.serving.PredictionService") == NOT_SERVING
            assert not stopper.done()  # still draining: the request is in flight
            status, answer = pending.result(timeout=60)
            stopper.result(timeout=60)
        assert status == 200 and len(answer["predictions"]) == 1
        with pytest.raises(grpc.RpcError):  # drained: the port is closed now
            check(channel)
    finally:
        channel.close()
        if stopper is None:
            server.stop()
