"""TFDS's real builders, never `tfds.testing.mock_data` (which skips them, and so once hid that
every download died on a module TFDS imports but does not declare).

- Downloads: cifar10, cifar100 and imagenette run `download_and_prepare` for real. With no
  connection they must end in a connection error, and in nothing else (an ImportError fails).
  Where the dataset's host does resolve (CI with internet), a refused local proxy stands in for
  the missing connection, so no test ever downloads a dataset.
- Preparing: the same builders prepare tiny archives in the upstream formats
  (tests/tfds_archives.py), through the path `keras-resnet-train` takes, and a model trains on
  the result read back from disk.
"""

import json
import os
import socket

import numpy as np
import pytest
import requests
import tensorflow_datasets as tfds
import urllib3
from tensorflow_datasets.core.download import downloader
from tensorflow_datasets.datasets.imagenette import imagenette_dataset_builder
from tensorflow_datasets.image_classification import cifar

from keras_resnet import data
from keras_resnet.configs import cifar10 as cifar10_recipe
from keras_resnet.data import downloads
from keras_resnet.training import train
from tests import tfds_archives

# Our name -> (TFDS name, the host TFDS downloads it from).
DOWNLOADS = {
    "cifar10": ("cifar10", "www.cs.toronto.edu"),
    "cifar100": ("cifar100", "www.cs.toronto.edu"),
    "imagenette": ("imagenette/320px-v2", "s3.amazonaws.com"),
}


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline(monkeypatch):
    """Returns a function that makes `host` unreachable if it is not already, with TFDS's ten
    retries (about 3.5 minutes of back-off) cut to none."""
    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)

    def cut(host: str) -> None:
        if _resolves(host):
            proxy = f"http://127.0.0.1:{_closed_port()}"
            for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
                monkeypatch.setenv(var, proxy)
            for var in ("NO_PROXY", "no_proxy"):
                monkeypatch.delenv(var, raising=False)

    return cut


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_real_download_ends_in_a_connection_error(name, offline, tmp_path):
    tfds_name, host = DOWNLOADS[name]
    offline(host)
    builder = tfds.builder(tfds_name, data_dir=str(tmp_path))
    with pytest.raises(BaseException) as raised:
        builder.download_and_prepare()
    chain = list(_chain(raised.value))
    # TFDS's downloader got as far as opening the URL: requests failed to connect to the host
    # (DNS, or the refused proxy), and nothing on the way was an import or any other error.
    assert isinstance(raised.value, requests.exceptions.ConnectionError), chain
    assert raised.value.request.url.startswith(f"https://{host}/"), raised.value.request.url
    assert any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain), chain
    assert not any(isinstance(e, ImportError) for e in chain), chain
    assert not builder.is_prepared()

    # The path `keras-resnet-train` takes says so in one line.
    with pytest.raises(data.DatasetUnavailable) as unavailable:
        data.load_source(name, model_style=data.SMALL, model_classes=10, data_dir=str(tmp_path))
    message = str(unavailable.value)
    assert "\n" not in message
    assert message.startswith(f"cannot download {name!r}: no internet connection")
    assert f"(cannot reach {host})" in message and "DATASET=digits" in message


def test_other_failures_are_not_called_a_missing_connection():
    try:
        import keras_resnet_no_such_module  # noqa: F401
    except ImportError as e:
        try:
            raise RuntimeError("builder failed") from e
        except RuntimeError as wrapped:
            message = downloads.tfds_failure_message("cifar10", "/data", wrapped)
    assert message == (
        "TFDS cannot prepare 'cifar10': it needs the module 'keras_resnet_no_such_module', "
        "which is not installed; reinstall the pinned requirements (make install)."
    )
    disk = OSError(28, "No space left on device")
    message = downloads.tfds_failure_message("cifar10", "/data", disk)
    assert "no internet" not in message and "No space left on device" in message
    assert downloads.connection_failure(disk) == (False, None)


