"""Deploying model versions under load: every answer comes from a fully loaded version (the
version a gRPC response names is the one whose outputs it carries), no request fails, and a
corrupt version is reported END with its error while the previous version keeps serving."""

import base64
import os
import shutil
import threading
import time

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from keras_resnet.serving.tools import client
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    reference_probabilities,
    running_server,
    server_options,
    wait_for,
)
from tests.test_serving_grpc import predict_request

PIXELS = random_pixels(1, seed=7)
IMAGE = png(PIXELS[0])


class Load:
    """Threads predicting over REST and gRPC until stopped; keeps every answer."""

    def __init__(self, server, threads: int = 4):
        self.rest = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
        self.channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.answers, self.failures = [], []  # (protocol, version or None, probabilities)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()
        self.channel.close()

    def _run(self, i: int):
        body = {"instances": [{"b64": base64.b64encode(IMAGE).decode()}]}
        request = predict_request(image_bytes=np.array([IMAGE], dtype=object))
        while not self._stop.is_set():
            try:
                if i % 2:
                    status, answer = http("POST", self.rest, body)
                    if status != 200:
                        self.failures.append((status, answer))
                        continue
                    probs = answer["predictions"][0]["probabilities"]
                    self.answers.append(("rest", None, np.array(probs)))
                else:
                    response = self.stub.Predict(request, timeout=60)
                    probs = tf.make_ndarray(response.outputs["probabilities"])[0]
                    self.answers.append(("grpc", response.model_spec.version.value, probs))
            except Exception as e:  # noqa: BLE001 - any failure is what the test looks for
                self.failures.append(repr(e))


def _states(server) -> dict:
    status, body = http("GET", f"http://127.0.0.1:{server.rest_port}/v1/models/tiny")
    assert status == 200, body
    return {s["version"]: (s["state"], s["status"]) for s in body["model_version_status"]}


def _copy_slowly(source, target):
    """Copies a version the way `cp -r` does: saved_model.pb first, variables a poll later."""
    os.makedirs(target)
    for name in ("saved_model.pb", "fingerprint.pb"):
        shutil.copy(os.path.join(source, name), target)
    time.sleep(1.0)  # several polls see a SavedModel without its variables
    for name in ("variables", "assets", "assets.extra"):
        shutil.copytree(os.path.join(source, name), os.path.join(target, name))


def test_versions_deployed_under_load_answer_only_when_fully_loaded(tmp_path):
    base = tmp_path / "tiny"
    model, pre, _ = export_tiny(base, seed=0)
    expected = {1: reference_probabilities(model, pre, PIXELS)[0]}
    options = server_options(
        base, file_system_poll_wait_seconds=0.2, load_retry_interval_micros=300000
    )
    with running_server(options) as server, Load(server) as load:
        time.sleep(0.5)
        model2, _, path2 = export_tiny(base, seed=1)  # atomic: written aside, then renamed
        expected[2] = expected[3] = reference_probabilities(model2, pre, PIXELS)[0]
        assert wait_for(lambda: server.manager.available() == {"tiny": [2]}, timeout=90.0)
        _copy_slowly(path2, base / "3")  # not atomic: the server must not serve it half-copied
        assert wait_for(lambda: server.manager.available() == {"tiny": [3]}, timeout=90.0)
        time.sleep(0.5)
    assert not np.allclose(expected[1], expected[2], atol=1e-3)  # versions are distinguishable
    assert load.failures == []
    versions = {}
    for protocol, version, probs in load.answers:
        if protocol == "grpc":
            np.testing.assert_allclose(probs, expected[version], atol=1e-5)
        else:
            version = 1 if np.allclose(probs, expected[1], atol=1e-5) else 2
            np.testing.assert_allclose(probs, expected[version], atol=1e-5)
        versions[protocol, version] = versions.get((protocol, version), 0) + 1
    # gRPC names the version: all three answered, 3 only once fully copied and loaded.
    assert {v for (protocol, v) in versions if protocol == "grpc"} == {1, 2, 3}
    print(f"\nanswers by (protocol, version): {versions}")


def test_corrupt_version_is_reported_and_the_old_one_keeps_serving(tmp_path):
    base = tmp_path / "tiny"
    model, pre, path1 = export_tiny(base, seed=0)
    expected = reference_probabilities(model, pre, PIXELS)[0]
    options = server_options(
        base,
        file_system_poll_wait_seconds=0.2,
        max_num_load_retries=1,
        load_retry_interval_micros=200000,
    )
    with running_server(options) as server, Load(server) as load:
        # Version 2 arrives complete (renamed into place) but its variables are truncated.
        staging = tmp_path / "staging"
        shutil.copytree(path1, staging)
        variables = staging / "variables"
        (data,) = [p for p in variables.iterdir() if p.name.startswith("variables.data")]
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        os.rename(staging, base / "2")

        def gave_up():  # the first load and its one retry have failed
            attempts = server.manager._failed.get(("tiny", 2), (0,))[0]
            return attempts == 2 and _states(server)["2"][0] == "END"

        assert wait_for(gave_up, timeout=90.0)
        time.sleep(0.5)  # still under load, still on version 1
        states = _states(server)
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "tiny"
        grpc_status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            request, timeout=30
        )
        channel.close()
    assert load.failures == []
    assert states["1"] == ("AVAILABLE", {"error_code": "OK", "error_message": ""})
    state, status = states["2"]
    assert state == "END" and status["error_code"] == "UNKNOWN"
    assert status["error_message"].startswith(f"Failed to load {base / '2'}")
    by_version = {s.version: s for s in grpc_status.model_version_status}
    assert by_version[2].state == get_model_status_pb2.ModelVersionStatus.END
    assert by_version[2].status.error_message == status["error_message"]
    assert by_version[1].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert load.answers and all(v in (None, 1) for _, v, _ in load.answers)
    for _, _, probs in load.answers:
        np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_failed_load_is_retried_up_to_the_limit(tmp_path):
    from keras_resnet.serving.core.config import ModelConfig
    from keras_resnet.serving.core.manager import ModelManager

    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    config = ModelConfig("m", str(tmp_path))
    manager = ModelManager([config], 0, load_retries=1, retry_seconds=0)
    calls = []
    load = manager._load
    manager._load = lambda *a: (calls.append(a[1]), load(*a))
    manager.start()  # first attempt
    for _ in range(3):
        manager.poll_once()  # one retry, then no more
    assert calls == [1, 1]
    ((version, state, error),) = manager.status("m")
    assert (version, state) == (1, "END") and error.startswith("Failed to load")
