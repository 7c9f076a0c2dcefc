"""Registered weights fetched from a real HTTP server on 127.0.0.1 (issue 21, items 1-3, 7):
downloaded once with progress, verified, converted and cached; loaded again offline; a wrong
hash, a cut transfer and a corrupt cache fail in one line and leave nothing in the cache; the
mirror; weights="imagenet" offline."""

import hashlib
import logging
import os
import time

import numpy as np
import pytest

import keras_resnet
from keras_resnet import weights
from keras_resnet.errors import UserError
from keras_resnet.hub import catalog
from tests.weights_server import serve

MODEL = "resnet8"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(weights.MIRROR_ENV, raising=False)
    monkeypatch.setattr(catalog, "_SPECS", dict(catalog._SPECS))  # registrations stay here


@pytest.fixture
def published(tmp_path):
    """A resnet8 weights file in a served folder, and the model it came from."""
    folder = tmp_path / "www"
    folder.mkdir()
    model = keras_resnet.create_model(MODEL)
    path = folder / "resnet8-acme.weights.h5"
    model.save_weights(path)
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with serve(folder) as (base, hits):
        yield model, path, sha256, base, hits


def _register(tag, base, sha256, **kw):
    url = kw.pop("url", f"{base}/resnet8-acme.weights.h5")
    return weights.register(tag, url=url, file_hash=sha256, model=MODEL, num_classes=10, **kw)


def _same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def _cache_files():
    root = weights.cache_dir()
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def test_downloads_once_with_progress_then_loads_offline(published, monkeypatch, caplog):
    model, _, sha256, base, hits = published
    spec = _register("resnet8.acme", base, sha256[:12])  # a sha256 prefix, as torchvision
    assert "resnet8.acme" in weights.list_weights() and "resnet8.acme" in weights.list_weights(
        MODEL
    )
    with caplog.at_level(logging.INFO):
        first = keras_resnet.create_model(MODEL, weights="resnet8.acme")
    _same_weights(first, model)
    assert hits == ["/resnet8-acme.weights.h5"]
    text = caplog.text
    assert "downloading resnet8-acme.weights.h5" in text and "MiB" in text and "verified" in text
    assert "converted once" in text
    assert sorted(_cache_files()) == sorted(
        [spec.file_name, os.path.relpath(weights.converted_path(spec), weights.cache_dir())]
    )

    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    _same_weights(keras_resnet.create_model(MODEL, weights="resnet8.acme"), model)
    os.remove(weights.converted_path(spec))  # converted again, from the cached file
    _same_weights(keras_resnet.create_model(MODEL, weights="resnet8.acme"), model)
    assert hits == ["/resnet8-acme.weights.h5"]  # the network was touched once


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_other_hash_forms(published, kind):
    model, path, sha256, base, _ = published
    file_hash = hashlib.md5(path.read_bytes()).hexdigest() if kind == "md5" else sha256
    _register(f"resnet8.{kind}", base, file_hash)
    _same_weights(keras_resnet.create_model(MODEL, weights=f"resnet8.{kind}"), model)


def test_wrong_hash_is_one_line_and_caches_nothing(published):
    _, _, sha256, base, hits = published
    wrong = "0" * 64
    _register("resnet8.wrong", base, wrong)
    for attempt in (1, 2):  # each call downloads once and fails: no loop
        with pytest.raises(weights.WeightsUnavailable) as e:
            keras_resnet.create_model(MODEL, weights="resnet8.wrong")
        assert len(hits) == attempt
    message = str(e.value)
    assert "\n" not in message and sha256 in message and wrong in message
    assert _cache_files() == []


def test_truncated_transfer_is_one_line_and_caches_nothing(published):
    _, _, sha256, base, _ = published
    _register("resnet8.cut", base, sha256, url=f"{base}/truncated/resnet8-acme.weights.h5")
    with pytest.raises(weights.WeightsUnavailable) as e:
        keras_resnet.create_model(MODEL, weights="resnet8.cut")
    message = str(e.value)
    assert "\n" not in message and "cut short: " in message and "nothing was cached" in message
    assert _cache_files() == []


