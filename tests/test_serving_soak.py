"""Load and soak: mixed REST and gRPC predicts at concurrency 32 on 127.0.0.1, every answer
checked, zero failures, and (in the slow version, against a server in its own process) RSS that
grows less than 10% from the first thousand requests to the last. Numbers are printed and
written to soak.json under the test's tmp dir."""

import json
import os
import subprocess
import time

import pytest

from keras_resnet.serving.tools import launch
from keras_resnet.serving.tools.soak import Soak
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    running_server,
    server_options,
)

IMAGE = png(random_pixels(1, seed=11)[0])


def _report(result: dict, path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsoak ({path}): {json.dumps(result)}")


def test_soak_quick(tmp_path):
    """A few hundred requests against an in-process server: zero failures, numbers reported
    (RSS here includes the client threads, so it is only reported)."""
    export_tiny(tmp_path / "tiny")
    with running_server(server_options(tmp_path / "tiny")) as server:
        soak = Soak(
            f"127.0.0.1:{server.rest_port}",
            f"127.0.0.1:{server.grpc_port}",
            "tiny",
            IMAGE,
            pid=os.getpid(),
        )
        result = soak.run(requests=400, concurrency=32, max_seconds=120, sample_every=100)
        assert server.admission.in_flight == 0
    _report(result, tmp_path / "soak.json")
    assert result["failures"] == 0, result["first_failures"]
    assert result["requests_done"] == 400


def test_soak_refuses_remote_addresses():
    with pytest.raises(ValueError, match="loopback addresses only, got '10.0.0.1:8501'"):
        Soak("10.0.0.1:8501", "127.0.0.1:8500", "tiny", IMAGE)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_thousands_of_requests_memory_flat(tmp_path):
    base = tmp_path / "tiny"
    export_tiny(base)
    options = server_options(
        base, enable_batching=True, batching_parameters_file=str(base / "batching_parameters.txt")
    )
    rest_port, grpc_port = options.rest_api_port, options.port
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(launch.embedded_command(options), env=env, stderr=log)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _up(rest_port):
            time.sleep(0.5)
        soak = Soak(f"127.0.0.1:{rest_port}", f"127.0.0.1:{grpc_port}", "tiny", IMAGE, server.pid)
        result = soak.run(requests=4000, concurrency=32, max_seconds=600)
        assert server.poll() is None, "the server died under load"
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    _report(result, tmp_path / "soak.json")
    assert result["failures"] == 0, result["first_failures"]
    assert result["requests_done"] == 4000
    assert result["rss_first_at_requests"] == 1000
    assert result["rss_growth"] < 0.10, result["rss_mib_samples"]


def _up(port: int) -> bool:
    try:
        return http("GET", f"http://127.0.0.1:{port}/v1/models/tiny", timeout=2)[0] == 200
    except OSError:
        return False
