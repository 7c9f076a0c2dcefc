"""Load and soak: mixed REST and gRPC predicts at concurrency 32 on 127.0.0.1, every answer
checked, zero failures, and (in the slow version, against a server in its own process) RSS that
grows less than 10% from the first thousand requests to the last. Numbers are printed and
written as the artifact `make bench-soak` writes (soak.json and soak.md) under the test's tmp dir."""

import json
import os
import re

import pytest

from keras_resnet.serving.tools import soak as soak_tool
from keras_resnet.serving.tools.soak import Soak
from keras_resnet.serving.tools.testing import (
    export_tiny,
    png,
    random_pixels,
    running_server,
    server_options,
)

IMAGE = png(random_pixels(1, seed=11)[0])


def _report(result: dict, path) -> dict:
    """Writes the artifact and checks it: the JSON holds the result, and every number of the
    Markdown beside it is one the JSON holds."""
    json_path, md_path = soak_tool.write(result, str(path), "python -m soak (test)")
    print(f"\nsoak ({path}): {json.dumps(result)}")
    data = json.loads(open(json_path).read())
    assert {k: data[k] for k in result} == json.loads(json.dumps(result))
    held = set(re.findall(r"\d+(?:\.\d+)?", json.dumps(data)))
    growth = data["rss_growth"]
    held |= {f"{abs(growth) * 100:.1f}"} if growth is not None else set()
    table = open(md_path).read().split("Machine:")[1].split("\n", 1)[1]  # below the header line
    shown = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", table))
    assert shown <= held, f"{md_path} shows {shown - held}, which {json_path} does not hold"
    return data


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
    data = _report(result, tmp_path / "soak.json")
    assert result["failures"] == 0, result["first_failures"]
    assert result["requests_done"] == 400
    # RSS over time: at the start, then every 100 requests, at rising times.
    samples = data["rss_over_time"]
    assert [s["requests"] for s in samples] == [0, 100, 200, 300, 400]
    assert [s["seconds"] for s in samples] == sorted(s["seconds"] for s in samples)
    assert all(s["rss_mib"] > 0 for s in samples)
    assert data["machine"]["cores"] == os.cpu_count()
    md = (tmp_path / "soak.md").read_text()
    assert f"| 400 | 0 | {result['seconds']} | {result['requests_per_second']} |" in md


def test_soak_out_folder_must_exist(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        soak_tool.main(["--own_server", f"--out={tmp_path}/missing/soak.json"])
    assert exit_.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].endswith(
        f"--out={tmp_path}/missing/soak.json: its folder does not exist; create it or pick another."
    ), err


def test_soak_refuses_remote_addresses():
    with pytest.raises(ValueError, match="loopback addresses only, got '10.0.0.1:8501'"):
        Soak("10.0.0.1:8501", "127.0.0.1:8500", "tiny", IMAGE)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_thousands_of_requests_memory_flat(tmp_path):
    """What `make bench-soak` runs (soak.own_server), with its limits asserted."""
    result = soak_tool.own_server(str(tmp_path), requests=4000, concurrency=32, max_seconds=600)
    _report(result, tmp_path / "soak.json")
    assert result["server_alive"], f"the server died under load; see {tmp_path}/server.log"
    assert result["failures"] == 0, result["first_failures"]
    assert result["requests_done"] == 4000
    assert result["rss_first_at_requests"] == 1000
    assert result["rss_growth"] < 0.10, result["rss_mib_samples"]