def test_corrupt_cached_file_is_fetched_again(published, monkeypatch):
    model, _, sha256, base, hits = published
    spec = _register("resnet8.acme", base, sha256)
    weights.fetch(spec)
    with open(weights.cached_path(spec), "r+b") as f:  # a flipped byte on disk
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(weights.WeightsUnavailable, match="not cached"):  # removed, not used
        weights.fetch(spec)
    assert not os.path.exists(weights.cached_path(spec))
    monkeypatch.delenv(weights.OFFLINE_ENV)
    _same_weights(keras_resnet.create_model(MODEL, weights="resnet8.acme"), model)
    assert len(hits) == 2


def test_mirror_serves_every_file_by_name(published, monkeypatch):
    model, _, sha256, base, hits = published
    # The publisher's host does not exist; the organisation's mirror has the file.
    _register(
        "resnet8.mirrored", base, sha256, url="http://weights.invalid/x/resnet8-acme.weights.h5"
    )
    monkeypatch.setenv(weights.MIRROR_ENV, base + "/")
    _same_weights(keras_resnet.create_model(MODEL, weights="resnet8.mirrored"), model)
    assert hits == ["/resnet8-acme.weights.h5"]


def test_unreachable_host_is_one_line(tmp_path):
    with serve(tmp_path) as (base, _):
        pass  # the server is gone: its port refuses
    weights.register("resnet8.gone", url=f"{base}/w.weights.h5", file_hash="ab" * 32, model=MODEL)
    with pytest.raises(weights.WeightsUnavailable) as e:
        keras_resnet.create_model(MODEL, weights="resnet8.gone")
    assert "\n" not in str(e.value) and f"{base}/w.weights.h5" in str(e.value)
    assert _cache_files() == []


def test_imagenet_offline_fails_within_seconds(monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    start = time.monotonic()
    with pytest.raises(weights.WeightsUnavailable) as e:
        keras_resnet.create_model("resnet50", weights="imagenet")
    assert time.monotonic() - start < 5
    spec = weights.get("resnet50.keras_in1k")
    message = str(e.value)
    assert isinstance(e.value, UserError) and "\n" not in message
    assert (
        spec.url in message and weights.cached_path(spec) in message and spec.file_hash in message
    )


def test_register_refuses_bad_input():
    with pytest.raises(ValueError, match="'xyz'"):
        weights.register("resnet8.bad", url="http://h/w.pth", file_hash="xyz", model=MODEL)
    with pytest.raises(ValueError, match="colour"):
        weights.register(
            "resnet8.bad", url="http://h/w.pth", file_hash="ab" * 4, model=MODEL, colour=1
        )
    with pytest.raises(FileNotFoundError, match="'resnet8.nope'"):
        keras_resnet.create_model(MODEL, weights="resnet8.nope")


def test_progress_bar_on_a_terminal(published, tmp_path):
    """On a terminal the download draws a bar on stderr (log lines elsewhere, tested above)."""
    import pty
    import subprocess
    import sys

    _, _, sha256, base, hits = published
    script = (
        "from keras_resnet.hub import specs, store; "
        f"store.fetch(specs.WeightSpec(tag='t', model='{MODEL}', "
        f"url='{base}/resnet8-acme.weights.h5', file_hash='{sha256}'))"
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "tty_home")}
    proc = subprocess.run([sys.executable, "-c", script], stderr=follower, env=env, timeout=60)
    os.close(follower)
    output = b""
    try:
        while chunk := os.read(leader, 4096):
            output += chunk
    except OSError:  # the pty is drained once the child has gone
        pass
    os.close(leader)
    assert proc.returncode == 0 and hits == ["/resnet8-acme.weights.h5"]
    text = output.decode()
    assert "\r[" in text and "#" * 30 in text and "(100%)" in text
