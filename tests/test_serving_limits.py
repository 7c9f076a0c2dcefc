"""Request-size, concurrency and deadline limits: TF Serving's codes and `{"error": ...}` bodies
over REST, the matching status codes over gRPC, and a server that keeps working afterwards."""

import base64
import concurrent.futures
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_resnet.serving.core.options import ServerOptions
from keras_resnet.serving.tools import client, launch
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    running_server,
    server_options,
)
from tests import fuzzing

IMAGE = png(random_pixels(1, seed=1)[0])
BODY = {"instances": [{"b64": base64.b64encode(IMAGE).decode()}]}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "tiny"
    export_tiny(path)
    return path


def _slow(server, seconds: float) -> list:
    """Makes the model take `seconds` per run; returns the list of runs that started."""
    servable = server.manager.get("tiny")
    original, runs = servable.run, []

    def run(*args):
        runs.append(time.monotonic())
        time.sleep(seconds)
        return original(*args)

    servable.run = run
    return runs


def test_limits_are_flags_with_documented_defaults(capsys):
    with pytest.raises(SystemExit) as exited:
        launch.main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--max_request_bytes", "--max_concurrent_requests", "--rest_api_timeout_in_ms"):
        assert flag in text
    assert "413" in text and "429" in text and "504" in text and "DEADLINE_EXCEEDED" in text
    options = ServerOptions()
    assert (options.host, options.max_request_bytes) == ("127.0.0.1", 64 << 20)
    assert (options.max_concurrent_requests, options.rest_api_timeout_in_ms) == (64, 30000)


def test_request_size_limit(base):
    with running_server(server_options(base, max_request_bytes=100000)) as server:
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        status, body = http("POST", url, {"instances": ["x" * 200_000]})
        assert status == 413
        assert body == {
            "error": "Request body is larger than the 100000-byte limit (--max_request_bytes)"
        }
        # A declared length over the limit is refused before any of the body is read.
        status, _, text = fuzzing.raw_http(
            server.rest_port, "POST", b"/v1/models/tiny:predict", [], b"{}", "huge"
        )
        assert status == 413 and b"--max_request_bytes" in text
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        request.inputs["image_bytes"].string_val.append(b"\0" * 200_000)
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        with pytest.raises(grpc.RpcError) as info:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert http("POST", url, BODY)[0] == 200
        channel.close()


def test_concurrency_limit_answers_429_and_resource_exhausted(base):
    with running_server(server_options(base, max_concurrent_requests=2)) as server:
        runs = _slow(server, 1.0)
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        grpc_address = f"127.0.0.1:{server.grpc_port}"
        barrier = threading.Barrier(6)

        def rest(_):
            barrier.wait()
            return http("POST", url, BODY)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(rest, range(6)))
        codes = sorted(status for status, _ in answers)
        assert set(codes) == {200, 429} and codes.count(200) >= 1, answers
        refused = [body for status, body in answers if status == 429]
        assert all(
            body
            == {
                "error": "Too many concurrent requests: 2 in flight, the limit is 2 "
                "(--max_concurrent_requests)"
            }
            for body in refused
        ), refused

        def grpc_call(_):
            barrier.wait()
            try:
                client.predict_grpc(grpc_address, "tiny", [IMAGE])
                return "OK"
            except RuntimeError as e:
                return str(e)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(grpc_call, range(6)))
        assert "OK" in results and any("RESOURCE_EXHAUSTED" in r for r in results), results
        assert len(runs) == results.count("OK") + codes.count(200)
        assert server.admission.in_flight == 0
        assert http("POST", url, BODY)[0] == 200


def test_deadlines_answer_504_and_deadline_exceeded(base):
    with running_server(server_options(base, rest_api_timeout_in_ms=300)) as server:
        _slow(server, 1.0)
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        started = time.monotonic()
        assert http("POST", url, BODY) == (504, {"error": "Deadline Exceeded"})
        assert time.monotonic() - started < 0.9  # answered at the deadline, not after the run
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        with pytest.raises(RuntimeError, match="DEADLINE_EXCEEDED"):
            client.predict_grpc(channel, "tiny", [IMAGE], timeout=0.3)
        time.sleep(1.0)  # the abandoned runs finish; the server is unharmed
        del server.manager.get("tiny").run  # back to the real model
        assert http("POST", url, BODY)[0] == 200
        assert client.predict_grpc(channel, "tiny", [IMAGE])["probabilities"].shape == (1, 3)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([IMAGE]))
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        assert stub.Predict(request).model_spec.version.value == 1  # no client deadline at all
        channel.close()


def test_expired_requests_never_reach_the_model(base, tmp_path):
    """With batching, requests whose gRPC deadline passed in the queue are dropped unrun, and
    the batch thread survives their cancellation."""
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 1 }\nbatch_timeout_micros { value: 0 }\n")
    options = server_options(base, enable_batching=True, batching_parameters_file=str(params))
    with running_server(options) as server:
        runs = _slow(server, 0.6)
        address = f"127.0.0.1:{server.grpc_port}"

        def call(_):
            try:
                client.predict_grpc(address, "tiny", [IMAGE], timeout=0.3)
            except RuntimeError as e:
                return str(e)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(call, range(4)))
        assert all(r and "DEADLINE_EXCEEDED" in r for r in results), results
        time.sleep(1.5)
        assert len(runs) == 1, runs  # only the first, already running, request ran
        out = client.predict_grpc(address, "tiny", [IMAGE], timeout=30)
        np.testing.assert_allclose(out["probabilities"].sum(), 1.0, atol=1e-5)
