"""Versions under load, version policies, server-side batching and graceful SIGTERM shutdown."""

import concurrent.futures
import os
import re
import signal
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keras_resnet.serving.core.batching import Batcher
from keras_resnet.serving.core.config import BatchingParameters, ModelConfig
from keras_resnet.serving.core.options import ServerOptions
from keras_resnet.serving.core.status import ServingError
from keras_resnet.serving.tools import client, launch
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    running_server,
    server_options,
    wait_for,
)

IMAGE = png(random_pixels(1)[0])


def test_new_version_loads_under_load_without_failures(tmp_path):
    base = tmp_path / "tiny"
    export_tiny(base, seed=0)
    with running_server(server_options(base, file_system_poll_wait_seconds=0.2)) as server:
        rest = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny"
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        stop, failures, versions = threading.Event(), [], set()

        def hammer(use_grpc):
            while not stop.is_set():
                try:
                    if use_grpc:
                        client.predict_grpc(channel, "tiny", [IMAGE])
                    else:
                        status, body = http(
                            "POST", f"{rest}:predict", {"instances": [{"b64": _b64()}]}
                        )
                        if status != 200:
                            failures.append(body)
                except RuntimeError as e:
                    failures.append(str(e))

        threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        export_tiny(base, seed=1)  # version 2, written while requests are in flight

        def state():
            return {s["version"]: s["state"] for s in http("GET", rest)[1]["model_version_status"]}

        assert wait_for(lambda: state() == {"2": "AVAILABLE", "1": "END"})
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        channel.close()
        versions = server.manager.available()
    assert failures == []
    assert versions == {"tiny": [2]}


def _b64():
    import base64

    return base64.b64encode(IMAGE).decode()


def test_version_policies(tmp_path):
    base = tmp_path / "tiny"
    for seed in range(3):
        export_tiny(base, seed=seed)
    cases = {
        ModelConfig("a", str(base)): [3],
        ModelConfig("b", str(base), policy="latest", num_versions=2): [2, 3],
        ModelConfig("c", str(base), policy="all"): [1, 2, 3],
        ModelConfig("d", str(base), policy="specific", versions=(1, 3)): [1, 3],
    }
    for config, expected in cases.items():
        assert config.wanted([1, 2, 3]) == set(expected)
    text = f'model_config_list {{ config {{ name: "tiny" base_path: "{base}" '
    text += "model_version_policy { specific { versions: 1 versions: 2 } } "
    text += (
        'version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 } } }'
    )
    (tmp_path / "models.config").write_text(text)
    options = server_options(
        model_config_file=str(tmp_path / "models.config"), model_config_file_poll_wait_seconds=0.2
    )
    with running_server(options) as server:
        assert server.manager.available() == {"tiny": [1, 2]}
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny"

        def label_version(label):
            status, body = http("GET", f"{url}/labels/{label}")
            return body["model_version_status"][0]["version"] if status == 200 else body

        assert (label_version("stable"), label_version("canary")) == ("1", "2")
        # Editing the config file moves the model to "latest" and the label to version 3.
        text = f'model_config_list {{ config {{ name: "tiny" base_path: "{base}" '
        text += 'version_labels { key: "stable" value: 3 } } }'
        (tmp_path / "models.config").write_text(text)
        assert wait_for(lambda: server.manager.available() == {"tiny": [3]})
        assert label_version("stable") == "3"
        assert label_version("canary") == {"error": "Unrecognized servable version label: canary"}


class _CountingServable:
    """Stands in for a model: doubles its input and records each batch it is given."""

    def __init__(self, delay=0.0):
        self.batches, self.delay = [], delay

    def run(self, signature, inputs):
        time.sleep(self.delay)
        self.batches.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}


def test_batcher_merges_concurrent_requests():
    batcher = Batcher(BatchingParameters(max_batch_size=8, batch_timeout_micros=50000))
    servable = _CountingServable()
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [
                pool.submit(lambda i=i: batcher.submit(servable, "", {"x": np.full((1, 2), i)}))
                for i in range(16)
            ]
            results = [f.result().result(timeout=10) for f in futures]
    finally:
        batcher.close()
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], np.full((1, 2), 2 * i))
    assert sum(servable.batches) == 16
    assert len(servable.batches) < 16 and max(servable.batches) <= 8