def _prepare(monkeypatch, tmp, name) -> tuple[data.Source, dict]:
    """Points the real builder of `name` at a tiny local archive in its upstream format and
    prepares it through `data.load_source`, as a training run does; returns what was written."""
    if name in ("cifar10", "cifar100"):
        cls, fname = {
            "cifar10": (cifar.Cifar10, "cifar-10-binary.tar.gz"),
            "cifar100": (cifar.Cifar100, "cifar-100-binary.tar.gz"),
        }[name]
        written = tfds_archives.cifar(
            str(tmp / fname), n_train=40, n_test=20, hundred=name == "cifar100"
        )
        real = cls._cifar_info.fget
        local = property(lambda self: real(self)._replace(url=str(tmp / fname)))
        monkeypatch.setattr(cls, "_cifar_info", local)
        style, manual = data.SMALL, None
    elif name == "imagenette":
        written = tfds_archives.imagenette(str(tmp / "imagenette2-320.tgz"), per_class=3)
        monkeypatch.setattr(imagenette_dataset_builder, "_URL_PREFIX", f"{tmp}/")
        style, manual = data.IMAGENET, None
    else:  # imagenet2012 needs no address: its real manual download is two tar files
        manual = str(tmp / "manual")
        written = tfds_archives.imagenet(manual, per_class=2, n_val=5)
        style = data.IMAGENET
    source = data.load_source(
        name, model_style=style, model_classes=10, data_dir=str(tmp / "data"), manual_dir=manual
    )
    return source, written


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenette", "imagenet2012"])
def test_real_builders_prepare_and_read_back(name, monkeypatch, tmp_path):
    source, written = _prepare(monkeypatch, tmp_path, name)
    counts = {k: len(v) if isinstance(v, list) else v for k, v in written.items()}
    assert (source.num_train, source.num_test) == tuple(counts.values())
    classes = {"cifar10": 10, "cifar100": 100, "imagenette": 10, "imagenet2012": 1000}[name]
    assert source.num_classes == classes
    if name.startswith("cifar"):
        # PNG is lossless: the prepared dataset holds exactly the records of the archive.
        for split, ds in (("train", source.train), ("test", source.test)):
            got = sorted((int(y), x.numpy().tobytes()) for x, y in ds)
            assert got == sorted((y, x.tobytes()) for y, x in written[split])
    else:  # JPEGs at their own size, labelled by the WordNet id of their folder or inner tar
        train = list(source.train)
        assert {x.shape for x, _ in train} == {(40, 48, 3)}
        labels = [int(y) for _, y in train]
        assert len(set(labels)) == len(tfds_archives.SYNSETS)
        assert all(0 <= y < classes for y in labels)
        # ImageNet-style sets also read the training files in a fresh order each pass: the
        # same images, every one of them, for any seed.
        shuffled = [x.numpy().tobytes() for x, _ in source.shuffled_train(3)]
        assert sorted(shuffled) == sorted(x.numpy().tobytes() for x, _ in train)


def test_trains_from_a_tfds_dataset_prepared_on_disk(monkeypatch, tmp_path):
    with monkeypatch.context() as m:  # only the preparing reads the local archive
        _prepare(m, tmp_path, "cifar10")
    prepared = tmp_path / "data" / "cifar10" / "3.0.2"
    assert (prepared / "dataset_info.json").exists()
    assert any(f.name.startswith("cifar10-train.tfrecord") for f in prepared.iterdir())

    config = cifar10_recipe.get_config("resnet8")
    config.data.data_dir = str(tmp_path / "data")
    config.batch_size = 16
    config.num_epochs = 1
    config.data.shuffle_buffer = 64
    results = train.train_and_evaluate(config, str(tmp_path / "run"))
    assert results["dataset"] == "cifar10" and results["test_images"] == 20
    assert results["steps"] == 2  # 40 images in batches of 16, the partial batch dropped
    assert 0.0 <= results["top1_error"] <= 100.0 and np.isfinite(results["test_loss"])
    with open(tmp_path / "run" / "results.json") as f:
        assert json.load(f) == results
    assert os.path.exists(tmp_path / "run" / "model.keras")
