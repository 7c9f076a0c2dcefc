"""The offline switch for datasets (issue 21, item 3): with KERAS_RESNET_OFFLINE=1 an
unprepared TFDS dataset fails at once; without it, a host that does not answer costs one try,
not TFDS's minutes of retries."""

import socket
import time

import pytest
from tensorflow_datasets.core.download import downloader

from keras_resnet import data
from keras_resnet.hub import network


def test_offline_switch_fails_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv(network.OFFLINE_ENV, "1")
    start = time.monotonic()
    with pytest.raises(data.DatasetUnavailable) as e:
        data.load_source(
            "cifar10", model_style=data.SMALL, model_classes=10, data_dir=str(tmp_path)
        )
    assert time.monotonic() - start < 10
    message = str(e.value)
    assert "\n" not in message and "KERAS_RESNET_OFFLINE=1" in message and "'cifar10'" in message


def test_silent_host_costs_one_try(monkeypatch, tmp_path):
    monkeypatch.delenv(network.OFFLINE_ENV, raising=False)
    try:
        socket.getaddrinfo("www.cs.toronto.edu", 443)
        pytest.skip("this machine reaches the internet: no silent host to test with")
    except OSError:
        pass
    start = time.monotonic()
    with pytest.raises(data.DatasetUnavailable, match="no internet connection"):
        data.load_source(
            "cifar10", model_style=data.SMALL, model_classes=10, data_dir=str(tmp_path)
        )
    assert time.monotonic() - start < 60  # TFDS's own back-off alone is ~3.5 minutes
    assert downloader.MAX_RETRIES == 10  # restored


def test_reachable_sees_a_listening_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert network.reachable(f"http://127.0.0.1:{port}/x")
    assert not network.reachable(f"http://127.0.0.1:{port}/x", timeout=1)
    assert not network.reachable("not a url")