def test_batcher_full_queue_is_unavailable():
    params = BatchingParameters(max_batch_size=1, batch_timeout_micros=0, max_enqueued_batches=2)
    batcher = Batcher(params)
    servable = _CountingServable(delay=0.5)
    try:
        accepted = []
        with pytest.raises(ServingError) as info:
            for _ in range(6):
                accepted.append(batcher.submit(servable, "", {"x": np.ones((1, 1))}))
        # One batch running on the single thread plus two queued; the next is refused.
        assert 2 <= len(accepted) <= 3
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
        assert info.value.http_status == 503
        with pytest.raises(ServingError, match="larger than maximum input batch size 1"):
            batcher.submit(servable, "", {"x": np.ones((2, 1))})
    finally:
        batcher.close()
    assert all(f.result(timeout=10)["y"].shape == (1, 1) for f in accepted)


def _batching_options(
    tmp_path, max_batch_size: int, timeout_micros: int, queue=100
) -> ServerOptions:
    """Exports the tiny model and returns server options with batching enabled."""
    base = tmp_path / "tiny"
    export_tiny(base)
    params = tmp_path / "batching.txt"
    params.write_text(
        f"max_batch_size {{ value: {max_batch_size} }}\n"
        f"batch_timeout_micros {{ value: {timeout_micros} }}\n"
        f"max_enqueued_batches {{ value: {queue} }}\n"
    )
    return server_options(base, enable_batching=True, batching_parameters_file=str(params))


def test_server_batching_under_concurrency(tmp_path):
    options = _batching_options(tmp_path, 16, 20000)
    with running_server(options) as server:
        address = f"127.0.0.1:{server.grpc_port}"
        calls = []
        original = server.manager.get("tiny").run

        def spy(signature, inputs):
            calls.append(len(next(iter(inputs.values()))))
            return original(signature, inputs)

        server.manager.get("tiny").run = spy
        images = [png(p) for p in random_pixels(16, seed=9)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda im: client.predict_grpc(address, "tiny", [im]), images))
        alone = client.predict_grpc(address, "tiny", images)
    batched = np.concatenate([r["probabilities"] for r in results])
    np.testing.assert_allclose(batched, alone["probabilities"], atol=1e-5)
    assert sum(calls[:-1]) == 16 and len(calls) - 1 < 16


def test_full_batch_queue_answers_503(tmp_path):
    with running_server(_batching_options(tmp_path, 1, 0, queue=1)) as server:
        servable = server.manager.get("tiny")
        original = servable.run
        servable.run = lambda *a: (time.sleep(0.3), original(*a))[1]  # a slow model
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        body = {"instances": [{"b64": _b64()}]}
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: http("POST", url, body), range(6)))
    codes = sorted(status for status, _ in answers)
    assert 200 in codes and 503 in codes and set(codes) == {200, 503}
    refused = [b for status, b in answers if status == 503]
    assert all(
        b == {"error": "The batch scheduling queue to which this task was submitted is full"}
        for b in refused
    )


def test_sigterm_finishes_in_flight_requests(tmp_path):
    # A 3 s batch timeout keeps a lone request in flight long enough to signal the server.
    options = _batching_options(tmp_path, 64, 3_000_000)
    grpc_port, rest_port = options.port, options.rest_api_port
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        launch.embedded_command(options),
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{rest_port}/v1/models/tiny"
        assert wait_for(lambda: _up(url), timeout=120), "server did not start"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(http, "POST", f"{url}:predict", {"instances": [{"b64": _b64()}]})
            time.sleep(1.0)
            with client.grpc_channel(f"127.0.0.1:{grpc_port}") as channel:
                health = health_pb2_grpc.HealthStub(channel).Check
                assert health(health_pb2.HealthCheckRequest(), timeout=10).status == (
                    health_pb2.HealthCheckResponse.SERVING
                )
                proc.send_signal(signal.SIGTERM)
                # Draining: still answering, but out of rotation for load balancers and probes.
                assert wait_for(
                    lambda: (
                        health(health_pb2.HealthCheckRequest(), timeout=10).status
                        == health_pb2.HealthCheckResponse.NOT_SERVING
                    ),
                    timeout=10,
                )
            status, body = pending.result(timeout=60)
        assert status == 200 and len(body["predictions"]) == 1
        assert proc.wait(timeout=60) == 0
        # The server's own lines: timestamp, level and source (TensorFlow's start-up lines are
        # TensorFlow's own format).
        ours = [
            line for line in proc.stderr.read().splitlines() if " keras_resnet.serving." in line
        ]
        assert all(
            re.match(
                r"\d{4}-\d\d-\d\d [\d:.]+ (INFO|WARNING) keras_resnet\.serving\.[\w.]+:\d+\] ", line
            )
            for line in ours
        ), ours
        assert ours[-1].endswith("] Server stopped."), ours
        assert any("Health: NOT_SERVING (draining)" in line for line in ours)
    finally:
        if proc.poll() is None:
            proc.kill()


def _up(url):
    try:
        return http("GET", url, timeout=2)[0] == 200
    except OSError:
        return False
